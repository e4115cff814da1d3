import Foundation
import GPT2Tokenizer

/// The Hugging Face cache, in the layout `huggingface_hub` writes, so that Python and the engine
/// share every download:
///
///     models--OWNER--NAME/refs/REVISION            the commit the revision last resolved to
///     models--OWNER--NAME/snapshots/COMMIT/FILE    a relative symlink to ../../blobs/ETAG
///     models--OWNER--NAME/blobs/ETAG               the content (ETAG.incomplete while it downloads)
///
/// A file's ETag is the SHA-256 of its content for large (LFS) files, a git hash for the others.
public struct HubCache: Sendable {
    public let root: URL

    public init(root: URL) { self.root = root }

    /// `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
    /// `~/.cache/huggingface/hub`: where `huggingface_hub` looks.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        func nonEmpty(_ key: String) -> String? { environment[key].flatMap { $0.isEmpty ? nil : $0 } }
        if let cache = nonEmpty("HF_HUB_CACHE") {
            root = URL(fileURLWithPath: cache)
        } else if let home = nonEmpty("HF_HOME") {
            root = URL(fileURLWithPath: home).appendingPathComponent("hub")
        } else {
            let base = nonEmpty("XDG_CACHE_HOME").map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
            root = base.appendingPathComponent("huggingface/hub")
        }
    }

    /// `HF_HUB_OFFLINE` set to 1, true, yes or on (any case), as `huggingface_hub` reads it.
    public static func offlineByEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        ["1", "true", "yes", "on"].contains(environment["HF_HUB_OFFLINE"]?.lowercased() ?? "")
    }

    /// `models--OWNER--NAME`.
    public func repoFolder(_ repo: String) -> URL {
        root.appendingPathComponent("models--" + repo.replacingOccurrences(of: "/", with: "--"))
    }

    /// `models--OWNER--NAME/snapshots/COMMIT`.
    func snapshotFolder(repo: String, commit: String) -> URL {
        repoFolder(repo).appendingPathComponent("snapshots/\(commit)")
    }

    /// The snapshot folder of `revision` (a commit, or a branch or tag with a ref), when it exists.
    public func snapshot(repo: String, revision: String) -> URL? {
        guard let commit = commit(repo: repo, revision: revision) else { return nil }
        let folder = snapshotFolder(repo: repo, commit: commit)
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) && isDirectory.boolValue ? folder : nil
    }

    /// The commit `revision` names: itself when it is one, else what its ref holds.
    func commit(repo: String, revision: String) -> String? {
        if Self.isCommit(revision) { return revision }
        return Self.readRef(repoFolder(repo).appendingPathComponent("refs/\(revision)"))
    }

    /// The commit a ref file holds, or nil when it holds none.
    static func readRef(_ url: URL) -> String? {
        guard let data = try? readWholeFile(url, limit: 1024),
              let text = String(bytes: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
              isCommit(text) else { return nil }
        return text
    }

    static func isCommit(_ text: String) -> Bool {
        text.utf8.count == 40 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    func blob(repo: String, etag: String) -> URL {
        repoFolder(repo).appendingPathComponent("blobs/\(etag)")
    }

    /// `.locks/models--OWNER--NAME/ETAG.lock`, where `huggingface_hub` locks a blob while it writes it.
    func lockFile(repo: String, etag: String) -> URL {
        root.appendingPathComponent(".locks").appendingPathComponent(repoFolder(repo).lastPathComponent)
            .appendingPathComponent("\(etag).lock")
    }

    /// Points `snapshots/COMMIT/FILE` at the blob, by a relative link as `huggingface_hub` makes it.
    func link(repo: String, commit: String, file: String, etag: String) throws {
        let link = snapshotFolder(repo: repo, commit: commit).appendingPathComponent(file)
        try FileManager.default.createDirectory(at: link.deletingLastPathComponent(), withIntermediateDirectories: true)
        let depth = file.split(separator: "/").count + 1  // FILE's folders, then COMMIT, then snapshots
        let target = String(repeating: "../", count: depth) + "blobs/\(etag)"
        try? FileManager.default.removeItem(at: link)
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: target)
    }

    /// Records that `revision` is at `commit`.
    func setRef(repo: String, revision: String, commit: String) throws {
        guard revision != commit else { return }
        let ref = repoFolder(repo).appendingPathComponent("refs/\(revision)")
        try FileManager.default.createDirectory(at: ref.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(commit.utf8).write(to: ref, options: .atomic)
    }
}

/// What the engine reads from a model directory, and what a directory lacks of it.
enum ModelFiles {
    /// The files to fetch of a repository listing `available`, besides config.json (fetched and
    /// checked first): the small ones, and the weights file, or nil when the shard index (among
    /// the small ones) names them.
    static func needed(available: Set<String>) throws(HubError) -> (small: [String], weights: String?) {
        var small: [String] = []
        if available.contains("generation_config.json") { small.append("generation_config.json") }
        if available.contains("vocab.json") && available.contains("merges.txt") {
            small += ["vocab.json", "merges.txt"]
        } else if available.contains("tokenizer.json") {
            small.append("tokenizer.json")
        } else {
            throw HubError(.notGPT2, "has no tokenizer files (tokenizer.json, or vocab.json and merges.txt)")
        }
        if available.contains("model.safetensors") { return (small, "model.safetensors") }
        if available.contains("model.safetensors.index.json") { return (small + ["model.safetensors.index.json"], nil) }
        throw HubError(.notGPT2, "has no safetensors weights (model.safetensors or model.safetensors.index.json; PyTorch .bin files are not read)")
    }

    /// A `config.json`'s `model_type`, "" when it names none; nil when the file is not a JSON object.
    static func modelType(_ config: URL) -> String? {
        guard let data = try? readWholeFile(config, limit: 4 << 20),
              let json = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any] else { return nil }
        return json["model_type"] as? String ?? ""
    }

    /// What the engine runs: "gpt2", or no `model_type` at all (as GPT2Config reads it).
    static func isGPT2(_ modelType: String) -> Bool { modelType == "gpt2" || modelType.isEmpty }

    /// The shard files a `model.safetensors.index.json` names, each a plain name in the folder.
    static func shards(index: URL) throws(HubError) -> [String] {
        guard let data = try? readWholeFile(index, limit: 16 << 20),
              let json = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any],
              let map = json["weight_map"] as? [String: Any] else {
            throw HubError(.notGPT2, "\(index.lastPathComponent) has no \"weight_map\" object")
        }
        let names = Set(map.values.compactMap { $0 as? String })
        guard !names.isEmpty, names.allSatisfy({ !$0.isEmpty && !$0.contains("/") && $0 != "." && $0 != ".." }) else {
            throw HubError(.notGPT2, "\(index.lastPathComponent) names a shard outside the model folder")
        }
        return names.sorted()
    }

    /// The files the engine would read that `directory` lacks (empty: it is complete).
    static func missing(in directory: URL) throws(HubError) -> [String] {
        func has(_ name: String) -> Bool { FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path) }
        var missing: [String] = []
        if !has("config.json") { missing.append("config.json") }
        if !(has("tokenizer.json") || (has("vocab.json") && has("merges.txt"))) { missing.append("tokenizer files") }
        if !has("model.safetensors") {
            if has("model.safetensors.index.json") {
                missing += try shards(index: directory.appendingPathComponent("model.safetensors.index.json")).filter { !has($0) }
            } else {
                missing.append("model.safetensors")
            }
        }
        return missing
    }
}

/// A snapshot in the cache whose `config.json` describes a GPT-2 model.
public struct CachedModel: Sendable, Equatable {
    /// The repository id, `OWNER/NAME` or `NAME`.
    public var repo: String
    public var commit: String
    /// The branches and tags whose ref points at this commit.
    public var revisions: [String]
    public var directory: URL
    /// The size of the snapshot's files (what their links point to).
    public var bytes: Int64
    /// Files the engine reads that the snapshot lacks (empty when it can run).
    public var missing: [String]
}

extension HubCache {
    /// The GPT-2 snapshots in the cache, by repository and commit: those whose `config.json`
    /// says `model_type` "gpt2" (or names none).
    public func gpt2Models() -> [CachedModel] {
        let fileManager = FileManager.default
        let folders = (try? fileManager.contentsOfDirectory(atPath: root.path)) ?? []
        var models: [CachedModel] = []
        for folder in folders.sorted() where folder.hasPrefix("models--") {
            let repo = folder.dropFirst("models--".count).replacingOccurrences(of: "--", with: "/")
            let repoFolder = root.appendingPathComponent(folder)
            let refs = Self.refs(in: repoFolder.appendingPathComponent("refs"))
            let commits = (try? fileManager.contentsOfDirectory(atPath: repoFolder.appendingPathComponent("snapshots").path)) ?? []
            for commit in commits.sorted() {
                let directory = snapshotFolder(repo: repo, commit: commit)
                guard ModelFiles.modelType(directory.appendingPathComponent("config.json")).map(ModelFiles.isGPT2) == true else { continue }
                models.append(CachedModel(repo: repo, commit: commit,
                                          revisions: refs.filter { $0.value == commit }.map(\.key).sorted(),
                                          directory: directory, bytes: Self.size(of: directory),
                                          missing: (try? ModelFiles.missing(in: directory)) ?? ["a readable shard index"]))
            }
        }
        return models
    }

    /// Every ref under `folder` (branches, tags, `refs/pr/N`) and its commit.
    private static func refs(in folder: URL) -> [String: String] {
        var refs: [String: String] = [:]
        guard let walker = FileManager.default.enumerator(atPath: folder.path) else { return refs }
        while let name = walker.nextObject() as? String {
            if let commit = readRef(folder.appendingPathComponent(name)) { refs[name] = commit }
        }
        return refs
    }

    /// Bytes of the regular files under `directory` (a snapshot, or any model directory),
    /// through links.
    public static func size(of directory: URL) -> Int64 {
        var total: Int64 = 0
        guard let walker = FileManager.default.enumerator(atPath: directory.path) else { return 0 }
        while let name = walker.nextObject() as? String {
            var info = stat()
            if stat(directory.appendingPathComponent(name).path, &info) == 0, info.st_mode & S_IFMT == S_IFREG {
                total += Int64(info.st_size)
            }
        }
        return total
    }
}
