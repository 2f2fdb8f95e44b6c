import Foundation

/// The masking strategies of SimMIM's Table 1 / Figure 3, and MAE's Table 1f.
public enum MaskType: String, CaseIterable, Sendable {
    /// SimMIM's generator: a uniformly random set of `ceil(ratio × N)` mask patches.
    case random
    /// One k×k block of mask patches at a uniformly random position.
    case square
    /// BEiT's generator: random rectangles added until the target count is reached.
    case blockwise = "block-wise"
    /// MAE's grid-wise sampling (Table 1f): one mask patch of every 2×2 is kept (the top-left),
    /// the other three are masked, so the ratio is 0.75 by construction.
    case grid

    /// Parses a config or command-line value; "blockwise" is accepted because the oracle
    /// scripts spell it that way.
    public init(parsing text: String) throws {
        let key = text.lowercased()
        if let t = MaskType(rawValue: key) { self = t; return }
        if key == "blockwise" { self = .blockwise; return }
        throw MaskSpecError.unknownType(text)
    }
}

/// The geometry of a mask distribution, with the paper's names. Sizes are in pixels;
/// the mask is drawn on the grid of `maskedPatchSize` patches and handed to the model on
/// the (finer or equal) grid of `modelPatchSize` patches.
public struct MaskSpec: Sendable, Equatable {
    public var type: MaskType
    public var imageSize: Int
    public var modelPatchSize: Int
    public var maskedPatchSize: Int
    public var maskRatio: Double

    public init(type: MaskType, imageSize: Int, modelPatchSize: Int, maskedPatchSize: Int, maskRatio: Double) {
        self.type = type
        self.imageSize = imageSize
        self.modelPatchSize = modelPatchSize
        self.maskedPatchSize = maskedPatchSize
        self.maskRatio = maskRatio
    }

    /// Side of the model-patch (token) grid, g = imageSize / modelPatchSize.
    public var gridSize: Int { imageSize / modelPatchSize }
    /// Side of the mask-patch grid, imageSize / maskedPatchSize.
    public var maskGridSize: Int { imageSize / maskedPatchSize }
    /// N, the number of mask patches.
    public var maskPatchCount: Int { maskGridSize * maskGridSize }
    /// How many model patches one mask patch spans along a side.
    public var scale: Int { maskedPatchSize / modelPatchSize }

    /// Number of mask patches the random (and block-wise) generator masks: the official
    /// `ceil(ratio × N)`. The epsilon keeps products that are integers in exact arithmetic
    /// (0.6 × 25 = 15.000000000000002 in binary) from rounding up to the next patch.
    public var maskCount: Int { MaskSpec.ceilCount(ratio: maskRatio, of: maskPatchCount) }

    public static func ceilCount(ratio: Double, of n: Int) -> Int {
        min(n, max(0, Int((ratio * Double(n) - 1e-9).rounded(.up))))
    }

    /// Checks the geometry; the error names the config field and its valid values.
    public func validate() throws {
        guard imageSize > 0 else { throw MaskSpecError.notPositive(.imageSize, imageSize) }
        guard modelPatchSize > 0 else { throw MaskSpecError.notPositive(.modelPatchSize, modelPatchSize) }
        guard maskedPatchSize > 0 else { throw MaskSpecError.notPositive(.maskedPatchSize, maskedPatchSize) }
        guard maskRatio.isFinite, maskRatio > 0, maskRatio < 1 else { throw MaskSpecError.ratioOutOfRange(maskRatio) }
        guard imageSize % modelPatchSize == 0 else {
            throw MaskSpecError.modelPatchDoesNotDivideImage(modelPatchSize: modelPatchSize, imageSize: imageSize,
                                                             valid: MaskSpec.divisors(of: imageSize))
        }
        let validMasked = MaskSpec.validMaskedPatchSizes(imageSize: imageSize, modelPatchSize: modelPatchSize)
        guard imageSize % maskedPatchSize == 0 else {
            throw MaskSpecError.maskedPatchDoesNotDivideImage(maskedPatchSize: maskedPatchSize, imageSize: imageSize,
                                                              valid: validMasked)
        }
        guard maskedPatchSize % modelPatchSize == 0 else {
            throw MaskSpecError.maskedPatchNotMultipleOfModelPatch(maskedPatchSize: maskedPatchSize,
                                                                   modelPatchSize: modelPatchSize, valid: validMasked)
        }
        if type == .grid {
            guard abs(maskRatio - 0.75) < 1e-9 else { throw MaskSpecError.gridRatio(maskRatio) }
            guard maskGridSize % 2 == 0 else {
                throw MaskSpecError.gridOddSide(maskedPatchSize: maskedPatchSize, side: maskGridSize,
                                                valid: validMasked.filter { (imageSize / $0) % 2 == 0 })
            }
        }
    }

    /// Masked patch sizes that fit: multiples of the model patch that divide the image.
    public static func validMaskedPatchSizes(imageSize: Int, modelPatchSize: Int) -> [Int] {
        guard modelPatchSize > 0, imageSize > 0, imageSize % modelPatchSize == 0 else { return [] }
        return divisors(of: imageSize).filter { $0 % modelPatchSize == 0 }
    }

    static func divisors(of n: Int) -> [Int] { n > 0 ? (1...n).filter { n % $0 == 0 } : [] }
}

/// A bad mask geometry. `message(naming:)` lets the CLI name its options instead of the
/// config fields (`--mask-patch` rather than `mask.patch`).
public enum MaskSpecError: Error, Equatable, CustomStringConvertible {
    public enum Field: String, Sendable {
        case imageSize = "data.image_size"
        case modelPatchSize = "encoder.patch"
        case maskedPatchSize = "mask.patch"
        case maskRatio = "mask.ratio"
        case maskType = "mask.type"
    }

    case notPositive(Field, Int)
    case ratioOutOfRange(Double)
    case unknownType(String)
    case modelPatchDoesNotDivideImage(modelPatchSize: Int, imageSize: Int, valid: [Int])
    case maskedPatchDoesNotDivideImage(maskedPatchSize: Int, imageSize: Int, valid: [Int])
    case maskedPatchNotMultipleOfModelPatch(maskedPatchSize: Int, modelPatchSize: Int, valid: [Int])
    case gridRatio(Double)
    case gridOddSide(maskedPatchSize: Int, side: Int, valid: [Int])

    /// The field to fix.
    public var field: Field {
        switch self {
        case .notPositive(let f, _): return f
        case .ratioOutOfRange, .gridRatio: return .maskRatio
        case .unknownType: return .maskType
        case .modelPatchDoesNotDivideImage: return .modelPatchSize
        case .maskedPatchDoesNotDivideImage, .maskedPatchNotMultipleOfModelPatch, .gridOddSide: return .maskedPatchSize
        }
    }

    public func message(naming name: (Field) -> String = { $0.rawValue }) -> String {
        func list(_ v: [Int]) -> String { v.isEmpty ? "none" : v.map(String.init).joined(separator: ", ") }
        switch self {
        case .notPositive(let f, let v):
            return "\(name(f)) = \(v) must be a positive number of pixels"
        case .ratioOutOfRange(let r):
            return "\(name(.maskRatio)) = \(r) is outside (0, 1); valid: 0 < ratio < 1, e.g. 0.6"
        case .unknownType(let t):
            return "\(name(.maskType)) = '\(t)' is not a mask type; valid: "
                + MaskType.allCases.map(\.rawValue).joined(separator: ", ")
        case .modelPatchDoesNotDivideImage(let p, let s, let v):
            return "\(name(.modelPatchSize)) = \(p) does not divide \(name(.imageSize)) = \(s); valid: \(list(v))"
        case .maskedPatchDoesNotDivideImage(let m, let s, let v):
            return "\(name(.maskedPatchSize)) = \(m) does not divide \(name(.imageSize)) = \(s); valid: \(list(v))"
        case .maskedPatchNotMultipleOfModelPatch(let m, let p, let v):
            return "\(name(.maskedPatchSize)) = \(m) is not a multiple of \(name(.modelPatchSize)) = \(p); valid: \(list(v))"
        case .gridRatio(let r):
            return "\(name(.maskRatio)) = \(r): \(name(.maskType)) = grid masks three of every 2×2 mask patches; valid: 0.75"
        case .gridOddSide(let m, let side, let v):
            return "\(name(.maskedPatchSize)) = \(m) gives \(side) mask patches a side, but \(name(.maskType)) = grid needs an even number; valid: \(list(v))"
        }
    }

    public var description: String { message() }
}
