import Foundation
import Train
import XCTest

/// A test case that runs the tiny config (`RunTests.tiny`: a few hundred synthetic images)
/// with its datasets in a scratch directory of its own, removed after each test.
class TinyRunTestCase: XCTestCase {
    var cache: String!

    override func setUpWithError() throws {
        cache = FileManager.default.temporaryDirectory.appendingPathComponent("mimlab-\(type(of: self))-\(UUID().uuidString)").path
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: cache) }

    func config(_ overrides: [String]) throws -> RunConfig {
        try RunConfig.parse(yaml: RunTests.tiny, source: "tiny.yaml", overrides: overrides)
    }

    func run(_ c: RunConfig, out: String? = nil) throws -> RunResult {
        try Run(config: c, outputDir: out).execute(try RunDataFactory.make(c, cacheDir: cache))
    }
}
