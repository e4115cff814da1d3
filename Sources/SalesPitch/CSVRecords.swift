import CSV
import Foundation

/// The records of a CSV text with the line each starts on, parsed by CSV.swift, with the error
/// recovery a customer list needs: CSV.swift reads an unterminated quoted field to the end of the
/// file without complaint, which would turn one bad row into the loss of every row after it.
///
/// So lines are first grouped into records (a record goes on while its quotes are unbalanced: the
/// line breaks inside quoted fields), and each record is parsed alone. A record still unbalanced
/// at the end of the file is reported at its first line, and reading resumes on the next line.
struct CSVRecords {
    enum Record {
        case fields([String], line: Int)
        case malformed(String, line: Int)

        /// The line the record starts on, from 1.
        var line: Int {
            switch self {
            case .fields(_, let line), .malformed(_, let line): line
            }
        }
    }

    /// The records of `text` (without a byte-order mark), empty lines left out.
    static func parse(_ text: String) -> [Record] {
        // "\r\n" is one Character in Swift: split on both (line breaks inside fields become "\n")
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        var records: [Record] = []
        var start = 0
        while start < lines.count {
            var end = start
            var quotes = lines[start].utf8.count(where: { $0 == UInt8(ascii: "\"") })
            while quotes % 2 == 1 && end + 1 < lines.count {
                end += 1
                quotes += lines[end].utf8.count(where: { $0 == UInt8(ascii: "\"") })
            }
            if quotes % 2 == 1 {
                records.append(.malformed("a quoted field is never closed", line: start + 1))
                start += 1
                continue
            }
            let record = lines[start...end].joined(separator: "\n")
            if !record.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                records.append(fields(of: record, line: start + 1))
            }
            start = end + 1
        }
        return records
    }

    private static func fields(of record: String, line: Int) -> Record {
        guard let reader = try? CSVReader(string: record), let fields = reader.next() else {
            return .malformed("cannot be read as CSV", line: line)
        }
        if reader.next() != nil { return .malformed("cannot be read as one CSV row", line: line) }
        return .fields(fields, line: line)
    }

    /// One row as CSV text, quoted where needed, ending in CRLF as spreadsheets write it.
    static func line(_ fields: [String]) -> String {
        let stream = OutputStream(toMemory: ())
        stream.open()
        guard let writer = try? CSVWriter(stream: stream, newline: .crlf), (try? writer.write(row: fields)) != nil,
              let data = stream.property(forKey: .dataWrittenToMemoryStreamKey) as? Data else {
            preconditionFailure("writing to memory cannot fail")
        }
        return String(decoding: data, as: UTF8.self) + "\r\n"
    }
}
