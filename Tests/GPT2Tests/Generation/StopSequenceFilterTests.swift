import Testing
@testable import GPT2

@Suite struct StopSequenceFilterTests {
    /// Feeds `chunks`, returns everything released and whether a stop string was found.
    func run(_ stops: [String], _ chunks: [String]) -> (text: String, stopped: Bool) {
        var filter = StopSequenceFilter(stopSequences: stops)
        var text = ""
        for chunk in chunks {
            let (visible, stopped) = filter.append(chunk)
            text += visible
            if stopped { return (text, true) }
        }
        return (text + filter.finish(), false)
    }

    @Test func noStopStringsReleasesEverything() {
        var filter = StopSequenceFilter(stopSequences: [])
        #expect(filter.append("Hello").visible == "Hello")
    }

    @Test func stopSplitAcrossChunks() {
        #expect(run(["END"], ["abc E", "N", "D tail"]) == ("abc ", true))
    }

    @Test func heldBackPrefixIsReleasedWhenItTurnsOutNotToBeAStop() {
        var filter = StopSequenceFilter(stopSequences: ["END"])
        #expect(filter.append("abc EN").visible == "abc ")
        #expect(filter.append("X").visible == "ENX")
    }

    @Test func earliestOfSeveralStopsWins() {
        #expect(run(["world", "lo w"], ["Hello world"]) == ("Hel", true))
    }

    @Test func tailIsReleasedAtTheEnd() {
        #expect(run(["END"], ["abc E"]) == ("abc E", false))
    }

    @Test func multibyteStopStrings() {
        #expect(run(["。"], ["您好", "，张先生。", "再见"]) == ("您好，张先生", true))
        #expect(run(["张先生"], ["您好，张", "先", "生"]) == ("您好，", true))
    }

    @Test func emptyStopStringsAreIgnored() {
        #expect(run([""], ["abc"]) == ("abc", false))
    }
}
