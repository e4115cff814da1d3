#!/usr/bin/env python3
"""PyTorch's scaled_dot_product_attention on the attention lab's sweep, for the same shapes and the
same FLOP count (causal half), so `gpt2-bench attention --reference FILE` can draw it beside ours.

    python3 scripts/bench_attention_torch.py --threads 2 > torch-attention.json
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lengths", default="64,128,256,512,1024,2048,4096")
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--head-size", type=int, default=64)
    parser.add_argument("--min-seconds", type=float, default=0.3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    H, D = args.heads, args.head_size
    rows = []
    with torch.inference_mode():
        for mode in ("prefill", "decode"):
            for T in map(int, args.lengths.split(",")):
                queries = T if mode == "prefill" else 1
                q = torch.randn(1, H, queries, D)
                k = torch.randn(1, H, T, D)
                v = torch.randn(1, H, T, D)
                if mode == "prefill":
                    call = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)
                    pairs = T * (T + 1) / 2
                else:
                    call = lambda: F.scaled_dot_product_attention(q, k, v)
                    pairs = T
                call()
                start = time.perf_counter()
                call()
                once = time.perf_counter() - start
                per_batch = max(1, int(args.min_seconds / 5 / max(once, 1e-7)))
                samples, total = [], 0.0
                while len(samples) < 5 or total < args.min_seconds:
                    start = time.perf_counter()
                    for _ in range(per_batch):
                        call()
                    seconds = time.perf_counter() - start
                    samples.append(seconds / per_batch)
                    total += seconds
                mean = statistics.fmean(samples)
                rows.append({"mode": mode, "T": T, "heads": H, "head_size": D, "kernel": f"PyTorch {torch.__version__} SDPA",
                             "us_mean": mean * 1e6, "us_sd": statistics.stdev(samples) * 1e6,
                             "gflops": 4 * H * D * pairs / mean / 1e9})
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
