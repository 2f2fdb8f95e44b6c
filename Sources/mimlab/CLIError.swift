import ArgumentParser
import Foundation

/// Prints a one-line error and exits non-zero, without a stack trace: bad input is the
/// user's to fix, and the message names what to fix.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("mimlab: error: \(message)\n".utf8))
    Foundation.exit(2)
}
