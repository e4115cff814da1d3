import Foundation
import Hummingbird

/// The page's files (`Page/`: HTML, script, style, as Swift strings so that they are part of the
/// binary and nothing is fetched from elsewhere) and the responses that carry them.
enum Page {
    /// A file of the page: never cached stale (`no-cache` revalidates), and under a policy that
    /// lets it load nothing but this server's own script, style and API.
    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [
            .contentType: type, .cacheControl: "no-cache", .xContentTypeOptions: "nosniff",
            .contentSecurityPolicy: "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'none'",
        ], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func jsonData(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data("{}".utf8)
    }

    static func json(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: jsonData(object))))
    }
}
