/// Where a product's output rows go. Output columns are split into `parts` equal parts, and row
/// `m` of part `p` may live anywhere (``row(_:part:)``); within a part a row is contiguous. A
/// dense matrix is one part (``DenseRows``); `c_attn`'s queries, keys and values are three, the
/// keys and values written straight into each sequence's cache rows (``SplitRows``).
package protocol MatmulDestination {
    /// Number of parts the output columns are split into.
    var parts: Int { get }
    /// Columns per part.
    var partWidth: Int { get }
    /// Distance between consecutive rows of one part, where they are evenly spaced (BLAS writes a
    /// run of such rows in one call).
    var rowStride: Int { get }
    /// The first element of output row `m` in part `p`.
    func row(_ m: Int, part p: Int) -> UnsafeMutablePointer<Float>
    /// Output column `r` of row `m`.
    func element(_ m: Int, _ r: Int) -> UnsafeMutablePointer<Float>
}

/// `y[M, width]` row-major with rows `rowStride` apart.
package struct DenseRows: MatmulDestination {
    package let y: UnsafeMutablePointer<Float>
    package let partWidth: Int
    package let rowStride: Int
    package var parts: Int { 1 }

    package init(_ y: UnsafeMutablePointer<Float>, width: Int, rowStride: Int? = nil) {
        self.y = y
        self.partWidth = width
        self.rowStride = rowStride ?? width
    }

    @inline(__always) package func row(_ m: Int, part p: Int) -> UnsafeMutablePointer<Float> { y + m &* rowStride }
    @inline(__always) package func element(_ m: Int, _ r: Int) -> UnsafeMutablePointer<Float> { y + (m &* rowStride &+ r) }
}

/// Output columns in `parts` parts of `partWidth`, each row of each part at its own address:
/// `rows[p * rowCount + m]`.
package struct SplitRows: MatmulDestination {
    package let rows: UnsafePointer<UnsafeMutablePointer<Float>>  // [parts, rowCount]
    package let rowCount: Int
    package let parts: Int
    package let partWidth: Int
    package let rowStride: Int

    package init(rows: UnsafePointer<UnsafeMutablePointer<Float>>, rowCount: Int, parts: Int, partWidth: Int, rowStride: Int) {
        self.rows = rows
        self.rowCount = rowCount
        self.parts = parts
        self.partWidth = partWidth
        self.rowStride = rowStride
    }

    @inline(__always) package func row(_ m: Int, part p: Int) -> UnsafeMutablePointer<Float> { rows[p &* rowCount &+ m] }
    @inline(__always) package func element(_ m: Int, _ r: Int) -> UnsafeMutablePointer<Float> {
        let p = r / partWidth
        return rows[p &* rowCount &+ m] + (r &- p &* partWidth)
    }
}

extension MatmulDestination {
    /// Calls `body(first, count, pointer)` for each run of rows in `rows` of part `p` that are
    /// `rowStride` apart, so that one BLAS call or one loop covers each run.
    func forEachRun(of p: Int, rows: Range<Int>, _ body: (Int, Int, UnsafeMutablePointer<Float>) -> Void) {
        var first = rows.lowerBound
        while first < rows.upperBound {
            let start = row(first, part: p)
            var end = first + 1
            while end < rows.upperBound && row(end, part: p) == start + (end - first) * rowStride { end += 1 }
            body(first, end - first, start)
            first = end
        }
    }

    /// Copies `bias` into columns `columns` of every row (or adds it, when `adding`): where a
    /// product that accumulates starts.
    func start(rows M: Int, from bias: UnsafePointer<Float>, adding: Bool) {
        for p in 0..<parts {
            let b = bias + p * partWidth
            for m in 0..<M {
                let out = row(m, part: p)
                if adding {
                    for i in 0..<partWidth { out[i] += b[i] }
                } else {
                    out.update(from: b, count: partWidth)
                }
            }
        }
    }

    /// Adds `count` dense `[M, parts·partWidth]` matrices, one after another from `partials`, into
    /// columns `columns` of every row, in order: each element gets the same sums as adding each
    /// whole matrix in turn, so threads that take disjoint columns give the same bits.
    func add(_ partials: UnsafePointer<Float>, count: Int, rows M: Int, columns: Range<Int>) {
        let width = parts * partWidth
        for m in 0..<M {
            var c = columns.lowerBound
            while c < columns.upperBound {
                let p = c / partWidth, end = min(columns.upperBound, (p + 1) * partWidth)
                let out = row(m, part: p) + (c - p * partWidth)
                for k in 0..<count {
                    let source = partials + (k * M + m) * width + c
                    for i in 0..<(end - c) { out[i] += source[i] }
                }
                c = end
            }
        }
    }

    /// Applies `activation` to columns `range` of row `m`.
    func activate(_ m: Int, _ range: Range<Int>, _ activation: ActivationFunction) {
        var c = range.lowerBound
        while c < range.upperBound {
            let p = c / partWidth, end = min(range.upperBound, (p + 1) * partWidth)
            activateSerially(row(m, part: p) + (c - p * partWidth), count: end - c, activation)
            c = end
        }
    }
}
