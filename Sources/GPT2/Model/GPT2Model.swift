import Foundation

/// A loaded GPT-2 model: immutable, `Sendable`, and shared by any number of concurrent
/// generations, each with its own ``KVCache``.
///
/// ```swift
/// let model = try GPT2Model(directory: URL(fileURLWithPath: "Models/sales-demo"))
/// let cache = model.makeCache()
/// let logits = try model.forward([15496, 11, 995], cache: cache)  // logits of the next token
/// ```
public final class GPT2Model: Sendable {
    /// The hyper-parameters from `config.json`.
    public let config: GPT2Config
    /// The directory the model was loaded from.
    public let directory: URL
    /// The precision the weight matrices are kept in.
    public let precision: WeightPrecision
    let weights: GPT2Weights

    /// Loads `config.json` and `model.safetensors` (or a sharded `model.safetensors.index.json`)
    /// from a Hugging Face GPT-2 model directory. Float16 and bfloat16 weights are converted to
    /// float32 once; float32 weights are copied into the process's memory or used in place from a
    /// memory map, as `residency` says. With `precision: .float16` the weight matrices are kept as
    /// float16 instead (see ``WeightPrecision``).
    ///
    /// - Throws: ``ModelLoadingError`` naming the file and what is wrong with it.
    public init(directory: URL, residency: WeightResidency = .mapped, precision: WeightPrecision = .float32) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
            throw ModelLoadingError(.missingFile, file: directory, "model directory does not exist")
        }
        guard isDirectory.boolValue else {
            throw ModelLoadingError(.missingFile, file: directory, "not a directory (expected a model directory with config.json and model.safetensors)")
        }
        let config = try GPT2Config(contentsOf: directory.appendingPathComponent("config.json"))
        self.config = config
        self.directory = directory
        self.precision = precision
        self.weights = try GPT2Weights.load(directory: directory, config: config, residency: residency, precision: precision)
    }

    /// Number of parameters (a tied `lm_head` counted once).
    public var parameterCount: Int {
        let (C, F, V, L) = (config.embeddingSize, config.innerSize, config.vocabularySize, config.layerCount)
        let block = 4 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * F + F) + (F * C + C)
        let untiedHead = weights.lm_head == weights.wte ? 0 : V * C
        return V * C + config.contextLength * C + L * block + 2 * C + untiedHead
    }

    /// Bytes of weights one decode step streams from memory: every block's matrices and the LM
    /// head, in the loaded precision. With the cached keys and values a step attends to
    /// (``cacheBytesPerPosition``), divided into the machine's read bandwidth, it bounds decode
    /// tokens/s.
    public var decodeBytesPerToken: Int {
        let (C, F, V) = (config.embeddingSize, config.innerSize, config.vocabularySize)
        let blockMatrices = C * 3 * C + C * C + C * F + F * C
        return precision.bytes * (config.layerCount * blockMatrices + V * C)
    }

    /// Bytes of cached keys and values one decode step reads per position it attends to: a key
    /// and a value row of every block, in float32. A step whose new token goes to position `t`
    /// reads `(t + 1)` times this on top of ``decodeBytesPerToken``.
    public var cacheBytesPerPosition: Int {
        2 * config.layerCount * config.embeddingSize * MemoryLayout<Float>.size
    }

    /// Bytes of weights held in the process's own buffers (copied with ``WeightResidency/resident``,
    /// or converted from float16/bfloat16) rather than mapped in place from the files.
    public var convertedWeightBytes: Int { weights.storage.ownedBytes }

    /// A fresh, empty cache for one sequence of up to `capacity` positions
    /// (default and maximum: the model's context length). It takes 2 · n_layer · capacity ·
    /// n_embd floats, up to 4 MB per block of them from the first position on (see ``KVCache``):
    /// ask for the positions the sequence needs, as ``TextGenerator`` does.
    public func makeCache(capacity: Int? = nil) -> KVCache {
        let capacity = min(max(capacity ?? config.contextLength, 1), config.contextLength)
        return KVCache(layerCount: config.layerCount, width: config.embeddingSize, capacity: capacity)
    }

    /// Runs `tokens` through the model after the positions already in `cache`, appends them to
    /// the cache, and returns the next-token logits of the positions `logits` asks for.
    ///
    /// - Throws: ``GPT2Error`` for an empty input, an id outside the vocabulary, or a sequence
    ///   longer than the cache; the cache is left unchanged then.
    public func forward(_ tokens: [Int], cache: KVCache, logits rows: LogitRows = .last) throws -> Logits {
        try forward(batch: [(tokens, cache)], logits: rows)[0]
    }

    /// Runs several sequences at once, each after the positions in its own cache: the matrix
    /// products see every new row of every sequence together, attention runs per sequence.
    /// Returns one ``Logits`` per sequence, in order.
    public func forward(batch: [(tokens: [Int], cache: KVCache)], logits rows: LogitRows = .last) throws -> [Logits] {
        try validate(batch)
        let C = config.embeddingSize, F = config.innerSize, V = config.vocabularySize
        let N = batch.reduce(0) { $0 + $1.tokens.count }
        let workspace = UnsafeMutablePointer<Float>.allocate(capacity: N * (5 * C + F))
        defer { workspace.deallocate() }
        let x = workspace               // [N, C]  the residual stream
        let h = x + N * C               // [N, C]  LayerNorm output, then attention output
        let qkv = h + N * C             // [N, 3C]
        let fc = qkv + N * 3 * C        // [N, F]
        var laps = ForwardProfile.Laps()
        defer { laps.commit() }

        // token + position embeddings: x[r] = wte[token] + wpe[position]
        var r = 0
        for (tokens, cache) in batch {
            for (i, token) in tokens.enumerated() {
                let pe = weights.wpe + (cache.count + i) * C
                let row = x + r * C
                switch weights.wte {
                case .float32(let wte): for j in 0..<C { row[j] = wte[token * C + j] + pe[j] }
                case .float16(let wte): for j in 0..<C { row[j] = floatFromHalf(wte[token * C + j]) + pe[j] }
                }
                r += 1
            }
        }
        laps.mark(.embedding)

        // the rows whose logits each sequence gets
        var selected: [Range<Int>] = []
        var end = 0
        for (tokens, _) in batch {
            let first = end
            end += tokens.count
            switch rows {
            case .last: selected.append((end - 1)..<end)
            case .all: selected.append(first..<end)
            case .none: selected.append(end..<end)
            }
        }
        let S = selected.reduce(0) { $0 + $1.count }

        let caches = batch.map(\.cache)
        for (l, block) in weights.h.enumerated() {
            // x = x + c_proj(attention(c_attn(ln_1(x))))
            block.ln_1.apply(x, rows: N, n: C, epsilon: config.layerNormEpsilon, into: h)
            laps.mark(.ln_1)
            // a decode step (one new token per sequence) may write its keys and values into the caches
            let cached = block.c_attn.applyWritingKeysAndValues(h, rows: N, into: qkv, caches: caches, layer: l)
            if !cached { block.c_attn.apply(h, rows: N, into: qkv) }     // [N, 3C]
            laps.mark(.c_attn)
            var start = 0
            for (tokens, cache) in batch {
                causalSelfAttention(qkv: qkv + start * 3 * C, rows: tokens.count, cache: cache, layer: l,
                                    headCount: config.headCount, scale: attentionScale(layer: l),
                                    keysAndValuesCached: cached, out: h + start * C)  // [T, C]
                start += tokens.count
            }
            laps.mark(.attention)
            // The last block's output reaches nothing but the logits (its keys and values are
            // cached by now): it goes on with only the rows they are asked for, [S, C] from here.
            var n = N
            if l == config.layerCount - 1 {
                n = gatherRows(selected, of: x, h, width: C)
                if n == 0 { break }
            }
            block.attn_c_proj.apply(h, rows: n, into: x, accumulate: true)
            laps.mark(.attn_c_proj)

            // x = x + c_proj(act(c_fc(ln_2(x))))
            block.ln_2.apply(x, rows: n, n: C, epsilon: config.layerNormEpsilon, into: h)
            laps.mark(.ln_2)
            block.c_fc.apply(h, rows: n, into: fc, then: config.activation)  // [n, F]
            laps.mark(.c_fc)
            block.mlp_c_proj.apply(fc, rows: n, into: x, accumulate: true)
            laps.mark(.mlp_c_proj)
        }
        for (tokens, cache) in batch { cache.count += tokens.count }

        // logits = ln_f(x) · lm_headᵀ for the S rows kept
        weights.ln_f.apply(x, rows: S, n: C, epsilon: config.layerNormEpsilon, into: h)
        laps.mark(.ln_f)
        let all = lmHead(h, rows: S)  // [S, V]
        laps.mark(.lm_head)
        if batch.count == 1 {
            return [Logits(rowCount: S, vocabularySize: V, values: all)]
        }
        var offset = 0
        return selected.map { range in
            defer { offset += range.count }
            return Logits(rowCount: range.count, vocabularySize: V,
                          values: Array(all[(offset * V)..<((offset + range.count) * V)]))
        }
    }

    /// Moves the rows of `x` and `h` listed in `selected` (ascending) to the front, in order;
    /// returns how many there are.
    private func gatherRows(_ selected: [Range<Int>], of x: UnsafeMutablePointer<Float>,
                            _ h: UnsafeMutablePointer<Float>, width C: Int) -> Int {
        var kept = 0
        for range in selected {
            for row in range {
                if row != kept {  // kept < row: whole rows, never overlapping
                    (x + kept * C).update(from: x + row * C, count: C)
                    (h + kept * C).update(from: h + row * C, count: C)
                }
                kept += 1
            }
        }
        return kept
    }

    /// `ln_f` output rows [S, n_embd] times `lm_head`ᵀ: [S, vocab_size]. Up to 16 rows (generation)
    /// go through the small-batch kernel, more through sgemm (float16 heads widened in blocks).
    private func lmHead(_ h: UnsafePointer<Float>, rows S: Int) -> [Float] {
        let C = config.embeddingSize, V = config.vocabularySize
        guard S > 0 else { return [] }
        return [Float](unsafeUninitializedCapacity: S * V) { buffer, initialized in
            let out = buffer.baseAddress!
            switch weights.lm_head {
            case .float32(let head):
                multiplyByTransposed(h, rows: S, head, wRows: V, n: C, into: out, adding: false)
            case .float16(let head):
                if S <= smallBatchLimit {
                    smallBatchRowDots(h, rows: S, UnsafeRawPointer(head), Float16Format.self, wRows: V, n: C,
                                      into: DenseRows(y: out, wRows: V))
                } else {
                    let block = 4096  // vocabulary rows widened at a time
                    for first in stride(from: 0, to: V, by: block) {
                        let rows = min(block, V - first)
                        withFloats(fromHalves: head + first * C, count: rows * C) { head in
                            BLAS.gemm(transB: true, m: S, n: rows, k: C, a: h, lda: C, b: head, ldb: C, c: out + first, ldc: V)
                        }
                    }
                }
            }
            initialized = S * V
        }
    }

    /// 1/√head_size (`scale_attn_weights`), and 1/(layer+1) more with `scale_attn_by_inverse_layer_idx`.
    private func attentionScale(layer: Int) -> Float {
        var scale: Float = config.scaleAttentionWeights ? 1 / Float(config.headSize).squareRoot() : 1
        if config.scaleAttentionByInverseLayerIndex { scale /= Float(layer + 1) }
        return scale
    }

    private func validate(_ batch: [(tokens: [Int], cache: KVCache)]) throws {
        guard !batch.isEmpty else { throw GPT2Error.noTokens }
        var seen = Set<ObjectIdentifier>()
        for (tokens, cache) in batch {
            guard cache.layerCount == config.layerCount, cache.width == config.embeddingSize else {
                throw GPT2Error.cacheMismatch
            }
            guard seen.insert(ObjectIdentifier(cache)).inserted else { throw GPT2Error.duplicateCache }
            guard !tokens.isEmpty else { throw GPT2Error.noTokens }
            let needed = cache.count + tokens.count
            let limit = min(cache.capacity, config.contextLength)
            guard needed <= limit else { throw GPT2Error.contextOverflow(needed: needed, limit: limit) }
            if let bad = tokens.first(where: { $0 < 0 || $0 >= config.vocabularySize }) {
                throw GPT2Error.invalidTokenID(bad, vocabularySize: config.vocabularySize)
            }
        }
    }
}
