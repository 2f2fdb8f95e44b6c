/// A sweep could not go on: a one-line message naming the file, option or command at fault.
public struct SweepError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
