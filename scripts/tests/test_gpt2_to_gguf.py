"""scripts/gpt2_to_gguf.py on the bundled demo model, read back with the gguf package's own reader
and checked against llama.cpp's own name map for GPT-2 (gguf.TensorNameMap), the checkpoint's
tensors and its config and tokenizer files."""
import json
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import gguf
import numpy as np
from safetensors.numpy import load_file, save_file

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpt2_to_gguf.py"
MODEL = ROOT / "Models" / "sales-demo"
# GPT-2's Conv1D layers store [in, out]; ggml's matrices are [out, in]
CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def convert(model_dir, out, *flags):
    return subprocess.run([sys.executable, str(SCRIPT), *flags, str(model_dir), str(out)], text=True, capture_output=True)


class GGUFConversionTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.TemporaryDirectory(prefix="gguf-test-")
        cls.out = Path(cls.directory.name) / "sales-demo-f32.gguf"
        result = convert(MODEL, cls.out)
        assert result.returncode == 0, result.stderr
        cls.reader = gguf.GGUFReader(cls.out)
        cls.config = json.loads((MODEL / "config.json").read_text())

    @classmethod
    def tearDownClass(cls):
        cls.directory.cleanup()

    def field(self, name):
        return self.reader.fields[name].contents()

    def test_hyperparameters_come_from_config(self):
        c = self.config
        self.assertEqual(self.field("general.architecture"), "gpt2")
        self.assertEqual(self.field("gpt2.block_count"), c["n_layer"])
        self.assertEqual(self.field("gpt2.context_length"), c["n_positions"])
        self.assertEqual(self.field("gpt2.embedding_length"), c["n_embd"])
        self.assertEqual(self.field("gpt2.feed_forward_length"), 4 * c["n_embd"])  # n_inner is null
        self.assertEqual(self.field("gpt2.attention.head_count"), c["n_head"])
        self.assertAlmostEqual(self.field("gpt2.attention.layer_norm_epsilon"), c["layer_norm_epsilon"], places=9)
        self.assertEqual(self.field("general.file_type"), gguf.LlamaFileType.ALL_F32)

    def test_tokenizer_is_the_models_own(self):
        vocab = json.loads((MODEL / "vocab.json").read_text(encoding="utf-8"))
        tokens = self.field("tokenizer.ggml.tokens")
        self.assertEqual(len(tokens), self.config["vocab_size"])
        self.assertEqual({token: i for i, token in enumerate(tokens)}, vocab)
        merges = (MODEL / "merges.txt").read_text(encoding="utf-8").splitlines()[1:]  # after "#version"
        self.assertEqual(self.field("tokenizer.ggml.merges"), [m for m in merges if m])
        eos = vocab["<|endoftext|>"]
        self.assertEqual((self.field("tokenizer.ggml.bos_token_id"), self.field("tokenizer.ggml.eos_token_id")), (eos, eos))
        types = self.field("tokenizer.ggml.token_type")
        self.assertEqual(types[eos], gguf.TokenType.CONTROL)
        self.assertEqual(set(types[:eos] + types[eos + 1:]), {gguf.TokenType.NORMAL})

    def test_every_tensor_under_llama_cpps_name_with_the_checkpoints_values(self):
        state = load_file(str(MODEL / "model.safetensors"))
        names = gguf.TensorNameMap(gguf.MODEL_ARCH.GPT2, self.config["n_layer"])
        expected = {}
        for name, array in state.items():
            bare = name.removeprefix("transformer.")
            if bare.endswith(".attn.bias") or bare.endswith(".attn.masked_bias"):
                continue  # causal-mask buffers of old checkpoints, not weights
            gguf_name = names.get_name(bare, try_suffixes=(".weight", ".bias"))
            self.assertIsNotNone(gguf_name, bare)
            expected[gguf_name] = (array.T if bare.endswith(CONV1D) else array).astype(np.float32)
        got = {tensor.name: tensor for tensor in self.reader.tensors}
        self.assertEqual(sorted(got), sorted(expected))
        self.assertNotIn("output.weight", got)  # the LM head is tied to token_embd
        for name, tensor in got.items():
            self.assertEqual(tensor.tensor_type, gguf.GGMLQuantizationType.F32, name)
            self.assertEqual(tensor.data.shape, expected[name].shape, name)
            self.assertTrue(np.array_equal(tensor.data, expected[name]), name)  # f16 → f32 is exact

    def test_output_weight_is_a_copy_of_the_embedding(self):
        with tempfile.TemporaryDirectory() as directory:
            out = Path(directory) / "untied.gguf"
            result = convert(MODEL, out, "--output-weight")
            self.assertEqual(result.returncode, 0, result.stderr)
            got = {tensor.name: tensor.data for tensor in gguf.GGUFReader(out).tensors}
            self.assertEqual(len(got), len(self.reader.tensors) + 1)
            self.assertTrue(np.array_equal(got["output.weight"], got["token_embd.weight"]))

    def test_missing_inputs_are_named(self):
        with tempfile.TemporaryDirectory() as directory:
            broken = Path(directory)
            for name in ["config.json", "vocab.json"]:
                shutil.copy(MODEL / name, broken / name)
            result = convert(broken, broken / "out.gguf")
            self.assertNotEqual(result.returncode, 0)
            self.assertIn(f"{broken / 'model.safetensors'}: no such file", result.stderr)
            self.assertFalse((broken / "out.gguf").exists())

            shutil.copy(MODEL / "merges.txt", broken / "merges.txt")
            state = load_file(str(MODEL / "model.safetensors"))
            lacking = next(name for name in state if name.endswith("h.3.mlp.c_fc.weight"))
            del state[lacking]
            save_file(state, str(broken / "model.safetensors"))
            result = convert(broken, broken / "out.gguf")
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("model.safetensors lacks h.3.mlp.c_fc.weight", result.stderr)
            self.assertFalse((broken / "out.gguf").exists())


if __name__ == "__main__":
    unittest.main()
