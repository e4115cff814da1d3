import Foundation

/// Finds the model directory: --model, else $GPT2_MODEL_DIR, else the bundled demo model, looked
/// for beside the executable (`.build/<config>/generate` inside the package) and at the package
/// path this executable was built from, so the default works from any working directory.
enum ModelLocator {
    static let bundledModel = "Models/sales-demo"

    static func directory(option: String?) throws -> URL {
        if let option {
            // URL(fileURLWithPath: "") is the current directory: an empty --model is a mistake
            guard !option.isEmpty else { throw CLIError.usage("--model: an empty path; give a model directory") }
            return try existing(URL(fileURLWithPath: option), from: "--model")
        }
        if let fromEnvironment = ProcessInfo.processInfo.environment["GPT2_MODEL_DIR"], !fromEnvironment.isEmpty {
            return try existing(URL(fileURLWithPath: fromEnvironment), from: "GPT2_MODEL_DIR")
        }
        for root in candidateRoots() {
            let candidate = root.appendingPathComponent(bundledModel)
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("config.json").path) {
                return candidate
            }
        }
        throw CLIError.noInput("no --model given and the bundled \(bundledModel) was not found; pass --model DIR or set GPT2_MODEL_DIR")
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
