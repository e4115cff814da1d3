import ArgumentParser
import Foundation
import GPT2
import GPT2Kernels

/// `gpt2-bench decode-read`: the decode product kernel against a bare read of the same bytes.
struct DecodeReadBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode-read",
        abstract: "How close the decode product kernel comes to a bare read of the same weights.",
        discussion: """
            Each round times two things back to back, in alternating order: the blocks' four \
            products for one token row with the kernel a decode step uses (row dots on the \
            transposed copies of resident float32 weights, the accumulate kernel otherwise; no \
            attention or LayerNorm between them), and a bare sum of the same bytes in the same \
            chunks, threads and four streams per chunk. Each reads all the blocks' matrices --passes times. The \
            table gives both rates (GB/s of weights) and the product's share of the bare rate: \
            the mean over rounds of each round's share, ± its standard error. Pairing within a \
            round is what lets a few percent show through a machine whose bandwidth drifts. \
            Only release builds mean anything: a debug build runs both unoptimised.
            """
    )

    @Option(name: [.customShort("m"), .customLong("model")], help: "Model directory.")
    var model: String

    @Option(name: [.customShort("t"), .customLong("threads")], help: "Threads.")
    var threads = ComputeThreads.physicalCoreCount

    @Option(help: "Rounds, each timing the products and the bare read once.")
    var rounds = 40

    @Option(help: "Passes over all the blocks' matrices per timing.")
    var passes = 3

    @Option(help: "Where float32 weights live: mapped or resident.")
    var weights: WeightResidency = .resident

    @Option(help: "Precision of the weight matrices: f32, f16 or int8.")
    var precision: WeightPrecision = .float32

    @Option(name: [.customShort("o"), .customLong("output"), .customLong("format")], help: "Output: md, csv or json.")
    var format: OutputFormat = .md

    func validate() throws {
        guard threads >= 1, (2...100_000).contains(rounds), (1...1_000).contains(passes) else {
            throw ValidationError("-t must be at least 1, --rounds 2 to 100000, --passes 1 to 1000")
        }
    }

    func run() throws {
        let loaded = try GPT2Model(directory: URL(fileURLWithPath: model), residency: weights, precision: precision)
        let threads = effectiveThreads(threads)
        setThreads(threads)
        let bytes = Double(loaded.blockMatrixBytes * passes)
        _ = loaded.timeBlockProducts(passes: 1)  // page in the weights
        _ = loaded.timeBlockBareRead(passes: 1)
        var products: [Double] = [], bare: [Double] = [], shares: [Double] = []
        for round in 0..<rounds {
            // the order alternates, so that neither always runs on the other's warm-up
            let productFirst = round.isMultiple(of: 2)
            var product = productFirst ? bytes / loaded.timeBlockProducts(passes: passes) / 1e9 : 0
            let read = bytes / loaded.timeBlockBareRead(passes: passes).seconds / 1e9
            if !productFirst { product = bytes / loaded.timeBlockProducts(passes: passes) / 1e9 }
            products.append(product)
            bare.append(read)
            shares.append(product / read)
        }
        let share = Statistics(shares)
        let shareError = share.sd / Double(rounds).squareRoot()
        var row: [String: Any] = [
            "model": URL(fileURLWithPath: model).lastPathComponent, "threads": threads, "rounds": rounds,
            "passes": passes, "weights": weights.rawValue, "precision": precision.rawValue,
            "block_matrix_mb": Double(loaded.blockMatrixBytes) / 1e6,
            "product_gbs": Statistics(products).mean, "bare_read_gbs": Statistics(bare).mean,
            "product_share_pct": 100 * share.mean,
            "product_share_se_pct": 100 * shareError,
        ]
        switch format {
        case .json:
            row["product_gbs_samples"] = products
            row["bare_read_gbs_samples"] = bare
        case .md:
            row["share"] = String(format: "%.1f ± %.1f %%", 100 * share.mean, 100 * shareError)
        case .csv:
            break
        }
        let columns = ["model", "threads", "precision", "block_matrix_mb", "product_gbs", "bare_read_gbs"]
            + (format == .md ? ["share"] : ["product_share_pct", "product_share_se_pct"])
        try printTable([row], columns: columns, format: format)
    }
}
