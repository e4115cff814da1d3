// Fuzzes the config.json parser.
import Foundation
import FuzzSupport
@testable import GPT2

private let url = URL(fileURLWithPath: "/fuzz/config.json")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let config = try? GPT2Config(json: Data(bytes: data, count: size), file: url) else { return 0 }
    // The ranges the model code relies on (sizes it multiplies and divides by).
    require((1...1024).contains(config.layerCount), "n_layer \(config.layerCount)")
    require((1...1024).contains(config.headCount), "n_head \(config.headCount)")
    require((1...65536).contains(config.embeddingSize), "n_embd \(config.embeddingSize)")
    require(config.embeddingSize % config.headCount == 0 && config.headSize >= 1, "head size of \(config.embeddingSize)/\(config.headCount)")
    require((1...(1 << 20)).contains(config.contextLength), "n_positions \(config.contextLength)")
    require((1...(1 << 24)).contains(config.vocabularySize), "vocab_size \(config.vocabularySize)")
    require((1...(1 << 20)).contains(config.innerSize), "n_inner \(config.innerSize)")
    require(config.layerNormEpsilon > 0 && config.layerNormEpsilon.isFinite, "layer_norm_epsilon \(config.layerNormEpsilon)")
    // Products that size buffers must not overflow.
    _ = config.vocabularySize * config.embeddingSize
    _ = config.contextLength * config.embeddingSize * config.layerCount * 2
    _ = config.embeddingSize * config.innerSize
    return 0
}

runLibFuzzer { data, size in fuzz(data ?? emptyInput, size) }
