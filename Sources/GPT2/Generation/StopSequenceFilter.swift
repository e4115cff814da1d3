/// Holds back generated text that could be the start of a stop string, so that the stream never
/// shows any part of a stop string, even one that spans several tokens.
struct StopSequenceFilter: Sendable {
    let stopSequences: [String]
    /// Text decoded but not yet released: a possible prefix of a stop string.
    private var pending = ""

    init(stopSequences: [String]) {
        self.stopSequences = stopSequences.filter { !$0.isEmpty }
    }

    /// Adds newly decoded text. Returns the text that is safe to show, and whether a stop
    /// string was found (then the returned text is everything before it, and generation ends).
    mutating func append(_ text: String) -> (visible: String, stopped: Bool) {
        pending += text
        guard !stopSequences.isEmpty else {
            defer { pending = "" }
            return (pending, false)
        }
        // The earliest occurrence of any stop string ends the text.
        var earliest: String.Index?
        for stop in stopSequences {
            if let range = pending.range(of: stop), earliest.map({ range.lowerBound < $0 }) ?? true {
                earliest = range.lowerBound
            }
        }
        if let earliest {
            defer { pending = "" }
            return (String(pending[..<earliest]), true)
        }
        // Keep the longest tail that is a prefix of some stop string; release the rest.
        let keep = longestTailThatStartsAStopSequence()
        let cut = pending.index(pending.endIndex, offsetBy: -keep)
        defer { pending = String(pending[cut...]) }
        return (String(pending[..<cut]), false)
    }

    /// Releases what is held back, at the end of a generation that no stop string ended.
    mutating func finish() -> String {
        defer { pending = "" }
        return pending
    }

    /// Length, in characters, of the longest suffix of `pending` that is a proper prefix of a stop string.
    private func longestTailThatStartsAStopSequence() -> Int {
        var best = 0
        for stop in stopSequences {
            var length = min(stop.count - 1, pending.count)
            while length > best {
                if stop.hasPrefix(pending.suffix(length)) {
                    best = length
                    break
                }
                length -= 1
            }
        }
        return best
    }
}
