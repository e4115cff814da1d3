#!/usr/bin/env python3
"""Regenerate parity fixtures with Hugging Face `transformers` (needs torch + transformers).

    # reference logits for an existing model directory (writes DIR/reference.json)
    python3 scripts/make_reference.py Tests/Fixtures/reference/tiny-gpt2-f32

    # a new random-weight fixture model like the ones in Tests/Fixtures/reference, then its references
    python3 scripts/make_reference.py OUTDIR --new --n-layer 2 --n-embd 64 --n-head 4 --n-positions 128 --dtype float32

reference.json holds, for each prompt (token ids): the first 64 logits of the first and last
position, the top-10 ids of the last position, the sum of logits at every position, the
log-probability of each next prompt token, and the 20-token greedy continuation: what the Swift
parity tests compare against. Computed in float32 with eager attention, from the stored weights.
"""
import argparse
import json
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel

PROMPTS = [
    [15496, 11, 995, 0],                                          # "Hello, world!"
    [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13],   # "The quick brown fox ..."
    [50256],                                                      # <|endoftext|> alone
    list(range(100, 160)),                                        # 60 positions
]


def new_model(args):
    torch.manual_seed(args.seed)
    config = GPT2Config(n_layer=args.n_layer, n_embd=args.n_embd, n_head=args.n_head,
                        n_positions=args.n_positions, vocab_size=args.vocab_size, n_inner=args.n_inner,
                        activation_function=args.activation, scale_attn_weights=not args.no_scale_attn_weights,
                        scale_attn_by_inverse_layer_idx=args.scale_attn_by_inverse_layer_idx,
                        tie_word_embeddings=not args.untied)
    model = GPT2LMHeadModel(config)
    with torch.no_grad():  # larger weights than the default init, so logits differ visibly between positions
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.mul_(4)
    model.to(getattr(torch, args.dtype)).save_pretrained(args.directory)


def references(directory: Path):
    model = GPT2LMHeadModel.from_pretrained(directory, torch_dtype=torch.float32, attn_implementation="eager").eval()
    cases = []
    for prompt in PROMPTS:
        ids = [i % model.config.vocab_size for i in prompt]
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0]
            logprobs = torch.log_softmax(logits, dim=-1)
            # an explicit mask: otherwise a prompt of <|endoftext|> (the pad id) would be masked out
            greedy = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                    max_new_tokens=20, do_sample=False, pad_token_id=50256,
                                    eos_token_id=None)[0, len(ids):].tolist()
        cases.append({
            "input_ids": ids,
            "last_logits_top10": torch.topk(logits[-1], 10).indices.tolist(),
            "last_logits_first64": logits[-1, :64].tolist(),
            "first_logits_first64": logits[0, :64].tolist(),
            "logits_sum_per_position": logits.sum(dim=-1).tolist(),
            "logprob_of_next_token": [logprobs[i, ids[i + 1]].item() for i in range(len(ids) - 1)],
            "greedy_20": greedy,
        })
    c = model.config
    return {"config": {"n_layer": c.n_layer, "n_embd": c.n_embd, "n_head": c.n_head,
                       "n_positions": c.n_positions, "vocab_size": c.vocab_size},
            "dtype": str(next(GPT2LMHeadModel.from_pretrained(directory).parameters()).dtype).replace("torch.", ""),
            "cases": cases}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--new", action="store_true", help="first write a new random-weight model into DIRECTORY")
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-embd", type=int, default=64)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-positions", type=int, default=128)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--vocab-size", type=int, default=50257)
    parser.add_argument("--n-inner", type=int, default=None)
    parser.add_argument("--activation", default="gelu_new", choices=["gelu_new", "gelu", "relu"])
    parser.add_argument("--no-scale-attn-weights", action="store_true")
    parser.add_argument("--scale-attn-by-inverse-layer-idx", action="store_true")
    parser.add_argument("--untied", action="store_true", help="save an lm_head.weight of its own")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, help="where to write the references (default DIRECTORY/reference.json)")
    args = parser.parse_args()
    if args.new:
        new_model(args)
    result = references(args.directory)
    output = args.output or args.directory / "reference.json"
    output.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {output}: {len(result['cases'])} cases")


if __name__ == "__main__":
    main()
