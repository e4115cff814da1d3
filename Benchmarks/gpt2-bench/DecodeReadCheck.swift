import Dispatch
import GPT2
import GPT2Kernels

/// The decode products against a bare read of the same bytes, for `gpt2-bench decode-read`: how
/// close the product kernel comes to the memory's rate, measured in one process so that the two
/// can be paired round by round on a machine whose bandwidth drifts.
extension GPT2Model {
    /// Bytes of the blocks' weight matrices (what one decoded token reads besides the LM head).
    var blockMatrixBytes: Int {
        weights.h.reduce(0) { total, block in total + block.linears.reduce(0) { $0 + $1.weight.byteCount } }
    }

    /// Seconds to run every block's four products for one token row, `passes` times, as a decode
    /// step runs them (no attention, LayerNorm or GELU between them).
    func timeBlockProducts(passes: Int) -> Double {
        let width = weights.h.flatMap(\.linears).map { max($0.inputSize, $0.outputSize) }.max() ?? 0
        let x = UnsafeMutablePointer<Float>.allocate(capacity: width)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: width)
        defer { x.deallocate(); y.deallocate() }
        x.initialize(repeating: 0.01, count: width)
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<passes {
            for block in weights.h {
                for linear in block.linears {
                    matmul(x, rows: 1, linear.weight, bias: linear.bias, into: DenseRows(y, width: linear.outputSize))
                }
            }
        }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Seconds to read the same bytes, `passes` times, in the same chunks on the same threads as
    /// the products, each chunk as the same four streams, but only summed (as floats, whatever the
    /// precision); and the sum of one pass, so that the reads cannot be left out.
    func timeBlockBareRead(passes: Int) -> (seconds: Double, sum: Double) {
        var sum = 0.0
        let start = DispatchTime.now().uptimeNanoseconds
        for pass in 0..<passes {
            for block in weights.h {
                for linear in block.linears {
                    // W's rows as the product kernel takes them: [out, in] by row dots, [in, out] accumulated
                    let w = linear.weight, (rows, rowLength) = (w.storedRows, w.storedRowLength)
                    let chunks = w.layout == .outputMajor
                        ? rowDotChunks(rows: rows, rowLength: rowLength, elementSize: w.elementSize)
                        : accumulateChunks(inputs: rows, outputs: rowLength, elementSize: w.elementSize)
                    let partial = bareRead(w.baseAddress, rows: rows, rowBytes: rowLength * w.elementSize, chunks: chunks)
                    if pass == 0 { sum += partial }
                }
            }
        }
        return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, sum)
    }
}

/// Σ of `rows` rows of `rowBytes` bytes at `w`, read as floats: each chunk on whichever thread takes
/// it, as four streams (one per quarter of its rows, as `accumulateRows` and `rowDots`
/// read them).
private func bareRead(_ w: UnsafeRawPointer, rows: Int, rowBytes: Int, chunks: [Range<Int>]) -> Double {
    let sums = UnsafeMutablePointer<Double>.allocate(capacity: chunks.count)
    defer { sums.deallocate() }
    parallelChunks(chunks) { index, range in
        let base = w + range.lowerBound * rowBytes
        let q = range.count / 4 * rowBytes  // bytes from one stream to the next
        var a = SIMD8<Float>(), b = SIMD8<Float>(), c = SIMD8<Float>(), d = SIMD8<Float>()
        var offset = 0
        while offset + 32 <= q {  // wrapping arithmetic: offset < q, nothing can overflow
            a += base.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
            b += base.loadUnaligned(fromByteOffset: offset &+ q, as: SIMD8<Float>.self)
            c += base.loadUnaligned(fromByteOffset: offset &+ 2 &* q, as: SIMD8<Float>.self)
            d += base.loadUnaligned(fromByteOffset: offset &+ 3 &* q, as: SIMD8<Float>.self)
            offset &+= 32
        }
        var sum = Double(horizontalSum(a + b + c + d))
        // what the vectors left: the end of each stream, then the rows after the four quarters
        for stream in 0..<4 {
            for byte in stride(from: offset, to: q, by: 4) {
                sum += Double(base.loadUnaligned(fromByteOffset: stream * q + byte, as: Float.self))
            }
        }
        for byte in stride(from: 4 * q, to: range.count * rowBytes, by: 4) {
            sum += Double(base.loadUnaligned(fromByteOffset: byte, as: Float.self))
        }
        sums[index] = sum
    }
    return (0..<chunks.count).reduce(0) { $0 + sums[$1] }
}
