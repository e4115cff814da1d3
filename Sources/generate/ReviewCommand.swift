import ArgumentParser
import Foundation
import SalesPitch

/// `generate review`: a person reads each pitch and accepts, rejects or edits it; decisions go to
/// a feedback file, and accepted and edited pitches can be exported as a fine-tuning dataset.
struct ReviewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Review pitches one by one, or export reviewed ones as a fine-tuning dataset.",
        discussion: """
            For each pitch not yet in the feedback file, type one answer and Enter: a (accept), \
            r [reason] (reject), e [new text] (edit; on a terminal, e alone opens $EDITOR), s (skip: \
            it comes back next time), q (quit). Answers are read line by line from standard input, \
            so a script can give them. Each decision is appended to --feedback at once; a second \
            run continues where the last stopped.

            generate review --export-dataset data.jsonl feedback.jsonl writes accepted and edited \
            pitches as {"prompt": ..., "completion": ...} lines.

            Exit codes: \(GenerateTool.exitCodes)
            """
    )

    @Argument(help: ArgumentHelp("The pitches file (from generate pitch --out); with --export-dataset, the feedback file.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("Where decisions are appended, one JSON line each.", valueName: "file.jsonl"))
    var feedback: String?

    @Option(help: ArgumentHelp("Write the accepted and edited pitches of the feedback FILE as prompt/completion JSON lines.", valueName: "file.jsonl"))
    var exportDataset: String?

    func validate() throws {
        if (feedback == nil) == (exportDataset == nil) {
            throw ValidationError("give --feedback FILE to review, or --export-dataset FILE to export a feedback file")
        }
    }

    func run() async throws {
        if let exportDataset {
            try Self.checkDatasetTarget(exportDataset, feedback: file)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory), !isDirectory.boolValue else {
                throw CLIError.noInput("\(file): no such readable feedback file")
            }
            let decisions: [Feedback]
            do {
                decisions = try Feedback.read(URL(fileURLWithPath: file))
            } catch {
                throw CLIError.data("\(file): \(error)")
            }
            let dataset = Feedback.dataset(decisions)
            guard FileManager.default.createFile(atPath: exportDataset, contents: Data(dataset.utf8)) else {
                throw CLIError.io("--export-dataset \(exportDataset): cannot write the file")
            }
            let count = dataset.utf8.count(where: { $0 == 0x0A })
            Console.err("wrote \(count) prompt/completion pairs from \(decisions.count) decisions to \(exportDataset)\n")
            return
        }
        guard let feedback else { return }
        let rows: [[String: String]]
        do {
            rows = try PitchTable.rows(of: URL(fileURLWithPath: file))
        } catch {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) && !isDirectory.boolValue
            throw CLIError(message: "\(file): \(exists ? "\(error)" : "no such readable pitches file")", code: exists ? 65 : 66)
        }
        let feedbackURL = URL(fileURLWithPath: feedback)
        let reviewed: Set<String>
        do {
            reviewed = Set(try Feedback.read(feedbackURL).map { PitchTable.key($0.id, $0.variant) })
        } catch {
            throw CLIError.data("--feedback \(feedback): \(error)")
        }
        // a feedback file that cannot be written is found now, not after the first answer
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: feedback, isDirectory: &isDirectory)
        guard !isDirectory.boolValue, exists ? FileManager.default.isWritableFile(atPath: feedback)
                : FileManager.default.createFile(atPath: feedback, contents: nil) else {
            throw CLIError.io("--feedback \(feedback): cannot write to it")
        }
        let pending = rows.filter { !reviewed.contains(PitchTable.key(of: $0)) }
        var counts: [String: Int] = [:]
        for (index, row) in pending.enumerated() {
            try Console.out(Self.show(row, number: index + 1, of: pending.count))
            guard let decision = try ask(row) else { break }
            guard let decision else { counts["skipped", default: 0] += 1; continue }
            do {
                try decision.append(to: feedbackURL)
            } catch {
                throw CLIError.io("--feedback \(feedback): cannot write to it (\(error.localizedDescription))")
            }
            counts[decision.decision.rawValue, default: 0] += 1
        }
        let decided = ["accept", "edit", "reject"].reduce(0) { $0 + counts[$1, default: 0] }
        Console.err("reviewed \(decided): \(counts["accept", default: 0]) accepted, \(counts["edit", default: 0]) edited, "
            + "\(counts["reject", default: 0]) rejected; \(counts["skipped", default: 0]) skipped; "
            + "\(pending.count - decided) not yet reviewed\n")
    }

    /// The dataset's file must not be the feedback file, nor an existing file of another kind.
    static func checkDatasetTarget(_ path: String, feedback: String) throws {
        if InputText.canonicalPath(path) == InputText.canonicalPath(feedback) {
            throw CLIError.usage("--export-dataset \(path): that is the feedback file; give another name")
        }
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return }
        let firstLine = data.prefix { $0 != 0x0A }
        let object = (try? JSONSerialization.jsonObject(with: Data(firstLine))) as? [String: Any]
        guard let object, Set(object.keys) == ["prompt", "completion"] else {
            throw CLIError.data("--export-dataset \(path): exists and is not a prompt/completion dataset; not overwritten")
        }
    }

    static func show(_ row: [String: String], number: Int, of total: Int) -> String {
        let checks = row["checks"] ?? ""
        let failed = PitchCheck.allCases.map(\.rawValue).filter { !checks.split(separator: " ").contains(Substring($0)) }
        return """

            ── \(number)/\(total) · customer \(row["id"] ?? "?"), variant \(row["variant"] ?? "?") · \
            \(failed.isEmpty ? "all checks passed" : "FAILED: " + failed.joined(separator: ", "))
            \(row["prompt"] ?? "")
            \(row["pitch"].map { $0.trimmingCharacters(in: .whitespaces) } ?? "")

            """
    }

    /// Asks until it gets an answer: nil at q or the end of input; .some(nil) for skip.
    func ask(_ row: [String: String]) throws -> Feedback?? {
        let make = { (decision: Feedback.Decision, edited: String?, reason: String?) in
            Feedback(id: row["id"] ?? "", variant: Int(row["variant"] ?? "") ?? 0, prompt: row["prompt"] ?? "",
                     pitch: row["pitch"] ?? "", decision: decision, edited: edited, reason: reason, model: row["model"] ?? "")
        }
        while true {
            try Console.out("[a]ccept, [r]eject [reason], [e]dit [text], [s]kip, [q]uit? ")
            guard let line = readLine() else { try Console.out("\n"); return nil }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            let command = trimmed.prefix { !$0.isWhitespace }.lowercased()
            let rest = trimmed.dropFirst(command.count).trimmingCharacters(in: .whitespaces)
            switch command {
            case "a", "accept": return .some(make(.accept, nil, nil))
            case "r", "reject": return .some(make(.reject, nil, rest.isEmpty ? nil : rest))
            case "s", "skip": return .some(nil)
            case "q", "quit": return nil
            case "e", "edit":
                if !rest.isEmpty { return .some(make(.edit, rest, nil)) }
                guard isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1 else {
                    Console.err("e needs the new text on the same line (e Hi Anna! ...) when not on a terminal\n")
                    continue
                }
                if let edited = try Self.editInEditor(row["pitch"] ?? "") { return .some(make(.edit, edited, nil)) }
                Console.err("no change; answer again\n")
            default:
                Console.err("answer a, r [reason], e [text], s or q\n")
            }
        }
    }

    /// Opens $EDITOR (else $VISUAL, else vi) on the pitch; the new text, or nil if unchanged or empty.
    static func editInEditor(_ text: String) throws -> String? {
        // a new file of our own (mkstemp), not a predictable name another user could plant a link at
        var template = Array((FileManager.default.temporaryDirectory.path + "/pitch-XXXXXX.txt").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemps($0.baseAddress!, 4) }
        guard descriptor >= 0 else { throw CLIError.io("cannot create a temporary file for the editor") }
        let file = URL(fileURLWithPath: String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        defer { try? FileManager.default.removeItem(at: file) }
        let original = text.trimmingCharacters(in: .whitespaces)
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        try handle.write(contentsOf: Data((original + "\n").utf8))
        try handle.close()
        let environment = ProcessInfo.processInfo.environment
        let editor = environment["EDITOR"] ?? environment["VISUAL"] ?? "vi"
        // posix_spawn, not Process: Process starts the child in a process group of its own, which
        // the terminal treats as a background job, stopping the editor as soon as it reads a key
        let words: [String] = ["/bin/sh", "-c", "\(editor) \"$1\"", "editor", file.path]
        let arguments = words.map { strdup($0) }
        defer { arguments.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/sh", nil, nil, arguments + [nil], environ) == 0 else {
            throw CLIError.usage("$EDITOR \(editor): cannot start it")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let edited = (try? String(contentsOf: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return edited.isEmpty || edited == original ? nil : edited
    }
}
