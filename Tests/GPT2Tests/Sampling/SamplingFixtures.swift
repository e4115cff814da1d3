import Foundation
@testable import GPT2

/// Shared helpers of the sampling tests.
enum SamplingFixtures {
    /// Logits drawn from a normal distribution (Box–Muller over a seeded generator).
    static func logits(count: Int, seed: UInt64, scale: Float = 1, offset: Float = 0) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            let u1 = max(generator.nextUnitInterval(), 1e-12)
            let u2 = generator.nextUnitInterval()
            return offset + scale * Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
        }
    }

    /// Logits uniform in `range`.
    static func uniformLogits(count: Int, seed: UInt64, in range: ClosedRange<Float>) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Float.random(in: range, using: &generator) }
    }

    /// Draws `count` tokens, with a fresh copy of `logits` each time.
    static func draws(_ sampler: inout Sampler, _ logits: [Float], count: Int, history: [Int] = []) -> [Int] {
        (0..<count).map { _ in
            var scratch = logits
            return sampler.sample(logits: &scratch, history: history)
        }
    }

    /// The candidate set straight from the definitions, in `Double`, independent of the code
    /// under test: softmax(logits / T) over the finite logits; top-k keeps the k most probable
    /// (lower id first on ties); top-p keeps the shortest most-probable prefix whose probability,
    /// renormalised over the top-k survivors, reaches topP; min-p keeps p >= minP · p_max.
    ///
    /// `margin` is the smallest distance between a quantity and the threshold it was compared
    /// with (cumulative probability vs topP, p / p_max vs minP): tests require it to be clearly
    /// positive so that rounding cannot decide membership.
    struct Expected {
        var ids: [Int]
        var probabilities: [Double]
        var margin: Double
    }

    static func expected(_ logits: [Float], temperature: Double, topK: Int = 0, topP: Double = 1, minP: Double = 0) -> Expected {
        var order = logits.indices.filter { logits[$0].isFinite }
        order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        let maximum = Double(logits[order[0]])
        var weights = order.map { exp((Double(logits[$0]) - maximum) / temperature) }
        var margin = Double.infinity
        if topK > 0 && topK < order.count {
            order = Array(order.prefix(topK))
            weights = Array(weights.prefix(topK))
        }
        if topP < 1 {
            let total = weights.reduce(0, +)
            var cumulative = 0.0
            var keep = order.count
            for i in order.indices {
                cumulative += weights[i] / total
                margin = min(margin, abs(cumulative - topP))
                if cumulative >= topP {
                    keep = i + 1
                    break
                }
            }
            order = Array(order.prefix(keep))
            weights = Array(weights.prefix(keep))
        }
        if minP > 0 {
            let largest = weights[0]
            var keptOrder: [Int] = []
            var keptWeights: [Double] = []
            for (id, w) in zip(order, weights) {
                margin = min(margin, abs(w / largest - minP))
                if w >= minP * largest {
                    keptOrder.append(id)
                    keptWeights.append(w)
                }
            }
            order = keptOrder
            weights = keptWeights
        }
        let total = weights.reduce(0, +)
        return Expected(ids: order, probabilities: weights.map { $0 / total }, margin: margin)
    }

    /// Pearson's chi-square statistic of `counts` against `probabilities` (same order).
    static func chiSquare(counts: [Int], probabilities: [Double]) -> Double {
        let n = Double(counts.reduce(0, +))
        return zip(counts, probabilities).reduce(0) { sum, pair in
            let expected = n * pair.1
            return sum + (Double(pair.0) - expected) * (Double(pair.0) - expected) / expected
        }
    }
}
