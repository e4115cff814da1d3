import Foundation
import Hummingbird

/// A request the page's API refuses, as `{"error": {"message", "param"}}` with its status: the
/// shape of the OpenAI API's errors, so that one client reads both.
struct PageError: Error {
    var status: HTTPResponse.Status
    var message: String
    /// The form field or query parameter at fault (the page marks it), if one is.
    var param: String?

    init(_ status: HTTPResponse.Status, _ message: String, param: String? = nil) {
        self.status = status
        self.message = message
        self.param = param
    }

    static func invalid(_ param: String, _ message: String) -> PageError {
        PageError(.badRequest, message, param: param)
    }

    var response: Response {
        Page.json(["error": ["message": message, "param": param ?? NSNull()] as [String: Any]], status: status)
    }
}
