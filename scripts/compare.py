#!/usr/bin/env python3
"""Side by side, in one run: swift-gpt2 and Hugging Face `transformers` on PyTorch (CPU), same
model, same workloads, same thread count; llama.cpp too when llama-bench is on PATH (the model
converted to a float32 GGUF by scripts/gpt2_to_gguf.py unless --gguf names one); and tokenizer
throughput against tiktoken.

    pip install torch transformers safetensors numpy tiktoken gguf
    python3 scripts/compare.py                       # random-weight GPT-2 124M, 2 threads
    python3 scripts/compare.py --model DIR --threads 4 --gguf model-f32.gguf

Workloads (as llama-bench defines them; token ids random, no tokenization or sampling timed):
  pp512      one forward pass over a 512-token prompt (logits of the last position only)
  tg128      128 tokens decoded one forward pass at a time from an empty cache
  b8 x tg64  8 sequences decoded together, 64 steps; tokens/s counts all 8
Each is run once untimed, then --reps times; mean ± sd of tokens/s.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(cmd, **kwargs):
    print("+ " + " ".join(str(c) for c in cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kwargs).stdout


def stats(values):
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown CPU"


def swift_bench(args, model):
    env = dict(os.environ)
    build = ["swift", "build", "-c", "release", "--product", "gpt2-bench", "--package-path", str(ROOT)]
    scratch = ROOT / ".build"
    if args.native:
        scratch = ROOT / ".build-native"
        build += ["--scratch-path", str(scratch), "-Xswiftc", "-target-cpu", "-Xswiftc", "native"]
    run(build)
    binary = scratch / "release" / "gpt2-bench"
    common = [str(binary), "model", "-m", str(model), "-t", str(args.threads), "-r", str(args.reps), "-o", "json",
              "--weights", args.weights]
    rows = json.loads(run(common + ["-p", str(args.prompt), "-n", str(args.gen)], env=env))
    rows += json.loads(run(common + ["-p", "0", "-n", str(args.batch_gen), "-b", str(args.batch), "--no-bandwidth"], env=env))
    result = {}
    for row in rows:
        key = row["test"] if row["batch"] == 1 else f"b{row['batch']} x {row['test']}"
        result[key] = (row["tokens_per_s_mean"], row["tokens_per_s_sd"])
    first = rows[0]
    result["load_s"] = first["load_s"]
    result["peak_rss_mb"] = max(r["peak_rss_mb"] for r in rows)
    # the single-sequence tg row's bound: bandwidth passes right before and after each repetition
    paired = next((r for r in rows if r.get("bandwidth_bound_tps")), {})
    result["bandwidth_gbs"] = paired.get("paired_bandwidth_gbs")
    result["bound_tps"] = paired.get("bandwidth_bound_tps")
    result["bound_pct"] = paired.get("bound_pct")
    if args.text:
        tok = json.loads(run([str(binary), "tokenizer", "--text", args.text, "--model", str(ROOT / "Models" / "sales-demo"),
                              "-r", "10", "--format", "json"]))
        result["tokenizer_mb_s"] = (tok["encode_mb_s_mean"], tok["encode_mb_s_sd"])
    return result


def torch_bench(args, model_dir):
    import resource
    import torch
    from transformers import GPT2LMHeadModel

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model = GPT2LMHeadModel.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    load_s = time.perf_counter() - t0
    vocab = model.config.vocab_size
    generator = torch.Generator().manual_seed(0)

    def forward(ids, past=None):
        try:  # transformers >= 4.45: compute the LM head for the last position only, as we do
            return model(ids, past_key_values=past, use_cache=True, logits_to_keep=1)
        except TypeError:
            return model(ids, past_key_values=past, use_cache=True)

    def pp(n):
        ids = torch.randint(0, vocab, (1, n), generator=generator)
        forward(ids)

    def tg(n, batch):
        past = None
        for _ in range(n):
            out = forward(torch.randint(0, vocab, (batch, 1), generator=generator), past)
            past = out.past_key_values

    def timed(body, tokens):
        body()  # warm-up
        rates = []
        for _ in range(args.reps):
            start = time.perf_counter()
            body()
            rates.append(tokens / (time.perf_counter() - start))
        return stats(rates)

    result = {"load_s": load_s}
    with torch.inference_mode():
        result[f"pp{args.prompt}"] = timed(lambda: pp(args.prompt), args.prompt)
        result[f"tg{args.gen}"] = timed(lambda: tg(args.gen, 1), args.gen)
        result[f"b{args.batch} x tg{args.batch_gen}"] = timed(lambda: tg(args.batch_gen, args.batch), args.batch * args.batch_gen)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000
    result["version"] = f"PyTorch {torch.__version__}"
    return result


def tiktoken_bench(args):
    out = run([sys.executable, str(ROOT / "scripts" / "bench_tokenizer_tiktoken.py"), "--text", args.text, "-r", "10", "--format", "json"])
    data = json.loads(out)
    return (data["encode_mb_s_mean"], data["encode_mb_s_sd"])


def llama_cpp(args, model):
    """llama.cpp's own benchmarks on the same model, when they are on PATH: llama-bench for ppN and
    tgN, llama-batched-bench (if present too) for B sequences decoded together. Without --gguf the
    checkpoint is written as a float32 GGUF first (scripts/gpt2_to_gguf.py, needs `pip install gguf`)."""
    binary = shutil.which("llama-bench")
    if not binary:
        return None, "llama-bench not on PATH"
    gguf = args.gguf
    if gguf is None:
        try:
            import gguf as _  # noqa: F401  (only to fail early with a clear message)
        except ImportError:
            return None, "llama-bench is on PATH but the gguf package is not installed (pip install gguf), and no --gguf given"
        gguf = Path(tempfile.mkdtemp(prefix="gpt2-gguf-")) / "model-f32.gguf"
        run([sys.executable, str(ROOT / "scripts" / "gpt2_to_gguf.py"), str(model), str(gguf)])
    out = run([binary, "-m", str(gguf), "-p", str(args.prompt), "-n", str(args.gen), "-t", str(args.threads),
               "-r", str(args.reps), "-o", "json"])
    rows = json.loads(out)
    result = {"version": f"llama.cpp {rows[0].get('build_commit', '?')} ({rows[0].get('backends', '?')})"}
    for row in rows:
        key = f"pp{row['n_prompt']}" if row["n_prompt"] else f"tg{row['n_gen']}"
        result[key] = (row["avg_ts"], row["stddev_ts"])
    batched = shutil.which("llama-batched-bench")
    if batched:
        # one sequence set per run (it has no repetitions of its own): run it --reps times
        rates = []
        for _ in range(args.reps):
            out = run([batched, "-m", str(gguf), "-c", str(args.batch * (args.batch_gen + 1)), "-npp", "0",
                       "-ntg", str(args.batch_gen), "-npl", str(args.batch), "-t", str(args.threads),
                       "--output-format", "jsonl"])
            # its JSONL writes "-nan" for the empty prompt phase, which JSON parsers refuse
            rates.append(float(re.findall(r'"speed_tg": ([0-9.eE+-]+)', out)[-1]))
        result[f"b{args.batch} x tg{args.batch_gen}"] = stats(rates)
    return result, None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="GPT-2 model directory (default: a random-weight GPT-2 124M made now)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--gen", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--batch-gen", type=int, default=64)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--text", default=str(ROOT / "Benchmarks" / "mixed_en_zh.txt"),
                        help="text file for tokenizer throughput (default: the mixed English/Chinese benchmark text)")
    parser.add_argument("--gguf", type=Path, default=None,
                        help="GGUF file of the same model for llama.cpp (default: converted from --model when llama-bench is on PATH)")
    parser.add_argument("--no-native", dest="native", action="store_false",
                        help="build swift-gpt2 without -target-cpu native (what a dependent package gets)")
    parser.add_argument("--weights", choices=["resident", "mapped"], default="resident",
                        help="swift-gpt2's weight residency (default resident: in the process's memory, as PyTorch holds them)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    model = args.model
    if model is None:
        model = Path(tempfile.mkdtemp(prefix="gpt2-124m-"))
        run([sys.executable, str(ROOT / "scripts" / "make_random_gpt2.py"), str(model)])

    results = {"swift-gpt2": swift_bench(args, model)}
    results["PyTorch"] = torch_bench(args, model)
    llama, llama_skipped = llama_cpp(args, model)
    if llama:
        results["llama.cpp"] = llama
    if args.text:
        results["tiktoken"] = {"tokenizer_mb_s": tiktoken_bench(args)}

    ours, theirs = results["swift-gpt2"], results["PyTorch"]
    print(f"\nmodel: {model}, {args.threads} threads, {theirs['version']}, swift-gpt2 built {'with' if args.native else 'without'} -target-cpu native, weights {args.weights}")
    print(f"machine: {cpu_name()}, {os.uname().machine}, {os.cpu_count()} CPUs, Linux {os.uname().release}; read bandwidth measured by gpt2-bench around its tg runs:"
          f" {ours['bandwidth_gbs']:.1f} GB/s (decode bound {ours['bound_tps']:.1f} tok/s; tg{args.gen} at {ours['bound_pct']:.0f} % of it)")
    header = "| workload | swift-gpt2 | PyTorch | vs PyTorch |" + (" llama.cpp | vs llama.cpp |" if llama else "")
    print("\n" + header)
    print("|" + "---|" * (header.count("|") - 1))
    for key in [f"pp{args.prompt}", f"tg{args.gen}", f"b{args.batch} x tg{args.batch_gen}"]:
        a, b = ours[key], theirs[key]
        line = f"| {key} (tok/s) | {a[0]:.1f} ± {a[1]:.1f} | {b[0]:.1f} ± {b[1]:.1f} | {a[0] / b[0]:.2f}× |"
        if llama:
            c = llama.get(key)
            line += f" {c[0]:.1f} ± {c[1]:.1f} | {a[0] / c[0]:.2f}× |" if c else " – | |"
        print(line)
    print(f"| load (s) | {ours['load_s']:.3f} | {theirs['load_s']:.2f} | |" + (" | |" if llama else ""))
    print(f"| peak RSS (MB) | {ours['peak_rss_mb']:.0f} | {theirs['peak_rss_mb']:.0f} | |" + (" | |" if llama else ""))
    if args.text:
        a, b = ours["tokenizer_mb_s"], results["tiktoken"]["tokenizer_mb_s"]
        print(f"\n| tokenizer encode, 1 thread | swift-gpt2 {a[0]:.1f} ± {a[1]:.1f} MB/s | tiktoken {b[0]:.1f} ± {b[1]:.1f} MB/s | {a[0] / b[0]:.1f}× |")
    if llama:
        print(f"\nllama.cpp: {llama['version']}" + ("" if shutil.which("llama-batched-bench") else "; llama-batched-bench not on PATH"))
    else:
        print(f"\nllama.cpp: skipped ({llama_skipped})")
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
