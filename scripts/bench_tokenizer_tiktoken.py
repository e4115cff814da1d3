#!/usr/bin/env python3
"""Encode throughput of tiktoken's GPT-2 encoding, one thread, for comparison with
`gpt2-bench tokenizer` on the same file.

The encoding is built offline from the model directory's vocab.json (GPT-2's ids are the BPE
ranks, the pattern is GPT-2's), so no download is needed. Method, same as gpt2-bench: read the
file as UTF-8, `warmup` untimed runs, then `repetitions` timed runs of `encode_ordinary` on the
whole text; report mean ± sd and best MB/s (MB = 10^6 bytes of UTF-8).

    python3 scripts/bench_tokenizer_tiktoken.py -r 10      # Benchmarks/mixed_en_zh.txt
"""
import argparse
import json
import os
import statistics
import sys
import time

import tiktoken

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def byte_decoder():
    """GPT-2's map from the 256 printable scalars of vocab.json back to byte values."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def load_encoding(model_dir):
    with open(os.path.join(model_dir, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    decoder = byte_decoder()
    ranks, special = {}, {}
    for token, i in vocab.items():
        if token == "<|endoftext|>":
            special[token] = i
        else:
            ranks[bytes(decoder[c] for c in token)] = i
    return tiktoken.Encoding("gpt2_local", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens=special)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--text", default=os.path.join(root, "Benchmarks", "mixed_en_zh.txt"), help="UTF-8 text file (default: Benchmarks/mixed_en_zh.txt)")
    p.add_argument("--model", default=os.environ.get("GPT2_MODEL_DIR") or os.path.join(root, "Models", "sales-demo"),
                   help="directory with vocab.json (default: $GPT2_MODEL_DIR, else Models/sales-demo)")
    p.add_argument("-r", "--repetitions", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--lines", action="store_true", help="also time encoding the file line by line, one call per line")
    p.add_argument("--format", choices=["text", "json"], default="text")
    args = p.parse_args()

    enc = load_encoding(args.model)
    with open(args.text, "rb") as f:
        data = f.read()
    text = data.decode("utf-8")
    mb = len(data) / 1e6

    tokens = 0
    for _ in range(args.warmup):
        tokens = len(enc.encode_ordinary(text))
    rates = []
    for _ in range(args.repetitions):
        t0 = time.perf_counter()
        ids = enc.encode_ordinary(text)  # one thread: encode_ordinary never uses the thread pool
        dt = time.perf_counter() - t0
        tokens = len(ids)
        rates.append(mb / dt)
    mean = statistics.fmean(rates)
    sd = statistics.stdev(rates) if len(rates) > 1 else 0.0

    line_rates = []
    if args.lines:
        lines = [line + "\n" for line in text.split("\n")]
        for r in range(args.warmup + args.repetitions):
            t0 = time.perf_counter()
            for line in lines:
                enc.encode_ordinary(line)
            dt = time.perf_counter() - t0
            if r >= args.warmup:
                line_rates.append(mb / dt)
    if args.format == "json":
        print(json.dumps({"file": args.text, "bytes": len(data), "tokens": tokens, "repetitions": args.repetitions,
                          "tiktoken": tiktoken.__version__, "encode_mb_s_mean": mean, "encode_mb_s_sd": sd,
                          "encode_mb_s_best": max(rates),
                          **({"encode_lines_mb_s_mean": statistics.fmean(line_rates),
                              "encode_lines_mb_s_sd": statistics.stdev(line_rates) if len(line_rates) > 1 else 0.0}
                             if line_rates else {})}, indent=2, sort_keys=True))
    else:
        print(f"file:     {args.text} ({len(data)} bytes)")
        print(f"tiktoken: {tiktoken.__version__}, encode_ordinary, 1 thread, Python {sys.version.split()[0]}")
        print(f"tokens:   {tokens}")
        print(f"encode:   {mean:.2f} ± {sd:.2f} MB/s (best {max(rates):.2f}, {args.repetitions} runs)")
        if line_rates:
            lsd = statistics.stdev(line_rates) if len(line_rates) > 1 else 0.0
            print(f"encode/line: {statistics.fmean(line_rates):.2f} ± {lsd:.2f} MB/s (best {max(line_rates):.2f}, each line a separate call)")


if __name__ == "__main__":
    main()
