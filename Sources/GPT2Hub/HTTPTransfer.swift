import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The hub to download from: `$HF_ENDPOINT` (default the public hub), with `$HF_TOKEN` sent as a
/// bearer token to it (never to the storage a large file is redirected to).
public struct HubEndpoint: Sendable {
    public var url: URL
    public var token: String?
    /// Seconds without a byte before a request is given up (a stalled connection).
    public var idleTimeout: TimeInterval = 60

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let endpoint = environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://huggingface.co"
        url = URL(string: endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint) ?? URL(string: "https://huggingface.co")!
        token = environment["HF_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public init(url: URL, token: String? = nil) {
        self.url = url
        self.token = token
    }

    func request(_ url: URL, method: String = "GET") -> URLRequest {
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        request.setValue("swift-gpt2", forHTTPHeaderField: "User-Agent")
        if let token, url.host == self.url.host, url.port == self.url.port {
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        }
        return request
    }
}

/// One HTTP request on URLSession, its body handed to `receive` as it arrives. Redirects within
/// the origin (scheme, host and port) are followed; one to another origin (a large file's storage)
/// only when `followRedirects`, else the redirect itself is the response, as `huggingface_hub`
/// reads it.
/// (Foundation on Linux has no `URLSession.bytes`, so this is the delegate form.)
final class HTTPTransfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    // Every field is touched only on the session's serial delegate queue, then read after the
    // continuation resumes.
    private let followRedirects: Bool
    private let receive: (HTTPURLResponse, Data) throws -> Void
    private var response: HTTPURLResponse?
    private var failure: Error?
    private var continuation: CheckedContinuation<HTTPURLResponse, Error>?
    /// Set (on the delegate queue) when the calling task is cancelled, so that a request not yet
    /// started never starts: URLSession need not report the end of a task cancelled before resume.
    private var cancelled = false

    private init(followRedirects: Bool, receive: @escaping (HTTPURLResponse, Data) throws -> Void) {
        self.followRedirects = followRedirects
        self.receive = receive
    }

    /// Sends `request`; returns the final response once its body has been received whole.
    /// A `receive` that throws ends the transfer with its error.
    static func send(_ request: URLRequest, idleTimeout: TimeInterval, followRedirects: Bool = false,
                     receive: @escaping (HTTPURLResponse, Data) throws -> Void = { _, _ in }) async throws -> HTTPURLResponse {
        let transfer = HTTPTransfer(followRedirects: followRedirects, receive: receive)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = idleTimeout
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        let session = URLSession(configuration: configuration, delegate: transfer, delegateQueue: queue)
        defer { session.finishTasksAndInvalidate() }
        let task = session.dataTask(with: request)
        // Starting and cancelling both go through the serial delegate queue, so one of them comes
        // first: a running request is cancelled by URLSession, which then reports its end; one
        // not yet started is not started, and ends here.
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                queue.addOperation {
                    guard !transfer.cancelled else { return continuation.resume(throwing: URLError(.cancelled)) }
                    transfer.continuation = continuation
                    task.resume()
                }
            }
        } onCancel: {
            queue.addOperation {
                transfer.cancelled = true
                task.cancel()
            }
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        self.response = response as? HTTPURLResponse
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard failure == nil, let response else { return }
        do {
            try receive(response, data)
        } catch {
            failure = error
            dataTask.cancel()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        // the same origin is still the hub (a renamed repository); another is storage
        let from = task.originalRequest?.url, to = request.url
        let sameOrigin = from?.scheme == to?.scheme && from?.host == to?.host && from?.port == to?.port
        completionHandler(followRedirects || sameOrigin ? request : nil)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        let result: Result<HTTPURLResponse, Error>
        if let failure {
            result = .failure(failure)
        } else if let error {
            result = .failure(error)
        } else if let response {
            result = .success(response)
        } else {
            result = .failure(URLError(.badServerResponse))
        }
        continuation?.resume(with: result)
        continuation = nil
    }
}
