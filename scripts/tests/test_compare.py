"""scripts/compare.py end to end: the real gpt2-bench (the tests' debug build), stand-ins for
PyTorch (stubs/) and for llama.cpp's two benchmark tools (written here), the real GGUF conversion.
Checks what it runs, how it pairs and rotates the engines, and that its table and JSON say what
the engines measured."""
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
with open(value("-m"), "rb") as model, open(os.environ["FAKE_LLAMA_LOG"], "a") as log:
    log.write(json.dumps(["llama-bench", model.read(4).decode("latin-1")] + argv) + "\\n")
# asked to: fail, or print what is not JSON, in its Nth run
with open(os.environ["FAKE_LLAMA_LOG"]) as log:
    call = sum(1 for line in log if line.startswith('["llama-bench"'))
if os.environ.get("FAKE_LLAMA_BENCH_FAILS") == str(call):
    sys.exit(print("main: error: failed to load model", file=sys.stderr) or 1)
if os.environ.get("FAKE_LLAMA_BENCH_GARBLES") == str(call):
    sys.exit(print("| model | size | params |"))
common = {{"build_commit": "fake123", "backends": "CPU", "model_type": "gpt2 ?B all F32"}}
rows = [dict(common, n_prompt=int(value("-p")), n_gen=0, samples_ts={LLAMA_SAMPLES["pp"]}),
        dict(common, n_prompt=0, n_gen=int(value("-n")), samples_ts={LLAMA_SAMPLES["tg"]})]
print(json.dumps(rows))
"""

# llama-batched-bench's JSONL has "-nan" for the empty prompt phase (not JSON)
FAKE_LLAMA_BATCHED = f"""\
#!{sys.executable}
import json, os, sys
with open(os.environ["FAKE_LLAMA_LOG"], "a") as log:
    log.write(json.dumps(["llama-batched-bench"] + sys.argv[1:]) + "\\n")
print("main: n_kv_max = 2048")
if os.environ.get("FAKE_LLAMA_BATCHED_SILENT"):
    sys.exit()
print('{{"n_kv_max": 2048, "pp": 0, "tg": 4, "pl": 2, "n_kv": 8, "t_pp": 0.000000, "speed_pp": -nan, '
      '"t_tg": 0.064777, "speed_tg": {LLAMA_BATCHED_TG}, "t": 0.064777, "speed": 123.500000}}')
"""


class CompareTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BENCH.is_file():
            raise RuntimeError(f"{BENCH}: no such file (build it first: swift build, or run scripts/test)")

    def run_compare(self, *arguments, with_llama=True, **environment):
        self.work = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="compare-test-")))
        self.log = self.work / "llama.log"
        fakes = self.work / "bin"
        fakes.mkdir()
        for name, text in [("llama-bench", FAKE_LLAMA_BENCH), ("llama-batched-bench", FAKE_LLAMA_BATCHED)]:
            (fakes / name).write_text(text)
            (fakes / name).chmod(0o755)
        # a PATH without any real llama.cpp tools, with the stand-ins in front when asked
        path = [p for p in os.environ["PATH"].split(os.pathsep)
                if not (Path(p) / "llama-bench").exists() and not (Path(p) / "llama-batched-bench").exists()]
        env = dict(os.environ, PATH=os.pathsep.join(([str(fakes)] if with_llama else []) + path),
                   PYTHONPATH=str(Path(__file__).parent / "stubs"), FAKE_LLAMA_LOG=str(self.log),
                   **{name: str(value) for name, value in environment.items()})
        return subprocess.run([sys.executable, str(ROOT / "scripts" / "compare.py"), *map(str, arguments)],
                              env=env, text=True, capture_output=True, timeout=900)

    def workload_arguments(self):
        return ["--model", MODEL, "--bench-binary", BENCH, "--threads", 1, "--prompt", 16, "--gen", 8,
                "--batch", 2, "--batch-gen", 4, "--reps", 2, "--rounds", 2, "--text", "", "--weights", "mapped",
                # a small bandwidth probe: the debug build reads it slowly
                "--probe-mb", 8]

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

        # the table: one row per workload with the means of all samples and the ratio of the means
        table = {line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:-1]]
                 for line in result.stdout.splitlines() if line.startswith("| ") and "(tok/s)" in line}
        self.assertEqual(sorted(table), sorted(f"{w} (tok/s)" for w in workloads))
        for workload in workloads:
            ours, pytorch, vs_pytorch, llama, vs_llama = table[f"{workload} (tok/s)"]
            means = {e: statistics.fmean(report["samples_ts"][e][workload]) for e in engines}
            self.assertEqual(ours.split(" ± ")[0], f"{means['swift-gpt2']:.1f}")
            self.assertEqual(pytorch.split(" ± ")[0], f"{means['PyTorch']:.1f}")
            self.assertEqual(llama.split(" ± ")[0], f"{means['llama.cpp']:.1f}")
            self.assertTrue(vs_pytorch.startswith(f"{means['swift-gpt2'] / means['PyTorch']:.2f}×"), vs_pytorch)
            self.assertTrue(vs_llama.startswith(f"{means['swift-gpt2'] / means['llama.cpp']:.2f}×"), vs_llama)
            # and the range of the per-round ratios
            rounds = [a / b for a, b in zip(report["round_means"]["swift-gpt2"][workload],
                                            report["round_means"]["PyTorch"][workload])]
            self.assertIn(f"({min(rounds):.2f}–{max(rounds):.2f})", vs_pytorch)
        # the engines took turns: the order rotates from round to round
        self.assertIn("round 1/2: swift-gpt2, PyTorch, llama.cpp", result.stderr)
        self.assertIn("round 2/2: PyTorch, llama.cpp, swift-gpt2", result.stderr)

    def test_without_llama_bench_says_why(self):
        result = self.run_compare(*self.workload_arguments(), "--rounds", 1, with_llama=False)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("llama.cpp: skipped (llama-bench not on PATH)", result.stdout)
        self.assertNotIn("vs llama.cpp", result.stdout)
        self.assertFalse(self.log.exists())

    def test_bad_arguments_are_refused_by_name(self):
        for arguments, message in [(["--reps", 0], "must be at least 1"),
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


class PeakMemoryTests(unittest.TestCase):
    @unittest.skipUnless(Path("/proc/self/status").exists(), "needs Linux's /proc/self/status")
    def test_peak_rss_is_in_megabytes_of_a_million_bytes(self):
        sys.path.insert(0, str(ROOT / "scripts"))
        try:
            import compare
        finally:
            sys.path.remove(str(ROOT / "scripts"))
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
