import ArgumentParser
import Foundation
import GPT2
import GPT2Server
import PitchWeb

/// `generate serve`: the OpenAI completion API, served from the local engine.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the OpenAI completions API (/v1/completions, /v1/chat/completions, /v1/models) and the pitch page (/) from the local model.",
        discussion: """
            Existing OpenAI client code runs against it with only its base URL changed, e.g. \
            OpenAI(base_url="http://127.0.0.1:8080/v1", api_key="unused"). Concurrent requests share \
            each forward pass. At / a web page writes, reviews and exports pitches (one customer or \
            a customer list), keeping its work in --workspace. One line per request goes to standard \
            error. SIGINT or SIGTERM stops accepting connections and finishes the requests in flight \
            (up to a minute).

            Exit codes: \(GenerateTool.exitCodes)
            """
    )

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Address to listen on. Anything but loopback needs --api-key.")
    var host = "127.0.0.1"

    @Option(parsing: .unconditional, help: "Port to listen on (0: any free port, printed at start).")
    var port = 8080

    @Option(help: ArgumentHelp("Another name the model answers to in requests' \"model\" (repeatable), e.g. text-davinci-003.", valueName: "name"))
    var modelAlias: [String] = []

    @Option(help: ArgumentHelp("Require \"Authorization: Bearer KEY\" on every /v1 request.", valueName: "key"))
    var apiKey: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Requests generated at once, sharing each forward pass (1...16).", valueName: "n"))
    var parallel: Int = TextGenerator.defaultMaxBatchSize

    @Option(parsing: .unconditional, help: ArgumentHelp("Completions (a request's prompts × n) that may wait for a slot; beyond them, 429 with Retry-After.", valueName: "n"))
    var maxQueue = 64

    @Option(help: ArgumentHelp("Where the pitch page at / keeps its pitches (pitches.csv) and review decisions (feedback.jsonl); made when first written.", valueName: "dir"))
    var workspace = "pitch-workspace"

    func validate() throws {
        if !["127.0.0.1", "::1", "localhost"].contains(host) && apiKey == nil {
            throw ValidationError("--host \(host): listening beyond this machine needs --api-key KEY")
        }
        if !(0...65535).contains(port) { throw ValidationError("--port \(port): must be in 0...65535") }
        if !(1...16).contains(parallel) { throw ValidationError("--parallel \(parallel): must be in 1...16") }
        if maxQueue < 0 { throw ValidationError("--max-queue \(maxQueue): must be at least 0") }
        if apiKey?.isEmpty == true { throw ValidationError("--api-key: must not be empty") }
        // the page writes there as it goes: a path it cannot use is said now, not at the first pitch
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: workspace, isDirectory: &isDirectory) {
            if !isDirectory.boolValue { throw ValidationError("--workspace \(workspace): is a file, not a directory") }
            if !FileManager.default.isWritableFile(atPath: workspace) { throw ValidationError("--workspace \(workspace): cannot write to it") }
        }
    }

    func run() async throws {
        let located = try await modelOptions.locate()
        let directory = located.directory
        let tokenizer = try CLIError.loading { try GPT2Tokenizer(directory: directory) }
        let model = try modelOptions.load(directory, tokenizer: tokenizer, longRun: true)
        let names = [located.name] + modelAlias
        let generator = TextGenerator(model: model, tokenizer: tokenizer, maxBatchSize: parallel)
        let configuration = GPT2Server.Configuration(host: host, port: port, modelNames: names, apiKey: apiKey, maxQueue: maxQueue)
        let page = PitchPage(generator: generator, modelName: located.name, workspace: URL(fileURLWithPath: workspace),
                             apiKey: apiKey, maxBodyBytes: configuration.maxBodyBytes)
        let server = GPT2Server(generator: generator, configuration: configuration, log: { Console.err("generate serve: \($0)\n") },
                                routes: page.addRoutes)
        do {
            try await server.run { [workspace] port in
                let address = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
                Console.err("generate serve: listening on \(address)/v1 (model \(names.joined(separator: ", ")))\n")
                Console.err("generate serve: pitch page at \(address)/ (workspace \(workspace))\n")
            }
        } catch {
            throw CLIError.io("--host \(host) --port \(port): cannot listen (\(error))")
        }
        Console.err("generate serve: stopped\n")
    }
}
