import Foundation
import XCTest
import Results

final class QueryTests: XCTestCase {
    var db: FixtureDB!

    override func setUpWithError() throws {
        db = try FixtureDB()
        try db.fill()
    }

    override func tearDown() { db.remove() }

    func groups(_ conditions: [String] = [], _ groupBy: [String] = [], metric: String = "finetune.top1",
                sweep: String? = nil) throws -> [QueryGroup] {
        try RunQuery(where: conditions, groupBy: groupBy, metric: metric, sweep: sweep).groups(path: db.path)
    }

    func testGroupByAggregates() throws {
        let g = try groups(["mask.type=random"], ["mask.patch"])
        XCTAssertEqual(g.map(\.values), [[.int(4)], [.int(8)]])
        XCTAssertEqual(g.map(\.runs), [2, 4])
        XCTAssertEqual(g.map(\.stats.n), [2, 3])
        XCTAssertEqual(g[0].stats.mean!, 41, accuracy: 1e-12)
        XCTAssertEqual(g[0].stats.std!, 2.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(g[1].stats.mean!, 47, accuracy: 1e-12)
        XCTAssertEqual(g[1].stats.std!, 2, accuracy: 1e-12)
        XCTAssertEqual(g[1].stats.min, 45)
        XCTAssertEqual(g[1].stats.max, 49)
    }

    func testSingleValueHasNoStd() throws {
        let g = try groups(["mask.type=square"])
        XCTAssertEqual(g.count, 1)
        XCTAssertEqual(g[0].runs, 2)
        XCTAssertEqual(g[0].stats.n, 1)
        XCTAssertEqual(g[0].stats.mean, 41.5)
        XCTAssertNil(g[0].stats.std)
        let csv = RunQuery(filters: [], groupBy: []).table(g).render(.csv)
        XCTAssertEqual(csv, "runs,n,mean,std,min,max\n2,1,41.5,,41.5,41.5\n")
    }

    func testNoGroupIsOneRowOverAll() throws {
        let g = try groups()
        XCTAssertEqual(g.count, 1)
        XCTAssertEqual(g[0].values, [])
        XCTAssertEqual(g[0].runs, 8)
        XCTAssertEqual(g[0].stats.n, 6)
        XCTAssertEqual(g[0].stats.mean!, (40 + 42 + 45 + 47 + 49 + 41.5) / 6, accuracy: 1e-12)
    }

    func testListAndNumericComparisons() throws {
        XCTAssertEqual(try groups(["mask.patch=4,8"])[0].runs, 8)
        XCTAssertEqual(try groups(["mask.patch=4"])[0].runs, 2)
        // 8.0 is the number 8, not the text "8.0".
        XCTAssertEqual(try groups(["mask.patch=8.0"])[0].runs, 6)
        XCTAssertEqual(try groups(["mask.ratio>0.6"])[0].runs, 1)
        XCTAssertEqual(try groups(["mask.ratio>=0.6"])[0].runs, 6)
        XCTAssertEqual(try groups(["mask.ratio<0.6"])[0].runs, 2)
        XCTAssertEqual(try groups(["mask.ratio<=0.25"])[0].runs, 2)
        XCTAssertEqual(try groups(["mask.patch!=4"])[0].runs, 6)
        // Text compares with text only: no number is "greater than" a word.
        XCTAssertEqual(try groups(["mask.type>r"])[0].runs, 8)
        XCTAssertEqual(try groups(["mask.type>s"])[0].runs, 2)
        // Text against an axis that holds numbers can match nothing: a typo, named as such.
        XCTAssertThrowsError(try groups(["mask.patch>a"])) { XCTAssert("\($0)".contains("mask.patch holds numbers"), "\($0)") }
    }

    func testAbsentKeyCountsAsDifferent() throws {
        XCTAssertEqual(try groups(["pred_resolution=16"])[0].runs, 1)
        XCTAssertEqual(try groups(["target.pred_resolution!=16"])[0].runs, 7)
        let g = try groups([], ["pred_resolution"])
        XCTAssertEqual(g.map(\.values), [[.null], [.int(16)]])
        XCTAssertEqual(g.map(\.runs), [7, 1])
    }

    func testAliasesStatusAndSweep() throws {
        let g = try groups(["mask_type=random"], ["mask_patch", "mask_ratio"])
        XCTAssertEqual(g.map(\.values), [[.int(4), .double(0.6)], [.int(8), .double(0.6)], [.int(8), .double(0.8)]])
        let s = try groups([], ["status"])
        XCTAssertEqual(s.map(\.values), [[.text("done")], [.text("failed")], [.text("pending")]])
        XCTAssertEqual(s.map(\.runs), [6, 1, 1])
        XCTAssertEqual(try groups(["status!=done"])[0].runs, 2)
        XCTAssertEqual(try groups(sweep: "sq")[0].runs, 3)
        XCTAssertEqual(try groups(["sweep!=sq"])[0].runs, 5)
        // A run in two sweeps counts in each.
        let w = try groups([], ["sweep"])
        XCTAssertEqual(w.map(\.values), [[.text("sq")], [.text("t1")]])
        XCTAssertEqual(w.map(\.runs), [3, 6])
        XCTAssertEqual(w.map(\.stats.n), [2, 5])
    }

    func testOtherMetric() throws {
        let g = try groups([], ["mask.patch"], metric: "avgdist")
        XCTAssertEqual(g.map(\.stats.n), [2, 0])
        XCTAssertEqual(g[0].stats.mean!, 2.1, accuracy: 1e-12)
        XCTAssertNil(g[1].stats.mean)
    }

    func testValuesAreBoundNotInterpolated() throws {
        XCTAssertEqual(try groups(["mask.type=random' OR '1'='1"]), [])
        // Taken as one (unknown) sweep name, not as SQL.
        XCTAssertThrowsError(try groups(["sweep=t1') OR 1=1 --"])) { XCTAssert("\($0)".contains("unknown sweep 't1') OR 1=1 --'"), "\($0)") }
    }

    func testUnknownMetricListsResults() throws {
        XCTAssertThrowsError(try groups(metric: "finetune.top5")) { error in
            XCTAssertEqual("\(error)", "unknown metric 'finetune.top5'; results in the database: avgdist, finetune.top1, linprobe.top1")
        }
    }

    func testUnknownAndInvalidAxes() throws {
        XCTAssertThrowsError(try groups(["mask.size=4"])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("unknown axis 'mask.size': no run's config has mask.size; axes present: encoder.preset, encoder.vit.patch_size, head.type, mask.patch, mask.ratio, mask.type, method,"), text)
            XCTAssertTrue(text.contains("target.pred_resolution"), text)
        }
        XCTAssertThrowsError(try groups([], ["mask;drop"])) { XCTAssertTrue("\($0)".hasPrefix("invalid axis 'mask;drop'"), "\($0)") }
        XCTAssertThrowsError(try groups([], ["Mask.Type"]))
        XCTAssertThrowsError(try groups(["mask..type=1"]))
        XCTAssertThrowsError(try groups(["status=finished"])) {
            XCTAssertEqual("\($0)", "filter on status: unknown status 'finished' (valid: pending, running, done, failed)")
        }
        XCTAssertThrowsError(try groups(["status>done"]))
        XCTAssertThrowsError(try groups(["mask.ratio>0.4,0.6"]))
        XCTAssertThrowsError(try groups(["mask.ratio"]))
        XCTAssertThrowsError(try groups(["mask.ratio="]))
        XCTAssertThrowsError(try groups(["=4"]))
    }

    func testFilterParsing() throws {
        let f = try QueryFilter(parsing: "mask.ratio<=0.5")
        XCTAssertEqual(f.axis.kind, .config(path: "mask.ratio"))
        XCTAssertEqual(f.op, .le)
        XCTAssertEqual(f.values, ["0.5"])
        let g = try QueryFilter(parsing: "mask_patch!=4, 8")
        XCTAssertEqual(g.axis.kind, .config(path: "mask.patch"))
        XCTAssertEqual(g.axis.name, "mask_patch")
        XCTAssertEqual(g.op, .ne)
        XCTAssertEqual(g.values, ["4", "8"])
    }

    func testMissingDatabaseIsAnErrorAndNotCreated() throws {
        let missing = db.dir + "/nope/mimlab.sqlite"
        XCTAssertThrowsError(try RunQuery().groups(path: missing)) {
            XCTAssertTrue("\($0)".contains("no results database there"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing))
    }

    func testMarkdownOutput() throws {
        let q = try RunQuery(where: ["mask.type=random"], groupBy: ["mask.patch"])
        XCTAssertEqual(try q.table(path: db.path).render(.markdown), """
            | mask.patch | runs |   n | mean |     std | min | max |
            |-----------:|-----:|----:|-----:|--------:|----:|----:|
            |          4 |    2 |   2 |   41 | 1.41421 |  40 |  42 |
            |          8 |    4 |   3 |   47 |       2 |  45 |  49 |

            """)
    }

    func testCSVOutput() throws {
        let q = try RunQuery(where: [], groupBy: ["mask.type", "mask.ratio"])
        XCTAssertEqual(try q.table(path: db.path).render(.csv), """
            mask.type,mask.ratio,runs,n,mean,std,min,max
            random,0.6,5,5,44.6,3.64692,40,49
            random,0.8,1,0,,,,
            square,0.25,2,1,41.5,,41.5,41.5

            """)
        let quoting = QueryTable(columns: ["a,b", "c"], rows: [[.text("say \"hi\""), .text("x\ny")], [.text("plain"), .null]])
        XCTAssertEqual(quoting.render(.csv), "\"a,b\",c\n\"say \"\"hi\"\"\",\"x\ny\"\nplain,\n")
    }

    func testJSONOutput() throws {
        let q = try RunQuery(where: ["mask.type=random", "mask.ratio=0.6"], groupBy: ["mask.patch"])
        let text = try q.table(path: db.path).render(.json)
        XCTAssertEqual(text, """
            [
              {"mask.patch": 4, "max": 42.0, "mean": 41.0, "min": 40.0, "n": 2, "runs": 2, "std": 1.4142135623730951},
              {"mask.patch": 8, "max": 49.0, "mean": 47.0, "min": 45.0, "n": 3, "runs": 3, "std": 2.0}
            ]

            """)
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]
        XCTAssertEqual(parsed?.count, 2)
        XCTAssertEqual(QueryTable(columns: ["a"], rows: []).render(.json), "[]\n")
        let nulls = QueryTable(columns: ["s", "t"], rows: [[.null, .text("a\"b")]]).render(.json)
        XCTAssertEqual(nulls, "[\n  {\"s\": null, \"t\": \"a\\\"b\"}\n]\n")
    }

    func testStats() {
        let s = SampleStats([1, 2, 3, 4, .nan])
        XCTAssertEqual(s.n, 4)
        XCTAssertEqual(s.mean!, 2.5, accuracy: 1e-12)
        XCTAssertEqual(s.std!, (5.0 / 3).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(SampleStats([]).n, 0)
        XCTAssertNil(SampleStats([]).mean)
    }

    func testCompactNumbers() {
        XCTAssertEqual(NumberText.compact(43.25666), "43.2567")
        XCTAssertEqual(NumberText.compact(0.0321), "0.0321")
        XCTAssertEqual(NumberText.compact(123456.7), "123457")
        XCTAssertEqual(NumberText.compact(-2), "-2")
        XCTAssertNil(NumberText.parse("nan"))
        XCTAssertNil(NumberText.parse("inf"))
        XCTAssertEqual(NumberText.parse("1e-3"), 0.001)
    }
}
