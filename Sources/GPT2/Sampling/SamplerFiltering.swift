#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import GPT2Kernels

// Temperature, top-k, top-p and min-p: from (penalised) logits to the set a token is drawn from.
//
// Plan, with n the vocabulary size:
// - top-k on: one pass over the logits collects tokens above a running threshold into a buffer
//   of about 2k entries; whenever it fills, a quickselect keeps the k best and raises the
//   threshold to the k-th best. The threshold starts at an estimate from a 1024-logit sample
//   (corrected by a second pass in the rare case it was too high), so almost every token fails
//   the threshold test, which is done 16 at a time. The later steps see only those k tokens.
// - top-p and/or min-p: each keeps a prefix of the tokens sorted by decreasing probability, and
//   so does their combination, so only the tokens above a weight threshold that provably
//   contains that prefix are collected and sorted (see `Filter.apply`).
// - neither: no sort at all; the draw walks the weights in id order.
extension Sampler {
    /// A token id with a value that is first its logit, then its weight `exp((l - max) / T)`.
    struct Candidate {
        var value: Float
        var id: Int32
    }

    /// The result of filtering, valid only inside the closure it is passed to.
    enum CandidateSet {
        /// Exactly one token is possible.
        case single(Int)
        /// Every token, indexed by id, with its (unnormalised) weight.
        case dense(UnsafeBufferPointer<Float>, total: Double)
        /// The surviving tokens with their (unnormalised) weights, in no particular order.
        case sparse(UnsafeBufferPointer<Candidate>, total: Double)

        /// The token whose cumulative-weight interval contains `u * total`, `u` in `[0, 1)`.
        func draw(_ u: Double) -> Int {
            switch self {
            case .single(let id):
                return id
            case .dense(let weights, let total):
                return SamplingKernels.indexOfCumulativeWeight(weights, exceeding: u * total)
            case .sparse(let candidates, let total):
                let target = u * total
                var cumulative = 0.0
                var last = Int(candidates[0].id)
                for candidate in candidates where candidate.value > 0 {
                    cumulative += Double(candidate.value)
                    if target < cumulative { return Int(candidate.id) }
                    last = Int(candidate.id)
                }
                return last // only reachable through rounding
            }
        }

        /// The candidates with positive probability, by decreasing probability, then id.
        func probabilities() -> [SamplingCandidate] {
            var result: [SamplingCandidate] = []
            switch self {
            case .single(let id):
                return [SamplingCandidate(id: id, probability: 1)]
            case .dense(let weights, let total):
                for i in weights.indices where weights[i] > 0 {
                    result.append(SamplingCandidate(id: i, probability: Float(Double(weights[i]) / total)))
                }
            case .sparse(let candidates, let total):
                for candidate in candidates where candidate.value > 0 {
                    result.append(SamplingCandidate(
                        id: Int(candidate.id), probability: Float(Double(candidate.value) / total)
                    ))
                }
            }
            result.sort { $0.probability > $1.probability || ($0.probability == $1.probability && $0.id < $1.id) }
            return result
        }
    }

    /// Higher value first, then lower id.
    @inline(__always)
    static func ranksBefore(_ a: Candidate, _ b: Candidate) -> Bool {
        a.value > b.value || (a.value == b.value && a.id < b.id)
    }

    /// Filters `logits` (scratch, modified) by temperature, top-k, top-p and min-p and passes the
    /// survivors to `body`.
    static func withCandidates<R>(
        _ logits: UnsafeMutableBufferPointer<Float>,
        _ parameters: GenerationParameters,
        _ body: (CandidateSet) -> R
    ) -> R {
        let n = logits.count
        precondition(n > 0 && n <= Int(Int32.max), "the vocabulary size must be in 1...Int32.max")
        guard isSampling(parameters.temperature) else {
            return body(.single(argmax(UnsafeBufferPointer(logits))))
        }
        let filter = Filter(parameters)

        let k = parameters.topK
        if k > 0 && k < n {
            let capacity = min(n, 2 * k + 64)
            return withUnsafeTemporaryAllocation(of: Candidate.self, capacity: capacity) { buffer in
                let count = selectTopK(UnsafeBufferPointer(logits), k: k, buffer: buffer)
                guard count > 0 else { return body(.single(0)) } // all -infinity or NaN
                let top = TopKScores(candidates: UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
                var maximum = -Float.infinity
                for candidate in top.candidates where candidate.value > maximum { maximum = candidate.value }
                if maximum == .infinity {
                    top.keepOnlyInfinities()
                    maximum = 0
                }
                return filter.apply(top, maximum: maximum, body)
            }
        }

        let all = LogitScores(logits: logits)
        var maximum = SamplingKernels.maximumReplacingNaN(logits)
        guard maximum > -.infinity else { return body(.single(0)) } // all -infinity or NaN
        if maximum == .infinity {
            all.keepOnlyInfinities()
            maximum = 0
        }
        return filter.apply(all, maximum: maximum, body)
    }

    /// Top-p, min-p and the weights, for one call.
    struct Filter {
        /// `< 1` when on.
        let topP: Float
        /// `> 0` when on.
        let minP: Float
        /// Clamped to finite positive values so that `(l - max) / T` is never `0 / 0`-like.
        let temperature: Float
        let inverseTemperature: Float

        init(_ parameters: GenerationParameters) {
            topP = parameters.topP < 1 ? parameters.topP : 1 // NaN: off
            minP = parameters.minP > 0 ? parameters.minP : 0 // NaN: off
            temperature = min(max(parameters.temperature, .leastNormalMagnitude), .greatestFiniteMagnitude)
            inverseTemperature = min(1 / temperature, .greatestFiniteMagnitude)
        }

        /// Applies top-p and min-p to `scores`, whose largest value is the finite `maximum`, and
        /// calls `body` with the survivors.
        func apply<Scores: TokenScores, R>(_ scores: Scores, maximum: Float, _ body: (CandidateSet) -> R) -> R {
            guard topP < 1 || minP > 0 else {
                let total = scores.replaceWithWeights(maximum: maximum, inverseTemperature: inverseTemperature)
                return body(scores.candidateSet(total: total))
            }
            // Weights are relative to the maximum, whose weight is 1.
            // - Min-p keeps exactly the tokens with weight >= minP.
            // - Top-p keeps a prefix of the tokens by decreasing weight. Every token outside
            //   {weight >= (1 - topP) / n * Z} has probability < (1 - topP) / n, so together they
            //   have less than 1 - topP: that set has more than topP and contains the prefix.
            //   It can be large when the distribution is flat, so first try the set
            //   {probability >= 1e-4} (at most 10^4 tokens): if its mass reaches topP it
            //   contains the prefix as well.
            var normalizer = 0.0
            var safeWeight: Float = 0
            var optimisticWeight: Float = 0
            if topP < 1 {
                normalizer = scores.sumOfWeights(maximum: maximum, inverseTemperature: inverseTemperature)
                safeWeight = Float((1 - Double(topP)) / Double(scores.count) * normalizer)
                optimisticWeight = Float(1e-4 * normalizer)
            }
            let needed = max(minP, safeWeight)
            if optimisticWeight > needed,
               let result = collectAndFinish(
                   scores, maximum: maximum, threshold: optimisticWeight, normalizer: normalizer,
                   allowRetry: true, body
               ) {
                return result
            }
            return collectAndFinish(
                scores, maximum: maximum, threshold: needed, normalizer: normalizer, allowRetry: false, body
            )!
        }

        /// Collects the tokens whose weight may be `>= threshold`, sorts them and finishes.
        private func collectAndFinish<Scores: TokenScores, R>(
            _ scores: Scores,
            maximum: Float,
            threshold: Float,
            normalizer: Double,
            allowRetry: Bool,
            _ body: (CandidateSet) -> R
        ) -> R? {
            // weight >= threshold  <=>  l >= max + T · ln(threshold), lowered by a slack so that
            // rounding can only add tokens: finish() applies the exact tests to the weights.
            let threshold = min(threshold, 1) // the maximum (weight 1) is always collected
            let cut: Float
            if threshold > 0 {
                let offset = logf(threshold) * temperature
                cut = maximum + offset - (abs(maximum) + abs(offset) + 1) * 1e-5
            } else {
                cut = -.infinity
            }
            let count = scores.count(atLeast: cut)
            return withUnsafeTemporaryAllocation(of: Candidate.self, capacity: count) { buffer in
                scores.collect(atLeast: cut, into: buffer)
                var sortable = buffer // sorts the memory in place
                sortable.sort(by: ranksBefore)
                return finish(buffer, maximum: maximum, normalizer: normalizer, allowRetry: allowRetry, body)
            }
        }

        /// Turns sorted logits into weights, applies the top-p and min-p cuts and calls `body`.
        /// Returns nil (without calling `body`) when `allowRetry` and the candidates' mass does
        /// not reach `topP * normalizer`.
        private func finish<R>(
            _ candidates: UnsafeMutableBufferPointer<Candidate>,
            maximum: Float,
            normalizer: Double,
            allowRetry: Bool,
            _ body: (CandidateSet) -> R
        ) -> R? {
            for i in candidates.indices {
                candidates[i].value = expf((candidates[i].value - maximum) * inverseTemperature)
            }
            // Sorted by logit, so the weights do not increase: every cut keeps a prefix.
            var keep = candidates.count
            while keep > 1 && !(candidates[keep - 1].value > 0) { keep -= 1 }
            if topP < 1 {
                let target = Double(topP) * normalizer
                var cumulative = 0.0
                var reached = false
                for i in 0..<keep {
                    cumulative += Double(candidates[i].value)
                    if cumulative >= target {
                        keep = i + 1
                        reached = true
                        break
                    }
                }
                if !reached && allowRetry { return nil }
            }
            if minP > 0 {
                let threshold = minP * candidates[0].value
                var cut = 1
                while cut < keep && candidates[cut].value >= threshold { cut += 1 }
                keep = cut
            }
            var total = 0.0
            for i in 0..<keep { total += Double(candidates[i].value) }
            return body(.sparse(UnsafeBufferPointer(rebasing: candidates[0..<keep]), total: total))
        }
    }

    // MARK: - Top-k selection

    /// Puts the `k` best logits (higher value, then lower index; NaN and `-infinity` never
    /// qualify) into `buffer[0..<result]`, in no particular order, and returns how many there
    /// are: `k`, or fewer when fewer logits are above `-infinity`. `buffer` (at least `k + 1`
    /// entries, or `logits.count`) is scratch.
    static func selectTopK(_ logits: UnsafeBufferPointer<Float>, k: Int, buffer: UnsafeMutableBufferPointer<Candidate>) -> Int {
        precondition(k > 0 && (buffer.count > k || buffer.count >= logits.count))
        guard let base = logits.baseAddress else { return 0 }
        let n = logits.count
        let capacity = buffer.count
        // Tokens are visited in increasing id order, so one that equals the k-th best so far
        // ranks below it: the strict `>` is exact, ties included.
        var threshold = estimatedThreshold(logits, k: k)
        var count = 0
        @inline(__always)
        func consider(_ value: Float, _ id: Int) {
            guard value > threshold else { return }
            buffer[count] = Candidate(value: value, id: Int32(truncatingIfNeeded: id))
            count += 1
            if count == capacity && count > k {
                selectBest(buffer, count: count, k: k)
                count = k
                threshold = buffer[k - 1].value
            }
        }
        let width = SamplingKernels.width
        var i = 0
        while i + width <= n {
            let chunk = SamplingKernels.load(base, i)
            let mask = chunk .> threshold
            guard any(mask) else {
                i += width
                continue
            }
            var lanes = SamplingKernels.bits(mask)
            while lanes != 0 {
                let lane = lanes.trailingZeroBitCount
                lanes &= lanes - 1
                consider(chunk[lane], i + lane) // rechecks: the threshold may have risen
            }
            i += width
        }
        while i < n {
            consider(base[i], i)
            i += 1
        }
        if count < k && threshold > -.infinity {
            // The estimate was too high: some of the k best may have been skipped. Start over.
            threshold = -.infinity
            count = 0
            i = 0
            while i < n {
                consider(base[i], i)
                i += 1
            }
        }
        if count > k {
            selectBest(buffer, count: count, k: k)
            count = k
        }
        return count
    }

    /// A starting threshold for ``selectTopK(_:k:buffer:)``: a value that about `max(2k, 8n/1024)`
    /// logits exceed, estimated from 1024 evenly spaced logits. Starting from it instead of
    /// `-infinity` saves most buffer insertions and compactions; it is only an optimisation (if
    /// fewer than `k` logits exceed it, the selection starts over). `-infinity` for vocabularies
    /// under 8192 tokens or when `2k` is not well below `n`.
    static func estimatedThreshold(_ logits: UnsafeBufferPointer<Float>, k: Int) -> Float {
        let n = logits.count
        let sampleSize = 1024
        guard n >= 8 * sampleSize, let base = logits.baseAddress else { return -.infinity }
        let rank = max(8, 2 * k * sampleSize / n) // the rank-th best of the sample
        guard rank < sampleSize else { return -.infinity }
        let stride = n / sampleSize
        return withUnsafeTemporaryAllocation(of: Candidate.self, capacity: sampleSize) { sample in
            for j in 0..<sampleSize {
                let v = base[j * stride]
                sample[j] = Candidate(value: v.isNaN ? -.infinity : v, id: Int32(truncatingIfNeeded: j))
            }
            selectBest(sample, count: sampleSize, k: rank)
            return sample[rank - 1].value
        }
    }

    /// Rearranges `a[0..<count]` so that `a[0..<k]` holds its `k` best entries (by
    /// ``ranksBefore(_:_:)``) with the `k`-th best at `k - 1`: a quickselect (median of three)
    /// that falls back to sorting if it partitions badly.
    static func selectBest(_ a: UnsafeMutableBufferPointer<Candidate>, count: Int, k: Int) {
        let nth = k - 1
        var low = 0
        var high = count - 1
        var budget = 2 * (Int.bitWidth - count.leadingZeroBitCount) + 4
        while high - low > 16 {
            if budget == 0 {
                var rest = UnsafeMutableBufferPointer(rebasing: a[low...high])
                rest.sort(by: ranksBefore)
                return
            }
            budget -= 1
            let middle = low + (high - low) / 2
            if ranksBefore(a[middle], a[low]) { a.swapAt(middle, low) }
            if ranksBefore(a[high], a[low]) { a.swapAt(high, low) }
            if ranksBefore(a[high], a[middle]) { a.swapAt(high, middle) }
            let pivot = a[middle]
            var i = low
            var j = high
            while i <= j {
                while ranksBefore(a[i], pivot) { i += 1 }
                while ranksBefore(pivot, a[j]) { j -= 1 }
                if i <= j {
                    a.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if nth <= j {
                high = j
            } else if nth >= i {
                low = i
            } else {
                return // a[nth] is the pivot, in place
            }
        }
        // Insertion sort of the short remaining range.
        if high > low {
            for i in (low + 1)...high {
                let item = a[i]
                var j = i
                while j > low && ranksBefore(item, a[j - 1]) {
                    a[j] = a[j - 1]
                    j -= 1
                }
                a[j] = item
            }
        }
    }
}

// MARK: - The two kinds of score lists

/// A list of token scores (logits) the filter can read and overwrite: the whole vocabulary or
/// the top-k survivors. Values are never NaN; the largest value is passed in separately.
protocol TokenScores {
    var count: Int { get }
    /// How many values are `>= cut`.
    func count(atLeast cut: Float) -> Int
    /// Writes the entries whose value is `>= cut` into `buffer`, which has exactly that size.
    func collect(atLeast cut: Float, into buffer: UnsafeMutableBufferPointer<Sampler.Candidate>)
    /// Σ exp((v − maximum) · inverseTemperature).
    func sumOfWeights(maximum: Float, inverseTemperature: Float) -> Double
    /// Replaces every value by its weight exp((v − maximum) · inverseTemperature); returns the sum.
    func replaceWithWeights(maximum: Float, inverseTemperature: Float) -> Double
    /// The set of all entries, after ``replaceWithWeights(maximum:inverseTemperature:)``.
    func candidateSet(total: Double) -> Sampler.CandidateSet
    /// Maps `+infinity` to 0 and everything else to `-infinity`: when some scores are infinite,
    /// they share the probability equally.
    func keepOnlyInfinities()
}

/// The whole vocabulary: a logit per token id.
struct LogitScores: TokenScores {
    let logits: UnsafeMutableBufferPointer<Float>

    var count: Int { logits.count }

    func count(atLeast cut: Float) -> Int {
        SamplingKernels.count(atLeast: cut, in: UnsafeBufferPointer(logits))
    }

    func collect(atLeast cut: Float, into buffer: UnsafeMutableBufferPointer<Sampler.Candidate>) {
        guard let base = logits.baseAddress else { return }
        let n = logits.count
        let width = SamplingKernels.width
        var j = 0
        var i = 0
        while i + width <= n {
            let chunk = SamplingKernels.load(base, i)
            let mask = chunk .>= cut
            guard any(mask) else {
                i += width
                continue
            }
            var lanes = SamplingKernels.bits(mask)
            while lanes != 0 {
                let lane = lanes.trailingZeroBitCount
                lanes &= lanes - 1
                buffer[j] = Sampler.Candidate(value: chunk[lane], id: Int32(truncatingIfNeeded: i + lane))
                j += 1
            }
            i += width
        }
        while i < n {
            if base[i] >= cut {
                buffer[j] = Sampler.Candidate(value: base[i], id: Int32(truncatingIfNeeded: i))
                j += 1
            }
            i += 1
        }
    }

    func sumOfWeights(maximum: Float, inverseTemperature: Float) -> Double {
        SamplingKernels.sumOfWeights(UnsafeBufferPointer(logits), maximum: maximum, inverseTemperature: inverseTemperature)
    }

    func replaceWithWeights(maximum: Float, inverseTemperature: Float) -> Double {
        SamplingKernels.replaceWithWeights(logits, maximum: maximum, inverseTemperature: inverseTemperature)
    }

    func candidateSet(total: Double) -> Sampler.CandidateSet {
        .dense(UnsafeBufferPointer(logits), total: total)
    }

    func keepOnlyInfinities() {
        for i in logits.indices {
            logits[i] = logits[i] == .infinity ? 0 : -.infinity
        }
    }
}

/// The survivors of top-k, in no particular order.
struct TopKScores: TokenScores {
    let candidates: UnsafeMutableBufferPointer<Sampler.Candidate>

    var count: Int { candidates.count }

    func count(atLeast cut: Float) -> Int {
        var total = 0
        for candidate in candidates where candidate.value >= cut { total += 1 }
        return total
    }

    func collect(atLeast cut: Float, into buffer: UnsafeMutableBufferPointer<Sampler.Candidate>) {
        var j = 0
        for candidate in candidates where candidate.value >= cut {
            buffer[j] = candidate
            j += 1
        }
    }

    func sumOfWeights(maximum: Float, inverseTemperature: Float) -> Double {
        var total = 0.0
        for candidate in candidates {
            total += Double(expf((candidate.value - maximum) * inverseTemperature))
        }
        return total
    }

    func replaceWithWeights(maximum: Float, inverseTemperature: Float) -> Double {
        var total = 0.0
        for i in candidates.indices {
            let w = expf((candidates[i].value - maximum) * inverseTemperature)
            candidates[i].value = w
            total += Double(w)
        }
        return total
    }

    func candidateSet(total: Double) -> Sampler.CandidateSet {
        .sparse(UnsafeBufferPointer(candidates), total: total)
    }

    func keepOnlyInfinities() {
        for i in candidates.indices {
            candidates[i].value = candidates[i].value == .infinity ? 0 : -.infinity
        }
    }
}
