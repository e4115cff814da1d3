import Foundation

/// The file of pitches that `generate pitch` writes and `generate review` reads: CSV, or JSON
/// Lines when the name ends in `.jsonl`; one row per customer and variant.
///
/// Rows are appended whole, one `write` each, so a stopped run leaves only whole rows; reading
/// drops a last row cut short (a killed process, a full disk), which ``open(_:)`` also truncates.
public struct PitchTable: Sendable {
    /// The columns, in order.
    public static let columns = ["id", "variant", "rank", "pitch", "checks", "attempts", "stop_reason", "prompt_tokens",
                                 "generated_tokens", "mean_logprob", "language", "seed", "model", "prompt"]

    public let url: URL
    public var isJSONLines: Bool { Self.isJSONLines(url) }

    static func isJSONLines(_ url: URL) -> Bool { ["jsonl", "ndjson"].contains(url.pathExtension.lowercased()) }

    /// What names a pitch: its customer's id and its variant (feedback, resumed runs and the page
    /// go by it).
    public static func key(_ id: String, _ variant: Int) -> String { "\(id)\u{0}\(variant)" }

    /// The ``key(_:_:)`` of a row of the table.
    public static func key(of row: [String: String]) -> String { key(row["id"] ?? "", Int(row["variant"] ?? "") ?? 0) }

    /// One row of the table.
    public static func row(_ pitch: Pitch, model: String) -> [String: String] {
        [
            "id": pitch.customerID, "variant": String(pitch.variant), "rank": String(pitch.rank), "pitch": pitch.text,
            "checks": PitchCheck.allCases.filter(pitch.checks.contains).map(\.rawValue).joined(separator: " "),
            "attempts": String(pitch.attempts), "stop_reason": pitch.stopReason.rawValue,
            "prompt_tokens": String(pitch.promptTokens), "generated_tokens": String(pitch.generatedTokens),
            "mean_logprob": String(format: "%.4f", pitch.meanLogprob), "language": pitch.language.rawValue,
            "seed": String(pitch.seed), "model": model, "prompt": pitch.prompt,
        ]
    }

    /// The table at `url` to append to, and the rows already in it (none if it does not exist),
    /// after cutting off a last row that was left half written.
    ///
    /// - Throws: ``CustomerListError`` if the file exists but is not a table of pitches.
    public static func open(_ url: URL) throws -> (table: PitchTable, rows: [[String: String]]) {
        let table = PitchTable(url: url)
        guard let data = FileManager.default.contents(atPath: url.path), !data.isEmpty else {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw CustomerListError(message: "cannot create the file")
            }
            if !table.isJSONLines { try appendText(CSVRecords.line(columns), to: url) }
            return (table, [])
        }
        let (rows, completeBytes) = try parse(data, jsonLines: table.isJSONLines)
        if completeBytes < data.count {
            let handle = try FileHandle(forWritingTo: url)
            try handle.truncate(atOffset: UInt64(completeBytes))
            try handle.close()
        }
        return (table, rows)
    }

    /// The whole rows of the table at `url`, without changing it.
    public static func rows(of url: URL) throws -> [[String: String]] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CustomerListError(message: "no such readable file")
        }
        return try parse(data, jsonLines: isJSONLines(url)).rows
    }

    private static func parse(_ data: Data, jsonLines: Bool) throws -> (rows: [[String: String]], completeBytes: Int) {
        // whole rows run up to the last line break, and stop at the first that does not parse
        let bytes = [UInt8](data)
        let lineStarts = [0] + bytes.indices.filter { bytes[$0] == 0x0A }.map { $0 + 1 }
        var completeBytes = lineStarts.last!
        let text = String(decoding: bytes[..<completeBytes], as: UTF8.self)
        var rows: [[String: String]] = []
        if jsonLines {
            // every row is one line written at once: a whole line that is not a row means
            // another kind of file, not a run cut short
            for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).dropLast() {
                let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
                guard let object, Set(columns).isSubset(of: object.keys) else { throw notATable }
                rows.append(object.compactMapValues { $0 as? String ?? ($0 as? NSNumber)?.stringValue })
            }
        } else {
            // rows are appended in `columns` order: another header (a column added in a
            // spreadsheet) would misplace them
            let records = CSVRecords.parse(text)
            guard case .fields(let header, _) = records.first, header == columns else { throw notATable }
            for (index, record) in records.enumerated().dropFirst() {
                switch record {
                case .fields(let values, _) where values.count == header.count:
                    rows.append(Dictionary(zip(header, values), uniquingKeysWith: { first, _ in first }))
                    continue
                case .unclosed:  // a quoted field left open: the rest of the file is a row cut short
                    break
                case .fields, .malformed:  // a row cut short can only be the last one
                    guard index == records.count - 1 else {
                        throw CustomerListError(message: "line \(record.line) is not a whole row of pitches (edited by hand?): fix or remove it, then run again")
                    }
                }
                completeBytes = lineStarts[record.line - 1]
                break
            }
        }
        return (rows, completeBytes)
    }

    static let notATable = CustomerListError(message: "is not a table of pitches (from generate pitch: its header is \(columns.joined(separator: ",")))")

    /// Appends the rows of one customer, all in one write.
    public func append(_ rows: [[String: String]]) throws {
        let text = rows.map { row in
            if isJSONLines {
                var object: [String: Any] = row
                for key in ["variant", "rank", "attempts", "prompt_tokens", "generated_tokens"] {
                    if let value = row[key], let number = Int(value) { object[key] = number }
                }
                if let value = row["mean_logprob"], let number = Double(value) { object["mean_logprob"] = number }
                let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
                return String(decoding: data, as: UTF8.self) + "\n"
            }
            return CSVRecords.line(Self.columns.map { row[$0] ?? "" })
        }.joined()
        try appendText(text, to: url)
    }
}

/// The rows a run rejected, as CSV (line, id, reason); each run starts it afresh.
public struct RejectionLog: Sendable {
    public let url: URL

    public init(url: URL) {
        self.url = url
    }

    static let header = CSVRecords.line(["line", "id", "reason"])

    /// Creates (or empties) the file and writes the header. A file that exists and is not a log
    /// of rejected rows (a customer list given by mistake) is left alone: an error.
    public func start() throws {
        if let data = FileManager.default.contents(atPath: url.path), !data.isEmpty,
           !data.starts(with: Data(Self.header.utf8)) {
            throw CustomerListError(message: "exists and is not a file of rejected rows (line,id,reason); not overwritten")
        }
        guard FileManager.default.createFile(atPath: url.path, contents: Data(Self.header.utf8)) else {
            throw CustomerListError(message: "cannot create the file")
        }
    }

    public func append(_ rejection: PitchRejection) throws {
        try appendText(CSVRecords.line([rejection.line.map(String.init) ?? "", rejection.customerID ?? "", rejection.reason]),
                       to: url)
    }
}

/// Appends `text` to the file at `url` in one write.
func appendText(_ text: String, to url: URL) throws {
    let handle = try FileHandle(forWritingTo: url)
    defer { try? handle.close() }
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(text.utf8))
}
