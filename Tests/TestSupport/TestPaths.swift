import Foundation

/// Where the tests find the project's own files (never `../shared`: tests run from a fresh clone).
package enum TestPaths {
    package static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // TestSupport
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    package static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures")
    package static let reference = fixtures.appendingPathComponent("reference")
    package static let salesDemo = packageRoot.appendingPathComponent("Models/sales-demo")

    /// A new empty directory under the system's temporary directory, removed with the returned object.
    package static func temporaryDirectory(_ label: String = "gpt2-tests") throws -> TemporaryDirectory {
        try TemporaryDirectory(label: label)
    }
}

/// A directory that is deleted, with its contents, when the last reference to it goes away.
package final class TemporaryDirectory {
    package let url: URL

    package init(label: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    package func appendingPathComponent(_ name: String) -> URL { url.appendingPathComponent(name) }
    package func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Writes `contents` to `name` in the directory and returns its URL.
    @discardableResult
    package func write(_ name: String, _ contents: String) throws -> URL {
        try write(name, bytes: Array(contents.utf8))
    }

    @discardableResult
    package func write(_ name: String, bytes: [UInt8]) throws -> URL {
        let file = url.appendingPathComponent(name)
        try Data(bytes).write(to: file)
        return file
    }
    package var path: String { url.path }
    package var lastPathComponent: String { url.lastPathComponent }

    deinit { try? FileManager.default.removeItem(at: url) }
}
