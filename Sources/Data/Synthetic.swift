import Foundation
import Tensor

/// A procedural labelled dataset whose class is a *global* property of the image: the shape
/// or arrangement of a figure (disc, ring, square outline, cross, triangle, two parallel
/// bars, L, T, three dots in a row, four dots in a square, …), drawn at a random position,
/// scale and rotation, in a random colour, over a textured background of a colour from the
/// same distribution, with distractor strokes. No single colour or patch gives the label
/// away, masked patches have structure to predict, and a small label budget does not make
/// fine-tuning trivial.
///
/// Image i of a split comes from `PRNG(seed).fork(split).fork(i)`, so the data are the
/// same whatever the thread count, and splits are disjoint streams.
public struct SyntheticSpec: Sendable, Equatable {
    public var seed: UInt64 = 0
    public var imageSize = 32
    public var classes = 10

    public init(seed: UInt64 = 0, imageSize: Int = 32, classes: Int = 10) {
        self.seed = seed; self.imageSize = imageSize; self.classes = classes
    }

    /// Bumped whenever the drawing changes, so caches regenerate.
    public static let generatorVersion = 2
    public static let shapeNames = ["disc", "ring", "square-outline", "cross", "triangle", "parallel-bars",
                                    "L", "T", "three-dots-row", "four-dots-square", "X", "crescent"]
}

public enum Synthetic {
    public enum Split: String, CaseIterable, Sendable { case pool, finetune, test }

    /// Generates (or loads from `cacheDir`) `count` images of a split.
    public static func dataset(_ spec: SyntheticSpec, split: Split, count: Int, cacheDir: String?) throws -> ImageDataset {
        guard spec.classes >= 2 && spec.classes <= SyntheticSpec.shapeNames.count else {
            throw DataError("data.classes = \(spec.classes): the synthetic dataset has 2 to \(SyntheticSpec.shapeNames.count) classes")
        }
        guard spec.imageSize >= 8 else { throw DataError("data.image_size = \(spec.imageSize): synthetic images need at least 8 px") }
        let name = "synthetic-v\(SyntheticSpec.generatorVersion)-seed\(spec.seed)-c\(spec.classes)-\(spec.imageSize)px-\(split.rawValue)-\(count).bin"
        let record = 1 + 3 * spec.imageSize * spec.imageSize
        if let dir = cacheDir {
            let path = (dir as NSString).appendingPathComponent(name)
            // A cache file of the wrong size (an interrupted write from elsewhere, a truncated
            // copy) is regenerated, never trusted.
            if let d = FileManager.default.contents(atPath: path), d.count == record * count {
                return try ImageDataset(bytes: [UInt8](d), imageSize: spec.imageSize, numClasses: spec.classes, name: path)
            }
        }
        let bytes = generate(spec, split: split, count: count)
        if let dir = cacheDir {
            let path = (dir as NSString).appendingPathComponent(name)
            try AtomicWrite.write(Data(bytes), to: path)
        }
        return try ImageDataset(bytes: bytes, imageSize: spec.imageSize, numClasses: spec.classes, name: name)
    }

    public static func generate(_ spec: SyntheticSpec, split: Split, count: Int) -> [UInt8] {
        let S = spec.imageSize, record = 1 + 3 * S * S
        var out = [UInt8](repeating: 0, count: record * count)
        let base = PRNG(seed: spec.seed).fork(split.rawValue)
        out.withUnsafeMutableBufferPointer { buf in
            let p = buf.baseAddress!
            Parallel.forEach(count, minPerChunk: 64) { i in
                var rng = base.fork(i)
                // Balanced labels: image i has class i mod K, then the order is what the
                // loaders shuffle.
                let label = i % spec.classes
                p[i * record] = UInt8(label)
                draw(label: label, size: S, rng: &rng, into: p + i * record + 1)
            }
        }
        return out
    }

    // MARK: drawing

    struct Vec2 { var x: Float; var y: Float }

    @inline(__always) static func box(_ p: Vec2, _ hx: Float, _ hy: Float) -> Float {
        let dx = abs(p.x) - hx, dy = abs(p.y) - hy
        let ox = max(dx, 0), oy = max(dy, 0)
        return (ox * ox + oy * oy).squareRoot() + min(max(dx, dy), 0)
    }

    @inline(__always) static func disc(_ p: Vec2, _ cx: Float, _ cy: Float, _ r: Float) -> Float {
        let dx = p.x - cx, dy = p.y - cy
        return (dx * dx + dy * dy).squareRoot() - r
    }

    /// Signed distance (pixels) from local point p to shape `k` of radius r, stroke w.
    static func shape(_ k: Int, _ p: Vec2, r: Float, w: Float) -> Float {
        switch k {
        case 0: return disc(p, 0, 0, r)
        case 1: return abs(disc(p, 0, 0, r - w)) - w
        case 2: return abs(box(p, r - w, r - w)) - w
        case 3: return min(box(p, r, w), box(p, w, r))
        case 4: // equilateral triangle (Inigo Quilez's exact SDF)
            let k3: Float = 1.732_050_8
            var q = Vec2(x: abs(p.x) - r, y: p.y + r / k3)
            if q.x + k3 * q.y > 0 { q = Vec2(x: (q.x - k3 * q.y) / 2, y: (-k3 * q.x - q.y) / 2) }
            q.x -= min(max(q.x, -2 * r), 0)
            let d = (q.x * q.x + q.y * q.y).squareRoot()
            return q.y > 0 ? -d : d
        case 5: return min(box(Vec2(x: p.x, y: p.y - r * 0.55), r, w), box(Vec2(x: p.x, y: p.y + r * 0.55), r, w))
        case 6: return min(box(Vec2(x: p.x + r - w, y: p.y), w, r), box(Vec2(x: p.x, y: p.y - r + w), r, w))
        case 7: return min(box(Vec2(x: p.x, y: p.y + r - w), r, w), box(Vec2(x: p.x, y: p.y), w, r))
        case 8: let s = r * 0.7, d = r * 0.3
            return min(disc(p, -s, 0, d), disc(p, 0, 0, d), disc(p, s, 0, d))
        case 9: let s = r * 0.5, d = r * 0.3
            return min(disc(p, -s, -s, d), disc(p, s, -s, d), disc(p, -s, s, d), disc(p, s, s, d))
        case 10: let c: Float = 0.707_106_78
            let a = Vec2(x: c * (p.x + p.y), y: c * (p.y - p.x))
            return min(box(a, r, w), box(Vec2(x: a.y, y: a.x), r, w))
        default: return max(disc(p, 0, 0, r), -disc(p, r * 0.45, 0, r * 0.8))
        }
    }

    static func randomColor(_ rng: inout PRNG) -> (Float, Float, Float) { (rng.uniform(), rng.uniform(), rng.uniform()) }

    static func draw(label: Int, size S: Int, rng: inout PRNG, into out: UnsafeMutablePointer<UInt8>) {
        let bg = randomColor(&rng)
        var fg = randomColor(&rng)
        // Foreground and background come from one distribution; only require that the
        // figure is visible at all.
        while abs(fg.0 - bg.0) + abs(fg.1 - bg.1) + abs(fg.2 - bg.2) < 0.45 { fg = randomColor(&rng) }
        let texture = rng.int(3)
        let tAmp = rng.uniform(0.03, 0.12), tFreq = rng.uniform(0.3, 1.2), tAngle = rng.uniform(0, 2 * .pi)
        let tc = cos(tAngle), ts = sin(tAngle)
        let scale = Float(S) / 32
        let r = rng.uniform(8, 12) * scale, w = rng.uniform(1.8, 2.6) * scale
        let cx = Float(S) / 2 + rng.uniform(-3, 3) * scale, cy = Float(S) / 2 + rng.uniform(-3, 3) * scale
        let angle = rng.uniform(0, 2 * .pi), ca = cos(angle), sa = sin(angle)
        // Distractors: short strokes in their own colours, mostly away from the centre.
        let nClutter = rng.int(in: 0...2)
        var clutter: [(Float, Float, Float, Float, Float, (Float, Float, Float))] = []
        for _ in 0..<nClutter {
            clutter.append((rng.uniform(0, Float(S)), rng.uniform(0, Float(S)), rng.uniform(0, .pi),
                            rng.uniform(1.5, 3) * scale, rng.uniform(0.4, 0.7) * scale, randomColor(&rng)))
        }
        let hw = S * S
        for y in 0..<S {
            for x in 0..<S {
                let px = Float(x) + 0.5, py = Float(y) + 0.5
                var t: Float
                switch texture {
                case 0: t = tAmp * rng.normal()                                   // noise
                case 1: t = tAmp * sin(tFreq * (px * tc + py * ts))             // stripes
                default: t = tAmp * ((px * tc + py * ts) / Float(S) - 0.5) * 2  // gradient
                }
                var c = (bg.0 + t, bg.1 + t, bg.2 + t)
                for (qx, qy, qa, len, wid, col) in clutter {
                    let dx = px - qx, dy = py - qy
                    let l = Vec2(x: dx * cos(qa) + dy * sin(qa), y: -dx * sin(qa) + dy * cos(qa))
                    let cov = min(max(0.5 - box(l, len, wid), 0), 1)
                    c = (c.0 + (col.0 - c.0) * cov, c.1 + (col.1 - c.1) * cov, c.2 + (col.2 - c.2) * cov)
                }
                let dx = px - cx, dy = py - cy
                let local = Vec2(x: dx * ca + dy * sa, y: -dx * sa + dy * ca)
                let cov = min(max(0.5 - shape(label, local, r: r, w: w), 0), 1)   // 1-px soft edge
                c = (c.0 + (fg.0 - c.0) * cov, c.1 + (fg.1 - c.1) * cov, c.2 + (fg.2 - c.2) * cov)
                let n: Float = 0.02
                out[y * S + x] = quantise(c.0 + n * rng.normal())
                out[hw + y * S + x] = quantise(c.1 + n * rng.normal())
                out[2 * hw + y * S + x] = quantise(c.2 + n * rng.normal())
            }
        }
    }

    @inline(__always) static func quantise(_ v: Float) -> UInt8 { UInt8(min(max(v, 0), 1) * 255 + 0.5) }
}
