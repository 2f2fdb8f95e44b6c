import Tensor

/// fc1 → GELU → fc2, the transformer block's feed-forward branch.
public final class MLP: Module {
    public let fc1: Linear
    public let act = GELU()
    public let fc2: Linear

    public init(_ name: String, dim: Int, hidden: Int, layerID: Int = 0) {
        fc1 = Linear(name + ".fc1", in: dim, out: hidden, layerID: layerID)
        fc2 = Linear(name + ".fc2", in: hidden, out: dim, layerID: layerID)
    }

    public var parameters: [Parameter] { fc1.parameters + fc2.parameters }

    @discardableResult
    public func forward(_ x: Tensor) -> Tensor { fc2.forward(act.forward(fc1.forward(x))) }

    @discardableResult
    public func backward(_ dy: Tensor) -> Tensor { fc1.backward(act.backward(fc2.backward(dy))) }
}
