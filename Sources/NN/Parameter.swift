import Tensor

/// A trainable tensor, its gradient, and what the optimiser needs to know about it.
///
/// Names follow the PyTorch/timm state-dict layout (`encoder.blocks.0.attn.qkv.weight`),
/// so checkpoints and oracle cases are exchanged by name and shape alone.
public final class Parameter {
    public let name: String
    public let value: Tensor
    public let grad: Tensor
    /// Decoupled weight decay applies (false for norms, biases, the position embedding).
    public var weightDecay: Bool
    /// Depth index for layer-wise lr decay: 0 = embeddings, i+1 = block i, depth+1 = head.
    public var layerID: Int

    public init(_ name: String, shape: [Int], weightDecay: Bool? = nil, layerID: Int = 0) {
        self.name = name
        self.value = Tensor(shape: shape)
        self.grad = Tensor(shape: shape)
        // The official SimMIM rule: 1-D tensors and biases are not decayed.
        self.weightDecay = weightDecay ?? !(shape.count <= 1 || name.hasSuffix(".bias"))
        self.layerID = layerID
    }

    public var count: Int { value.count }
    public func zeroGrad() { grad.zero() }
}

/// Anything that owns parameters.
public protocol Module: AnyObject {
    var parameters: [Parameter] { get }
}

extension Module {
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }

    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    public func parameter(named name: String) -> Parameter? { parameters.first { $0.name == name } }

    /// Global L2 norm of all gradients, accumulated in Double.
    public func gradNorm() -> Double {
        parameters.reduce(0.0) { $0 + $1.grad.sumOfSquares() }.squareRoot()
    }

    /// Copies parameter values from `tensors` by name; every parameter must be present with
    /// the same element count. Returns the names that were loaded.
    @discardableResult
    public func load(_ tensors: [String: Tensor], prefix: String = "", strict: Bool = true) throws -> [String] {
        var loaded: [String] = []
        for p in parameters {
            guard let t = tensors[prefix + p.name] else {
                if strict { throw ModelError.missingParameter(prefix + p.name) }
                continue
            }
            guard t.count == p.count else {
                throw ModelError.shapeMismatch(p.name, expected: p.value.shape, got: t.shape)
            }
            p.value.data.update(from: t.data, count: p.count)
            loaded.append(p.name)
        }
        return loaded
    }

    /// Parameter values by name (shared storage, not copies).
    public var stateDict: [String: Tensor] {
        Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.value) })
    }
}

public enum ModelError: Error, CustomStringConvertible {
    case missingParameter(String)
    case shapeMismatch(String, expected: [Int], got: [Int])
    case invalidConfig(String)

    public var description: String {
        switch self {
        case .missingParameter(let n): return "missing parameter '\(n)'"
        case .shapeMismatch(let n, let e, let g): return "parameter '\(n)': expected shape \(e), got \(g)"
        case .invalidConfig(let s): return s
        }
    }
}
