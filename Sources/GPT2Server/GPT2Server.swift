import Foundation
import GPT2
import Hummingbird
import Logging
import ServiceLifecycle

/// An OpenAI-compatible HTTP server over a `TextGenerator`: `POST /v1/completions`,
/// `POST /v1/chat/completions`, `GET /v1/models`, `GET /health`. Every request goes through the
/// generator's batching scheduler, so concurrent clients share its forward passes.
public struct GPT2Server: Sendable {
    public struct Configuration: Sendable {
        /// Address to listen on; loopback by default.
        public var host: String
        /// Port; 0 picks a free one (see `onListening` of ``run(onListening:)``).
        public var port: Int
        /// The names the model answers to in requests' `model` (the first is the one listed first).
        public var modelNames: [String]
        /// When set, every `/v1` request needs `Authorization: Bearer <key>`.
        public var apiKey: String?
        /// Completions (a request's prompts × `n`) waiting beyond those being generated (the
        /// generator's `maxBatchSize`); more are refused with 429.
        public var maxQueue: Int
        /// Largest request body accepted, in bytes (413 beyond).
        public var maxBodyBytes: Int
        /// How long a shutdown waits for the requests in flight before cancelling them.
        public var shutdownGrace: Duration

        public init(host: String = "127.0.0.1", port: Int = 8080, modelNames: [String], apiKey: String? = nil,
                    maxQueue: Int = 64, maxBodyBytes: Int = 4 << 20, shutdownGrace: Duration = .seconds(60)) {
            self.host = host
            self.port = port
            self.modelNames = modelNames
            self.apiKey = apiKey
            self.maxQueue = maxQueue
            self.maxBodyBytes = maxBodyBytes
            self.shutdownGrace = shutdownGrace
        }
    }

    public let generator: TextGenerator
    public let configuration: Configuration
    let admission: Admission
    let log: @Sendable (String) -> Void
    let moreRoutes: @Sendable (Router<BasicRequestContext>) -> Void

    /// - Parameters:
    ///   - generator: the engine; its `maxBatchSize` is how many requests generate at once.
    ///   - configuration: address, model names, key and limits.
    ///   - log: receives one line per request (method, path, status, tokens, duration).
    ///   - routes: adds routes of a front end served beside the API on the same address (the
    ///     pitch page of `generate serve`); they check ``Configuration/apiKey`` themselves.
    public init(generator: TextGenerator, configuration: Configuration, log: @escaping @Sendable (String) -> Void = { _ in },
                routes: @escaping @Sendable (Router<BasicRequestContext>) -> Void = { _ in }) {
        self.generator = generator
        self.configuration = configuration
        admission = Admission(limit: generator.maxBatchSize + configuration.maxQueue)
        self.log = log
        moreRoutes = routes
    }

    /// Serves until SIGINT or SIGTERM, then stops accepting connections and lets the requests in
    /// flight finish, for at most ``Configuration/shutdownGrace``; those still running then are
    /// cancelled.
    public func run(onListening: @escaping @Sendable (_ port: Int) -> Void = { _ in }) async throws {
        var logger = Logger(label: "gpt2-server")
        logger.logLevel = .error
        let app = Application(router: router(), configuration: .init(address: .hostname(configuration.host, port: configuration.port)),
                              onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) }, logger: logger)
        var group = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = configuration.shutdownGrace
        try await ServiceGroup(configuration: group).run()
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("health") { _, _ in JSON.response(["status": "ok"]) }
        router.get("v1/models") { request, _ in
            await handle(request) { _ in
                let created = Int(Date().timeIntervalSince1970)
                let models = configuration.modelNames.map { ["id": $0, "object": "model", "created": created, "owned_by": "swift-gpt2"] as [String: Any] }
                return (JSON.response(["object": "list", "data": models]), 0)
            }
        }
        router.post("v1/completions") { request, _ in await handle(request) { try await completions($0, chat: false) } }
        router.post("v1/chat/completions") { request, _ in await handle(request) { try await completions($0, chat: true) } }
        moreRoutes(router)
        return router
    }

    /// Checks the key, runs `body`, turns its errors into OpenAI-style responses and logs the
    /// request (a streamed one logs itself when its stream ends: `body` returns nil tokens).
    func handle(_ request: Request, _ body: (Request) async throws -> (Response, Int?)) async -> Response {
        let start = ContinuousClock.now
        var response: Response
        var tokens: Int?
        do {
            if let key = configuration.apiKey, request.headers[.authorization] != "Bearer \(key)" {
                throw APIError(status: .unauthorized, message: "Incorrect API key provided.", type: "invalid_request_error",
                               param: nil, code: "invalid_api_key")
            }
            (response, tokens) = try await body(request)
        } catch let error as APIError {
            response = error.response
            tokens = 0
        } catch {
            response = APIError(status: .internalServerError, message: "\(error)", type: "server_error", param: nil, code: nil).response
            tokens = 0
        }
        if let tokens { logLine(request, status: response.status.code, tokens: tokens, start: start) }
        return response
    }

    func logLine(_ request: Request, status: Int, tokens: Int, start: ContinuousClock.Instant) {
        let elapsed = (ContinuousClock.now - start).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        log(String(format: "%@ %@ %d %d tokens %.3f s", request.method.rawValue, request.uri.path, status, tokens, seconds))
    }
}

/// Completions in flight (being generated or waiting for a batch slot), up to a limit.
final class Admission: @unchecked Sendable {  // `count` is guarded by `lock`
    private let lock = NSLock()
    private var count = 0
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Places taken, given back when the ticket is released (by whatever path the response ends,
    /// including a response whose body is never written).
    final class Ticket: Sendable {
        let admission: Admission
        let places: Int

        init(_ admission: Admission, places: Int) {
            self.admission = admission
            self.places = places
        }

        deinit { admission.leave(places) }
    }

    /// Takes `places`, or returns nil if there are not that many free.
    func enter(_ places: Int) -> Ticket? {
        let taken = lock.withLock {
            guard count + places <= limit else { return false }
            count += places
            return true
        }
        return taken ? Ticket(self, places: places) : nil
    }

    fileprivate func leave(_ places: Int) {
        lock.withLock { count -= places }
    }
}
