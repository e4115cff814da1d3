import Foundation
import Testing
import TestSupport
@testable import GPT2

/// Inputs found by fuzzing (Tests/Fuzz, scripts/fuzz.sh) or by auditing the parsers of untrusted
/// model files, each replayed as a regression test.
enum Hostile {
    static let fixtures = TestPaths.fixtures.appendingPathComponent("hostile")

    static func fixture(_ name: String) -> URL { fixtures.appendingPathComponent(name) }

    /// The `ModelLoadingError` that `body` must throw.
    static func loadingError(sourceLocation: SourceLocation = #_sourceLocation,
                             _ body: () throws -> Void) -> ModelLoadingError? {
        thrownError(ModelLoadingError.self, sourceLocation: sourceLocation, body)
    }

    /// The `TokenizerError` that `body` must throw.
    static func tokenizerError(sourceLocation: SourceLocation = #_sourceLocation,
                               _ body: () throws -> Void) -> TokenizerError? {
        thrownError(TokenizerError.self, sourceLocation: sourceLocation, body)
    }
}
