import Foundation

/// What a checkpoint's optional `generation_config.json` says, as far as this engine reads it:
/// the tokens that end a text. Hugging Face's `generate` takes them from there before `config.json`.
struct GenerationConfig {
    var endOfTextIDs: [Int]?

    /// Reads `generation_config.json` in `directory`; an absent file says nothing.
    init(directory: URL, vocabularySize: Int) throws {
        let url = directory.appendingPathComponent("generation_config.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let data = try readModelFile(url, limit: 1 << 20)  // far more than any real one holds
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelLoadingError(.invalidJSON, file: url, "not a JSON object")
        }
        endOfTextIDs = try ConfigFields(object: object, url: url).ids("eos_token_id", below: vocabularySize)
    }
}
