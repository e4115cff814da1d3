import Foundation
import Testing
import TestSupport
@testable import GPT2
@testable import SalesPitch

/// `generate pitch` and `generate review`, run as a salesperson runs them, with the demo model.
@Suite struct PitchCLITests {
    static func generate(_ arguments: [String], stdin: String? = nil) throws -> CommandRunner.Output {
        try CommandRunner.run("generate", arguments, stdin: stdin)
    }

    static let oliviaFlags = ["--name", "Olivia Brown", "--age", "34", "--gender", "female", "--job", "nurse",
                              "--interests", "yoga, travel", "--behavior", "viewed high-end cameras",
                              "--product", "AuroraShot X2 mirrorless camera", "--industry", "e-commerce"]
    static let examples = TestPaths.salesDemo.appendingPathComponent("examples")

    static func csvRows(_ url: URL) throws -> [[String: String]] {
        try PitchTable.rows(of: url)
    }

    @Test("greedy pitches from flags, a JSON profile and a CSV row equal the pitch of the hand-written prompt")
    func sameAsHandWrittenPrompt() throws {
        let directory = try TestPaths.temporaryDirectory()
        let prompt = try String(contentsOf: Self.examples.appendingPathComponent("olivia.txt"), encoding: .utf8)
        let reference = try Self.generate(["text", "--temperature", "0", "--max-tokens", "150", "-q", prompt])
        #expect(reference.status == 0, "\(reference.stderr)")
        let expected = reference.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(expected.contains("Olivia") && expected.count > 100)

        let flags = try Self.generate(["pitch", "--temperature", "0", "--show-prompt"] + Self.oliviaFlags)
        #expect(flags.status == 0, "\(flags.stderr)")
        #expect(flags.stdout == prompt + "\n\n" + expected + "\n")
        #expect(flags.stderr.contains("checks: all passed"))

        let profile = directory.file("olivia.json")
        try Data(#"{"name": "Olivia Brown", "age": 34, "gender": "female", "job": "nurse", "interests": ["yoga", "travel"], "behavior": "viewed high-end cameras", "product": "AuroraShot X2 mirrorless camera", "industry": "e-commerce"}"#.utf8).write(to: profile)
        let json = try Self.generate(["pitch", "--temperature", "0", "--profile", profile.path])
        #expect(json.status == 0, "\(json.stderr)")
        #expect(json.stdout == expected + "\n")

        let out = directory.file("pitches.csv")
        let list = try Self.generate(["pitch", "--temperature", "0", "--customers", Self.examples.appendingPathComponent("customers.csv").path,
                                      "--out", out.path])
        #expect(list.status == 0, "\(list.stderr)")
        let olivia = try #require(try Self.csvRows(out).first { $0["id"] == "c001" })
        #expect(olivia["pitch"]?.trimmingCharacters(in: .whitespacesAndNewlines) == expected)
        #expect(olivia["prompt"] == prompt)
    }

    @Test("one customer's single draw is streamed: its text arrives in pieces while it is generated")
    func streamsOneDraw() throws {
        let process = Process()
        process.executableURL = CommandRunner.productsDirectory.appendingPathComponent("generate")
        // a long draw (the whole context), so that streaming is seen whatever the machine's speed
        process.arguments = ["pitch", "--attempts", "1", "--seed", "4", "--max-tokens", "400", "--ignore-eos", "-q"] + Self.oliviaFlags
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var pieces: [Data] = []
        while true {
            let data = out.fileHandleForReading.availableData  // blocks until some output, or the end
            if data.isEmpty { break }
            pieces.append(data)
        }
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let text = String(decoding: pieces.reduce(Data(), +), as: UTF8.self)
        #expect(text.count > 1000 && text.hasSuffix("\n") && !text.hasPrefix(" "))
        #expect(pieces.count >= 5, "the pitch came in \(pieces.count) pieces")
    }

    @Test("a Chinese profile gets a Chinese pitch without a broken character, and the Chinese template")
    func chinese() throws {
        let output = try Self.generate(["pitch", "--seed", "5", "--show-prompt", "--name", "王芳", "--age", "41", "--gender", "f",
                                        "--job", "教师", "--interests", "阅读; 园艺", "--behavior", "查看了新楼盘信息",
                                        "--product", "滨江花园两居室"])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.hasPrefix("客户：王芳，41岁，女，教师。兴趣：阅读、园艺。行为：查看了新楼盘信息。\n产品：滨江花园两居室\n话术：\n\n"))
        let pitch = output.stdout.split(separator: "\n").last.map(String.init) ?? ""
        #expect(!pitch.unicodeScalars.contains("\u{FFFD}"))
        #expect(pitch.unicodeScalars.count(where: { $0.value >= 0x4E00 && $0.value <= 0x9FFF }) > 20)
        #expect(pitch.contains("王女士") && pitch.contains("滨江花园两居室"), "\(pitch)")
    }

    /// 20 customers, 3 of them bad: no product (line 5), a quoted field never closed (line 9), a
    /// field so long that the prompt overflows the context (line 14).
    static func customerList(in directory: TemporaryDirectory) throws -> URL {
        let source = try String(contentsOf: Self.examples.appendingPathComponent("customers.csv"), encoding: .utf8)
        let good = source.split(separator: "\n").dropFirst().map(String.init)
        var lines = ["id,name,age,gender,job,interests,behavior,product,industry"]
        for index in 0..<20 {
            let row = good[index % good.count].split(separator: ",", maxSplits: 1)[1]
            switch index {
            case 3: lines.append("bad-product,Ann Lee,30,female,nurse,yoga,viewed cameras,,e-commerce")
            case 7: lines.append("bad-quote,\"Bob Stone,41,male,chef,cooking,opened our newsletter,BrewMaster coffee machine,e-commerce")
            case 12: lines.append("bad-long,Cara Diaz,33,female,\(String(repeating: "very long job title ", count: 200)),yoga,x,FlexDesk standing desk,e-commerce")
            default: lines.append("r\(index),\(row)")
            }
        }
        let url = directory.file("customers.csv")
        try Data((lines.joined(separator: "\r\n") + "\r\n").utf8).write(to: url)
        return url
    }

    @Test("a list with 3 bad rows: the other 17 get their variants, the 3 are reported with their lines, exit 65")
    func badRows() throws {
        let directory = try TestPaths.temporaryDirectory()
        let customers = try Self.customerList(in: directory)
        let out = directory.file("pitches.jsonl")
        let output = try Self.generate(["pitch", "--customers", customers.path, "--out", out.path, "--variants", "2",
                                        "--seed", "3", "--max-tokens", "40"])
        #expect(output.status == 65, "\(output.stderr)")
        let rows = try Self.csvRows(out)
        #expect(rows.count == 17 * 2)
        #expect(Set(rows.map { $0["id"]! }).count == 17)
        for id in Set(rows.map { $0["id"]! }) {
            let mine = rows.filter { $0["id"] == id }
            #expect(Set(mine.map { $0["variant"] }) == ["1", "2"] && Set(mine.map { $0["rank"] }) == ["1", "2"])
            let best = try #require(mine.first { $0["rank"] == "1" }), other = try #require(mine.first { $0["rank"] == "2" })
            #expect(Double(best["mean_logprob"]!)! >= Double(other["mean_logprob"]!)!)
        }
        let errors = try String(contentsOf: directory.file("pitches.errors.csv"), encoding: .utf8)
        let errorLines = errors.split(separator: "\r\n").dropFirst()
        #expect(errorLines.count == 3, "\(errors)")
        #expect(errorLines.contains { $0.hasPrefix("5,bad-product,no product") })
        #expect(errorLines.contains { $0.hasPrefix("9,,malformed CSV") })
        #expect(errorLines.contains { $0.hasPrefix("14,bad-long,") && $0.contains("context") })
        for line in ["line 5", "line 9", "line 14"] { #expect(output.stderr.contains(line)) }
        #expect(output.stderr.contains("17 customers done, 34 pitches"))
    }

    @Test("a run stopped by SIGTERM and run again (with another --parallel) gives the rows of an uninterrupted run, none twice")
    func resume() throws {
        let directory = try TestPaths.temporaryDirectory()
        let customers = try Self.customerList(in: directory)
        let arguments = ["pitch", "--customers", customers.path, "--seed", "9", "--max-tokens", "60", "--parallel", "4"]
        let whole = directory.file("whole.csv"), resumed = directory.file("resumed.csv")
        #expect(try Self.generate(arguments + ["--out", whole.path]).status == 65)

        // stop the second run once it has written some rows
        let process = Process()
        process.executableURL = CommandRunner.productsDirectory.appendingPathComponent("generate")
        process.arguments = arguments + ["--out", resumed.path, "-q"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        let start = ContinuousClock.now
        while process.isRunning && ContinuousClock.now - start < .seconds(120),
              ((try? Self.csvRows(resumed).count) ?? 0) < 4 {
            usleep(5_000)
        }
        process.terminate()  // SIGTERM
        process.waitUntilExit()
        let partial = try Self.csvRows(resumed)
        #expect(process.terminationStatus == 130)
        #expect(partial.count >= 4 && partial.count < 17, "stopped after \(partial.count) rows")

        // another --parallel: each customer's pitch depends on the seed and its id only
        let again = try Self.generate(arguments.dropLast(2) + ["--parallel", "2", "--out", resumed.path])
        #expect(again.status == 65, "\(again.stderr)")
        #expect(again.stderr.contains("\(partial.count) already in resumed.csv"))
        func sorted(_ rows: [[String: String]]) -> [[String: String]] { rows.sorted { $0["id"]! < $1["id"]! } }
        let resumedRows = try Self.csvRows(resumed)
        #expect(resumedRows.count == 17)
        #expect(sorted(resumedRows) == sorted(try Self.csvRows(whole)))
    }

    @Test("review from a script: decisions appended as JSON lines, a second run continues, and the export")
    func review() throws {
        let directory = try TestPaths.temporaryDirectory()
        let out = directory.file("pitches.csv"), feedback = directory.file("feedback.jsonl")
        let made = try Self.generate(["pitch", "--customers", Self.examples.appendingPathComponent("customers.csv").path,
                                      "--out", out.path, "--seed", "1"])
        #expect(made.status == 0, "\(made.stderr)")
        let rows = try Self.csvRows(out)

        let first = try Self.generate(["review", out.path, "--feedback", feedback.path],
                                      stdin: "a\nr too pushy\nwhat\ne Hi there! A better pitch.\ns\nq\n")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains(rows[0]["prompt"]!))
        #expect(first.stdout.contains(rows[0]["pitch"]!.trimmingCharacters(in: .whitespaces)))
        #expect(first.stderr.contains("answer a, r [reason], e [text], s or q"))
        var decisions = try Feedback.read(feedback)
        #expect(decisions.map(\.decision) == [.accept, .reject, .edit])
        #expect(decisions.map(\.id) == rows[0..<3].map { $0["id"]! })
        #expect(decisions[1].reason == "too pushy")
        #expect(decisions[2].edited == "Hi there! A better pitch.")
        #expect(decisions.allSatisfy { $0.model == "sales-demo" && !$0.time.isEmpty && !$0.prompt.isEmpty })
        let line = try #require(try String(contentsOf: feedback, encoding: .utf8).split(separator: "\n").first)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(Set(object.keys).isSuperset(of: ["id", "variant", "prompt", "pitch", "decision", "time", "model"]))

        // the skipped pitch comes back first; the end of input stops like q
        let second = try Self.generate(["review", out.path, "--feedback", feedback.path], stdin: "a\n")
        #expect(second.status == 0, "\(second.stderr)")
        decisions = try Feedback.read(feedback)
        #expect(decisions.count == 4 && decisions[3].id == rows[3]["id"])

        let dataset = directory.file("data.jsonl")
        let export = try Self.generate(["review", "--export-dataset", dataset.path, feedback.path])
        #expect(export.status == 0, "\(export.stderr)")
        let pairs = try String(contentsOf: dataset, encoding: .utf8).split(separator: "\n")
            .map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String]) }
        #expect(pairs == [["prompt": rows[0]["prompt"]!, "completion": rows[0]["pitch"]!],
                          ["prompt": rows[2]["prompt"]!, "completion": " Hi there! A better pitch."],
                          ["prompt": rows[3]["prompt"]!, "completion": rows[3]["pitch"]!]])
    }

    @Test("usage errors name the flag", arguments: [
        (["pitch"], "no customer"),
        (["pitch", "--customers", "x.csv"], "--out"),
        (["pitch", "--name", "A", "--product", "B", "--parallel", "0"], "--parallel 0"),
        (["pitch", "--name", "A"], "no product"),
        (["pitch", "--name", "A", "--product", "B", "--language", "fr"], "--language"),
        (["review", "x.csv"], "--feedback"),
    ])
    func usageErrors(arguments: [String], message: String) throws {
        let output = try Self.generate(arguments)
        #expect(output.status == 64, "\(output.stderr)")
        #expect(output.stderr.hasPrefix("generate: error:") && output.stderr.contains(message), "\(output.stderr)")
        #expect(output.stderr.split(separator: "\n").count == 1)
    }

    @Test("files of another kind given as --out, --errors, the pitches or the feedback file are refused and left as they were")
    func otherFilesLeftAlone() throws {
        let directory = try TestPaths.temporaryDirectory()
        let customers = Self.examples.appendingPathComponent("customers.csv").path
        let list = directory.file("list.jsonl"), other = directory.file("other.csv")
        let listText = #"{"name": "Olivia Brown", "product": "AuroraShot X2 mirrorless camera"}"# + "\n"
        try Data(listText.utf8).write(to: list)
        try Data("a,b\n1,2\n".utf8).write(to: other)
        let pitches = directory.file("pitches.csv")
        try PitchTable.open(pitches).table.append([PitchTable.row(
            Pitch(customerID: "1", variant: 1, rank: 1, prompt: "P:", text: " Hi.", language: .english, checks: [], attempts: 1,
                  seed: 1, stopReason: .endOfText, promptTokens: 2, generatedTokens: 3, meanLogprob: -1), model: "m")])
        let cases: [(arguments: [String], status: Int32, message: String)] = [
            (["pitch", "--customers", list.path, "--out", list.path], 64, "different files"),
            (["pitch", "--customers", list.path, "--out", list.path + "/../list.jsonl"], 64, "different files"),
            (["pitch", "--customers", customers, "--out", directory.file("o.csv").path, "--errors", customers], 64, "different files"),
            (["pitch", "--customers", customers, "--out", directory.file("x.jsonl").path, "--errors", other.path], 65, "not overwritten"),
            (["pitch", "--customers", customers, "--out", list.path], 65, "not a table of pitches"),
            (["pitch", "--customers", list.path, "--out", other.path], 65, "not a table of pitches"),
            (["review", list.path, "--feedback", directory.file("f.jsonl").path], 65, "not a table of pitches"),
            (["review", "--export-dataset", directory.file("d.jsonl").path, other.path], 65, "not a review decision"),
            (["review", pitches.path, "--feedback", directory.path], 74, "--feedback"),
            (["review", "--export-dataset", list.path, list.path], 64, "the feedback file"),
            (["review", "--export-dataset", other.path, directory.file("f.jsonl").path], 65, "not overwritten"),
        ]
        for (arguments, status, message) in cases {
            let output = try Self.generate(arguments, stdin: "a\n")
            #expect(output.status == status, "\(arguments): \(output.stderr)")
            #expect(output.stderr.contains(message) && output.stderr.split(separator: "\n").count == 1, "\(arguments): \(output.stderr)")
            #expect(!output.stdout.contains("Pitch:"), "nothing shown before the error")
        }
        #expect(try String(contentsOf: list, encoding: .utf8) == listText)
        #expect(try String(contentsOf: other, encoding: .utf8) == "a,b\n1,2\n")
    }

    @Test("a template placeholder that no customer has is a usage error before anything runs")
    func unknownPlaceholder() throws {
        let directory = try TestPaths.temporaryDirectory()
        let template = directory.file("t.txt")
        try Data("Customer {nmae}, product {product}:".utf8).write(to: template)
        let output = try Self.generate(["pitch", "--customers", Self.examples.appendingPathComponent("customers.csv").path,
                                        "--out", directory.file("o.csv").path, "--template", template.path])
        #expect(output.status == 64 && output.stderr.contains("{nmae}"), "\(output.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("o.csv").path))
    }

    @Test("a missing customer list or template is exit 66; a bad template exit 65, naming the file")
    func fileErrors() throws {
        let directory = try TestPaths.temporaryDirectory()
        let missing = try Self.generate(["pitch", "--customers", directory.file("none.csv").path, "--out", directory.file("o.csv").path])
        #expect(missing.status == 66 && missing.stderr.contains("--customers"))
        let template = directory.file("t.txt")
        try Data("Hi {name".utf8).write(to: template)
        let bad = try Self.generate(["pitch", "--name", "A", "--product", "B", "--template", template.path])
        #expect(bad.status == 65 && bad.stderr.contains("--template") && bad.stderr.contains("unclosed"), "\(bad.stderr)")
    }
}
