import Foundation
import Tensor
import Train

/// A run's identity: the first 16 hex digits of SHA-256 over its canonical config JSON
/// (every field filled, keys sorted). Equal configs give equal ids whichever sweep, file or
/// key order they came from, so a run that is done is never run again.
public enum RunID {
    public static let length = 16

    public static func of(_ config: RunConfig) -> String { of(canonicalJSON: config.canonicalJSON()) }

    public static func of(canonicalJSON: String) -> String {
        String(SHA256.hex(Array(canonicalJSON.utf8)).prefix(length))
    }
}
