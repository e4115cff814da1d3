import Foundation
import Testing
@testable import SalesPitch

@Suite struct PitchTemplateTests {
    static let olivia = CustomerProfile(fields: [
        "Name": "Olivia Brown", "age": "34", "GENDER": "female", "job": "nurse", "interests": "yoga; travel",
        "behaviour": "viewed high-end cameras", "product": "AuroraShot X2 mirrorless camera", "industry": "e-commerce",
    ])

    @Test("the English template is the demo corpus's format, interests joined by ', ' whatever the separator")
    func english() throws {
        // Models/sales-demo/examples/olivia.txt, written from recipe/make_corpus.py's format
        let expected = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Models/sales-demo/examples/olivia.txt"), encoding: .utf8)
        #expect(try PitchTemplate.english.prompt(for: Self.olivia, language: .english) == expected)
    }

    @Test("the Chinese template writes 男/女, joins interests with 、, and takes CJK profiles by default")
    func chinese() throws {
        let profile = CustomerProfile(fields: ["name": "张三", "age": "30", "gender": "M", "job": "程序员", "interests": "编程，游戏",
                                               "behavior": "最近搜索了人工智能课程", "product": "人工智能实战训练营"])
        #expect(profile.language == .chinese)
        let expected = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Models/sales-demo/examples/zhang-san.txt"), encoding: .utf8)
        #expect(try PitchTemplate.chinese.prompt(for: profile, language: .chinese) == expected)
        #expect(Self.olivia.language == .english)
        #expect(CustomerProfile(fields: ["name": "Li Na", "product": "BrewMaster 咖啡机"]).language == .chinese)
    }

    @Test("an empty optional field's part is left out; name and product are required")
    func optionalFields() throws {
        let minimal = CustomerProfile(fields: ["name": "Anna Lee", "job": "  ", "product": "TrailPro boots"])
        #expect(try PitchTemplate.english.prompt(for: minimal, language: .english)
            == "Customer: Anna Lee.\nProduct: TrailPro boots\nPitch:")
        #expect(try PitchTemplate.chinese.prompt(for: CustomerProfile(fields: ["name": "王芳", "gender": "女", "product": "滨江花园两居室"]),
                                                 language: .chinese) == "客户：王芳，女。\n产品：滨江花园两居室\n话术：")
        #expect(throws: PitchRejection(customerID: "1", line: nil, reason: "no product")) {
            try PitchTemplate.english.prompt(for: CustomerProfile(fields: ["name": "Anna"]), language: .english)
        }
    }

    @Test("a template of one's own: any column, {{ }} as braces, a missing value named")
    func customTemplate() throws {
        let template = try PitchTemplate(text: "Dear {NAME} ({Tier} tier) {{VIP}}: {product}")
        let profile = CustomerProfile(fields: ["name": "Kim", "tier": "gold", "product": "X"])
        #expect(try template.prompt(for: profile, language: .english) == "Dear Kim (gold tier) {VIP}: X")
        #expect(throws: PitchRejection(customerID: "1", line: nil, reason: "no value for the template's {tier}")) {
            try template.prompt(for: CustomerProfile(fields: ["name": "Kim", "product": "X"]), language: .english)
        }
        #expect(throws: PitchTemplateError.self) { try PitchTemplate(text: "Hi {name") }
        #expect(throws: PitchTemplateError.self) { try PitchTemplate(text: "Hi name}") }
        #expect(throws: PitchTemplateError.self) { try PitchTemplate(text: "Hi {}") }
    }

    @Test("a variant's seed comes from the seed, the id and the variant, not from the row's place")
    func seeds() {
        let options = PitchOptions(seed: 42)
        #expect(options.seed(customerID: "c1", variant: 1) == PitchOptions(seed: 42).seed(customerID: "c1", variant: 1))
        let seeds: Set = [options.seed(customerID: "c1", variant: 1), options.seed(customerID: "c1", variant: 2),
                          options.seed(customerID: "c2", variant: 1), PitchOptions(seed: 43).seed(customerID: "c1", variant: 1),
                          options.seed(customerID: "c", variant: 11)]
        #expect(seeds.count == 5)
    }
}
