import Foundation
import GPT2Kernels

/// A loaded GPT-2 model: immutable, `Sendable`, and shared by any number of concurrent
/// generations, each with its own ``KVCache``.
///
/// ```swift
/// let model = try GPT2Model(directory: URL(fileURLWithPath: "Models/sales-demo"))
/// let cache = try model.makeCache()
/// let logits = try model.forward([15496, 11, 995], cache: cache)  // logits of the next token
/// ```
public final class GPT2Model: Sendable {
    /// The hyper-parameters from `config.json`.
    public let config: GPT2Config
    /// The directory the model was loaded from.
    public let directory: URL
    /// The precision the weight matrices are kept in.
    public let precision: WeightPrecision
    /// The tokens that end a text, where the checkpoint names them: `eos_token_id` of
    /// `generation_config.json`, else of `config.json` (as Hugging Face's `generate`); nil when
    /// neither does, and the tokenizer's `<|endoftext|>` is used.
    public let endOfTextIDs: [Int]?
    /// The sampling defaults the checkpoint's `generation_config.json` recommends (none set when
    /// it has no such file, or recommends nothing).
    public let generationDefaults: GenerationDefaults
    package let weights: GPT2Weights

    /// Loads `config.json` and `model.safetensors` (or a sharded `model.safetensors.index.json`)
    /// from a Hugging Face GPT-2 model directory. Float16 and bfloat16 weights are converted to
    /// float32 once; float32 weights are copied into the process's memory or used in place from a
    /// memory map, as `residency` says. With `precision: .float16` the weight matrices are kept as
    /// float16 instead (see ``WeightPrecision``).
    ///
    /// - Throws: ``ModelLoadingError`` naming the file and what is wrong with it.
    public convenience init(directory: URL, residency: WeightResidency = .mapped, precision: WeightPrecision = .float32) throws {
        try self.init(directory: directory, residency: residency, precision: precision, checkingValues: true)
    }

    /// `checkingValues: false` skips refusing NaN and infinite weights: only for measuring what
    /// that check costs.
    init(directory: URL, residency: WeightResidency, precision: WeightPrecision, checkingValues: Bool) throws {
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
        let generationConfig = try GenerationConfig(directory: directory, vocabularySize: config.vocabularySize)
        endOfTextIDs = generationConfig.endOfTextIDs ?? config.endOfTextIDs
        generationDefaults = generationConfig.defaults
        self.weights = try GPT2Weights.load(directory: directory, config: config, residency: residency, precision: precision,
                                            checkingValues: checkingValues)
    }

    /// The library's defaults (`GenerationParameters()`) with the checkpoint's
    /// ``generationDefaults`` applied: what ``TextGenerator`` generates with when a call passes no
    /// parameters. Change a copy to adjust it for one call.
    public var defaultParameters: GenerationParameters { generationDefaults.applied(to: GenerationParameters()) }

    /// Number of parameters (a tied `lm_head` counted once).
    public var parameterCount: Int {
        let (C, F, V, L) = (config.embeddingSize, config.innerSize, config.vocabularySize, config.layerCount)
        let block = 4 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * F + F) + (F * C + C)
        let untiedHead = weights.lm_head.elements == weights.wte.elements ? 0 : V * C
        return V * C + config.contextLength * C + L * block + 2 * C + untiedHead
    }

    /// Bytes of weights one decode step streams from memory: every block's matrices and the LM
    /// head, in the loaded precision. With the cached keys and values a step attends to
    /// (``cacheBytesPerPosition``), divided into the machine's read bandwidth, it bounds decode
    /// tokens/s.
    public var decodeBytesPerToken: Int {
        weights.h.reduce(weights.lm_head.byteCount) { total, block in total + block.linears.reduce(0) { $0 + $1.weight.byteCount } }
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
    /// (default and maximum: the model's context length). It starts with memory for a few
    /// positions and grows as ``forward(_:cache:logits:)`` adds them (see ``KVCache``), up to
    /// 2 · n_layer · capacity · n_embd floats: a large capacity costs nothing until it is used.
    ///
    /// - Throws: ``GenerationError/cacheTooLarge(bytes:positions:)`` when not even the first
    ///   positions' memory can be had.
    public func makeCache(capacity: Int? = nil) throws(GenerationError) -> KVCache {
        let capacity = min(max(capacity ?? config.contextLength, 1), config.contextLength)
        return try KVCache(layerCount: config.layerCount, width: config.embeddingSize, capacity: capacity)
    }

    /// Runs `tokens` through the model after the positions already in `cache`, appends them to
    /// the cache, and returns the next-token logits of the positions `logits` asks for.
    ///
    /// - Throws: ``GPT2Error`` for an empty input, an id outside the vocabulary, or a sequence
    ///   longer than the cache's capacity; ``GenerationError/cacheTooLarge(bytes:positions:)`` when
    ///   the cache cannot grow to hold the new positions. The cached positions are left unchanged
    ///   then.
    public func forward(_ tokens: [Int], cache: KVCache, logits rows: LogitRows = .last) throws -> Logits {
        try forward(batch: [(tokens, cache)], logits: rows)[0]
    }

    /// Runs several sequences at once, each after the positions in its own cache, and returns one
    /// ``Logits`` per sequence, in order. The sequences' new rows go through each layer together:
    /// the rows of sequences with one new token (decode steps) share each matrix product, up to 16
    /// at a time; a sequence with more rows (a prompt, or a chunk of one) has products of its own.
    /// So every row goes through the same kernels whatever company it keeps, and a sequence's
    /// logits are the same, to the last bit, alone or in any batch. Throws as
    /// ``forward(_:cache:logits:)`` does, for any of the sequences.
    public func forward(batch: [(tokens: [Int], cache: KVCache)], logits rows: LogitRows = .last) throws -> [Logits] {
        try forward(batch: batch, logits: Array(repeating: rows, count: batch.count))
    }

    /// The same with the logits each sequence gets chosen per sequence (the scheduler asks none
    /// of a chunk in the middle of a prompt).
    func forward(batch: [(tokens: [Int], cache: KVCache)], logits rows: [LogitRows]) throws -> [Logits] {
        try validate(batch)
        let C = config.embeddingSize, F = config.innerSize, V = config.vocabularySize, ε = config.layerNormEpsilon
        let N = batch.reduce(0) { $0 + $1.tokens.count }
        let workspace = UnsafeMutablePointer<Float>.allocate(capacity: N * (2 * C + max(C, F)))
        defer { workspace.deallocate() }
        let x = workspace               // [N, C]  the residual stream
        let h = x + N * C               // [N, C]  LayerNorm output, then attention output
        let q = h + N * C               // [N, C]  queries (attention's, in the MLP's memory)
        let fc = q                      // [N, F]  the MLP's hidden layer

        embed(batch, into: x)           // x = wte[tokens] + wpe[positions]
        let selected = logitRows(rows, of: batch)
        var groups = RowGroups(rowCounts: batch.map(\.tokens.count))
        for (l, block) in weights.h.enumerated() {
            // x = x + attn.c_proj(attention(c_attn(ln_1(x))))
            block.ln_1(x, rows: N, n: C, epsilon: ε, into: h)
            attention(h, rows: groups, c_attn: block.c_attn, batch: batch, layer: l, headCount: config.headCount,
                      scale: attentionScale(layer: l), q: q, out: h)
            // The last block's output reaches nothing but the logits (its keys and values are
            // cached by now): it goes on with only the rows they are asked for, [S, C] from here.
            if l == config.layerCount - 1 {
                groups = RowGroups(rowCounts: selected.map(\.count))
                gatherRows(selected, of: x, h, width: C)
                if groups.rowCount == 0 { break }
            }
            block.attn_c_proj(h, rows: groups, into: x, accumulate: true)

            // x = x + mlp.c_proj(act(c_fc(ln_2(x))))
            block.ln_2(x, rows: groups.rowCount, n: C, epsilon: ε, into: h)
            block.c_fc(h, rows: groups, into: fc, then: config.activation)  // [n, F]
            block.mlp_c_proj(fc, rows: groups, into: x, accumulate: true)
        }
        for (tokens, cache) in batch { cache.count += tokens.count }

        // logits = ln_f(x) · lm_headᵀ for the S rows kept: [S, V]
        let S = groups.rowCount
        weights.ln_f(x, rows: S, n: C, epsilon: ε, into: h)
        let all = lmHead(h, rows: groups)
        var offset = 0
        return selected.map { range in
            defer { offset += range.count }
            return Logits(rowCount: range.count, vocabularySize: V,
                          values: batch.count == 1 ? all : Array(all[(offset * V)..<((offset + range.count) * V)]))
        }
    }

    /// x[r] = wte[token] + wpe[position] for every new row of every sequence: [N, C].
    private func embed(_ batch: [(tokens: [Int], cache: KVCache)], into x: UnsafeMutablePointer<Float>) {
        let C = config.embeddingSize
        KernelProfile.measure("wte+wpe") {
            var r = 0
            for (tokens, cache) in batch {
                for (i, token) in tokens.enumerated() {
                    let pe = weights.wpe + (cache.count + i) * C, row = x + r * C
                    switch weights.wte.elements {
                    case .float32(let wte): for j in 0..<C { row[j] = wte[token * C + j] + pe[j] }
                    case .float16(let wte, let scale): for j in 0..<C { row[j] = floatFromHalf(wte[token * C + j]) * scale + pe[j] }
                    case .int8(let wte, let scales):
                        dequantizeRow(wte + token * C, scales: scales + token * int8Blocks(rowLength: C), count: C, into: row)
                        for j in 0..<C { row[j] += pe[j] }
                    }
                    r += 1
                }
            }
        }
    }

    /// The rows of the batch's [N, …] matrices whose logits each sequence gets.
    private func logitRows(_ rows: [LogitRows], of batch: [(tokens: [Int], cache: KVCache)]) -> [Range<Int>] {
        var end = 0
        return zip(batch, rows).map { sequence, rows in
            let first = end
            end += sequence.tokens.count
            switch rows {
            case .last: return (end - 1)..<end
            case .all: return first..<end
            case .none: return end..<end
            }
        }
    }

    /// Moves the rows of `x` and `h` listed in `selected` (ascending) to the front, in order.
    private func gatherRows(_ selected: [Range<Int>], of x: UnsafeMutablePointer<Float>,
                            _ h: UnsafeMutablePointer<Float>, width C: Int) {
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
    }

    /// `ln_f` output rows [S, n_embd] times `lm_head`ᵀ: [S, vocab_size].
    private func lmHead(_ h: UnsafePointer<Float>, rows groups: RowGroups) -> [Float] {
        let C = config.embeddingSize, V = config.vocabularySize, S = groups.rowCount
        guard S > 0 else { return [] }
        return [Float](unsafeUninitializedCapacity: S * V) { buffer, initialized in
            KernelProfile.measure("lm_head") {
                for rows in groups.ranges {
                    matmul(h + rows.lowerBound * C, rows: rows.count, weights.lm_head,
                           into: DenseRows(buffer.baseAddress! + rows.lowerBound * V, width: V))
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
        // only once every sequence is known good: a refused batch grows no cache
        for (tokens, cache) in batch { try cache.reserve(cache.count + tokens.count) }
    }
}
