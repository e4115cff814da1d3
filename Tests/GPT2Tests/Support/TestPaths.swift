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

    /// A new empty directory under the system's temporary directory.
    static func temporaryDirectory(_ label: String = "gpt2-tests") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
