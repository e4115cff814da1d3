#!/usr/bin/env python3
"""Write a random-weight checkpoint with the exact GPT-2 architecture, in the Hugging Face layout.

Real GPT-2 weights cannot be downloaded everywhere, and speed does not depend on the weights'
values, so benchmarks run on this. Needs numpy and safetensors (pip install numpy safetensors).

    python3 scripts/make_random_gpt2.py OUTDIR [--size 124M|355M|distil] [--dtype f32|f16] [--seed 0]

OUTDIR gets config.json, model.safetensors (keys with the `transformer.` prefix, tied lm_head, as
`save_pretrained` writes them) and, if Models/sales-demo exists, the GPT-2 vocab.json/merges.txt.
"""
import argparse
import json
import shutil
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

SIZES = {
    # name: (n_layer, n_embd, n_head)
    "124M": (12, 768, 12),
    "355M": (24, 1024, 16),
    "distil": (6, 768, 12),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--size", choices=SIZES, default="124M")
    parser.add_argument("--dtype", choices=["f32", "f16"], default="f32")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    n_layer, n_embd, n_head = SIZES[args.size]
    n_positions, vocab_size = 1024, 50257
    dtype = np.float32 if args.dtype == "f32" else np.float16
    rng = np.random.default_rng(args.seed)

    def normal(*shape, std=0.02):
        return (rng.standard_normal(shape, dtype=np.float32) * std).astype(dtype)

    def const(value, *shape):
        return np.full(shape, value, dtype=dtype)

    tensors = {
        "transformer.wte.weight": normal(vocab_size, n_embd),
        "transformer.wpe.weight": normal(n_positions, n_embd, std=0.01),
        "transformer.ln_f.weight": const(1, n_embd),
        "transformer.ln_f.bias": const(0, n_embd),
    }
    for i in range(n_layer):
        p = f"transformer.h.{i}."
        tensors[p + "ln_1.weight"] = const(1, n_embd)
        tensors[p + "ln_1.bias"] = const(0, n_embd)
        tensors[p + "attn.c_attn.weight"] = normal(n_embd, 3 * n_embd)
        tensors[p + "attn.c_attn.bias"] = const(0, 3 * n_embd)
        tensors[p + "attn.c_proj.weight"] = normal(n_embd, n_embd, std=0.02 / np.sqrt(2 * n_layer))
        tensors[p + "attn.c_proj.bias"] = const(0, n_embd)
        tensors[p + "ln_2.weight"] = const(1, n_embd)
        tensors[p + "ln_2.bias"] = const(0, n_embd)
        tensors[p + "mlp.c_fc.weight"] = normal(n_embd, 4 * n_embd)
        tensors[p + "mlp.c_fc.bias"] = const(0, 4 * n_embd)
        tensors[p + "mlp.c_proj.weight"] = normal(4 * n_embd, n_embd, std=0.02 / np.sqrt(2 * n_layer))
        tensors[p + "mlp.c_proj.bias"] = const(0, n_embd)

    args.outdir.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(args.outdir / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "activation_function": "gelu_new",
        "n_layer": n_layer,
        "n_embd": n_embd,
        "n_head": n_head,
        "n_positions": n_positions,
        "n_ctx": n_positions,
        "n_inner": None,
        "vocab_size": vocab_size,
        "layer_norm_epsilon": 1e-5,
        "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
        "tie_word_embeddings": True,
        "bos_token_id": 50256,
        "eos_token_id": 50256,
        "torch_dtype": "float32" if args.dtype == "f32" else "float16",
    }
    (args.outdir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    demo = Path(__file__).resolve().parent.parent / "Models" / "sales-demo"
    for name in ("vocab.json", "merges.txt"):
        if (demo / name).exists():
            shutil.copy(demo / name, args.outdir / name)
    params = sum(t.size for t in tensors.values())
    print(f"wrote {args.outdir}: GPT-2 {args.size} random weights, {params / 1e6:.1f} M parameters, {args.dtype}")


if __name__ == "__main__":
    main()
