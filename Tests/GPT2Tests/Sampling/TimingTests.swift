import Foundation
import Testing
@testable import GPT2

@Suite("Sampling timing")
struct SamplingTimingTests {
    /// Prints the time per `sample` call on a GPT-2-sized vocabulary. It asserts nothing about
    /// the time (that depends on the machine and the build); run it in release for real numbers:
    /// `swift test -c release --filter SamplingTiming`.
    @Test("prints the time per call (no assertion on time)")
    func timing() {
        var logits = SamplingFixtures.logits(count: 50257, seed: 1, scale: 2.5, offset: -2)
        for i in 0..<20 { logits[(i * 7919) % 50257] = 8 + Float(i) * 0.3 }
        let history = (0..<300).map { ($0 * 131) % 50257 }
        #if DEBUG
        let iterations = 3
        let build = "debug"
        #else
        let iterations = 2000
        let build = "release"
        #endif
        for (name, parameters) in [
            ("defaults", GenerationParameters(seed: 1)),
            ("greedy", GenerationParameters.greedy),
            ("top-p only", GenerationParameters(topK: 0, topP: 0.95, minP: 0, seed: 1)),
        ] {
            var sampler = Sampler(parameters: parameters)
            var scratch = logits
            var sink = 0
            let clock = ContinuousClock()
            var elapsed = Duration.zero
            for _ in 0..<iterations {
                scratch.withUnsafeMutableBufferPointer { target in
                    logits.withUnsafeBufferPointer { source in _ = target.update(fromContentsOf: source) }
                }
                elapsed += clock.measure { sink &+= sampler.sample(logits: &scratch, history: history) }
            }
            let microseconds = Double(elapsed.components.attoseconds) / 1e12 / Double(iterations)
                + Double(elapsed.components.seconds) * 1e6 / Double(iterations)
            print("Sampler.sample, 50257 logits, \(name), \(build) build: \(String(format: "%.1f", microseconds)) µs per call (token sum \(sink))")
            #expect(sink >= 0)
        }
    }
}
