import Foundation

/// An element-wise activation, as the MLP applies it between its two products.
package enum ActivationFunction: Sendable {
    /// The tanh approximation of GELU.
    case geluNew
    /// The exact, erf-based GELU.
    case gelu
    /// max(0, x).
    case relu
}

/// Applies the MLP activation in place to `count` values.
package func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ activation: ActivationFunction) {
    parallelRanges(count) { range in
        activateSerially(x + range.lowerBound, count: range.count, activation)
    }
}

/// The same on the calling thread alone.
package func activateSerially(_ x: UnsafeMutablePointer<Float>, count: Int, _ activation: ActivationFunction) {
    switch activation {
    case .geluNew:
        // 0.5·x·(1 + tanh(u)) with u = √(2/π)·(x + 0.044715·x³), rewritten as x / (1 + e^(-2u))
        // since 1 + tanh(u) = 2 / (1 + e^(-2u)); one vectorisable exp instead of a libm tanh
        let c: Float = 2 * 0.7978845608028654
        for i in 0..<count {
            let v = x[i]
            x[i] = v / (1 + fastExp(-c * (v + 0.044715 * v * v * v)))
        }
    case .gelu:
        for i in 0..<count {
            let v = x[i]
            x[i] = 0.5 * v * (1 + erff(v * 0.7071067811865476))
        }
    case .relu:
        for i in 0..<count { x[i] = max(x[i], 0) }
    }
}
