#!/usr/bin/env python3
"""Load on an OpenAI-compatible server (`generate serve`, llama.cpp's `llama-server`, ...): C
clients, each sending streamed completions one after another, for R requests in all per level.
Reports per level: completion tokens/s over the level's wall time, time to first token and request
latency (p50/p99), and failures. Python's standard library only.

    scripts/serve_load.py --url http://127.0.0.1:8080 --model gpt2-124m --clients 1,4,8,16

Every request asks for exactly --max-tokens tokens (ignore_eos), so tokens are counted without
relying on the server's usage report."""
import argparse
import http.client
import json
import statistics
import threading
import time
from urllib.parse import urlparse


def percentile(values, fraction):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(fraction * (len(values) - 1))))] if values else float("nan")


def one_request(url, body):
    """(time to first text chunk, total seconds) of one streamed completion; raises on failure."""
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    start = time.perf_counter()
    connection.request("POST", "/v1/completions", body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {response.read()[:200]!r}")
    first, done = None, False
    for line in response:
        line = line.strip()
        if not line.startswith(b"data: "):
            continue
        if line == b"data: [DONE]":
            done = True
            break
        if first is None and json.loads(line[6:])["choices"][0].get("text"):
            first = time.perf_counter() - start
    connection.close()
    if not done:
        raise RuntimeError("stream ended without [DONE]")
    return first if first is not None else float("nan"), time.perf_counter() - start


def level(url, body, clients, requests):
    remaining = [requests]
    lock = threading.Lock()
    ttfts, latencies, failures = [], [], []

    def client():
        while True:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            try:
                ttft, latency = one_request(url, body)
                with lock:
                    ttfts.append(ttft)
                    latencies.append(latency)
            except Exception as error:  # noqa: BLE001 - every failure is counted and shown
                with lock:
                    failures.append(str(error))

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, ttfts, latencies, failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--clients", default="1,4,8,16")
    parser.add_argument("--requests", type=int, default=32, help="requests per level")
    parser.add_argument("--prompt-words", type=int, default=48, help="prompt length in words (about one token each)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    url = urlparse(args.url)
    prompt = " ".join(["customer"] * args.prompt_words)
    body = json.dumps({"model": args.model, "prompt": prompt, "max_tokens": args.max_tokens, "temperature": 0,
                       "ignore_eos": True, "stream": True})
    one_request(url, body)  # warm-up
    rows = []
    for clients in [int(c) for c in args.clients.split(",")]:
        seconds, ttfts, latencies, failures = level(url, body, clients, args.requests)
        rows.append({"clients": clients, "requests": args.requests, "failures": len(failures),
                     "tokens_per_s": len(latencies) * args.max_tokens / seconds,
                     "ttft_p50_ms": 1000 * percentile(ttfts, 0.5), "ttft_p99_ms": 1000 * percentile(ttfts, 0.99),
                     "latency_p50_s": percentile(latencies, 0.5), "latency_p99_s": percentile(latencies, 0.99),
                     "first_failure": failures[0] if failures else None})
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print("| clients | tokens/s | TTFT p50 / p99 ms | latency p50 / p99 s | failures |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['clients']} | {r['tokens_per_s']:.1f} | {r['ttft_p50_ms']:.0f} / {r['ttft_p99_ms']:.0f} | "
              f"{r['latency_p50_s']:.2f} / {r['latency_p99_s']:.2f} | {r['failures']} |")


if __name__ == "__main__":
    main()
