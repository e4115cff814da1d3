import Foundation
import GPT2
import SalesPitch

/// The page's settings for a pitch or a list (`temperature`, `max_tokens`, `variants`, `seed`,
/// `language`), from a JSON body or a query string; absent or empty means the default, as for
/// `generate pitch` without the flag.
struct PitchSettings {
    var temperature: Double?
    var maxTokens: Int?
    var variants = 1
    var seed: UInt64?
    var language: PitchLanguage?

    /// - Parameter values: strings (a query) or JSON values; a wrong one is a 400 naming it.
    init(_ values: [String: Any]) throws(PageError) {
        func text(_ name: String) -> String? {
            let value: String? = switch values[name] {
            case let string as String: string
            case let number as NSNumber: number.stringValue
            default: nil
            }
            let trimmed = value?.trimmingCharacters(in: .whitespaces)
            return trimmed?.isEmpty == false ? trimmed : nil
        }
        if let value = text("temperature") {
            // the library takes any; past 2 a small model writes noise, which no salesperson wants
            guard let number = Double(value), (0...2).contains(number) else {
                throw PageError.invalid("temperature", "temperature \(value): must be a number from 0 to 2")
            }
            temperature = number
        }
        if let value = text("max_tokens") {
            guard let number = Int(value), number >= 1 else {
                throw PageError.invalid("max_tokens", "max tokens \(value): must be a whole number, 1 or more")
            }
            maxTokens = number
        }
        if let value = text("variants") {
            guard let number = Int(value), (1...16).contains(number) else {
                throw PageError.invalid("variants", "variants \(value): must be a whole number from 1 to 16")
            }
            variants = number
        }
        if let value = text("seed") {
            guard let number = UInt64(value) else {
                throw PageError.invalid("seed", "seed \(value): must be a whole number from 0 to \(UInt64.max)")
            }
            seed = number
        }
        if let value = text("language") {
            guard let language = PitchLanguage(rawValue: value) else {
                throw PageError.invalid("language", "language \(value): must be en or zh (or empty: the customer's own)")
            }
            self.language = language
        }
    }

    /// The pitch options: the model's generation_config.json over pitch's defaults, these settings
    /// over both, as `generate pitch` makes them from its flags.
    func options(model: GPT2Model) throws(PageError) -> PitchOptions {
        var options = PitchOptions(language: language, variants: variants,
                                   seed: seed ?? UInt64.random(in: 0...UInt64(UInt32.max)))
        let defaults = model.generationDefaults
        options.parameters = defaults.applied(to: options.parameters)
        if let temperature { options.parameters.temperature = Float(temperature) }
        options.maxTokens = maxTokens ?? defaults.maxNewTokens
        options.parameters.maxNewTokens = options.maxTokens ?? PitchOptions.defaultMaxTokens[.english]!
        do {
            try options.parameters.validate(vocabularySize: model.config.vocabularySize)
        } catch {
            throw PageError.invalid(error.parameter.rawValue == "maxNewTokens" ? "max_tokens" : error.parameter.rawValue,
                                    error.description)
        }
        return options
    }
}
