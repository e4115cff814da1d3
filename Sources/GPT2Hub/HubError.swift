import Foundation

/// Why a model could not be found or fetched. Its description is one line naming the repository,
/// the file or the cache path, and what to do.
public struct HubError: Error, CustomStringConvertible, Equatable, Sendable, LocalizedError {
    public enum Kind: String, Sendable {
        /// The argument is neither an existing directory nor a repository id.
        case invalidSource
        /// Offline (`HF_HUB_OFFLINE=1` or `--offline`) and not in the cache.
        case notInCache
        /// The hub could not be reached: no network, a refused connection, a dropped one, a timeout.
        case network
        /// 401 or 403: a gated or private repository, or a wrong token.
        case unauthorized
        /// 404: no such repository, revision or file.
        case notFound
        /// The repository holds no GPT-2 model this engine can run.
        case notGPT2
        /// A download did not match the checksum the hub gave for it; it was deleted.
        case checksumMismatch
        /// Writing into the cache failed (a full disk, permissions); nothing half written is left.
        case cacheWrite
        /// The hub answered in a way this client does not understand (another status, a bad reply).
        case badResponse
    }

    public let kind: Kind
    /// One line naming the repository, file or cache folder, and what to do.
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
    public var errorDescription: String? { message }
}
