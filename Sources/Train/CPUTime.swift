import Foundation

/// CPU seconds this process has spent (user + system, every thread). A phase's wall seconds
/// grow when another job shares the cores; its CPU seconds mostly do not, so runs recorded
/// on a busy machine stay comparable by this figure.
public enum CPUTime {
    public static func process() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return s(u.ru_utime) + s(u.ru_stime)
    }
}
