import Foundation

/// What the tokenizer files say, read but not yet checked against each other: tokens with ids,
/// merge rules in rank order and added (special) tokens, each with the file and line it came from.
struct GPT2TokenizerDefinition {
    struct Token {
        /// The token spelled in GPT-2's byte alphabet, as UTF-8.
        var spelling: ArraySlice<UInt8>
        var id: Int
        var line: Int
    }

    struct Merge {
        var left: ArraySlice<UInt8>
        var right: ArraySlice<UInt8>
        var line: Int
    }

    struct AddedToken {
        /// The literal text of the token, as UTF-8.
        var content: [UInt8]
        var id: Int
        var special: Bool
        var line: Int
    }

    var vocabulary: [Token] = []
    var merges: [Merge] = []
    var addedTokens: [AddedToken] = []
    /// File names used in error messages about the vocabulary and about the merges.
    var vocabularyFile: String
    var mergesFile: String
    /// How the vocabulary is called in messages ("vocab.json", "the model vocabulary").
    var vocabularyName: String
}

// MARK: - Reading files

enum TokenizerFileReader {
    /// The most read from one tokenizer file: many times GPT-2's largest (its tokenizer.json), and
    /// a bound on what a hostile or mistaken file costs before it is parsed.
    static let maxFileBytes = 64 << 20

    /// The file's bytes, read into one buffer that the parsed tokens share.
    static func readBytes(_ url: URL) throws(TokenizerError) -> [UInt8] {
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TokenizerError(.fileNotFound, file: path, "file not found")
        }
        guard !isDirectory.boolValue else {
            throw TokenizerError(.unreadableFile, file: path, "is a directory, expected a file")
        }
        do {
            return try readWholeFile(url, limit: maxFileBytes)
        } catch {
            if case .tooLarge = error { throw TokenizerError(.fileTooLarge, file: path, error.detail) }
            throw TokenizerError(.unreadableFile, file: path, error.detail)
        }
    }

    /// A token or text quoted for an error message, shortened when long.
    static func quote(_ bytes: some Collection<UInt8>) -> String {
        var s = String(decoding: bytes, as: UTF8.self)
        if s.unicodeScalars.count > 40 { s = String(String.UnicodeScalarView(s.unicodeScalars.prefix(40))) + "…" }
        return "\"" + s.debugDescription.dropFirst().dropLast() + "\""
    }

    // MARK: vocab.json

    /// Reads `vocab.json`: one JSON object mapping each token's spelling to its integer id.
    static func readVocabJSON(_ url: URL) throws(TokenizerError) -> [GPT2TokenizerDefinition.Token] {
        try parseVocabJSON(readBytes(url), file: url.path)
    }

    /// Parses the text of `vocab.json`; `file` is used in error messages.
    static func parseVocabJSON(_ bytes: [UInt8], file: String) throws(TokenizerError) -> [GPT2TokenizerDefinition.Token] {
        let json = try TokenizerJSON.parse(bytes, file: file)
        return try vocabulary(from: json, file: file, what: "the vocabulary")
    }

    static func vocabulary(from json: TokenizerJSON, file: String, what: String)
        throws(TokenizerError) -> [GPT2TokenizerDefinition.Token] {
        guard case .object(let members) = json.kind else {
            throw TokenizerError(.invalidVocabulary, file: file, line: json.line,
                                 "\(what) must be a JSON object mapping tokens to ids, found \(json.typeName)")
        }
        var tokens: [GPT2TokenizerDefinition.Token] = []
        tokens.reserveCapacity(members.count)
        for member in members {
            guard let id = member.value.intValue else {
                throw TokenizerError(.invalidVocabulary, file: file, line: member.value.line,
                                     "the id of token \(quote(member.key)) must be an integer, found \(member.value.typeName)"
                                     + (member.value.typeName == "a number" ? " that is not an integer" : ""))
            }
            tokens.append(.init(spelling: member.key, id: id, line: member.value.line))
        }
        return tokens
    }

    // MARK: merges.txt

    /// Reads `merges.txt`: an optional `#version` line, then one merge per line, two tokens
    /// separated by one space, highest priority first. Blank lines are skipped.
    static func readMergesTXT(_ url: URL, maxMerges: Int = .max) throws(TokenizerError) -> [GPT2TokenizerDefinition.Merge] {
        try parseMergesTXT(readBytes(url), file: url.path, maxMerges: maxMerges)
    }

    /// Parses the text of `merges.txt`; `file` is used in error messages. Each merge makes a token
    /// of the vocabulary, so a file of more than `maxMerges` (the vocabulary's size) is refused as soon as the
    /// count is passed, before a degenerate file is built into gigabytes of merges.
    static func parseMergesTXT(_ bytes: [UInt8], file: String, maxMerges: Int = .max) throws(TokenizerError) -> [GPT2TokenizerDefinition.Merge] {
        var merges: [GPT2TokenizerDefinition.Merge] = []
        merges.reserveCapacity(min(bytes.count / 9, maxMerges))
        var start = 0
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { start = 3 }
        var lineNumber = 0
        let space = UInt8(ascii: " ")
        while start < bytes.count {
            lineNumber += 1
            var end = start
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            let next = end + 1
            if end > start, bytes[end - 1] == 0x0D { end -= 1 }
            defer { start = next }
            if end == start { continue }
            let line = bytes[start..<end]
            if line.starts(with: "#version".utf8) { continue }
            // Exactly one space, not at either end.
            var spaces = 0
            var split = start
            for i in start..<end where bytes[i] == space {
                spaces += 1
                split = i
            }
            guard spaces == 1, split > start, split < end - 1 else {
                let found = spaces == 1 ? "an empty token" : "\(spaces + 1) space-separated parts"
                throw TokenizerError(.invalidMerges, file: file, line: lineNumber,
                                     "expected two tokens separated by one space, found \(found): \(quote(line))")
            }
            guard merges.count < maxMerges else {
                throw TokenizerError(.invalidMerges, file: file, line: lineNumber,
                                     "more than \(maxMerges) merges, more than the vocabulary has tokens; each merge makes a token")
            }
            merges.append(.init(left: bytes[start..<split], right: bytes[(split + 1)..<end], line: lineNumber))
        }
        return merges
    }

    // MARK: tokenizer.json

    /// Reads a Hugging Face `tokenizer.json` with a BPE model and a ByteLevel pre-tokenizer.
    static func readTokenizerJSON(_ url: URL) throws(TokenizerError) -> GPT2TokenizerDefinition {
        try parseTokenizerJSON(readBytes(url), file: url.path)
    }

    /// Parses the text of a `tokenizer.json`; `file` is used in error messages.
    static func parseTokenizerJSON(_ bytes: [UInt8], file: String) throws(TokenizerError) -> GPT2TokenizerDefinition {
        let root = try TokenizerJSON.parse(bytes, file: file)
        guard case .object = root.kind else {
            throw TokenizerError(.invalidJSON, file: file, line: root.line, "expected a JSON object at the top level, found \(root.typeName)")
        }
        func unsupported(_ value: TokenizerJSON, _ message: String) -> TokenizerError {
            TokenizerError(.unsupported, file: file, line: value.line, message)
        }

        // Model: BPE with a vocabulary and merges.
        guard let model = root["model"], case .object = model.kind else {
            throw TokenizerError(.invalidVocabulary, file: file, line: root["model"]?.line,
                                 "no \"model\" object (expected a BPE model with \"vocab\" and \"merges\")")
        }
        if let type = model["type"], type.stringValue != "BPE" {
            throw unsupported(type, "model type \(type.stringValue.map { "\"\($0)\"" } ?? type.typeName) is not supported, only \"BPE\"")
        }
        for option in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let value = model[option], !value.isNull, value.stringValue != "" {
                throw unsupported(value, "BPE option \"\(option)\" is not supported")
            }
        }
        if let value = model["ignore_merges"], value.boolValue == true {
            throw unsupported(value, "BPE option \"ignore_merges\": true is not supported")
        }
        // dropout splits words at random on every encode: not GPT-2's tokenization
        if let value = model["dropout"], !value.isNull, value.intValue != 0 {
            throw unsupported(value, "BPE option \"dropout\" is not supported (GPT-2 has null)")
        }
        guard let vocab = model["vocab"] else {
            throw TokenizerError(.invalidVocabulary, file: file, line: model.line, "the model has no \"vocab\"")
        }
        var definition = GPT2TokenizerDefinition(vocabularyFile: file, mergesFile: file, vocabularyName: "the model vocabulary")
        definition.vocabulary = try vocabulary(from: vocab, file: file, what: "\"model.vocab\"")

        guard let mergeList = model["merges"] else {
            throw TokenizerError(.invalidMerges, file: file, line: model.line, "the model has no \"merges\"")
        }
        guard case .array(let mergeValues) = mergeList.kind else {
            throw TokenizerError(.invalidMerges, file: file, line: mergeList.line,
                                 "\"model.merges\" must be an array, found \(mergeList.typeName)")
        }
        // each merge makes a token of the vocabulary: more is a degenerate file, refused before
        // its merges are built (one with fewer tokens than bytes is refused later, for that)
        guard mergeValues.count <= max(definition.vocabulary.count, 256) else {
            throw TokenizerError(.invalidMerges, file: file, line: mergeList.line,
                                 "\(mergeValues.count) merges, more than \"model.vocab\" has tokens (\(definition.vocabulary.count)); each merge makes a token")
        }
        definition.merges.reserveCapacity(mergeValues.count)
        for value in mergeValues {
            switch value.kind {
            case .string(let text):
                // Older format: "left right".
                let parts = text.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw TokenizerError(.invalidMerges, file: file, line: value.line,
                                         "a merge must be two tokens separated by one space, found \(quote(text))")
                }
                definition.merges.append(.init(left: parts[0], right: parts[1], line: value.line))
            case .array(let pair):
                // Newer format: ["left", "right"].
                guard pair.count == 2, case .string(let left) = pair[0].kind, case .string(let right) = pair[1].kind,
                      !left.isEmpty, !right.isEmpty else {
                    throw TokenizerError(.invalidMerges, file: file, line: value.line,
                                         "a merge must be a pair of two non-empty strings")
                }
                definition.merges.append(.init(left: left, right: right, line: value.line))
            default:
                throw TokenizerError(.invalidMerges, file: file, line: value.line,
                                     "a merge must be a string \"left right\" or a pair [\"left\", \"right\"], found \(value.typeName)")
            }
        }

        // Normalizer: none. Anything else would change the text before BPE.
        if let normalizer = root["normalizer"], !normalizer.isNull {
            throw unsupported(normalizer, "a normalizer is not supported (GPT-2 has \"normalizer\": null)")
        }

        // Pre-tokenizer: ByteLevel with GPT-2's pattern and no prefix space, alone or in a one-element Sequence.
        guard let preTokenizer = root["pre_tokenizer"], !preTokenizer.isNull else {
            throw TokenizerError(.unsupported, file: file, line: root["pre_tokenizer"]?.line,
                                 "no pre-tokenizer; expected a ByteLevel pre-tokenizer")
        }
        var byteLevel = preTokenizer
        if preTokenizer["type"]?.stringValue == "Sequence",
           case .array(let steps)? = preTokenizer["pretokenizers"]?.kind, steps.count == 1 {
            byteLevel = steps[0]
        }
        guard byteLevel["type"]?.stringValue == "ByteLevel" else {
            throw unsupported(byteLevel, "pre-tokenizer \(byteLevel["type"]?.stringValue.map { "\"\($0)\"" } ?? "without a type") is not supported, only \"ByteLevel\"")
        }
        if let value = byteLevel["add_prefix_space"], value.boolValue == true {
            throw unsupported(value, "ByteLevel \"add_prefix_space\": true is not supported (GPT-2 uses false)")
        }
        if let value = byteLevel["use_regex"], value.boolValue == false {
            throw unsupported(value, "ByteLevel \"use_regex\": false is not supported (GPT-2 uses its pattern)")
        }

        // Post-processor and decoder: ByteLevel (or none) only. Another post-processor would add
        // tokens (a template's BOS or EOS) that the engine does not; another decoder, other text.
        for (key, what) in [("post_processor", "post-processor"), ("decoder", "decoder")] {
            if let step = root[key], !step.isNull, step["type"]?.stringValue != "ByteLevel" {
                throw unsupported(step, "\(what) \(step["type"]?.stringValue.map { "\"\($0)\"" } ?? "without a type") is not supported, only \"ByteLevel\" or null")
            }
        }

        // Added tokens.
        if let added = root["added_tokens"], !added.isNull {
            guard case .array(let entries) = added.kind else {
                throw TokenizerError(.invalidVocabulary, file: file, line: added.line,
                                     "\"added_tokens\" must be an array, found \(added.typeName)")
            }
            for entry in entries {
                guard case .object = entry.kind else {
                    throw TokenizerError(.invalidVocabulary, file: file, line: entry.line,
                                         "an added token must be an object, found \(entry.typeName)")
                }
                guard let idValue = entry["id"], let id = idValue.intValue else {
                    throw TokenizerError(.invalidVocabulary, file: file, line: entry.line, "an added token has no integer \"id\"")
                }
                guard case .string(let content)? = entry["content"]?.kind, !content.isEmpty else {
                    throw TokenizerError(.invalidVocabulary, file: file, line: entry.line,
                                         "added token \(id) has no non-empty \"content\" string")
                }
                for option in ["lstrip", "rstrip", "single_word"] {
                    if let value = entry[option], value.boolValue == true {
                        throw unsupported(value, "added token \(quote(content)): \"\(option)\": true is not supported")
                    }
                }
                let special = entry["special"]?.boolValue ?? false
                definition.addedTokens.append(.init(content: Array(content), id: id, special: special, line: entry.line))
            }
        }
        return definition
    }
}
