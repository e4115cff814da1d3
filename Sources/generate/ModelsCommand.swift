import ArgumentParser
import Foundation
import GPT2Hub

/// `generate models`: the GPT-2 models usable here without a download.
struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the models usable without a download: GPT-2 models in the Hugging Face cache, $GPT2_MODEL_DIR and the bundled demo model.",
        discussion: """
            The Hugging Face cache is $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub, \
            shared with Python's huggingface_hub and transformers. Give a listed repository to \
            --model (REPO, or REPO@REVISION for another than main); one marked incomplete is \
            downloaded whole by its first use online.

            Exit codes: \(GenerateTool.exitCodes)
            """
    )

    func run() async throws {
        let cache = HubCache()
        let cached = cache.gpt2Models()
        var rows: [[String]] = []
        for model in cached {
            let names = model.revisions.isEmpty ? ["\(model.repo)@\(model.commit)"]
                : model.revisions.map { $0 == "main" ? model.repo : "\(model.repo)@\($0)" }
            let state = model.missing.isEmpty ? "" : "incomplete: no \(model.missing.joined(separator: ", "))"
            rows.append([names.joined(separator: ", "), DownloadProgress.size(model.bytes), model.directory.path, state])
        }
        if let directory = ProcessInfo.processInfo.environment["GPT2_MODEL_DIR"], !directory.isEmpty {
            let url = URL(fileURLWithPath: directory)
            rows.append(["$GPT2_MODEL_DIR", DownloadProgress.size(HubCache.size(of: url)), url.path, ""])
        }
        if let bundled = ModelLocator.bundledDirectory() {
            rows.append(["(bundled demo)", DownloadProgress.size(HubCache.size(of: bundled)), bundled.standardizedFileURL.path, ""])
        }
        var text = rows.isEmpty ? "" : Self.table([["MODEL", "SIZE", "PATH", ""]] + rows)
        if cached.isEmpty { text += "(no GPT-2 model in the Hugging Face cache at \(cache.root.path))\n" }
        try Console.out(text)
    }

    /// Columns padded to their widest cell, the size column right-aligned.
    static func table(_ rows: [[String]]) -> String {
        let widths = (0..<4).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            (0..<4).map { column in
                let pad = String(repeating: " ", count: widths[column] - row[column].count)
                return column == 1 ? pad + row[column] : row[column] + pad
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces) + "\n"
        }.joined()
    }
}
