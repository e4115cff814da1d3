import Foundation
import GPT2

/// What every pitch is checked for before anyone sees it. A small model can drop the customer's
/// name, name another product, switch language or stop mid-sentence; a pitch that fails a check
/// is drawn again (see ``PitchOptions/attempts``).
public enum PitchCheck: String, Sendable, CaseIterable, Codable, Comparable {
    /// It names the customer: the given name or the full name; for a Chinese name, the full name
    /// or the surname followed by 先生 or 女士.
    case name
    /// It names the product exactly as the profile spells it.
    case product
    /// It is in the profile's language: no CJK text in an English pitch; a Chinese one mostly
    /// Chinese (more CJK characters than Latin letters).
    case language
    /// It ends at the end of a sentence (or where the model ended it, at `<|endoftext|>`), and
    /// has no broken character (U+FFFD) anywhere.
    case ending

    public static func < (lhs: PitchCheck, rhs: PitchCheck) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// The checks `text` passes for `profile` in `language`, given why its generation stopped.
    public static func passed(by text: String, stopReason: StopReason, profile: CustomerProfile,
                              language: PitchLanguage) -> Set<PitchCheck> {
        var passed: Set<PitchCheck> = []
        if let name = profile["name"], namesCustomer(text, name: name) { passed.insert(.name) }
        if let product = profile["product"], text.contains(product) { passed.insert(.product) }
        if isWritten(text, in: language) { passed.insert(.language) }
        if endsWell(text, stopReason: stopReason) { passed.insert(.ending) }
        return passed
    }

    /// Compound surnames; any other Chinese name's surname is its first character.
    static let compoundSurnames = ["欧阳", "司马", "诸葛", "上官", "东方", "慕容", "司徒", "皇甫", "夏侯", "尉迟", "公孙", "令狐"]

    static func namesCustomer(_ text: String, name: String) -> Bool {
        if PitchLanguage.containsCJK(name) {
            // Chinese has no spaces between words: the name anywhere counts
            if text.contains(name) { return true }
            let surname = compoundSurnames.first(where: name.hasPrefix) ?? String(name.prefix(1))
            return text.contains(surname + "先生") || text.contains(surname + "女士")
        }
        guard let given = name.split(separator: " ").first else { return false }
        return containsWord(text, name) || containsWord(text, String(given))
    }

    /// `word` occurs in `text` not inside a longer word ("Ann" is not in "Anna").
    static func containsWord(_ text: String, _ word: String) -> Bool {
        var searchRange = text.startIndex..<text.endIndex
        while let found = text.range(of: word, range: searchRange) {
            let before = found.lowerBound == text.startIndex ? nil : text[text.index(before: found.lowerBound)]
            let after = found.upperBound == text.endIndex ? nil : text[found.upperBound]
            if !(before?.isLetter ?? false) && !(after?.isLetter ?? false) { return true }
            searchRange = text.index(after: found.lowerBound)..<text.endIndex
        }
        return false
    }

    static func isWritten(_ text: String, in language: PitchLanguage) -> Bool {
        let cjk = text.unicodeScalars.count(where: PitchLanguage.isCJK)
        switch language {
        case .english:
            return cjk == 0
        case .chinese:
            let latin = text.unicodeScalars.count { $0.isASCII && $0.properties.isAlphabetic }
            return cjk > latin
        }
    }

    static func endsWell(_ text: String, stopReason: StopReason) -> Bool {
        if text.unicodeScalars.contains("\u{FFFD}") { return false }
        if stopReason == .endOfText || stopReason == .stopSequence { return true }
        var trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        while let last = trimmed.last, "\"'”’)）」』".contains(last) { trimmed.removeLast() }
        return trimmed.last.map { ".!?。！？…".contains($0) } ?? false
    }
}
