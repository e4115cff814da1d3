import Foundation
import Testing
import TestSupport
@testable import GPT2
@testable import GPT2Kernels

/// `WeightPrecision.float16`: the half conversions against Swift's own `Float16`, and models kept
/// in float16 against the same models in float32.
@Suite struct HalfPrecisionTests {
    static let finiteHalves: [UInt16] = (0...UInt16.max).filter { $0 & 0x7c00 != 0x7c00 }

    #if !(os(macOS) && arch(x86_64))  // Swift's Float16 is not available there
    @Test("every finite half widens exactly, one at a time and eight at a time, and rounds back to itself")
    func widening() {
        let halves = Self.finiteHalves  // 63,488 patterns, a multiple of 8
        for h in halves {
            let value = floatFromHalf(h)
            #expect(value.bitPattern == Float(Float16(bitPattern: h)).bitPattern, "half \(h)")
            #expect(halfFromFloat(value) == h, "half \(h)")
        }
        halves.withUnsafeBytes { raw in
            for block in 0..<(halves.count / 8) {
                let vector = floatsFromHalves(raw.baseAddress!, byteOffset: 16 * block)
                for lane in 0..<8 {
                    #expect(vector[lane].bitPattern == floatFromHalf(halves[8 * block + lane]).bitPattern,
                            "half \(halves[8 * block + lane])")
                }
            }
        }
    }

    @Test("float → half rounds to nearest, ties to even, like Swift's Float16 (overflow to infinity)")
    func narrowing() {
        var rng = TestRandom(seed: 16)
        var checked = 0
        while checked < 200_000 {
            let value = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng))
            guard !value.isNaN else { continue }
            #expect(halfFromFloat(value) == Float16(value).bitPattern, "float \(value.bitPattern)")
            checked += 1
        }
        // the ties: halfway between two halves goes to the even one
        #expect(halfFromFloat(1 + 0x1p-11) == 0x3c00)
        #expect(halfFromFloat(1 + 3 * 0x1p-11) == 0x3c02)
        #expect(halfFromFloat(0x1p-25) == 0)           // half the smallest subnormal: to even (zero)
        #expect(halfFromFloat(0x1.8p-25) == 0x0001)
        #expect(halfFromFloat(65520) == 0x7c00)          // rounds past 65504: infinity
    }
    #endif

    @Test("halves scaled up by a power of two keep their values exactly, and none stays subnormal")
    func scalingUp() {
        // every finite half below 64 in magnitude: scaled by 2¹⁰, which lifts the subnormals
        var halves = Self.finiteHalves.filter { $0 & 0x7fff < 0x5400 }
        let scale = scaleHalvesUp(&halves, count: halves.count)
        #expect(scale == 0x1p-10)
        for (original, scaled) in zip(Self.finiteHalves.filter { $0 & 0x7fff < 0x5400 }, halves) {
            #expect(floatFromHalf(scaled) * scale == floatFromHalf(original), "half \(original)")
            #expect(scaled & 0x7c00 != 0 || scaled & 0x7fff == 0, "half \(original) is still subnormal")
        }
        // the largest magnitude decides: 300 · 2⁷ fits under 65504, 300 · 2⁸ does not; 65504 leaves no room
        var large: [UInt16] = [halfFromFloat(-300), 0x0001, halfFromFloat(0.5)]
        #expect(scaleHalvesUp(&large, count: 3) == 0x1p-7)
        let expected: [Float] = [-300 * 128, 0x1p-24 * 128, 64]
        #expect(large.map(floatFromHalf) == expected)
        var full: [UInt16] = [halfFromFloat(65504), 0x0001]
        #expect(scaleHalvesUp(&full, count: 2) == 1)
        #expect(full == [halfFromFloat(65504), 0x0001])
    }

    @Test("a float16 checkpoint kept in float16 gives the logits and continuations of float32",
          arguments: [WeightResidency.mapped, .resident])
    func float16Checkpoint(residency: WeightResidency) throws {
        let directory = TestPaths.reference.appendingPathComponent("small-gpt2-f16")
        let single = try GPT2Model(directory: directory)
        let half = try GPT2Model(directory: directory, residency: residency, precision: .float16)
        #expect(half.decodeBytesPerToken * 2 == single.decodeBytesPerToken)
        #expect(residency == .resident || half.convertedWeightBytes < single.convertedWeightBytes / 4)
        for example in try ReferenceFile.load("small-gpt2-f16").cases {
            let expected = try single.forward(example.input_ids, cache: try single.makeCache(), logits: .all).values
            let actual = try half.forward(example.input_ids, cache: try half.makeCache(), logits: .all).values
            #expect(zip(expected, actual).map { abs($0 - $1) }.max()! <= 1e-5)
            // decode: single rows through the float16 small-batch kernels
            let cache = try half.makeCache()
            var logits = try half.forward(example.input_ids, cache: cache)
            var generated: [Int] = []
            for _ in 0..<20 {
                generated.append(argmax(logits.last))
                logits = try half.forward([generated.last!], cache: cache)
            }
            #expect(generated == example.greedy_20)
        }
    }

    #if !(os(macOS) && arch(x86_64))
    @Test("float32 weights kept in float16 equal the same weights rounded to float16 beforehand")
    func roundedAtLoad() throws {
        let matrices = ["wte.weight", "attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"]
        var rounded = try CheckpointLayoutTests.fixture()
        for i in rounded.tensors.indices where matrices.contains(where: { rounded.tensors[i].name.hasSuffix($0) }) {
            let floats = rounded.tensors[i].data.withUnsafeBytes { $0.bindMemory(to: Float.self).map { Float(Float16($0)) } }
            rounded.tensors[i].data = floats.withUnsafeBytes { Data($0) }
        }
        let roundedDirectory = try CheckpointLayoutTests.directory(rounded)
        let expected = try CheckpointLayoutTests.logits(roundedDirectory)
        let half = try GPT2Model(directory: CheckpointLayoutTests.source, precision: .float16)
        let prompt = CheckpointLayoutTests.prompt
        let actual = try half.forward(prompt, cache: try half.makeCache(), logits: .all).values
        #expect(zip(expected, actual).map { abs($0 - $1) }.max()! <= 1e-5)
        // and the rounding did move them: the test would not notice a float32 path otherwise
        let unrounded = try CheckpointLayoutTests.logits(CheckpointLayoutTests.source)
        #expect(zip(unrounded, actual).map { abs($0 - $1) }.max()! > 1e-6)
    }
    #endif

    @Test("finite weights float16 cannot hold are refused at float16 precision, naming the tensor", arguments: [Float(1e6), -70000])
    func unrepresentable(value: Float) throws {
        var writer = try CheckpointLayoutTests.fixture()
        let i = writer.tensors.firstIndex { $0.name.hasSuffix("h.0.mlp.c_fc.weight") }!
        writer.tensors[i].data.replaceSubrange(0..<4, with: withUnsafeBytes(of: value) { Data($0) })
        let directory = try CheckpointLayoutTests.directory(writer)
        _ = try GPT2Model(directory: directory.url)  // float32 takes it as it is
        let error = try #require(throws: ModelLoadingError.self) {
            try GPT2Model(directory: directory.url, precision: .float16)
        }
        #expect(error.kind == .invalidValue)
        #expect(error.description.contains("h.0.mlp.c_fc.weight"))
    }

    // infinities and NaNs are refused at every precision (HostileWeightValueTests)
}
