"""`generate --model REPO` against a stand-in hub (mock_hub.py, never the internet), and the cache it
shares with the real `huggingface_hub` package (PyPI), pointed at the same stand-in by HF_ENDPOINT."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
from pathlib import Path

import huggingface_hub

ROOT = Path(__file__).resolve().parents[2]
GENERATE = Path(os.environ.get("GENERATE", ROOT / ".build" / "release" / "generate"))
DEMO = ROOT / "Models" / "sales-demo"
FILES = ["config.json", "generation_config.json", "vocab.json", "merges.txt", "model.safetensors"]
REPO = "openai-community/gpt2"
PROMPT = "Customer: Olivia Brown, 34, nurse.\nProduct: AuroraShot X2 mirrorless camera\nPitch:"


class MockHub:
    def __init__(self, repos):
        arguments = [a for repo, folder in repos.items() for a in ("--repo", f"{repo}={folder}")]
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).parent / "mock_hub.py"), *arguments],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.url = self.process.stdout.readline().strip()

    def faults(self, faults):
        request = urllib.request.Request(self.url + "/_faults", data=json.dumps(faults).encode(), method="POST")
        urllib.request.urlopen(request).read()

    def stats(self):
        return json.loads(urllib.request.urlopen(self.url + "/_stats").read())

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()


class HubTests(unittest.TestCase):
    def setUp(self):
        self.directory = Path(tempfile.mkdtemp(prefix="gpt2-hub-"))
        self.repo_folder = self.directory / "repo"
        self.repo_folder.mkdir()
        for name in FILES:
            shutil.copy(DEMO / name, self.repo_folder / name)
        (self.repo_folder / "README.md").write_text("# a model card, not needed by the engine\n")
        self.addCleanup(shutil.rmtree, self.directory, ignore_errors=True)
        self.hub = MockHub({REPO: self.repo_folder})
        self.addCleanup(lambda: self.hub.stop())
        self.cache = self.directory / "cache"

    def environment(self, **extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and k != "GPT2_MODEL_DIR"}
        env.update({"HF_HUB_CACHE": str(self.cache), "HF_ENDPOINT": self.hub.url, **extra})
        return env

    def generate(self, *arguments, **extra):
        return subprocess.run([str(GENERATE), *arguments], capture_output=True, text=True, env=self.environment(**extra),
                              timeout=300)

    def greedy(self, model, **extra):
        return self.generate("--model", model, "--temperature", "0", "--max-tokens", "12", "-q", PROMPT, **extra)

    def test_download_generate_then_offline(self):
        local = subprocess.run([str(GENERATE), "--model", str(DEMO), "--temperature", "0", "--max-tokens", "12", "-q", PROMPT],
                               capture_output=True, text=True, check=True)
        first = self.greedy(REPO)
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertEqual(first.stdout, local.stdout)
        # not a terminal: one line as each file starts and ends
        self.assertIn("generate: openai-community/gpt2: downloading from the Hugging Face Hub (commit ", first.stderr)
        self.assertRegex(first.stderr, r"generate: model\.safetensors: 24\.\d MB\n")
        self.assertRegex(first.stderr, r"generate: model\.safetensors: 24\.\d MB in \d+\.\d s \([\d.]+ MB/s\)\n")
        self.assertNotIn("README.md", first.stderr)
        sent = self.hub.stats()["lfs_bytes"]
        self.assertEqual(sent, (DEMO / "model.safetensors").stat().st_size)

        self.hub.stop()  # offline now, by the environment and by the flag: the cache alone
        for offline in ({"HF_HUB_OFFLINE": "1"}, {}):
            arguments = () if offline else ("--offline",)
            again = self.generate("--model", REPO, *arguments, "--temperature", "0", "--max-tokens", "12", "-q", PROMPT, **offline)
            self.assertEqual(again.returncode, 0, again.stderr)
            self.assertEqual(again.stdout, local.stdout)
            self.assertNotIn("download", again.stderr)

    def test_pitch_and_serve_take_a_repository(self):
        self.assertEqual(self.greedy(REPO).returncode, 0)
        self.hub.stop()
        pitch = self.generate("pitch", "--model", REPO, "--offline", "--name", "Olivia Brown", "--product",
                              "AuroraShot X2 mirrorless camera", "--seed", "1")
        self.assertEqual(pitch.returncode, 0, pitch.stderr)
        self.assertIn("Olivia", pitch.stdout)
        serve = subprocess.Popen([str(GENERATE), "serve", "--model", REPO, "--offline", "--port", "0"],
                                 stderr=subprocess.PIPE, text=True, env=self.environment())
        try:
            line = serve.stderr.readline()
            port = re.search(r"http://127\.0\.0\.1:(\d+)/v1", line)
            self.assertIsNotNone(port, line)
            models = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port.group(1)}/v1/models").read())
            self.assertEqual([m["id"] for m in models["data"]], [REPO])
        finally:
            serve.kill()
            serve.wait()
            serve.stderr.close()

    def test_progress_bar_on_a_terminal(self):
        # standard error on a pseudo-terminal, the download slowed to 8 MB/s: the bar is redrawn in place
        import pty
        self.hub.faults({"trickle": 8_000_000})
        controller, terminal = pty.openpty()
        process = subprocess.Popen([str(GENERATE), "--model", REPO, "--max-tokens", "2", "-q", "hi"], stdout=subprocess.DEVNULL,
                                   stderr=terminal, env=self.environment())
        os.close(terminal)
        screen = b""
        while True:
            try:
                piece = os.read(controller, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not piece:
                break
            screen += piece
        os.close(controller)
        self.assertEqual(process.wait(timeout=60), 0, screen)
        text = screen.decode()
        bars = re.findall(r"\r\x1b\[Kmodel\.safetensors  \[[#.]{24}\] +(\d+)%  [\d.]+/24\.8 MB  [\d.]+ MB/s  \d+:\d\d left", text)
        self.assertGreaterEqual(len(bars), 10, text)
        self.assertEqual([int(p) for p in bars], sorted(int(p) for p in bars))
        self.assertRegex(text, r"\r\x1b\[Kmodel\.safetensors: 24\.8 MB in \d+\.\d s \([\d.]+ MB/s\)\r?\n")

    def test_python_finds_what_generate_downloaded(self):
        self.assertEqual(self.greedy(REPO).returncode, 0)
        for name in FILES:
            path = huggingface_hub.try_to_load_from_cache(REPO, name, cache_dir=str(self.cache))
            self.assertIsInstance(path, str, name)
            self.assertEqual(Path(path).read_bytes(), (DEMO / name).read_bytes(), name)
        snapshot = huggingface_hub.snapshot_download(REPO, cache_dir=str(self.cache), local_files_only=True)
        self.assertEqual(sorted(os.listdir(snapshot)), sorted(FILES))
        # and the commit Python resolves online is the one generate recorded
        online = huggingface_hub.snapshot_download(REPO, cache_dir=str(self.cache), endpoint=self.hub.url,
                                                   allow_patterns=["*.json", "*.txt", "*.safetensors"])
        self.assertEqual(online, snapshot)
        self.assertEqual(self.hub.stats()["lfs_bytes"], (DEMO / "model.safetensors").stat().st_size, "no second download")

    def test_generate_finds_what_python_downloaded(self):
        snapshot = huggingface_hub.snapshot_download(REPO, cache_dir=str(self.cache), endpoint=self.hub.url)
        self.assertIn("README.md", os.listdir(snapshot))
        self.hub.stop()
        result = self.greedy(REPO, HF_HUB_OFFLINE="1")
        self.assertEqual(result.returncode, 0, result.stderr)
        models = self.generate("models")
        self.assertEqual(models.returncode, 0, models.stderr)
        self.assertRegex(models.stdout, r"openai-community/gpt2 +2\d\.\d MB +" + str(self.cache / "models--openai-community--gpt2" / "snapshots"))

    def test_errors(self):
        cases = [
            ("nobody/nothing", {}, {}, 66, "no such repository"),
            (REPO + "@v9", {}, {}, 66, 'no revision "v9"'),
            (REPO, {"token": "secret"}, {}, 77, "set HF_TOKEN"),
            (REPO, {"status": 503}, {}, 69, "answered 503"),
            (REPO, {}, {"HF_HUB_OFFLINE": "1"}, 66, "is not in the Hugging Face cache"),
            (REPO, {}, {"HF_ENDPOINT": "http://127.0.0.1:9"}, 69, "connection refused"),
        ]
        for model, faults, extra, code, text in cases:
            with self.subTest(model=model, faults=faults, extra=extra):
                self.hub.faults(faults)
                result = self.greedy(model, **extra)
                self.assertEqual(result.returncode, code, result.stderr)
                lines = result.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, result.stderr)
                self.assertTrue(lines[0].startswith("generate: error: "), lines[0])
                self.assertIn(text, lines[0])
        self.hub.faults({"token": "secret"})
        self.assertEqual(self.greedy(REPO, HF_TOKEN="secret").returncode, 0)

    def test_interrupted_download_resumes(self):
        self.hub.faults({"drop_after": 10_000_000})
        first = self.greedy(REPO)
        self.assertEqual(first.returncode, 69, first.stderr)
        self.assertIn("10000000 of ", first.stderr)
        self.assertIn("the next run resumes from there", first.stderr)
        second = self.greedy(REPO)
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertRegex(second.stderr, r"model\.safetensors: 24\.\d MB, resuming at 10\.0 MB")
        self.assertEqual(self.hub.stats()["lfs_bytes"], (DEMO / "model.safetensors").stat().st_size)

    def test_waits_for_the_lock_python_holds(self):
        # huggingface_hub locks a blob with filelock while it writes it; generate takes the same lock
        import hashlib
        from filelock import FileLock
        etag = hashlib.sha256((DEMO / "model.safetensors").read_bytes()).hexdigest()
        lock_path = self.cache / ".locks" / "models--openai-community--gpt2" / f"{etag}.lock"
        lock_path.parent.mkdir(parents=True)
        with FileLock(str(lock_path)):
            process = subprocess.Popen([str(GENERATE), "--model", REPO, "--max-tokens", "2", "-q", "hi"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=self.environment())
            time.sleep(1.5)
            self.assertIsNone(process.poll(), "generate waits for the lock")
            self.assertEqual(self.hub.stats()["lfs_bytes"], 0)
        with process.stderr:
            self.assertEqual(process.wait(timeout=120), 0, process.stderr.read())
        self.assertEqual(self.hub.stats()["lfs_bytes"], (DEMO / "model.safetensors").stat().st_size)

    def test_full_disk_leaves_nothing_half_written(self):
        # a file-size limit makes the cache's writes fail as a full disk does (EFBIG)
        result = subprocess.run(["bash", "-c", 'ulimit -f 8192; exec "$@"', "_", str(GENERATE), "--model", REPO, "-q", "hi"],
                                capture_output=True, text=True, env=self.environment(), timeout=300)
        self.assertEqual(result.returncode, 74, result.stderr)
        self.assertIn("cannot write", result.stderr)
        blobs = self.cache / "models--openai-community--gpt2" / "blobs"
        self.assertEqual([name for name in os.listdir(blobs) if name.endswith(".incomplete")], [])

    def test_not_gpt2(self):
        llama = self.directory / "llama"
        shutil.copytree(self.repo_folder, llama)
        (llama / "config.json").write_text('{"model_type": "llama"}')
        self.hub.stop()
        self.hub = MockHub({"acme/llama": llama})
        result = self.greedy("acme/llama")
        self.assertEqual(result.returncode, 65, result.stderr)
        self.assertIn('acme/llama is not a GPT-2 model: its config.json says model_type "llama"', result.stderr)
        self.assertEqual(self.hub.stats()["lfs_bytes"], 0)


if __name__ == "__main__":
    unittest.main()
