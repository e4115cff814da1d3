import Foundation
import Testing
@testable import GPT2

/// safetensors headers from an untrusted checkpoint: every number is checked against the file
/// before it is used.
@Suite struct HostileSafeTensorsTests {
    static let url = URL(fileURLWithPath: "/hostile/model.safetensors")

    /// A safetensors image: the declared header length (the real one unless given), header, data.
    static func image(_ header: String, declaredLength: UInt64? = nil, data: [UInt8] = []) -> [UInt8] {
        let json = Array(header.utf8)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: (declaredLength ?? UInt64(json.count)).littleEndian) { bytes.append(contentsOf: $0) }
        return bytes + json + data
    }

    static func parse(_ bytes: [UInt8]) throws -> [String: SafeTensorsFile.Entry] {
        try bytes.withUnsafeBytes { try SafeTensorsFile.parseHeader($0, url: url) }
    }

    static func error(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> ModelLoadingError? {
        Hostile.loadingError(sourceLocation: sourceLocation) { _ = try Self.parse(bytes) }
    }

    static func tensor(_ dtype: String = "F32", shape: String, offsets: String) -> String {
        #"{"t": {"dtype": "\#(dtype)", "shape": \#(shape), "data_offsets": \#(offsets)}}"#
    }

    @Test(arguments: [UInt64.max, UInt64(Int.max), 1 << 63, 100_000_001, 9])
    func headerLengthPastTheFile(_ length: UInt64) {
        #expect(Self.error(Self.image("{}", declaredLength: length))?.kind == .invalidSafetensors)
    }

    @Test func headerLengthOverTheLimitIsRefusedEvenIfTheFileIsThatLong() throws {
        // Checked against the 100 MB cap without parsing: the file is only as long as declared.
        let error = Self.error(Self.image("{}", declaredLength: UInt64(SafeTensorsFile.maxHeaderBytes) + 1)
                               + [UInt8](repeating: 0x20, count: SafeTensorsFile.maxHeaderBytes))
        #expect(error?.kind == .invalidSafetensors)
    }

    /// Products of dimensions overflow `Int` in every order, including after a zero.
    @Test(arguments: ["[2305843009213693952, 2305843009213693952]", "[2, 2305843009213693952]",
                      "[3037000500, 3037000500]", "[1152921504606846976, 8]"])
    func shapeProductOverflows(_ shape: String) {
        let error = Self.error(Self.image(Self.tensor(shape: shape, offsets: "[0, 0]")))
        #expect(error?.kind == .invalidSafetensors)
        #expect(error?.detail.contains("overflow") == true, "\(String(describing: error))")
    }

    /// A zero dimension makes the tensor empty whatever the others are; its element count must
    /// not overflow either.
    @Test func zeroDimensionWithHugeOthers() throws {
        let entries = try Self.parse(Self.image(Self.tensor("U8", shape: "[0, 2305843009213693952, 2305843009213693952]", offsets: "[0, 0]")))
        #expect(entries["t"]?.elementCount == 0)
        #expect(entries["t"]?.range.isEmpty == true)
    }

    @Test(arguments: ["[-1]", "[1.5]", "[1e300]", "[4611686018427387904]", "[\"4\"]", "[null]", "{}", "4", "[[4]]"])
    func badShape(_ shape: String) {
        #expect(Self.error(Self.image(Self.tensor(shape: shape, offsets: "[0, 4]"), data: [0, 0, 0, 0]))?.kind == .invalidSafetensors)
    }

    @Test(arguments: ["[0]", "[0, 4, 8]", "[-4, 0]", "[0, 9223372036854775807]", "[9223372036854775807, 9223372036854775807]",
                      "[4, 0]", "[0, 1e2]", "[0.5, 4.5]", "[\"0\", \"4\"]", "null"])
    func badOffsets(_ offsets: String) {
        #expect(Self.error(Self.image(Self.tensor(shape: "[1]", offsets: offsets), data: [0, 0, 0, 0]))?.kind == .invalidSafetensors)
    }

    @Test func offsetsJustPastTheData() {
        let error = Self.error(Self.image(Self.tensor("U8", shape: "[5]", offsets: "[0, 5]"), data: [1, 2, 3, 4]))
        #expect(error?.kind == .invalidSafetensors)
    }

    @Test func deeplyNestedHeaderIsAnErrorNotAStackOverflow() {
        let header = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(Self.error(Self.image(header))?.kind == .invalidSafetensors)
    }

    @Test(arguments: ["", "   ", "\u{0}", "[]", "\"x\"", #"{"t": 4}"#, #"{"t": {"dtype": 4}}"#, #"{"t": {"shape": [1]}}"#])
    func malformedHeaders(_ header: String) {
        #expect(Self.error(Self.image(header))?.kind == .invalidSafetensors)
    }

    // As strict as the reference implementation (the `safetensors` crate), which refuses each of these.

    @Test(arguments: [#""x""#, "[]", "4", #"{"k": 4}"#, #"{"k": ["v"]}"#])
    func metadataThatIsNotAnObjectOfStrings(_ metadata: String) {
        let header = #"{"__metadata__": \#(metadata), "t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#
        let error = Self.error(Self.image(header, data: [0, 0, 0, 0]))
        #expect(error?.kind == .invalidSafetensors && "\(error!)".contains("__metadata__"), "\(String(describing: error))")
    }

    @Test func metadataOfStringsIsAccepted() throws {
        let header = #"{"__metadata__": {"format": "pt"}, "t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#
        #expect(try Self.parse(Self.image(header, data: [0, 0, 0, 0]))["t"]?.shape == [1])
    }

    @Test(arguments: ["[true]", "[1.0]", "[1e0]", "[false, 1]"])
    func shapeOfNonIntegers(_ shape: String) {
        #expect(Self.error(Self.image(Self.tensor(shape: shape, offsets: "[0, 4]"), data: [0, 0, 0, 0]))?.kind == .invalidSafetensors)
    }

    @Test(arguments: ["[0.0, 4]", "[0, 4.0]", "[false, 4]", "[0, 4e0]"])
    func offsetsOfNonIntegers(_ offsets: String) {
        #expect(Self.error(Self.image(Self.tensor(shape: "[1]", offsets: offsets), data: [0, 0, 0, 0]))?.kind == .invalidSafetensors)
    }

    @Test func aHoleInTheDataIsRefused() {
        let header = #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}"#
        let error = Self.error(Self.image(header, data: Array(repeating: 0, count: 12)))
        #expect(error?.kind == .invalidSafetensors && "\(error!)".contains("hole of 4 bytes"), "\(String(describing: error))")
    }

    @Test func dataBeforeTheFirstTensorIsRefused() {
        let error = Self.error(Self.image(Self.tensor(shape: "[1]", offsets: "[4, 8]"), data: Array(repeating: 0, count: 8)))
        #expect(error?.kind == .invalidSafetensors && "\(error!)".contains("hole"), "\(String(describing: error))")
    }

    @Test(arguments: [1, 4, 100])
    func bytesAfterTheLastTensorAreRefused(_ extra: Int) {
        let error = Self.error(Self.image(Self.tensor(shape: "[1]", offsets: "[0, 4]"), data: Array(repeating: 0, count: 4 + extra)))
        #expect(error?.kind == .invalidSafetensors && "\(error!)".contains("\(extra) bytes after the last tensor"), "\(String(describing: error))")
    }

    @Test func zeroSizeTensorsAnywhereAreAccepted() throws {
        let header = #"{"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "c": {"dtype": "F32", "shape": [2, 0], "data_offsets": [4, 4]}}"#
        #expect(try Self.parse(Self.image(header, data: [0, 0, 0, 0])).count == 3)
    }
}
