import Foundation
import GPT2Kernels

/// `y = x · W + bias`: a Conv1D layer, as checkpoints store it ([in, out]). Resident float32
/// weights are copied at load anyway, and are copied transposed ([out, in]): a decoded token's
/// products are then one dot product per output over a contiguous row, the LM head's kernel, with
/// no partial sums to add across threads.
package struct Linear: @unchecked Sendable {  // points into immutable weight memory owned by `WeightStorage`
    /// The layer's name in a profile (`c_attn`, `mlp.c_proj`).
    package let name: String
    package let weight: Matrix
    package let bias: UnsafePointer<Float>  // [out]
    package var inputSize: Int { weight.inputSize }
    package var outputSize: Int { weight.outputSize }
}

/// The gain and shift of a LayerNorm.
package struct LayerNormWeights: @unchecked Sendable {  // see `Linear`
    /// The layer's name in a profile (`ln_1`, `ln_f`).
    package let name: String
    package let weight: UnsafePointer<Float>  // [n_embd]
    package let bias: UnsafePointer<Float>    // [n_embd]
}

/// One transformer block `h.N`, with GPT-2's parameter names.
package struct BlockWeights: Sendable {
    package let ln_1: LayerNormWeights
    package let c_attn: Linear       // attn.c_attn: [n_embd, 3·n_embd], q | k | v
    package let attn_c_proj: Linear  // attn.c_proj: [n_embd, n_embd]
    package let ln_2: LayerNormWeights
    package let c_fc: Linear         // mlp.c_fc:    [n_embd, n_inner]
    package let mlp_c_proj: Linear   // mlp.c_proj:  [n_inner, n_embd]

    /// The four Conv1D layers, in the order the block runs them.
    package var linears: [Linear] { [c_attn, attn_c_proj, c_fc, mlp_c_proj] }
}

/// All parameters of a GPT-2 model, as pointers that stay valid while `storage` lives. The
/// matrices (blocks' Conv1D weights, `wte`/`lm_head`) come in the loaded ``WeightPrecision``;
/// biases, LayerNorms and `wpe` are always float32.
package struct GPT2Weights: @unchecked Sendable {  // immutable after loading
    package let wte: Matrix                    // [vocab_size, n_embd]: the LM head's layout, outputs = vocab_size
    package let wpe: UnsafePointer<Float>      // [n_positions, n_embd]
    package let h: [BlockWeights]
    package let ln_f: LayerNormWeights
    package let lm_head: Matrix                // [vocab_size, n_embd]; `wte` itself when tied
    let storage: WeightStorage
}

/// Owns the memory the weights live in: the mapped files (float32 weights used in place) and the
/// buffers of tensors that were copied, converted or realigned. Tensors up to half a ``chunkBytes``
/// share chunks of huge pages, one after another: each in 2 MB pages of its own would round every
/// matrix up to whole pages, about 50 MB of GPT-2 124M's copied weights. Large chunks leave few
/// partly filled pages (a chunk's untouched rest is address space, not memory).
final class WeightStorage: @unchecked Sendable {  // mutated only while loading, by one thread
    private(set) var files: [SafeTensorsFile] = []
    private var buffers: [UnsafeMutableRawPointer] = []
    /// The chunk being filled (``chunkBytes`` long): its start and the bytes handed out.
    private var chunk: (base: UnsafeMutableRawPointer, used: Int)?
    /// Bytes of copied or converted tensors (the rest is mapped from the files).
    private(set) var ownedBytes = 0

    static let chunkBytes = 128 << 20

    /// Whether some tensor is used in place from a mapped file.
    private(set) var usesFilesInPlace = false

    func add(_ file: SafeTensorsFile) { files.append(file) }

    /// Notes that a tensor is used in place from a mapped file, so the files must stay mapped.
    func noteUsedInPlace() { usesFilesInPlace = true }

    /// Unmaps the files once loading is done if every tensor was copied: pages the kernel
    /// mapped around the ones read would otherwise stay resident.
    func releaseFilesIfUnused() {
        if !usesFilesInPlace { files = [] }
    }

    /// An uninitialized buffer for the `count` elements of tensor `name` of `file`, in huge pages
    /// (`allocateStreamedMemory`), 64-byte aligned.
    ///
    /// - Throws: ``ModelLoadingError/Kind/outOfMemory`` naming the tensor when the machine cannot
    ///   give the memory. Its size is the tensor's, which the file holds, so this is the machine's
    ///   limit rather than the file's fault.
    func allocate<T>(_ count: Int, of _: T.Type, for name: String, in file: URL) throws(ModelLoadingError) -> UnsafeMutableBufferPointer<T> {
        let bytes = max(1, count * MemoryLayout<T>.stride)
        func buffer(_ size: Int) throws(ModelLoadingError) -> UnsafeMutableRawPointer {
            guard let raw = allocateStreamedMemory(bytes: size) else {
                throw ModelLoadingError(.outOfMemory, file: file,
                    "cannot allocate \(bytes) bytes for tensor \"\(name)\" (after \(ownedBytes) bytes of other weights): not enough memory")
            }
            buffers.append(raw)
            return raw
        }
        let raw: UnsafeMutableRawPointer
        if bytes > Self.chunkBytes / 2 {
            raw = try buffer(bytes)
        } else {
            let aligned = (bytes + 63) / 64 * 64
            if chunk == nil || chunk!.used + aligned > Self.chunkBytes {  // the rest of a full chunk is never touched
                chunk = (try buffer(Self.chunkBytes), 0)
            }
            raw = chunk!.base + chunk!.used
            chunk!.used += aligned
        }
        ownedBytes += bytes
        return UnsafeMutableBufferPointer(start: raw.bindMemory(to: T.self, capacity: count), count: count)
    }

    deinit {
        for buffer in buffers { free(buffer) }
    }
}
