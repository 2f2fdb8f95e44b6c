import Foundation
import Results
import Sweep

/// The fuzz suite's inputs: for each kind of input, malformed variants generated from a
/// valid one (bad values for every axis, wrong types for every key, YAML features mimlab
/// refuses, broken files), each paired with the file or option its error must name.
struct FuzzCases {
    typealias Case = FuzzTests.Case
    let fixtures: Fixtures
    let smoke = CLI.repoRoot.appendingPathComponent("experiments/smoke.yaml").path
    let scratch: URL

    init(fixtures: Fixtures) {
        self.fixtures = fixtures
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mimlab-fuzz-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    var all: [Case] {
        var rng = SplitMix(seed: FuzzTests.seed)
        var out: [Case] = specCases
        out += configCases
        out += setCases
        out += databaseCases
        out += shardCases
        out += caseFileCases
        out += taskListCases
        out += sqlCases
        out += queryCases
        out += optionCases(&rng)
        out += randomSpecCases(&rng)
        return out
    }

    // MARK: specs

    /// Bad values for axes, each valid elsewhere: what a grid, `set` or `--set` may hold.
    static let badValues: [(axis: String, values: [String])] = [
        ("mask.ratio", ["-1", "0", "1", "1.5", "abc", ".nan", ".inf", "1e400", "[0.4]"]),
        ("mask.patch", ["0", "-8", "3", "1000000", "abc", "1e20", "99999999999999999999"]),
        ("mask.type", ["nope", "42", "''"]),
        ("data.image_size", ["0", "-32", "100000000000000", "33", "abc"]),
        ("data.pool_size", ["0", "-1", "10000000000"]),
        ("data.finetune_size", ["0", "100000000"]),
        ("data.classes", ["1", "1000", "abc"]),
        ("data.dataset", ["imagenet", "cifar10"]),
        ("data.synthetic_version", ["1", "99"]),
        ("data.crop_scale_min", ["0", "2"]),
        ("data.flip", ["maybe"]),
        ("encoder.preset", ["vit-huge-xl"]),
        ("encoder.dim", ["0", "100000000"]),
        ("encoder.depth", ["0", "1000"]),
        ("encoder.heads", ["0", "7", "100000"]),
        ("encoder.patch", ["0", "5", "100000"]),
        ("encoder.mlp_ratio", ["0", "-1", "1000"]),
        ("head.type", ["conv"]),
        ("head.depth", ["0", "1000000"]),
        ("head.width", ["0", "100000000"]),
        ("target.type", ["l3", "color-cluster-100000000", "color-cluster-1", "bins-7", "color-cluster-99999999999999999999"]),
        ("target.pred_resolution", ["7", "0", "100000"]),
        ("target.loss_on", ["some"]),
        ("pretrain.epochs", ["-1", "1000000000000", "abc", "1.5"]),
        ("pretrain.batch", ["0", "100000", "1000"]),
        ("pretrain.base_lr", ["0", "-1", "abc"]),
        ("pretrain.warmup_epochs", ["-1", "1e9"]),
        ("finetune.epochs", ["-3", "10000000"]),
        ("finetune.batch", ["100000", "300"]),
        ("finetune.label_smoothing", ["1", "2"]),
        ("finetune.layer_decay", ["0", "5"]),
        ("linprobe.epochs", ["-1"]),
        ("linprobe.batch", ["0", "1000000"]),
        ("seed", ["-1", "abc"]),
        ("method", ["mae2", "0"]),
    ]

    var specCases: [Case] {
        let head = "name: fz\nbase: \(smoke)\n"
        let grid = "grids: [{mask.ratio: [0.4]}]\n"
        var bodies: [(String, String)] = [
            ("empty", ""), ("blank", "\n\n\n"), ("comment only", "# nothing here\n"), ("spaces", "   \n  \n"),
            ("comments and blanks", "\n# a\n\n# b\n"),
            ("a list", "- a\n- b\n"), ("a scalar", "hello\n"), ("a number", "42\n"),
            ("billion laughs", "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                + (1...9).map { i in "l\(i): &l\(i) [" + Array(repeating: i == 1 ? "*a" : "*l\(i - 1)", count: 9).joined(separator: ",") + "]\n" }.joined()),
            ("anchor on grids", head + "grids: &g [{mask.ratio: [0.4]}]\n"),
            ("alias in exclude", head + "set: &s {mask.ratio: 0.4}\n" + grid + "exclude: [*s]\n"),
            ("anchored scalar", head + "description: &d hello\n" + grid),
            ("alias of undefined anchor", head + grid + "exclude: [*nope]\n"),
            ("merge key", head + "set: {<<: {pretrain.epochs: 1}}\n" + grid),
            ("duplicate top key", head + grid + grid),
            ("duplicate name", head + "name: again\n" + grid),
            ("duplicate grid axis", head + "grids: [{mask.ratio: [0.4], mask.ratio: [0.5]}]\n"),
            ("unclosed flow", head + "grids: [{mask.ratio: [0.4}]\n"),
            ("tab indentation", head + "grids:\n\t- {mask.ratio: [0.4]}\n"),
            ("open brace", head + "grids: {\n"),
            ("nested colon", head + "a: b: c\n"),
            ("unterminated quote", head + "name: \"fz\n" + grid),
            ("extra brackets", head + "grids: [0.4, ]]]\n"),
            ("bad indentation", head + "grids:\n  - {mask.ratio: [0.4]}\n - {mask.patch: [8]}\n"),
            ("name path", "name: ../x\nbase: \(smoke)\n" + grid), ("name empty", "name: ''\nbase: \(smoke)\n" + grid),
            ("name list", "name: [a]\nbase: \(smoke)\n" + grid), ("name space", "name: 'a b'\nbase: \(smoke)\n" + grid),
            ("base missing", "name: fz\nbase: /nonexistent/nowhere.yaml\n" + grid),
            ("base directory", "name: fz\nbase: \(CLI.repoRoot.path)/experiments\n" + grid),
            ("base list", "name: fz\nbase: [a]\n" + grid),
            ("base is a spec", "name: fz\nbase: \(CLI.repoRoot.path)/experiments/quickstart.yaml\n" + grid),
            ("base is binary", "name: fz\nbase: \(scratch.path)/binary.yaml\n" + grid),
            ("grids scalar", head + "grids: 3\n"), ("grids empty", head + "grids: []\n"), ("grid empty list", head + "grids: [[]]\n"),
            ("grid empty map", head + "grids: [{}]\n"), ("grid no values", head + "grids: [{mask.ratio: []}]\n"),
            ("grid values map", head + "grids: [{mask.ratio: {a: 1}}]\n"), ("grid nested list", head + "grids: [{mask.ratio: [[0.4]]}]\n"),
            ("grid unknown axis", head + "grids: [{nope.axis: [1]}]\n"), ("grid section axis", head + "grids: [{mask: [1]}]\n"),
            ("grid null", head + "grids: [{mask.ratio: [~]}]\n"),
            ("seeds 0", head + grid + "seeds: 0\n"), ("seeds -1", head + grid + "seeds: -1\n"), ("seeds 1001", head + grid + "seeds: 1001\n"),
            ("seeds text", head + grid + "seeds: abc\n"), ("seeds empty", head + grid + "seeds: []\n"),
            ("seeds negative", head + grid + "seeds: [-1]\n"), ("seeds words", head + grid + "seeds: [a]\n"), ("seeds map", head + grid + "seeds: {a: 1}\n"),
            ("exclude scalar", head + grid + "exclude: 3\n"), ("exclude list value", head + grid + "exclude: [{mask.ratio: [0.4]}]\n"),
            ("exclude non-grid axis", head + grid + "exclude: [{mask.patch: 8}]\n"), ("exclude unknown", head + grid + "exclude: [{nope: 1}]\n"),
            ("exclude number", head + grid + "exclude: [3]\n"),
            ("set scalar", head + "set: 3\n" + grid), ("set list", head + "set: [a]\n" + grid), ("set unknown", head + "set: {nope.key: 1}\n" + grid),
            ("set bad epochs", head + "set: {pretrain.epochs: -1}\n" + grid), ("set section", head + "set: {mask: 3}\n" + grid),
            ("unknown top key", head + grid + "gridz: 1\n"), ("unknown key runs", head + grid + "runs: 5\n"),
            ("key not a name", head + grid + "[a]: 1\n"), ("null key", head + grid + "~: 1\n"),
            ("too many runs", head + "grids: [{mask.ratio: [" + (1...120).map { String(format: "%.4f", Double($0) / 200) }.joined(separator: ", ")
                + "], seed: [" + (0..<100).map(String.init).joined(separator: ", ") + "]}]\n"),
            ("huge grid file", head + "grids: [{mask.ratio: [" + (1...200_000).map { _ in "0.5" }.joined(separator: ",") + "]}]\n"),
            ("table scalar", head + grid + "table: 3\n"), ("table no rows", head + grid + "table: {rows: []}\n"),
            ("table unknown key", head + grid + "table: {rows: [mask.ratio], nope: 1}\n"),
            ("table unknown axis", head + grid + "table: {rows: [nope.axis]}\n"), ("table figure", head + grid + "table: {rows: [mask.ratio], figures: [pie]}\n"),
            ("table paper", head + grid + "table: {rows: [mask.ratio], paper: nodot}\n"),
            ("table avgdist", head + grid + "table: {rows: [mask.ratio], avgdist: maybe}\n"),
        ]
        for tag in ["!!binary aGVsbG8=", "!!python/object:os.system ls", "!custom x", "!!str fz", "!<tag:yaml.org,2002:str> fz"] {
            bodies.append(("tag \(tag)", "name: \(tag)\nbase: \(smoke)\n" + grid))
        }
        bodies.append(("tag in grid", head + "grids: [{mask.ratio: [!!float 0.4]}]\n"))
        bodies.append(("tag on mapping", head + "set: !!map {pretrain.epochs: 1}\n" + grid))
        for (axis, values) in FuzzCases.badValues {
            for v in values { bodies.append(("grid \(axis)=\(v)", head + "grids: [{\(axis): [\(v)]}]\n")) }
        }
        var out: [Case] = []
        let files = ["binary.yaml": Data([0xff, 0xfe, 0x00, 0x01, 0x80])]
        for (i, (label, body)) in bodies.enumerated() {
            let spec: [String: Data] = files.merging(["spec.yaml": Data(body.utf8)]) { a, _ in a }
            // Every spec through plan and run; every third through status and tables as well.
            var commands = [["sweep", "plan"], ["sweep", "run"]]
            if i % 3 == 0 { commands += [["sweep", "status"], ["tables"]] }
            for cmd in commands {
                var args = cmd + ["{dir}/spec.yaml", "--db", "{db}"]
                if cmd == ["tables"] { args += ["--out", "{dir}/out"] }
                out.append(Case(name: "spec \(label) (\(cmd.joined(separator: " ")))", args: args, files: spec, db: fixtures.good,
                                names: ["spec.yaml", "smoke.yaml", "binary.yaml", "/nonexistent", "experiments", "quickstart.yaml"]))
            }
        }
        // Not UTF-8, too large, a directory, missing.
        out.append(Case(name: "spec not UTF-8", args: ["sweep", "plan", "{dir}/spec.yaml", "--db", "{db}"],
                        files: ["spec.yaml": Data([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xff, 0xfe, 0x0a])], db: fixtures.good, names: ["spec.yaml"]))
        out.append(Case(name: "spec over 1 MiB", args: ["sweep", "run", "{dir}/spec.yaml", "--db", "{db}"],
                        files: ["spec.yaml": Data((head + grid + String(repeating: "# padding padding padding padding\n", count: 40_000)).utf8)],
                        db: fixtures.good, names: ["spec.yaml"]))
        out.append(Case(name: "spec is a directory", args: ["sweep", "plan", "{dir}", "--db", "{db}"], db: fixtures.good, names: ["is a directory"]))
        out.append(Case(name: "spec missing", args: ["sweep", "run", "{dir}/none.yaml", "--db", "{db}"], db: fixtures.good, names: ["none.yaml"]))
        return out
    }

    /// Specs built from random pieces: a valid skeleton with one random axis given one value
    /// that is wrong in a random way.
    func randomSpecCases(_ rng: inout SplitMix) -> [Case] {
        let axes = SweepSpec.validAxes.filter { !["data.path", "seed", "data.synthetic_version"].contains($0) }
        let junk = ["-7", "1e308", "999999999999", "[]", "{}", "'\u{0}'", "\"\\x\"", "-0.0001", "NaN", "0x10", "ÿ", "🙂", "1_000_000_000_000"]
        var out: [Case] = []
        for _ in 0..<40 {
            let axis = axes[Int(rng.next() % UInt64(axes.count))]
            let value = junk[Int(rng.next() % UInt64(junk.count))]
            let body = "name: fz\nbase: \(smoke)\ngrids: [{\(axis): [\(value)]}]\n"
            out.append(Case(name: "random \(axis)=\(value)", args: ["sweep", "run", "{dir}/spec.yaml", "--db", "{db}"],
                            files: ["spec.yaml": Data(body.utf8)], db: fixtures.good, names: ["spec.yaml"]))
        }
        // Only some of these are invalid for every axis (a string is a valid data.path);
        // keep the ones the config reader refuses when parsed here.
        return out.filter { c in
            let text = String(decoding: c.files["spec.yaml"]!, as: UTF8.self)
            return (try? SweepSpec.parse(yaml: text, path: "spec.yaml")) == nil
        }
    }

    // MARK: run configs and --set

    var configCases: [Case] {
        let bodies: [(String, String)] = [
            ("alias", "pretrain: &p {epochs: 1, batch: 64}\nfinetune: *p\n"),
            ("anchor", "data: &d {pool_size: 512}\n"),
            ("tag", "seed: !!binary aGVsbG8=\n"),
            ("grids in a config", "grids: [{mask.ratio: [0.4]}]\n"),
            ("unknown section", "model: {dim: 3}\n"),
            ("section as value", "mask: 3\n"),
            ("duplicate", "seed: 1\nseed: 2\n"),
            ("bad yaml", "data: {pool_size: [\n"),
            ("list top", "- 1\n"),
            ("huge image", "data: {image_size: 100000000000000}\n"),
            ("batch over pool", "data: {pool_size: 64}\npretrain: {batch: 128}\n"),
            ("finetune batch over set", "data: {finetune_size: 32}\nfinetune: {batch: 64}\n"),
            ("epochs", "pretrain: {epochs: 1000000000000}\n"),
        ]
        var out = bodies.map { label, body in
            Case(name: "config \(label)", args: ["run", "{dir}/config.yaml", "--out", "{dir}/out", "--cache", "{dir}/cache"],
                 files: ["config.yaml": Data(body.utf8)], names: ["config.yaml"])
        }
        out.append(Case(name: "config missing", args: ["run", "{dir}/none.yaml", "--out", "{dir}/out"], names: ["none.yaml"]))
        out.append(Case(name: "config directory", args: ["run", "{dir}", "--out", "{dir}/out"], names: ["is a directory"]))
        out.append(Case(name: "config binary", args: ["run", "{dir}/c.yaml", "--out", "{dir}/out"],
                        files: ["c.yaml": Data([0xff, 0xfe, 0x00])], names: ["c.yaml"]))
        out.append(Case(name: "--out under a file", args: ["run", smoke, "--out", "{dir}/file/sub", "--cache", "{dir}/cache"],
                        files: ["file": Data("x".utf8)], names: ["--out"]))
        return out
    }

    var setCases: [Case] {
        var sets: [String] = ["=3", "mask.ratio", "mask.ratio=[0.4", "mask=3", "mask.ratio=&a 0.5", "mask.ratio=!!float 0.5",
                              "a.b.c.d=1", "data.image_size.x=3", "nope=1", "mask.ratio={a: 1}", "..=1", "mask.ratio=*x"]
        for (axis, values) in FuzzCases.badValues { for v in values { sets.append("\(axis)=\(v)") } }
        return sets.map { s in
            Case(name: "--set \(s)", args: ["run", smoke, "--set", s, "--out", "{dir}/out", "--cache", "{dir}/cache"], names: ["--set", "smoke.yaml"])
        }
    }

    // MARK: databases and shards

    var databaseCases: [Case] {
        let dir = scratch.appendingPathComponent("db")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let id = fixtures.runID
        func bent(_ sql: String, _ name: String) -> Data { (try? fixtures.bent(sql, in: dir, name)) ?? Data() }
        let foreign: Data = {
            let path = dir.appendingPathComponent("foreign.sqlite").path
            if let q = try? DatabaseQueueMaker.make(path) { try? q.write { try $0.execute(sql: "CREATE TABLE notes (x)") } }
            return FileManager.default.contents(atPath: path) ?? Data()
        }()
        let variants: [(String, Data, [String])] = [
            ("attempts text", bent("UPDATE runs SET attempts = 'many' WHERE id = '\(id)'", "attempts"), ["attempts"]),
            ("unknown status", bent("UPDATE runs SET status = 'queued' WHERE id = '\(id)'", "status"), ["queued"]),
            ("result text", bent("UPDATE results SET value = 'abc' WHERE run_id = '\(id)'", "value"), ["value"]),
            ("created_at text", bent("UPDATE runs SET created_at = 'yesterday'", "created"), ["created_at"]),
            ("newer schema", bent("INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')", "newer"), ["newer mimlab"]),
            ("no runs table", bent("DROP VIEW run_axes; DROP TABLE results; DROP TABLE metrics; DROP TABLE slurm_tasks; DROP TABLE run_sweeps; DROP TABLE runs", "noruns"), ["not mimlab's"]),
            ("another program's", foreign, ["not mimlab's"]),
            ("empty file", Data(), ["empty file"]),
            ("text file", Data("hello, I am not a database\n".utf8), ["not an SQLite database"]),
            ("random bytes", Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }), ["not an SQLite database"]),
            ("truncated", fixtures.good.prefix(1500), ["db.sqlite"]),
            ("header only", fixtures.good.prefix(100), ["db.sqlite"]),
        ]
        var out: [Case] = []
        let spec = ["spec.yaml": Data(fixtures.specText.utf8)]
        for (label, data, names) in variants {
            let commands: [[String]] = [
                ["sweep", "status", "{dir}/spec.yaml", "--db", "{db}"], ["sweep", "plan", "{dir}/spec.yaml", "--db", "{db}"],
                ["sweep", "run", "{dir}/spec.yaml", "--db", "{db}"], ["tables", "{dir}/spec2.yaml", "--db", "{db}", "--out", "{dir}/out"],
                ["query", "--db", "{db}"], ["sql", "SELECT * FROM runs", "--db", "{db}"],
            ]
            for cmd in commands {
                // A bad value in a column only some commands read: pair it with those.
                if label == "result text" && ["plan", "run"].contains(cmd[safe: 1] ?? "") { continue }
                if label == "result text" && cmd[0] == "sql" { continue }
                // A writer takes a 0-byte file for a database another runner has just created.
                if label == "empty file" && cmd[safe: 1] == "run" { continue }
                if ["attempts text", "unknown status", "created_at text"].contains(label) && (cmd[0] == "query" || cmd[0] == "sql") { continue }
                let table = "name: fz\nbase: \(smoke)\ngrids: [{mask.ratio: [0.4, 0.6]}]\ntable: {rows: [mask.ratio]}\n"
                out.append(Case(name: "db \(label) (\(cmd.prefix(2).joined(separator: " ")))", args: cmd,
                                files: spec.merging(["spec2.yaml": Data(table.utf8)]) { a, _ in a }, db: data, names: names + ["db.sqlite"]))
            }
        }
        for cmd in [["query"], ["sql", "SELECT 1"], ["sweep", "plan", smoke.replacingOccurrences(of: "smoke", with: "quickstart")],
                    ["results", "checkpoint"], ["tables"]] {
            out.append(Case(name: "db is a directory (\(cmd[0]))", args: cmd + ["--db", "{dir}"], names: ["is a directory"]))
            out.append(Case(name: "db path empty (\(cmd[0]))", args: cmd + ["--db", ""], names: ["--db"]))
        }
        return out
    }

    var shardCases: [Case] {
        let dir = scratch.appendingPathComponent("shards")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let id = fixtures.runID
        let name = ResultShard.fileName(id: id)
        func bent(_ sql: String, _ label: String) -> Data { (try? fixtures.bentShard(sql, in: dir, label)) ?? Data() }
        let variants: [(String, Data)] = [
            ("attempts text", bent("UPDATE runs SET attempts = 'many'", "a")),
            ("null run id", bent("UPDATE runs SET id = NULL", "b")),
            ("config not JSON", bent("UPDATE runs SET config = 'not json {'", "c")),
            ("status unknown", bent("UPDATE runs SET status = 'queued'", "d")),
            ("result text", bent("UPDATE results SET value = 'x'", "e")),
            ("metric step text", bent("INSERT INTO metrics (run_id, phase, step, name, value) VALUES ('\(id)', 'p', 'ten', 'n', 1)", "f")),
            ("garbage", Data("garbage".utf8)),
            ("truncated", fixtures.shard.prefix(2048)),
        ]
        return variants.map { label, data in
            Case(name: "shard \(label)", args: ["results", "merge", "{dir}/shards", "--db", "{db}"],
                 files: ["shards/\(name)": data], db: fixtures.good, names: [name], report: true)
        }
    }

    // MARK: case files, task lists

    var caseFileCases: [Case] {
        func safetensors(header: String, data: Data = Data(), length: UInt64? = nil) -> Data {
            var out = Data()
            var n = (length ?? UInt64(header.utf8.count)).littleEndian
            withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
            out.append(Data(header.utf8))
            out.append(data)
            return out
        }
        let meta = { (config: String) in
            "{\"__metadata__\": {\"config\": \"\(config.replacingOccurrences(of: "\"", with: "\\\""))\"}, \"input.images\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, \"input.mask\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}"
        }
        // The MAE and Swin formats bound their own sizes (`format` picks the case type); the
        // inputs have the shapes the rest of the config implies, so only the bound stops them.
        let formatted = { (format: String, config: String, side: Int, input: String, tokens: Int) -> Data in
            let images = 3 * side * side * 4, rest = tokens * 4
            let header = "{\"__metadata__\": {\"format\": \"\(format)\", \"config\": \"\(config.replacingOccurrences(of: "\"", with: "\\\""))\"}, "
                + "\"input.images\": {\"dtype\": \"F32\", \"shape\": [1, 3, \(side), \(side)], \"data_offsets\": [0, \(images)]}, "
                + "\"input.\(input)\": {\"dtype\": \"F32\", \"shape\": [1, \(tokens)], \"data_offsets\": [\(images), \(images + rest)]}}"
            return safetensors(header: header, data: Data(count: images + rest))
        }
        let files: [(String, Data)] = [
            ("header length 2^63-1", safetensors(header: "{}", length: UInt64(Int64.max))),
            ("header length 2^64-1", safetensors(header: "{}", length: UInt64.max)),
            ("header past end", safetensors(header: "{}", length: 1000)),
            ("header zero", safetensors(header: "", length: 0)),
            ("header not JSON", safetensors(header: "{nope")),
            ("header array", safetensors(header: "[1, 2]")),
            ("entry without dtype", safetensors(header: "{\"a\": {\"shape\": [1]}}")),
            ("huge shape", safetensors(header: "{\"a\": {\"dtype\": \"F32\", \"shape\": [1099511627776, 1099511627776], \"data_offsets\": [0, 4]}}", data: Data(count: 4))),
            ("negative shape", safetensors(header: "{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", data: Data(count: 4))),
            ("offsets outside", safetensors(header: "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [9223372036854775800, 9223372036854775804]}}", data: Data(count: 4))),
            ("offsets reversed", safetensors(header: "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 0]}}", data: Data(count: 4))),
            ("unknown dtype", safetensors(header: "{\"a\": {\"dtype\": \"Q7\", \"shape\": [1], \"data_offsets\": [0, 4]}}", data: Data(count: 4))),
            ("embed_dim 2^40", safetensors(header: meta("{\"embed_dim\": 1099511627776}"), data: Data(count: 8))),
            ("img_size 0", safetensors(header: meta("{\"img_size\": 0}"), data: Data(count: 8))),
            ("depth huge", safetensors(header: meta("{\"depth\": 100000000}"), data: Data(count: 8))),
            ("config not JSON", safetensors(header: meta("{nope"), data: Data(count: 8))),
            ("images wrong shape", safetensors(header: meta("{}"), data: Data(count: 8))),
            ("mae decoder width 2^40", formatted("mae-oracle-v1", "{\"decoder_embed_dim\": 1099511627776, \"decoder_num_heads\": 1}", 32, "noise", 64)),
            ("mae embed_dim 2^40", formatted("mae-oracle-v1", "{\"embed_dim\": 1099511627776}", 32, "noise", 64)),
            ("swin depths huge", formatted("simmim-swin-oracle-v1", "{\"depths\": [100000000], \"num_heads\": [1]}", 16, "mask", 64)),
            ("swin embed_dim 2^40", formatted("simmim-swin-oracle-v1", "{\"embed_dim\": 1099511627776, \"depths\": [2], \"num_heads\": [1]}", 16, "mask", 64)),
            ("short file", Data([1, 2, 3])),
        ]
        var out = files.map { label, data in
            Case(name: "case file \(label)", args: ["step", "--case", "{dir}/case.safetensors", "--out", "{dir}/o.safetensors"],
                 files: ["case.safetensors": data], names: ["case.safetensors"])
        }
        out += files.prefix(6).map { label, data in
            Case(name: "compare \(label)", args: ["compare", "--ref", "{dir}/ref.safetensors", "--test", "{dir}/ref.safetensors"],
                 files: ["ref.safetensors": data], names: ["ref.safetensors"])
        }
        return out
    }

    var taskListCases: [Case] {
        let lists: [(String, String)] = [
            ("not JSON", "nope"), ("array", "[1, 2]"), ("empty object", "{}"),
            ("wrong format", "{\"format\": 999, \"sweep\": \"s\", \"shards\": \"/tmp\", \"checkpoints\": \"/tmp\", \"cache\": \"/tmp\", \"checkpointSeconds\": 1, \"tasks\": []}"),
            ("tasks not a list", "{\"format\": 1, \"sweep\": \"s\", \"tasks\": 3}"),
        ]
        var out = lists.map { label, text in
            Case(name: "task list \(label)", args: ["sweep", "task", "{dir}/tasks.json", "--index", "0"],
                 files: ["tasks.json": Data(text.utf8)], names: ["tasks.json"])
        }
        out.append(Case(name: "task list missing", args: ["sweep", "task", "{dir}/none.json", "--index", "0"], names: ["none.json"]))
        out.append(Case(name: "task without index", args: ["sweep", "task", "{dir}/none.json"], names: ["--index"]))
        return out
    }

    // MARK: SQL, queries, options

    var sqlCases: [Case] {
        let statements = ["DELETE FROM runs", "-- comment\nDELETE FROM runs", "/* c */ UPDATE runs SET status = 'done'", "DROP TABLE runs",
                          "PRAGMA journal_mode = DELETE", "ATTACH 'x.sqlite' AS y", "SELECT * FROM nope", "SELEC 1", "VACUUM",
                          "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c", "", ";", "-- only a comment",
                          "BEGIN IMMEDIATE", "CREATE TEMP TABLE t (x)", "INSERT INTO runs DEFAULT VALUES", "REINDEX"]
        var out = statements.map { s in
            Case(name: "sql \(s.prefix(30))", args: ["sql", s, "--db", "{db}"], db: fixtures.good, names: ["sql", "refusing", "SQL", "no such table", "syntax"])
        }
        out.append(Case(name: "sql two arguments", args: ["sql", "SELECT 1", "SELECT 2", "--db", "{db}"], db: fixtures.good, names: ["one quoted argument"]))
        out.append(Case(name: "sql format", args: ["sql", "SELECT 1", "--format", "xml", "--db", "{db}"], db: fixtures.good, names: ["--format"]))
        out.append(Case(name: "sql timeout", args: ["sql", "SELECT 1", "--timeout", "0", "--db", "{db}"], db: fixtures.good, names: ["--timeout"]))
        out.append(Case(name: "sql endless count", args: ["sql", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
                                                          "--timeout", "1", "--db", "{db}"], db: fixtures.good, names: ["--timeout"]))
        return out
    }

    var queryCases: [Case] {
        let wheres = ["mask.ratio>=abc", "mask.ratio<abc", "nope", "=3", "mask..ratio=1", "mask.type>=4", "Mask.Ratio=1", "mask.ratio", "mask.ratio>"]
        var out = wheres.map { w in
            Case(name: "query --where \(w)", args: ["query", "--where", w, "--db", "{db}"], db: fixtures.good, names: ["--where", "axis", w])
        }
        out += [
            Case(name: "query --sweep nope", args: ["query", "--sweep", "nope", "--db", "{db}"], db: fixtures.good, names: ["nope"]),
            Case(name: "query --group-by", args: ["query", "--group-by", "nope.axis", "--db", "{db}"], db: fixtures.good, names: ["nope.axis"]),
            Case(name: "query --metric", args: ["query", "--metric", "nope", "--db", "{db}"], db: fixtures.good, names: ["nope"]),
            Case(name: "query --format", args: ["query", "--format", "xml", "--db", "{db}"], db: fixtures.good, names: ["--format"]),
            Case(name: "query missing db", args: ["query", "--db", "{dir}/none.sqlite"], names: ["none.sqlite"]),
        ]
        return out
    }

    func optionCases(_ rng: inout SplitMix) -> [Case] {
        let spec = ["spec.yaml": Data(fixtures.specText.utf8)]
        var out: [Case] = []
        for t in ["0", "-1", "1000000", "abc", "1e3"] {
            out.append(Case(name: "sweep run --threads \(t)", args: ["sweep", "run", "{dir}/spec.yaml", "--db", "{db}", "--threads", t],
                            files: spec, db: fixtures.good, names: ["--threads"]))
            out.append(Case(name: "run --threads \(t)", args: ["run", smoke, "--threads", t, "--out", "{dir}/o"], names: ["--threads"]))
        }
        for w in ["0", "-2", "65", "1000000", "x"] {
            out.append(Case(name: "sweep run --workers \(w)", args: ["sweep", "run", "{dir}/spec.yaml", "--db", "{db}", "--workers", w],
                            files: spec, db: fixtures.good, names: ["--workers"]))
        }
        for extra in [["--backend", "nope"], ["--backend", "slurm", "--workers", "2"], ["--partition", "x"], ["--detach"],
                      ["--backend", "slurm", "--poll", "0"], ["--backend", "slurm", "--checkpoint-every", "-1"],
                      ["--backend", "slurm", "--resubmit", "-1"], ["--backend", "slurm", "--keep-runs", "x"]] {
            out.append(Case(name: "sweep run \(extra.joined(separator: " "))", args: ["sweep", "run", "{dir}/spec.yaml", "--db", "{db}"] + extra,
                            files: spec, db: fixtures.good, names: [extra.first(where: { $0.hasPrefix("--") && $0 != "--backend" }) ?? "--backend", "--backend"]))
        }
        let avg: [[String]] = [["--image-size", "-32"], ["--image-size", "0"], ["--image-size", "1000000000000000"], ["--image-size", "abc"],
                               ["--model-patch", "0"], ["--model-patch", "-4"], ["--model-patch", "1000"], ["--samples", "0"],
                               ["--samples", "-1"], ["--samples", "1000000000000"], ["--ratio", "1.5"], ["--ratio", "0"],
                               ["--mask-type", "nope"], ["--mask-patch", "0"], ["--mask-patch", "3"], ["--seed", "-1"],
                               ["--image-size", "4096", "--samples", "1000000"]]
        for a in avg {
            out.append(Case(name: "avgdist \(a.joined(separator: " "))", args: ["avgdist"] + a, names: [a[0], "--image-size", "--mask-patch"]))
        }
        // A few random integers far outside every bound, for every integer option above.
        for _ in 0..<10 {
            let v = String(Int64(bitPattern: rng.next()))
            out.append(Case(name: "avgdist --image-size \(v)", args: ["avgdist", "--image-size", v], names: ["--image-size"]))
            out.append(Case(name: "sweep run --threads \(v)", args: ["sweep", "run", "{dir}/spec.yaml", "--db", "{db}", "--threads", v],
                            files: spec, db: fixtures.good, names: ["--threads"]))
        }
        out.append(Case(name: "merge missing dir", args: ["results", "merge", "{dir}/none", "--db", "{db}"], db: fixtures.good, names: ["none"]))
        out.append(Case(name: "checkpoint missing db", args: ["results", "checkpoint", "--db", "{dir}/none.sqlite"], names: ["none.sqlite"]))
        out.append(Case(name: "tables no table section", args: ["tables", "{dir}/spec.yaml", "--db", "{db}", "--out", "{dir}/o"],
                        files: spec, db: fixtures.good, names: ["spec.yaml"]))
        out.append(Case(name: "tables unknown paper", args: ["tables", "{dir}/t.yaml", "--db", "{db}", "--out", "{dir}/o"],
                        files: ["t.yaml": Data((fixtures.specText + "table: {rows: [mask.ratio], paper: nopaper.table9}\n").utf8)],
                        db: fixtures.good, names: ["t.yaml"]))
        return out
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}

import GRDB

enum DatabaseQueueMaker {
    static func make(_ path: String) throws -> DatabaseQueue { try DatabaseQueue(path: path) }
}
