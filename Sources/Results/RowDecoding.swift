import Foundation
import GRDB

/// A value in the database that is not what mimlab wrote there (a hand edit, another
/// program, a newer mimlab): named by table, run and column, instead of GRDB's fatal
/// error on a failed conversion.
extension Row {
    func checked<T: DatabaseValueConvertible>(_ column: String, _ type: T.Type = T.self, table: String, run: String?) throws -> T {
        guard let v = try checkedOptional(column, T.self, table: table, run: run) else {
            throw ResultsError(Row.where_(table, run, column) + " is NULL; expected \(Row.kind(T.self))")
        }
        return v
    }

    func checkedOptional<T: DatabaseValueConvertible>(_ column: String, _ type: T.Type = T.self, table: String,
                                                       run: String?) throws -> T? {
        let dbValue: DatabaseValue = self[column] ?? .null
        if dbValue.isNull { return nil }
        guard let v = T.fromDatabaseValue(dbValue) else {
            let shown = String("\(dbValue)".prefix(40))
            throw ResultsError(Row.where_(table, run, column) + " = \(shown): expected \(Row.kind(T.self))")
        }
        return v
    }

    /// The run id of a row, checked, for naming the row in later errors.
    func checkedRunID(_ column: String, table: String) throws -> String {
        try checked(column, String.self, table: table, run: nil)
    }

    static func where_(_ table: String, _ run: String?, _ column: String) -> String {
        "table \(table)" + (run.map { ", run \($0)" } ?? "") + ", column \(column)"
    }

    static func kind<T>(_ t: T.Type) -> String {
        switch t {
        case is Int.Type, is Int64.Type, is Int32.Type: return "a whole number"
        case is Double.Type: return "a number"
        case is String.Type: return "text"
        default: return "\(t)"
        }
    }
}
