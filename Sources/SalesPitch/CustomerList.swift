import Foundation

/// A customer list: CSV as spreadsheets and CRMs export it (a header row; quoted fields with
/// commas, quotes and line breaks; UTF-8 with or without a byte-order mark; `\r\n` or `\n` line
/// ends), or JSON Lines of objects (a `.jsonl` or `.ndjson` file, or one whose text starts with `{`).
///
/// Rows that cannot be used are returned as ``PitchRejection``s with their line numbers, and the
/// others are read: a malformed row, a row with a different number of fields than the header, a
/// JSON line that is not an object, an id that an earlier row already has.
public enum CustomerList {
    /// The profiles of a file and the rows rejected.
    ///
    /// - Throws: ``CustomerListError`` if the file cannot be read, is not UTF-8, or has no header.
    public static func read(contentsOf url: URL) throws -> (profiles: [CustomerProfile], rejected: [PitchRejection]) {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CustomerListError(message: "no such readable file")
        }
        return try read(data, jsonLines: ["jsonl", "ndjson"].contains(url.pathExtension.lowercased()))
    }

    /// The profiles of a list's bytes (an upload) and the rows rejected; `jsonLines` as for a file
    /// named `.jsonl`, else JSON Lines only when the text starts with `{`.
    ///
    /// - Throws: ``CustomerListError`` if the bytes are not UTF-8 or have no header.
    public static func read(_ data: Data, jsonLines: Bool = false) throws -> (profiles: [CustomerProfile], rejected: [PitchRejection]) {
        guard var text = String(data: data, encoding: .utf8) else {
            let valid = String(decoding: data, as: UTF8.self)
            let line = valid.prefix { $0 != "\u{FFFD}" }.count(where: { $0 == "\n" || $0 == "\r\n" }) + 1
            throw CustomerListError(message: "line \(line): not valid UTF-8 (save the list as UTF-8)")
        }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        let jsonLines = jsonLines || text.drop(while: \.isWhitespace).first == "{"
        var result = try jsonLines ? parseJSONLines(text) : parseCSV(text)
        // ids must be unique: a resumed run and the seeds go by them
        var firstLine: [String: Int] = [:]
        result.profiles = result.profiles.filter { profile in
            if let first = firstLine[profile.id] {
                result.rejected.append(PitchRejection(profile, "id \(profile.id) is already used on line \(first)"))
                return false
            }
            firstLine[profile.id] = profile.line ?? 0
            return true
        }
        result.rejected.sort { ($0.line ?? 0) < ($1.line ?? 0) }
        return result
    }

    static func parseCSV(_ text: String) throws -> (profiles: [CustomerProfile], rejected: [PitchRejection]) {
        var records = CSVRecords.parse(text)[...]
        guard case .fields(let header, _) = records.popFirst() else {
            throw CustomerListError(message: "no header row (the first line must name the columns)")
        }
        let columns = header.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        var profiles: [CustomerProfile] = []
        var rejected: [PitchRejection] = []
        for record in records {
            switch record {
            case .malformed(let reason, let line):
                rejected.append(PitchRejection(customerID: nil, line: line, reason: "malformed CSV: \(reason)"))
            case .unclosed(let line):
                rejected.append(PitchRejection(customerID: nil, line: line, reason: "malformed CSV: a quoted field is never closed"))
            case .fields(let values, let line) where values.count != columns.count:
                rejected.append(PitchRejection(customerID: nil, line: line,
                                               reason: "malformed CSV: \(values.count) fields, the header has \(columns.count)"))
            case .fields(let values, let line):
                profiles.append(CustomerProfile(fields: Dictionary(zip(columns, values), uniquingKeysWith: { first, _ in first }),
                                                line: line))
            }
        }
        return (profiles, rejected)
    }

    static func parseJSONLines(_ text: String) throws -> (profiles: [CustomerProfile], rejected: [PitchRejection]) {
        var profiles: [CustomerProfile] = []
        var rejected: [PitchRejection] = []
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [String: Any] else {
                rejected.append(PitchRejection(customerID: nil, line: index + 1, reason: "not a JSON object"))
                continue
            }
            profiles.append(CustomerProfile(fields: CustomerProfile.fields(ofJSON: object), line: index + 1))
        }
        return (profiles, rejected)
    }
}

/// A customer list that cannot be read at all.
public struct CustomerListError: Error, CustomStringConvertible, LocalizedError {
    public let message: String
    public var description: String { message }
    public var errorDescription: String? { message }
}
