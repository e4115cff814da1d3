// Fuzzes the parser of model.safetensors.index.json: every shard it accepts must be a file
// directly inside the model directory.
import Foundation
import FuzzSupport
@testable import GPT2

private let directory = URL(fileURLWithPath: "/fuzz/model", isDirectory: true)
private let indexURL = directory.appendingPathComponent("model.safetensors.index.json")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let shards = try? TensorIndex.shards(indexJSON: Data(bytes: data, count: size), indexURL: indexURL,
                                               directory: directory) else { return 0 }
    require(!shards.isEmpty, "an accepted index names no shard")
    let prefix = Array("/fuzz/model/".utf8)
    for shard in shards {
        // Compared as bytes: `String` comparisons work on Characters, which a combining mark
        // can merge with a "/".
        let path = Array(shard.path.utf8)
        require(path.starts(with: prefix), "shard \(shard.path.debugDescription) is outside the model directory")
        let name = path.dropFirst(prefix.count)
        require(!name.isEmpty && !name.elementsEqual(".".utf8) && !name.elementsEqual("..".utf8)
                    && !name.contains(UInt8(ascii: "/")) && !name.contains(0),
                "shard name \(shard.lastPathComponent.debugDescription) is not a plain file name")
        require(Array(shard.standardizedFileURL.path.utf8) == path, "shard \(shard.path.debugDescription) is not in standard form")
    }
    return 0
}

runLibFuzzer { data, size in fuzz(data ?? emptyInput, size) }
