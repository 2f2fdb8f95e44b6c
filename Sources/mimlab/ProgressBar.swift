import Foundation

/// A progress report on stderr, for any loop with a known number of steps (AvgDist masks,
/// training steps, evaluation batches).
///
/// On a terminal it redraws one line in place (`\r`), at most every `redrawInterval`, so a
/// tight loop can call `advance` on every step at no real cost. When stderr is a file or a
/// pipe (CI, Slurm logs) carriage returns would pile up into one huge line, so it writes a
/// plain line every `plainInterval` instead, plus one at the end.
///
///     let bar = ProgressBar("pretrain", total: steps, unit: "step")
///     for step in 0..<steps { …; bar.advance(trailing: "loss \(loss)") }
///     bar.finish()
final class ProgressBar {
    let label: String
    let total: Int
    let unit: String
    private(set) var done = 0
    /// Steps an earlier attempt did (see `resume`): done, but not part of this one's rate.
    private var baseline = 0
    private var trailing = ""

    private let isTTY: Bool
    private let redrawInterval: Duration
    private let plainInterval: Duration
    private let write: (String) -> Void
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    private var lastDraw: ContinuousClock.Instant?
    private var finished = false
    private var barWidth = 24

    init(_ label: String, total: Int, unit: String = "it",
         isTTY: Bool = isatty(STDERR_FILENO) != 0,
         redrawInterval: Duration = .milliseconds(100), plainInterval: Duration = .seconds(10),
         write: @escaping (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.label = label
        self.total = max(0, total)
        self.unit = unit
        self.isTTY = isTTY
        self.redrawInterval = redrawInterval
        self.plainInterval = plainInterval
        self.write = write
        start = clock.now
    }

    /// Seconds since the bar was created.
    var elapsed: Double { seconds(clock.now - start) }

    /// Moves forward by `steps`; `trailing` (e.g. "loss 0.31") replaces the previous one.
    func advance(_ steps: Int = 1, trailing: String? = nil) {
        update(done + steps, trailing: trailing)
    }

    /// Sets the number of steps done.
    func update(_ done: Int, trailing: String? = nil) {
        guard !finished else { return }
        self.done = min(max(0, done), total)
        if let trailing { self.trailing = trailing }
        let now = clock.now
        if let last = lastDraw, now - last < (isTTY ? redrawInterval : plainInterval) { return }
        // Without a terminal the first line waits a full interval: short loops stay silent.
        if !isTTY && lastDraw == nil && now - start < plainInterval { return }
        draw(now)
    }

    /// Starts from `done` steps that an earlier attempt did (a resumed run), so the rate and
    /// ETA count only the steps this attempt runs.
    func resume(at done: Int) {
        baseline = min(max(0, done), total)
        self.done = max(self.done, baseline)
    }

    /// Prints a message without breaking the bar (the bar is redrawn on the next update).
    func note(_ message: String) {
        write((isTTY && lastDraw != nil ? "\r\u{1B}[K" : "") + message + "\n")
        if isTTY { lastDraw = nil }
    }

    /// Draws the final state and ends the line. Further updates are ignored.
    func finish(trailing: String? = nil) {
        guard !finished else { return }
        if let trailing { self.trailing = trailing }
        draw(clock.now, final: true)
        finished = true
    }

    private func draw(_ now: ContinuousClock.Instant, final: Bool = false) {
        lastDraw = now
        let t = seconds(now - start)
        let rate = t > 0 ? Double(max(0, done - baseline)) / t : 0
        var parts = ["\(label)"]
        if isTTY {
            let filled = total > 0 ? barWidth * done / total : barWidth
            parts.append("[" + String(repeating: "█", count: filled) + String(repeating: "·", count: barWidth - filled) + "]")
        }
        let percent = total > 0 ? 100 * done / total : 100
        parts.append("\(done)/\(total) (\(percent)%)")
        parts.append(ProgressBar.rate(rate, unit: unit))
        if final {
            parts.append("in " + ProgressBar.duration(t))
        } else if rate > 0 {
            parts.append("ETA " + ProgressBar.duration(Double(total - done) / rate))
        }
        if !trailing.isEmpty { parts.append(trailing) }
        let line = parts.joined(separator: "  ")
        if isTTY {
            write("\r" + line + "\u{1B}[K" + (final ? "\n" : ""))
        } else {
            write(line + "\n")
        }
    }

    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    /// "12.5 step/s"; slow work per minute or hour ("1.6 run/h"), where "0.0 run/s" said nothing.
    static func rate(_ perSecond: Double, unit: String) -> String {
        if perSecond == 0 || perSecond >= 0.1 { return String(format: "%.1f", perSecond) + " \(unit)/s" }
        if perSecond * 60 >= 0.1 { return String(format: "%.1f", perSecond * 60) + " \(unit)/min" }
        return String(format: "%.1f", perSecond * 3600) + " \(unit)/h"
    }

    /// 7s, 3m05s, 2h01m.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
    }
}
