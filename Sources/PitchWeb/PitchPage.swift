import Foundation
import GPT2
import Hummingbird
import SalesPitch

/// The pitch workflow as a web page, served by `generate serve` at `/` beside the OpenAI API:
/// write a customer's pitch (streamed), write a whole customer list with a progress bar, review
/// every pitch (accept, reject, edit) and download the pitches, the feedback and the fine-tuning
/// dataset. Everything the page needs is served from here; nothing is fetched from elsewhere.
///
/// Its work is kept in a workspace directory in the command-line tools' formats (`pitches.csv`
/// as `generate pitch --out` writes it, `feedback.jsonl` as `generate review --feedback` does),
/// written as it happens, so a reload, a second tab or a restarted server loses nothing.
///
/// The page's own endpoints, under `/pitch/v1` (JSON; errors `{"error": {"message", "param"}}`;
/// with an API key, `Authorization: Bearer KEY` as for `/v1`):
/// - `GET config`: the model's name and the settings' defaults.
/// - `POST pitch`: `{"fields": {"name": …, "product": …, …}, "temperature", "max_tokens",
///   "variants", "seed", "language"}` → JSON Lines as the pitch is written: `{"event": "start"}`,
///   `{"event": "text", "variant", "text"}`, `{"event": "redraw", "variant", "failed"}`,
///   `{"event": "pitch", "row"}` per variant (a row of the pitches table, under an id `form-N`),
///   `{"event": "error", "message"}`.
/// - `POST lists?name=FILE&temperature=…`: the customer list as the body (CSV or JSON Lines) →
///   the run's status; one list runs at a time. A list without an `id` column names its rows
///   FILE-LINE (`customers-2`), so that two such lists do not share ids in the workspace. `GET lists`: every run's status, latest first;
///   `GET lists/ID`; `POST lists/ID/stop`.
/// - `GET pitches?from=N`: rows of the pitches table from N on, each with its last decision.
/// - `POST feedback`: `{"id", "variant", "decision": "accept" | "reject" | "edit", "edited", "reason"}`.
/// - `GET files/pitches.csv`, `files/feedback.jsonl`, `files/dataset.jsonl`: downloads.
public struct PitchPage: Sendable {
    let generator: TextGenerator
    let backend: LocalBackend
    let workspace: Workspace
    let apiKey: String?
    let maxBodyBytes: Int
    let runs = Runs()

    /// - Parameters:
    ///   - generator: the engine (the server's: the page's pitches share its forward passes).
    ///   - modelName: the model's name, for the pitches table.
    ///   - workspace: where the pitches and feedback files are kept (made when first written).
    ///   - apiKey: when set, every `/pitch/v1` request needs `Authorization: Bearer <key>`.
    ///   - maxBodyBytes: the largest upload or request accepted.
    public init(generator: TextGenerator, modelName: String, workspace: URL, apiKey: String?, maxBodyBytes: Int = 4 << 20) {
        self.generator = generator
        backend = LocalBackend(generator: generator, modelName: modelName)
        self.workspace = Workspace(directory: workspace)
        self.apiKey = apiKey
        self.maxBodyBytes = maxBodyBytes
    }

    /// Adds the page (`/`, `/page.js`, `/page.css`) and its API (`/pitch/v1/…`) to `router`.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in Page.asset(Page.html, type: "text/html; charset=utf-8") }
        router.get("page.js") { _, _ in Page.asset(Page.script, type: "text/javascript; charset=utf-8") }
        router.get("page.css") { _, _ in Page.asset(Page.style, type: "text/css; charset=utf-8") }
        let api = router.group("pitch/v1")
        api.get("config") { request, _ in await handle(request) { _ in config() } }
        api.post("pitch") { request, _ in await handle(request) { try await pitch($0) } }
        api.post("lists") { request, _ in await handle(request) { try await startList($0) } }
        api.get("lists") { request, _ in await handle(request) { _ in Page.json(runs.all.map(\.status)) } }
        api.get("lists/:id") { request, context in
            await handle(request) { _ in Page.json(try runs.run(context.parameters.get("id")).status) }
        }
        api.post("lists/:id/stop") { request, context in
            await handle(request) { _ in
                let run = try runs.run(context.parameters.get("id"))
                run.stop()
                return Page.json(run.status)
            }
        }
        api.get("pitches") { request, _ in
            await handle(request) { request in
                let from = request.uri.queryParameters["from"].flatMap { Int(String($0)) } ?? 0
                let (rows, count) = try await workspace.rows(from: from)
                return Page.json(["rows": rows, "count": count])
            }
        }
        api.post("feedback") { request, _ in await handle(request) { try await feedback($0) } }
        api.get("files/:name") { request, context in
            await handle(request) { _ in
                let name = context.parameters.get("name") ?? ""
                let data = try await workspace.file(name)
                let type = name.hasSuffix(".csv") ? "text/csv; charset=utf-8" : "application/jsonl; charset=utf-8"
                return Response(status: .ok, headers: [.contentType: type, .contentDisposition: "attachment; filename=\"\(name)\""],
                                body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
            }
        }
    }

    /// Checks the key, runs `body`, and turns its errors into JSON ones.
    func handle(_ request: Request, _ body: (Request) async throws -> Response) async -> Response {
        do {
            if let apiKey, request.headers[.authorization] != "Bearer \(apiKey)" {
                throw PageError(.unauthorized, request.headers[.authorization] == nil
                                ? "This server needs its API key: enter it on the page."
                                : "That is not this server's API key: check it and enter it again.", param: "api-key")
            }
            return try await body(request)
        } catch let error as PageError {
            return error.response
        } catch {
            return PageError(.internalServerError, "\(error)").response
        }
    }

    func config() -> Response {
        Page.json([
            "model": backend.modelName, "workspace": workspace.directory.path, "max_upload_bytes": maxBodyBytes,
            "defaults": ["temperature": (Double(PitchOptions().parameters.temperature) * 100).rounded() / 100, "variants": 1,
                         "max_tokens": ["en": PitchOptions.defaultMaxTokens[.english]!, "zh": PitchOptions.defaultMaxTokens[.chinese]!]],
        ])
    }

    /// The request's body, up to the limit (413 beyond); `name` names it in the error.
    func body(of request: Request, name: String = "The request") async throws -> Data {
        var request = request
        do {
            return Data(try await request.collectBody(upTo: maxBodyBytes).readableBytesView)
        } catch let error as HTTPResponseError where error.status == .contentTooLarge {
            throw PageError(.contentTooLarge, String(format: "%@ is larger than the %.0f MB the page takes: split the list, or run generate pitch --customers on it.",
                                                     name, Double(maxBodyBytes) / 1_048_576), param: name == "The request" ? nil : "customers")
        }
    }

    /// `POST pitch`: one customer's pitches, streamed as JSON Lines, then kept in the workspace.
    func pitch(_ request: Request) async throws -> Response {
        guard let object = (try? JSONSerialization.jsonObject(with: try await body(of: request))) as? [String: Any] else {
            throw PageError(.badRequest, "The request body must be a JSON object.")
        }
        let fields = (object["fields"] as? [String: Any]).map(CustomerProfile.fields(ofJSON:)) ?? [:]
        // no id: the customer is "1", as for `generate pitch` with flags, so a seed gives the same pitch
        let profile = CustomerProfile(fields: fields.filter { $0.key.lowercased() != "id" })
        let options = try PitchSettings(object).options(model: generator.model)
        let pitches = PitchGenerator(backend: backend, options: options)
        do {
            _ = try pitches.prompt(for: profile)
        } catch {
            throw PageError.invalid(error.reason.hasPrefix("no ") ? String(error.reason.dropFirst(3)) : "name", error.reason)
        }
        let (events, continuation) = AsyncStream<Data>.makeStream()
        @Sendable func send(_ event: [String: Any]) { continuation.yield(Page.jsonData(event) + [0x0A]) }
        let producer = Task { [workspace] in
            send(["event": "start", "seed": String(options.seed), "variants": options.variants])
            do {
                let made = try await withThrowingTaskGroup(of: Pitch.self) { group in
                    for variant in 1...options.variants {
                        group.addTask {
                            try await pitches.pitch(for: profile, variant: variant, onText: { text in
                                send(["event": "text", "variant": variant, "text": text])
                            }, onRedraw: { draw in
                                let failed = PitchCheck.allCases.filter { !draw.checks.contains($0) }.map(\.rawValue)
                                send(["event": "redraw", "variant": variant, "failed": failed])
                            })
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                for row in try await workspace.append(PitchGenerator.ranked(made), model: backend.modelName, newID: true) {
                    send(["event": "pitch", "row": row])
                }
            } catch let error as PageError {
                send(["event": "error", "message": error.message])
            } catch {
                if !Task.isCancelled { send(["event": "error", "message": "\(error)"]) }
            }
            continuation.finish()
        }
        let body = ResponseBody { writer in
            do {
                for await line in events { try await writer.write(ByteBuffer(bytes: line)) }
                try await writer.finish(nil)
            } catch {
                producer.cancel()  // the page went away: stop writing for it
            }
        }
        return Response(status: .ok, headers: [.contentType: "application/jsonl; charset=utf-8", .cacheControl: "no-cache"], body: body)
    }

    /// `POST lists`: reads the uploaded list (rows that cannot be used are reported with their
    /// lines) and starts writing its customers' pitches.
    func startList(_ request: Request) async throws -> Response {
        let query = Dictionary(request.uri.queryParameters.map { (String($0.key), String($0.value) as Any) }, uniquingKeysWith: { $1 })
        let name = (query["name"] as? String).map { URL(fileURLWithPath: $0).lastPathComponent } ?? "customers.csv"
        let options = try PitchSettings(query).options(model: generator.model)
        var list: (profiles: [CustomerProfile], rejected: [PitchRejection])
        do {
            list = try CustomerList.read(try await body(of: request, name: name),
                                         jsonLines: ["jsonl", "ndjson"].contains(URL(fileURLWithPath: name).pathExtension.lowercased()))
        } catch let error as CustomerListError {
            throw PageError.invalid("customers", "\(name): \(error.message)")
        }
        try Self.checkColumns(list.profiles, rejected: list.rejected, name: name)
        // Without an id column a row's id is its line, which every such list shares: in the
        // workspace they are the file's, `customers-2` for line 2 of customers.csv.
        if !list.profiles.contains(where: { $0["id"] != nil }) {
            let stem = URL(fileURLWithPath: name).deletingPathExtension().lastPathComponent
            for index in list.profiles.indices { list.profiles[index].id = "\(stem)-\(list.profiles[index].line ?? index + 2)" }
        }
        let done = try await workspace.keys()
        let variants = 1...options.variants
        let missing: @Sendable (CustomerProfile) -> [Int]? = { profile in
            variants.filter { !done.contains(PitchTable.key(profile.id, $0)) }
        }
        let todo = list.profiles.filter { missing($0)?.isEmpty == false }
        let run = try runs.add { id in
            ListRun(id: id, name: name, total: todo.count, skipped: list.profiles.count - todo.count, rejected: list.rejected)
        }
        run.start(todo, generator: PitchGenerator(backend: backend, options: options), parallel: generator.maxBatchSize,
                  workspace: workspace, missing: missing)
        return Page.json(run.status)
    }

    /// A list without customers, or whose rows all lack a column the pitch needs, is refused as a
    /// whole, naming what is missing, rather than "done" with nothing written.
    static func checkColumns(_ profiles: [CustomerProfile], rejected: [PitchRejection], name: String) throws(PageError) {
        guard !profiles.isEmpty else {
            throw PageError.invalid("customers", rejected.isEmpty
                                    ? "\(name): no customers (only a header row?)"
                                    : "\(name): no row could be read (\(rejected.count) rejected; the first: \(rejected[0]))")
        }
        let columns = Set(profiles.flatMap(\.fields.keys))
        let missing = ["name", "product"].filter { !columns.contains($0) }
        guard missing.isEmpty else {
            let found = columns.sorted().joined(separator: ", ")
            let hint = columns.count == 1 && found.contains(";") ? " It looks separated by semicolons: save it as comma-separated CSV." : ""
            throw PageError.invalid("customers", "\(name): no \(missing.joined(separator: " or ")) column (the columns: \(found)).\(hint)")
        }
    }

    /// `POST feedback`: a reviewer's decision, appended to the feedback file before the answer.
    func feedback(_ request: Request) async throws -> Response {
        guard let object = (try? JSONSerialization.jsonObject(with: try await body(of: request))) as? [String: Any] else {
            throw PageError(.badRequest, "The request body must be a JSON object.")
        }
        guard let id = object["id"] as? String else { throw PageError.invalid("id", "id: the pitch's customer id (a string) is missing") }
        guard let variant = (object["variant"] as? NSNumber)?.intValue ?? (object["variant"] as? String).flatMap({ Int($0) }) else {
            throw PageError.invalid("variant", "variant: a whole number is missing")
        }
        guard let decision = (object["decision"] as? String).flatMap(Feedback.Decision.init(rawValue:)) else {
            throw PageError.invalid("decision", "decision: must be accept, reject or edit")
        }
        let text = { (key: String) in (object[key] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines) }
        let edited = decision == .edit ? text("edited") : nil
        if decision == .edit && (edited ?? "").isEmpty { throw PageError.invalid("edited", "edited: the new text is missing") }
        let reason = decision == .reject ? text("reason").flatMap { $0.isEmpty ? nil : $0 } : nil
        return Page.json(try await workspace.decide(id: id, variant: variant, decision: decision, edited: edited, reason: reason))
    }
}

/// The page's list runs, by id; one runs at a time.
final class Runs: @unchecked Sendable {  // `runs` is guarded by `lock`
    private let lock = NSLock()
    private var runs: [ListRun] = []

    var all: [ListRun] { lock.withLock { runs.reversed() } }

    func add(_ make: (String) -> ListRun) throws(PageError) -> ListRun {
        lock.lock()
        defer { lock.unlock() }
        if let running = runs.first(where: \.isRunning) {
            throw PageError(.conflict, "The list \(running.name) is still being written: stop it or wait for it.", param: "customers")
        }
        let run = make(String(runs.count + 1))
        runs.append(run)
        return run
    }

    func run(_ id: String?) throws(PageError) -> ListRun {
        guard let run = lock.withLock({ runs.first { $0.id == id } }) else { throw PageError(.notFound, "no list run \(id ?? "")") }
        return run
    }
}
