/// A small strict JSON reader for tokenizer files that remembers the line of every value, so
/// that a bad entry in a 50,000-entry vocabulary can be reported as "vocab.json, line 31337".
/// Strings are kept as UTF-8 bytes (tokens are compared byte for byte, never by Unicode
/// canonical equivalence), sharing the file's buffer unless they contain escapes; object
/// members keep their order and their duplicates.
struct TokenizerJSON {
    enum Kind {
        case object([Member])
        case array([TokenizerJSON])
        case string(ArraySlice<UInt8>)
        /// A number: its value when it is an integer literal (no fraction or exponent) that fits
        /// an `Int`, else nil.
        case number(Int?)
        case bool(Bool)
        case null
    }

    struct Member {
        var key: ArraySlice<UInt8>
        var value: TokenizerJSON
    }

    var kind: Kind
    /// 1-based line where the value starts.
    var line: Int

    /// The first member named `key`.
    subscript(key: String) -> TokenizerJSON? {
        guard case .object(let members) = kind else { return nil }
        let k = Array(key.utf8)
        return members.first(where: { $0.key.elementsEqual(k) })?.value
    }

    var isNull: Bool { if case .null = kind { return true } else { return false } }

    var stringValue: String? {
        if case .string(let bytes) = kind { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }

    var boolValue: Bool? {
        if case .bool(let b) = kind { return b }
        return nil
    }

    /// The value as an `Int` when it is an integer literal without fraction or exponent.
    var intValue: Int? {
        if case .number(let value) = kind { return value }
        return nil
    }

    /// Short name of the value's type, for error messages.
    var typeName: String {
        switch kind {
        case .object: return "an object"
        case .array: return "an array"
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        }
    }

    /// The most values one document may hold: ten times GPT-2's `tokenizer.json` (about 200,000
    /// with its merges as pairs). Each value costs about 80 bytes parsed, so a 64 MB file of tiny
    /// entries is refused at about 170 MB instead of being built into 600 MB.
    static let maxValues = 1 << 21

    /// Parses a whole document of at most `maxValues` values; `file` is used in error messages.
    static func parse(_ bytes: [UInt8], file: String, maxValues: Int = maxValues) throws(TokenizerError) -> TokenizerJSON {
        try bytes.withUnsafeBufferPointer { (buffer) throws(TokenizerError) -> TokenizerJSON in
            var parser = Parser(source: bytes, bytes: buffer, file: file, maxValues: maxValues)
            parser.skipByteOrderMark()
            parser.skipWhitespace()
            let value = try parser.parseValue(depth: 0)
            parser.skipWhitespace()
            if parser.index < buffer.count {
                throw parser.error("unexpected text after the JSON value")
            }
            return value
        }
    }

    private struct Parser {
        /// The document, for slices that share its storage; `bytes` points into it.
        let source: [UInt8]
        let bytes: UnsafeBufferPointer<UInt8>
        let file: String
        var index = 0
        var line = 1
        var valueCount = 0
        let maxValues: Int

        static let maxDepth = 128

        init(source: [UInt8], bytes: UnsafeBufferPointer<UInt8>, file: String, maxValues: Int) {
            self.source = source
            self.bytes = bytes
            self.file = file
            self.maxValues = maxValues
        }

        func error(_ message: String, line: Int? = nil) -> TokenizerError {
            TokenizerError(.invalidJSON, file: file, line: line ?? self.line, "invalid JSON: \(message)")
        }

        mutating func skipByteOrderMark() {
            if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0D: index += 1
                case 0x0A: index += 1; line += 1
                default: return
                }
            }
        }

        func describeCurrent() -> String {
            guard index < bytes.count else { return "end of file" }
            let b = bytes[index]
            if b >= 0x20 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
            return "byte 0x\(String(b, radix: 16, uppercase: true))"
        }

        mutating func parseValue(depth: Int) throws(TokenizerError) -> TokenizerJSON {
            guard depth < Parser.maxDepth else { throw error("nested deeper than \(Parser.maxDepth) levels") }
            guard index < bytes.count else { throw error("unexpected end of file, expected a value") }
            guard valueCount < maxValues else {
                throw TokenizerError(.fileTooLarge, file: file, line: line,
                                     "more than \(maxValues) JSON values, far more than a tokenizer file holds")
            }
            valueCount += 1
            let startLine = line
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var members: [Member] = []
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return TokenizerJSON(kind: .object(members), line: startLine)
                }
                while true {
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                        throw error("expected a member name in quotes, found \(describeCurrent())")
                    }
                    let key = try parseString()
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                        throw error("expected ':' after a member name, found \(describeCurrent())")
                    }
                    index += 1
                    skipWhitespace()
                    let value = try parseValue(depth: depth + 1)
                    members.append(Member(key: key, value: value))
                    skipWhitespace()
                    guard index < bytes.count else { throw error("unexpected end of file inside an object") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "}") { index += 1; break }
                    throw error("expected ',' or '}' in an object, found \(describeCurrent())")
                }
                return TokenizerJSON(kind: .object(members), line: startLine)
            case UInt8(ascii: "["):
                index += 1
                var elements: [TokenizerJSON] = []
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return TokenizerJSON(kind: .array(elements), line: startLine)
                }
                while true {
                    skipWhitespace()
                    elements.append(try parseValue(depth: depth + 1))
                    skipWhitespace()
                    guard index < bytes.count else { throw error("unexpected end of file inside an array") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "]") { index += 1; break }
                    throw error("expected ',' or ']' in an array, found \(describeCurrent())")
                }
                return TokenizerJSON(kind: .array(elements), line: startLine)
            case UInt8(ascii: "\""):
                return TokenizerJSON(kind: .string(try parseString()), line: startLine)
            case UInt8(ascii: "t"):
                try expectWord("true")
                return TokenizerJSON(kind: .bool(true), line: startLine)
            case UInt8(ascii: "f"):
                try expectWord("false")
                return TokenizerJSON(kind: .bool(false), line: startLine)
            case UInt8(ascii: "n"):
                try expectWord("null")
                return TokenizerJSON(kind: .null, line: startLine)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return TokenizerJSON(kind: .number(try parseNumber()), line: startLine)
            default:
                throw error("expected a value, found \(describeCurrent())")
            }
        }

        mutating func expectWord(_ word: StaticString) throws(TokenizerError) {
            let n = word.utf8CodeUnitCount
            let w = UnsafeBufferPointer(start: word.utf8Start, count: n)
            guard index + n <= bytes.count, (0..<n).allSatisfy({ bytes[index + $0] == w[$0] }) else {
                throw error("expected a value, found \(describeCurrent())")
            }
            index += n
        }

        func isDigit(_ i: Int) -> Bool {
            i < bytes.count && bytes[i] >= 0x30 && bytes[i] <= 0x39
        }

        /// Parses a number; returns its value when it is an integer that fits an `Int`.
        mutating func parseNumber() throws(TokenizerError) -> Int? {
            var negative = false
            if bytes[index] == UInt8(ascii: "-") { negative = true; index += 1 }
            guard isDigit(index) else { throw error("invalid number") }
            var value: Int? = 0
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                while isDigit(index) {
                    if let v = value {
                        let (m, o1) = v.multipliedReportingOverflow(by: 10)
                        let (a, o2) = m.addingReportingOverflow(Int(bytes[index] - 0x30))
                        value = o1 || o2 ? nil : a
                    }
                    index += 1
                }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard isDigit(index) else { throw error("invalid number: no digit after '.'") }
                while isDigit(index) { index += 1 }
                value = nil
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                guard isDigit(index) else { throw error("invalid number: no digit in the exponent") }
                while isDigit(index) { index += 1 }
                value = nil
            }
            return negative ? value.map { -$0 } : value
        }

        mutating func parseHex4() throws(TokenizerError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw error("unexpected end of file in a \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[index]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw error("invalid hex digit in a \\u escape")
                }
                v = v << 4 | d
                index += 1
            }
            return v
        }

        /// Parses a string starting at its opening quote; returns its UTF-8 bytes, a slice of the
        /// document when the string has no escapes.
        mutating func parseString() throws(TokenizerError) -> ArraySlice<UInt8> {
            index += 1  // opening quote
            let start = index
            var out: [UInt8] = []
            var escaped = false
            var runStart = index
            while true {
                guard index < bytes.count else { throw error("unexpected end of file inside a string") }
                let b = bytes[index]
                if b == UInt8(ascii: "\"") {
                    index += 1
                    if !escaped { return source[start..<(index - 1)] }
                    out.append(contentsOf: bytes[runStart..<(index - 1)])
                    return out[...]
                }
                if b == UInt8(ascii: "\\") {
                    escaped = true
                    out.append(contentsOf: bytes[runStart..<index])
                    index += 1
                    guard index < bytes.count else { throw error("unexpected end of file inside a string") }
                    let e = bytes[index]
                    index += 1
                    switch e {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var v = try parseHex4()
                        if v >= 0xD800 && v < 0xDC00 {
                            guard index + 2 <= bytes.count, bytes[index] == UInt8(ascii: "\\"),
                                  bytes[index + 1] == UInt8(ascii: "u") else {
                                throw error("unpaired surrogate \\u\(String(v, radix: 16, uppercase: true)) in a string")
                            }
                            index += 2
                            let low = try parseHex4()
                            guard low >= 0xDC00 && low < 0xE000 else {
                                throw error("unpaired surrogate \\u\(String(v, radix: 16, uppercase: true)) in a string")
                            }
                            v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                        } else if v >= 0xDC00 && v < 0xE000 {
                            throw error("unpaired surrogate \\u\(String(v, radix: 16, uppercase: true)) in a string")
                        }
                        out.append(contentsOf: Unicode.UTF8.encode(Unicode.Scalar(v)!)!)
                    default:
                        throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))' in a string")
                    }
                    runStart = index
                    continue
                }
                if b < 0x20 {
                    throw error("control character 0x\(String(b, radix: 16, uppercase: true)) inside a string (must be escaped)")
                }
                if b < 0x80 {
                    index += 1
                    continue
                }
                // Multi-byte UTF-8: validate so that every string we hand out is valid UTF-8.
                let n = Parser.validUTF8SequenceLength(bytes, at: index)
                guard n > 0 else { throw error("invalid UTF-8 in a string") }
                index += n
            }
        }

        /// Length of the well-formed UTF-8 sequence at `i`, or 0 when it is not well formed.
        static func validUTF8SequenceLength(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> Int {
            guard let (len, second) = utf8Sequence(startingWith: p[i]), i + len <= p.count,
                  second.contains(p[i + 1]) else { return 0 }
            for k in 2..<max(2, len) where p[i + k] & 0xC0 != 0x80 { return 0 }
            return len
        }
    }
}
