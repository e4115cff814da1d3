import Foundation
import Hummingbird

/// An error in the OpenAI API's shape: `{"error": {"message", "type", "param", "code"}}`, with
/// its HTTP status.
struct APIError: Error {
    var status: HTTPResponse.Status
    var message: String
    var type: String
    var param: String?
    var code: String?
    /// Extra response headers (e.g. Retry-After).
    var headers: HTTPFields = [:]

    /// A request value that is missing, of the wrong type or out of range (400).
    static func invalid(_ param: String?, _ message: String) -> APIError {
        APIError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: nil)
    }

    var response: Response {
        let error: [String: Any] = ["message": message, "type": type, "param": param ?? NSNull(), "code": code ?? NSNull()]
        var headers = self.headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(data: JSON.data(["error": error]))))
    }
}

enum JSON {
    static func data(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data("{}".utf8)
    }

    static func response(_ object: Any) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(data: data(object))))
    }
}

extension ByteBuffer {
    init(data: Data) {
        self.init(bytes: data)
    }
}
