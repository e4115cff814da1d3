/// Which positions a forward pass computes logits for. The LM head is the largest matrix of a
/// small model, so computing it only where it is needed matters.
public enum LogitRows: Sendable, Equatable {
    /// Only the last new position (what generation needs).
    case last
    /// Every new position (what scoring a text needs).
    case all
    /// None: only fill the cache.
    case none
}

/// Next-token logits for some positions: `rowCount` rows of `vocabularySize` values.
public struct Logits: Sendable, Equatable {
    /// Number of rows (positions).
    public let rowCount: Int
    /// Length of each row.
    public let vocabularySize: Int
    /// All rows, row-major: [rowCount, vocabularySize].
    public var values: [Float]

    /// The logits of row `index` (`0..<rowCount`, like an array index).
    public subscript(row index: Int) -> ArraySlice<Float> {
        values[(index * vocabularySize)..<((index + 1) * vocabularySize)]
    }

    /// The logits of the last row (empty when there are no rows).
    public var last: ArraySlice<Float> { rowCount == 0 ? [] : self[row: rowCount - 1] }
}
