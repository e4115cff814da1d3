import Foundation

/// A problem with a tokenizer file: missing, unreadable, malformed, or asking for something this
/// tokenizer does not do. The message names the file and, where it applies, the line.
///
/// ```swift
/// do {
///     let tokenizer = try GPT2Tokenizer(directory: modelDirectory)
/// } catch let error as TokenizerError {
///     print(error)   // "/models/gpt2/merges.txt, line 7: expected two tokens separated by one space, found 3"
/// }
/// ```
public struct TokenizerError: Error, CustomStringConvertible, Equatable, Sendable, LocalizedError {
    /// What kind of problem it is.
    public enum Kind: String, Equatable, Sendable {
        /// The file (or a directory's tokenizer files) does not exist.
        case fileNotFound
        /// The file exists but could not be read.
        case unreadableFile
        /// The file is larger than a tokenizer file of its kind can sensibly be, in bytes (it was
        /// not read) or in JSON values (it was not built).
        case fileTooLarge
        /// The file is not valid JSON (or not valid UTF-8 where text is required).
        case invalidJSON
        /// The vocabulary is malformed: a bad or duplicate id, a missing byte token, ...
        case invalidVocabulary
        /// A merge rule is malformed or refers to a token that is not in the vocabulary.
        case invalidMerges
        /// The file is well formed but asks for something this tokenizer does not implement.
        case unsupported
    }

    public let kind: Kind
    /// The path of the file (or directory) at fault.
    public let file: String
    /// The 1-based line in `file` where the problem is, when it has one.
    public let line: Int?
    /// What is wrong, in words.
    public let message: String

    public init(_ kind: Kind, file: String, line: Int? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.message = message
    }

    /// `"<file>, line <n>: <message>"`, or `"<file>: <message>"` when no line applies.
    public var description: String {
        if let line { return "\(file), line \(line): \(message)" }
        return "\(file): \(message)"
    }

    public var errorDescription: String? { description }
}
