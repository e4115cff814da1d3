import Foundation

/// Runs one of the package's built executables, as a user would from a shell.
package struct CommandRunner {
    package struct Output {
        package let status: Int32
        package let stdout: String
        package let stderr: String
        package var stdoutData: Data { Data(stdout.utf8) }
    }

    /// The directory `swift build` / `swift test` put the products in: the test bundle's own.
    package static let productsDirectory: URL = {
        let bundle = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        var directory = bundle.deletingLastPathComponent()
        // On Linux the test runner is `<products>/<package>PackageTests.xctest`; elsewhere it may sit deeper.
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("generate").path),
              directory.path != "/" {
            directory = directory.deletingLastPathComponent()
        }
        return directory
    }()

    /// Runs `executable` to its end, with `stdin` (text, or any bytes) on its standard input. Its
    /// standard output is captured, or goes to `stdoutFile` (then `stdout` of the result is empty).
    package static func run(_ executable: String, _ arguments: [String], stdin: String? = nil, stdinBytes: Data? = nil,
                    environment: [String: String] = [:], currentDirectory: URL? = nil,
                    stdoutFile: FileHandle? = nil) throws -> Output {
        try run(productsDirectory.appendingPathComponent(executable), arguments, stdin: stdin, stdinBytes: stdinBytes,
                environment: environment, currentDirectory: currentDirectory, stdoutFile: stdoutFile)
    }

    /// Runs a program of the system, found on PATH (curl, say), as ``run(_:_:stdin:stdinBytes:environment:currentDirectory:stdoutFile:)``.
    package static func runSystem(_ program: String, _ arguments: [String]) throws -> Output {
        try run(URL(fileURLWithPath: "/usr/bin/env"), [program] + arguments)
    }

    private static func run(_ executable: URL, _ arguments: [String], stdin: String? = nil, stdinBytes: Data? = nil,
                            environment: [String: String] = [:], currentDirectory: URL? = nil,
                            stdoutFile: FileHandle? = nil) throws -> Output {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "GPT2_MODEL_DIR")
        for (key, value) in environment { env[key] = value }
        process.environment = env
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = stdoutFile ?? out
        process.standardError = err
        process.standardInput = input
        try process.run()
        let watchdog = killAfter(process, seconds: 600)
        defer { watchdog.cancel() }
        if let bytes = stdinBytes ?? stdin.map({ Data($0.utf8) }) { input.fileHandleForWriting.write(bytes) }
        try input.fileHandleForWriting.close()
        // Read both pipes to the end before waiting, so a chatty child cannot block on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var errData = Data()
        DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
        let outData = stdoutFile == nil ? out.fileHandleForReading.readDataToEndOfFile() : Data()
        group.wait()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// Kills `process` if it is still running after `seconds`, so a hung child fails its test (it then
/// exits by SIGKILL, status 9) instead of hanging the whole test run.
private func killAfter(_ process: Process, seconds: Double) -> DispatchWorkItem {
    let pid = process.processIdentifier
    let item = DispatchWorkItem { kill(pid, SIGKILL) }
    DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: item)
    return item
}

extension CommandRunner {
    /// Starts `executable`, waits until it has written something to stdout, sends it SIGINT (as
    /// Ctrl-C does) and returns what it wrote and how it exited.
    package static func interruptAfterFirstOutput(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(60)) throws -> Output {
        let process = Process()
        process.executableURL = productsDirectory.appendingPathComponent(executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let collected = LockedData()
        out.fileHandleForReading.readabilityHandler = { handle in collected.append(handle.availableData) }
        try process.run()
        let watchdog = killAfter(process, seconds: 300)
        defer { watchdog.cancel() }
        let start = ContinuousClock.now
        while collected.isEmpty && process.isRunning && ContinuousClock.now - start < timeout {
            usleep(10_000)
        }
        process.interrupt()
        process.waitUntilExit()
        out.fileHandleForReading.readabilityHandler = nil
        collected.append(out.fileHandleForReading.readDataToEndOfFile())
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        return Output(status: process.terminationStatus, stdout: String(decoding: collected.data, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// Bytes appended from one thread and read from another.
package final class LockedData: @unchecked Sendable {  // every access holds `lock`
    private let lock = NSLock()
    private var storage = Data()

    package init() {}

    package func append(_ data: Data) {
        lock.lock()
        storage.append(data)
        lock.unlock()
    }

    package var data: Data {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }

    package var isEmpty: Bool { data.isEmpty }
}
