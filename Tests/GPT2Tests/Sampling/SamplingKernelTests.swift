import Foundation
import Testing
@testable import GPT2
@testable import GPT2Kernels

/// The arithmetic the processors and the draw share (weights, argmax, non-finite logits, the
/// draw's intervals) and top-k's selection, checked against plain references.
@Suite("Sampling building blocks")
struct SamplingKernelTests {
    @Test("weights are the kernels' fastExp, accurate on [-87.3, 0] and exactly 0 below and for -infinity or NaN")
    func exponential() {
        var worst = 0.0
        var x: Float = -87.3
        while x <= 0 {
            let approximation = Double(weight(x))
            let exact = exp(Double(x))
            worst = max(worst, abs(approximation - exact) / exact)
            x += 0.0137
        }
        #expect(worst < 3e-7) // about 2.5 ulp
        #expect(weight(0) == 1)
        #expect(weight(-88) == 0)
        #expect(weight(-.infinity) == 0)
        #expect(weight(.nan) == 0)
        // One exp in the package: the sampler's is the kernels'.
        for x: Float in [-0.1, -3.3, -20, -87.2] { #expect(weight(x) == fastExp(x)) }
    }

    @Test("maximum and argmax ignore NaN, take the lowest index on ties, and cover any length")
    func maximumAndArgmax() {
        for count in [1, 5, 16, 17, 31, 32, 33, 100] {
            for position in [0, count / 2, count - 1] {
                var values = (0..<count).map { Float($0 % 7) - 10 }
                values[position] = 3
                if count > 2 { values[(position + 1) % count] = .nan }
                #expect(Sampler.argmax(values) == position, "count \(count), position \(position)")
                #expect(maximumLogit(values) == 3)
            }
        }
        let ties: [Float] = (0..<40).map { $0 == 18 || $0 == 35 || $0 == 39 ? 1 : 0 }
        #expect(Sampler.argmax(ties) == 18)
        let nothing = [Float](repeating: .nan, count: 20)
        #expect(Sampler.argmax(nothing) == 0)
        #expect(maximumLogit(nothing) == -.infinity)
        #expect(maximumLogit([]) == -.infinity)
    }

    @Test("the kernels' indices(of:count:greaterThan:) finds every qualifying value, in chunks and tail, never a NaN")
    func indicesAboveThreshold() {
        for count in [0, 1, 7, 8, 9, 16, 63, 64, 65, 1001] {
            var values = (0..<count).map { Float(($0 * 37) % 11) - 5 }
            for i in stride(from: 3, to: count, by: 13) { values[i] = .nan }
            for threshold: Float in [-.infinity, -6, 0, 4.5, 5] {
                let found = values.withUnsafeBufferPointer { buffer in
                    buffer.baseAddress.map { indices(of: $0, count: buffer.count, greaterThan: threshold) } ?? []
                }
                #expect(found == values.indices.filter { values[$0] > threshold }, "count \(count), threshold \(threshold)")
            }
        }
    }

    @Test("NaN becomes -infinity wherever it is; +infinity logits share the probability")
    func nonFiniteLogits() {
        var values = (0..<37).map { Float($0) / 10 }
        for i in [0, 15, 16, 33, 36] { values[i] = .nan }
        let original = values
        NonFiniteLogits().process(&values, history: [])
        for i in [0, 15, 16, 33, 36] { #expect(values[i] == -.infinity) }
        #expect(values.filter(\.isNaN).isEmpty)
        #expect(zip(values, original).allSatisfy { $0 == $1 || $1.isNaN })
        values[3] = .infinity
        values[30] = .infinity
        NonFiniteLogits().process(&values, history: [])
        #expect(values.indices.filter { values[$0] == 0 } == [3, 30])
        #expect(values.indices.filter { values[$0] != -.infinity } == [3, 30])
    }

    @Test("TokenWeights holds the tokens above -infinity, in id order, with exp weights and their sum")
    func tokenWeights() {
        var values = SamplingFixtures.logits(count: 1001, seed: 2, scale: 3)
        for i in stride(from: 0, to: values.count, by: 7) { values[i] = -.infinity }
        values[500] = -200 // underflows: weight exactly 0
        let maximum = values.max()!
        let distribution = TokenWeights(values)
        #expect(distribution.ids == values.indices.filter { values[$0] > -.infinity })
        #expect(zip(distribution.ids, distribution.weights).allSatisfy { $0 != 500 || $1 == 0 })
        let expected = values.reduce(0.0) { $0 + exp(Double($1) - Double(maximum)) }
        #expect(abs(distribution.total - expected) < 1e-5 * expected)
        let worst = zip(distribution.ids, distribution.weights).filter { $0.0 != 500 }.map { id, w in
            let exact = exp(Double(values[id] - maximum))
            return abs(Double(w) - exact) / exact
        }.max()!
        #expect(worst < 3e-7)
        #expect(distribution.weights.max() == 1)
        #expect(TokenWeights([-.infinity, -.infinity]).ids.isEmpty)
        // Every token finite: the contiguous path gives the same weights.
        let dense = TokenWeights(values.map { max($0, -50) })
        #expect(dense.ids == Array(values.indices))
        #expect(zip(distribution.ids, distribution.weights).allSatisfy { id, w in id == 500 || dense.weights[id] == w })
    }

    @Test("the draw finds the interval containing u · total, in id order")
    func cumulative() {
        // Weights 1, 2, 1 (relative to the maximum: 0.5, 1, 0.5) at ids 3, 20, 47; total 4.
        var logits = [Float](repeating: -.infinity, count: 50)
        logits[3] = 0
        logits[20] = log(2)
        logits[47] = 0
        #expect(Sampler.draw(from: logits, 0) == 3)
        #expect(Sampler.draw(from: logits, 0.2499) == 3)
        #expect(Sampler.draw(from: logits, 0.2501) == 20)
        #expect(Sampler.draw(from: logits, 0.7499) == 20)
        #expect(Sampler.draw(from: logits, 0.7501) == 47)
        #expect(Sampler.draw(from: logits, 0.999_999) == 47)
        #expect(Sampler.draw(from: logits, 1.1) == 47) // rounding overshoot
        #expect(Sampler.draw(from: [Float](repeating: -.infinity, count: 5), 0.5) == 0)
    }

    /// The ids by (value descending, index ascending), from a full sort; NaN and -infinity left out.
    func ranking(_ values: [Float]) -> [Int] {
        values.indices.filter { !values[$0].isNaN && values[$0] > -.infinity }
            .sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
    }

    /// The tokens `TopKProcessor` leaves drawable, in ranking order.
    func selected(_ values: [Float], k: Int) -> [Int] {
        var processed = values
        TopKProcessor(k).process(&processed, history: [])
        let kept = processed.indices.filter { processed[$0] > -.infinity }
        #expect(kept.allSatisfy { processed[$0] == values[$0] }, "survivors keep their logits")
        return kept.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
    }

    @Test("top-k equals a full sort, ties and NaN included")
    func topKSelection() {
        let random = SamplingFixtures.logits(count: 5000, seed: 13)
        // Few distinct values: many ties, decided by index.
        let coarse = random.map { ($0 * 2).rounded() }
        var holes = random
        for i in stride(from: 0, to: holes.count, by: 4) { holes[i] = i % 8 == 0 ? .nan : -.infinity }
        let ascending = (0..<3000).map { Float($0) }
        for values in [random, coarse, holes, ascending, Array(ascending.reversed())] {
            for k in [1, 2, 17, 100, 1000, 2999] {
                #expect(selected(values, k: k) == Array(ranking(values).prefix(k)), "k = \(k)")
            }
        }
        // Fewer finite values than k.
        var sparse = [Float](repeating: -.infinity, count: 300)
        sparse[7] = 1
        sparse[250] = 2
        #expect(selected(sparse, k: 10) == [250, 7])
    }

    @Test("top-k on a large vocabulary, including the best tokens spread evenly")
    func topKSelectionLarge() {
        let n = 50257
        let values = SamplingFixtures.logits(count: n, seed: 14)
        let order = ranking(values)
        for k in [1, 40, 5000] {
            #expect(selected(values, k: k) == Array(order.prefix(k)), "k = \(k)")
        }
        // Every (n / 1024)-th value the largest (the pattern that defeated the old sampled
        // threshold), the rest with many ties.
        var adversarial = [Float](repeating: 0, count: n)
        for i in 0..<n { adversarial[i] = Float(i % 1000) / 1000 }
        let stride = n / 1024
        for j in 0..<1024 { adversarial[j * stride] = 10 }
        let adversarialOrder = ranking(adversarial)
        #expect(selected(adversarial, k: 40) == Array(adversarialOrder.prefix(40)))
        #expect(selected(adversarial, k: 2000) == Array(adversarialOrder.prefix(2000)))
    }

    @Test("top-k keeps exactly the k best among many ties, for any k")
    func topKTiesRandom() {
        for seed in 0..<20 as Range<UInt64> {
            var generator = SeededGenerator(seed: seed)
            let count = 2 + Int(generator.next() % 3000)
            let k = 1 + Int(generator.next() % UInt64(count - 1))
            let values = (0..<count).map { _ in Float(generator.next() % 50) } // many ties
            #expect(selected(values, k: k) == Array(ranking(values).prefix(k)), "count \(count), k \(k)")
        }
    }
}
