import Foundation

/// The reference: the formula as written, one query, one head, one key at a time, accumulated in
/// double precision. Slow on purpose; every other kernel is checked against it.
package struct NaiveAttention: AttentionKernel {
    package let name = "naive"

    package init() {}

    package func run(_ a: AttentionArguments) {
        let D = a.shape.headSize
        var scores = [Double](repeating: 0, count: a.shape.keyCount)
        for h in 0..<a.shape.headCount {
            for t in 0..<a.shape.queryCount {
                let q = a.queries + t * a.queryStride + h * D
                let visible = a.shape.pastCount + t + 1
                var maximum = -Double.infinity
                for j in 0..<visible {
                    let k = a.keys + j * a.keyValueStride + h * D
                    var dot = 0.0
                    for d in 0..<D { dot += Double(q[d]) * Double(k[d]) }
                    scores[j] = dot * Double(a.scale)
                    maximum = max(maximum, scores[j])
                }
                var sum = 0.0
                for j in 0..<visible {
                    scores[j] = exp(scores[j] - maximum)
                    sum += scores[j]
                }
                let o = a.output + t * a.outputStride + h * D
                for d in 0..<D {
                    var acc = 0.0
                    for j in 0..<visible { acc += scores[j] * Double(a.values[j * a.keyValueStride + h * D + d]) }
                    o[d] = Float(acc / sum)
                }
            }
        }
    }
}
