"""scripts/make_random_gpt2.py: the checkpoint it writes has GPT-2's published size and the
Hugging Face layout (names llama.cpp's GPT-2 name map knows, tied LM head, config keys)."""
import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import gguf
import numpy as np
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parents[2]


class RandomCheckpointTests(unittest.TestCase):
    def test_distilgpt2_sized_float16_checkpoint(self):
        with tempfile.TemporaryDirectory() as directory:
            out = Path(directory) / "model"
            subprocess.run([sys.executable, str(ROOT / "scripts" / "make_random_gpt2.py"), str(out),
                            "--size", "distil", "--dtype", "f16"], check=True, capture_output=True)
            state = load_file(str(out / "model.safetensors"))
            config = json.loads((out / "config.json").read_text())

            # distilgpt2 as the Hugging Face hub describes it: 6 layers of GPT-2 124M's width,
            # 81,912,576 parameters (the LM head tied to wte, so not counted twice)
            self.assertEqual((config["n_layer"], config["n_embd"], config["n_head"]), (6, 768, 12))
            self.assertEqual((config["n_positions"], config["vocab_size"]), (1024, 50257))
            self.assertEqual(sum(array.size for array in state.values()), 81_912_576)
            self.assertTrue(all(array.dtype == np.float16 for array in state.values()))
            self.assertNotIn("lm_head.weight", state)
            self.assertEqual(state["transformer.h.5.attn.c_attn.weight"].shape, (768, 2304))  # Conv1D: [in, out]
            names = gguf.TensorNameMap(gguf.MODEL_ARCH.GPT2, 6)
            for name in state:
                self.assertIsNotNone(names.get_name(name, try_suffixes=(".weight", ".bias")), name)
            # the tokenizer files come along, so the engine's tools can load the directory as is
            for name in ["vocab.json", "merges.txt"]:
                self.assertEqual((out / name).read_bytes(), (ROOT / "Models" / "sales-demo" / name).read_bytes())


if __name__ == "__main__":
    unittest.main()
