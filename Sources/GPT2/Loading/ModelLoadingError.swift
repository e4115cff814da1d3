import Foundation

/// Why a model directory could not be loaded.
///
/// Every error names the file it is about, so that a message such as
/// `model.safetensors: tensor "h.0.attn.c_attn.weight" ends at byte 9000, past the data (8192 bytes)`
/// tells the user exactly what is wrong with which file.
public struct ModelLoadingError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The broad class of problem, for code that wants to react to it.
    public enum Kind: String, Sendable, Equatable {
        /// The directory or a file in it does not exist or cannot be read.
        case missingFile
        /// A JSON file is not valid JSON or not the expected structure.
        case invalidJSON
        /// `config.json` lacks a required field.
        case missingField
        /// A field has a value out of range or of the wrong type.
        case invalidValue
        /// The checkpoint uses an option or architecture this engine does not implement.
        case unsupported
        /// A safetensors file is malformed (header, offsets, sizes).
        case invalidSafetensors
        /// A tensor uses a dtype this engine cannot read.
        case unknownDType
        /// A tensor the architecture needs is not in the checkpoint.
        case missingTensor
        /// A tensor's shape disagrees with `config.json`.
        case shapeMismatch
        /// A tensor holds a NaN or an infinity.
        case nonFiniteValue
        /// Two files of the model directory disagree (the checkpoint holds tensors `config.json` does not use).
        case inconsistentFiles
        /// A file is larger than any real one of its kind, and was refused without being read whole.
        case fileTooLarge
        /// The machine could not give the memory the weights need (a copy or conversion of a
        /// tensor, or the map of a file): the files are fine, the model does not fit.
        case outOfMemory
    }

    /// The broad class of problem.
    public let kind: Kind
    /// The file the problem is in (or the directory, when a file is missing).
    public let file: String
    /// What is wrong, in words.
    public let detail: String

    /// Creates an error about `file`.
    public init(_ kind: Kind, file: String, _ detail: String) {
        self.kind = kind
        self.file = file
        self.detail = detail
    }

    init(_ kind: Kind, file: URL, _ detail: String) {
        self.init(kind, file: file.path, detail)
    }

    public var description: String { "\(file): \(detail)" }
}

/// The bytes of `url`, a JSON file of the model directory, refused unread when it is not a
/// regular file or holds more than `limit` bytes (see `readWholeFile`). The `Data` is a copy, of a
/// few megabytes at most.
func readModelFile(_ url: URL, limit: Int) throws(ModelLoadingError) -> Data {
    do {
        return Data(try readWholeFile(url, limit: limit))
    } catch {
        if case .tooLarge = error { throw ModelLoadingError(.fileTooLarge, file: url, error.detail) }
        throw ModelLoadingError(.missingFile, file: url, error.detail)
    }
}
