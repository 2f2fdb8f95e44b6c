/// The synthetic classes: figures told apart only by their global shape or arrangement.
/// Each is a signed distance (pixels; negative inside) from a point in the figure's own
/// frame (centred, unrotated), for a figure of half-extent `r` and half stroke width `w`.
/// Exact or conservative distances give a one-pixel anti-aliased edge when the coverage is
/// `clamp(0.5 - d, 0, 1)`.
public enum SyntheticShapes {
    /// Class k is `names[k]`; the first `classes` are used.
    public static let names = ["disc", "ring", "square-outline", "cross", "triangle", "two-parallel-bars",
                               "L", "T", "three-dots-in-a-row", "four-dots-in-a-square", "H", "crescent"]

    @inline(__always) static func box(_ x: Float, _ y: Float, _ hx: Float, _ hy: Float) -> Float {
        let dx = abs(x) - hx, dy = abs(y) - hy
        let ox = max(dx, 0), oy = max(dy, 0)
        return (ox * ox + oy * oy).squareRoot() + min(max(dx, dy), 0)
    }

    @inline(__always) static func circle(_ x: Float, _ y: Float, _ r: Float) -> Float {
        (x * x + y * y).squareRoot() - r
    }

    /// Inigo Quilez's exact equilateral-triangle distance, side 2r, centred on its centroid.
    @inline(__always) static func triangle(_ x: Float, _ y: Float, _ r: Float) -> Float {
        let k: Float = 1.732_050_8
        var qx = abs(x) - r, qy = y + r / k
        if qx + k * qy > 0 { (qx, qy) = ((qx - k * qy) / 2, (-k * qx - qy) / 2) }
        qx -= min(max(qx, -2 * r), 0)
        let d = (qx * qx + qy * qy).squareRoot()
        return qy > 0 ? -d : d
    }

    @inline(__always)
    static func distance(_ k: Int, _ x: Float, _ y: Float, r: Float, w: Float) -> Float {
        switch k {
        case 0: return circle(x, y, r * 0.8)
        case 1: return abs(circle(x, y, r - w)) - w
        case 2: return abs(box(x, y, r * 0.85 - w, r * 0.85 - w)) - w
        case 3: return min(box(x, y, r, w), box(x, y, w, r))
        case 4: return triangle(x, y, r * 1.05)
        case 5: return min(box(x, y - r * 0.5, r, w), box(x, y + r * 0.5, r, w))
        case 6: return min(box(x + r - w, y, w, r), box(x, y - r + w, r, w))
        case 7: return min(box(x, y + r - w, r, w), box(x, y, w, r))
        case 8:
            let s = r * 0.72, d = r * 0.28
            return min(circle(x + s, y, d), circle(x, y, d), circle(x - s, y, d))
        case 9:
            let s = r * 0.5, d = r * 0.3
            return min(circle(x + s, y + s, d), circle(x - s, y + s, d), circle(x + s, y - s, d), circle(x - s, y - s, d))
        case 10: return min(box(x + r - w, y, w, r), box(x - r + w, y, w, r), box(x, y, r, w * 0.8))
        default: return max(circle(x, y, r * 0.9), -circle(x - r * 0.45, y, r * 0.75))
        }
    }
}
