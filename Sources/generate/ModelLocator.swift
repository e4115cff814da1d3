import Foundation
import GPT2Hub

/// Finds the model directory: --model (a directory, or a repository id that GPT2Hub resolves in
/// the Hugging Face cache or downloads), else $GPT2_MODEL_DIR, else the bundled demo model, looked
/// for beside the executable (`.build/<config>/generate` inside the package) and at the package
/// path this executable was built from, so the default works from any working directory.
enum ModelLocator {
    static let bundledModel = "Models/sales-demo"

    /// A model's directory, and the name it goes by (a repository id, or the directory's name).
    struct Located {
        var directory: URL
        var name: String
    }

    /// `--model`: a directory, or a Hugging Face repository id looked up in the cache and, unless
    /// `offline`, downloaded into it; else `$GPT2_MODEL_DIR`, else the bundled demo model.
    static func locate(option: String?, offline: Bool) async throws -> Located {
        if let option {
            // URL(fileURLWithPath: "") is the current directory: an empty --model is a mistake
            guard !option.isEmpty else { throw CLIError.usage("--model: an empty path; give a model directory") }
            let source: ModelSource
            do { source = try ModelSource(option) } catch { throw CLIError.noInput("--model \(error.message)") }
            switch source {
            case .directory(let url):
                return Located(directory: url, name: url.lastPathComponent)
            case .hub(let repo, _):
                let progress = DownloadProgress(repo: source.description)
                do {
                    let directory = try await source.resolve(offline: offline || HubCache.offlineByEnvironment(),
                                                             progress: { progress.show($0) })
                    return Located(directory: directory, name: repo)
                } catch {
                    progress.interrupted()
                    throw CLIError.hub(error)
                }
            }
        }
        if let fromEnvironment = ProcessInfo.processInfo.environment["GPT2_MODEL_DIR"], !fromEnvironment.isEmpty {
            let url = try existing(URL(fileURLWithPath: fromEnvironment), from: "GPT2_MODEL_DIR")
            return Located(directory: url, name: url.lastPathComponent)
        }
        if let bundled = bundledDirectory() { return Located(directory: bundled, name: bundled.lastPathComponent) }
        throw CLIError.noInput("no --model given and the bundled \(bundledModel) was not found; pass --model DIR or set GPT2_MODEL_DIR")
    }

    /// The bundled demo model, found beside the executable or in the package it was built from.
    static func bundledDirectory() -> URL? {
        candidateRoots().map { $0.appendingPathComponent(bundledModel) }
            .first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("config.json").path) }
    }

    private static func existing(_ url: URL, from source: String) throws -> URL {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIError.noInput("\(source) \(url.path): no such model directory")
        }
        return url
    }

    /// The executable's directory and its ancestors, then the package this file was compiled in.
    private static func candidateRoots() -> [URL] {
        var roots: [URL] = []
        let executable = (Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])).resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        while directory.path != "/" {
            roots.append(directory)
            directory = directory.deletingLastPathComponent()
        }
        roots.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent()  // Sources/generate
            .deletingLastPathComponent().deletingLastPathComponent())
        return roots
    }
}
