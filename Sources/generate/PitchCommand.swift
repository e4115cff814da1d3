import ArgumentParser
import Foundation
import GPT2
import SalesPitch

/// `generate pitch`: a checked sales pitch for one customer, or for every customer of a list.
struct PitchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pitch",
        abstract: "Write checked sales pitches for one customer (flags or --profile) or a customer list (--customers).",
        discussion: """
            Every pitch is checked (it names the customer and the product, is in the customer's \
            language, ends at the end of a sentence) and drawn again with the next seed if it fails, \
            up to --attempts times; the checks column (and, for one customer, standard error) says \
            which passed.

            With --customers, rows are appended to --out as each customer finishes; run the same \
            command again to finish an interrupted list (rows already in --out are skipped). Rows \
            that cannot be used are reported with their line numbers and written to --errors.

            Exit codes: \(GenerateTool.exitCodes)
            """
    )

    @Option(help: "The customer's name (required for one customer).") var name: String?
    @Option(help: "Age.") var age: String?
    @Option(help: "Gender (male/female/m/f/男/女 become 男/女 in Chinese).") var gender: String?
    @Option(help: "Job.") var job: String?
    @Option(help: "Interests, separated by , ; 、 or ，.") var interests: String?
    @Option(help: "Recent behaviour, e.g. \"viewed high-end cameras\".") var behavior: String?
    @Option(help: "The product to pitch (required).") var product: String?
    @Option(help: "The product's industry, e.g. e-commerce.") var industry: String?

    @Option(help: ArgumentHelp("The customer as a JSON object with the same fields.", valueName: "file.json"))
    var profile: String?

    @Option(help: ArgumentHelp("A customer list: CSV with a header row, or JSON Lines of objects.", valueName: "file"))
    var customers: String?

    @Option(help: ArgumentHelp("With --customers: the pitches file, CSV or (.jsonl) JSON Lines; appended to, resumed from.", valueName: "file"))
    var out: String?

    @Option(help: ArgumentHelp("With --customers: where rejected rows go (default: beside --out, NAME.errors.csv).", valueName: "file"))
    var errors: String?

    @Option(help: "Pitch language: en or zh (default: zh when the name or product contains Chinese characters, else en).")
    var language: PitchLanguage?

    @Option(help: ArgumentHelp("A prompt template with {field} placeholders (any column of the list); {{ and }} are braces. Default: the demo model's format for the language.", valueName: "file"))
    var template: String?

    @Option(parsing: .unconditional, help: "Pitches per customer, ranked by mean log-probability.")
    var variants: Int = 1

    @Option(parsing: .unconditional, help: "Draws per pitch until one passes every check (temperature 0 draws once).")
    var attempts: Int = PitchOptions().attempts

    @Option(parsing: .unconditional, help: ArgumentHelp("Customers worked on at once, sharing each forward pass (1...16).", valueName: "n"))
    var parallel: Int = TextGenerator.defaultMaxBatchSize

    @Option(help: ArgumentHelp("Draw the pitches from this OpenAI-compatible server (generate serve, or any other) instead of loading a model, e.g. http://10.0.0.5:8080/v1.", valueName: "url"))
    var endpoint: String?

    @Option(help: ArgumentHelp("With --endpoint: the server's API key.", valueName: "key"))
    var apiKey: String?

    @Flag(help: "Let English pitches draw CJK tokens (the checks and redraws still apply).")
    var noScriptFilter = false

    @Flag(help: "Print the filled prompt before the pitch (one customer).")
    var showPrompt = false

    @Flag(name: [.short, .long], help: "No progress or summary on standard error.")
    var quiet = false

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions

    var flagFields: [String: String] {
        ["name": name, "age": age, "gender": gender, "job": job, "interests": interests, "behavior": behavior,
         "product": product, "industry": industry].compactMapValues { $0 }
    }

    func validate() throws {
        if customers != nil && (profile != nil || !flagFields.isEmpty) {
            throw ValidationError("--customers takes the customers from its file: leave out --profile and the field flags")
        }
        if customers != nil && out == nil { throw ValidationError("--customers needs --out FILE for the pitches") }
        if customers == nil && (out != nil || errors != nil) { throw ValidationError("--out and --errors go with --customers") }
        if customers == nil && profile == nil && flagFields.isEmpty {
            throw ValidationError("no customer: give --name and --product (and more fields), --profile FILE.json, or --customers FILE")
        }
        let paths = [customers, out, errors].compactMap { $0.map(InputText.canonicalPath) }
        if Set(paths).count < paths.count {
            throw ValidationError("--customers, --out and --errors must be three different files")
        }
        if !(1...16).contains(parallel) { throw ValidationError("--parallel \(parallel): must be in 1...16") }
        if endpoint != nil && (modelOptions.model != nil || !sampling.ban.isEmpty) {
            throw ValidationError("--endpoint draws from the server's model: leave out --model and --ban (a server cannot take banned strings)")
        }
        if endpoint == nil && apiKey != nil { throw ValidationError("--api-key goes with --endpoint") }
        if !(1...100).contains(variants) { throw ValidationError("--variants \(variants): must be in 1...100") }
        if !(1...100).contains(attempts) { throw ValidationError("--attempts \(attempts): must be in 1...100") }
    }

    func run() async throws {
        Interruption.shared.install()
        let pitchTemplate = try template.map(Self.readTemplate)
        let list = try customers.map(Self.readCustomers)
        if let pitchTemplate, let list {
            // a misspelt placeholder would reject every row: say so once, before anything runs
            let columns = Set(list.profiles.flatMap(\.fields.keys))
            if let unknown = pitchTemplate.fields.first(where: { !columns.contains($0) }), !list.profiles.isEmpty {
                throw CLIError.usage("--template \(template!): {\(unknown)} is not a column of --customers, or is empty in every row (columns: \(columns.sorted().joined(separator: ", ")))")
            }
        }
        let single = list == nil ? try singleProfile() : nil

        let backend = try await backend()
        var options = PitchOptions(template: pitchTemplate, language: language, variants: variants, attempts: attempts,
                                   seed: sampling.seed ?? UInt64.random(in: 0...UInt64(UInt32.max)),
                                   scriptFilter: !noScriptFilter)
        // the flags over the local model's generation_config.json over pitch's own defaults (a
        // server is sent every setting, so its model's file does not count)
        let modelDefaults = (backend as? LocalBackend)?.generator.model.generationDefaults ?? GenerationDefaults()
        options.parameters = sampling.parameters(modelDefaults.applied(to: options.parameters))
        options.maxTokens = sampling.maxTokens ?? modelDefaults.maxNewTokens
        let generator = PitchGenerator(backend: backend, options: options)
        if let single {
            try await writeOne(single, generator: generator)
        } else if let list, let out {
            let run = try PitchListRun(list: list, out: URL(fileURLWithPath: out), errors: errors.map(URL.init(fileURLWithPath:)),
                                       model: generator.backend.modelName, quiet: quiet)
            try await run.run(generator: generator, parallel: parallel)
        }
    }

    /// The local model, or the server of --endpoint.
    func backend() async throws -> any PitchBackend {
        if let endpoint {
            guard let url = URL(string: endpoint), ["http", "https"].contains(url.scheme ?? "") else {
                throw CLIError.usage("--endpoint \(endpoint): expected an http(s) URL such as http://127.0.0.1:8080/v1")
            }
            do {
                return try await RemoteBackend.connect(to: url, apiKey: apiKey)
            } catch {
                throw CLIError.io("--endpoint \(endpoint): \(error)")
            }
        }
        let located = try await modelOptions.locate()
        let directory = located.directory
        let tokenizer = try CLIError.loading { try GPT2Tokenizer(directory: directory) }
        let model = try modelOptions.load(directory, tokenizer: tokenizer, longRun: customers != nil)
        try sampling.check(vocabularySize: model.config.vocabularySize)
        return LocalBackend(generator: TextGenerator(model: model, tokenizer: tokenizer, maxBatchSize: parallel),
                            modelName: located.name, scriptFilter: !noScriptFilter)
    }

    /// One customer: the pitch on standard output, its checks on standard error.
    func writeOne(_ profile: CustomerProfile, generator: PitchGenerator) async throws {
        let prompt: (language: PitchLanguage, text: String)
        do {
            prompt = try generator.prompt(for: profile)
        } catch {
            throw CLIError.data(error.reason)
        }
        if showPrompt { try Console.out(prompt.text + "\n\n") }
        // streamed where nothing printed can be taken back (one draw), or where a person watches
        if variants == 1 && (generator.options.draws == 1 || isatty(STDOUT_FILENO) == 1) {
            try await streamOne(profile, generator: generator)
            return
        }
        let pitches = try await Self.run { try await generator.pitches(for: profile) }
        for pitch in pitches {
            if pitches.count > 1 { try Console.out("[\(pitch.rank)] ") }
            try Console.out(pitch.text.trimmingCharacters(in: .whitespaces) + "\n")
            report(pitch)
        }
    }

    /// One customer's one pitch, printed as it is generated; a draw that fails a check is
    /// followed by the next, and if an earlier draw is kept it is printed again at the end.
    func streamOne(_ profile: CustomerProfile, generator: PitchGenerator) async throws {
        let printed = Printed()
        let pitch = try await Self.run {
            try await generator.pitch(for: profile, onText: { text in
                printed.write(printed.take(text))
            }, onRedraw: { pitch in
                printed.write("\n")
                if !quiet { Console.err("checks: failed \(failedChecks(pitch).joined(separator: ", ")) | drawing again\n") }
                printed.reset()
            })
        }
        if let failure = printed.failure { throw failure }  // a write that failed while streaming
        try Console.out("\n")
        if pitch.text.trimmingCharacters(in: .whitespaces) != printed.text.trimmingCharacters(in: .whitespaces) {
            if !quiet { Console.err("keeping an earlier draw, which passed more checks:\n") }
            try Console.out(pitch.text.trimmingCharacters(in: .whitespaces) + "\n")
        }
        report(pitch)
    }

    /// Runs one customer's generation where Ctrl-C can stop it, with its errors as exit codes:
    /// a refused customer or prompt 65, a server that failed 74, interrupted 130.
    static func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task { try await body() }
        Interruption.shared.watch(task)
        do {
            return try await task.value
        } catch is CancellationError {
            throw ExitCode(130)
        } catch let rejection as PitchRejection {
            throw CLIError.data(rejection.reason)
        } catch let error as RemoteError {
            throw CLIError.io("--endpoint: \(error.message)")
        }
    }

    func failedChecks(_ pitch: Pitch) -> [String] {
        PitchCheck.allCases.filter { !pitch.checks.contains($0) }.map(\.rawValue)
    }

    /// The pitch's checks on standard error.
    func report(_ pitch: Pitch) {
        guard !quiet else { return }
        let failed = failedChecks(pitch)
        Console.err("checks: " + (failed.isEmpty ? "all passed" : "failed \(failed.joined(separator: ", "))")
            + " | draws \(pitch.attempts) | \(pitch.generatedTokens) tokens, stop: \(pitch.stopReason.rawValue) | seed \(pitch.seed)\n")
    }

    func singleProfile() throws -> CustomerProfile {
        var fields: [String: String] = [:]
        if let profile {
            let text = try InputText.text(of: InputText.read(profile, flag: "--profile"), from: "--profile \(profile)")
            guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
                throw CLIError.data("--profile \(profile): not a JSON object")
            }
            fields = CustomerProfile.fields(ofJSON: object)
        }
        fields.merge(flagFields) { _, flag in flag }  // a flag overrides the file
        let customer = CustomerProfile(fields: fields)
        if template == nil {
            for field in ["name", "product"] where customer[field] == nil {
                throw CLIError.usage("no \(field): give --\(field)" + (profile.map { " or a \"\(field)\" in \($0)" } ?? ""))
            }
        }
        return customer
    }

    static func readTemplate(_ path: String) throws -> PitchTemplate {
        let text = try InputText.text(of: InputText.read(path, flag: "--template"), from: "--template \(path)")
        do {
            return try PitchTemplate(text: text)
        } catch {
            throw CLIError.data("--template \(path): \(error)")
        }
    }

    static func readCustomers(_ path: String) throws -> (profiles: [CustomerProfile], rejected: [PitchRejection]) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
              FileManager.default.isReadableFile(atPath: path) else {
            throw CLIError.noInput("--customers \(path): \(isDirectory.boolValue ? "a directory, not a customer list" : "no such readable file")")
        }
        do {
            return try CustomerList.read(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw CLIError.data("--customers \(path): \(error)")
        }
    }
}

extension PitchLanguage: ExpressibleByArgument {}

/// The text of the draw being printed, its leading spaces left out (as in a printed pitch).
private final class Printed: @unchecked Sendable {  // `value` is guarded by `lock`
    private let lock = NSLock()
    private var value = ""

    /// The part of `piece` to print.
    func take(_ piece: String) -> String {
        lock.withLock {
            let visible = value.isEmpty ? String(piece.drop(while: { $0 == " " })) : piece
            value += visible
            return visible
        }
    }

    func reset() { lock.withLock { value = "" } }
    var text: String { lock.withLock { value } }

    /// Writes `piece` to standard output; the first failure is kept (a draw cannot throw it).
    func write(_ piece: String) {
        guard !piece.isEmpty, lock.withLock({ failed == nil }) else { return }
        do {
            try Console.out(piece)
        } catch {
            lock.withLock { failed = error }
        }
    }

    private var failed: (any Error)?
    var failure: (any Error)? { lock.withLock { failed } }
}
