import Foundation
import GPT2Kernels

extension GPT2Weights {
    /// Loads every tensor the architecture in `config` needs from the safetensors in `directory`.
    /// `checkingValues: false` skips the finite-value check, only for measuring what it costs;
    /// `int8PieceBytes` is for tests (``TensorIndex/int8Rows(_:shape:transposed:storage:)``).
    static func load(directory: URL, config: GPT2Config, residency: WeightResidency, precision: WeightPrecision,
                     checkingValues: Bool = true, int8PieceBytes: Int = 4 << 20) throws -> GPT2Weights {
        let storage = WeightStorage()
        var index = try TensorIndex(directory: directory, layerCount: config.layerCount, residency: residency, storage: storage)
        index.checksValues = checkingValues
        index.int8PieceBytes = int8PieceBytes
        let (C, F, V) = (config.embeddingSize, config.innerSize, config.vocabularySize)

        // Vectors and `wpe` are copied too when the matrices are converted copies, so that the files
        // can be unmapped after loading: used in place, each would fault the file's pages around it
        // (the matrices' float32 rows) back in, resident beside their copies.
        let vectorResidency = precision == .float32 ? residency : .resident
        func tensor(_ name: String, _ shape: [Int]) throws -> UnsafePointer<Float> {
            try index.floats(name, shape: shape, residency: vectorResidency, storage: storage)
        }
        func elements(_ name: String, _ shape: [Int]) throws -> Matrix.Elements {
            switch precision {
            case .float32: .float32(try tensor(name, shape))
            case .float16: try index.halves(name, shape: shape, residency: residency, storage: storage)
            case .int8: try index.int8Rows(name, shape: shape, transposed: false, storage: storage)
            }
        }
        /// `h.N.attn.c_attn` and the like; profiled under the name without `h.N.` (`attn.c_attn`
        /// as `c_attn`, GPT-2's own short names, and `attn.c_proj`, `mlp.c_proj`).
        func linear(_ block: Int, _ name: String, _ inputSize: Int, _ outputSize: Int) throws -> Linear {
            let path = "h.\(block).\(name)", shape = [inputSize, outputSize]
            let weight = switch (precision, residency) {
            case (.float32, .resident):
                Matrix(.float32(try index.transposedFloats("\(path).weight", shape: shape, storage: storage)),
                       layout: .outputMajor, inputSize: inputSize, outputSize: outputSize)
            case (.float16, _) where KernelBuild.widensHalvesInHardware
                    && (residency == .resident || !index.isStoredAsHalves("\(path).weight")):
                // copied anyway: transposed on the way, as float32 above, where the rows decode faster
                Matrix(.float16(try index.transposedHalves("\(path).weight", shape: shape, storage: storage), scale: 1),
                       layout: .outputMajor, inputSize: inputSize, outputSize: outputSize)
            case (.int8, _):  // an output's weights in one row, so that each scale covers one output's
                Matrix(try index.int8Rows("\(path).weight", shape: shape, transposed: true, storage: storage),
                       layout: .outputMajor, inputSize: inputSize, outputSize: outputSize)
            default:
                Matrix(try elements("\(path).weight", shape), layout: .inputMajor, inputSize: inputSize, outputSize: outputSize)
            }
            let profileName = name.hasSuffix("c_proj") ? name : String(name.split(separator: ".").last!)
            return Linear(name: profileName, weight: weight, bias: try tensor("\(path).bias", [outputSize]))
        }
        func layerNorm(_ path: String) throws -> LayerNormWeights {
            LayerNormWeights(name: String(path.split(separator: ".").last!),
                             weight: try tensor("\(path).weight", [C]), bias: try tensor("\(path).bias", [C]))
        }
        func table(_ name: String) throws -> Matrix {  // [vocab_size, n_embd], read as the LM head reads it
            Matrix(try elements(name, [V, C]), layout: .outputMajor, inputSize: C, outputSize: V)
        }

        let wte = try table("wte.weight")
        let blocks = try (0..<config.layerCount).map { i in
            BlockWeights(ln_1: try layerNorm("h.\(i).ln_1"),
                         c_attn: try linear(i, "attn.c_attn", C, 3 * C),
                         attn_c_proj: try linear(i, "attn.c_proj", C, C),
                         ln_2: try layerNorm("h.\(i).ln_2"),
                         c_fc: try linear(i, "mlp.c_fc", C, F),
                         mlp_c_proj: try linear(i, "mlp.c_proj", F, C))
        }
        // An explicit lm_head (untied fine-tunes) wins; otherwise the head is tied to wte.
        let lmHead = index.contains("lm_head.weight") ? try table("lm_head.weight") : wte
        try index.requireAllUsed(layerCount: config.layerCount, configFile: directory.appendingPathComponent("config.json"))
        let weights = GPT2Weights(wte: wte, wpe: try tensor("wpe.weight", [config.contextLength, C]),
                                  h: blocks, ln_f: try layerNorm("ln_f"), lm_head: lmHead, storage: storage)
        storage.releaseFilesIfUnused()
        return weights
    }
}

/// Finds tensors by GPT-2 name across one file or a sharded checkpoint, under either naming
/// convention (`transformer.h.0...` from `save_pretrained`, bare `h.0...` in the original upload).
struct TensorIndex {
    private var locations: [String: (file: SafeTensorsFile, entry: SafeTensorsFile.Entry)] = [:]
    /// Whether `locate` refuses tensors holding NaN or infinity (always, except when measuring).
    var checksValues = true
    /// Bytes of the file `int8Rows` reads, checks and drops at a time.
    var int8PieceBytes = 4 << 20

    /// The tensors of the checkpoint in `directory`, for a model of `layerCount` blocks (which
    /// bounds the entries a safetensors header may have).
    init(directory: URL, layerCount: Int, residency: WeightResidency, storage: WeightStorage) throws {
        let single = directory.appendingPathComponent("model.safetensors")
        let indexURL = directory.appendingPathComponent("model.safetensors.index.json")
        let files: [SafeTensorsFile]
        if FileManager.default.fileExists(atPath: single.path) {
            files = [try SafeTensorsFile(url: single, layerCount: layerCount)]
        } else if FileManager.default.fileExists(atPath: indexURL.path) {
            files = try Self.shards(indexURL: indexURL, directory: directory).map { try SafeTensorsFile(url: $0, layerCount: layerCount) }
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
        try shards(indexJSON: try readModelFile(indexURL, limit: maxIndexBytes), indexURL: indexURL, directory: directory)
    }

    /// The most read from `model.safetensors.index.json`: many times the index of a model of
    /// 1024 blocks, the most a config may give.
    static let maxIndexBytes = 16 << 20

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

    /// Refuses a checkpoint holding parameters the config does not use: blocks beyond `n_layer`
    /// (which would otherwise run a truncated model silently) or tensors of another architecture.
    /// The causal-mask buffers some exports include (`attn.bias`, `attn.masked_bias`) are not
    /// parameters and may be there.
    func requireAllUsed(layerCount: Int, configFile: URL) throws {
        let perBlock = ["ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
                        "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                        "mlp.c_proj.weight", "mlp.c_proj.bias"]
        var used: Set<String> = ["wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias", "lm_head.weight"]
        for block in 0..<layerCount { for name in perBlock { used.insert("h.\(block).\(name)") } }
        let unused = locations.keys.filter { !used.contains($0) && !$0.hasSuffix(".attn.bias") && !$0.hasSuffix(".attn.masked_bias") }
        guard !unused.isEmpty else { return }
        let blocks = unused.compactMap { name -> Int? in
            guard name.hasPrefix("h.") else { return nil }
            return Int(name.dropFirst(2).prefix { $0 != "." })
        }
        if let last = blocks.max(), last >= layerCount {
            // the first of that block's tensors by name, so that the message is the same every run
            let name = unused.filter { $0.hasPrefix("h.\(last).") }.min()!
            let (file, entry) = locations[name]!
            throw ModelLoadingError(.inconsistentFiles, file: file.url,
                "holds block h.\(last) (tensor \"\(entry.name)\") but \(configFile.path) says n_layer \(layerCount); the two files disagree")
        }
        let name = unused.sorted()[0]
        let (file, entry) = locations[name]!
        throw ModelLoadingError(.inconsistentFiles, file: file.url,
            "tensor \"\(entry.name)\" is not a parameter of the GPT-2 model \(configFile.path) describes (\(unused.count) such tensors); the two files disagree")
    }

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

    /// ``requireFinite(_:in:elements:)`` unless measuring (`checksValues`). Called where the
    /// elements are read, inside `withTransientBytes` for a copy, so that the check does not
    /// leave the file's pages resident.
    private func checkValues(_ entry: SafeTensorsFile.Entry, in file: SafeTensorsFile, elements: Range<Int>? = nil) throws {
        if checksValues { try Self.requireFinite(entry, in: file, elements: elements ?? 0..<entry.elementCount) }
    }

    /// Refuses a tensor holding a NaN or an infinity: one such weight makes every later logit NaN,
    /// which would otherwise come out as confident garbage rather than an error. Every tensor the
    /// model uses passes here once, on every load path, before it is used or copied.
    private static func requireFinite(_ entry: SafeTensorsFile.Entry, in file: SafeTensorsFile, elements: Range<Int>) throws {
        let format: StoredFloatFormat = switch entry.dtype {
        case .F16: .float16
        case .BF16: .bfloat16
        default: .float32
        }
        let source = file.file.bytes.baseAddress! + entry.range.lowerBound + elements.lowerBound * entry.dtype.byteSize
        guard let (offset, kind) = firstNonFinite(source, count: elements.count, format: format) else { return }
        let index = elements.lowerBound + offset
        var position = "index \(index)"
        if entry.shape.count == 2, entry.shape[1] > 0 {
            position += " (row \(index / entry.shape[1]), column \(index % entry.shape[1]))"
        }
        throw ModelLoadingError(.nonFiniteValue, file: file.url,
            "tensor \"\(entry.name)\" has a non-finite value (\(kind.rawValue)) at \(position)")
    }

    /// The tensor as float16: in place when it is stored as aligned float16 and `residency` is
    /// `.mapped`, copied or converted (rounded to nearest) once otherwise. Where the kernels widen
    /// halves in software a copy is scaled up so that no half is subnormal
    /// (``scaleHalvesUp(_:count:)``): each would cost a microcode assist in every decode step. The
    /// decode kernels' conversion assumes finite halves, so values beyond ±65504 are refused
    /// (`locate` has already refused infinities and NaNs).
    func halves(_ name: String, shape: [Int], residency: WeightResidency, storage: WeightStorage) throws -> Matrix.Elements {
        let (file, entry) = try locate(name, shape: shape, storage: storage)
        let halves = try elements(of: entry, in: file, storedAs: .F16, residency: residency, storage: storage) { source, i in
            halfFromFloat(storedFloat(source, i, entry.dtype))
        }
        try Self.requireRepresentable(halves, entry, in: file)
        let copied = UnsafeRawPointer(halves) != file.file.bytes.baseAddress! + entry.range.lowerBound
        let scale = copied && !KernelBuild.widensHalvesInHardware
            ? scaleHalvesUp(UnsafeMutablePointer(mutating: halves), count: entry.elementCount) : 1
        return .float16(halves, scale: scale)
    }

    /// The tensor as float32: in place when it is stored as aligned float32 and `residency` is
    /// `.mapped`, copied or converted once otherwise.
    func floats(_ name: String, shape: [Int], residency: WeightResidency, storage: WeightStorage) throws -> UnsafePointer<Float> {
        let (file, entry) = try locate(name, shape: shape, storage: storage)
        return try elements(of: entry, in: file, storedAs: .F32, residency: residency, storage: storage) { source, i in
            storedFloat(source, i, entry.dtype)
        }
    }

    /// The matrix [rows, columns] as a float32 copy of its transpose, [columns, rows].
    func transposedFloats(_ name: String, shape: [Int], storage: WeightStorage) throws -> UnsafePointer<Float> {
        let (file, entry) = try locate(name, shape: shape, storage: storage)
        return try transposed(entry, in: file, storage: storage) { source, i in storedFloat(source, i, entry.dtype) }
    }

    /// The matrix [rows, columns] as a float16 copy of its transpose, [columns, rows], rounded to
    /// nearest; values beyond ±65504 are refused, as by ``halves(_:shape:residency:storage:)``.
    func transposedHalves(_ name: String, shape: [Int], storage: WeightStorage) throws -> UnsafePointer<UInt16> {
        let (file, entry) = try locate(name, shape: shape, storage: storage)
        let halves = try transposed(entry, in: file, storage: storage) { source, i in
            entry.dtype == .F16 ? source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian
                : halfFromFloat(storedFloat(source, i, entry.dtype))
        }
        try Self.requireRepresentable(halves, entry, in: file)
        return halves
    }

    /// Refuses halves that rounded to infinity: the decode kernels' conversion assumes finite ones.
    private static func requireRepresentable(_ halves: UnsafePointer<UInt16>, _ entry: SafeTensorsFile.Entry,
                                             in file: SafeTensorsFile) throws {
        if (0..<entry.elementCount).contains(where: { halves[$0] & 0x7c00 == 0x7c00 }) {
            throw ModelLoadingError(.invalidValue, file: file.url,
                "tensor \"\(entry.name)\" holds a value float16 cannot represent (beyond ±65504); load the model with float32 precision")
        }
    }

    /// A copy of the transpose of a 2-D tensor, element `i` of the source converted by `convert`.
    @inline(__always)  // so that `convert` is inlined into the loop
    private func transposed<T>(_ entry: SafeTensorsFile.Entry, in file: SafeTensorsFile, storage: WeightStorage,
                               convert: (UnsafeRawPointer, Int) -> T) throws -> UnsafePointer<T> {
        let (rows, columns) = (entry.shape[0], entry.shape[1])
        let buffer = try storage.allocate(entry.elementCount, of: T.self, for: entry.name, in: file.url)
        try file.file.withTransientBytes(entry.range) { source in
            try checkValues(entry, in: file)
            let tile = 32  // square tiles, so that both sides move whole cache lines
            parallelRanges((rows + tile - 1) / tile, minimumPerPart: 4) { tileRows in
                for r0 in stride(from: tileRows.lowerBound * tile, to: min(rows, tileRows.upperBound * tile), by: tile) {
                    for c0 in stride(from: 0, to: columns, by: tile) {
                        for c in c0..<min(columns, c0 + tile) {
                            for r in r0..<min(rows, r0 + tile) { buffer[c * rows + r] = convert(source, r * columns + c) }
                        }
                    }
                }
            }
        }
        return UnsafePointer(buffer.baseAddress!)
    }

    /// Whether tensor `name` is stored as float16 (and so can be used in place from a map).
    func isStoredAsHalves(_ name: String) -> Bool { locations[name]?.entry.dtype == .F16 }

    /// The matrix [rows, columns] quantized to int8 rows (``quantizeRows``): its own rows, or when
    /// `transposed` its columns (a Conv1D [in, out] matrix as [out, in]). The file is read, checked
    /// and dropped a piece of about 4 MB at a time (of a transposed matrix, whole blocks of its
    /// rows; ``int8PieceBytes``), and converted a few rows at a time, so that loading never holds
    /// a whole float32 matrix (`wte` is 154 MB of float32 in GPT-2 124M).
    func int8Rows(_ name: String, shape: [Int], transposed: Bool, storage: WeightStorage) throws -> Matrix.Elements {
        let (file, entry) = try locate(name, shape: shape, storage: storage)
        let (rows, columns) = transposed ? (shape[1], shape[0]) : (shape[0], shape[1])
        let blocks = int8Blocks(rowLength: columns)
        let q = try storage.allocate(entry.elementCount, of: Int8.self, for: entry.name, in: file.url)
        let scales = try storage.allocate(rows * blocks, of: Float.self, for: entry.name, in: file.url)
        let group = 32

        let source = file.file.bytes.baseAddress! + entry.range.lowerBound
        /// Result rows `outputs`, columns `part` (whole blocks), `group` rows at a time on each thread.
        func quantize(outputs: Range<Int>, columns part: Range<Int>) {
            let groups = (outputs.count + group - 1) / group
            parallelRanges(groups, minimumPerPart: 4) { range in
                let floats = UnsafeMutablePointer<Float>.allocate(capacity: group * part.count)  // [group, part]
                defer { floats.deallocate() }
                for g in range {
                    let first = outputs.lowerBound + g * group, count = min(group, outputs.upperBound - first)
                    // stored row r of the result is source row r, or source column r when transposed
                    for c in part {
                        for r in 0..<count {
                            let index = transposed ? c * rows + first + r : (first + r) * columns + c
                            floats[r * part.count + c - part.lowerBound] = storedFloat(source, index, entry.dtype)
                        }
                    }
                    quantizeRows(floats, rows: count, rowLength: columns, columns: part, sourceStride: part.count,
                                 into: q.baseAddress! + first * columns, scales: scales.baseAddress! + first * blocks)
                }
            }
        }
        let (sourceRows, sourceColumns) = (shape[0], shape[1])
        let unit = transposed ? int8BlockSize : group
        let piece = max(unit, int8PieceBytes / max(1, sourceColumns * entry.dtype.byteSize) / unit * unit)
        for first in stride(from: 0, to: sourceRows, by: piece) {
            let read = first..<min(sourceRows, first + piece)
            let elements = read.lowerBound * sourceColumns..<read.upperBound * sourceColumns
            let bytes = entry.range.lowerBound + elements.lowerBound * entry.dtype.byteSize
                ..< entry.range.lowerBound + elements.upperBound * entry.dtype.byteSize
            try file.file.withTransientBytes(bytes) { _ in
                try checkValues(entry, in: file, elements: elements)
                if transposed { quantize(outputs: 0..<rows, columns: read) } else { quantize(outputs: read, columns: 0..<columns) }
            }
        }
        return .int8(UnsafePointer(q.baseAddress!), scales: UnsafePointer(scales.baseAddress!))
    }

    /// The tensor's elements as `T`: in place from the map when they are stored as `native`,
    /// aligned, and `residency` is `.mapped`; otherwise copied (`native`) or converted one by one
    /// (`convert(source, index)`) into a buffer of `storage`.
    @inline(__always)  // so that `convert` is inlined into the conversion loop
    private func elements<T>(of entry: SafeTensorsFile.Entry, in file: SafeTensorsFile, storedAs native: SafeTensorsDType,
                             residency: WeightResidency, storage: WeightStorage,
                             convert: (UnsafeRawPointer, Int) -> T) throws -> UnsafePointer<T> {
        let source = file.file.bytes.baseAddress! + entry.range.lowerBound
        let count = entry.elementCount
        if entry.dtype == native, residency == .mapped, Int(bitPattern: source) % MemoryLayout<T>.alignment == 0 {
            try checkValues(entry, in: file)
            storage.noteUsedInPlace()
            return source.assumingMemoryBound(to: T.self)
        }
        let buffer = try storage.allocate(count, of: T.self, for: entry.name, in: file.url)
        try file.file.withTransientBytes(entry.range) { source in
            try checkValues(entry, in: file)
            if entry.dtype == native {  // copied (resident) or realigned
                memcpy(buffer.baseAddress!, source, count * MemoryLayout<T>.stride)
            } else {
                parallelRanges(count, minimumPerPart: 1 << 20) { part in
                    for i in part { buffer[i] = convert(source, i) }
                }
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
