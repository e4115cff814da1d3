import Foundation

/// Where the tests find the project's own files (never `../shared`: tests run from a fresh clone).
enum TestPaths {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Support
        .deletingLastPathComponent()  // GPT2Tests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    static let fixtures = packageRoot.appendingPathComponent("Tests/GPT2Tests/Fixtures")
    static let reference = fixtures.appendingPathComponent("reference")
    static let salesDemo = packageRoot.appendingPathComponent("Models/sales-demo")

    /// A new empty directory under the system's temporary directory, removed with the returned object.
    static func temporaryDirectory(_ label: String = "gpt2-tests") throws -> TemporaryDirectory {
        try TemporaryDirectory(label: label)
    }
}

/// A directory that is deleted, with its contents, when the last reference to it goes away.
final class TemporaryDirectory {
    let url: URL

    init(label: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func appendingPathComponent(_ name: String) -> URL { url.appendingPathComponent(name) }
    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Writes `contents` to `name` in the directory and returns its URL.
    @discardableResult
    func write(_ name: String, _ contents: String) throws -> URL {
        try write(name, bytes: Array(contents.utf8))
    }

    @discardableResult
    func write(_ name: String, bytes: [UInt8]) throws -> URL {
        let file = url.appendingPathComponent(name)
        try Data(bytes).write(to: file)
        return file
    }
    var path: String { url.path }
    var lastPathComponent: String { url.lastPathComponent }

    deinit { try? FileManager.default.removeItem(at: url) }
}
