import Foundation

/// What the processor can run, as the kernel reports it in `/proc/cpuinfo` (the flags there
/// already account for what the operating system enables: AVX-512 state saving included).
///
/// Parsed from text so that the kernel choice can be tested on any feature set without the
/// processor that has it.
public struct CPUFeatures: Equatable, Sendable {
    public enum Vendor: String, Sendable { case intel, amd, other }

    public var vendor: Vendor
    public var flags: Set<String>
    public var modelName: String
    public var family: Int?
    public var model: Int?

    public init(vendor: Vendor, flags: Set<String>, modelName: String = "", family: Int? = nil, model: Int? = nil) {
        self.vendor = vendor; self.flags = flags; self.modelName = modelName
        self.family = family; self.model = model
    }

    /// The first processor's block of a `/proc/cpuinfo` text (all cores of one machine
    /// share one feature set).
    public static func parse(cpuinfo: String) -> CPUFeatures {
        var fields: [String: String] = [:]
        for line in cpuinfo.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).isEmpty { if !fields.isEmpty { break } else { continue } }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if fields[key] == nil { fields[key] = value }
        }
        let vendor: Vendor
        switch fields["vendor_id"] ?? "" {
        case "GenuineIntel": vendor = .intel
        case "AuthenticAMD", "HygonGenuine": vendor = .amd
        default: vendor = .other
        }
        let flags = Set((fields["flags"] ?? "").split(separator: " ").map(String.init))
        return CPUFeatures(vendor: vendor, flags: flags, modelName: fields["model name"] ?? "",
                           family: fields["cpu family"].flatMap { Int($0) }, model: fields["model"].flatMap { Int($0) })
    }

    /// This machine's features; nil where `/proc/cpuinfo` cannot be read (not Linux).
    /// `MIMLAB_CPUINFO` names another file to read instead, for tests of the launch path.
    public static func current() -> CPUFeatures? {
        let path = ProcessInfo.processInfo.environment["MIMLAB_CPUINFO"] ?? "/proc/cpuinfo"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return parse(cpuinfo: text)
    }

    public var hasAVX2FMA: Bool { flags.isSuperset(of: ["avx2", "fma"]) }
    /// The subsets OpenBLAS's SkylakeX kernels are built with.
    public var hasAVX512: Bool { flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq"]) }
    public var hasAVX512BF16: Bool { hasAVX512 && flags.contains("avx512_bf16") }

    /// A short list of the vector features that decide the kernel, for messages.
    public var summary: String {
        var parts: [String] = []
        if hasAVX512 { parts.append("AVX-512 F/BW/VL/DQ") }
        if hasAVX512BF16 { parts.append("AVX512_BF16") }
        if !hasAVX512 && hasAVX2FMA { parts.append("AVX2 + FMA") }
        if parts.isEmpty { parts.append(flags.contains("avx") ? "AVX without AVX2/FMA" : "SSE only") }
        return parts.joined(separator: ", ")
    }
}
