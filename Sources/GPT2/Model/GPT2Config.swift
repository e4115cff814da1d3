import Foundation
import GPT2Kernels

/// The activation used between `mlp.c_fc` and `mlp.c_proj`.
public enum Activation: String, Sendable, Equatable {
    /// GPT-2's tanh approximation of GELU (`gelu_new`, also spelled `gelu_pytorch_tanh`).
    case geluNew = "gelu_new"
    /// The exact, erf-based GELU.
    case gelu
    /// max(0, x).
    case relu
}

/// The hyper-parameters of a GPT-2 checkpoint, read from its `config.json`.
public struct GPT2Config: Sendable, Equatable {
    /// Number of transformer blocks (`n_layer`).
    public var layerCount: Int
    /// Number of attention heads (`n_head`).
    public var headCount: Int
    /// Width of the residual stream (`n_embd`).
    public var embeddingSize: Int
    /// Longest sequence the position table covers (`n_positions`, or `n_ctx` in old configs).
    public var contextLength: Int
    /// Number of token ids (`vocab_size`).
    public var vocabularySize: Int
    /// Width of the MLP's hidden layer (`n_inner`; `null` means 4 × `n_embd`).
    public var innerSize: Int
    /// Epsilon of every LayerNorm (`layer_norm_epsilon`).
    public var layerNormEpsilon: Float
    /// The MLP activation (`activation_function`).
    public var activation: Activation
    /// Divide attention scores by √head size (`scale_attn_weights`).
    public var scaleAttentionWeights: Bool
    /// Also divide attention scores in block i by i + 1 (`scale_attn_by_inverse_layer_idx`).
    public var scaleAttentionByInverseLayerIndex: Bool
    /// The tokens that end a text (`eos_token_id`, one id or a list), when the file names them;
    /// `generation_config.json`'s take precedence (``GPT2Model/endOfTextIDs``).
    var endOfTextIDs: [Int]?

    /// Size of one attention head.
    public var headSize: Int { embeddingSize / headCount }

    /// Creates a configuration; `innerSize` defaults to 4 × `embeddingSize` as in GPT-2.
    public init(layerCount: Int, headCount: Int, embeddingSize: Int, contextLength: Int,
                vocabularySize: Int, innerSize: Int? = nil, layerNormEpsilon: Float = 1e-5,
                activation: Activation = .geluNew, scaleAttentionWeights: Bool = true,
                scaleAttentionByInverseLayerIndex: Bool = false) {
        self.layerCount = layerCount
        self.headCount = headCount
        self.embeddingSize = embeddingSize
        self.contextLength = contextLength
        self.vocabularySize = vocabularySize
        self.innerSize = innerSize ?? 4 * embeddingSize
        self.layerNormEpsilon = layerNormEpsilon
        self.activation = activation
        self.scaleAttentionWeights = scaleAttentionWeights
        self.scaleAttentionByInverseLayerIndex = scaleAttentionByInverseLayerIndex
    }

    /// The most read from a `config.json`: far more than any real one holds.
    static let maxFileBytes = 4 << 20

    /// The most blocks (`n_layer`) a config may give.
    static let maxLayerCount = 1024

    /// Reads and validates a Hugging Face `config.json`.
    public init(contentsOf url: URL) throws {
        try self.init(json: try readModelFile(url, limit: Self.maxFileBytes), file: url)
    }

    /// Parses `config.json` text; `file` is used in error messages.
    init(json data: Data, file url: URL) throws {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelLoadingError(.invalidJSON, file: url, "not a JSON object")
        }
        let fields = ConfigFields(object: object, url: url)

        if let modelType = try fields.string("model_type"), modelType != "gpt2" {
            throw ModelLoadingError(.unsupported, file: url, "model_type \"\(modelType)\" is not supported (only \"gpt2\")")
        }
        if try fields.bool("add_cross_attention") == true {
            throw ModelLoadingError(.unsupported, file: url, "add_cross_attention = true is not supported (decoder-only GPT-2 only)")
        }

        let layerCount = try fields.requiredInt("n_layer", range: 1...Self.maxLayerCount)
        let headCount = try fields.requiredInt("n_head", range: 1...1024)
        let embeddingSize = try fields.requiredInt("n_embd", range: 1...65536)
        let vocabularySize = try fields.requiredInt("vocab_size", range: 1...(1 << 24))
        guard let contextLength = try fields.int("n_positions", range: 1...(1 << 20)) ?? fields.int("n_ctx", range: 1...(1 << 20)) else {
            throw ModelLoadingError(.missingField, file: url, "missing required field \"n_positions\" (or \"n_ctx\")")
        }
        guard embeddingSize % headCount == 0 else {
            throw ModelLoadingError(.invalidValue, file: url, "n_embd \(embeddingSize) is not a multiple of n_head \(headCount)")
        }
        let innerSize = try fields.int("n_inner", range: 1...(1 << 20))

        let epsilon = try fields.double("layer_norm_epsilon") ?? 1e-5
        // Checked as the Float it is used as: 1e-50 is positive as a Double but 0 as a Float,
        // and LayerNorm would then divide by zero on a constant row.
        guard epsilon > 0, epsilon < 1, Float(epsilon) > 0 else {
            throw ModelLoadingError(.invalidValue, file: url, "layer_norm_epsilon \(epsilon) is not in (0, 1) as a 32-bit float (\(Float(epsilon)))")
        }

        let activationName = try fields.string("activation_function") ?? "gelu_new"
        let activation: Activation
        switch activationName {
        case "gelu_new", "gelu_pytorch_tanh": activation = .geluNew
        case "gelu": activation = .gelu
        case "relu": activation = .relu
        default:
            throw ModelLoadingError(.unsupported, file: url, "activation_function \"\(activationName)\" is not supported (gelu_new, gelu, relu)")
        }

        self.init(layerCount: layerCount, headCount: headCount, embeddingSize: embeddingSize,
                  contextLength: contextLength, vocabularySize: vocabularySize, innerSize: innerSize,
                  layerNormEpsilon: Float(epsilon), activation: activation,
                  scaleAttentionWeights: try fields.bool("scale_attn_weights") ?? true,
                  scaleAttentionByInverseLayerIndex: try fields.bool("scale_attn_by_inverse_layer_idx") ?? false)
        endOfTextIDs = try fields.ids("eos_token_id", below: vocabularySize)
    }
}

/// A JSONSerialization value that is a number, not `true` or `false`: those bridge to NSNumber
/// too (as 1 and 0), with the type code of a C char.
func jsonNumber(_ value: Any) -> NSNumber? {
    guard let number = value as? NSNumber, !(value is String), String(cString: number.objCType) != "c" else { return nil }
    return number
}

/// A JSONSerialization value that is `true` or `false`, not a number (see `jsonNumber(_:)`).
func jsonBool(_ value: Any) -> Bool? {
    guard let number = value as? NSNumber, !(value is String), String(cString: number.objCType) == "c" else { return nil }
    return number.boolValue
}

/// Typed access to the fields of a parsed `config.json` or `generation_config.json`; `null`
/// counts as absent.
struct ConfigFields {
    let object: [String: Any]
    let url: URL

    private func value(_ key: String) -> Any? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        return value
    }

    private func wrongType(_ key: String, _ expected: String) -> ModelLoadingError {
        ModelLoadingError(.invalidValue, file: url, "field \"\(key)\" should be \(expected), found \(String(describing: object[key]!))")
    }

    func string(_ key: String) throws -> String? {
        guard let value = value(key) else { return nil }
        guard let string = value as? String else { throw wrongType(key, "a string") }
        return string
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = value(key) else { return nil }
        guard let bool = value as? Bool else { throw wrongType(key, "true or false") }
        return bool
    }

    func double(_ key: String) throws -> Double? {
        guard let value = value(key) else { return nil }
        guard let number = jsonNumber(value) else { throw wrongType(key, "a number") }
        return number.doubleValue
    }

    func int(_ key: String, range: ClosedRange<Int>) throws -> Int? {
        guard let number = try double(key) else { return nil }
        guard number == number.rounded(.towardZero), number >= Double(range.lowerBound), number <= Double(range.upperBound) else {
            throw ModelLoadingError(.invalidValue, file: url, "field \"\(key)\" is \(number), expected an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return Int(number)
    }

    /// Token ids, given as one integer or a list of them (as Hugging Face writes `eos_token_id`).
    /// Ids at or past `vocabularySize` can never be generated and are left out, as Hugging Face
    /// does (small test checkpoints keep GPT-2's 50256); nil when none is left.
    func ids(_ key: String, below vocabularySize: Int) throws -> [Int]? {
        guard let value = value(key) else { return nil }
        let items = (value as? [Any]) ?? [value]
        let ids = try items.map { item in
            guard let number = jsonNumber(item), number.doubleValue == number.doubleValue.rounded(.towardZero),
                  number.doubleValue >= 0, number.doubleValue < 0x1p62 else {
                throw ModelLoadingError(.invalidValue, file: url, "field \"\(key)\" holds \(item), expected token ids (integers >= 0)")
            }
            return number.intValue
        }.filter { $0 < vocabularySize }
        return ids.isEmpty ? nil : ids
    }

    func requiredInt(_ key: String, range: ClosedRange<Int>) throws -> Int {
        guard let value = try int(key, range: range) else {
            throw ModelLoadingError(.missingField, file: url, "missing required field \"\(key)\"")
        }
        return value
    }
}
