import Foundation
import GPT2Kernels

// The built-in processors, in the order the sampler runs them. Out-of-range settings never
// trap: each documents what they do instead. The loops over the whole vocabulary are written
// without conditions (`logits[i] = condition ? a : b`, not `for i in ... where condition`) so that
// they compile to vector code; the steps after top-k visit only the tokens it kept.

/// Adds a fixed bias to the logits of chosen tokens, as OpenAI's `logit_bias`: `+100` all but
/// forces a token, `-100` all but bans it, `-infinity` bans it outright.
///
/// Ids outside the logits are ignored.
public struct LogitBiasProcessor: LogitProcessor {
    /// The bias per token id.
    public var bias: [Int: Float]

    /// Creates a processor that adds `bias[id]` to the logit of each `id`.
    public init(_ bias: [Int: Float]) {
        self.bias = bias
    }

    public func process(_ logits: inout [Float], history: [Int]) {
        for (id, bias) in bias where logits.indices.contains(id) {
            logits[id] += bias
        }
    }
}

/// The repetition, presence and frequency penalties over the last tokens of the history.
///
/// For every distinct token id `t` in the last `contextSize` entries of the history (all of it
/// when `contextSize` is 0 or less), occurring `c` times there, with `l` its logit:
/// - repetition penalty `r` (CTRL, Hugging Face): `l = l > 0 ? l / r : l * r`, once;
/// - presence penalty (OpenAI): `l -= presencePenalty`, once;
/// - frequency penalty (OpenAI): `l -= frequencyPenalty * c`.
///
/// A repetition penalty of 1, or one that is NaN, infinite or `<= 0`, and presence or frequency
/// penalties that are 0 or not finite, are off. History ids outside the logits are ignored.
public struct PenaltyProcessor: LogitProcessor {
    /// The repetition penalty; 1 is off.
    public var repetitionPenalty: Float
    /// The presence penalty; 0 is off.
    public var presencePenalty: Float
    /// The frequency penalty; 0 is off.
    public var frequencyPenalty: Float
    /// How many of the last history tokens count; 0 means all of them.
    public var contextSize: Int

    /// Creates the penalties; the defaults are all off.
    public init(repetitionPenalty: Float = 1, presencePenalty: Float = 0, frequencyPenalty: Float = 0, contextSize: Int = 0) {
        self.repetitionPenalty = repetitionPenalty
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.contextSize = contextSize
    }

    public func process(_ logits: inout [Float], history: [Int]) {
        let r = repetitionPenalty.isFinite && repetitionPenalty > 0 ? repetitionPenalty : 1
        let presence = presencePenalty.isFinite ? presencePenalty : 0
        let frequency = frequencyPenalty.isFinite ? frequencyPenalty : 0
        guard r != 1 || presence != 0 || frequency != 0 else { return }

        let window = contextSize > 0 ? history.suffix(contextSize) : history[...]
        var counts: [Int: Int] = [:]
        for id in window where logits.indices.contains(id) { counts[id, default: 0] += 1 }
        for (id, count) in counts {
            var l = logits[id]
            if r != 1 { l = l > 0 ? l / r : l * r }
            logits[id] = l - presence - frequency * Float(count)
        }
    }
}

/// Divides the logits by the temperature: softmax(logits / T) is the distribution drawn from.
///
/// The largest logit is subtracted first, which leaves the softmax unchanged and keeps a tiny `T`
/// from overflowing the logits to infinity. A temperature that is NaN or `<= 0` leaves the logits
/// as they are (the sampler takes the argmax then). Expects logits that are finite or `-infinity`.
public struct TemperatureProcessor: LogitProcessor {
    /// The temperature `T`.
    public var temperature: Float

    /// Creates a processor dividing by `temperature`.
    public init(_ temperature: Float) {
        self.temperature = temperature
    }

    public func process(_ logits: inout [Float], history: [Int]) {
        guard temperature > 0, !logits.isEmpty else { return }
        let maximum = maximumLogit(logits)
        guard maximum.isFinite else { return }
        let t = min(temperature, .greatestFiniteMagnitude) // -infinity / t stays -infinity
        for i in logits.indices {
            logits[i] = (logits[i] - maximum) / t
        }
    }
}

/// Top-k: keeps the `k` largest logits (the lower id first among equal ones) and sets the others
/// to `-infinity`. NaN counts as `-infinity`. `k <= 0`, or `k` at least the number of logits, is off.
public struct TopKProcessor: LogitProcessor {
    /// How many tokens to keep.
    public var k: Int

    /// Creates a top-`k` filter.
    public init(_ k: Int) {
        self.k = k
    }

    public func process(_ logits: inout [Float], history: [Int]) {
        guard k > 0, k < logits.count else { return }
        // The k best tokens seen so far, in a heap with the worst of them at the root. Tokens come
        // in increasing id order, so a later one with the same logit ranks lower: only a strictly
        // larger logit displaces the root. Most tokens are rejected by that one comparison.
        typealias Entry = (logit: Float, id: Int)
        func worse(_ a: Entry, _ b: Entry) -> Bool {
            a.logit < b.logit || (a.logit == b.logit && a.id > b.id)
        }
        func siftDown(_ heap: inout [Entry], from start: Int) {
            var parent = start
            while true {
                var worst = parent
                let (left, right) = (2 * parent + 1, 2 * parent + 2)
                if left < heap.count && worse(heap[left], heap[worst]) { worst = left }
                if right < heap.count && worse(heap[right], heap[worst]) { worst = right }
                if worst == parent { return }
                heap.swapAt(parent, worst)
                parent = worst
            }
        }
        var heap: [Entry] = (0..<k).map { (logits[$0].isNaN ? -.infinity : logits[$0], $0) }
        for i in stride(from: k / 2 - 1, through: 0, by: -1) { siftDown(&heap, from: i) }
        var worstKept = heap[0].logit
        for id in k..<logits.count where logits[id] > worstKept {
            heap[0] = (logits[id], id)
            siftDown(&heap, from: 0)
            worstKept = heap[0].logit
        }
        // The heap holds exactly the k best: keep those.
        for i in logits.indices { logits[i] = -.infinity }
        for entry in heap { logits[entry.id] = entry.logit }
    }
}

/// Top-p (nucleus): keeps the smallest set of most probable tokens whose probabilities add up to at
/// least `p` (always at least one; the lower id first among equal ones), and sets the others to
/// `-infinity`.
///
/// The probabilities are the softmax of the logits as they come, so after ``TopKProcessor`` they
/// are renormalised over the top-k survivors, as in Hugging Face `generate`. `p` NaN or `>= 1` is
/// off; `p <= 0` keeps only the most likely token. Expects logits that are finite or `-infinity`.
public struct TopPProcessor: LogitProcessor {
    /// The probability mass to keep.
    public var p: Float

    /// Creates a top-`p` filter.
    public init(_ p: Float) {
        self.p = p
    }

    public func process(_ logits: inout [Float], history: [Int]) {
        guard p < 1, !logits.isEmpty else { return }
        let distribution = TokenWeights(logits)
        let target = Double(p) * distribution.total
        // The nucleus among the tokens with probability >= floor, by decreasing probability (the
        // lower id first among equal ones), and whether it reached p. When it did, it is the
        // nucleus: every token left out is less probable than every token in.
        func nucleus(floor: Double) -> (positions: [Int], reached: Bool) {
            let threshold = Float(floor * distribution.total)
            var order: [Int] = []
            order.reserveCapacity(distribution.weights.count)
            for position in distribution.weights.indices where distribution.weights[position] >= threshold {
                order.append(position)
            }
            order.sort { a, b in
                let (x, y) = (distribution.ids[a], distribution.ids[b])
                return logits[x] > logits[y] || (logits[x] == logits[y] && x < y)
            }
            var cumulative = 0.0
            for (n, position) in order.enumerated() {
                cumulative += Double(distribution.weights[position])
                if cumulative >= target { return (Array(order[...n]), true) }
            }
            return (order, false)
        }
        // Sorting only the likely tokens is enough, and much faster when top-k is off: first those
        // above 10^-4 (at most 10^4 of them), else those above (1 - p) / 2n, which always suffice:
        // all the tokens below it hold less than (1 - p) / 2 together.
        var (kept, reached) = nucleus(floor: 1e-4)
        if !reached { kept = nucleus(floor: (1 - Double(max(p, 0))) / Double(2 * logits.count)).positions }
        var keep = [Bool](repeating: false, count: distribution.ids.count)
        for position in kept { keep[position] = true }
        for (position, id) in distribution.ids.enumerated() where !keep[position] {
            logits[id] = -.infinity
        }
    }
}

/// Min-p: keeps the tokens whose probability is at least `p` times that of the most likely token,
/// and sets the others to `-infinity`.
///
/// `p` NaN or `<= 0` is off; `p = 1` keeps the most likely tokens (all of them if several are
/// equal); `p > 1` keeps only the most likely one with the lowest id. Expects logits that are
/// finite or `-infinity`.
public struct MinPProcessor: LogitProcessor {
    /// The fraction of the largest probability a token needs.
    public var p: Float

    /// Creates a min-`p` filter.
    public init(_ p: Float) {
        self.p = p
    }

    public func process(_ logits: inout [Float], history: [Int]) {
        guard p > 0, !logits.isEmpty else { return }
        let finite = finiteIndices(logits)
        guard p <= 1 else {
            let top = Sampler.argmax(logits)
            for id in finite where id != top { logits[id] = -.infinity }
            return
        }
        // p_i / p_max = exp(l_i - l_max) >= p  <=>  l_i >= l_max + ln p
        let cut = maximumLogit(logits) + log(p)
        for id in finite where logits[id] < cut {
            logits[id] = -.infinity
        }
    }
}

// MARK: - Shared arithmetic

/// The largest logit, ignoring NaN; `-infinity` when there is none (or no logits).
func maximumLogit(_ logits: [Float]) -> Float {
    logits.withUnsafeBufferPointer { buffer in
        buffer.baseAddress.map { maxElement($0, count: buffer.count) } ?? -.infinity
    }
}

/// The ids whose logit is above `-infinity` (not NaN), in increasing order: after top-k, a few
/// among many, which the kernels' vector search finds without visiting each.
func finiteIndices(_ logits: [Float]) -> [Int] {
    logits.withUnsafeBufferPointer { buffer in
        buffer.baseAddress.map { indices(of: $0, count: buffer.count, greaterThan: -.infinity) } ?? []
    }
}

/// `exp(x)` for `x <= 0`: the kernels' `fastExp`, and exactly 0 below -87.3 (where `exp` falls
/// under the smallest normal `Float`, and `fastExp` clamps), for `-infinity` and for NaN.
@inline(__always)
func weight(_ x: Float) -> Float {
    x >= -87.3 ? fastExp(x) : 0
}

/// The distribution that (processed) logits define: the ids with a logit above `-infinity`, in
/// increasing order, their weights `exp(logit - max)` (the most likely token weighs 1; a weight
/// can underflow to 0), and the sum of the weights. A token's probability is `weight / total`.
struct TokenWeights {
    let ids: [Int]
    let weights: [Float]
    let total: Double

    /// Expects logits that are finite or `-infinity` (NaN is left out too).
    init(_ logits: [Float]) {
        let maximum = maximumLogit(logits)
        ids = finiteIndices(logits)
        var weights = [Float](repeating: 0, count: ids.count)
        if ids.count == logits.count { // every token (no filter): one pass in order, which vectorises
            for i in logits.indices { weights[i] = weight(logits[i] - maximum) }
        } else {
            for (position, id) in ids.enumerated() { weights[position] = weight(logits[id] - maximum) }
        }
        self.weights = weights
        total = weights.reduce(0.0) { $0 + Double($1) }
    }
}
