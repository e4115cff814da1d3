import Foundation
import GPT2
import GPT2Hub

/// A user error: one line on standard error and a sysexits-style exit code.
struct CLIError: Error {
    let message: String
    let code: Int32

    /// Bad usage or option value (EX_USAGE).
    static func usage(_ message: String) -> CLIError { CLIError(message: message, code: 64) }
    /// Input that is present but wrong: a prompt too long, a malformed model file (EX_DATAERR).
    static func data(_ message: String) -> CLIError { CLIError(message: message, code: 65) }
    /// A file or directory that does not exist (EX_NOINPUT).
    static func noInput(_ message: String) -> CLIError { CLIError(message: message, code: 66) }
    /// A failed read or write, e.g. standard output on a full disk, or memory the machine cannot
    /// give for the weights (EX_IOERR).
    static func io(_ message: String) -> CLIError { CLIError(message: message, code: 74) }

    /// A model that could not be found or downloaded: 66 not there (not in the cache when
    /// offline, or no such repository, revision or file), 65 not a GPT-2 model, 69 the hub
    /// unreachable or answering wrongly (EX_UNAVAILABLE), 77 access refused (EX_NOPERM), 74 a
    /// failed write into the cache or a download that failed its checksum.
    static func hub(_ error: HubError) -> CLIError {
        let code: Int32 = switch error.kind {
        case .invalidSource, .notInCache, .notFound: 66
        case .notGPT2: 65
        case .network, .badResponse: 69
        case .unauthorized: 77
        case .checksumMismatch, .cacheWrite: 74
        }
        return CLIError(message: error.message, code: code)
    }

    /// Runs a loader, mapping its typed errors to exit codes. Weights the machine has no memory for
    /// are 74, like a failed read: the files are fine, another machine or load option can run them.
    static func loading<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ModelLoadingError {
            switch error.kind {
            case .missingFile: throw noInput(error.description)
            case .outOfMemory: throw io(error.description)
            default: throw data(error.description)
            }
        } catch let error as TokenizerError {
            throw error.kind == .fileNotFound ? noInput(error.description) : data(error.description)
        }
    }
}
