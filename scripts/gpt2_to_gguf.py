#!/usr/bin/env python3
"""Write a Hugging Face GPT-2 checkpoint as a float32 GGUF file that llama.cpp loads, so that
`scripts/compare.py` can run llama-bench on the very model it gives swift-gpt2 and PyTorch.

    pip install gguf numpy safetensors
    python3 scripts/gpt2_to_gguf.py MODEL_DIR OUT.gguf

MODEL_DIR holds config.json, model.safetensors, vocab.json and merges.txt (what
scripts/make_random_gpt2.py writes, or a GPT-2 from the Hugging Face hub). Names follow llama.cpp's
"gpt2" architecture; its matrices are [out, in] where GPT-2's Conv1D stores [in, out], so those are
transposed. The LM head is tied to `wte` and not written (llama.cpp falls back to the embedding),
unless --output-weight asks for a copy as `output.weight` (llama.cpp builds before that fallback,
early 2025, refuse the file without it; the bytes read per token are the same either way).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

# GPT-2 names inside a block -> llama.cpp's; True where Conv1D's [in, out] must become [out, in].
BLOCK_TENSORS = {
    "ln_1.weight": ("attn_norm.weight", False),
    "ln_1.bias": ("attn_norm.bias", False),
    "attn.c_attn.weight": ("attn_qkv.weight", True),
    "attn.c_attn.bias": ("attn_qkv.bias", False),
    "attn.c_proj.weight": ("attn_output.weight", True),
    "attn.c_proj.bias": ("attn_output.bias", False),
    "ln_2.weight": ("ffn_norm.weight", False),
    "ln_2.bias": ("ffn_norm.bias", False),
    "mlp.c_fc.weight": ("ffn_up.weight", True),
    "mlp.c_fc.bias": ("ffn_up.bias", False),
    "mlp.c_proj.weight": ("ffn_down.weight", True),
    "mlp.c_proj.bias": ("ffn_down.bias", False),
}
TOP_TENSORS = {
    "wte.weight": "token_embd.weight",
    "wpe.weight": "position_embd.weight",
    "ln_f.weight": "output_norm.weight",
    "ln_f.bias": "output_norm.bias",
}


def gguf_tensors(state, n_layer):
    """[(llama.cpp name, array)] for every tensor llama.cpp's gpt2 graph uses, or an error naming
    the ones the checkpoint lacks."""
    # the hub's GPT-2 files have bare names, GPT2LMHeadModel.save_pretrained prefixes "transformer."
    state = {name.removeprefix("transformer."): array for name, array in state.items()}
    wanted = [(name, gguf_name, False) for name, gguf_name in TOP_TENSORS.items()]
    wanted += [(f"h.{block}.{name}", f"blk.{block}.{gguf_name}", transpose)
               for block in range(n_layer) for name, (gguf_name, transpose) in BLOCK_TENSORS.items()]
    missing = [name for name, _, _ in wanted if name not in state]
    if missing:
        raise SystemExit(f"gpt2_to_gguf: model.safetensors lacks {', '.join(missing[:4])}"
                         + (f" and {len(missing) - 4} more" if len(missing) > 4 else ""))
    return [(gguf_name, state[name].T if transpose else state[name]) for name, gguf_name, transpose in wanted]


def convert(model_dir: Path, out: Path, output_weight: bool = False):
    import gguf

    config = json.loads((model_dir / "config.json").read_text())
    vocab = json.loads((model_dir / "vocab.json").read_text(encoding="utf-8"))
    merges = [line for line in (model_dir / "merges.txt").read_text(encoding="utf-8").splitlines()
              if line and not line.startswith("#version")]
    n_vocab, n_embd, n_layer = config["vocab_size"], config["n_embd"], config["n_layer"]
    tokens = [None] * n_vocab
    for token, token_id in vocab.items():
        if 0 <= token_id < n_vocab:
            tokens[token_id] = token
    # ids the vocabulary leaves unnamed (fine-tunes that grew the embedding) still need a token
    tokens = [token if token is not None else f"[PAD{i}]" for i, token in enumerate(tokens)]
    eos = vocab.get("<|endoftext|>", n_vocab - 1)

    tensors = gguf_tensors(load_file(str(model_dir / "model.safetensors")), n_layer)
    if output_weight:
        tensors.append(("output.weight", dict(tensors)["token_embd.weight"]))
    writer = gguf.GGUFWriter(out, "gpt2")
    writer.add_block_count(n_layer)
    writer.add_context_length(config["n_positions"])
    writer.add_embedding_length(n_embd)
    writer.add_feed_forward_length(config.get("n_inner") or 4 * n_embd)
    writer.add_head_count(config["n_head"])
    writer.add_layer_norm_eps(config.get("layer_norm_epsilon", 1e-5))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.CONTROL if i == eos else gguf.TokenType.NORMAL for i in range(n_vocab)])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(eos)
    writer.add_eos_token_id(eos)
    for name, array in tensors:
        writer.add_tensor(name, np.ascontiguousarray(array, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--output-weight", action="store_true", help="also write the tied LM head as output.weight")
    args = parser.parse_args()
    for name in ["config.json", "model.safetensors", "vocab.json", "merges.txt"]:
        if not (args.model_dir / name).is_file():
            sys.exit(f"gpt2_to_gguf: {args.model_dir / name}: no such file")
    convert(args.model_dir, args.out, args.output_weight)


if __name__ == "__main__":
    main()
