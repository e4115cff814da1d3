import Foundation

/// Where a model comes from: a local directory, or a repository on the Hugging Face Hub at a
/// revision (a branch, a tag or a commit).
///
/// ```swift
/// let source = try ModelSource("openai-community/gpt2")        // or "./gpt2", "distilgpt2@main"
/// let directory = try await source.resolve()                     // cache first, then a download
/// let model = try GPT2Model(directory: directory)
/// ```
public enum ModelSource: Sendable, Equatable, CustomStringConvertible {
    /// A model directory on this machine.
    case directory(URL)
    /// A repository (`NAME` or `OWNER/NAME`) at a branch, a tag or a commit.
    case hub(repo: String, revision: String)

    /// Reads a `--model` argument: an existing directory; else a repository id, `NAME` or
    /// `OWNER/NAME`, with an optional `@REVISION` (default `main`).
    public init(_ argument: String) throws(HubError) {
        guard !argument.isEmpty else { throw HubError(.invalidSource, "an empty model name; give a model directory or a repository id") }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw HubError(.invalidSource, "\(argument): a file, not a model directory") }
            self = .directory(URL(fileURLWithPath: argument))
            return
        }
        let parts = argument.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        let repo = String(parts[0])
        let revision = parts.count > 1 ? String(parts[1]) : "main"
        let looksLikePath = argument.hasPrefix("/") || argument.hasPrefix(".") || argument.hasPrefix("~") || argument.hasSuffix("/")
        guard !looksLikePath, Self.isValidRepoID(repo) else {
            throw HubError(.invalidSource, "\(argument): no such model directory")
        }
        guard !revision.isEmpty, !revision.contains(where: { $0.isWhitespace || $0.isNewline }), !revision.contains("..") else {
            throw HubError(.invalidSource, "\(argument): the revision after '@' must be a branch, a tag or a commit")
        }
        self = .hub(repo: repo, revision: revision)
    }

    /// The directory's path, or `REPO` (`REPO@REVISION` for another revision than `main`).
    public var description: String {
        switch self {
        case .directory(let url): return url.path
        case .hub(let repo, let revision): return revision == "main" ? repo : "\(repo)@\(revision)"
        }
    }

    /// Hugging Face's rule: `NAME` or `OWNER/NAME` of letters, digits, `-`, `_` and `.`, neither
    /// starting nor ending with `-` or `.`, without `--` or `..`, at most 96 characters.
    static func isValidRepoID(_ id: String) -> Bool {
        let parts = id.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), id.count <= 96, !id.contains("--"), !id.contains("..") else { return false }
        return parts.allSatisfy { part in
            guard let first = part.first, let last = part.last,
                  !"-.".contains(first), !"-.".contains(last) else { return false }
            return part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
        }
    }

    /// The model's directory: as given, or for a repository the cache's snapshot of the revision
    /// when it holds every file the engine reads, else (unless `offline`) a download of just
    /// those files into the cache. `offline` defaults to `HF_HUB_OFFLINE`.
    public func resolve(cache: HubCache = HubCache(), offline: Bool = HubCache.offlineByEnvironment(),
                        hub: HubEndpoint = HubEndpoint(),
                        progress: @escaping @Sendable (DownloadEvent) -> Void = { _ in }) async throws(HubError) -> URL {
        switch self {
        case .directory(let url):
            return url
        case .hub(let repo, let revision):
            let snapshot = cache.snapshot(repo: repo, revision: revision)
            let missing = snapshot.flatMap { try? ModelFiles.missing(in: $0) }
            if let snapshot, missing == [] { return snapshot }
            guard !offline else {
                let missing = missing ?? []
                let what = missing.isEmpty ? "is not in the Hugging Face cache" : "is incomplete in the Hugging Face cache (no \(missing.joined(separator: ", ")))"
                throw HubError(.notInCache, "\(self) \(what) at \(cache.repoFolder(repo).path), and downloads are off (HF_HUB_OFFLINE or --offline); run once online, or: hf download \(repo)\(revision == "main" ? "" : " --revision \(revision)")")
            }
            return try await HubDownload(cache: cache, hub: hub, repo: repo, revision: revision, progress: progress).run()
        }
    }
}
