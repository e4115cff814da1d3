// The tokenizer is part of the public API: `import GPT2` brings `GPT2Tokenizer` with it.
@_exported import GPT2Tokenizer
