import Foundation
import Testing
import TestSupport
import GPT2
import GPT2Kernels
@testable import gpt2_bench

/// `gpt2-bench`, run as built: `model` on the bundled demo model, the attention lab on small
/// shapes, and the tokenizer benchmark on its default text.
@Suite struct BenchCLITests {
    static func rows(_ arguments: [String], format: [String] = ["-o", "json"]) throws -> [[String: Any]] {
        let output = try CommandRunner.run("gpt2-bench", ["model", "-m", TestPaths.salesDemo.path] + format + arguments)
        #expect(output.status == 0, "\(output.stderr)")
        return try #require(JSONSerialization.jsonObject(with: output.stdoutData) as? [[String: Any]])
    }

    @Test("--format json: a row per test with the llama-bench fields; tg rows carry their paired bandwidth bound")
    func json() throws {
        // a small probe buffer: this checks the fields, not the machine
        let rows = try Self.rows(["-p", "4", "-n", "2", "-t", "1,2", "-b", "1,2", "-r", "2", "--probe-mb", "16"],
                                 format: ["--format", "json"])
        // (pp4, tg2) × 2 thread counts × 2 batch sizes (one thread count on a one-core machine,
        // where -t 2 runs 1)
        let threadCounts: Set<Int> = [1, min(2, ComputeThreads.physicalCoreCount)]
        #expect(rows.count == 4 * threadCounts.count)
        let model = try GPT2Model(directory: TestPaths.salesDemo)
        for row in rows {
            for key in ["model", "threads", "batch", "n_prompt", "n_gen", "tokens_per_s_mean", "tokens_per_s_sd",
                        "load_s", "peak_rss_mb", "bandwidth_gbs"] {
                #expect(row[key] != nil, "\(key) missing from \(row)")
            }
            #expect(row["model"] as? String == "sales-demo")
            // the tool and these tests link the same build of the library
            #expect(row["fma"] as? Bool == KernelBuild.fusedMultiplyAdd)
            #expect((row["tokens_per_s_mean"] as? Double ?? 0) > 0)
            #expect((row["samples_ts"] as? [Double])?.count == 2)
            let single = row["n_gen"] as? Int == 2 && row["batch"] as? Int == 1
            // the bound belongs to single-sequence generation only, where each repetition was
            // bracketed by its own bandwidth passes
            #expect((row["bandwidth_bound_tps"] != nil) == single, "\(row)")
            if single {
                let bandwidth = try #require(row["paired_bandwidth_gbs"] as? Double)
                let bound = try #require(row["bandwidth_bound_tps"] as? Double)
                // tg2 from an empty cache: its steps attend to 1 and 2 positions, 1.5 on average
                let bytes = Double(model.decodeBytesPerToken) + 1.5 * Double(model.cacheBytesPerPosition)
                #expect(abs(try #require(row["bound_mb_per_token"] as? Double) - bytes / 1e6) <= 1e-9 * bytes)
                #expect(abs(bound - bandwidth * 1e9 / bytes) <= 1e-6 * bound)
                // a number of percent: the mean of the repetitions' shares of their own bounds, so
                // near (not exactly) the mean rate over the mean bound
                let pct = try #require(row["bound_pct"] as? Double)
                let rate = try #require(row["tokens_per_s_mean"] as? Double)
                #expect(pct > 0 && abs(pct - 100 * rate / bound) <= 0.5 * pct, "\(pct) vs \(100 * rate / bound)")
            }
        }
        #expect(Set(rows.compactMap { $0["threads"] as? Int }) == threadCounts)
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

    @Test("-o csv and -o md: the same tests, as a CSV table and as a markdown table with the notes")
    func csvAndMarkdown() throws {
        let arguments = ["model", "-m", TestPaths.salesDemo.path, "-p", "4", "-n", "2", "-b", "1,2", "-r", "1", "--no-bandwidth"]
        let csv = try CommandRunner.run("gpt2-bench", arguments + ["-o", "csv"])
        #expect(csv.status == 0, "\(csv.stderr)")
        let lines = csv.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "model,threads,batch,test,n_prompt,n_gen,tokens_per_s_mean,tokens_per_s_sd,load_s,peak_rss_mb,"
            + "rss_before_load_mb,bandwidth_gbs,paired_bandwidth_gbs,bandwidth_bound_tps,bound_pct,fma,cpu,build,commit")
        let cells = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(cells.map { "\($0[2]) \($0[3])" } == ["1 pp4", "1 tg2", "2 pp4", "2 tg2"])
        #expect(cells.allSatisfy { $0.count == 19 && $0[0] == "sales-demo" && (Double($0[6]) ?? 0) > 0 })

        let md = try CommandRunner.run("gpt2-bench", arguments + ["-o", "md"])
        #expect(md.status == 0, "\(md.stderr)")
        let table = md.stdout.split(separator: "\n").filter { $0.hasPrefix("|") }
        #expect(table.count == 2 + 4)
        #expect(table.first?.contains("t/s") == true)
        #expect(md.stdout.contains("sales-demo: ") && md.stdout.contains("load "))
        #expect(md.stdout.contains("sales-demo: peak resident memory of its tests: "))
        #expect(md.stdout.contains(KernelBuild.fusedMultiplyAdd ? "multiply-adds fused" : "multiplies and adds separate"))
        // CSV keeps every digit (the markdown table rounds)
        #expect(cells.allSatisfy { Double($0[6]).map { "\($0)" } == $0[6] })
    }

    #if os(Linux)
    @Test("several models: each row carries the peak memory of its own model's tests, not the process's")
    func peakPerModel() throws {
        let small = TestPaths.reference.appendingPathComponent("options-gpt2-bf16")
        let output = try CommandRunner.run("gpt2-bench", ["model", "-m", "\(TestPaths.salesDemo.path),\(small.path)", "-p", "4",
                                                          "-n", "0", "-r", "1", "--no-bandwidth", "-o", "json"])
        #expect(output.status == 0, "\(output.stderr)")
        let rows = try #require(JSONSerialization.jsonObject(with: output.stdoutData) as? [[String: Any]])
        let peaks = rows.map { ($0["model"] as? String ?? "", $0["peak_rss_mb"] as? Double ?? 0) }
        #expect(peaks.map(\.0) == ["sales-demo", "options-gpt2-bf16"])
        #expect(peaks.allSatisfy { $0.1 > 0 }, "\(peaks)")
        // what was resident before each model loaded: some (the runtime, OpenBLAS), less than its peak
        let before = rows.map { $0["rss_before_load_mb"] as? Double ?? 0 }
        #expect(zip(before, peaks).allSatisfy { $0 > 0 && $0 < $1.1 }, "\(before) before, peaks \(peaks)")
        // the demo model's weights alone are 50 MB as float32; the small one's, 0.3 MB. Not under
        // AddressSanitizer (scripts/sanitize.sh sets ASAN_OPTIONS), whose quarantine keeps freed
        // memory resident, so the second model starts from the first one's peak there.
        if ProcessInfo.processInfo.environment["ASAN_OPTIONS"] == nil {
            #expect(peaks[1].1 < peaks[0].1 - 20, "\(peaks)")
        }
    }
    #endif

    @Test("bad arguments: one line naming the flag and a non-zero exit, before anything runs")
    func badArguments() throws {
        let demo = TestPaths.salesDemo.path
        let cases: [(arguments: [String], message: String)] = [
            (["model", "-m", ","], "-m: no model directory given"),
            (["model", "-m", demo, "-p", "0", "-n", "0"], "nothing to run"),
            (["model", "-m", demo, "--probe-mb", "100000000"], "--probe-mb must be 1 to 65536"),
            (["model", "-m", demo, "-d", "9223372036854775807"], "-d must be in 0...1048576"),
            (["attention", "-T", "16", "--min-seconds", "inf"], "--min-seconds"),
            (["attention", "-T", "1", "-H", "3", "-D", "4611686018427387904"], "-D values must be 1 to 1024"),
            (["attention", "-T", "65536", "-H", "1024", "-D", "1024"], "GB of buffers"),
            (["attention", "-T", "16", "--reference", "rows.json"], "--reference is drawn in the plot"),
            (["attention", "-T", "16", "--plot", "/nonexistent/directory/lab.svg"], "--plot /nonexistent/directory/lab.svg"),
            (["decode-read", "-m", demo, "--passes", "9223372036854775807"], "--passes 1 to 1000"),
            (["tokenizer", "--chunk", "0"], "--chunk must be at least 1"),
            (["soak", "--max-tokens=-3"], "--max-tokens must be in 0...100000"),
            (["soak", "--parallel", "17"], "--parallel must be in 1...16"),
            (["generate", "-m", demo, "--parallel", "0"], "--parallel: each level must be in 1...256"),
            (["generate", "-m", demo, "-p", "500", "-n", "100"], "must fit the model's context"),
        ]
        for (arguments, message) in cases {
            let output = try CommandRunner.run("gpt2-bench", arguments)
            #expect(output.status != 0 && output.status < 128, "\(arguments): status \(output.status)")
            #expect(output.stderr.contains(message), "\(arguments): \(output.stderr)")
            #expect(output.stdout.isEmpty, "\(arguments) printed: \(output.stdout)")
        }
    }

    /// `-b` and sizes come from the command line: a test no machine has the memory for used to end
    /// in the allocator's trap (or the out-of-memory killer) partway through the run.
    @Test("sizes the machine has no memory for: one line and exit 1, before anything is allocated")
    func sizesBeyondMemory() throws {
        let demo = TestPaths.salesDemo.path
        let memory = String(format: "this machine has %.1f GB\n", Double(ProcessInfo.processInfo.physicalMemory) / 1e9)
        var cases: [(arguments: [String], message: String)] = [
            (["model", "-m", demo, "-b", "100000"], "Error: sales-demo: -b 100000 with pp512 needs at least "),
            (["model", "-m", demo, "-b", "10000000", "-p", "0", "-n", "1", "--no-bandwidth"],
             "Error: sales-demo: -b 10000000 with tg1 needs at least "),
            (["model", "-m", demo, "-b", "1,9223372036854775807", "-p", "8", "-n", "0"],
             "Error: sales-demo: -b 9223372036854775807 with pp8 needs at least "),
            (["tokenizer", "--text", "/dev/zero"], "Error: --text /dev/zero: not a regular file\n"),
        ]
        if ProcessInfo.processInfo.physicalMemory < 64 << 30 {
            cases.append((["model", "-m", demo, "--probe-mb", "65536"], "Error: --probe-mb 65536: more than this machine's "))
        }
        for (arguments, message) in cases {
            let start = ContinuousClock.now
            let output = try CommandRunner.run("gpt2-bench", arguments)
            #expect(output.status == 1, "\(arguments): status \(output.status)")
            #expect(output.stderr.hasPrefix(message), "\(arguments): \(output.stderr)")
            #expect(output.stderr.split(separator: "\n").count == 1, "\(arguments): \(output.stderr)")
            if arguments.contains("-b") { #expect(output.stderr.hasSuffix(memory), "\(arguments): \(output.stderr)") }
            #expect(output.stdout.isEmpty, "\(arguments) printed: \(output.stdout)")
            #expect(ContinuousClock.now - start < .seconds(30), "\(arguments)")
        }
    }

    @Test("--breakdown: every step of the forward pass timed, in order; the products' GB/s and GFLOP/s agree")
    func breakdown() throws {
        let rows = try Self.rows(["-p", "4", "-n", "2", "-r", "1", "--no-bandwidth", "--breakdown"])
        #expect(rows.count == 2)
        let products: Set = ["c_attn", "attn.c_proj", "c_fc", "mlp.c_proj", "lm_head"]
        for row in rows {
            let steps = try #require(row["breakdown"] as? [[String: Any]], "\(row)")
            #expect(steps.compactMap { $0["op"] as? String }
                    == ["wte+wpe", "ln_1", "c_attn", "attention", "attn.c_proj", "ln_2", "c_fc", "mlp.c_proj", "ln_f", "lm_head"])
            // the shares of one run of the test: the forward passes are all of it, bar the loop around them
            let total = steps.reduce(0) { $0 + ($1["share_pct"] as? Double ?? 0) }
            #expect(total > 50 && total <= 100.01, "\(total)")
            for step in steps {
                let op = step["op"] as? String ?? ""
                #expect((step["us_per_pass"] as? Double ?? -1) >= 0)
                #expect((step["weights_gbs"] != nil) == products.contains(op), "\(step)")
                // one new token a pass: each float32 weight (4 bytes) does one multiply-add (2 FLOPs)
                if row["test"] as? String == "tg2", let gbs = step["weights_gbs"] as? Double, let gflops = step["gflops"] as? Double {
                    #expect(abs(gflops - gbs / 2) <= 1e-9 * gbs, "\(step)")
                }
            }
        }

        let md = try CommandRunner.run("gpt2-bench", ["model", "-m", TestPaths.salesDemo.path, "-p", "0", "-n", "2", "-r", "1",
                                                      "--no-bandwidth", "--breakdown"])
        #expect(md.status == 0, "\(md.stderr)")
        let table = md.stdout.split(separator: "\n").filter { $0.hasPrefix("|") }
        #expect(table.count == 2 + 1 + 2 + 10)  // the tests' table, then the breakdown's
        #expect(table.last?.contains("lm_head") == true)

        let csv = try CommandRunner.run("gpt2-bench", ["model", "-m", TestPaths.salesDemo.path, "--breakdown", "-o", "csv"])
        #expect(csv.status != 0)
        #expect(csv.stderr.contains("--breakdown"))
    }

    @Test("decode-read: the products' and the bare read's GB/s per round, and the share is the mean of the rounds' ratios")
    func decodeRead() throws {
        let output = try CommandRunner.run("gpt2-bench", ["decode-read", "-m", TestPaths.salesDemo.path, "--rounds", "3",
                                                          "--passes", "1", "-o", "json"])
        #expect(output.status == 0, "\(output.stderr)")
        let rows = try #require(JSONSerialization.jsonObject(with: output.stdoutData) as? [[String: Any]])
        let row = try #require(rows.first)
        let products = try #require(row["product_gbs_samples"] as? [Double])
        let bare = try #require(row["bare_read_gbs_samples"] as? [Double])
        #expect(products.count == 3 && bare.count == 3)
        #expect(products.allSatisfy { $0 > 0 } && bare.allSatisfy { $0 > 0 })
        let shares = zip(products, bare).map { 100 * $0 / $1 }
        let share = try #require(row["product_share_pct"] as? Double)
        #expect(abs(share - shares.reduce(0, +) / 3) <= 1e-9 * share)
        let model = try GPT2Model(directory: TestPaths.salesDemo)
        #expect(abs((row["block_matrix_mb"] as? Double ?? 0) - Double(model.blockMatrixBytes) / 1e6) < 1e-9)

        let csv = try CommandRunner.run("gpt2-bench", ["decode-read", "-m", TestPaths.salesDemo.path, "--rounds", "2",
                                                       "--passes", "1", "-o", "csv"])
        #expect(csv.status == 0, "\(csv.stderr)")
        #expect(csv.stdout.hasPrefix("model,threads,precision,block_matrix_mb,product_gbs,bare_read_gbs,product_share_pct,product_share_se_pct\n"))
    }

    @Test("a size beyond the model's context is skipped with a note on standard error, not silently")
    func sizeBeyondContext() throws {
        let context = try GPT2Model(directory: TestPaths.salesDemo).config.contextLength
        let output = try CommandRunner.run("gpt2-bench", ["model", "-m", TestPaths.salesDemo.path, "-p", "4,\(context + 1)",
                                                          "-n", "0", "-r", "1", "--no-bandwidth", "-o", "json"])
        #expect(output.status == 0, "\(output.stderr)")
        let rows = try #require(JSONSerialization.jsonObject(with: output.stdoutData) as? [[String: Any]])
        #expect(rows.compactMap { $0["test"] as? String } == ["pp4"])
        #expect(output.stderr.contains("pp\(context + 1) skipped"), "\(output.stderr)")
    }

    @Test("attention lab: every kernel checked on the whole shape, the engine's choice and the fastest marked, an SVG plot")
    func attentionLab() throws {
        let plot = FileManager.default.temporaryDirectory.appendingPathComponent("lab-\(UUID().uuidString).svg")
        defer { try? FileManager.default.removeItem(at: plot) }
        // 257 queries: beyond 256 the check samples rows; two head sizes: two lines per kernel
        let output = try CommandRunner.run("gpt2-bench", ["attention", "-T", "64,257", "-H", "2", "-D", "16,24", "-t", "2",
                                                          "--min-seconds", "0.01", "--warm-decode", "-o", "json",
                                                          "--plot", plot.path])
        #expect(output.status == 0, "\(output.stderr)")
        let rows = try #require(JSONSerialization.jsonObject(with: output.stdoutData) as? [[String: Any]])
        let kernels = labKernels.map(\.name).filter { $0 != "naive" }
        #expect(rows.count == 2 * 2 * 2 * kernels.count)  // head sizes × modes × lengths × kernels
        for row in rows {
            #expect(row["check"] as? String == "ok", "\(row)")
            #expect(row["fma"] as? Bool == KernelBuild.fusedMultiplyAdd)
            #expect((row["max_abs_diff"] as? Double ?? 1) <= 1e-4)
            #expect((row["gflops"] as? Double ?? 0) > 0)
        }
        let shapes = Dictionary(grouping: rows) { "\($0["mode"]!) \($0["T"]!) \($0["head_size"]!)" }
        #expect(shapes.count == 8)
        for (_, shapeRows) in shapes {
            #expect(shapeRows.map { $0["kernel"] as? String ?? "" }.sorted() == kernels.sorted())
            let first = shapeRows[0]
            let T = try #require(first["T"] as? Int), D = try #require(first["head_size"] as? Int)
            let shape = first["mode"] as? String == "prefill"
                ? AttentionShape(queryCount: T, keyCount: T, headCount: 2, headSize: D)
                : AttentionShape(queryCount: 1, keyCount: T, headCount: 2, headSize: D)
            #expect(shapeRows.filter { $0["engine"] as? String == "*" }.map { $0["kernel"] as? String }
                    == [AttentionKernels.engineChoice(for: shape).name])
            let fastest = shapeRows.min { ($0["us_mean"] as? Double ?? 0) < ($1["us_mean"] as? Double ?? 0) }
            #expect(shapeRows.filter { $0["fastest"] as? String == "*" }.map { $0["kernel"] as? String }
                    == [fastest?["kernel"] as? String])
        }
        let svg = try String(contentsOf: plot, encoding: .utf8)
        #expect(svg.hasPrefix("<svg"))
        // a line per kernel and head size in each of the two panels
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 2 * 2 * kernels.count)
        #expect(svg.contains("2 heads × 16") && svg.contains("2 heads × 24"))
    }

    @Test("attention lab: --kernels picks kernels by name; rows record threads, cache, CPU, build and commit")
    func attentionLabKernelsAndMetadata() throws {
        let output = try CommandRunner.run("gpt2-bench", ["attention", "-T", "32", "-H", "2", "-D", "16", "-t", "1", "--min-seconds", "0.01",
                                                          "--kernels", "tiled,naive", "-o", "csv"])
        #expect(output.status == 0, "\(output.stderr)")
        let lines = output.stdout.split(separator: "\n").map(String.init)
        let header = lines[0].split(separator: ",").map(String.init)
        #expect(header.suffix(6) == ["threads", "cache", "fma", "cpu", "build", "commit"])
        let rows = lines.dropFirst().map { line in
            Dictionary(uniqueKeysWithValues: zip(header, line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)))
        }
        #expect(rows.count == 2 * 2)  // modes × kernels, naive included because named
        #expect(Set(rows.map { $0["kernel"] ?? "" }) == ["tiled", "naive"])
        let cpuInfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let cpu = try #require(cpuInfo.split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":").last)
        let git = Process(), pipe = Pipe()
        git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        git.arguments = ["git", "-C", TestPaths.packageRoot.path, "rev-parse", "--short=12", "HEAD"]
        git.standardOutput = pipe
        try git.run()
        let head = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        git.waitUntilExit()
        for row in rows {
            #expect(row["threads"] == "1")
            #expect(row["cache"] == (row["mode"] == "decode" ? "cold" : "warm"))
            #expect(row["cpu"] == cpu.trimmingCharacters(in: .whitespaces))
            #expect(row["build"] == "release" + (KernelBuild.fusedMultiplyAdd ? "+fma" : ""))
            #expect(row["commit"]?.hasPrefix(head) == true, "\(row["commit"] ?? "") vs HEAD \(head)")
        }
        let unknown = try CommandRunner.run("gpt2-bench", ["attention", "-T", "32", "--kernels", "tiled,fast"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("--kernels tiled,fast: no kernel fast (the lab's: naive, blas, flash, flash-decode, tiled)"))
    }

    @Test("tokenizer benchmark: encodes the bundled mixed English/Chinese text by default, as many tokens as the library")
    func tokenizer() throws {
        let output = try CommandRunner.run("gpt2-bench", ["tokenizer", "-r", "1", "--warmup", "0", "--format", "json"])
        #expect(output.status == 0, "\(output.stderr)")
        let object = try #require(JSONSerialization.jsonObject(with: output.stdoutData) as? [String: Any])
        let text = try #require(object["file"] as? String)
        #expect(text.hasSuffix("Benchmarks/mixed_en_zh.txt"))
        let data = try Data(contentsOf: URL(fileURLWithPath: text))
        #expect(object["bytes"] as? Int == data.count)
        let tokenizer = try GPT2Tokenizer(directory: TestPaths.salesDemo)
        #expect(object["tokens"] as? Int == tokenizer.encode(String(decoding: data, as: UTF8.self), allowSpecialTokens: false).count)
        #expect((object["encode_mb_s_mean"] as? Double ?? 0) > 0)

        let missing = try CommandRunner.run("gpt2-bench", ["tokenizer", "--text", "/nonexistent/text.txt"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("--text /nonexistent/text.txt"))

        // a text that starts with a UTF-8 byte-order mark: timed as the text after it
        let directory = try TestPaths.temporaryDirectory()
        let marked = try directory.write("marked.txt", bytes: [0xEF, 0xBB, 0xBF] + Array("Hello world\n".utf8))
        let bom = try CommandRunner.run("gpt2-bench", ["tokenizer", "--text", marked.path, "-r", "1", "--format", "json"])
        #expect(bom.status == 0, "\(bom.stderr)")
        let bomObject = try #require(JSONSerialization.jsonObject(with: bom.stdoutData) as? [String: Any])
        #expect(bomObject["tokens"] as? Int == tokenizer.encode("Hello world\n", allowSpecialTokens: false).count)
    }

    @Test("-d: tg tests start after that many positions, named as llama-bench does; depth and generation together must fit the context")
    func depth() throws {
        let context = try GPT2Model(directory: TestPaths.salesDemo).config.contextLength
        let output = try CommandRunner.run("gpt2-bench", ["model", "-m", TestPaths.salesDemo.path, "-p", "0", "-n", "3,\(context - 7)",
                                                          "-d", "8", "-r", "1", "--no-bandwidth", "-o", "json"])
        #expect(output.status == 0, "\(output.stderr)")
        let rows = try #require(JSONSerialization.jsonObject(with: output.stdoutData) as? [[String: Any]])
        #expect(rows.compactMap { $0["test"] as? String } == ["tg3 @ d8"])
        #expect(rows.first?["n_gen"] as? Int == 3)
        #expect(output.stderr.contains("tg\(context - 7) @ d8 skipped"), "\(output.stderr)")
    }

    @Test("generate --no-stream: requests await their results; throughput and step times, no per-token latencies")
    func generateAwaitingResults() throws {
        let output = try CommandRunner.run("gpt2-bench", ["generate", "-m", TestPaths.salesDemo.path, "-P", "2", "-R", "4",
                                                          "-p", "8", "-n", "5", "--no-stream", "-o", "json"])
        #expect(output.status == 0, "\(output.stderr)")
        let rows = try #require(JSONSerialization.jsonObject(with: output.stdoutData) as? [[String: Any]])
        let row = try #require(rows.first)
        #expect((row["tokens_per_s"] as? Double ?? 0) > 0 && (row["step_ms"] as? Double ?? 0) > 0, "\(row)")
        #expect(row["ttft_p50_ms"] as? Double == 0 && row["itl_p99_ms"] as? Double == 0, "\(row)")
    }

    @Test("generate: a row per level of concurrency, with throughput and latency percentiles")
    func generateLevels() throws {
        let output = try CommandRunner.run("gpt2-bench", ["generate", "-m", TestPaths.salesDemo.path, "-P", "1,4", "-R", "6",
                                                          "-p", "8", "-n", "5", "-o", "json"])
        #expect(output.status == 0, "\(output.stderr)")
        let rows = try #require(JSONSerialization.jsonObject(with: output.stdoutData) as? [[String: Any]])
        #expect(rows.map { $0["parallel"] as? Int } == [1, 4])
        for row in rows {
            #expect(row["requests"] as? Int == 6 && row["n_gen"] as? Int == 5)
            for key in ["tokens_per_s", "ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p99_ms"] {
                #expect((row[key] as? Double ?? 0) > 0, "\(key): \(row)")
            }
            #expect((row["ttft_p50_ms"] as? Double)! <= (row["ttft_p99_ms"] as? Double)!)
            #expect((row["itl_p50_ms"] as? Double)! <= (row["itl_p99_ms"] as? Double)!)
        }
    }
}
