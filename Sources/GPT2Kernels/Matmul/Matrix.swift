/// A weight matrix as the kernels read it: where its elements are, in which format, in which
/// layout, and its shape. The kernels never own weights; the model keeps the memory alive.
package struct Matrix: @unchecked Sendable {  // plain pointers into immutable memory the caller owns
    package enum Elements: Equatable {
        case float32(UnsafePointer<Float>)
        /// IEEE binary16 bit patterns; each element is its half's value times `scale`, a power of
        /// two: 1, or 2⁻ᵏ for halves stored scaled up (``scaleHalvesUp(_:count:)``).
        case float16(UnsafePointer<UInt16>, scale: Float)
        /// Int8 values with a float scale per block of ``int8BlockSize`` along each stored row
        /// (`scales`: [storedRows, int8Blocks(rowLength:)]); always `.outputMajor`.
        case int8(UnsafePointer<Int8>, scales: UnsafePointer<Float>)
    }

    package enum Layout: Sendable {
        /// [in, out] row-major: row `i` holds input `i`'s weight for every output (GPT-2's Conv1D).
        case inputMajor
        /// [out, in] row-major: row `o` holds every weight of output `o` (an embedding table used
        /// as the LM head; a Conv1D matrix copied transposed).
        case outputMajor
    }

    package let elements: Elements
    package let layout: Layout
    package let inputSize: Int
    package let outputSize: Int

    package init(_ elements: Elements, layout: Layout, inputSize: Int, outputSize: Int) {
        self.elements = elements
        self.layout = layout
        self.inputSize = inputSize
        self.outputSize = outputSize
    }

    /// Bytes per element.
    package var elementSize: Int {
        switch elements {
        case .float32: 4
        case .float16: 2
        case .int8: 1
        }
    }

    /// Bytes of all elements (and scales): what one pass over the matrix reads.
    package var byteCount: Int {
        let scales = if case .int8 = elements { storedRows * int8Blocks(rowLength: storedRowLength) * 4 } else { 0 }
        return inputSize * outputSize * elementSize + scales
    }

    package var baseAddress: UnsafeRawPointer {
        switch elements {
        case .float32(let p): UnsafeRawPointer(p)
        case .float16(let p, _): UnsafeRawPointer(p)
        case .int8(let p, _): UnsafeRawPointer(p)
        }
    }

    /// The rows as stored: outputs for `.outputMajor`, inputs for `.inputMajor`.
    package var storedRows: Int { layout == .outputMajor ? outputSize : inputSize }
    /// Elements per stored row.
    package var storedRowLength: Int { layout == .outputMajor ? inputSize : outputSize }
}

/// How the elements of a weight matrix are stored: the row kernels are generic over it and
/// specialized for each, so float32 weights cost nothing extra.
package protocol WeightFormat {
    /// Bytes per element.
    static var size: Int { get }
    /// Eight elements from `base + byteOffset`, as floats, each its value ÷ ``inputScale``.
    static func load8(_ base: UnsafeRawPointer, byteOffset: Int) -> SIMD8<Float>
    /// Element `index`, as `load8` gives it.
    static func load(_ base: UnsafeRawPointer, index: Int) -> Float
    /// What x must be multiplied by for products with what `load8` gives (a power of two).
    static var inputScale: Float { get }
}

package enum Float32Format: WeightFormat {
    package static var size: Int { 4 }
    package static var inputScale: Float { 1 }
    @inline(__always) package static func load8(_ base: UnsafeRawPointer, byteOffset: Int) -> SIMD8<Float> {
        base.loadUnaligned(fromByteOffset: byteOffset, as: SIMD8<Float>.self)
    }
    @inline(__always) package static func load(_ base: UnsafeRawPointer, index: Int) -> Float {
        base.loadUnaligned(fromByteOffset: 4 * index, as: Float.self)
    }
}

/// Halves as ``halfFields(_:byteOffset:)`` widens them (in SSE2, without the multiply that would
/// rescale each to its value: the products take it from x).
package enum Float16Format: WeightFormat {
    package static var size: Int { 2 }
    package static var inputScale: Float { halfFieldsScale }
    @inline(__always) package static func load8(_ base: UnsafeRawPointer, byteOffset: Int) -> SIMD8<Float> {
        halfFields(base, byteOffset: byteOffset)
    }
    @inline(__always) package static func load(_ base: UnsafeRawPointer, index: Int) -> Float {
        floatFromHalf(base.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self)) / halfFieldsScale
    }
}
