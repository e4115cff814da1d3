import Foundation

/// `reference.json` of a fixture model, produced by Hugging Face `transformers`.
package struct ReferenceFile: Decodable {
    package struct Case: Decodable {
        package let input_ids: [Int]
        package let first_logits_first64: [Double]
        package let last_logits_first64: [Double]
        package let last_logits_top10: [Int]
        package let logits_sum_per_position: [Double]
        package let logprob_of_next_token: [Double]
        package let greedy_20: [Int]
    }
    package let dtype: String
    package let cases: [Case]

    package static func load(_ model: String) throws -> ReferenceFile {
        let url = TestPaths.reference.appendingPathComponent(model).appendingPathComponent("reference.json")
        return try JSONDecoder().decode(ReferenceFile.self, from: Data(contentsOf: url))
    }
}

/// `sales-demo-greedy.json`: greedy continuations of the demo model, from a float64 reference.
package struct SalesDemoCase: Decodable {
    package let prompt: String
    package let prompt_ids: [Int]
    package let greedy_ids: [Int]
    package let greedy_text: String
    package let stopped_at_eos: Bool
    package let last_logits_top5: [Int]
    package let prompt_logprob_sum: Double

    package static func loadAll() throws -> [SalesDemoCase] {
        let url = TestPaths.reference.appendingPathComponent("sales-demo-greedy.json")
        return try JSONDecoder().decode([SalesDemoCase].self, from: Data(contentsOf: url))
    }
}

/// log softmax(row)[index], in double precision.
package func logProbability(_ row: ArraySlice<Float>, _ index: Int) -> Double {
    let maximum = Double(row.max()!)
    let sum = row.reduce(0.0) { $0 + exp(Double($1) - maximum) }
    return Double(row[row.startIndex + index]) - maximum - log(sum)
}

/// Index of the largest value (the first on ties), as greedy decoding picks.
package func argmax(_ row: ArraySlice<Float>) -> Int {
    var best = row.startIndex
    for i in row.indices where row[i] > row[best] { best = i }
    return best - row.startIndex
}

/// Indices of the `k` largest values, largest first.
package func topK(_ row: ArraySlice<Float>, _ k: Int) -> [Int] {
    Array(row.indices.sorted { row[$0] > row[$1] }.prefix(k).map { $0 - row.startIndex })
}
