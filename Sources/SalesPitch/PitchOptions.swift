import GPT2

/// How pitches are made.
public struct PitchOptions: Sendable {
    /// Sampling, as for any generation; defaults: temperature 0.7 (what customers' scripts use)
    /// and `maxNewTokens` per language (``defaultMaxTokens``), unless set.
    /// Its `seed` is ignored: seeds come from ``seed``.
    public var parameters: GenerationParameters
    /// The most tokens of a pitch; nil: ``defaultMaxTokens`` for its language.
    public var maxTokens: Int?
    /// The template; nil: the built-in one of each customer's language.
    public var template: PitchTemplate?
    /// The language of every pitch; nil: each customer's own (``CustomerProfile/language``).
    public var language: PitchLanguage?
    /// Pitches per customer.
    public var variants: Int
    /// Draws per pitch until one passes every check (``PitchCheck``); greedy decoding draws once.
    public var attempts: Int
    /// The most draws a pitch takes: ``attempts``, or 1 when greedy (every draw would be the same).
    public var draws: Int { parameters.temperature == 0 ? 1 : max(attempts, 1) }
    /// The seed every pitch's seed is derived from, with the customer's id and the variant.
    public var seed: UInt64
    /// Forbid CJK tokens in English pitches (``ScriptFilter``) rather than only redrawing (local
    /// engine only).
    public var scriptFilter: Bool

    /// Tokens a pitch may take, by language: the demo model's pitches run to 50–90 tokens in
    /// English and 210–250 in Chinese (whose characters take one to three byte-level tokens each);
    /// these leave room for longer ones (measured in `Models/sales-demo/README.md`).
    public static let defaultMaxTokens: [PitchLanguage: Int] = [.english: 150, .chinese: 300]

    public init(parameters: GenerationParameters = GenerationParameters(temperature: 0.7), maxTokens: Int? = nil,
                template: PitchTemplate? = nil, language: PitchLanguage? = nil, variants: Int = 1, attempts: Int = 4,
                seed: UInt64 = 0, scriptFilter: Bool = true) {
        self.parameters = parameters
        self.maxTokens = maxTokens
        self.template = template
        self.language = language
        self.variants = variants
        self.attempts = attempts
        self.seed = seed
        self.scriptFilter = scriptFilter
    }

    /// The seed of a customer's variant (from 1): a hash of ``seed``, the id and the variant,
    /// never the row's position, so a reordered, filtered or resumed list gives each customer the
    /// same pitches. Redraws take the following seeds.
    public func seed(customerID: String, variant: Int) -> UInt64 {
        // FNV-1a over the three, then a SplitMix64 finalizer to spread nearby inputs
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let bytes = withUnsafeBytes(of: seed.littleEndian, Array.init) + Array(customerID.utf8) + [0]
            + withUnsafeBytes(of: UInt64(variant).littleEndian, Array.init)
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
        return hash ^ (hash >> 31)
    }
}
