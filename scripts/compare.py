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
tokens/s over all rounds' repetitions and, as each ratio, the median of the per-round ratios with
their range: a round's ratio divides the two engines' means of that round, which ran within a
minute or two of each other, so one slow spell moves one round's ratio and not the headline (a
ratio of the means over all rounds would carry it). The tokenizers' ratio is taken the same way.

Decode reads every weight once per token, so its rate follows the machine's read bandwidth, which
on a shared machine can jump between regimes within seconds. So gpt2-bench's read probe (a
`gpt2-bench model` run of one token on the small demo model, for the fastest of the probe passes it
reports) runs before each round's first engine and after every engine: each engine's turn lies
between two probes, the faster of which sets its bound. Its decode share of that bound is the bytes
read per decoded token (gpt2-bench's count for the model in float32, the same for every engine:
the weights and the cached keys and values a tgN step attends to) × its tgN tokens/s ÷ the bound.
Each probe is called slow or fast (at --regime-gbs; by default at the widest gap between the
sorted probes if its faster side is at least 1.5 times the slower, else all are one regime), and
each turn by its two probes, mixed when they differ. The report gives every turn's probes and
share, the shares by regime, and marks the ratios some of whose rounds paired engines that ran in
different regimes. gpt2-bench's own bound for swift-gpt2 (probe passes around each repetition) is
printed as well.
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


def round_ratios(ours, theirs):
    """The ratios of two engines' per-round means, round by round, with their median and range:
    a round's engines ran close together in time, so the drift between rounds cancels in each."""
    each = [a / b for a, b in zip(ours, theirs)]
    return {"per_round": each, "median": statistics.median(each), "min": min(each), "max": max(each)}


# Neighbouring probes of one memory regime sit closer than this factor apart, a shared machine's
# regimes further (the module docstring, which is --help's text, gives the value too)
REGIME_GAP = 1.5


def regime_split(probes, fixed=None):
    """The GB/s from which a probe counts as the fast regime: `fixed` (--regime-gbs) if given, else
    the faster side of the widest gap between the sorted probes if that side is at least REGIME_GAP
    times the slower; None when every probe is of one regime."""
    if fixed is not None:
        return fixed
    ordered = sorted(probes)
    gaps = [(upper / lower, upper) for lower, upper in zip(ordered, ordered[1:]) if lower > 0]
    widest, upper = max(gaps, default=(0, None))
    return upper if widest >= REGIME_GAP else None


def regime(gbs, split):
    return "one" if split is None else "fast" if gbs >= split else "slow"


def turn_regime(before, after, split):
    """A turn's regime from the probes either side of it: mixed when it may have run in both."""
    a, b = regime(before, split), regime(after, split)
    return a if a == b else "mixed"


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


class BandwidthProbe:
    """The machine's read bandwidth right now, from gpt2-bench's probe: a `gpt2-bench model` run that
    decodes one token of the small demo model (so that it loads and runs in a moment), for the
    passes of the probe it reports: those paired with that token and those after it."""

    def __init__(self, args, binary):
        self.cmd = [str(binary), "model", "-m", str(ROOT / "Models" / "sales-demo"), "-p", "0", "-n", "1", "-r", "1",
                    "-t", str(args.threads), "--probe-mb", str(args.probe_mb), "--weights", "mapped", "-o", "json"]

    def measure(self):
        """GB/s: the fastest pass, as gpt2-bench bounds decode by the fastest pass around it."""
        rows = run_json(self.cmd)
        passes = [row.get(key) for row in rows for key in ["bandwidth_gbs", "paired_bandwidth_gbs"]]
        passes = [gbs for gbs in passes if isinstance(gbs, (int, float)) and gbs > 0]
        if not passes:
            raise Failure(f"gpt2-bench reported no read bandwidth: {shown(self.cmd)}")
        return max(passes)


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
        self.extras = {"load_s": [], "peak_rss_mb": [], "bound_mb_per_token": [], "paired_bandwidth_gbs": [], "bound_tps": [],
                       "bound_pct": []}
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
        # the single-sequence tg row's bound: gpt2-bench's probe passes right before and after each
        # repetition; and its bytes per decoded token, which bound every engine's decode
        paired = next((r for r in rows if r.get("bandwidth_bound_tps")), None)
        if paired is None:
            raise Failure(f"gpt2-bench reported no bandwidth bound for tg{a.gen}")
        self.extras["bound_mb_per_token"].append(paired["bound_mb_per_token"])
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
    parser.add_argument("--regime-gbs", type=float, default=None,
                        help="read GB/s from which a bandwidth probe counts as the fast memory regime "
                             "(default: at the widest gap between the sorted probes, if its faster side is at least 1.5 times the slower)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    if min(args.threads, args.prompt, args.gen, args.batch, args.batch_gen, args.reps, args.rounds, args.probe_mb) < 1:
        parser.error("--threads, --prompt, --gen, --batch, --batch-gen, --reps, --rounds and --probe-mb must be at least 1")
    if args.regime_gbs is not None and not args.regime_gbs > 0:
        parser.error("--regime-gbs must be more than 0")
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
    probe = BandwidthProbe(args, ours.binary)
    # samples[engine][workload] = [tokens/s of every timed repetition]; per_round[engine][workload] = [round means]
    samples = {e.name: {} for e in engines}
    per_round = {e.name: {} for e in engines}
    tokenizer = {"swift-gpt2": [], "tiktoken": []}
    # every engine's turn, with the read bandwidth probed right before and right after it
    turns = []
    latest_probe = [None]  # GB/s: the "before" of the next turn

    def engine_step(engine):
        """One round of the engine's workloads, its samples recorded."""
        def step():
            for key, values in engine.round().items():
                samples[engine.name].setdefault(key, []).extend(values)
                per_round[engine.name].setdefault(key, []).append(statistics.fmean(values))
        return step

    def probe_step(r, finished=None):
        """A bandwidth probe, which ends the turn of `finished` (the engine that ran since the last one)."""
        def step():
            gbs = probe.measure()
            if finished is not None:
                turns.append({"round": r + 1, "engine": finished.name, "before_gbs": latest_probe[0], "after_gbs": gbs})
            latest_probe[0] = gbs
        return step

    # what the complete rounds measured, kept as it was at the end of each: a failure in a later
    # round does not lose them
    def measured():
        return copy.deepcopy((samples, per_round, tokenizer, turns, {e.name: e.extras for e in engines}))

    rounds, failure = 0, None
    complete = measured()
    for r in range(args.rounds):
        order = engines[r % len(engines):] + engines[:r % len(engines)]
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(e.name for e in order), file=sys.stderr)
        steps = [(f"bandwidth probe before {order[0].name}", probe_step(r))]
        for engine in order:
            steps += [(engine.name, engine_step(engine)), (f"bandwidth probe after {engine.name}", probe_step(r, engine))]
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
        complete = measured()
    if failure:
        if not rounds:
            raise Failure(failure)
        samples, per_round, tokenizer, turns, extras = complete
        for engine in engines:
            engine.extras = extras[engine.name]
        print(f"compare.py: stopping after {rounds} complete round{'s' if rounds > 1 else ''} of {args.rounds}: "
              "the table and the JSON have what they measured", file=sys.stderr)

    workloads = [f"pp{args.prompt}", f"tg{args.gen}", f"b{args.batch} x tg{args.batch_gen}"]
    tg = f"tg{args.gen}"

    # each turn's bound (the faster probe either side of it), regime and decode share of the bound;
    # every engine reads the same bytes per decoded token, as gpt2-bench counts them
    split = regime_split([gbs for t in turns for gbs in (t["before_gbs"], t["after_gbs"])], args.regime_gbs)
    mb_per_token = statistics.fmean(ours.extras["bound_mb_per_token"])
    for t in turns:
        t["bound_gbs"] = max(t["before_gbs"], t["after_gbs"])
        t["regime"] = turn_regime(t["before_gbs"], t["after_gbs"], split)
        t["tg_tps"] = per_round[t["engine"]][tg][t["round"] - 1]
        t["share_pct"] = 100 * t["tg_tps"] * mb_per_token * 1e6 / (t["bound_gbs"] * 1e9)
    turn_regimes = {(t["round"], t["engine"]): t["regime"] for t in turns}
    share_by_regime = {}
    for t in turns:
        share_by_regime.setdefault(t["regime"], {}).setdefault(t["engine"], []).append(t["share_pct"])

    def ratio(a, b, key):
        """a's tokens/s over b's, round by round, and the regimes of the two turns of each round."""
        if not (per_round[a].get(key) and per_round[b].get(key)):
            return None
        entry = round_ratios(per_round[a][key], per_round[b][key])
        entry["regimes"] = [[turn_regimes[(r, a)], turn_regimes[(r, b)]] for r in range(1, len(entry["per_round"]) + 1)]
        return entry

    def ratio_cell(entry):
        if entry is None:
            return "–"
        text = f"{entry['median']:.2f}×"
        if len(entry["per_round"]) > 1:
            text += f" ({entry['min']:.2f}–{entry['max']:.2f})"
        # a round whose engines ran in different regimes (or in a turn that spans both) is not like for like
        differ = sum(1 for a, b in entry["regimes"] if a != b or a == "mixed")
        return text + (f", regimes differ in {differ} of {len(entry['regimes'])} rounds" if differ else "")

    def cell(name, key):
        values = samples[name].get(key)
        return "%.1f ± %.1f" % stats(values) if values else "–"

    def share_cell(name):
        shares = [t["share_pct"] for t in turns if t["engine"] == name]
        return f"{statistics.median(shares):.0f} %" if shares else "–"

    ratios = {f"swift-gpt2 / {other.name}": {key: ratio(ours.name, other.name, key) for key in workloads}
              for other in engines[1:]}
    print(f"\nmodel: {model}, {args.threads} threads, {rounds} round{'s' if rounds != 1 else ''} × {args.reps} repetitions; "
          f"{ours.version} " + (f"as {args.bench_binary}" if args.bench_binary
                                else f"built {'with' if args.native else 'without'} -target-cpu native")
          + {True: " (multiply-adds fused)", False: " (multiplies and adds separate)"}.get(ours.fma, "")
          + f", weights {args.weights}; "
          f"{theirs.version}" + (f"; {llama.version}" if llama else ""))
    print(f"machine: {cpu_name()}, {os.uname().machine}, {os.cpu_count()} CPUs, Linux {os.uname().release}")
    print("ratios: swift-gpt2's tokens/s over the other engine's, the median of the per-round ratios (their range)")
    header = "| workload | swift-gpt2 | PyTorch | vs PyTorch |" + (" llama.cpp | vs llama.cpp |" if llama else "")
    print("\n" + header)
    print("|" + "---|" * (header.count("|") - 1))
    for key in workloads:
        line = f"| {key} (tok/s) | {cell(ours.name, key)} | {cell(theirs.name, key)} | {ratio_cell(ratios['swift-gpt2 / PyTorch'][key])} |"
        if llama:
            entry = ratios["swift-gpt2 / llama.cpp"][key]
            line += f" {cell(llama.name, key)} | {ratio_cell(entry) if entry else ''} |"
        print(line)
    print(f"| {tg} share of its bound (median of turns) | {share_cell(ours.name)} | {share_cell(theirs.name)} | |"
          + (f" {share_cell(llama.name)} | |" if llama else ""))
    print(f"| load (s) | {statistics.fmean(ours.extras['load_s']):.3f} | {theirs.extras['load_s'][0]:.2f} | |" + (" | |" if llama else ""))
    print(f"| peak RSS (MB) | {max(ours.extras['peak_rss_mb']):.0f} | {theirs.extras['peak_rss_mb'][0]:.0f} | |" + (" | |" if llama else ""))
    if args.text:
        a, b = tokenizer["swift-gpt2"], tokenizer["tiktoken"]
        ratios["swift-gpt2 / tiktoken (tokenizer)"] = entry = round_ratios(a, b)
        spread = f" ({entry['min']:.1f}–{entry['max']:.1f})" if len(a) > 1 else ""
        print(f"\n| tokenizer encode, 1 thread | swift-gpt2 {'%.1f ± %.1f' % stats(a)} MB/s | tiktoken {'%.1f ± %.1f' % stats(b)} MB/s"
              f" | {entry['median']:.1f}×{spread} |")

    probes = [gbs for t in turns for gbs in (t["before_gbs"], t["after_gbs"])]
    regimes_said = (f"slow below {split:.1f} GB/s, fast from it" + (" (--regime-gbs)" if args.regime_gbs is not None else "")
                    if split is not None else
                    f"one regime: {min(probes):.1f}–{max(probes):.1f} GB/s, no gap of {REGIME_GAP}× between neighbours")
    print(f"\nread bandwidth probed before and after each engine's turn (gpt2-bench's probe, {args.probe_mb} MB, "
          f"{args.threads} thread{'s' if args.threads > 1 else ''}); {regimes_said}. A turn's bound: the faster probe; "
          f"its decode share: {mb_per_token:.1f} MB read per decoded token × {tg} tok/s ÷ the bound.")
    print(f"\n| round | engine | GB/s before → after | regime | {tg} tok/s | share of its bound |")
    print("|---|---|---|---|---|---|")
    for t in turns:
        print(f"| {t['round']} | {t['engine']} | {t['before_gbs']:.1f} → {t['after_gbs']:.1f} | {t['regime']} | "
              f"{t['tg_tps']:.1f} | {t['share_pct']:.0f} % |")
    print("\nshare of the bound by regime (median, turns): " + "; ".join(
        f"{label}: " + ", ".join(f"{e.name} {statistics.median(share_by_regime[label][e.name]):.0f} % "
                                 f"({len(share_by_regime[label][e.name])})"
                                 for e in engines if e.name in share_by_regime[label])
        for label in ["slow", "fast", "mixed", "one"] if label in share_by_regime))
    print("gpt2-bench's own bound for swift-gpt2's tg (probe passes around each repetition), per round: "
          + ", ".join(f"{g:.1f} GB/s (bound {b:.1f} tok/s, tg at {p:.0f} %)"
                      for g, b, p in zip(ours.extras["paired_bandwidth_gbs"], ours.extras["bound_tps"], ours.extras["bound_pct"])))
    if llama:
        if not llama.batched:
            print("\nllama.cpp: llama-batched-bench not on PATH, so no batched row for it")
    else:
        print(f"\nllama.cpp: skipped ({llama_skipped})")
    if args.json_out:
        result = {"machine": cpu_name(), "threads": args.threads, "rounds": rounds, "reps": args.reps,
                  "samples_ts": samples, "round_means": per_round, "ratios": ratios, "tokenizer_mb_s": tokenizer,
                  "bandwidth": {"probe_mb": args.probe_mb, "regime_split_gbs": split, "mb_per_token": mb_per_token,
                                "turns": turns, "share_pct_by_regime": share_by_regime},
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
