/// The swift-gpt2 package as a whole.
public enum SwiftGPT2 {
    /// The package's version, as `generate --version` and `gpt2-bench --version` print it.
    public static let version = "0.4.0"
}
