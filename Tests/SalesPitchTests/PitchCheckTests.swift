import Foundation
import Testing
import TestSupport
@testable import GPT2
@testable import SalesPitch

@Suite struct PitchCheckTests {
    let anna = CustomerProfile(fields: ["name": "Anna Lee", "product": "TrailPro hiking boots"])
    let zhang = CustomerProfile(fields: ["name": "欧阳晓东", "product": "人工智能实战训练营"])

    @Test("name: the given or full name as a word; for Chinese names, the surname with 先生/女士 or the full name")
    func name() {
        #expect(PitchCheck.namesCustomer("Hi Anna! Great boots.", name: "Anna Lee"))
        #expect(PitchCheck.namesCustomer("Dear Anna Lee,", name: "Anna Lee"))
        #expect(!PitchCheck.namesCustomer("Hi Annabel!", name: "Anna Lee"))
        #expect(!PitchCheck.namesCustomer("Dear Falrane,", name: "Anna Lee"))
        #expect(PitchCheck.namesCustomer("欧阳先生您好！", name: "欧阳晓东"))
        #expect(PitchCheck.namesCustomer("尊敬的欧阳晓东，", name: "欧阳晓东"))
        #expect(!PitchCheck.namesCustomer("欧先生您好！", name: "欧阳晓东"))
    }

    @Test("every check, on pitches a small model really writes")
    func checks() {
        let good = " Hi Anna! The TrailPro hiking boots are light. Would you like to hear more?"
        #expect(PitchCheck.passed(by: good, stopReason: .endOfText, profile: anna, language: .english) == Set(PitchCheck.allCases))
        let wrong = " Dear Falrane, the CloudStep running shoes are here. Can I send you the details"
        #expect(PitchCheck.passed(by: wrong, stopReason: .maxTokens, profile: anna, language: .english) == [.language])
        let drifted = " Hi Anna! TrailPro hiking boots 您好。"
        #expect(!PitchCheck.passed(by: drifted, stopReason: .endOfText, profile: anna, language: .english).contains(.language))
        let broken = " Hi Anna! TrailPro hiking boots \u{FFFD}"
        #expect(!PitchCheck.passed(by: broken, stopReason: .endOfText, profile: anna, language: .english).contains(.ending))
        let chinese = "欧阳先生您好！推荐您了解一下人工智能实战训练营：第一周就动手做真实项目。"
        #expect(PitchCheck.passed(by: chinese, stopReason: .maxTokens, profile: zhang, language: .chinese) == Set(PitchCheck.allCases))
        let english = "Hello Mr Ouyang, the 人工智能实战训练营 is a great course for you."
        #expect(!PitchCheck.passed(by: english, stopReason: .endOfText, profile: zhang, language: .chinese).contains(.language))
        // a quote after the full stop still ends the sentence; a comma does not
        #expect(PitchCheck.endsWell("He said \u{201C}Yes.\u{201D}", stopReason: .maxTokens))
        #expect(!PitchCheck.endsWell("Hi Anna,", stopReason: .maxTokens))
    }

    @Test("the script filter forbids CJK-only tokens and keeps curly quotes, dashes and ASCII")
    func scriptFilter() throws {
        let tokenizer = try GPT2Tokenizer(directory: TestPaths.salesDemo)
        let filter = ScriptFilter(tokenizer: tokenizer)
        let forbidden = Set(filter.forbidden)
        for text in ["你好", "话术：", "、", "。", "ア", "한"] {
            let ids = tokenizer.encode(text)
            #expect(ids.contains(where: forbidden.contains), "\(text) \(ids)")
        }
        for text in [" Hello, world!", "\u{201C}quoted\u{201D} \u{2014} it\u{2019}s", " café 😀"] {
            #expect(!tokenizer.encode(text).contains(where: forbidden.contains), "\(text)")
        }
        var logits = [Float](repeating: 0, count: tokenizer.vocabularySize)
        filter.process(&logits, history: [])
        #expect(logits.count(where: { $0 == -.infinity }) == forbidden.count)
        // the tokens of vocab.json with such a lead byte, counted with Python (bytes_to_unicode)
        #expect(forbidden.count == 330)
    }
}
