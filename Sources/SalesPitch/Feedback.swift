import Foundation

/// A reviewer's decision on one pitch: one JSON line of the feedback file that
/// `generate review` appends to.
public struct Feedback: Codable, Sendable, Equatable {
    public enum Decision: String, Codable, Sendable {
        case accept, reject, edit
    }

    public var id: String
    public var variant: Int
    public var prompt: String
    public var pitch: String
    public var decision: Decision
    /// The reviewer's text, for ``Decision/edit``.
    public var edited: String?
    /// Why, for ``Decision/reject`` (optional).
    public var reason: String?
    /// When, in ISO 8601.
    public var time: String
    /// The model that wrote the pitch.
    public var model: String

    public init(id: String, variant: Int, prompt: String, pitch: String, decision: Decision, edited: String? = nil,
                reason: String? = nil, time: Date = Date(), model: String) {
        self.id = id
        self.variant = variant
        self.prompt = prompt
        self.pitch = pitch
        self.decision = decision
        self.edited = edited
        self.reason = reason
        self.time = ISO8601DateFormatter().string(from: time)
        self.model = model
    }

    /// The text to keep: the edit, or the pitch itself. An edit keeps the pitch's leading space
    /// (English pitches start with one after `Pitch:`), so prompt + completion reads as trained.
    public var completion: String? {
        switch decision {
        case .accept: return pitch
        case .reject: return nil
        case .edit:
            guard let edited else { return nil }
            let lead = pitch.prefix(while: \.isWhitespace)
            return edited.first?.isWhitespace == true ? edited : lead + edited
        }
    }

    /// The decisions in a feedback file, in order; none if the file does not exist. A last line
    /// cut short is left out.
    ///
    /// - Throws: ``CustomerListError`` if another line is not a decision (not a feedback file).
    public static func read(_ url: URL) throws -> [Feedback] {
        guard let data = FileManager.default.contents(atPath: url.path) else { return [] }
        let decoder = JSONDecoder()
        let lines = data.split(separator: 0x0A)
        return try lines.enumerated().compactMap { index, line in
            if let decision = try? decoder.decode(Feedback.self, from: Data(line)) { return decision }
            if index == lines.count - 1 && data.last != 0x0A { return nil }
            throw CustomerListError(message: "line \(index + 1) is not a review decision (not a feedback file of generate review)")
        }
    }

    /// Appends this decision to the feedback file at `url` (created if needed) as one line.
    public func append(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw CustomerListError(message: "cannot create the file")
            }
        }
        try appendText(String(decoding: try encoder.encode(self), as: UTF8.self) + "\n", to: url)
    }

    /// The fine-tuning dataset of a feedback file: one `{"prompt": ..., "completion": ...}` line
    /// per accepted or edited pitch (the last decision on a pitch counts).
    public static func dataset(_ feedback: [Feedback]) -> String {
        var last: [String: Int] = [:]
        for (index, item) in feedback.enumerated() { last[PitchTable.key(item.id, item.variant)] = index }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return feedback.enumerated().compactMap { index, item -> String? in
            guard last[PitchTable.key(item.id, item.variant)] == index, let completion = item.completion,
                  let data = try? encoder.encode(["prompt": item.prompt, "completion": completion]) else { return nil }
            return String(decoding: data, as: UTF8.self) + "\n"
        }.joined()
    }
}
