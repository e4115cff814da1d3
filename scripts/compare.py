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

A shared machine's speed drifts by tens of percent within minutes, so the engines take turns:
--rounds rounds, each running every engine once (the order rotating from round to round), each
engine doing every workload once untimed and then --reps times. The table gives mean ± sd of
tokens/s over all rounds' repetitions, the ratio of the means, and the range of the per-round
ratios (each round's engines ran within a minute or two of each other).
"""
import argparse
import atexit
import copy
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def scratch_directory(prefix):
    """A new temporary directory, removed with what is in it when the script ends."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return Path(path)


class Failure(Exception):
    """Why the comparison cannot go on, in words: main prints it (no traceback) and exits 1."""


def fail(message):
    print(f"compare.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def shown(cmd):
    return " ".join(str(c) for c in cmd)


def run(cmd, **kwargs):
    """The command's stdout; a Failure that names the command and ends with its stderr if it fails."""
    print("+ " + shown(cmd), file=sys.stderr)
    try:
        return subprocess.run(cmd, check=True, text=True, capture_output=True, **kwargs).stdout
    except OSError as e:
        raise Failure(f"could not run {cmd[0]}: {e.strerror or e}") from None
    except subprocess.CalledProcessError as e:
        lines = [line for line in (e.stderr or "").splitlines() if line.strip()]
        said = ("; its stderr ends:\n" + "\n".join("  " + line for line in lines[-10:])) if lines else " (nothing on stderr)"
        raise Failure(f"{Path(str(cmd[0])).name} exited with status {e.returncode}: {shown(cmd)}{said}") from None


def run_json(cmd):
    """The JSON the command prints; a Failure naming the command if it printed something else."""
    out = run(cmd)
    try:
        return json.loads(out)
    except json.JSONDecodeError as e:
        start = out.strip()[:200] or "nothing"
        raise Failure(f"{Path(str(cmd[0])).name} printed no JSON ({e}): {shown(cmd)}; it printed: {start}") from None


def described(error):
    """An exception in one line: its type and the first line of its message."""
    lines = str(error).strip().splitlines()
    return type(error).__name__ + (f": {lines[0]}" if lines else "")


def stats(values):
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown CPU"


def cpu_has_fma():
    """Whether this CPU has fused multiply-add instructions (every 64-bit ARM; x86-64 by its flags),
    so that a native build may fuse the Swift kernels' multiply-adds (-DGPT2_FMA)."""
    if platform.machine() in ("arm64", "aarch64"):
        return True
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and "fma" in line.split() for line in f)
    except OSError:
        try:
            return "FMA" in run(["sysctl", "-n", "machdep.cpu.features"]).split()
        except Failure:
            return False


def peak_rss_mb():
    """This process's peak resident memory in MB (10^6 bytes, as gpt2-bench reports it): ru_maxrss
    is in KiB on Linux, in bytes on macOS."""
    import resource
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss * (1 if sys.platform == "darwin" else 1024) / 1e6


class SwiftGPT2:
    """gpt2-bench, built once; each round loads the model afresh (as each llama-bench run does)."""
    name = "swift-gpt2"

    def __init__(self, args, model):
        self.args, self.model = args, model
        if args.bench_binary:
            self.binary = args.bench_binary
        else:
            build = ["swift", "build", "-c", "release", "--product", "gpt2-bench", "--package-path", str(ROOT)]
            scratch = ROOT / ".build"
            if args.native:
                scratch = ROOT / ".build-native"
                build += ["--scratch-path", str(scratch), "-Xswiftc", "-target-cpu", "-Xswiftc", "native"]
                build += ["-Xswiftc", "-DGPT2_FMA"] if cpu_has_fma() else []
            run(build)
            self.binary = scratch / "release" / "gpt2-bench"
        try:
            self.version = "swift-gpt2 " + run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]).strip()
        except Failure:  # not a git checkout, or no git
            self.version = "swift-gpt2 (commit unknown)"
        self.extras = {"load_s": [], "peak_rss_mb": [], "paired_bandwidth_gbs": [], "bound_tps": [], "bound_pct": []}
        self.fma = None  # whether the binary's Swift kernels fuse multiply-adds, as its rows say

    def round(self):
        a = self.args
        common = [str(self.binary), "model", "-m", str(self.model), "-t", str(a.threads), "-r", str(a.reps), "-o", "json",
                  "--weights", a.weights, "--probe-mb", str(a.probe_mb)]
        rows = run_json(common + ["-p", str(a.prompt), "-n", str(a.gen)])
        rows += run_json(common + ["-p", "0", "-n", str(a.batch_gen), "-b", str(a.batch), "--no-bandwidth"])
        samples = {}
        for row in rows:
            key = row["test"] if row["batch"] == 1 else f"b{row['batch']} x {row['test']}"
            samples[key] = row["samples_ts"]
        self.extras["load_s"].append(rows[0]["load_s"])
        self.fma = rows[0].get("fma")
        self.extras["peak_rss_mb"].append(max(r["peak_rss_mb"] for r in rows))
        # the single-sequence tg row's bound: bandwidth passes right before and after each repetition
        paired = next((r for r in rows if r.get("bandwidth_bound_tps")), None)
        if paired is None:
            raise Failure(f"gpt2-bench reported no bandwidth bound for tg{a.gen}")
        self.extras["paired_bandwidth_gbs"].append(paired["paired_bandwidth_gbs"])
        self.extras["bound_tps"].append(paired["bandwidth_bound_tps"])
        self.extras["bound_pct"].append(paired["bound_pct"])
        return samples

    def tokenizer_round(self, reps):
        return run_json([str(self.binary), "tokenizer", "--text", self.args.text, "--model", str(ROOT / "Models" / "sales-demo"),
                         "-r", str(reps), "--format", "json"])["encode_mb_s_mean"]


class PyTorch:
    """transformers' GPT2LMHeadModel on the CPU, loaded once and kept for every round."""
    name = "PyTorch"

    def __init__(self, args, model):
        import torch
        from transformers import GPT2LMHeadModel

        self.torch, self.args = torch, args
        torch.set_num_threads(args.threads)
        start = time.perf_counter()
        try:
            self.model = GPT2LMHeadModel.from_pretrained(model, torch_dtype=torch.float32).eval()
        except Exception as e:
            raise Failure(f"transformers could not load {model}: {described(e)}") from None
        self.extras = {"load_s": [time.perf_counter() - start]}
        self.version = f"PyTorch {torch.__version__}"
        self.generator = torch.Generator().manual_seed(0)

    def forward(self, ids, past=None):
        try:  # transformers >= 4.45: compute the LM head for the last position only, as we do
            return self.model(ids, past_key_values=past, use_cache=True, logits_to_keep=1)
        except TypeError:
            return self.model(ids, past_key_values=past, use_cache=True)

    def random_ids(self, rows, columns):
        return self.torch.randint(0, self.model.config.vocab_size, (rows, columns), generator=self.generator)

    def round(self):
        a = self.args

        def timed(make_inputs, body, tokens):
            rates = []
            for rep in range(a.reps + 1):  # the first untimed
                inputs = make_inputs()  # token ids drawn outside the timed region
                start = time.perf_counter()
                body(inputs)
                if rep > 0:
                    rates.append(tokens / (time.perf_counter() - start))
            return rates

        def decode(steps):
            past = None
            for ids in steps:
                past = self.forward(ids, past).past_key_values

        samples = {}
        with self.torch.inference_mode():
            samples[f"pp{a.prompt}"] = timed(lambda: self.random_ids(1, a.prompt), self.forward, a.prompt)
            samples[f"tg{a.gen}"] = timed(lambda: [self.random_ids(1, 1) for _ in range(a.gen)], decode, a.gen)
            samples[f"b{a.batch} x tg{a.batch_gen}"] = timed(lambda: [self.random_ids(a.batch, 1) for _ in range(a.batch_gen)],
                                                              decode, a.batch * a.batch_gen)
        self.extras["peak_rss_mb"] = [peak_rss_mb()]
        return samples


class LlamaCpp:
    """llama.cpp's own benchmarks on the same model: llama-bench for ppN and tgN, llama-batched-bench
    (when on PATH too) for B sequences decoded together."""
    name = "llama.cpp"

    def __init__(self, args, model, binary):
        self.args, self.binary = args, binary
        self.batched = shutil.which("llama-batched-bench")
        self.gguf = args.gguf
        if self.gguf is None:
            self.gguf = scratch_directory("gpt2-gguf-") / "model-f32.gguf"
            run([sys.executable, str(ROOT / "scripts" / "gpt2_to_gguf.py"), str(model), str(self.gguf)])
        self.version = "llama.cpp"
        self.extras = {}

    def round(self):
        a = self.args
        cmd = [self.binary, "-m", str(self.gguf), "-p", str(a.prompt), "-n", str(a.gen), "-t", str(a.threads),
               "-r", str(a.reps), "-o", "json"]
        rows = run_json(cmd)
        if not rows:
            raise Failure(f"llama-bench printed no results: {shown(cmd)}")
        self.version = f"llama.cpp {rows[0].get('build_commit', '?')} ({rows[0].get('backends', '?')}, {rows[0].get('model_type', '?')})"
        samples = {}
        for row in rows:
            key = f"pp{row['n_prompt']}" if row["n_prompt"] else f"tg{row['n_gen']}"
            samples[key] = row["samples_ts"]
        if self.batched:
            # it runs each configuration once, after its own warm-up: --reps runs
            rates = []
            for _ in range(a.reps):
                cmd = [self.batched, "-m", str(self.gguf), "-c", str(max(2048, a.batch * (a.batch_gen + 1))), "-npp", "0",
                       "-ntg", str(a.batch_gen), "-npl", str(a.batch), "-t", str(a.threads), "--output-format", "jsonl"]
                # its JSONL writes "-nan" for the empty prompt phase, which JSON parsers refuse
                speeds = re.findall(r'"speed_tg": ([0-9.eE+-]+)', run(cmd))
                if not speeds:
                    raise Failure(f"llama-batched-bench printed no speed_tg: {shown(cmd)}")
                rates.append(float(speeds[-1]))
            samples[f"b{a.batch} x tg{a.batch_gen}"] = rates
        return samples


def tiktoken_round(args, reps):
    return run_json([sys.executable, str(ROOT / "scripts" / "bench_tokenizer_tiktoken.py"), "--text", args.text, "-r", str(reps),
                     "--format", "json"])["encode_mb_s_mean"]


def model_context(directory):
    """The model's context (n_positions, or n_ctx as in old configs, as swift-gpt2 reads it), or why
    the directory is not a local GPT-2 model: a ValueError saying so."""
    if not directory.is_dir():
        raise ValueError("no such directory (a local GPT-2 model directory with config.json and model.safetensors)")
    for name in ["config.json", "model.safetensors"]:
        if not (directory / name).is_file():
            raise ValueError(f"no {name} in it (a local GPT-2 model directory with config.json and model.safetensors)")
    try:
        config = json.loads((directory / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"config.json: {e}") from None
    context = config.get("n_positions", config.get("n_ctx")) if isinstance(config, dict) else None
    if not isinstance(context, int) or isinstance(context, bool) or context < 1:
        raise ValueError("config.json: no n_positions (nor n_ctx), the model's context")
    return context


def llama_or_reason(args, model):
    binary = shutil.which("llama-bench")
    if not binary:
        return None, "llama-bench not on PATH"
    if args.gguf is None:
        try:
            import gguf  # noqa: F401  (scripts/gpt2_to_gguf.py needs it)
        except ImportError:
            return None, "llama-bench is on PATH but the gguf package is not installed (pip install gguf), and no --gguf given"
    return LlamaCpp(args, model, binary), None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="GPT-2 model directory (default: a random-weight GPT-2 124M made now)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--gen", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--batch-gen", type=int, default=64)
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions of each workload per engine and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds in which every engine runs every workload")
    parser.add_argument("--text", default=str(ROOT / "Benchmarks" / "mixed_en_zh.txt"),
                        help="text file for tokenizer throughput (default: the mixed English/Chinese benchmark text)")
    parser.add_argument("--gguf", type=Path, default=None,
                        help="GGUF file of the same model for llama.cpp (default: converted from --model when llama-bench is on PATH)")
    parser.add_argument("--no-native", dest="native", action="store_false",
                        help="build swift-gpt2 without -target-cpu native and -DGPT2_FMA (what a dependent package gets)")
    parser.add_argument("--bench-binary", type=Path, default=None,
                        help="a gpt2-bench to run instead of building one (a build with other flags, or the tests' debug build)")
    parser.add_argument("--weights", choices=["resident", "mapped"], default="resident",
                        help="swift-gpt2's weight residency (default resident: in the process's memory, as PyTorch holds them)")
    parser.add_argument("--probe-mb", type=int, default=256,
                        help="megabytes gpt2-bench's bandwidth probe reads per pass (keep it well beyond the last-level cache)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    if min(args.threads, args.prompt, args.gen, args.batch, args.batch_gen, args.reps, args.rounds, args.probe_mb) < 1:
        parser.error("--threads, --prompt, --gen, --batch, --batch-gen, --reps, --rounds and --probe-mb must be at least 1")
    if args.gguf is not None and not args.gguf.is_file():
        parser.error(f"--gguf {args.gguf}: no such file")
    if args.bench_binary is not None and not (args.bench_binary.is_file() and os.access(args.bench_binary, os.X_OK)):
        parser.error(f"--bench-binary {args.bench_binary}: not an executable file")
    if args.json_out is not None:
        if args.json_out.is_dir():
            parser.error(f"--json-out {args.json_out}: is a directory")
        if not args.json_out.parent.is_dir():
            parser.error(f"--json-out {args.json_out}: no directory {args.json_out.parent}")
        if not os.access(args.json_out if args.json_out.exists() else args.json_out.parent, os.W_OK):
            parser.error(f"--json-out {args.json_out}: not writable")
    if args.text and not Path(args.text).is_file():
        parser.error(f"--text {args.text}: no such file (--text '' leaves the tokenizers out)")
    if args.text and not os.access(args.text, os.R_OK):
        parser.error(f"--text {args.text}: not readable")

    missing = [name for name in ["torch", "transformers"] + (["tiktoken"] if args.text else [])
               if importlib.util.find_spec(name) is None]
    if missing:
        fail(f"Python packages missing: {', '.join(missing)} (pip install {' '.join(missing)})"
             + ("; --text '' leaves the tokenizers out" if "tiktoken" in missing else ""))

    if args.model is not None:
        try:
            context = model_context(args.model)
        except ValueError as e:
            parser.error(f"--model {args.model}: {e}")

    model = args.model
    if model is None:
        model = scratch_directory("gpt2-124m-")
        run([sys.executable, str(ROOT / "scripts" / "make_random_gpt2.py"), str(model)])
        context = model_context(model)
    # longer than the context, gpt2-bench would leave the workload out and PyTorch would fail in it
    where = model / "config.json" if args.model is not None else "the config.json of the random GPT-2 124M made for this run"
    for flag, value in [("--prompt", args.prompt), ("--gen", args.gen), ("--batch-gen", args.batch_gen)]:
        if value > context:
            parser.error(f"{flag} {value}: longer than the model's context ({context} positions, n_positions in {where})")

    ours, theirs = SwiftGPT2(args, model), PyTorch(args, model)
    llama, llama_skipped = llama_or_reason(args, model)
    engines = [ours, theirs] + ([llama] if llama else [])
    # samples[engine][workload] = [tokens/s of every timed repetition]; per_round[engine][workload] = [round means]
    samples = {e.name: {} for e in engines}
    per_round = {e.name: {} for e in engines}
    tokenizer = {"swift-gpt2": [], "tiktoken": []}
    # what the complete rounds measured, kept as it was at the end of each: a failure in a later
    # round does not lose them
    def engine_step(engine):
        """One round of the engine's workloads, its samples recorded."""
        def step():
            for key, values in engine.round().items():
                samples[engine.name].setdefault(key, []).extend(values)
                per_round[engine.name].setdefault(key, []).append(statistics.fmean(values))
        return step

    rounds, failure = 0, None
    complete = copy.deepcopy((samples, per_round, tokenizer, {e.name: e.extras for e in engines}))
    for r in range(args.rounds):
        order = engines[r % len(engines):] + engines[:r % len(engines)]
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(e.name for e in order), file=sys.stderr)
        steps = [(engine.name, engine_step(engine)) for engine in order]
        if args.text:
            pair = [("swift-gpt2 tokenizer", lambda: tokenizer["swift-gpt2"].append(ours.tokenizer_round(5))),
                    ("tiktoken", lambda: tokenizer["tiktoken"].append(tiktoken_round(args, 5)))]
            steps += pair[r % 2:] + pair[:r % 2]
        for name, step in steps:
            try:
                step()
            except (Exception, KeyboardInterrupt) as e:
                failure = f"round {r + 1}, {name}: " + (str(e) if isinstance(e, Failure) else described(e) if isinstance(e, Exception) else "interrupted")
                break
        if failure:
            break
        rounds += 1
        complete = copy.deepcopy((samples, per_round, tokenizer, {e.name: e.extras for e in engines}))
    if failure:
        if not rounds:
            raise Failure(failure)
        samples, per_round, tokenizer, extras = complete
        for engine in engines:
            engine.extras = extras[engine.name]
        print(f"compare.py: stopping after {rounds} complete round{'s' if rounds > 1 else ''} of {args.rounds}: "
              "the table and the JSON have what they measured", file=sys.stderr)

    workloads = [f"pp{args.prompt}", f"tg{args.gen}", f"b{args.batch} x tg{args.batch_gen}"]

    def ratio(a, b, key):
        if not (samples[a].get(key) and samples[b].get(key)):
            return "–"
        mean = statistics.fmean(samples[a][key]) / statistics.fmean(samples[b][key])
        each = [x / y for x, y in zip(per_round[a][key], per_round[b][key])]
        return f"{mean:.2f}× ({min(each):.2f}–{max(each):.2f})" if len(each) > 1 else f"{mean:.2f}×"

    def cell(name, key):
        values = samples[name].get(key)
        return "%.1f ± %.1f" % stats(values) if values else "–"

    bound_pct = ours.extras["bound_pct"]
    print(f"\nmodel: {model}, {args.threads} threads, {rounds} round{'s' if rounds != 1 else ''} × {args.reps} repetitions; "
          f"{ours.version} " + (f"as {args.bench_binary}" if args.bench_binary
                                else f"built {'with' if args.native else 'without'} -target-cpu native")
          + {True: " (multiply-adds fused)", False: " (multiplies and adds separate)"}.get(ours.fma, "")
          + f", weights {args.weights}; "
          f"{theirs.version}" + (f"; {llama.version}" if llama else ""))
    print(f"machine: {cpu_name()}, {os.uname().machine}, {os.cpu_count()} CPUs, Linux {os.uname().release}")
    print("read bandwidth paired with swift-gpt2's tg runs, per round: "
          + ", ".join(f"{g:.1f} GB/s (bound {b:.1f} tok/s, tg at {p:.0f} %)"
                      for g, b, p in zip(ours.extras["paired_bandwidth_gbs"], ours.extras["bound_tps"], bound_pct)))
    header = "| workload | swift-gpt2 | PyTorch | vs PyTorch (per round) |" + (" llama.cpp | vs llama.cpp (per round) |" if llama else "")
    print("\n" + header)
    print("|" + "---|" * (header.count("|") - 1))
    for key in workloads:
        line = f"| {key} (tok/s) | {cell(ours.name, key)} | {cell(theirs.name, key)} | {ratio(ours.name, theirs.name, key)} |"
        if llama:
            line += f" {cell(llama.name, key)} | {ratio(ours.name, llama.name, key) if key in samples[llama.name] else ''} |"
        print(line)
    print(f"| load (s) | {statistics.fmean(ours.extras['load_s']):.3f} | {theirs.extras['load_s'][0]:.2f} | |" + (" | |" if llama else ""))
    print(f"| peak RSS (MB) | {max(ours.extras['peak_rss_mb']):.0f} | {theirs.extras['peak_rss_mb'][0]:.0f} | |" + (" | |" if llama else ""))
    if args.text:
        a, b = tokenizer["swift-gpt2"], tokenizer["tiktoken"]
        print(f"\n| tokenizer encode, 1 thread | swift-gpt2 {'%.1f ± %.1f' % stats(a)} MB/s | tiktoken {'%.1f ± %.1f' % stats(b)} MB/s"
              f" | {statistics.fmean(a) / statistics.fmean(b):.1f}× |")
    if llama:
        if not llama.batched:
            print("\nllama.cpp: llama-batched-bench not on PATH, so no batched row for it")
    else:
        print(f"\nllama.cpp: skipped ({llama_skipped})")
    if args.json_out:
        result = {"machine": cpu_name(), "threads": args.threads, "rounds": rounds, "reps": args.reps,
                  "samples_ts": samples, "round_means": per_round, "tokenizer_mb_s": tokenizer,
                  "versions": {e.name: e.version for e in engines}, "extras": {e.name: e.extras for e in engines}}
        try:
            write_results(args.json_out, json.dumps(result, indent=1) + "\n")
        except Failure as e:
            if not failure:
                raise
            print(f"compare.py: error: {e}", file=sys.stderr)
    if failure:
        raise Failure(failure)


def write_results(path, text):
    """Writes the JSON to --json-out; if that fails, to a file of its own, and says so."""
    try:
        path.write_text(text)
        return
    except OSError as e:
        problem = f"--json-out {path}: could not write it ({e.strerror or e})"
    try:
        descriptor, kept = tempfile.mkstemp(prefix="compare-", suffix=".json")
        with os.fdopen(descriptor, "w") as f:
            f.write(text)
    except OSError as e:
        raise Failure(f"{problem}, nor a file in {tempfile.gettempdir()} ({e.strerror or e})") from None
    raise Failure(f"{problem}; the results are in {kept}")


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        fail(failure)
