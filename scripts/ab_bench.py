#!/usr/bin/env python3
"""A/B of two builds of gpt2-bench on one machine, in one run: alternating rounds, per-round ratios.

    scripts/ab_bench.py --base /path/to/gpt2-bench --new /path/to/gpt2-bench --rounds 7 -- \\
        model -m MODEL -p 512 -n 128 -b 1,8 -r 3

Each round runs the same gpt2-bench command with both binaries (which one goes first alternates
from round to round), with `-o json` added, and pairs their rows by test (test, batch, threads,
and for decode-read the weights and precision). It prints, per test, the median over rounds of
new/base tokens/s (or of the product's share of the bare read, for decode-read), the range of the
per-round ratios, and each side's median figure. A ratio above 1 means the new build is faster.

To compare two settings of one build instead, give the same binary twice and the setting each
side adds with `--base-args` and `--new-args` (e.g. `--base-args="--precision f32" --new-args="--precision
int8"`).

Build each binary the same way (e.g. `swift build -c release --product gpt2-bench -Xswiftc
-target-cpu -Xswiftc native -Xswiftc -DGPT2_FMA`, in a git worktree of each revision), and run on
a quiet machine: the ratios are only as good as the rounds are alike.
"""
import argparse
import json
import statistics
import subprocess
import sys


def run(binary, args):
    out = subprocess.run([binary, *args, "-o", "json"], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"ab_bench: {binary} {' '.join(args)} failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout)


def figures(rows):
    """{test key: figure} for gpt2-bench model (tokens/s) and decode-read (share of the bare read)."""
    result = {}
    for row in rows:
        if "tokens_per_s_mean" in row:
            key = f"{row['test']} b{row.get('batch', 1)} t{row.get('threads', '')}"
            result[key] = row["tokens_per_s_mean"]
        elif "product_share_pct" in row:
            key = f"decode-read {row.get('weights', '')} {row.get('precision', '')}"
            result[key] = row["product_share_pct"]
            for side in ("product_gbs", "bare_read_gbs"):
                if side in row:
                    result[f"{key} {side}"] = row[side]
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the baseline gpt2-bench binary")
    parser.add_argument("--new", required=True, help="the gpt2-bench binary under test")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--base-args", default="", help="arguments only the base side adds (split on spaces)")
    parser.add_argument("--new-args", default="", help="arguments only the new side adds (split on spaces)")
    parser.add_argument("bench", nargs=argparse.REMAINDER, help="-- then the gpt2-bench arguments")
    options = parser.parse_args()
    args = options.bench[1:] if options.bench[:1] == ["--"] else options.bench
    if not args:
        parser.error("give the gpt2-bench arguments after --")

    samples = {}  # key -> list of (base, new)
    for round_index in range(options.rounds):
        order = [("base", options.base, options.base_args.split()), ("new", options.new, options.new_args.split())]
        if round_index % 2:
            order.reverse()
        results = {name: figures(run(binary, args + extra)) for name, binary, extra in order}
        for key in results["base"]:
            if key in results["new"]:
                samples.setdefault(key, []).append((results["base"][key], results["new"][key]))
        print(f"round {round_index + 1}/{options.rounds} done ({order[0][0]} first)", file=sys.stderr)

    print(f"| test | new/base median | per-round range | base median | new median | rounds |")
    print(f"|---|---:|---:|---:|---:|---:|")
    for key, pairs in samples.items():
        ratios = [new / base for base, new in pairs if base > 0]
        print(f"| {key} | {statistics.median(ratios):.3f} | {min(ratios):.3f}–{max(ratios):.3f} | "
              f"{statistics.median(b for b, _ in pairs):.1f} | {statistics.median(n for _, n in pairs):.1f} | {len(pairs)} |")


if __name__ == "__main__":
    main()
