/// Forward passes that only evaluate (test accuracy, the probe's features).
public enum EvaluationBatch {
    /// Images per forward pass. The layers keep every activation for a backward pass that
    /// evaluation never runs, so memory grows with this: at 48 px a batch of 256 took a
    /// vit-micro run to 3.8 GB, 64 keeps it at the training step's 1.4 GB. Each image's
    /// result does not depend on the batch it is in.
    public static let size = 64
}
