import Foundation

/// Text the command reads (a prompt file, standard input, a `--batch` file): it must be valid
/// UTF-8, and a UTF-8 byte-order mark at its start is not part of the text.
enum InputText {
    /// A file's path with `.`, `..` and symbolic links resolved, to tell whether two flags name
    /// the same file.
    static func canonicalPath(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// The most read from one input file or standard input: far more than any prompt, template or
    /// list needs, and a bound on what a mistaken `/dev/zero` or a huge file costs.
    static let maxBytes = 256 << 20

    /// The bytes of the file `path` named by `flag`: a regular file, a pipe, `/dev/stdin` or a
    /// process substitution; an error naming both for a missing, unreadable or oversized one.
    static func read(_ path: String, flag: String) throws -> Data {
        var isDirectory: ObjCBool = false
        guard !path.isEmpty, FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CLIError.noInput("\(flag) \(path): no such file")
        }
        if isDirectory.boolValue { throw CLIError.noInput("\(flag) \(path): a directory, not a file") }
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw CLIError.noInput("\(flag) \(path): cannot be read (\(String(cString: strerror(errno))))") }
        defer { close(descriptor) }
        return try readAll(descriptor, source: "\(flag) \(path)")
    }

    /// Everything `descriptor` gives until its end, at most ``maxBytes``.
    static func readAll(_ descriptor: Int32, source: String) throws -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress!, $0.count) }
            if count == 0 { return data }
            if count < 0 {
                if errno == EINTR { continue }
                throw CLIError.io("\(source): \(String(cString: strerror(errno)))")
            }
            data.append(contentsOf: buffer[..<count])
            if data.count > maxBytes { throw CLIError.data("\(source): more than \(maxBytes >> 20) MB, the most that is read") }
        }
    }

    /// Bytes that are not valid UTF-8, at `offset` from the start of the input (a byte-order
    /// mark included).
    struct InvalidUTF8: Error {
        let offset: Int
    }

    /// The text of `data`, read from `source` (a flag and its file, or standard input); input that
    /// is not UTF-8 is a data error naming the source and the byte offset.
    static func text(of data: Data, from source: String) throws -> String {
        do {
            return try decode(data)
        } catch {
            throw CLIError.data("\(source): not valid UTF-8 (byte offset \(error.offset))")
        }
    }

    /// The text of `data`, without a leading byte-order mark; an error at the first byte that does
    /// not belong to a valid UTF-8 sequence (a stray continuation byte, an overlong form, a
    /// surrogate, a sequence cut short).
    static func decode(_ data: Data) throws(InvalidUTF8) -> String {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        let start = data.starts(with: bom) ? data.index(data.startIndex, offsetBy: bom.count) : data.startIndex
        let bytes = data[start...]
        var offset = data.distance(from: data.startIndex, to: start)
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .error: throw InvalidUTF8(offset: offset)
            case .emptyInput: return String(decoding: bytes, as: UTF8.self)
            }
        }
    }
}
