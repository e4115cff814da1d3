import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TestSupport
import SalesPitch

/// `generate serve` on a free loopback port, spoken to over HTTP (URLSession, and curl for
/// streams cut short), as a client on this machine would.
@Suite(.serialized) struct ServeCLITests {
    /// A running `generate serve`; stopped with SIGTERM.
    final class Server: @unchecked Sendable {  // immutable after init; Process is thread-safe to query
        let process = Process()
        let log = LockedData()
        let base: URL

        init(_ arguments: [String] = []) throws {
            process.executableURL = CommandRunner.productsDirectory.appendingPathComponent("generate")
            process.arguments = ["serve", "--port", "0"] + arguments
            let err = Pipe()
            process.standardError = err
            process.standardOutput = FileHandle.nullDevice
            err.fileHandleForReading.readabilityHandler = { [log] handle in log.append(handle.availableData) }
            try process.run()
            let start = ContinuousClock.now
            var port: String?
            while port == nil && ContinuousClock.now - start < .seconds(60) && process.isRunning {
                usleep(10_000)
                let text = String(decoding: log.data, as: UTF8.self)
                port = text.firstRange(of: /127\.0\.0\.1:(\d+)/).map { String(text[$0].split(separator: ":")[1]) }
            }
            guard let port else { throw ServerDidNotStart(log: String(decoding: log.data, as: UTF8.self)) }
            base = URL(string: "http://127.0.0.1:\(port)")!
        }

        var logText: String { String(decoding: log.data, as: UTF8.self) }

        func stop() -> Int32 {
            process.terminate()
            return exitStatus()
        }

        /// The exit status once the server has ended; one still running after `limit` is killed
        /// (status 9, SIGKILL) with an issue recorded, rather than waited for forever.
        func exitStatus(within limit: Duration = .seconds(120)) -> Int32 {
            let start = ContinuousClock.now
            while process.isRunning && ContinuousClock.now - start < limit { usleep(10_000) }
            if process.isRunning {
                Issue.record("generate serve still running \(limit) after SIGTERM; killed. Its log:\n\(logText)")
                kill(process.processIdentifier, SIGKILL)
            }
            process.waitUntilExit()
            return process.terminationStatus
        }

        /// A request; the status and the body parsed as JSON (nil if it is not).
        func send(_ path: String, body: Data? = nil, headers: [String: String] = [:]) async throws -> (Int, [String: Any]?) {
            var request = URLRequest(url: base.appendingPathComponent(path))
            request.httpMethod = body == nil ? "GET" : "POST"
            request.httpBody = body
            for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as! HTTPURLResponse).statusCode, try? JSONSerialization.jsonObject(with: data) as? [String: Any])
        }

        func complete(_ fields: [String: Any], headers: [String: String] = [:]) async throws -> (Int, [String: Any]?) {
            try await send("v1/completions", body: try JSONSerialization.data(withJSONObject: fields), headers: headers)
        }

        /// curl's output for a streamed completion (at most `seconds` long).
        func curlStream(_ fields: [String: Any], seconds: Double = 60) throws -> String {
            let body = String(decoding: try JSONSerialization.data(withJSONObject: fields), as: UTF8.self)
            let output = try CommandRunner.runSystem("curl", ["-sN", "--max-time", String(seconds), "-H", "Content-Type: application/json",
                                                              "-d", body, base.appendingPathComponent("v1/completions").absoluteString])
            return output.stdout
        }
    }

    struct ServerDidNotStart: Error {
        let log: String
    }

    static let prompt = "Customer: Olivia Brown, 34, nurse. Interests: yoga, travel. Recently viewed high-end cameras.\nProduct: AuroraShot X2 mirrorless camera (e-commerce)\nPitch:"

    @Test("errors in the OpenAI shape, naming the field: 400, 404, 413; health and models")
    func errors() async throws {
        let server = try Server(["--model-alias", "text-davinci-003"])
        defer { #expect(server.stop() == 0) }
        let health = try await server.send("health")
        #expect(health.0 == 200 && health.1?["status"] as? String == "ok")
        let models = try await server.send("v1/models")
        #expect((models.1?["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["sales-demo", "text-davinci-003"])

        let cases: [(fields: [String: Any], status: Int, param: String?)] = [
            (["model": "gpt-4", "prompt": "hi"], 404, "model"),
            (["prompt": "hi"], 400, "model"),
            (["model": "sales-demo", "prompt": "hi", "max_tokens": -1], 400, "max_tokens"),
            (["model": "sales-demo", "prompt": "hi", "max_tokens": "ten"], 400, "max_tokens"),
            (["model": "sales-demo", "prompt": "hi", "temperature": 2.5], 400, "temperature"),
            (["model": "sales-demo", "prompt": "hi", "top_p": 0], 400, "top_p"),
            (["model": "sales-demo", "prompt": "hi", "n": 0], 400, "n"),
            (["model": "sales-demo", "prompt": "hi", "stop": ["a", "b", "c", "d", "e"]], 400, "stop"),
            (["model": "sales-demo", "prompt": "hi", "stream": "yes"], 400, "stream"),
            (["model": "sales-demo", "prompt": [1.5]], 400, "prompt"),
            (["model": "sales-demo", "prompt": [99999999]], 400, "prompt"),
            (["model": "sales-demo", "prompt": Array(repeating: "hi", count: 20), "n": 8], 400, "prompt"),
            (["model": "sales-demo", "prompt": Array(repeating: "hi", count: 5), "n": 16], 400, "n"),
            (["model": "sales-demo", "prompt": "hi", "stop": String(repeating: "x", count: 300)], 400, "stop"),
            (["model": "sales-demo", "prompt": "hi", "logit_bias": ["50256": 500]], 400, "logit_bias"),
            (["model": "sales-demo", "prompt": "hi", "seed": 1.5], 400, "seed"),
            (["model": "sales-demo", "prompt": String(repeating: "hi ", count: 600)], 400, "prompt"),
        ]
        for (fields, status, param) in cases {
            let (code, body) = try await server.complete(fields)
            let error = body?["error"] as? [String: Any]
            #expect(code == status, "\(fields)")
            #expect(error?["param"] as? String == param && (error?["message"] as? String)?.isEmpty == false, "\(fields): \(String(describing: error))")
            #expect(error?["type"] as? String == "invalid_request_error")
        }
        let malformed = try await server.send("v1/completions", body: Data("{\"model\": ".utf8))
        #expect(malformed.0 == 400 && (malformed.1?["error"] as? [String: Any])?["message"] != nil)
        let huge = try await server.send("v1/completions", body: Data(repeating: 0x20, count: 5 << 20))
        #expect(huge.0 == 413)
        #expect(server.logText.contains("POST /v1/completions 404 0 tokens"))
    }

    @Test("with --api-key, a missing or wrong key is 401; anything but loopback needs a key")
    func apiKey() async throws {
        let refused = try CommandRunner.run("generate", ["serve", "--host", "0.0.0.0"])
        #expect(refused.status == 64 && refused.stderr.contains("--api-key"))
        let server = try Server(["--api-key", "k1"])
        defer { #expect(server.stop() == 0) }
        let fields: [String: Any] = ["model": "sales-demo", "prompt": "hi", "max_tokens": 1]
        #expect(try await server.complete(fields).0 == 401)
        #expect(try await server.complete(fields, headers: ["Authorization": "Bearer k2"]).0 == 401)
        let ok = try await server.complete(fields, headers: ["Authorization": "Bearer k1"])
        #expect(ok.0 == 200 && (ok.1?["usage"] as? [String: Any])?["completion_tokens"] as? Int == 1)
        #expect(try await server.send("health").0 == 200)
    }

    @Test("a stream is server-sent events ending in [DONE], adding up to the completion")
    func streamFraming() async throws {
        let server = try Server()
        defer { #expect(server.stop() == 0) }
        let fields: [String: Any] = ["model": "sales-demo", "prompt": Self.prompt, "max_tokens": 40, "temperature": 0]
        let whole = try await server.complete(fields)
        let text = ((whole.1?["choices"] as? [[String: Any]])?.first?["text"] as? String) ?? "none"
        var streamed = fields
        streamed["stream"] = true
        let output = try server.curlStream(streamed)
        #expect(output.hasSuffix("data: [DONE]\n\n"))
        let events = output.components(separatedBy: "\n\n").dropLast()
        #expect(events.allSatisfy { $0.hasPrefix("data: ") && !$0.dropFirst(6).contains("\n") })
        let chunks = events.dropLast().map { try! JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8)) as! [String: Any] }
        let choices = chunks.map { ($0["choices"] as! [[String: Any]])[0] }
        #expect(choices.map { $0["text"] as? String ?? "" }.joined() == text)
        #expect(choices.last?["finish_reason"] as? String == "length")
        #expect(choices.dropLast().allSatisfy { $0["finish_reason"] is NSNull })
        #expect(Set(chunks.map { $0["id"] as? String }).count == 1)
    }

    @Test("a client that leaves a stream cancels its generation and gives its place back")
    func disconnectCancels() async throws {
        let server = try Server(["--parallel", "1", "--max-queue", "0"])
        defer { #expect(server.stop() == 0) }
        let fields: [String: Any] = ["model": "sales-demo", "prompt": Self.prompt, "max_tokens": 5000, "ignore_eos": true, "stream": true]
        _ = try server.curlStream(fields, seconds: 0.3)
        let start = ContinuousClock.now
        while !server.logText.contains(" 499 ") && ContinuousClock.now - start < .seconds(10) { usleep(20_000) }
        let line = try #require(server.logText.split(separator: "\n").first { $0.contains(" 499 ") }, "\(server.logText)")
        let tokens = Int(line.split(separator: " ")[5]) ?? .max
        #expect(tokens < 460, "\(line)")  // the context (512) would end it at 470
        // the only place is free again
        #expect(try await server.complete(["model": "sales-demo", "prompt": "hi", "max_tokens": 1]).0 == 200)
    }

    @Test("a client that leaves before a non-streamed completion is done cancels its generation")
    func disconnectCancelsCompletion() async throws {
        let server = try Server(["--parallel", "8", "--max-queue", "0"])
        defer { #expect(server.stop() == 0) }
        // 8 completions of up to the whole context: seconds of work, cut after 0.3 s
        let fields: [String: Any] = ["model": "sales-demo", "prompt": Self.prompt, "max_tokens": 5000, "ignore_eos": true, "n": 8]
        let body = String(decoding: try JSONSerialization.data(withJSONObject: fields), as: UTF8.self)
        let start = ContinuousClock.now
        _ = try CommandRunner.runSystem("curl", ["-s", "--max-time", "0.3", "-H", "Content-Type: application/json", "-d", body,
                                                 server.base.appendingPathComponent("v1/completions").absoluteString])
        while !server.logText.contains("POST /v1/completions") && ContinuousClock.now - start < .seconds(60) { usleep(20_000) }
        let line = server.logText.split(separator: "\n").first { $0.contains("POST /v1/completions") } ?? ""
        #expect(line.contains(" 499 "), "\(server.logText)")
        // its places are free again
        let (code, _) = try await server.complete(["model": "sales-demo", "prompt": "hi", "max_tokens": 1, "n": 8])
        #expect(code == 200)
    }

    @Test("a mapped model file truncated under a running server: one line and exit 74, no crash report")
    func truncatedModelFile() async throws {
        // a copy of the demo model: the repository's file is never touched
        let directory = try TestPaths.temporaryDirectory()
        for name in ["config.json", "vocab.json", "merges.txt", "model.safetensors"] {
            try FileManager.default.copyItem(at: TestPaths.salesDemo.appendingPathComponent(name), to: directory.file(name))
        }
        // float16 weights kept as float16 stay in the map (float32 ones would be converted into memory)
        let server = try Server(["--model", directory.url.path, "--weights", "mapped", "--precision", "f16"])
        #expect(try await server.complete(["model": directory.url.lastPathComponent, "prompt": "hi", "max_tokens": 2]).0 == 200)
        let file = try FileHandle(forWritingTo: directory.file("model.safetensors"))
        try file.truncate(atOffset: 4096)
        try file.close()
        _ = try? await server.complete(["model": directory.url.lastPathComponent, "prompt": "hello there", "max_tokens": 2])
        let start = ContinuousClock.now
        while server.process.isRunning && ContinuousClock.now - start < .seconds(60) { usleep(20_000) }
        if server.process.isRunning { server.process.terminate() }  // it read no lost page: fail, don't hang
        server.process.waitUntilExit()
        #expect(server.process.terminationStatus == 74)
        let lines = server.logText.split(separator: "\n").filter { !$0.hasPrefix("generate serve:") }
        #expect(lines == ["generate: error: a model file mapped into memory was truncated while in use (SIGBUS); leave model files unchanged while generate runs, or load them with --weights resident"],
                "\(server.logText)")
    }

    @Test("generate pitch --endpoint draws through the server: the same rows as the local engine, the server's model named")
    func pitchThroughServer() throws {
        let server = try Server(["--model-alias", "team-model"])
        defer { #expect(server.stop() == 0) }
        let directory = try TestPaths.temporaryDirectory()
        let customers = TestPaths.salesDemo.appendingPathComponent("examples/customers.csv").path
        let common = ["pitch", "--customers", customers, "--seed", "4", "--variants", "2", "--no-script-filter", "-q"]
        let remote = directory.file("remote.csv"), local = directory.file("local.csv")
        let viaServer = try CommandRunner.run("generate", common + ["--out", remote.path, "--endpoint", server.base.absoluteString + "/v1"])
        #expect(viaServer.status == 0, "\(viaServer.stderr)")
        #expect(try CommandRunner.run("generate", common + ["--out", local.path]).status == 0)
        func rows(_ url: URL) throws -> [[String: String]] {
            try String(contentsOf: url, encoding: .utf8).isEmpty ? [] : PitchTable.rows(of: url)
        }
        let remoteRows = try rows(remote), localRows = try rows(local)
        #expect(remoteRows.count == 16)
        #expect(Set(remoteRows.map { $0["model"] }) == ["sales-demo"])
        let columns = ["id", "variant", "rank", "pitch", "checks", "attempts", "stop_reason", "prompt_tokens", "generated_tokens", "mean_logprob", "seed"]
        func key(_ rows: [[String: String]]) -> [[String?]] { rows.map { row in columns.map { row[$0] } }.sorted { "\($0)" < "\($1)" } }
        #expect(key(remoteRows) == key(localRows))
        #expect(server.logText.split(separator: "\n").count(where: { $0.contains("POST /v1/completions 200") }) >= 16)

        let unreachable = try CommandRunner.run("generate", common + ["--out", directory.file("x.csv").path, "--endpoint", "http://127.0.0.1:1/v1"])
        #expect(unreachable.status == 74 && unreachable.stderr.contains("--endpoint"), "\(unreachable.stderr)")
    }

    @Test("SIGTERM lets the request in flight finish, then exits 0")
    func gracefulShutdown() async throws {
        let server = try Server()
        let fields: [String: Any] = ["model": "sales-demo", "prompt": "Hello", "max_tokens": 300, "ignore_eos": true]
        async let response = server.complete(fields)
        try await Task.sleep(for: .milliseconds(150))
        server.process.terminate()
        let (status, body) = try await response
        #expect(status == 200)
        #expect((body?["usage"] as? [String: Any])?["completion_tokens"] as? Int == 300)
        #expect(server.exitStatus() == 0)
        #expect(server.logText.contains("stopped"))
    }
}
