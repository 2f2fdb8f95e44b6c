import Data
import Foundation
import Tensor
import XCTest

final class CIFARTests: TempDirTestCase {
    func testCIFAR10RoundTrip() throws {
        // Batch b holds 3 records with labels 3b, 3b+1, 3b+2 (mod 10).
        for b in 1...5 { try write(cifarRecords(3) { [UInt8((3 * b + $0) % 10)] }, "data_batch_\(b).bin") }
        try write(cifarRecords(2) { [UInt8($0 + 8)] }, "test_batch.bin")
        let train = try CIFAR.load(.cifar10, directory: dir.path, train: true)
        XCTAssertEqual(train.count, 15)
        XCTAssertEqual([train.imageSize, train.channels, train.numClasses], [32, 3, 10])
        XCTAssertEqual((0..<15).map { train.label(at: $0) }, (1...5).flatMap { b in (0..<3).map { (3 * b + $0) % 10 } })
        // Image 4 is record 1 of the second file: its planes are where the layout says.
        let expected = cifarRecords(3) { _ in [0] }[(3073 + 1)..<(2 * 3073)]
        XCTAssertEqual(train.pixels(4), Array(expected))
        let floats = Tensor(shape: [3, 32, 32])
        train.copyImage(4, into: floats.data)
        XCTAssertEqual(floats[1024 + 5], Float(expected[expected.startIndex + 1024 + 5]) / 255, accuracy: 1e-7)
        let test = try CIFAR.load(.cifar10, directory: dir.path, train: false)
        XCTAssertEqual([test.label(at: 0), test.label(at: 1)], [8, 9])
    }

    func testCIFAR100UsesTheFineLabel() throws {
        try write(cifarRecords(4) { [UInt8($0), UInt8(90 + $0)] }, "train.bin")
        try write(cifarRecords(1) { _ in [19, 99] }, "test.bin")
        let train = try CIFAR.load(.cifar100, directory: dir.path, train: true)
        XCTAssertEqual(train.numClasses, 100)
        XCTAssertEqual((0..<4).map { train.label(at: $0) }, [90, 91, 92, 93])
        XCTAssertEqual(train.pixels(2), Array(cifarRecords(4) { _ in [0, 0] }[(2 * 3074 + 2)..<(3 * 3074)]))
        XCTAssertEqual(try CIFAR.load(.cifar100, directory: dir.path, train: false).label(at: 0), 99)
    }

    func testTruncatedMissingAndEmptyFilesAreNamed() throws {
        try write(Array(cifarRecords(2) { _ in [1] }.dropLast(5)), "test_batch.bin")
        assertThrowsDataError(try CIFAR.load(.cifar10, directory: dir.path, train: false),
                              mentions: ["test_batch.bin", "6141 bytes", "3073-byte"])
        assertThrowsDataError(try CIFAR.load(.cifar10, directory: dir.path, train: true),
                              mentions: ["data_batch_1.bin", "missing"])
        try write([], "train.bin")
        assertThrowsDataError(try CIFAR.load(.cifar100, directory: dir.path, train: true),
                              mentions: ["train.bin", "0 bytes", "3074-byte"])
        let nowhere = dir.appendingPathComponent("nowhere").path
        assertThrowsDataError(try CIFAR.load(.cifar10, directory: nowhere, train: true),
                              mentions: [nowhere, "no such directory", "data_batch_1.bin"])
    }

    func testImageDatasetRejectsBadLabelsAndSizes() {
        assertThrowsDataError(try ImageDataset(bytes: cifarRecords(2) { [UInt8($0 * 10)] }, imageSize: 32, numClasses: 10, name: "x.bin"),
                              mentions: ["x.bin", "record 1", "label 10", "0..<10"])
        assertThrowsDataError(try ImageDataset(bytes: [0, 1, 2], imageSize: 32, numClasses: 10, name: "y.bin"),
                              mentions: ["y.bin", "3073-byte"])
    }
}
