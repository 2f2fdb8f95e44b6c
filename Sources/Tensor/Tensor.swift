import Foundation

/// Contiguous, 64-byte aligned `Float` storage with a row-major shape.
///
/// A reference type on purpose: layers keep their activations between `forward` and
/// `backward` and reuse the same buffers step after step (`resize` keeps the storage when it
/// is large enough), so a training step allocates nothing after the first one. Fresh
/// large allocations are mmap'ed by the allocator and page-faulted on every step otherwise.
public final class Tensor: @unchecked Sendable {
    public private(set) var shape: [Int]
    public private(set) var count: Int
    public private(set) var capacity: Int
    public private(set) var data: UnsafeMutablePointer<Float>

    public init(shape: [Int], zeroed: Bool = true) {
        let n = Tensor.elementCount(shape)
        self.shape = shape
        self.count = n
        self.capacity = n
        self.data = Tensor.allocate(n)
        if zeroed { data.initialize(repeating: 0, count: max(n, 1)) }
    }

    public convenience init(shape: [Int], values: [Float]) {
        precondition(Tensor.elementCount(shape) == values.count,
                     "Tensor: \(values.count) values for shape \(shape)")
        self.init(shape: shape, zeroed: false)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) }
    }

    public convenience init(scalar: Float) { self.init(shape: [], values: [scalar]) }

    deinit { free(data) }

    public static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    private static func allocate(_ n: Int) -> UnsafeMutablePointer<Float> {
        var raw: UnsafeMutableRawPointer?
        let bytes = max(n, 1) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("Tensor: cannot allocate \(bytes) bytes")
        }
        return raw.bindMemory(to: Float.self, capacity: max(n, 1))
    }

    /// Gives the tensor a new shape, keeping the storage when it is large enough.
    /// The contents are unspecified afterwards unless `zeroed`.
    public func resize(_ newShape: [Int], zeroed: Bool = false) {
        let n = Tensor.elementCount(newShape)
        if n > capacity {
            free(data)
            data = Tensor.allocate(n)
            capacity = n
        }
        shape = newShape
        count = n
        if zeroed { zero() }
    }

    /// Same storage, new shape with the same element count.
    public func reshape(_ newShape: [Int]) {
        precondition(Tensor.elementCount(newShape) == count, "reshape \(shape) -> \(newShape)")
        shape = newShape
    }

    public func zero() { data.update(repeating: 0, count: count) }
    public func fill(_ v: Float) { data.update(repeating: v, count: count) }

    public subscript(i: Int) -> Float {
        get { data[i] }
        set { data[i] = newValue }
    }

    public var array: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    public func copy(from other: Tensor) {
        resize(other.shape)
        data.update(from: other.data, count: count)
    }

    public func clone() -> Tensor {
        let t = Tensor(shape: shape, zeroed: false)
        t.data.update(from: data, count: count)
        return t
    }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: data, count: count) }

    /// Sum of squares in Double, for norms that must not lose precision over millions of terms.
    public func sumOfSquares() -> Double {
        var s = 0.0
        for i in 0..<count { let v = Double(data[i]); s += v * v }
        return s
    }

    public var isFinite: Bool {
        for i in 0..<count where !data[i].isFinite { return false }
        return true
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = (0..<min(count, 6)).map { String(format: "%.5g", data[$0]) }.joined(separator: ", ")
        return "Tensor\(shape)[\(head)\(count > 6 ? ", …" : "")]"
    }
}
