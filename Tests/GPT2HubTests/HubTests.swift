import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization
import Testing
import TestSupport
@testable import GPT2Hub

@Suite struct ModelSourceTests {
    @Test("an existing directory is a directory; repository ids take an optional @revision")
    func parsing() throws {
        #expect(try ModelSource(TestPaths.salesDemo.path) == .directory(TestPaths.salesDemo))
        #expect(try ModelSource("openai-community/gpt2") == .hub(repo: "openai-community/gpt2", revision: "main"))
        #expect(try ModelSource("distilgpt2") == .hub(repo: "distilgpt2", revision: "main"))
        #expect(try ModelSource("acme/gpt2-pitches@v1.2") == .hub(repo: "acme/gpt2-pitches", revision: "v1.2"))
        #expect(try ModelSource("gpt2@607a30d783dfa663caf39e06633721c8d4cfcd7e")
            == .hub(repo: "gpt2", revision: "607a30d783dfa663caf39e06633721c8d4cfcd7e"))
    }

    @Test("not a directory and not a repository id: one line naming the argument", arguments: [
        ("/nonexistent/model", "/nonexistent/model: no such model directory"),
        ("./gpt2", "./gpt2: no such model directory"),
        ("a/b/c", "a/b/c: no such model directory"),
        ("acme--x/gpt2", "acme--x/gpt2: no such model directory"),
        ("-gpt2", "-gpt2: no such model directory"),
        ("gpt 2", "gpt 2: no such model directory"),
        ("gpt2@", "gpt2@: the revision after '@' must be a branch, a tag or a commit"),
        ("", "an empty model name; give a model directory or a repository id"),
    ])
    func invalid(argument: String, message: String) {
        #expect(throws: HubError(.invalidSource, message)) { try ModelSource(argument) }
    }

    @Test("a regular file is not a model directory")
    func fileIsNotADirectory() throws {
        let path = TestPaths.salesDemo.appendingPathComponent("config.json").path
        #expect(throws: HubError(.invalidSource, "\(path): a file, not a model directory")) { try ModelSource(path) }
    }
}

@Suite struct HubCacheTests {
    @Test("the cache is where huggingface_hub looks: HF_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME, home")
    func location() {
        let home = FileManager.default.homeDirectoryForCurrentUser.path
        #expect(HubCache(environment: ["HF_HUB_CACHE": "/c", "HF_HOME": "/h", "XDG_CACHE_HOME": "/x"]).root.path == "/c")
        #expect(HubCache(environment: ["HF_HOME": "/h", "XDG_CACHE_HOME": "/x"]).root.path == "/h/hub")
        #expect(HubCache(environment: ["XDG_CACHE_HOME": "/x"]).root.path == "/x/huggingface/hub")
        #expect(HubCache(environment: [:]).root.path == "\(home)/.cache/huggingface/hub")
        #expect(HubCache(environment: ["HF_HUB_CACHE": ""]).root.path == "\(home)/.cache/huggingface/hub")
    }

    @Test("HF_HUB_OFFLINE as huggingface_hub reads it")
    func offline() {
        for value in ["1", "true", "TRUE", "yes", "on"] { #expect(HubCache.offlineByEnvironment(["HF_HUB_OFFLINE": value]), "\(value)") }
        for value in ["0", "", "false", "no"] { #expect(!HubCache.offlineByEnvironment(["HF_HUB_OFFLINE": value]), "\(value)") }
        #expect(!HubCache.offlineByEnvironment([:]))
    }
}

/// Downloads from `MockHub` into an empty cache, as `huggingface_hub` lays it out; the interplay
/// with the real `huggingface_hub` is tested in scripts/tests/test_hub.py.
@Suite(.serialized) struct HubDownloadTests {
    static let repo = "openai-community/gpt2"
    static let demoFiles = ["config.json", "generation_config.json", "vocab.json", "merges.txt", "model.safetensors"]
    static let weightsSize = Self.size(TestPaths.salesDemo.appendingPathComponent("model.safetensors"))

    static func size(_ url: URL) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.intValue ?? -1
    }

    /// The same bytes, read through links.
    static func sameContent(_ a: URL, _ b: URL) -> Bool {
        (try? Data(contentsOf: a)).map { $0 == (try? Data(contentsOf: b)) } ?? false
    }

    /// The demo model's files as a repository, with a README the engine does not need.
    static func repository(_ directory: TemporaryDirectory, name: String = "repo", config: String? = nil) throws -> URL {
        let folder = directory.file(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for file in demoFiles {
            try FileManager.default.copyItem(at: TestPaths.salesDemo.appendingPathComponent(file), to: folder.appendingPathComponent(file))
        }
        if let config { try Data(config.utf8).write(to: folder.appendingPathComponent("config.json")) }
        try Data("# not needed\n".utf8).write(to: folder.appendingPathComponent("README.md"))
        return folder
    }

    @Test("a download into an empty cache: only the engine's files, blobs by ETag, relative links, the ref; then offline")
    func downloadThenOffline() async throws {
        let directory = try TestPaths.temporaryDirectory()
        let hub = try MockHub(repos: [Self.repo: try Self.repository(directory)])
        let cache = HubCache(root: directory.file("cache"))
        let events = EventLog()
        let snapshot = try await ModelSource(Self.repo).resolve(cache: cache, offline: false, hub: HubEndpoint(url: hub.url), progress: events.record)

        let repoFolder = cache.repoFolder(Self.repo)
        #expect(repoFolder.lastPathComponent == "models--openai-community--gpt2")
        let commit = try String(contentsOf: repoFolder.appendingPathComponent("refs/main"), encoding: .utf8)
        #expect(snapshot.path == repoFolder.appendingPathComponent("snapshots/\(commit)").path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: snapshot.path).sorted() == Self.demoFiles.sorted())
        for file in Self.demoFiles {
            let link = try FileManager.default.destinationOfSymbolicLink(atPath: snapshot.appendingPathComponent(file).path)
            #expect(link.hasPrefix("../../blobs/"), "\(file) → \(link)")
            #expect(Self.sameContent(snapshot.appendingPathComponent(file), TestPaths.salesDemo.appendingPathComponent(file)), "\(file)")
        }
        // a large file's blob is named by its SHA-256, as sha256sum computes it
        let sum = try CommandRunner.runSystem("sha256sum", [TestPaths.salesDemo.appendingPathComponent("model.safetensors").path])
        let weightsLink = try FileManager.default.destinationOfSymbolicLink(atPath: snapshot.appendingPathComponent("model.safetensors").path)
        #expect(weightsLink == "../../blobs/" + sum.stdout.prefix(64))
        #expect(try FileManager.default.contentsOfDirectory(atPath: repoFolder.appendingPathComponent("blobs").path).allSatisfy { !$0.hasSuffix(".incomplete") })
        #expect(events.events.contains(.finished(file: "model.safetensors", fetched: Int64(Self.weightsSize), seconds: 0)))

        // offline, and with the hub gone: the cache alone
        let requestsBefore = try await hub.stats().requests.count
        #expect(try await ModelSource(Self.repo).resolve(cache: cache, offline: true, hub: HubEndpoint(url: hub.url)).path == snapshot.path)
        #expect(try await ModelSource("\(Self.repo)@\(commit)").resolve(cache: cache, offline: true, hub: HubEndpoint(url: hub.url)).path == snapshot.path)
        #expect(try await hub.stats().requests.count == requestsBefore)
        // online, a complete snapshot is used without asking the hub
        #expect(try await ModelSource(Self.repo).resolve(cache: cache, offline: false, hub: HubEndpoint(url: hub.url)).path == snapshot.path)
        #expect(try await hub.stats().requests.count == requestsBefore)
    }

    @Test("offline and not in the cache: an error naming the cache folder and how to download")
    func offlineMiss() async throws {
        let directory = try TestPaths.temporaryDirectory()
        let cache = HubCache(root: directory.file("cache"))
        let expected = "openai-community/gpt2 is not in the Hugging Face cache at \(cache.root.path)/models--openai-community--gpt2, and downloads are off (HF_HUB_OFFLINE or --offline); run once online, or: hf download openai-community/gpt2"
        await #expect(throws: HubError(.notInCache, expected)) {
            _ = try await ModelSource(Self.repo).resolve(cache: cache, offline: true, hub: HubEndpoint(url: URL(string: "http://127.0.0.1:9")!))
        }
    }

    @Test("a dropped connection keeps the partial file; the next run resumes with a range request and fetches only the rest")
    func resume() async throws {
        let directory = try TestPaths.temporaryDirectory()
        let hub = try MockHub(repos: [Self.repo: try Self.repository(directory)])
        let cache = HubCache(root: directory.file("cache"))
        let dropAfter = 5_000_000
        try await hub.faults(#"{"drop_after": \#(dropAfter)}"#)
        let error = await #expect(throws: HubError.self) {
            _ = try await ModelSource(Self.repo).resolve(cache: cache, offline: false, hub: HubEndpoint(url: hub.url))
        }
        #expect(error?.kind == .network, "\(String(describing: error))")
        #expect(error?.message.contains("the next run resumes") == true, "\(String(describing: error))")
        let blobs = cache.repoFolder(Self.repo).appendingPathComponent("blobs")
        let partial = try #require(try FileManager.default.contentsOfDirectory(atPath: blobs.path).first { $0.hasSuffix(".incomplete") })
        let kept = Self.size(blobs.appendingPathComponent(partial))
        #expect(kept == dropAfter)

        let events = EventLog()
        let snapshot = try await ModelSource(Self.repo).resolve(cache: cache, offline: false, hub: HubEndpoint(url: hub.url), progress: events.record)
        #expect(Self.sameContent(snapshot.appendingPathComponent("model.safetensors"), TestPaths.salesDemo.appendingPathComponent("model.safetensors")))
        #expect(events.events.contains(.started(file: "model.safetensors", size: Int64(Self.weightsSize), resumedFrom: Int64(dropAfter))))
        let stats = try await hub.stats()
        #expect(stats.lfsBytes == Self.weightsSize, "every byte sent once: \(dropAfter) before the drop, the rest after")
        #expect(stats.requests.contains { $0[0] == "GET" && $0[2] == "bytes=\(dropAfter)-" })
    }

    @Test("a download that fails its SHA-256 is deleted and said so")
    func checksumMismatch() async throws {
        let directory = try TestPaths.temporaryDirectory()
        let hub = try MockHub(repos: [Self.repo: try Self.repository(directory)])
        let cache = HubCache(root: directory.file("cache"))
        try await hub.faults(#"{"corrupt": true}"#)
        let error = await #expect(throws: HubError.self) {
            _ = try await ModelSource(Self.repo).resolve(cache: cache, offline: false, hub: HubEndpoint(url: hub.url))
        }
        #expect(error?.kind == .checksumMismatch)
        #expect(error?.message.hasPrefix("openai-community/gpt2: model.safetensors arrived with SHA-256 ") == true, "\(String(describing: error))")
        #expect(error?.message.hasSuffix("the download was deleted, run again") == true)
        let blobs = try FileManager.default.contentsOfDirectory(atPath: cache.repoFolder(Self.repo).appendingPathComponent("blobs").path)
        #expect(blobs.count == 4, "the four small files only: \(blobs)")
        try await hub.faults("{}")
        _ = try await ModelSource(Self.repo).resolve(cache: cache, offline: false, hub: HubEndpoint(url: hub.url))
    }

    @Test("the hub's errors, each one line", arguments: [
        ("nobody/nothing", "{}", HubError.Kind.notFound, "nobody/nothing: no such repository on HOST (404)"),
        ("openai-community/gpt2@v9", "{}", .notFound, "openai-community/gpt2@v9: no revision \"v9\" in openai-community/gpt2 on HOST (404)"),
        ("openai-community/gpt2", #"{"token": "secret"}"#, .unauthorized, "openai-community/gpt2: HOST refused access (401): the repository is gated or private; set HF_TOKEN to a token with access"),
        ("openai-community/gpt2", #"{"status": 500}"#, .badResponse, "openai-community/gpt2: HOST answered 500 Internal Server Error"),
        ("acme/llama", "{}", .notGPT2, "acme/llama is not a GPT-2 model: its config.json says model_type \"llama\""),
    ])
    func errors(name: String, faults: String, kind: HubError.Kind, message: String) async throws {
        let directory = try TestPaths.temporaryDirectory()
        let hub = try MockHub(repos: [Self.repo: try Self.repository(directory),
                                      "acme/llama": try Self.repository(directory, name: "llama", config: #"{"model_type": "llama"}"#)])
        let cache = HubCache(root: directory.file("cache"))
        try await hub.faults(faults)
        let host = "127.0.0.1:\(hub.url.port!)"
        await #expect(throws: HubError(kind, message.replacingOccurrences(of: "HOST", with: host))) {
            _ = try await ModelSource(name).resolve(cache: cache, offline: false, hub: HubEndpoint(url: hub.url))
        }
        // nothing of the refused repository's weights was fetched
        #expect(try await hub.stats().lfsBytes == 0)
    }

    @Test("a slow trickle still arrives whole, with progress along the way")
    func trickle() async throws {
        let directory = try TestPaths.temporaryDirectory()
        let hub = try MockHub(repos: [Self.repo: try Self.repository(directory)])
        try await hub.faults(#"{"trickle": 10000000}"#)  // 10 MB/s in 1 MB pieces, 0.1 s apart
        let events = EventLog()
        let snapshot = try await ModelSource(Self.repo).resolve(cache: HubCache(root: directory.file("cache")), offline: false,
                                                                hub: HubEndpoint(url: hub.url), progress: events.record)
        #expect(Self.sameContent(snapshot.appendingPathComponent("model.safetensors"), TestPaths.salesDemo.appendingPathComponent("model.safetensors")))
        let steps = events.events.compactMap { if case .progress("model.safetensors", let bytes, _) = $0 { bytes } else { nil } }
        #expect(steps.count >= 20 && steps == steps.sorted() && steps.last == Int64(Self.weightsSize), "\(steps.count) progress events")
    }

    @Test("while another process holds huggingface_hub's lock on a blob, the download waits for it")
    func waitsForTheBlobLock() async throws {
        let directory = try TestPaths.temporaryDirectory()
        let hub = try MockHub(repos: [Self.repo: try Self.repository(directory)])
        let cache = HubCache(root: directory.file("cache"))
        let etag = String(try CommandRunner.runSystem("sha256sum", [TestPaths.salesDemo.appendingPathComponent("model.safetensors").path]).stdout.prefix(64))
        let lockFile = cache.root.appendingPathComponent(".locks/models--openai-community--gpt2/\(etag).lock")
        try FileManager.default.createDirectory(at: lockFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        let held = open(lockFile.path, O_RDWR | O_CREAT, 0o644)  // another open file: flock conflicts as across processes
        #expect(flock(held, LOCK_EX) == 0)
        let endpoint = HubEndpoint(url: hub.url)
        let download = Task { try await ModelSource(Self.repo).resolve(cache: cache, offline: false, hub: endpoint) }
        try await Task.sleep(for: .seconds(1))
        #expect(try await hub.stats().lfsBytes == 0, "waiting, nothing of the weights fetched")
        close(held)
        let snapshot = try await download.value
        #expect(Self.sameContent(snapshot.appendingPathComponent("model.safetensors"), TestPaths.salesDemo.appendingPathComponent("model.safetensors")))
    }

    @Test("a gated repository downloads with its token")
    func token() async throws {
        let directory = try TestPaths.temporaryDirectory()
        let hub = try MockHub(repos: [Self.repo: try Self.repository(directory)])
        try await hub.faults(#"{"token": "secret"}"#)
        let snapshot = try await ModelSource(Self.repo).resolve(cache: HubCache(root: directory.file("cache")), offline: false,
                                                                hub: HubEndpoint(url: hub.url, token: "secret"))
        #expect(FileManager.default.fileExists(atPath: snapshot.appendingPathComponent("model.safetensors").path))
    }

    @Test("no hub listening: a network error that says how to stay offline")
    func unreachable() async throws {
        let directory = try TestPaths.temporaryDirectory()
        let error = await #expect(throws: HubError.self) {
            _ = try await ModelSource(Self.repo).resolve(cache: HubCache(root: directory.file("cache")), offline: false,
                                                         hub: HubEndpoint(url: URL(string: "http://127.0.0.1:9")!))
        }
        #expect(error?.kind == .network)
        #expect(error?.message == "openai-community/gpt2: cannot download from 127.0.0.1:9: connection refused (to use only the cache: --offline or HF_HUB_OFFLINE=1)")
    }

    @Test("the cache lists GPT-2 snapshots with their revisions, sizes and what they lack")
    func listing() async throws {
        let directory = try TestPaths.temporaryDirectory()
        let hub = try MockHub(repos: [Self.repo: try Self.repository(directory)])
        let cache = HubCache(root: directory.file("cache"))
        let snapshot = try await ModelSource(Self.repo).resolve(cache: cache, offline: false, hub: HubEndpoint(url: hub.url))
        var models = cache.gpt2Models()
        try #require(models.count == 1)
        #expect(models[0].repo == Self.repo)
        #expect(models[0].revisions == ["main"])
        #expect(models[0].directory.path == snapshot.path)
        #expect(models[0].missing.isEmpty)
        #expect(models[0].bytes > Int64(Self.weightsSize))
        try FileManager.default.removeItem(at: snapshot.appendingPathComponent("model.safetensors"))
        models = cache.gpt2Models()
        #expect(models.first?.missing == ["model.safetensors"])
    }
}

/// Collects download events (from the transfer's queue).
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [DownloadEvent] = []

    var events: [DownloadEvent] {
        lock.withLock {
            // seconds vary: compare finished events without them
            stored.map { if case .finished(let f, let b, _) = $0 { .finished(file: f, fetched: b, seconds: 0) } else { $0 } }
        }
    }

    var record: @Sendable (DownloadEvent) -> Void {
        { event in self.lock.withLock { self.stored.append(event) } }
    }
}

/// `HTTPTransfer` when its task is cancelled before the request starts: URLSession need not report
/// the end of a task cancelled before it was resumed, and the request must still end.
@Suite struct HTTPTransferCancellationTests {
    @Test("requests from tasks cancelled before they start end with an error, 200 at once")
    func cancelledBeforeStart() async throws {
        // at once: one at a time, the session's report of the cancellation came after the start
        // and the old race did not show; 200 together, none ended (0.13 s for all since the fix)
        final class Ended: Sendable { let count = Atomic<Int>(0) }
        let ended = Ended()
        for _ in 0..<200 {
            Task {
                withUnsafeCurrentTask { $0?.cancel() }
                let request = URLRequest(url: URL(string: "http://127.0.0.1:9/never")!)
                await #expect(throws: (any Error).self) { _ = try await HTTPTransfer.send(request, idleTimeout: 5) }
                ended.count.add(1, ordering: .relaxed)
            }
        }
        // a long limit: other suites can hold the concurrency pool's few threads for minutes
        try await waitUntil("200 cancelled requests to end", limit: .seconds(300)) { ended.count.load(ordering: .relaxed) == 200 }
    }
}
