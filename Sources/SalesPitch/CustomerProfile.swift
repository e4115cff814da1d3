import Foundation

/// One customer, as a row of a CRM export: named fields (`name`, `age`, `gender`, `job`,
/// `interests`, `behavior`, `product`, `industry`, or any other column) and an id.
///
/// Field names are matched without regard to case or surrounding spaces (`"Name"`, `" NAME "`),
/// and `behaviour` is read as `behavior`. Values are trimmed; an empty value counts as absent.
public struct CustomerProfile: Sendable, Hashable {
    /// The customer's id: the `id` field, else the row's line number in its file.
    public var id: String
    /// The fields, under lowercased names, without empty values.
    public private(set) var fields: [String: String]
    /// Where the profile came from (the line its row starts on), for error messages; nil if not from a file.
    public var line: Int?

    /// A profile from raw fields; `id` defaults to the `id` field, else to `line`, else to `"1"`.
    public init(fields: [String: String], id: String? = nil, line: Int? = nil) {
        var normalized: [String: String] = [:]
        for (key, value) in fields {
            var name = key.trimmingCharacters(in: .whitespaces).lowercased()
            if name == "behaviour" { name = "behavior" }
            let value = value.trimmingCharacters(in: .whitespacesAndNewlines)
            if !value.isEmpty { normalized[name] = value }
        }
        self.fields = normalized
        self.line = line
        self.id = id ?? normalized["id"] ?? line.map(String.init) ?? "1"
    }

    /// The fields of a JSON object: strings as they are, numbers as text, arrays joined by `, `
    /// (`"interests": ["yoga", "travel"]`); other values left out.
    public static func fields(ofJSON object: [String: Any]) -> [String: String] {
        object.compactMapValues { value in
            switch value {
            case let string as String: string
            case let number as NSNumber: number.stringValue
            case let array as [Any]: array.map { "\($0)" }.joined(separator: ", ")
            default: nil
            }
        }
    }

    /// The value of a field (case-insensitive name), or nil if absent or empty.
    public subscript(field: String) -> String? {
        let name = field.lowercased()
        return fields[name == "behaviour" ? "behavior" : name]
    }

    /// The language a pitch for this customer is written in, unless told otherwise: Chinese when
    /// the name or the product contains CJK characters, else English.
    public var language: PitchLanguage {
        [self["name"], self["product"]].contains { $0.map(PitchLanguage.containsCJK) ?? false } ? .chinese : .english
    }
}

/// The language of a pitch.
public enum PitchLanguage: String, Sendable, CaseIterable, Codable {
    case english = "en"
    case chinese = "zh"

    /// Whether the scalar is a CJK character or CJK punctuation (ideographs, kana, Hangul,
    /// CJK symbols, full-width forms).
    static func isCJK(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x2E80...0x9FFF, 0xAC00...0xD7AF, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFFEF, 0x20000...0x3FFFF: true
        default: false
        }
    }

    static func containsCJK(_ text: String) -> Bool {
        text.unicodeScalars.contains(where: isCJK)
    }
}
