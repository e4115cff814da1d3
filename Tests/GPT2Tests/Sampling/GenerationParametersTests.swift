import Foundation
import Testing
@testable import GPT2

@Suite("GenerationParameters")
struct SamplingParametersTests {
    @Test("defaults")
    func defaults() throws {
        let p = GenerationParameters()
        #expect(p.maxNewTokens == 256)
        #expect(p.temperature == 0.8)
        #expect(p.topK == 40)
        #expect(p.topP == 0.95)
        #expect(p.minP == 0.05)
        #expect(p.repetitionPenalty == 1)
        #expect(p.presencePenalty == 0)
        #expect(p.frequencyPenalty == 0)
        #expect(p.repetitionContextSize == 64)
        #expect(p.logitBias.isEmpty)
        #expect(p.bannedStrings.isEmpty)
        #expect(p.seed == nil)
        #expect(p.stopSequences.isEmpty)
        #expect(p.stopAtEndOfText)
        try p.validate()
    }

    @Test("the greedy preset has temperature 0 and is valid")
    func greedy() throws {
        let p = GenerationParameters.greedy
        #expect(p.temperature == 0)
        #expect(p == GenerationParameters(temperature: 0))
        try p.validate()
    }

    @Test("the initializer stores every argument")
    func initializer() {
        let p = GenerationParameters(
            maxNewTokens: 7, temperature: 1.5, topK: 3, topP: 0.5, minP: 0.2, repetitionPenalty: 1.3,
            presencePenalty: 0.4, frequencyPenalty: -0.1, repetitionContextSize: 0, logitBias: [50256: -100],
            bannedStrings: ["Acme"], seed: 99, stopSequences: ["\n\n", "END"], stopAtEndOfText: false
        )
        #expect(p.maxNewTokens == 7 && p.temperature == 1.5 && p.topK == 3 && p.topP == 0.5 && p.minP == 0.2)
        #expect(p.repetitionPenalty == 1.3 && p.presencePenalty == 0.4 && p.frequencyPenalty == -0.1)
        #expect(p.logitBias == [50256: -100] && p.bannedStrings == ["Acme"])
        #expect(p.repetitionContextSize == 0 && p.seed == 99 && p.stopSequences == ["\n\n", "END"] && !p.stopAtEndOfText)
    }

    @Test("values at the edges of their ranges are accepted")
    func edgesAccepted() throws {
        try GenerationParameters(maxNewTokens: 0).validate()
        try GenerationParameters(temperature: 0).validate()
        try GenerationParameters(temperature: 100).validate()
        try GenerationParameters(topK: 0).validate()
        try GenerationParameters(topP: 1).validate()
        try GenerationParameters(topP: 1e-6).validate()
        try GenerationParameters(minP: 0).validate()
        try GenerationParameters(minP: 1).validate()
        try GenerationParameters(repetitionPenalty: 1e-3).validate()
        try GenerationParameters(presencePenalty: -2, frequencyPenalty: -2).validate()
        try GenerationParameters(repetitionContextSize: 0).validate()
        try GenerationParameters(logitBias: [0: -1e30, 50256: 1e30]).validate(vocabularySize: 50257)
        try GenerationParameters(bannedStrings: [" ", "Acme"]).validate()
    }

    static let invalid: [(GenerationParameters, GenerationParametersError.Parameter, String)] = [
        (GenerationParameters(maxNewTokens: -1), .maxNewTokens, "-1"),
        (GenerationParameters(temperature: -0.5), .temperature, "-0.5"),
        (GenerationParameters(temperature: .nan), .temperature, "nan"),
        (GenerationParameters(temperature: .infinity), .temperature, "inf"),
        (GenerationParameters(topK: -3), .topK, "-3"),
        (GenerationParameters(topP: 0), .topP, "0.0"),
        (GenerationParameters(topP: -0.2), .topP, "-0.2"),
        (GenerationParameters(topP: 1.5), .topP, "1.5"),
        (GenerationParameters(topP: .nan), .topP, "nan"),
        (GenerationParameters(minP: -0.01), .minP, "-0.01"),
        (GenerationParameters(minP: 1.25), .minP, "1.25"),
        (GenerationParameters(minP: .nan), .minP, "nan"),
        (GenerationParameters(repetitionPenalty: 0), .repetitionPenalty, "0.0"),
        (GenerationParameters(repetitionPenalty: -1.5), .repetitionPenalty, "-1.5"),
        (GenerationParameters(repetitionPenalty: .nan), .repetitionPenalty, "nan"),
        (GenerationParameters(repetitionPenalty: .infinity), .repetitionPenalty, "inf"),
        (GenerationParameters(presencePenalty: .nan), .presencePenalty, "nan"),
        (GenerationParameters(presencePenalty: -.infinity), .presencePenalty, "-inf"),
        (GenerationParameters(frequencyPenalty: .nan), .frequencyPenalty, "nan"),
        (GenerationParameters(frequencyPenalty: .infinity), .frequencyPenalty, "inf"),
        (GenerationParameters(repetitionContextSize: -2), .repetitionContextSize, "-2"),
        (GenerationParameters(logitBias: [7: .nan]), .logitBias, "7:nan"),
        (GenerationParameters(logitBias: [7: -.infinity]), .logitBias, "7:-inf"),
        (GenerationParameters(logitBias: [-1: 2]), .logitBias, "-1:2.0"),
        (GenerationParameters(bannedStrings: [""]), .bannedStrings, "\"\""),
    ]

    @Test("each out-of-range value is rejected with an error naming the parameter and the value",
          arguments: 0..<invalid.count)
    func rejected(_ index: Int) {
        let (parameters, parameter, value) = Self.invalid[index]
        do {
            try parameters.validate()
            Issue.record("\(parameter) = \(value) was accepted")
        } catch {
            // `error` is statically a GenerationParametersError (typed throws).
            #expect(error.parameter == parameter)
            #expect(error.value == value)
            #expect(error.description.contains(parameter.rawValue))
            #expect(error.description.contains(value))
            #expect(error.localizedDescription.contains(parameter.rawValue))
        }
    }

    @Test("the first bad field is reported")
    func firstBadField() {
        #expect(throws: GenerationParametersError(.topK, -1, requirement: "must be >= 0 (0 = off)")) {
            try GenerationParameters(topK: -1, topP: 2).validate()
        }
    }
}
