import Foundation
import MIM
import NN

/// SimMIM from a run config: its axes are the shared `head` and `target` sections.
public enum SimMIMRecipe: MethodRecipe {
    public static let section: (name: String, keys: [String])? = nil

    public static func read(_ reader: ConfigReader, into config: inout RunConfig) throws {}

    public static func make(_ config: RunConfig, data: RunData?) throws -> any PretrainMethod {
        let simmim = try config.simmimConfig()
        var palette: ColorPalette? = nil
        if case .colorCluster(let k) = simmim.target {
            guard let pool = data?.pool else { throw ConfigError("target.type = \(simmim.target) needs the pre-train pool to fit its palette") }
            // Seeded by the data, not the run: every run of a sweep shares one palette.
            palette = ColorPalette.fit(dataset: pool, k: k, seed: 0)
        }
        if let swin = config.encoder.swin {
            return try SimMIMSwin(swin, simmim, pixels: data?.pixels, palette: palette, masks: config.maskSpec)
        }
        let position = ViTOptions.Position.allCases.first { $0.configName == config.encoder.position } ?? .learned
        return try SimMIM(config.encoder.vit, simmim, options: ViTOptions(classToken: false, position: position),
                          pixels: data?.pixels, palette: palette, masks: config.maskSpec)
    }

    public static func flopsPerImage(_ config: RunConfig) -> FlopCount {
        // A config that parsed has a valid SimMIM config.
        let simmim = (try? config.simmimConfig()) ?? .official
        if let swin = config.encoder.swin { return SimMIMSwin.flopsPerImage(swin, simmim) }
        return SimMIM.flopsPerImage(config.encoder.vit, simmim)
    }

    public static func pool(_ config: RunConfig) -> TokenPool { .mean }

    public static var encoderOptions: ViTOptions { .simmim }
}
