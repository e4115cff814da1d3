import Foundation
import Testing
@testable import GPT2
@testable import GPT2Kernels


@Suite("Sampling kernels")
struct SamplingKernelTests {
    @Test("exp is accurate on [-87.3, 0] and exact at the ends")
    func exponential() {
        var worst = 0.0
        var x: Float = -87.3
        while x <= 0 {
            let approximation = Double(SamplingKernels.exp(x))
            let exact = exp(Double(x))
            worst = max(worst, abs(approximation - exact) / exact)
            x += 0.0137
        }
        #expect(worst < 3e-7) // about 2.5 ulp
        #expect(SamplingKernels.exp(Float(0)) == 1)
        #expect(SamplingKernels.exp(Float(5)) == 1) // clamped: arguments are never positive
        #expect(SamplingKernels.exp(Float(-88)) == 0)
        #expect(SamplingKernels.exp(-Float.infinity) == 0)
        // The vector and scalar forms agree lane by lane.
        let lanes = SamplingKernels.Chunk((0..<16).map { -Float($0) * 3.3 })
        let vector = SamplingKernels.exp(lanes)
        for lane in 0..<16 { #expect(vector[lane] == SamplingKernels.exp(lanes[lane])) }
    }

    @Test("maximum and argmax ignore NaN, take the lowest index on ties, and cover the tail")
    func maximumAndArgmax() {
        for count in [1, 5, 16, 17, 31, 32, 33, 100] {
            for position in [0, count / 2, count - 1] {
                var values = (0..<count).map { Float($0 % 7) - 10 }
                values[position] = 3
                if count > 2 { values[(position + 1) % count] = .nan }
                let index = values.withUnsafeBufferPointer { SamplingKernels.argmax($0) }
                #expect(index == position, "count \(count), position \(position)")
                #expect(values.withUnsafeBufferPointer { SamplingKernels.maximum($0) } == 3)
            }
        }
        let ties: [Float] = (0..<40).map { $0 == 18 || $0 == 35 || $0 == 39 ? 1 : 0 }
        #expect(ties.withUnsafeBufferPointer { SamplingKernels.argmax($0) } == 18)
        let nothing = [Float](repeating: .nan, count: 20)
        #expect(nothing.withUnsafeBufferPointer { SamplingKernels.argmax($0) } == 0)
        #expect(nothing.withUnsafeBufferPointer { SamplingKernels.maximum($0) } == -.infinity)
    }

    @Test("maximumReplacingNaN replaces every NaN, in chunks and tail")
    func replacingNaN() {
        var values = (0..<37).map { Float($0) / 10 }
        for i in [0, 15, 16, 33, 36] { values[i] = .nan }
        let maximum = values.withUnsafeMutableBufferPointer { SamplingKernels.maximumReplacingNaN($0) }
        #expect(maximum == 3.5)
        for i in [0, 15, 16, 33, 36] { #expect(values[i] == -.infinity) }
        #expect(values.filter(\.isNaN).isEmpty)
        #expect(values[1] == 0.1 && values[35] == 3.5)
    }

    @Test("count(atLeast:) counts in chunks and tail")
    func countAtLeast() {
        let values = (0..<77).map { Float($0 % 10) }
        for threshold: Float in [-1, 0, 4.5, 9, 10] {
            let expected = values.filter { $0 >= threshold }.count
            #expect(values.withUnsafeBufferPointer { SamplingKernels.count(atLeast: threshold, in: $0) } == expected)
        }
    }

    @Test("sumOfWeights and replaceWithWeights match exp")
    func weights() {
        var values = SamplingFixtures.logits(count: 1001, seed: 2, scale: 3)
        let maximum = values.max()!
        let expected = values.reduce(0.0) { $0 + exp((Double($1) - Double(maximum)) / 0.7) }
        let sum = values.withUnsafeBufferPointer { SamplingKernels.sumOfWeights($0, maximum: maximum, inverseTemperature: 1 / 0.7) }
        #expect(abs(sum - expected) < 1e-5 * expected)
        let original = values
        let total = values.withUnsafeMutableBufferPointer { SamplingKernels.replaceWithWeights($0, maximum: maximum, inverseTemperature: 1 / 0.7) }
        #expect(abs(total - expected) < 1e-5 * expected)
        // Each weight is exp of the Float argument (l - max) * (1 / T) to within 3e-7.
        let inverse: Float = 1 / 0.7
        let worst = zip(values, original).map { w, l in
            let exact = exp(Double((l - maximum) * inverse))
            return abs(Double(w) - exact) / exact
        }.max()!
        #expect(worst < 3e-7)
    }

    @Test("indexOfCumulativeWeight finds the interval containing the target")
    func cumulative() {
        var weights = [Float](repeating: 0, count: 50)
        weights[3] = 1
        weights[20] = 2
        weights[47] = 1
        weights.withUnsafeBufferPointer { w in
            #expect(SamplingKernels.indexOfCumulativeWeight(w, exceeding: 0) == 3)
            #expect(SamplingKernels.indexOfCumulativeWeight(w, exceeding: 0.999) == 3)
            #expect(SamplingKernels.indexOfCumulativeWeight(w, exceeding: 1) == 20)
            #expect(SamplingKernels.indexOfCumulativeWeight(w, exceeding: 2.999) == 20)
            #expect(SamplingKernels.indexOfCumulativeWeight(w, exceeding: 3.5) == 47)
            #expect(SamplingKernels.indexOfCumulativeWeight(w, exceeding: 4.1) == 47) // rounding overshoot
        }
    }

    /// The ids by (value descending, index ascending), from a full sort; NaN and -infinity left out.
    func ranking(_ values: [Float]) -> [Int] {
        values.indices.filter { !values[$0].isNaN && values[$0] > -.infinity }
            .sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
    }

    /// The k best by (value descending, index ascending), from a full sort.
    func reference(_ values: [Float], k: Int) -> [Int] {
        Array(ranking(values).prefix(k))
    }

    func selected(_ values: [Float], k: Int) -> [Int] {
        let capacity = min(values.count, 2 * k + 64)
        var buffer = [Sampler.Candidate](repeating: .init(value: 0, id: 0), count: capacity)
        let count = values.withUnsafeBufferPointer { v in
            buffer.withUnsafeMutableBufferPointer { Sampler.selectTopK(v, k: k, buffer: $0) }
        }
        return buffer[0..<count].map { Int($0.id) }.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
    }

    @Test("selectTopK equals a full sort, ties and NaN included")
    func topKSelection() {
        let random = SamplingFixtures.logits(count: 5000, seed: 13)
        // Few distinct values: many ties, decided by index.
        let coarse = random.map { ($0 * 2).rounded() }
        var holes = random
        for i in stride(from: 0, to: holes.count, by: 4) { holes[i] = i % 8 == 0 ? .nan : -.infinity }
        let ascending = (0..<3000).map { Float($0) }
        for values in [random, coarse, holes, ascending, Array(ascending.reversed())] {
            for k in [1, 2, 17, 100, 1000, 2999] {
                #expect(selected(values, k: k) == reference(values, k: k), "k = \(k)")
            }
        }
        // Fewer finite values than k.
        var sparse = [Float](repeating: -.infinity, count: 300)
        sparse[7] = 1
        sparse[250] = 2
        #expect(selected(sparse, k: 10) == [250, 7])
    }

    @Test("selectTopK on a large vocabulary, including when the sampled threshold is wrong")
    func topKSelectionLarge() {
        let n = 50257
        let values = SamplingFixtures.logits(count: n, seed: 14)
        let order = ranking(values)
        for k in [1, 40, 5000] {
            #expect(selected(values, k: k) == Array(order.prefix(k)), "k = \(k)")
        }
        // The threshold estimate samples every (n / 1024)-th value: make exactly those the
        // largest, so that the estimate lets nothing through and the selection must start over.
        var adversarial = [Float](repeating: 0, count: n)
        for i in 0..<n { adversarial[i] = Float(i % 1000) / 1000 }
        let stride = n / 1024
        for j in 0..<1024 { adversarial[j * stride] = 10 }
        #expect(adversarial.withUnsafeBufferPointer { Sampler.estimatedThreshold($0, k: 40) } == 10)
        let adversarialOrder = ranking(adversarial)
        #expect(selected(adversarial, k: 40) == Array(adversarialOrder.prefix(40)))
        #expect(selected(adversarial, k: 2000) == Array(adversarialOrder.prefix(2000)))
    }

    @Test("selectBest puts the k best first, the k-th at k - 1")
    func quickselect() {
        for seed in 0..<20 as Range<UInt64> {
            var generator = SeededGenerator(seed: seed)
            let count = 1 + Int(generator.next() % 3000)
            let k = 1 + Int(generator.next() % UInt64(count))
            let values = (0..<count).map { _ in Float(generator.next() % 50) } // many ties
            var candidates = values.enumerated().map { Sampler.Candidate(value: $1, id: Int32($0)) }
            candidates.withUnsafeMutableBufferPointer { Sampler.selectBest($0, count: count, k: k) }
            let sorted = values.enumerated().map { Sampler.Candidate(value: $1, id: Int32($0)) }
                .sorted(by: Sampler.ranksBefore)
            #expect(Set(candidates.prefix(k).map(\.id)) == Set(sorted.prefix(k).map(\.id)))
            #expect(candidates[k - 1].id == sorted[k - 1].id)
        }
    }
}
