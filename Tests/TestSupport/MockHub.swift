import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `scripts/tests/mock_hub.py` on a free loopback port: the hub's endpoints, its headers and
/// faults on demand, so that no test touches the internet. Killed when released.
package final class MockHub {
    package let url: URL
    private let process: Process

    /// `repos`: repository id → folder whose files are the repository at one commit; `faults`
    /// as ``faults(_:)`` takes them, from the start.
    package init(repos: [String: URL], faults: String = "{}") throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", TestPaths.packageRoot.appendingPathComponent("scripts/tests/mock_hub.py").path]
            + repos.flatMap { ["--repo", "\($0.key)=\($0.value.path)"] } + ["--faults", faults]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        var line = Data()
        while !line.contains(0x0A) {
            let piece = out.fileHandleForReading.availableData
            guard !piece.isEmpty else { throw CocoaError(.fileReadUnknown) }
            line += piece
        }
        url = URL(string: String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))!
    }

    deinit {
        // SIGKILL: the test runner's children may inherit SIGTERM ignored
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Sets the faults of later requests, a JSON object (see mock_hub.py); `{}` clears them.
    package func faults(_ json: String) async throws {
        var request = URLRequest(url: url.appendingPathComponent("_faults"))
        request.httpMethod = "POST"
        request.httpBody = Data(json.utf8)
        _ = try await URLSession.shared.data(for: request)
    }

    /// Bytes of large (LFS) files sent so far, and every request but the tests' own (`/_stats`,
    /// `/_faults`) as [method, path, range].
    package func stats() async throws -> (lfsBytes: Int, requests: [[String?]]) {
        let (body, _) = try await URLSession.shared.data(from: url.appendingPathComponent("_stats"))
        let json = try JSONSerialization.jsonObject(with: body) as! [String: Any]
        let requests = (json["requests"] as! [[Any]]).map { $0.map { $0 as? String } }.filter { $0[1]?.hasPrefix("/_") == false }
        return (json["lfs_bytes"] as! Int, requests)
    }
}
