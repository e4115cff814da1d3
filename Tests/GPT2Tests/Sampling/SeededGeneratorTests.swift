import Testing
@testable import GPT2

@Suite("SeededGenerator")
struct SamplingSeededGeneratorTests {
    @Test("xoshiro256** matches the reference outputs for state (1, 2, 3, 4)")
    func xoshiroReferenceVector() {
        // The first outputs of Blackman & Vigna's reference C code from this state.
        var generator = SeededGenerator(state: (1, 2, 3, 4))
        let expected: [UInt64] = [11520, 0, 1_509_978_240, 1_215_971_899_390_074_240, 1_216_172_134_540_287_360, 607_988_272_756_665_600]
        #expect((0..<expected.count).map { _ in generator.next() } == expected)
    }

    @Test("SplitMix64 matches its reference outputs")
    func splitMixReferenceVector() {
        var splitMix = SplitMix64(state: 1_234_567)
        let expected: [UInt64] = [
            6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423,
            4_593_380_528_125_082_431, 16_408_922_859_458_223_821,
        ]
        #expect((0..<expected.count).map { _ in splitMix.next() } == expected)
    }

    @Test("init(seed:) fills the state from SplitMix64")
    func seededOutputs() {
        // Computed with an independent implementation of SplitMix64 + xoshiro256**.
        var generator = SeededGenerator(seed: 0)
        #expect(generator.next() == 11_091_344_671_253_066_420)
        #expect(generator.next() == 13_793_997_310_169_335_082)
        #expect(generator.next() == 1_900_383_378_846_508_768)
        var other = SeededGenerator(seed: 42)
        #expect(other.next() == 1_546_998_764_402_558_742)
    }

    @Test("the same seed gives the same sequence, different seeds different ones")
    func reproducible() {
        var a = SeededGenerator(seed: 2024)
        var b = SeededGenerator(seed: 2024)
        var c = SeededGenerator(seed: 2025)
        let sa = (0..<1000).map { _ in a.next() }
        let sb = (0..<1000).map { _ in b.next() }
        let sc = (0..<1000).map { _ in c.next() }
        #expect(sa == sb)
        #expect(sa != sc)
        #expect(zip(sa, sc).filter { $0 == $1 }.count == 0)
    }

    @Test("nextUnitInterval is in [0, 1) and roughly uniform")
    func unitInterval() {
        var generator = SeededGenerator(seed: 9)
        var sum = 0.0
        var bins = [Int](repeating: 0, count: 10)
        let count = 20000
        for _ in 0..<count {
            let u = generator.nextUnitInterval()
            #expect(u >= 0 && u < 1)
            sum += u
            bins[min(9, Int(u * 10))] += 1
        }
        #expect(abs(sum / Double(count) - 0.5) < 0.01)
        for bin in bins { #expect(abs(bin - count / 10) < 200) } // about 7 standard deviations
    }

    @Test("works as a RandomNumberGenerator")
    func standardLibraryUse() {
        var a = SeededGenerator(seed: 5)
        var b = SeededGenerator(seed: 5)
        let x = (0..<100).map { _ in Int.random(in: 0..<1000, using: &a) }
        let y = (0..<100).map { _ in Int.random(in: 0..<1000, using: &b) }
        #expect(x == y)
        #expect(Set(x).count > 50)
    }
}
