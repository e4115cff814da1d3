"""scripts/compare.py end to end: the real gpt2-bench (the tests' debug build), stand-ins for
PyTorch (stubs/) and for llama.cpp's two benchmark tools (written here), the real GGUF conversion.
Checks what it runs, how it pairs and rotates the engines, that the bandwidth probe brackets every
engine's turn, and that its table and JSON say what the engines measured: ratios as the median of
per-round ratios, decode shares against each turn's own probes, by memory regime."""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# scripts/test passes the one `swift test` just built
BENCH = Path(os.environ.get("GPT2_BENCH", ROOT / ".build" / "debug" / "gpt2-bench"))
MODEL = ROOT / "Models" / "sales-demo"

# what the llama-bench stand-in reports: tokens/s of each repetition, by workload
LLAMA_SAMPLES = {"pp": [400.0, 500.0], "tg": [40.0, 60.0]}
LLAMA_BATCHED_TG = 123.5

FAKE_LLAMA_BENCH = f"""\
#!{sys.executable}
import json, os, sys
argv = sys.argv[1:]
value = lambda flag: argv[argv.index(flag) + 1]
with open(value("-m"), "rb") as model, open(os.environ["COMPARE_TEST_LOG"], "a") as log:
    log.write(json.dumps(["llama-bench", model.read(4).decode("latin-1")] + argv) + "\\n")
# asked to: fail, or print what is not JSON, in its Nth run
with open(os.environ["COMPARE_TEST_LOG"]) as log:
    call = sum(1 for line in log if line.startswith('["llama-bench"'))
if os.environ.get("FAKE_LLAMA_BENCH_FAILS") == str(call):
    sys.exit(print("main: error: failed to load model", file=sys.stderr) or 1)
if os.environ.get("FAKE_LLAMA_BENCH_GARBLES") == str(call):
    sys.exit(print("| model | size | params |"))
# asked to: report other samples in its first runs (FAKE_LLAMA_ROUNDS, a JSON list of them)
samples = (json.loads(os.environ.get("FAKE_LLAMA_ROUNDS", "[]"))[call - 1:call] or [{LLAMA_SAMPLES}])[0]
common = {{"build_commit": "fake123", "backends": "CPU", "model_type": "gpt2 ?B all F32"}}
rows = [dict(common, n_prompt=int(value("-p")), n_gen=0, samples_ts=samples["pp"]),
        dict(common, n_prompt=0, n_gen=int(value("-n")), samples_ts=samples["tg"])]
print(json.dumps(rows))
"""

# llama-batched-bench's JSONL has "-nan" for the empty prompt phase (not JSON)
FAKE_LLAMA_BATCHED = f"""\
#!{sys.executable}
import json, os, sys
with open(os.environ["COMPARE_TEST_LOG"], "a") as log:
    log.write(json.dumps(["llama-batched-bench"] + sys.argv[1:]) + "\\n")
print("main: n_kv_max = 2048")
if os.environ.get("FAKE_LLAMA_BATCHED_SILENT"):
    sys.exit()
print('{{"n_kv_max": 2048, "pp": 0, "tg": 4, "pl": 2, "n_kv": 8, "t_pp": 0.000000, "speed_pp": -nan, '
      '"t_tg": 0.064777, "speed_tg": {LLAMA_BATCHED_TG}, "t": 0.064777, "speed": 123.500000}}')
"""


# the real gpt2-bench behind a stand-in that logs each call with the rows it printed; compare.py's
# bandwidth probe is its one call that decodes a single token (-n 1). Asked to, it fails in its Nth
# probe (FAKE_PROBE_FAILS) or reports the bandwidths of FAKE_PROBE_GBS (a JSON list, one per probe
# in turn) in place of what the probe measured.
LOGGED_GPT2_BENCH = f"""\
#!{sys.executable}
import json, os, subprocess, sys
argv = sys.argv[1:]
kind = argv[0] if argv else ""
if kind == "model" and argv[argv.index("-n") + 1] == "1":
    kind = "probe"
with open(os.environ["COMPARE_TEST_LOG"]) if os.path.exists(os.environ["COMPARE_TEST_LOG"]) else open(os.devnull) as log:
    probe = sum(1 for line in log if line.startswith('["gpt2-bench", "probe"'))
if kind == "probe" and os.environ.get("FAKE_PROBE_FAILS") == str(probe + 1):
    sys.exit(print("gpt2-bench: --probe-mb: could not allocate", file=sys.stderr) or 1)
result = subprocess.run([{str(BENCH)!r}] + argv, text=True, capture_output=True)
sys.stderr.write(result.stderr)
rows = None
if result.returncode == 0 and "json" in argv:
    rows = json.loads(result.stdout)
    if kind == "probe" and os.environ.get("FAKE_PROBE_GBS"):
        gbs = json.loads(os.environ["FAKE_PROBE_GBS"])[probe]
        for row in rows:
            row.update(bandwidth_gbs=gbs, paired_bandwidth_gbs=gbs)
    result.stdout = json.dumps(rows)
with open(os.environ["COMPARE_TEST_LOG"], "a") as log:
    log.write(json.dumps(["gpt2-bench", kind, argv, rows]) + "\\n")
print(result.stdout, end="")
sys.exit(result.returncode)
"""


def events(log):
    """The log's calls in order as (who, what): gpt2-bench's kind of call, or the engine's name."""
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return [(c[0], c[1]) if c[0] == "gpt2-bench" else (c[0], None) for c in calls], calls


class CompareTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BENCH.is_file():
            raise RuntimeError(f"{BENCH}: no such file (build it first: swift build, or run scripts/test)")

    def run_compare(self, *arguments, with_llama=True, logged=False, **environment):
        """compare.py's run; with `logged`, through the gpt2-bench stand-in that logs its calls."""
        self.work = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="compare-test-")))
        self.log = self.work / "calls.log"
        fakes = self.work / "bin"
        fakes.mkdir()
        (self.work / "logged").mkdir()
        for path, text in [(fakes / "llama-bench", FAKE_LLAMA_BENCH), (fakes / "llama-batched-bench", FAKE_LLAMA_BATCHED),
                           (self.work / "logged" / "gpt2-bench", LOGGED_GPT2_BENCH)]:
            path.write_text(text)
            path.chmod(0o755)
        if logged:
            arguments = list(arguments)
            arguments[arguments.index("--bench-binary") + 1] = self.work / "logged" / "gpt2-bench"
        # a PATH without any real llama.cpp tools, with the stand-ins in front when asked
        path = [p for p in os.environ["PATH"].split(os.pathsep)
                if not (Path(p) / "llama-bench").exists() and not (Path(p) / "llama-batched-bench").exists()]
        env = dict(os.environ, PATH=os.pathsep.join(([str(fakes)] if with_llama else []) + path),
                   PYTHONPATH=str(Path(__file__).parent / "stubs"), COMPARE_TEST_LOG=str(self.log),
                   **{name: str(value) for name, value in environment.items()})
        return subprocess.run([sys.executable, str(ROOT / "scripts" / "compare.py"), *map(str, arguments)],
                              env=env, text=True, capture_output=True, timeout=900)

    def workload_arguments(self):
        return ["--model", MODEL, "--bench-binary", BENCH, "--threads", 1, "--prompt", 16, "--gen", 8,
                "--batch", 2, "--batch-gen", 4, "--reps", 2, "--rounds", 2, "--text", "", "--weights", "mapped",
                # a small bandwidth probe: the debug build reads it slowly
                "--probe-mb", 8]

    def table(self, stdout):
        """The main table's workload rows: {"tg8 (tok/s)": [cells after the first]}."""
        return {line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:-1]]
                for line in stdout.splitlines() if line.startswith("| ") and "(tok/s)" in line}

    def test_three_engines_side_by_side(self):
        json_path = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="compare-json-"))) / "result.json"
        result = self.run_compare(*self.workload_arguments(), "--json-out", json_path)
        self.assertEqual(result.returncode, 0, result.stderr)
        report = json.loads(json_path.read_text())
        workloads = ["pp16", "tg8", "b2 x tg4"]
        engines = ["swift-gpt2", "PyTorch", "llama.cpp"]

        # every engine ran every workload: 2 rounds × 2 repetitions of positive tokens/s
        for engine in engines:
            self.assertEqual(sorted(report["samples_ts"][engine]), sorted(workloads), engine)
            for workload in workloads:
                samples = report["samples_ts"][engine][workload]
                self.assertEqual(len(samples), 4, (engine, workload))
                self.assertTrue(all(s > 0 for s in samples), (engine, workload, samples))
                self.assertEqual(len(report["round_means"][engine][workload]), 2)
        # llama.cpp's numbers are what its tools printed, "-nan" and all
        self.assertEqual(report["samples_ts"]["llama.cpp"]["pp16"], LLAMA_SAMPLES["pp"] * 2)
        self.assertEqual(report["samples_ts"]["llama.cpp"]["tg8"], LLAMA_SAMPLES["tg"] * 2)
        self.assertEqual(report["samples_ts"]["llama.cpp"]["b2 x tg4"], [LLAMA_BATCHED_TG] * 4)
        self.assertIn("fake123", report["versions"]["llama.cpp"])
        self.assertEqual(report["versions"]["PyTorch"], "PyTorch 0.0-stub")
        # gpt2-bench's paired bandwidth bound came through, once per round
        self.assertEqual(len(report["extras"]["swift-gpt2"]["bound_pct"]), 2)

        # llama.cpp ran on a GGUF converted from the same model, with the same workload and threads
        calls = [json.loads(line) for line in self.log.read_text().splitlines()]
        bench_calls = [c for c in calls if c[0] == "llama-bench"]
        self.assertEqual(len(bench_calls), 2)  # once per round
        for call in bench_calls:
            flag = lambda name: call[call.index(name) + 1]
            self.assertEqual((flag("-p"), flag("-n"), flag("-t"), flag("-r")), ("16", "8", "1", "2"))
            self.assertEqual(call[1], "GGUF")  # the model file's magic, read by the stand-in
            self.assertFalse(Path(flag("-m")).exists())  # compare.py removed its conversion at exit
        batched = [c for c in calls if c[0] == "llama-batched-bench"]
        self.assertEqual(len(batched), 4)  # --reps runs per round
        for call in batched:
            self.assertEqual([call[call.index(f) + 1] for f in ["-ntg", "-npl", "-t"]], ["4", "2", "1"])

        # the table: one row per workload with the mean of all samples and, as ratio, the median of
        # the per-round ratios with their range, each round's ratio from that round's samples
        table = self.table(result.stdout)
        self.assertEqual(sorted(table), sorted(f"{w} (tok/s)" for w in workloads))
        for workload in workloads:
            ours, pytorch, vs_pytorch, llama, vs_llama = table[f"{workload} (tok/s)"]
            means = {e: statistics.fmean(report["samples_ts"][e][workload]) for e in engines}
            self.assertEqual(ours.split(" ± ")[0], f"{means['swift-gpt2']:.1f}")
            self.assertEqual(pytorch.split(" ± ")[0], f"{means['PyTorch']:.1f}")
            self.assertEqual(llama.split(" ± ")[0], f"{means['llama.cpp']:.1f}")
            # the samples of round r are the r-th --reps of them
            rounds = {e: [statistics.fmean(report["samples_ts"][e][workload][r * 2:r * 2 + 2]) for r in range(2)]
                      for e in engines}
            for other, cell in [("PyTorch", vs_pytorch), ("llama.cpp", vs_llama)]:
                each = [a / b for a, b in zip(rounds["swift-gpt2"], rounds[other])]
                self.assertTrue(cell.startswith(f"{statistics.median(each):.2f}× ({min(each):.2f}–{max(each):.2f})"),
                                (workload, other, cell, each))
                self.assertEqual(report["ratios"][f"swift-gpt2 / {other}"][workload]["per_round"], each)
        # the engines took turns: the order rotates from round to round
        self.assertIn("round 1/2: swift-gpt2, PyTorch, llama.cpp", result.stderr)
        self.assertIn("round 2/2: PyTorch, llama.cpp, swift-gpt2", result.stderr)

    def test_ratio_is_the_median_of_per_round_ratios_that_one_slow_round_does_not_move(self):
        # llama.cpp's first round ten times slower than its other two: the ratio of the means over
        # all rounds would carry it, the median of the per-round ratios does not
        slow = {"pp": [40.0, 50.0], "tg": [4.0, 6.0]}
        json_path = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="compare-json-"))) / "result.json"
        result = self.run_compare(*self.workload_arguments(), "--rounds", 3, "--json-out", json_path, logged=True,
                                  FAKE_LLAMA_ROUNDS=json.dumps([slow]))
        self.assertEqual(result.returncode, 0, result.stderr)
        report = json.loads(json_path.read_text())
        # swift-gpt2's samples as gpt2-bench printed them: its single-sequence run of each round
        calls = events(self.log)[1]
        ours = [{row["test"]: row["samples_ts"] for row in c[3]} for c in calls
                if c[:2] == ["gpt2-bench", "model"] and "-b" not in c[2]]
        self.assertEqual(len(ours), 3)
        llama = [slow, LLAMA_SAMPLES, LLAMA_SAMPLES]  # round r runs llama-bench for the r-th time
        table = self.table(result.stdout)
        for workload, kind in [("pp16", "pp"), ("tg8", "tg")]:
            each = [statistics.fmean(ours[r][workload]) / statistics.fmean(llama[r][kind]) for r in range(3)]
            median = statistics.median(each)
            cell = table[f"{workload} (tok/s)"][4]
            self.assertTrue(cell.startswith(f"{median:.2f}× ({min(each):.2f}–{max(each):.2f})"), (workload, cell, each))
            entry = report["ratios"]["swift-gpt2 / llama.cpp"][workload]
            self.assertAlmostEqual(entry["median"], median, places=12)
            for got, expected in zip(entry["per_round"], each, strict=True):
                self.assertAlmostEqual(got, expected, places=12)
            # the test tells the two apart: the ratio of the means is another figure
            means = (statistics.fmean([x for r in ours for x in r[workload]])
                     / statistics.fmean([x for r in llama for x in r[kind]]))
            self.assertNotEqual(f"{means:.2f}", f"{median:.2f}", (workload, each))

    def test_bandwidth_is_probed_around_every_engine_and_decode_shares_are_by_regime(self):
        # the probes' GB/s in the order they run, four a round: round 1 has swift-gpt2 between 30
        # and 31 (slow), PyTorch between 31 and 65 (mixed), llama.cpp between 65 and 64 (fast);
        # round 2 (PyTorch, llama.cpp, swift-gpt2) is slow throughout
        probes = [30.0, 31.0, 65.0, 64.0, 33.0, 32.0, 34.0, 35.0]
        json_path = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="compare-json-"))) / "result.json"
        result = self.run_compare(*self.workload_arguments(), "--json-out", json_path, logged=True,
                                  FAKE_PROBE_GBS=json.dumps(probes))
        self.assertEqual(result.returncode, 0, result.stderr)
        report = json.loads(json_path.read_text())

        # a probe before each round's first engine and after every engine, nothing else between
        order = [["swift-gpt2", "PyTorch", "llama.cpp"], ["PyTorch", "llama.cpp", "swift-gpt2"]]
        who = {("gpt2-bench", "probe"): "probe", ("gpt2-bench", "model"): "swift-gpt2", ("PyTorch", None): "PyTorch",
               ("llama-bench", None): "llama.cpp", ("llama-batched-bench", None): "llama.cpp"}
        ran = []
        for event in events(self.log)[0]:
            name = who[event]
            if name == "probe" or not ran or ran[-1] != name:  # an engine's calls of one turn as one
                ran.append(name)
        self.assertEqual(ran, [x for names in order for x in ["probe"] + [y for e in names for y in (e, "probe")]])

        # each turn between the probes either side of it; its bound the faster; its share the bytes
        # per decoded token gpt2-bench counts × its tg8 tokens/s ÷ that bound
        calls = events(self.log)[1]
        ours = [next(row for row in c[3] if row["test"] == "tg8") for c in calls
                if c[:2] == ["gpt2-bench", "model"] and "-b" not in c[2]]
        mb_per_token = ours[0]["bound_mb_per_token"]
        tg = {"swift-gpt2": [statistics.fmean(row["samples_ts"]) for row in ours],
              "llama.cpp": [statistics.fmean(LLAMA_SAMPLES["tg"])] * 2,
              "PyTorch": [statistics.fmean(report["samples_ts"]["PyTorch"]["tg8"][r * 2:r * 2 + 2]) for r in range(2)]}
        regimes = [["slow", "mixed", "fast"], ["slow", "slow", "slow"]]
        turns = report["bandwidth"]["turns"]
        self.assertEqual([(t["round"], t["engine"]) for t in turns], [(r + 1, e) for r in range(2) for e in order[r]])
        for t in turns:
            r, i = t["round"] - 1, order[t["round"] - 1].index(t["engine"])
            before, after = probes[4 * r + i], probes[4 * r + i + 1]
            share = 100 * tg[t["engine"]][r] * mb_per_token * 1e6 / (max(before, after) * 1e9)
            self.assertEqual((t["before_gbs"], t["after_gbs"], t["regime"]), (before, after, regimes[r][i]), t)
            self.assertAlmostEqual(t["share_pct"], share, places=9)
            self.assertIn(f"| {r + 1} | {t['engine']} | {before:.1f} → {after:.1f} | {regimes[r][i]} | "
                          f"{tg[t['engine']][r]:.1f} | {share:.0f} % |", result.stdout)
        # split at the widest gap between the sorted probes, and the shares grouped by regime
        self.assertEqual(report["bandwidth"]["regime_split_gbs"], 64.0)
        self.assertIn("slow below 64.0 GB/s, fast from it", result.stdout)
        self.assertEqual({label: {e: len(v) for e, v in engines.items()}
                          for label, engines in report["bandwidth"]["share_pct_by_regime"].items()},
                         {"slow": {"swift-gpt2": 2, "PyTorch": 1, "llama.cpp": 1}, "mixed": {"PyTorch": 1},
                          "fast": {"llama.cpp": 1}})
        self.assertIn("mixed: PyTorch ", result.stdout)
        # round 1 paired swift-gpt2's slow turn with PyTorch's mixed one and llama.cpp's fast one
        for workload, cells in self.table(result.stdout).items():
            for cell in [cells[2], cells[4]]:
                self.assertTrue(cell.endswith(", regimes differ in 1 of 2 rounds"), (workload, cell))
        self.assertEqual(report["ratios"]["swift-gpt2 / llama.cpp"]["tg8"]["regimes"], [["slow", "fast"], ["slow", "slow"]])
        self.assertEqual(report["ratios"]["swift-gpt2 / PyTorch"]["tg8"]["regimes"], [["slow", "mixed"], ["slow", "slow"]])

    def test_a_failing_bandwidth_probe_is_named(self):
        # the third probe of round 1: the one after its second engine, PyTorch
        result = self.run_compare(*self.workload_arguments(), "--rounds", 1, with_llama=False, logged=True,
                                  FAKE_PROBE_FAILS=3)
        self.assertFailedInOneMessage(result, "round 1, bandwidth probe after PyTorch: gpt2-bench exited with status 1",
                                      "could not allocate")

    def test_without_llama_bench_says_why(self):
        result = self.run_compare(*self.workload_arguments(), "--rounds", 1, with_llama=False)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("llama.cpp: skipped (llama-bench not on PATH)", result.stdout)
        self.assertNotIn("vs llama.cpp", result.stdout)
        self.assertFalse([c for c in events(self.log)[0] if c[0].startswith("llama")])

    def test_bad_arguments_are_refused_by_name(self):
        for arguments, message in [(["--reps", 0], "must be at least 1"),
                                   (["--regime-gbs", 0], "--regime-gbs must be more than 0"),
                                   (["--gguf", "/nonexistent/model.gguf"], "--gguf /nonexistent/model.gguf: no such file"),
                                   (["--bench-binary", "/nonexistent/gpt2-bench"], "--bench-binary /nonexistent/gpt2-bench: not an executable"),
                                   (["--bench-binary", ROOT / "scripts"], f"--bench-binary {ROOT / 'scripts'}: not an executable")]:
            result = self.run_compare("--model", MODEL, *arguments)
            self.assertEqual(result.returncode, 2, arguments)
            self.assertIn(message, result.stderr)

    def assertFailedInOneMessage(self, result, *parts, returncode=1):
        """compare.py stopped with the given status and an error that says what went wrong, no traceback."""
        self.assertEqual(result.returncode, returncode, result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        error = result.stderr[result.stderr.index("compare.py: error: "):]
        for part in parts:
            self.assertIn(str(part), error)

    def test_failing_gpt2_bench_says_what_it_said(self):
        # a model directory that passes compare.py's own checks, with weights gpt2-bench refuses to
        # load (the PyTorch stand-in reads config.json only)
        model = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="compare-model-")))
        for name in ["config.json", "vocab.json", "merges.txt"]:
            (model / name).write_bytes((MODEL / name).read_bytes())
        (model / "model.safetensors").write_bytes(b"not safetensors")
        arguments = self.workload_arguments()
        arguments[arguments.index("--model") + 1] = model
        result = self.run_compare(*arguments, with_llama=False)
        self.assertFailedInOneMessage(result, "gpt2-bench exited with status 1", f"{BENCH} model -m {model}",
                                      f"{model / 'model.safetensors'}: header length")
        self.assertEqual(result.stdout, "")

    def test_missing_text_is_refused_before_anything_runs(self):
        for text in ["/nonexistent.txt", ROOT / "scripts"]:
            result = self.run_compare("--model", MODEL, "--bench-binary", BENCH, "--text", text)
            self.assertFailedInOneMessage(result, f"--text {text}: no such file", returncode=2)
            self.assertNotIn("+ ", result.stderr)  # nothing was run

    def test_json_out_in_no_directory_is_refused_before_anything_runs(self):
        result = self.run_compare(*self.workload_arguments(), "--json-out", "/nonexistent/dir/out.json")
        self.assertFailedInOneMessage(result, "--json-out /nonexistent/dir/out.json: no directory /nonexistent/dir",
                                      returncode=2)
        self.assertNotIn("+ ", result.stderr)
        result = self.run_compare(*self.workload_arguments(), "--json-out", ROOT / "scripts")
        self.assertFailedInOneMessage(result, f"--json-out {ROOT / 'scripts'}: is a directory", returncode=2)

    @unittest.skipUnless(Path("/dev/full").exists(), "needs /dev/full, where every write fails")
    def test_json_out_that_cannot_be_written_keeps_the_results(self):
        # /dev/full passes the checks made before the run (it exists and is writable), and the write fails
        tmp = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="compare-tmp-")))
        result = self.run_compare(*self.workload_arguments(), "--rounds", 1, "--json-out", "/dev/full",
                                  with_llama=False, TMPDIR=tmp)
        self.assertFailedInOneMessage(result, "--json-out /dev/full: could not write it (No space left on device)")
        self.assertIn("| tg8 (tok/s) |", result.stdout)  # the table came first
        kept = result.stderr.split("the results are in ")[1].strip()
        self.assertEqual(Path(kept).parent, tmp)
        report = json.loads(Path(kept).read_text())
        self.assertEqual(len(report["samples_ts"]["swift-gpt2"]["tg8"]), 2)

    def test_model_that_is_not_a_local_model_directory_is_refused_by_name(self):
        work = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="compare-model-")))
        (work / "no-weights").mkdir()
        (work / "no-weights" / "config.json").write_text('{"n_positions": 64}')
        (work / "bad-config").mkdir()
        (work / "bad-config" / "config.json").write_text("{not json")
        (work / "bad-config" / "model.safetensors").write_bytes(b"")
        (work / "no-context").mkdir()
        (work / "no-context" / "config.json").write_text('{"n_embd": 8}')
        (work / "no-context" / "model.safetensors").write_bytes(b"")
        for model, message in [("/nonexistent", "--model /nonexistent: no such directory"),
                               ("gpt2", "--model gpt2: no such directory"),  # not taken for a Hub id
                               (MODEL / "config.json", f"--model {MODEL / 'config.json'}: no such directory"),
                               (work, f"--model {work}: no config.json in it"),
                               (work / "no-weights", f"--model {work / 'no-weights'}: no model.safetensors in it"),
                               (work / "bad-config", f"--model {work / 'bad-config'}: config.json: Expecting property name"),
                               (work / "no-context", f"--model {work / 'no-context'}: config.json: no n_positions")]:
            arguments = self.workload_arguments()
            arguments[arguments.index("--model") + 1] = model
            result = self.run_compare(*arguments)
            self.assertFailedInOneMessage(result, message, returncode=2)
            self.assertNotIn("+ ", result.stderr)

    def test_workloads_longer_than_the_context_are_refused_by_name(self):
        # Models/sales-demo has 512 positions
        self.assertEqual(json.loads((MODEL / "config.json").read_text())["n_positions"], 512)
        for flag in ["--prompt", "--gen", "--batch-gen"]:
            result = self.run_compare(*self.workload_arguments(), flag, 513)
            self.assertFailedInOneMessage(result, f"{flag} 513: longer than the model's context (512 positions",
                                          returncode=2)
            self.assertNotIn("+ ", result.stderr)
        # the context itself is fine
        result = self.run_compare(*self.workload_arguments(), "--rounds", 1, "--reps", 1, "--prompt", 512,
                                  with_llama=False)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("| pp512 (tok/s) |", result.stdout)

    def test_a_failure_in_a_later_round_keeps_the_complete_rounds(self):
        json_path = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="compare-json-"))) / "result.json"
        # round 2 runs PyTorch, then llama.cpp, whose llama-bench fails
        result = self.run_compare(*self.workload_arguments(), "--json-out", json_path, FAKE_LLAMA_BENCH_FAILS=2)
        self.assertFailedInOneMessage(result, "round 2, llama.cpp: llama-bench exited with status 1",
                                      "main: error: failed to load model")
        self.assertIn("stopping after 1 complete round of 2", result.stderr)
        # the table and the JSON have round 1, all of it, and nothing of round 2
        self.assertIn("1 round × 2 repetitions", result.stdout)
        self.assertIn("| tg8 (tok/s) |", result.stdout)
        report = json.loads(json_path.read_text())
        self.assertEqual(report["rounds"], 1)
        for engine in ["swift-gpt2", "PyTorch", "llama.cpp"]:
            for workload in ["pp16", "tg8", "b2 x tg4"]:
                self.assertEqual(len(report["samples_ts"][engine][workload]), 2, (engine, workload))
                self.assertEqual(len(report["round_means"][engine][workload]), 1, (engine, workload))
        self.assertEqual(len(report["extras"]["swift-gpt2"]["bound_pct"]), 1)
        self.assertEqual([t["round"] for t in report["bandwidth"]["turns"]], [1, 1, 1])

    def test_llama_tools_printing_something_else_are_named(self):
        result = self.run_compare(*self.workload_arguments(), FAKE_LLAMA_BENCH_GARBLES=1)
        self.assertFailedInOneMessage(result, "round 1, llama.cpp: llama-bench printed no JSON", "| model | size | params |")
        self.assertEqual(result.stdout, "")  # no round was complete: no table
        result = self.run_compare(*self.workload_arguments(), FAKE_LLAMA_BATCHED_SILENT=1)
        self.assertFailedInOneMessage(result, "round 1, llama.cpp: llama-batched-bench printed no speed_tg")

    def test_missing_python_packages_are_named_before_anything_runs(self):
        # -S: no site-packages, so only the stand-ins on PYTHONPATH (or nothing) can be imported
        for pythonpath, text, missing in [(Path(__file__).parent / "stubs", [], "tiktoken (pip install tiktoken)"),
                                          ("", ["--text", ""], "torch, transformers (pip install torch transformers)")]:
            result = subprocess.run([sys.executable, "-S", ROOT / "scripts" / "compare.py", "--model", MODEL,
                                     "--bench-binary", BENCH, *text], env=dict(os.environ, PYTHONPATH=str(pythonpath)),
                                    text=True, capture_output=True, timeout=60)
            self.assertFailedInOneMessage(result, f"Python packages missing: {missing}")
            self.assertNotIn("+ ", result.stderr)


def compare_module():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import compare
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return compare


class RatioAndRegimeTests(unittest.TestCase):
    def test_per_round_ratios_and_their_median(self):
        compare = compare_module()
        # the first round's other engine ran at half speed
        entry = compare.round_ratios([100.0, 140.0, 143.0], [50.0, 100.0, 100.0])
        self.assertEqual(entry["per_round"], [2.0, 1.4, 1.43])
        self.assertEqual((entry["median"], entry["min"], entry["max"]), (1.43, 1.4, 2.0))

    def test_regimes_split_at_a_wide_gap_only(self):
        compare = compare_module()
        self.assertEqual(compare.regime_split([31.0, 65.0, 30.0, 66.0, 36.0]), 65.0)
        # a spread within one regime, no neighbours far apart
        self.assertIsNone(compare.regime_split([25.0, 28.0, 31.0, 33.0, 36.0]))
        self.assertIsNone(compare.regime_split([40.0]))
        self.assertEqual(compare.regime_split([25.0, 28.0], fixed=27.0), 27.0)
        self.assertEqual([compare.regime(g, 65.0) for g in [30.0, 65.0, 70.0]], ["slow", "fast", "fast"])
        self.assertEqual(compare.regime(30.0, None), "one")
        self.assertEqual([compare.turn_regime(*pair, 65.0) for pair in [(30, 31), (31, 65), (66, 30), (65, 70)]],
                         ["slow", "mixed", "mixed", "fast"])


class PeakMemoryTests(unittest.TestCase):
    @unittest.skipUnless(Path("/proc/self/status").exists(), "needs Linux's /proc/self/status")
    def test_peak_rss_is_in_megabytes_of_a_million_bytes(self):
        compare = compare_module()
        # the peak well above what the interpreter holds, and far above the few hundred KB by which
        # getrusage and /proc/self/status can differ (the kernel batches its per-CPU RSS counts)
        ballast = bytearray(256 << 20)
        ballast[::4096] = b"x" * len(ballast[::4096])
        def vm_hwm_mb():
            status = Path("/proc/self/status").read_text()
            return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) * 1024 / 1e6
        # the peak may still grow by a few pages around the call (reading /proc allocates): bracket it
        before = vm_hwm_mb()
        reported = compare.peak_rss_mb()
        after = vm_hwm_mb()
        # KiB / 1000 would be 2.4 % short
        self.assertGreaterEqual(reported, before * (1 - 0.002))
        self.assertLessEqual(reported, after * (1 + 0.002))
        del ballast


if __name__ == "__main__":
    unittest.main()
