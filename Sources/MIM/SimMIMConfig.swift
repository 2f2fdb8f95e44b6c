import Foundation
import NN

/// A config field that holds a value it may not: the field's name, the value, and what
/// would be valid, in one line (`target = bins-7: valid values are …`).
public struct ConfigFieldError: Error, CustomStringConvertible, Equatable {
    public let field: String
    public let description: String

    public init(field: String, _ description: String) {
        self.field = field
        self.description = description
    }
}

/// SimMIM Table 2: the prediction head on top of the encoder.
///
/// The paper's heavier heads are inverse Swin-T / Swin-B stacks; they need a Swin encoder
/// and are out of scope. `transformer` stands in for them with plain pre-norm ViT blocks
/// (MAE's decoder shape), which is what "a heavier head" means for a ViT encoder.
public enum HeadKind: String, Codable, CaseIterable, Sendable {
    case linear, mlp2, transformer

    public init(parsing s: String) throws {
        guard let h = HeadKind(rawValue: s) else {
            throw ConfigFieldError(field: "head", "head = \(s): valid values are \(HeadKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = h
    }
}

/// SimMIM Table 4: what the head predicts and the loss on it. Spelled as in the run config:
/// `l1`, `l2`, `smooth-l1`, `normalized-pixel`, `bins-8`, `bins-256`, `color-cluster-K`.
public enum PredictionTarget: Equatable, Hashable, Sendable, CustomStringConvertible, Codable {
    /// |x − x̂|: the official SimMIM loss.
    case l1
    /// (x − x̂)², torch's `mse_loss` (no ½).
    case l2
    /// torch's `smooth_l1_loss` with β = 1: ½d² for |d| < 1, |d| − ½ otherwise.
    case smoothL1
    /// MAE's `norm_pix_loss`: each target patch standardised by its own mean and unbiased
    /// variance (eps 1e-6), then L2.
    case normalizedPixel
    /// Channel-wise classification of the [0, 1] pixel value into K equal bins.
    case bins(Int)
    /// Classification of the pixel colour into the nearest of K k-means palette colours.
    case colorCluster(Int)

    /// The bin counts of the paper's Table 4.
    public static let binCounts = [8, 256]
    public static let validValues = "l1, l2, smooth-l1, normalized-pixel, bins-8, bins-256, color-cluster-K (K ≥ 2)"

    public var description: String {
        switch self {
        case .l1: return "l1"
        case .l2: return "l2"
        case .smoothL1: return "smooth-l1"
        case .normalizedPixel: return "normalized-pixel"
        case .bins(let k): return "bins-\(k)"
        case .colorCluster(let k): return "color-cluster-\(k)"
        }
    }

    public init(parsing s: String) throws {
        let bad = ConfigFieldError(field: "target", "target = \(s): valid values are \(PredictionTarget.validValues)")
        switch s {
        case "l1": self = .l1
        case "l2": self = .l2
        case "smooth-l1": self = .smoothL1
        case "normalized-pixel": self = .normalizedPixel
        default:
            if s.hasPrefix("bins-"), let k = Int(s.dropFirst(5)) { self = .bins(k) }
            else if s.hasPrefix("color-cluster-"), let k = Int(s.dropFirst(14)) { self = .colorCluster(k) }
            else { throw bad }
            // One spelling per target: "bins-08" or "color-cluster-+5" are not accepted.
            if description != s { throw bad }
            do { try validate() } catch { throw bad }
        }
    }

    public func validate() throws {
        let bad = ConfigFieldError(field: "target", "target = \(self): valid values are \(PredictionTarget.validValues)")
        switch self {
        case .bins(let k) where !PredictionTarget.binCounts.contains(k): throw bad
        case .colorCluster(let k) where k < 2: throw bad
        default: break
        }
    }

    /// Regression targets compare pixel values; the others classify.
    public var isClassification: Bool {
        switch self {
        case .bins, .colorCluster: return true
        default: return false
        }
    }

    /// Number of classes per classified element (0 for regression).
    public var classes: Int {
        switch self {
        case .bins(let k), .colorCluster(let k): return k
        default: return 0
        }
    }

    /// Head outputs per target pixel: C values, C·K bin logits, or K palette logits.
    public func outputsPerPixel(channels: Int) -> Int {
        switch self {
        case .bins(let k): return channels * k
        case .colorCluster(let k): return k
        default: return channels
        }
    }

    public init(from decoder: Decoder) throws {
        self = try PredictionTarget(parsing: decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// Which pixels the loss counts: the masked ones (SimMIM's default; the paper finds it
/// better) or every pixel of the image.
public enum LossRegion: String, Codable, CaseIterable, Sendable {
    case masked, all

    public init(parsing s: String) throws {
        guard let r = LossRegion(rawValue: s) else {
            throw ConfigFieldError(field: "loss_on", "loss_on = \(s): valid values are masked, all")
        }
        self = r
    }
}

/// The SimMIM head / target / loss axes of a run (the run config's `head` and `target`
/// sections). The defaults are the official SimMIM: linear head, L1 on masked pixels at
/// full resolution.
public struct SimMIMConfig: Codable, Equatable, Sendable {
    public var head: HeadKind = .linear
    /// Transformer head only: number of pre-norm blocks, their width and attention heads.
    public var headDepth = 2
    public var headWidth = 128
    public var headHeads = 4
    public var target: PredictionTarget = .l1
    /// Side length of the target at the model's input size; nil = the image size (no
    /// pooling). SimMIM Table 3.
    public var predResolution: Int?
    public var lossOn: LossRegion = .masked

    public init(head: HeadKind = .linear, headDepth: Int = 2, headWidth: Int = 128, headHeads: Int = 4,
                target: PredictionTarget = .l1, predResolution: Int? = nil, lossOn: LossRegion = .masked) {
        self.head = head; self.headDepth = headDepth; self.headWidth = headWidth; self.headHeads = headHeads
        self.target = target; self.predResolution = predResolution; self.lossOn = lossOn
    }

    /// From the run config's spellings (`"mlp2"`, `"color-cluster-512"`, `"all"`).
    public init(head: String, headDepth: Int = 2, headWidth: Int = 128, headHeads: Int = 4,
                target: String, predResolution: Int? = nil, lossOn: String = "masked") throws {
        self.init(head: try HeadKind(parsing: head), headDepth: headDepth, headWidth: headWidth, headHeads: headHeads,
                  target: try PredictionTarget(parsing: target), predResolution: predResolution,
                  lossOn: try LossRegion(parsing: lossOn))
    }

    public static let official = SimMIMConfig()

    /// The prediction resolutions an encoder allows: r = g·s for every s dividing the patch
    /// size p (g the token grid), so each token predicts a whole s×s block of target pixels
    /// and each target pixel averages a whole (p/s)×(p/s) block of image pixels. Below the
    /// token grid several tokens would share one target pixel; that is not supported.
    public static func validPredResolutions(for vit: ViTConfig) -> [Int] {
        (1...vit.patchSize).filter { vit.patchSize % $0 == 0 }.map { vit.grid * $0 }
    }

    /// The resolved prediction resolution (the image size when unset).
    public func resolution(for vit: ViTConfig) -> Int { predResolution ?? vit.imageSize }

    /// Target pixels per token side, s = r / g.
    public func pixelsPerTokenSide(for vit: ViTConfig) -> Int { resolution(for: vit) / vit.grid }

    /// Head outputs per token: s²·(C, C·K or K).
    public func outputsPerToken(for vit: ViTConfig) -> Int {
        let s = pixelsPerTokenSide(for: vit)
        return s * s * target.outputsPerPixel(channels: vit.channels)
    }

    /// Throws a `ConfigFieldError` naming the first bad field and its valid values.
    public func validate(for vit: ViTConfig) throws {
        try target.validate()
        if head == .transformer {
            if headDepth < 1 {
                throw ConfigFieldError(field: "head_depth", "head_depth = \(headDepth): the transformer head needs at least 1 block")
            }
            if headHeads < 1 || headWidth < 1 || headWidth % headHeads != 0 {
                throw ConfigFieldError(field: "head_width", "head_width = \(headWidth) must be a positive multiple of head_heads = \(headHeads)")
            }
        }
        let valid = SimMIMConfig.validPredResolutions(for: vit)
        if let r = predResolution, !valid.contains(r) {
            throw ConfigFieldError(field: "pred_resolution",
                "pred_resolution = \(r): valid values for \(vit.imageSize) px images with \(vit.patchSize) px patches are " +
                "\(valid.map(String.init).joined(separator: ", ")) (multiples of the \(vit.grid)×\(vit.grid) token grid that divide the image size)")
        }
        if target == .normalizedPixel && pixelsPerTokenSide(for: vit) * pixelsPerTokenSide(for: vit) * vit.channels < 2 {
            throw ConfigFieldError(field: "pred_resolution",
                "pred_resolution = \(resolution(for: vit)): target = normalized-pixel needs at least 2 target values per token for a variance")
        }
    }
}
