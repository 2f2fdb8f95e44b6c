/// A data problem, said in one line that names the file or setting and what was expected.
public struct DataError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ d: String) { description = d }
}
