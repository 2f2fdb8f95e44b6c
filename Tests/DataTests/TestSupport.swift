import Data
import Foundation
import XCTest

/// A fresh temporary directory per test, removed afterwards.
class TempDirTestCase: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("mimlab-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ bytes: [UInt8], _ name: String) throws {
        try Data(bytes).write(to: dir.appendingPathComponent(name))
    }
}

/// `n` CIFAR-layout records of 32×32 RGB with label bytes `labels(i)` and pixels that
/// encode (image, channel, position), so a misplaced stride or plane shows.
func cifarRecords(_ n: Int, labels: (Int) -> [UInt8]) -> [UInt8] {
    var out = [UInt8]()
    for i in 0..<n {
        out += labels(i)
        out += (0..<3072).map { UInt8(truncatingIfNeeded: $0 / 1024 * 80 + $0 % 1024 + i * 7) }
    }
    return out
}

func assertThrowsDataError(_ body: @autoclosure () throws -> Any, mentions parts: [String],
                           file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try body(), file: file, line: line) { e in
        XCTAssert(e is DataError, "\(type(of: e)): \(e)", file: file, line: line)
        let text = "\(e)"
        XCTAssertFalse(text.contains("\n"), "not one line: \(text)", file: file, line: line)
        for p in parts { XCTAssert(text.contains(p), "'\(text)' does not mention '\(p)'", file: file, line: line) }
    }
}
