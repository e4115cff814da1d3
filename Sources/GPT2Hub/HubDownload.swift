import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GPT2Tokenizer

/// What a download reports as it goes: for a progress bar on a terminal, or a line in a log.
public enum DownloadEvent: Sendable, Equatable {
    /// The revision is at `commit`; `files` of the repository's files will be used.
    case resolved(repo: String, revision: String, commit: String)
    /// A file starts downloading: `size` bytes in all (when the hub says), `resumedFrom` already
    /// in the cache from an interrupted download.
    case started(file: String, size: Int64?, resumedFrom: Int64)
    /// `bytes` of the file are in the cache so far.
    case progress(file: String, bytes: Int64, size: Int64?)
    /// The file is in place: `fetched` bytes came over the network this time.
    case finished(file: String, fetched: Int64, seconds: Double)
    /// The file was in the cache already (from another revision, or put there by Python).
    case cached(file: String)
}

/// Fetches the files the engine reads from one revision of a repository into the cache, as
/// `huggingface_hub`'s `hf_hub_download` does: the revision's commit from the hub's API, each
/// file's ETag from a HEAD of its `resolve` URL, the content into `blobs/ETAG.incomplete` (resumed
/// with a range request), checked against its SHA-256 when the hub gives one, renamed into place,
/// and linked from the snapshot.
struct HubDownload {
    let cache: HubCache
    let hub: HubEndpoint
    let repo: String
    let revision: String
    let progress: @Sendable (DownloadEvent) -> Void

    private var host: String {
        guard let host = hub.url.host else { return hub.url.absoluteString }
        return hub.url.port.map { "\(host):\($0)" } ?? host
    }
    private var name: String { revision == "main" ? repo : "\(repo)@\(revision)" }

    func run() async throws(HubError) -> URL {
        let (commit, files) = try await revisionInfo()
        progress(.resolved(repo: repo, revision: revision, commit: commit))
        let snapshot = cache.snapshotFolder(repo: repo, commit: commit)
        try writingCache("its ref") { try cache.setRef(repo: repo, revision: revision, commit: commit) }

        // config.json first: a repository of another architecture is refused before anything else
        guard files.contains("config.json") else { throw HubError(.notGPT2, "\(name): has no config.json") }
        try await fetch("config.json", commit: commit)
        try checkIsGPT2(snapshot.appendingPathComponent("config.json"))
        let needed: (small: [String], weights: String?)
        do { needed = try ModelFiles.needed(available: files) } catch { throw HubError(error.kind, "\(name): \(error.message)") }
        for file in needed.small { try await fetch(file, commit: commit) }

        let weights: [String]
        if let single = needed.weights {
            weights = [single]
        } else {
            do { weights = try ModelFiles.shards(index: snapshot.appendingPathComponent("model.safetensors.index.json")) } catch {
                throw HubError(error.kind, "\(name): \(error.message)")
            }
            if let absent = weights.first(where: { !files.contains($0) }) {
                throw HubError(.notGPT2, "\(name): model.safetensors.index.json names \(absent), which the repository does not have")
            }
        }
        for file in weights { try await fetch(file, commit: commit) }
        return snapshot
    }

    // MARK: The hub's API

    /// `GET /api/models/REPO/revision/REVISION`: the commit and the repository's file names.
    private func revisionInfo() async throws(HubError) -> (commit: String, files: Set<String>) {
        // the revision is one path segment: "refs/pr/1" goes as refs%2Fpr%2F1
        var segment = CharacterSet.urlPathAllowed
        segment.remove("/")
        let encoded = revision.addingPercentEncoding(withAllowedCharacters: segment) ?? revision
        guard let url = URL(string: hub.url.absoluteString + "/api/models/\(repo)/revision/\(encoded)") else {
            throw HubError(.invalidSource, "\(name): not a repository and revision that make a URL")
        }
        var body = Data()
        let response = try await send(hub.request(url), what: name) { _, data in
            body.append(data)
            guard body.count <= 16 << 20 else { throw HubError(.badResponse, "\(host): the listing of \(name) is over 16 MB") }
        }
        try check(response, what: name)
        guard let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              let commit = json["sha"] as? String, HubCache.isCommit(commit),
              let siblings = json["siblings"] as? [[String: Any]] else {
            throw HubError(.badResponse, "\(host): the reply about \(name) has no commit (\"sha\") and file list (\"siblings\")")
        }
        return (commit, Set(siblings.compactMap { $0["rfilename"] as? String }))
    }

    /// Where and what a file is: a HEAD of its `resolve` URL, not following a redirect to storage.
    private func metadata(_ file: String, commit: String) async throws(HubError) -> (etag: String, sha256: String?, size: Int64?, location: URL) {
        let url = hub.url.appendingPathComponent("\(repo)/resolve/\(commit)/\(file)")
        let response = try await send(hub.request(url, method: "HEAD"), what: "\(name): \(file)")
        if !(300..<400).contains(response.statusCode) { try check(response, what: "\(name): \(file)") }
        func header(_ key: String) -> String? { response.value(forHTTPHeaderField: key) }
        let linked = header("X-Linked-Etag").map(Self.normalizeETag)
        guard let etag = linked ?? header("ETag").map(Self.normalizeETag), !etag.isEmpty,
              !etag.contains("/"), etag != ".", etag != ".." else {
            throw HubError(.badResponse, "\(host): no ETag for \(file) of \(name)")
        }
        let size = (header("X-Linked-Size") ?? header("Content-Length")).flatMap { Int64($0) }
        var location = url
        if (300..<400).contains(response.statusCode) {
            guard let target = header("Location").flatMap({ URL(string: $0, relativeTo: url)?.absoluteURL }) else {
                throw HubError(.badResponse, "\(host): a redirect without a Location for \(file) of \(name)")
            }
            location = target
        }
        // a large (LFS) file's ETag is the SHA-256 of its content
        let sha256 = linked.flatMap { $0.count == 64 && $0.allSatisfy(\.isHexDigit) ? $0.lowercased() : nil }
        return (etag, sha256, size, location)
    }

    static func normalizeETag(_ raw: String) -> String {
        var etag = raw.trimmingCharacters(in: .whitespaces)
        if etag.hasPrefix("W/") { etag.removeFirst(2) }
        return etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }

    // MARK: One file

    private func fetch(_ file: String, commit: String) async throws(HubError) {
        let linked = cache.snapshotFolder(repo: repo, commit: commit).appendingPathComponent(file)
        if FileManager.default.fileExists(atPath: linked.path) {
            progress(.cached(file: file))
            return
        }
        let meta = try await metadata(file, commit: commit)
        let blob = cache.blob(repo: repo, etag: meta.etag)
        // the lock huggingface_hub takes for the same blob: one writer at a time, Python or us
        let lock = try await BlobLock.acquire(cache.lockFile(repo: repo, etag: meta.etag), file: file)
        defer { lock.release() }
        if !FileManager.default.fileExists(atPath: blob.path) {
            try await download(file, meta: meta, to: blob)
        } else {
            progress(.cached(file: file))
        }
        try writingCache(file) { try cache.link(repo: repo, commit: commit, file: file, etag: meta.etag) }
    }

    private func download(_ file: String, meta: (etag: String, sha256: String?, size: Int64?, location: URL), to blob: URL) async throws(HubError) {
        let partial = blob.appendingPathExtension("incomplete")
        try writingCache(file) { try FileManager.default.createDirectory(at: blob.deletingLastPathComponent(), withIntermediateDirectories: true) }
        let sink = try DownloadSink(file: file, partial: partial, expectedSize: meta.size, checksum: meta.sha256 != nil)
        progress(.started(file: file, size: meta.size, resumedFrom: sink.written))
        let start = Date()
        var request = hub.request(meta.location)
        if sink.written > 0 { request.setValue("bytes=\(sink.written)-", forHTTPHeaderField: "Range") }
        let progress = self.progress
        let response: HTTPURLResponse
        do {
            response = try await send(request, what: "\(name): \(file)", followRedirects: true) { response, data in
                try sink.append(data, response: response)
                progress(.progress(file: file, bytes: sink.written, size: meta.size))
            }
        } catch {
            sink.close(keeping: error.kind != .cacheWrite)
            if error.kind == .network {
                throw HubError(.network, "\(error.message); \(sink.written) of \(meta.size.map(String.init) ?? "?") bytes of \(file) are kept, and the next run resumes from there")
            }
            throw error
        }
        if response.statusCode == 416, sink.written == meta.size {
            // the whole file was there already: a range past its end
        } else if !(200..<300).contains(response.statusCode) {
            sink.close(keeping: false)
            try check(response, what: "\(name): \(file)")
        }
        sink.close(keeping: true)
        if let size = meta.size, sink.written != size {
            throw HubError(.network, "\(name): the download of \(file) ended after \(sink.written) of \(size) bytes; the next run resumes from there")
        }
        if let expected = meta.sha256 {
            let actual = try sink.digest()
            guard actual == expected else {
                try? FileManager.default.removeItem(at: partial)
                throw HubError(.checksumMismatch, "\(name): \(file) arrived with SHA-256 \(actual), but the hub gives \(expected); the download was deleted, run again")
            }
        }
        try writingCache(file) { try FileManager.default.moveItem(at: partial, to: blob) }
        self.progress(.finished(file: file, fetched: sink.fetched, seconds: Date().timeIntervalSince(start)))
    }

    /// A repository whose config.json names another architecture is refused before its weights.
    private func checkIsGPT2(_ config: URL) throws(HubError) {
        guard let type = ModelFiles.modelType(config) else { throw HubError(.notGPT2, "\(name): config.json is not a JSON object") }
        guard ModelFiles.isGPT2(type) else {
            throw HubError(.notGPT2, "\(name) is not a GPT-2 model: its config.json says model_type \"\(type)\"")
        }
    }

    // MARK: Errors

    private func send(_ request: URLRequest, what: String, followRedirects: Bool = false,
                      receive: @escaping (HTTPURLResponse, Data) throws -> Void = { _, _ in }) async throws(HubError) -> HTTPURLResponse {
        do {
            return try await HTTPTransfer.send(request, idleTimeout: hub.idleTimeout, followRedirects: followRedirects) { response, data in
                // a body is only kept from a success: an error page is not a file
                guard (200..<300).contains(response.statusCode) else { return }
                try receive(response, data)
            }
        } catch let error as HubError {
            throw error
        } catch {
            let reason = (error as? URLError).map { Self.describe($0) } ?? "\(error)"
            throw HubError(.network, "\(what): cannot download from \(host): \(reason) (to use only the cache: --offline or HF_HUB_OFFLINE=1)")
        }
    }

    static func describe(_ error: URLError) -> String {
        switch error.code {
        case .timedOut: return "no data for too long (timed out)"
        case .cannotConnectToHost: return "connection refused"
        case .cannotFindHost, .dnsLookupFailed: return "host not found (no network?)"
        case .networkConnectionLost: return "the connection was lost"
        case .notConnectedToInternet: return "not connected to the internet"
        default: return error.localizedDescription
        }
    }

    private func check(_ response: HTTPURLResponse, what: String) throws(HubError) {
        let status = response.statusCode
        guard !(200..<300).contains(status) else { return }
        let code = response.value(forHTTPHeaderField: "X-Error-Code") ?? ""
        let tokenHint = hub.token == nil ? "set HF_TOKEN to a token with access" : "the HF_TOKEN sent may lack access to it"
        switch status {
        case 401, 403:
            if code == "RepoNotFound" {
                throw HubError(.notFound, "\(what): no such repository on \(host), or it is private or gated (\(tokenHint))")
            }
            throw HubError(.unauthorized, "\(what): \(host) refused access (\(status)): the repository is gated or private; \(tokenHint)")
        case 404:
            let thing = code == "RevisionNotFound" ? "no revision \"\(revision)\" in \(repo)"
                : code == "EntryNotFound" ? "no such file in the repository" : "no such repository"
            throw HubError(.notFound, "\(what): \(thing) on \(host) (404)")
        default:
            throw HubError(.badResponse, "\(what): \(host) answered \(status) \(HTTPURLResponse.localizedString(forStatusCode: status))")
        }
    }

    private func writingCache(_ what: String, _ body: () throws -> Void) throws(HubError) {
        do { try body() } catch {
            throw HubError(.cacheWrite, "\(name): cannot write \(what) into the cache at \(cache.repoFolder(repo).path): \(error.localizedDescription)")
        }
    }
}
