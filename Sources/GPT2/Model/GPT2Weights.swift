import Foundation

/// A weight matrix in the precision the model keeps it in (``WeightPrecision``).
enum WeightMatrix: Equatable, @unchecked Sendable {  // points into memory owned by `WeightStorage`
    case float32(UnsafePointer<Float>)
    case float16(UnsafePointer<UInt16>)  // IEEE binary16 bit patterns
}

/// `y = x · W + bias` for a Conv1D weight W [in, out], as checkpoints store it. Resident float32
/// weights are copied at load anyway, and are copied transposed ([out, in], `transposed` set): a
/// decoded token's products are then one dot product per output over a contiguous row, the LM
/// head's kernel, with no partial sums to add across threads (see `Benchmarks/README.md`).
struct Linear: @unchecked Sendable {  // points into immutable weight memory owned by `WeightStorage`
    let weight: WeightMatrix          // [in, out], or [out, in] when `transposed`
    let transposed: Bool
    let bias: UnsafePointer<Float>    // [out]
    let inputSize: Int
    let outputSize: Int
}

/// The gain and shift of a LayerNorm.
struct LayerNormWeights: @unchecked Sendable {  // see `Linear`
    let weight: UnsafePointer<Float>  // [n_embd]
    let bias: UnsafePointer<Float>    // [n_embd]
}

/// One transformer block `h.N`, with GPT-2's parameter names.
struct BlockWeights: Sendable {
    let ln_1: LayerNormWeights
    let c_attn: Linear       // attn.c_attn: [n_embd, 3·n_embd], q | k | v
    let attn_c_proj: Linear  // attn.c_proj: [n_embd, n_embd]
    let ln_2: LayerNormWeights
    let c_fc: Linear         // mlp.c_fc:    [n_embd, n_inner]
    let mlp_c_proj: Linear   // mlp.c_proj:  [n_inner, n_embd]

    /// The four Conv1D layers, in the order the block runs them.
    var linears: [Linear] { [c_attn, attn_c_proj, c_fc, mlp_c_proj] }
}

/// All parameters of a GPT-2 model, as pointers that stay valid while `storage` lives. The
/// matrices (blocks' Conv1D weights, `wte`/`lm_head`) come in the loaded ``WeightPrecision``;
/// biases, LayerNorms and `wpe` are always float32.
struct GPT2Weights: @unchecked Sendable {  // immutable after loading
    let wte: WeightMatrix              // [vocab_size, n_embd]
    let wpe: UnsafePointer<Float>      // [n_positions, n_embd]
    let h: [BlockWeights]
    let ln_f: LayerNormWeights
    let lm_head: WeightMatrix          // [vocab_size, n_embd]; `wte` itself when tied
    let storage: WeightStorage
}

/// Owns the memory the weights live in: the mapped files (float32 weights used in place) and the
/// buffers of tensors that were copied, converted or realigned.
final class WeightStorage: @unchecked Sendable {  // mutated only while loading, by one thread
    private(set) var files: [SafeTensorsFile] = []
    private var buffers: [UnsafeMutableRawPointer] = []
    /// Bytes of copied or converted tensors (the rest is mapped from the files).
    private(set) var ownedBytes = 0

    func add(_ file: SafeTensorsFile) { files.append(file) }

    /// An uninitialized buffer of `count` floats, from ``allocateWeightMemory(bytes:)``.
    func allocate(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: allocate(bytes: count * 4).bindMemory(to: Float.self, capacity: count), count: count)
    }

    /// `allocate(_:)` for `count` float16 values.
    func allocateHalves(_ count: Int) -> UnsafeMutableBufferPointer<UInt16> {
        UnsafeMutableBufferPointer(start: allocate(bytes: count * 2).bindMemory(to: UInt16.self, capacity: count), count: count)
    }

    private func allocate(bytes requested: Int) -> UnsafeMutableRawPointer {
        let bytes = max(1, requested)
        guard let raw = allocateWeightMemory(bytes: bytes) else {
            fatalError("out of memory allocating \(bytes) bytes of weights")
        }
        buffers.append(raw)
        ownedBytes += bytes
        return raw
    }

    deinit {
        for buffer in buffers { free(buffer) }
    }
}

/// `bytes` (at least 1) of uninitialized memory as resident weights are kept, or nil when there is
/// none: from 1 MB up aligned to 2 MB, rounded up to whole 2 MB pages and, on Linux, backed by
/// transparent huge pages (decoding streams every weight once per token, and with 4 KB pages a
/// quarter of the TLB misses of that stream cost measurable bandwidth). Release it with `free`.
/// KV caches are allocated here too, and `gpt2-bench`'s bandwidth probe reads memory from here, so
/// that its bound is for the same pages.
@_spi(Profiling) public func allocateWeightMemory(bytes: Int) -> UnsafeMutableRawPointer? {
    let hugePage = 1 << 21
    let large = bytes >= hugePage / 2
    let size = large ? (bytes + hugePage - 1) / hugePage * hugePage : bytes
    var raw: UnsafeMutableRawPointer?
    guard posix_memalign(&raw, large ? hugePage : 64, size) == 0, let raw else { return nil }
    #if os(Linux)
    if large { _ = madvise(raw, size, 14 /* MADV_HUGEPAGE */) }
    #endif
    return raw
}

// MARK: - Loading

extension GPT2Weights {
    /// Loads every tensor the architecture in `config` needs from the safetensors in `directory`.
    static func load(directory: URL, config: GPT2Config, residency: WeightResidency,
                     precision: WeightPrecision) throws -> GPT2Weights {
        let storage = WeightStorage()
        let index = try TensorIndex(directory: directory, residency: residency, storage: storage)
        let (C, F, V) = (config.embeddingSize, config.innerSize, config.vocabularySize)

        func tensor(_ name: String, _ shape: [Int]) throws -> UnsafePointer<Float> {
            try index.floats(name, shape: shape, residency: residency, storage: storage)
        }
        func matrix(_ name: String, _ shape: [Int]) throws -> WeightMatrix {
            switch precision {
            case .float32: .float32(try tensor(name, shape))
            case .float16: .float16(try index.halves(name, shape: shape, residency: residency, storage: storage))
            }
        }
        func linear(_ name: String, _ inputSize: Int, _ outputSize: Int) throws -> Linear {
            let shape = [inputSize, outputSize], transposed = precision == .float32 && residency == .resident
            let weight = transposed ? .float32(try index.transposedFloats("\(name).weight", shape: shape, storage: storage))
                : try matrix("\(name).weight", shape)
            return Linear(weight: weight, transposed: transposed, bias: try tensor("\(name).bias", [outputSize]),
                          inputSize: inputSize, outputSize: outputSize)
        }
        func layerNorm(_ name: String) throws -> LayerNormWeights {
            LayerNormWeights(weight: try tensor("\(name).weight", [C]), bias: try tensor("\(name).bias", [C]))
        }

        let wte = try matrix("wte.weight", [V, C])
        let blocks = try (0..<config.layerCount).map { i in
            BlockWeights(ln_1: try layerNorm("h.\(i).ln_1"),
                         c_attn: try linear("h.\(i).attn.c_attn", C, 3 * C),
                         attn_c_proj: try linear("h.\(i).attn.c_proj", C, C),
                         ln_2: try layerNorm("h.\(i).ln_2"),
                         c_fc: try linear("h.\(i).mlp.c_fc", C, F),
                         mlp_c_proj: try linear("h.\(i).mlp.c_proj", F, C))
        }
        // An explicit lm_head (untied fine-tunes) wins; otherwise the head is tied to wte.
        let lmHead = index.contains("lm_head.weight") ? try matrix("lm_head.weight", [V, C]) : wte
        return GPT2Weights(wte: wte, wpe: try tensor("wpe.weight", [config.contextLength, C]),
                           h: blocks, ln_f: try layerNorm("ln_f"), lm_head: lmHead, storage: storage)
    }
}

/// Finds tensors by GPT-2 name across one file or a sharded checkpoint, under either naming
/// convention (`transformer.h.0...` from `save_pretrained`, bare `h.0...` in the original upload).
struct TensorIndex {
    private var locations: [String: (file: SafeTensorsFile, entry: SafeTensorsFile.Entry)] = [:]

    init(directory: URL, residency: WeightResidency, storage: WeightStorage) throws {
        let single = directory.appendingPathComponent("model.safetensors")
        let indexURL = directory.appendingPathComponent("model.safetensors.index.json")
        let files: [SafeTensorsFile]
        if FileManager.default.fileExists(atPath: single.path) {
            files = [try SafeTensorsFile(url: single)]
        } else if FileManager.default.fileExists(atPath: indexURL.path) {
            files = try Self.shards(indexURL: indexURL, directory: directory).map { try SafeTensorsFile(url: $0) }
        } else {
            throw ModelLoadingError(.missingFile, file: directory,
                "no model.safetensors or model.safetensors.index.json in the model directory")
        }
        for file in files {
            // Resident weights are all copied out, so the maps go away with this index.
            if residency == .mapped { storage.add(file) }
            for (name, entry) in file.entries {
                let bare = name.hasPrefix("transformer.") ? String(name.dropFirst("transformer.".count)) : name
                if let existing = locations[bare] {
                    throw ModelLoadingError(.invalidSafetensors, file: file.url,
                        "tensor \"\(bare)\" is stored twice (also in \(existing.file.url.lastPathComponent))")
                }
                locations[bare] = (file, entry)
            }
        }
    }

    /// The shard files named by `model.safetensors.index.json`, which must lie in `directory`.
    private static func shards(indexURL: URL, directory: URL) throws -> [URL] {
        guard isRegularFileOrMissing(indexURL) else {
            throw ModelLoadingError(.missingFile, file: indexURL, "not a regular file")
        }
        let data: Data
        do { data = try Data(contentsOf: indexURL) } catch {
            throw ModelLoadingError(.missingFile, file: indexURL, "cannot read the shard index")
        }
        return try shards(indexJSON: data, indexURL: indexURL, directory: directory)
    }

    /// Parses the text of `model.safetensors.index.json` (`indexURL` is used in error messages)
    /// into the shard files it names, sorted and without duplicates.
    static func shards(indexJSON data: Data, indexURL: URL, directory: URL) throws -> [URL] {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let weightMap = object["weight_map"] as? [String: Any] else {
            throw ModelLoadingError(.invalidJSON, file: indexURL, "not a JSON object with a \"weight_map\" object")
        }
        var names = Set<String>()
        for (tensor, value) in weightMap {
            guard let name = value as? String else {
                throw ModelLoadingError(.invalidJSON, file: indexURL, "weight_map entry for \"\(tensor)\" is not a file name")
            }
            // A shard name is a plain file name: no directories, so "../x" or "/etc/x" cannot escape.
            // Checked on the UTF-8 bytes: `String` compares `Character`s, and a combining mark
            // after the slash ("../\u{301}x") makes "/\u{301}" one Character that is not "/".
            let bytes = Array(name.utf8)
            guard !bytes.isEmpty, bytes != Array(".".utf8), bytes != Array("..".utf8),
                  !bytes.contains(UInt8(ascii: "/")), !bytes.contains(UInt8(ascii: "\\")), !bytes.contains(0) else {
                throw ModelLoadingError(.invalidValue, file: indexURL, "shard name \"\(name)\" is not a file inside the model directory")
            }
            names.insert(name)
        }
        guard !names.isEmpty else {
            throw ModelLoadingError(.invalidJSON, file: indexURL, "weight_map names no shard files")
        }
        return try names.sorted().map { name in
            // Belt and braces: the path built must be the directory plus exactly this one name.
            let url = directory.appendingPathComponent(name, isDirectory: false)
            guard url.lastPathComponent.utf8.elementsEqual(name.utf8),
                  url.deletingLastPathComponent().standardizedFileURL.path.utf8
                      .elementsEqual(directory.standardizedFileURL.path.utf8) else {
                throw ModelLoadingError(.invalidValue, file: indexURL, "shard name \"\(name)\" is not a file inside the model directory")
            }
            return url
        }
    }

    func contains(_ name: String) -> Bool { locations[name] != nil }

    /// The file and entry of tensor `name`, checked against the shape the config implies and
    /// the dtypes this engine reads.
    private func locate(_ name: String, shape: [Int], storage: WeightStorage) throws -> (file: SafeTensorsFile, entry: SafeTensorsFile.Entry) {
        guard let (file, entry) = locations[name] else {
            throw ModelLoadingError(.missingTensor, file: storage.files.count == 1 ? storage.files[0].url.path : "model.safetensors.index.json",
                                    "missing tensor \"\(name)\" (also looked for \"transformer.\(name)\")")
        }
        guard entry.shape == shape else {
            throw ModelLoadingError(.shapeMismatch, file: file.url,
                "tensor \"\(entry.name)\" has shape \(entry.shape) but config.json implies \(shape)")
        }
        guard [.F32, .F16, .BF16].contains(entry.dtype) else {
            throw ModelLoadingError(.unknownDType, file: file.url,
                "tensor \"\(entry.name)\" has dtype \(entry.dtype.rawValue); only F32, F16 and BF16 weights are supported")
        }
        return (file, entry)
    }

    /// The tensor as float16: in place when it is stored as aligned float16 and `residency` is
    /// `.mapped`, copied or converted (rounded to nearest) once otherwise. The decode kernels'
    /// conversion assumes finite halves, so infinities, NaNs and values beyond ±65504 are refused.
    func halves(_ name: String, shape: [Int], residency: WeightResidency, storage: WeightStorage) throws -> UnsafePointer<UInt16> {
        let (file, entry) = try locate(name, shape: shape, storage: storage)
        let halves = elements(of: entry, in: file, storedAs: .F16, residency: residency, allocate: storage.allocateHalves) { source, i in
            halfFromFloat(storedFloat(source, i, entry.dtype))
        }
        if (0..<entry.elementCount).contains(where: { halves[$0] & 0x7c00 == 0x7c00 }) {
            throw ModelLoadingError(.invalidValue, file: file.url,
                "tensor \"\(entry.name)\" holds a value float16 cannot represent (infinite, NaN or beyond ±65504); load the model with float32 precision")
        }
        return halves
    }

    /// The tensor as float32: in place when it is stored as aligned float32 and `residency` is
    /// `.mapped`, copied or converted once otherwise.
    func floats(_ name: String, shape: [Int], residency: WeightResidency, storage: WeightStorage) throws -> UnsafePointer<Float> {
        let (file, entry) = try locate(name, shape: shape, storage: storage)
        return elements(of: entry, in: file, storedAs: .F32, residency: residency, allocate: storage.allocate) { source, i in
            storedFloat(source, i, entry.dtype)
        }
    }

    /// The matrix [rows, columns] as a float32 copy of its transpose, [columns, rows].
    func transposedFloats(_ name: String, shape: [Int], storage: WeightStorage) throws -> UnsafePointer<Float> {
        let (file, entry) = try locate(name, shape: shape, storage: storage)
        let (rows, columns) = (shape[0], shape[1])
        let buffer = storage.allocate(entry.elementCount)
        file.file.withTransientBytes(entry.range) { source in
            let tile = 32  // square tiles, so that both sides move whole cache lines
            for r0 in stride(from: 0, to: rows, by: tile) {
                for c0 in stride(from: 0, to: columns, by: tile) {
                    for c in c0..<min(columns, c0 + tile) {
                        for r in r0..<min(rows, r0 + tile) {
                            buffer[c * rows + r] = storedFloat(source, r * columns + c, entry.dtype)
                        }
                    }
                }
            }
        }
        return UnsafePointer(buffer.baseAddress!)
    }

    /// The tensor's elements as `T`: in place from the map when they are stored as `native`,
    /// aligned, and `residency` is `.mapped`; otherwise copied (`native`) or converted one by one
    /// (`convert(source, index)`) into a buffer from `allocate`.
    @inline(__always)  // so that `convert` is inlined into the conversion loop
    private func elements<T>(of entry: SafeTensorsFile.Entry, in file: SafeTensorsFile, storedAs native: SafeTensorsDType,
                             residency: WeightResidency, allocate: (Int) -> UnsafeMutableBufferPointer<T>,
                             convert: (UnsafeRawPointer, Int) -> T) -> UnsafePointer<T> {
        let source = file.file.bytes.baseAddress! + entry.range.lowerBound
        let count = entry.elementCount
        if entry.dtype == native, residency == .mapped, Int(bitPattern: source) % MemoryLayout<T>.alignment == 0 {
            return source.assumingMemoryBound(to: T.self)
        }
        let buffer = allocate(count)
        file.file.withTransientBytes(entry.range) { source in
            if entry.dtype == native {  // copied (resident) or realigned
                memcpy(buffer.baseAddress!, source, count * MemoryLayout<T>.stride)
            } else {
                for i in 0..<count { buffer[i] = convert(source, i) }
            }
        }
        return UnsafePointer(buffer.baseAddress!)
    }
}

/// Element `index` of a little-endian F32, F16 or BF16 tensor, as a float (exactly).
@inline(__always)
private func storedFloat(_ source: UnsafeRawPointer, _ index: Int, _ dtype: SafeTensorsDType) -> Float {
    switch dtype {
    case .F16: floatFromHalf(source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self).littleEndian)
    case .BF16: Float(bitPattern: UInt32(source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self).littleEndian) << 16)
    default: Float(bitPattern: source.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self).littleEndian)
    }
}
