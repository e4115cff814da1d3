import Foundation
import Testing
@testable import GPT2

/// `gpt2-bench model`, run as built, on the bundled demo model.
@Suite struct BenchCLITests {
    static func rows(_ arguments: [String]) throws -> [[String: Any]] {
        let output = try CommandRunner.run("gpt2-bench", ["model", "-m", TestPaths.salesDemo.path, "-o", "json"] + arguments)
        #expect(output.status == 0, "\(output.stderr)")
        return try #require(JSONSerialization.jsonObject(with: output.stdoutData) as? [[String: Any]])
    }

    @Test("--format json: a row per test with the llama-bench fields; tg rows carry their paired bandwidth bound")
    func json() throws {
        // a small probe buffer: this checks the fields, not the machine
        let rows = try Self.rows(["-p", "4", "-n", "2", "-t", "1,2", "-b", "1,2", "-r", "2", "--probe-mb", "16"])
        // (pp4, tg2) × 2 thread counts × 2 batch sizes
        #expect(rows.count == 8)
        let model = try GPT2Model(directory: TestPaths.salesDemo)
        for row in rows {
            for key in ["model", "threads", "batch", "n_prompt", "n_gen", "tokens_per_s_mean", "tokens_per_s_sd",
                        "load_s", "peak_rss_mb", "bandwidth_gbs"] {
                #expect(row[key] != nil, "\(key) missing from \(row)")
            }
            #expect(row["model"] as? String == "sales-demo")
            #expect((row["tokens_per_s_mean"] as? Double ?? 0) > 0)
            #expect((row["samples_ts"] as? [Double])?.count == 2)
            let single = row["n_gen"] as? Int == 2 && row["batch"] as? Int == 1
            // the bound belongs to single-sequence generation only, where each repetition was
            // bracketed by its own bandwidth passes
            #expect((row["bandwidth_bound_tps"] != nil) == single, "\(row)")
            if single {
                let bandwidth = try #require(row["paired_bandwidth_gbs"] as? Double)
                let bound = try #require(row["bandwidth_bound_tps"] as? Double)
                #expect(abs(bound - bandwidth * 1e9 / Double(model.decodeBytesPerToken)) <= 1e-6 * bound)
                #expect((row["bound_pct"] as? String)?.hasSuffix("%") == true)
            }
        }
        #expect(Set(rows.compactMap { $0["threads"] as? Int }) == [1, 2])
        #expect(Set(rows.compactMap { $0["batch"] as? Int }) == [1, 2])
    }

    @Test("--no-bandwidth skips the probe: no bandwidth or bound fields")
    func noBandwidth() throws {
        let rows = try Self.rows(["-p", "0", "-n", "2", "-r", "1", "--no-bandwidth"])
        #expect(rows.count == 1)
        for key in ["bandwidth_gbs", "paired_bandwidth_gbs", "bandwidth_bound_tps", "bound_pct"] {
            #expect(rows.first?[key] == nil, "\(key) present")
        }
    }
}
