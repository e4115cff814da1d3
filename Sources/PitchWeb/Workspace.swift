import Foundation
import SalesPitch

/// The page's work on disk, in one directory, in the command-line tools' formats: `pitches.csv`
/// (the table `generate pitch --out` writes: every pitch written from the page) and
/// `feedback.jsonl` (the decisions, as `generate review --feedback` appends them). An actor, so
/// that rows and decisions are appended one whole line at a time, in order.
actor Workspace {
    let directory: URL
    nonisolated var pitchesURL: URL { directory.appendingPathComponent("pitches.csv") }
    nonisolated var feedbackURL: URL { directory.appendingPathComponent("feedback.jsonl") }

    private var table: PitchTable?
    private var rows: [[String: String]] = []
    /// The row of each (id, variant), and the last decision on it.
    private var rowIndex: [String: Int] = [:]
    private var decisions: [String: Feedback] = [:]

    init(directory: URL) {
        self.directory = directory
    }

    /// Opens the files on first use (making the directory), with what an earlier run left there.
    private func open() throws(PageError) -> PitchTable {
        if let table { return table }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw PageError(.internalServerError, "workspace \(directory.path): cannot create the directory")
        }
        do {
            let (table, rows) = try PitchTable.open(pitchesURL)
            self.table = table
            for row in rows { remember(row) }
        } catch {
            throw PageError(.internalServerError, "workspace \(pitchesURL.path): \(error)")
        }
        do {
            for item in try Feedback.read(feedbackURL) { decisions[PitchTable.key(item.id, item.variant)] = item }
        } catch {
            throw PageError(.internalServerError, "workspace \(feedbackURL.path): \(error)")
        }
        return table!
    }

    private func remember(_ row: [String: String]) {
        rowIndex[PitchTable.key(of: row)] = rows.count
        rows.append(row)
    }

    /// The (id, variant) pairs that have a pitch.
    func keys() throws(PageError) -> Set<String> {
        _ = try open()
        return Set(rowIndex.keys)
    }

    /// The rows from `index` on, each with its last decision (`decision`, `edited`, `reason`),
    /// and how many rows there are.
    func rows(from index: Int) throws(PageError) -> (rows: [[String: String]], count: Int) {
        _ = try open()
        let start = min(max(index, 0), rows.count)
        return (rows[start...].map(withDecision), rows.count)
    }

    private func withDecision(_ row: [String: String]) -> [String: String] {
        guard let decision = decisions[PitchTable.key(of: row)] else { return row }
        var row = row
        row["decision"] = decision.decision.rawValue
        row["edited"] = decision.edited
        row["reason"] = decision.reason
        return row
    }

    /// Appends one customer's pitches in one write; with `newID`, under an id of the page's own
    /// (`form-1`, `form-2`, …) rather than the profile's.
    func append(_ pitches: [Pitch], model: String, newID: Bool = false) throws(PageError) -> [[String: String]] {
        let table = try open()
        var pitches = pitches
        if newID {
            let used = rows.compactMap { $0["id"].flatMap { $0.hasPrefix("form-") ? Int($0.dropFirst(5)) : nil } }
            for index in pitches.indices { pitches[index].customerID = "form-\((used.max() ?? 0) + 1)" }
        }
        let made = pitches.map { PitchTable.row($0, model: model) }
        do {
            try table.append(made)
        } catch {
            throw PageError(.internalServerError, "workspace \(pitchesURL.path): cannot write (\(error.localizedDescription))")
        }
        made.forEach(remember)
        return made
    }

    /// Records a reviewer's decision on a pitch, appended to the feedback file at once.
    func decide(id: String, variant: Int, decision: Feedback.Decision, edited: String?, reason: String?)
        throws(PageError) -> [String: String] {
        _ = try open()
        guard let index = rowIndex[PitchTable.key(id, variant)] else {
            throw PageError(.notFound, "no pitch \(id) variant \(variant) in the workspace", param: "id")
        }
        let row = rows[index]
        let feedback = Feedback(id: id, variant: variant, prompt: row["prompt"] ?? "", pitch: row["pitch"] ?? "",
                                decision: decision, edited: edited, reason: reason, model: row["model"] ?? "")
        do {
            try feedback.append(to: feedbackURL)
        } catch {
            throw PageError(.internalServerError, "workspace \(feedbackURL.path): cannot write (\(error))")
        }
        decisions[PitchTable.key(id, variant)] = feedback
        return withDecision(row)
    }

    /// A file to download: the pitches table, the feedback file, or the fine-tuning dataset made
    /// from the feedback (`generate review --export-dataset`).
    func file(_ name: String) throws(PageError) -> Data {
        _ = try open()
        switch name {
        case "pitches.csv": return FileManager.default.contents(atPath: pitchesURL.path) ?? Data()
        case "feedback.jsonl": return FileManager.default.contents(atPath: feedbackURL.path) ?? Data()
        case "dataset.jsonl":
            do {
                return Data(Feedback.dataset(try Feedback.read(feedbackURL)).utf8)
            } catch {
                throw PageError(.internalServerError, "workspace \(feedbackURL.path): \(error)")
            }
        default: throw PageError(.notFound, "no file \(name): pitches.csv, feedback.jsonl or dataset.jsonl")
        }
    }
}
