import Foundation
import Testing
import TestSupport
@testable import GPT2Hub

@Suite struct SHA256Tests {
    static func digest(_ bytes: [UInt8], pieces: [Int] = []) -> String {
        var hasher = SHA256()
        var start = 0
        for end in pieces + [bytes.count] where end >= start {
            bytes[start..<end].withUnsafeBytes { hasher.update($0) }
            start = end
        }
        return hasher.hexDigest()
    }

    /// FIPS 180-4's examples (csrc.nist.gov, "SHA256.pdf", "SHA2_Additional.pdf").
    @Test("the NIST example messages", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func nistExamples(message: String, expected: String) {
        #expect(Self.digest(Array(message.utf8)) == expected)
    }

    @Test("a million 'a's, fed in uneven pieces")
    func millionAs() {
        let bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        #expect(Self.digest(bytes) == expected)
        #expect(Self.digest(bytes, pieces: [1, 63, 64, 65, 127, 128, 1000, 999_999]) == expected)
    }

    /// Every length around the padding's edges (55, 56, 64 bytes), against coreutils' sha256sum.
    @Test("files of every length up to 130 bytes and the demo vocabulary, as sha256sum hashes them")
    func againstCoreutils() throws {
        let directory = try TestPaths.temporaryDirectory()
        var files: [URL] = [TestPaths.salesDemo.appendingPathComponent("vocab.json")]
        for length in 0...130 {
            files.append(try directory.write("f\(length)", bytes: (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }))
        }
        let output = try CommandRunner.runSystem("sha256sum", files.map(\.path))
        #expect(output.status == 0)
        let lines = output.stdout.split(separator: "\n")
        try #require(lines.count == files.count)
        for (file, line) in zip(files, lines) {
            let bytes = [UInt8](try Data(contentsOf: file))
            #expect(Self.digest(bytes, pieces: [bytes.count / 3]) == String(line.prefix(64)), "\(file.lastPathComponent)")
        }
    }
}
