import CSV
import Foundation

/// The records of a CSV text with the line each starts on, parsed by CSV.swift, with the error
/// recovery a customer list needs: CSV.swift reads an unterminated quoted field to the end of the
/// file without complaint, which would turn one bad row into the loss of every row after it.
///
/// So lines are first grouped into records (a record goes on to the next line while a quoted field
/// is open: a quote opens one only at the start of a field, as for CSV.swift, so that `O"Brien` or
/// `5'10"` in a plain field does not), and each record is parsed alone. A record whose quoted
/// field is still open at the end of the file is reported at its first line, and reading resumes
/// on the next line.
struct CSVRecords {
    enum Record {
        case fields([String], line: Int)
        case malformed(String, line: Int)
        /// A quoted field opened on this line is still open at the end of the file.
        case unclosed(line: Int)

        /// The line the record starts on, from 1.
        var line: Int {
            switch self {
            case .fields(_, let line), .malformed(_, let line), .unclosed(let line): line
            }
        }
    }

    /// The records of `text` (without a byte-order mark), the first being the header, empty lines
    /// left out.
    static func parse(_ text: String) -> [Record] {
        // "\r\n" is one Character in Swift: split on both (line breaks inside fields become "\n")
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        var records: [Record] = []
        var start = 0
        while start < lines.count {
            var end = start
            var open = endsInsideQuotes(lines[start], startingInside: false)
            while open && end + 1 < lines.count {
                end += 1
                open = endsInsideQuotes(lines[end], startingInside: true)
            }
            if open {
                records.append(.unclosed(line: start + 1))
                start += 1
                continue
            }
            let record = lines[start...end].joined(separator: "\n")
            if record.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                start = end + 1
                continue
            }
            let parsed = fields(of: record, line: start + 1)
            // A row of several lines with the wrong number of fields is most likely a quote left
            // open that swallowed the rows after it: report its first line, read on from the next.
            if end > start, case .fields(let values, _) = parsed, let header = records.first,
               case .fields(let columns, _) = header, values.count != columns.count {
                records.append(.malformed("a quoted field is not closed on its line (\(values.count) fields over lines \(start + 1)–\(end + 1))",
                                          line: start + 1))
                start += 1
                continue
            }
            records.append(parsed)
            start = end + 1
        }
        return records
    }

    /// Whether a quoted field is open at the end of `line`, given whether one was at its start.
    static func endsInsideQuotes(_ line: Substring, startingInside: Bool) -> Bool {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ",")
        let bytes = Array(line.utf8)
        var inside = startingInside
        var atFieldStart = !startingInside
        var i = 0
        while i < bytes.count {
            if inside {
                if bytes[i] == quote {
                    if i + 1 < bytes.count && bytes[i + 1] == quote {
                        i += 1  // an escaped quote
                    } else {
                        inside = false
                    }
                }
                atFieldStart = false
            } else {
                if bytes[i] == quote && atFieldStart { inside = true }
                atFieldStart = bytes[i] == comma
            }
            i += 1
        }
        return inside
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
