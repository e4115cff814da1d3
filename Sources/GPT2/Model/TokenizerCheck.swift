import Foundation

extension GPT2Model {
    /// Refuses a tokenizer that does not fit this model: one with more tokens than `vocab_size`
    /// would hand the model ids it has no embedding for, failing requests mid-batch, and one whose
    /// `<|endoftext|>` is outside the vocabulary would never see the end of a text.
    ///
    /// - Parameter tokenizer: the tokenizer loaded from `directory` (``GPT2Tokenizer/init(directory:)``).
    /// - Throws: ``ModelLoadingError`` (``ModelLoadingError/Kind/inconsistentFiles``) naming the
    ///   tokenizer file and `config.json`.
    public func check(tokenizer: GPT2Tokenizer) throws(ModelLoadingError) {
        let V = config.vocabularySize
        let configPath = directory.appendingPathComponent("config.json").path
        let json = directory.appendingPathComponent("tokenizer.json")
        let file = FileManager.default.fileExists(atPath: json.path) ? json : directory.appendingPathComponent("vocab.json")
        // (its <|endoftext|> is one of its tokens, so this keeps that id inside the model's too)
        if tokenizer.vocabularySize > V {
            throw ModelLoadingError(.inconsistentFiles, file: file,
                "has \(tokenizer.vocabularySize) tokens but \(configPath) says vocab_size \(V); the two files disagree")
        }
    }
}
