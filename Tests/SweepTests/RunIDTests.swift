import XCTest
import Train
@testable import Sweep

final class RunIDTests: XCTestCase {
    func testSHA256KnownVectors() {
        // FIPS 180-4 examples: empty, "abc", and the two-block 448-bit message.
        XCTAssertEqual(SHA256.hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 1000)).prefix(16), "41edece42d63e8d9")
    }

    func testRunIDIgnoresSpellingAndKeyOrder() throws {
        let a = try RunConfig.parse(yaml: "mask: {ratio: 0.6, type: random}\nseed: 1")
        let b = try RunConfig.parse(yaml: "seed: 1\nmask:\n  type: random\n  ratio: 0.60\n")
        let c = try RunConfig.parse(yaml: "seed: 2")
        XCTAssertEqual(RunID.of(a), RunID.of(b))
        XCTAssertNotEqual(RunID.of(a), RunID.of(c))
        XCTAssertEqual(RunID.of(a).count, 16)
    }
}
