import Foundation

/// Turns a ``CustomerProfile`` into a prompt.
///
/// The built-in templates are the formats the bundled demo model (`Models/sales-demo`) was
/// trained on, exactly:
///
/// ```
/// Customer: {name}, {age}, {job}. Interests: {interests}. Recently {behavior}.
/// Product: {product} ({industry})
/// Pitch:
/// ```
/// ```
/// 客户：{name}，{age}岁，{gender}，{job}。兴趣：{interests}。行为：{behavior}。
/// 产品：{product}
/// 话术：
/// ```
/// In them, only `name` and `product` are required: the part of an empty field is left out
/// (`Customer: Olivia Brown, nurse.` without an age). Interests are joined by `, ` or `、`
/// whatever separators the profile used (`,` `;` `、` `，`), and the gender is written 男/女 in
/// Chinese (from male/female/m/f/男/女).
///
/// A template of your own (``init(text:)``) is any text with `{field}` placeholders, where a field
/// is any column of the customer list; `{{` and `}}` are literal braces. Its values are used as
/// given, and a placeholder with no value is an error for that customer.
public struct PitchTemplate: Sendable, Hashable {
    enum Piece: Sendable, Hashable {
        case text(String)
        case field(String)
        /// Built-in templates only: the pieces, or nothing when the field is empty.
        case optional(String, [Piece])
    }

    let pieces: [Piece]
    /// Whether values are normalized as the demo model's corpus writes them (built-in templates).
    let normalizes: Bool

    /// The demo model's English format.
    public static let english = PitchTemplate(pieces: [
        .text("Customer: "), .field("name"), .optional("age", [.text(", "), .field("age")]),
        .optional("job", [.text(", "), .field("job")]), .text("."),
        .optional("interests", [.text(" Interests: "), .field("interests"), .text(".")]),
        .optional("behavior", [.text(" Recently "), .field("behavior"), .text(".")]),
        .text("\nProduct: "), .field("product"), .optional("industry", [.text(" ("), .field("industry"), .text(")")]),
        .text("\nPitch:"),
    ], normalizes: true)

    /// The demo model's Chinese format.
    public static let chinese = PitchTemplate(pieces: [
        .text("客户："), .field("name"), .optional("age", [.text("，"), .field("age"), .text("岁")]),
        .optional("gender", [.text("，"), .field("gender")]), .optional("job", [.text("，"), .field("job")]), .text("。"),
        .optional("interests", [.text("兴趣："), .field("interests"), .text("。")]),
        .optional("behavior", [.text("行为："), .field("behavior"), .text("。")]),
        .text("\n产品："), .field("product"), .text("\n话术："),
    ], normalizes: true)

    /// The built-in template for a language.
    public static func builtIn(_ language: PitchLanguage) -> PitchTemplate {
        language == .english ? english : chinese
    }

    private init(pieces: [Piece], normalizes: Bool) {
        self.pieces = pieces
        self.normalizes = normalizes
    }

    /// A template from text with `{field}` placeholders (field names are case-insensitive).
    ///
    /// - Throws: ``PitchTemplateError`` for an unclosed `{`, a lone `}`, or an empty placeholder.
    public init(text: String) throws(PitchTemplateError) {
        var pieces: [Piece] = []
        var literal = ""
        let characters = Array(text)
        var i = 0
        while i < characters.count {
            let character = characters[i]
            if (character == "{" || character == "}") && i + 1 < characters.count && characters[i + 1] == character {
                literal.append(character)  // {{ or }}
                i += 2
            } else if character == "}" {
                throw PitchTemplateError(message: "lone '}' at character \(i + 1) (write '}}' for a literal brace)")
            } else if character == "{" {
                guard let close = characters[(i + 1)...].firstIndex(of: "}") else {
                    throw PitchTemplateError(message: "unclosed '{' at character \(i + 1)")
                }
                let name = String(characters[(i + 1)..<close]).trimmingCharacters(in: .whitespaces).lowercased()
                guard !name.isEmpty, !name.contains("{") else {
                    throw PitchTemplateError(message: "bad placeholder at character \(i + 1): expected {field}")
                }
                if !literal.isEmpty { pieces.append(.text(literal)) }
                literal = ""
                pieces.append(.field(name == "behaviour" ? "behavior" : name))
                i = close + 1
            } else {
                literal.append(character)
                i += 1
            }
        }
        if !literal.isEmpty { pieces.append(.text(literal)) }
        self.init(pieces: pieces, normalizes: false)
    }

    /// The fields of the placeholders outside optional parts: a profile needs each of them.
    public var fields: [String] {
        pieces.compactMap { if case .field(let name) = $0 { name } else { nil } }
    }

    /// The prompt for `profile`, in `language` (which only changes how built-in templates write
    /// interests and gender).
    ///
    /// - Throws: ``PitchRejection`` naming the first required field the profile lacks.
    public func prompt(for profile: CustomerProfile, language: PitchLanguage) throws(PitchRejection) -> String {
        var prompt = ""
        try append(pieces, of: profile, language: language, to: &prompt)
        return prompt
    }

    private func append(_ pieces: [Piece], of profile: CustomerProfile, language: PitchLanguage,
                        to prompt: inout String) throws(PitchRejection) {
        for piece in pieces {
            switch piece {
            case .text(let text):
                prompt += text
            case .field(let name):
                guard let value = profile[name] else {
                    throw PitchRejection(profile, normalizes ? "no \(name)" : "no value for the template's {\(name)}")
                }
                prompt += normalizes ? Self.normalized(value, field: name, language: language) : value
            case .optional(let name, let inner):
                if profile[name] != nil { try append(inner, of: profile, language: language, to: &prompt) }
            }
        }
    }

    /// A value as the demo corpus writes it: interests joined by the language's separator, gender
    /// as 男/女 in Chinese, no sentence-ending punctuation of its own (the template adds it).
    static func normalized(_ value: String, field: String, language: PitchLanguage) -> String {
        // a line break inside a cell would break the format's lines
        let value = value.split(whereSeparator: \.isNewline).joined(separator: " ")
        switch field {
        case "interests":
            let items = value.split(whereSeparator: { ",;、，；".contains($0) })
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return items.joined(separator: language == .english ? ", " : "、")
        case "gender" where language == .chinese:
            switch value.lowercased() {
            case "male", "m", "man", "男": return "男"
            case "female", "f", "woman", "女": return "女"
            default: return value
            }
        case "behavior", "job":
            var value = value
            while let last = value.last, ".。!！".contains(last) { value.removeLast() }
            return value
        default:
            return value
        }
    }
}

/// A template that cannot be parsed.
public struct PitchTemplateError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}
