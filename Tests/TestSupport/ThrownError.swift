import Testing

/// The error of type `E` that `body` must throw; records an issue (and returns nil) when it
/// throws another or nothing.
package func thrownError<E: Error>(_ type: E.Type, sourceLocation: SourceLocation = #_sourceLocation,
                                   _ body: () throws -> Void) -> E? {
    do {
        try body()
    } catch let error as E {
        return error
    } catch {
        Issue.record("expected a \(E.self), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
    Issue.record("expected a \(E.self), nothing was thrown", sourceLocation: sourceLocation)
    return nil
}
