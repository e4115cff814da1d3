import Foundation
import Testing
import TestSupport
@testable import SalesPitch

@Suite struct CustomerListTests {
    func read(_ bytes: Data, name: String = "list.csv") throws -> (profiles: [CustomerProfile], rejected: [PitchRejection]) {
        let directory = try TestPaths.temporaryDirectory()
        let url = directory.file(name)
        try bytes.write(to: url)
        return try CustomerList.read(contentsOf: url)
    }

    @Test("CSV as spreadsheets export it: a byte-order mark, CRLF, quoted commas, quotes and line breaks, any-case headers")
    func spreadsheetCSV() throws {
        let text = "\u{FEFF}ID,Name,Interests,Product\r\n"
            + "7,\"Lee, Anna\",\"yoga, \"\"hot\"\" travel\",TrailPro\r\n"
            + "8,Bob,\"line one\r\nline two\",X\r\n"
            + "\r\n"
            + ",Carla,,Y\r\n"
        let (profiles, rejected) = try read(Data(text.utf8))
        #expect(rejected.isEmpty)
        #expect(profiles.map(\.id) == ["7", "8", "6"])  // the last without an id: its line number
        #expect(profiles[0]["name"] == "Lee, Anna")
        #expect(profiles[0]["interests"] == "yoga, \"hot\" travel")
        #expect(profiles[1]["interests"] == "line one\nline two")
        #expect(profiles[2]["interests"] == nil)
        #expect(profiles.map(\.line) == [2, 3, 6])
    }

    @Test("bad rows are reported with their lines and the rows around them are read")
    func badRows() throws {
        let text = """
            id,name,product
            1,Ann,A
            2,"Bob,B
            3,Cid,C
            4,Dee
            5,Eve,E,extra
            3,Fay,F
            7,Gus,G
            """
        let (profiles, rejected) = try read(Data(text.utf8))
        #expect(profiles.map(\.id) == ["1", "3", "7"])
        #expect(rejected.map(\.line) == [3, 5, 6, 7])
        #expect(rejected[0].reason.contains("never closed"))
        #expect(rejected[1].reason.contains("2 fields, the header has 3"))
        #expect(rejected[3].reason.contains("already used on line 4"))
    }

    @Test("a quote inside a plain field (O\"Brien, 5'10\") is text, not the start of a quoted field that swallows rows")
    func quoteInsidePlainField() throws {
        let text = "id,name,product\n1,Dan O\"Brien,A\n2,Eve,\"B, large\"\n3,Al 5'10\",C\n4,Bo,D\n"
        let (profiles, rejected) = try read(Data(text.utf8))
        #expect(rejected.isEmpty)
        #expect(profiles.map(\.id) == ["1", "2", "3", "4"])
        #expect(profiles[0]["name"] == "Dan O\"Brien" && profiles[1]["product"] == "B, large" && profiles[2]["name"] == "Al 5'10\"")
    }

    @Test("JSON Lines of objects: numbers and lists become text; a line that is not an object is rejected")
    func jsonLines() throws {
        let text = """
            {"id": 9, "name": "Olivia", "age": 34, "interests": ["yoga", "travel"], "product": "X"}
            [1, 2]

            {"name": "张伟", "product": "人工智能实战训练营"}
            """
        let (profiles, rejected) = try read(Data(text.utf8), name: "list.jsonl")
        #expect(profiles.map(\.id) == ["9", "4"])
        #expect(profiles[0]["age"] == "34" && profiles[0]["interests"] == "yoga, travel")
        #expect(rejected.map(\.line) == [2])
    }

    @Test("a file that is not UTF-8 is an error naming the line")
    func notUTF8() throws {
        var bytes = Data("id,name\n1,Ann\n2,".utf8)
        bytes.append(contentsOf: [0xFF, 0xFE, 0x0A])
        #expect(throws: CustomerListError.self) { try read(bytes) }
        do { _ = try read(bytes) } catch { #expect("\(error)".hasPrefix("line 3:")) }
    }
}

@Suite struct PitchTableTests {
    static func pitch(_ id: String, _ variant: Int, _ text: String) -> Pitch {
        Pitch(customerID: id, variant: variant, rank: 1, prompt: "Customer: X.\nProduct: Y\nPitch:", text: text,
              language: .english, checks: [.name, .ending], attempts: 2, seed: UInt64.max, stopReason: .endOfText,
              promptTokens: 10, generatedTokens: 20, meanLogprob: -0.25)
    }

    @Test("rows written are read back whole, in CSV and JSON Lines", arguments: ["out.csv", "out.jsonl"])
    func roundTrip(name: String) throws {
        let directory = try TestPaths.temporaryDirectory()
        let url = directory.file(name)
        let (table, rows) = try PitchTable.open(url)
        #expect(rows.isEmpty)
        try table.append([PitchTable.row(Self.pitch("a,1", 1, " Hi \"X\",\nline two"), model: "m")])
        try table.append([PitchTable.row(Self.pitch("b", 2, "你好。"), model: "m")])
        let read = try PitchTable.rows(of: url)
        #expect(read.map { $0["id"] } == ["a,1", "b"])
        #expect(read[0]["pitch"] == " Hi \"X\",\nline two")
        #expect(read[1]["checks"] == "name ending" && read[1]["seed"] == String(UInt64.max) && read[1]["variant"] == "2")
        #expect(read[0]["mean_logprob"] == "-0.2500" || read[0]["mean_logprob"] == "-0.25")
    }

    @Test("a table with another header, or a broken row before whole ones, is refused, not cut")
    func refusedTables() throws {
        let directory = try TestPaths.temporaryDirectory()
        let url = directory.file("out.csv")
        let (table, _) = try PitchTable.open(url)
        try table.append([PitchTable.row(Self.pitch("a", 1, "one"), model: "m")])
        try table.append([PitchTable.row(Self.pitch("b", 1, "two"), model: "m")])
        let good = try String(contentsOf: url, encoding: .utf8)
        var lines = good.components(separatedBy: "\r\n")
        lines[1] = "a,1,broken"  // a hand edit in the middle
        try Data(lines.joined(separator: "\r\n").utf8).write(to: url)
        #expect(throws: CustomerListError.self) { try PitchTable.open(url) }
        let withColumn = good.replacingOccurrences(of: "prompt\r\n", with: "prompt,notes\r\n")
        try Data(withColumn.utf8).write(to: url)
        #expect(throws: CustomerListError.self) { try PitchTable.open(url) }
        #expect(try String(contentsOf: url, encoding: .utf8) == withColumn)
    }

    @Test("a last row cut short (a killed run) is dropped when the table is opened again", arguments: ["out.csv", "out.jsonl"])
    func cutRow(name: String) throws {
        let directory = try TestPaths.temporaryDirectory()
        let url = directory.file(name)
        let (table, _) = try PitchTable.open(url)
        try table.append([PitchTable.row(Self.pitch("a", 1, "one"), model: "m")])
        let whole = try Data(contentsOf: url)
        try table.append([PitchTable.row(Self.pitch("b", 1, "two\nlines"), model: "m")])
        let full = try Data(contentsOf: url)
        for cut in [whole.count + 5, whole.count + (full.count - whole.count) / 2, full.count - 1] {
            try full.prefix(cut).write(to: url)
            let (_, rows) = try PitchTable.open(url)
            #expect(rows.map { $0["id"] } == ["a"], "cut at \(cut)")
            #expect(try Data(contentsOf: url) == whole, "cut at \(cut)")
        }
    }
}

@Suite struct FeedbackTests {
    @Test("the dataset takes accepted and edited pitches, the last decision on each, edits keeping the leading space")
    func dataset() throws {
        func item(_ id: String, _ decision: Feedback.Decision, _ edited: String? = nil) -> Feedback {
            Feedback(id: id, variant: 1, prompt: "P\(id):", pitch: " pitch \(id)", decision: decision, edited: edited, model: "m")
        }
        let lines = Feedback.dataset([item("1", .accept), item("2", .reject), item("3", .edit, "better 3"),
                                      item("4", .accept), item("4", .reject), item("5", .reject), item("5", .edit, " five")])
        let objects = lines.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: String] }
        #expect(objects == [["prompt": "P1:", "completion": " pitch 1"], ["prompt": "P3:", "completion": " better 3"],
                            ["prompt": "P5:", "completion": " five"]])
    }
}
