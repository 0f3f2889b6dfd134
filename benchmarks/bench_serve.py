"""Benchmark: ``steerlens serve`` throughput against ``generate`` in-process, and batching of concurrent requests.

    .venv/bin/python benchmarks/bench_serve.py [--model gemma-3-270m] [--tokens 32] [--threads 2] [--out bench-results/serve]

The server is a real ``steerlens serve`` process on a free localhost port; requests go over HTTP
(non-streamed, greedy, a fixed number of new tokens: ``stop`` is never hit and EOS is rare in 32 tokens;
tokens/s counts the tokens actually returned). Each request has its own steering: an ActAdd pair
(" Love" - " Hate" at resid_pre.6, a different coefficient per request).

1-2. One request at a time, three ways interleaved round by round (so the machine's drift hits them alike):
   in-process ``generate`` unsteered, in-process steered with the same ActAdd (the cost of the edit hooks), and
   through the server (server overhead = HTTP, JSON, detokenisation, queueing, the batch window).
3. Through the server, 4 and 16 concurrent requests (batched by the server), against the same requests
   sent one after another.

Goals (issue 21): server overhead <= 10 % at 1 request; 16 concurrent >= 4x the sequential throughput.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROMPTS = [
    "I hate you because",
    "Yesterday my neighbour told me that",
    "The best thing about winter is",
    "When I opened the letter, I",
    "My brother thinks that",
    "The meeting this morning was",
    "She looked at the painting and",
    "After the long drive home we",
    "The new restaurant downtown",
    "Honestly, the movie was",
    "Our team lost the game, and",
    "The weather forecast says",
    "I could not believe it when",
    "The teacher asked the class to",
    "In the garden there is",
    "He picked up the phone and said",
]


def steering(k: int) -> list[dict]:
    return [{"actadd": {"plus": " Love", "minus": " Hate"}, "sites": "resid_pre.6", "strength": 2.0 + k % 5}]


def post(port: int, body: dict) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("POST", "/v1/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    if resp.status != 200:
        raise SystemExit(f"server said {resp.status}: {data}")
    return data


def _get(port: int, path: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path)
    text = conn.getresponse().read().decode()
    conn.close()
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=6, help="requests per way in the one-at-a-time comparison")
    ap.add_argument("--out", default="bench-results/serve")
    a = ap.parse_args()
    import torch

    from steerlens import load_model
    from steerlens.model import generate
    from steerlens.steering import ActAdd, x_vector

    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {"model": a.model, "tokens": a.tokens, "threads": a.threads}

    model, tok = load_model(a.model)

    def direct(k: int, steered: bool) -> int:
        if steered:
            act = ActAdd.build(model, tok, x_vector(" Love", " Hate", 2.0 + k % 5, "resid_pre.6", tokenizer=tok))
            with act.apply(model):
                return len(generate(model, tok, [PROMPTS[k]], max_new_tokens=a.tokens).new_ids[0])
        return len(generate(model, tok, [PROMPTS[k]], max_new_tokens=a.tokens).new_ids[0])

    env = {**os.environ, "OMP_NUM_THREADS": str(a.threads), "TQDM_DISABLE": "1"}
    cmd = [sys.executable, "-m", "steerlens", "serve", "--model", a.model, "--port", "0", "--threads", str(a.threads)]
    cmd += ["--batch-window-ms", "50", "--max-batch-size", "16", "--artifacts", str(out / "artifacts")]
    log = out / "server.log"
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    try:
        port = None
        deadline = time.time() + 600
        while port is None and time.time() < deadline:
            if proc.poll() is not None:
                raise SystemExit(log.read_text())
            m = re.search(r"on http://127\.0\.0\.1:(\d+)/", log.read_text())
            port = int(m.group(1)) if m else None
            time.sleep(0.5)
        assert port is not None
        time.sleep(1.0)

        def body(k: int) -> dict:
            return {"prompt": PROMPTS[k], "max_tokens": a.tokens, "temperature": 0, "steering": steering(k)}

        def served(k: int) -> int:
            return post(port, body(k))["usage"]["completion_tokens"]

        direct(0, False), direct(0, True), served(0)  # warm-up
        # 1-2. one request at a time, the three ways interleaved round by round (the machine's drift hits all alike)
        spent = {"unsteered": [0, 0.0], "steered": [0, 0.0], "server": [0, 0.0]}
        for k in range(a.rounds):
            for name, fn in (
                ("unsteered", lambda k=k: direct(k, False)),
                ("steered", lambda k=k: direct(k, True)),
                ("server", lambda k=k: served(k)),
            ):
                t0 = time.perf_counter()
                spent[name][0] += fn()
                spent[name][1] += time.perf_counter() - t0
        results["direct_unsteered_tok_s"] = spent["unsteered"][0] / spent["unsteered"][1]
        results["direct_steered_tok_s"] = spent["steered"][0] / spent["steered"][1]
        results["server_1_tok_s"] = spent["server"][0] / spent["server"][1]
        results["server_overhead"] = 1 - results["server_1_tok_s"] / results["direct_steered_tok_s"]
        results["steering_overhead"] = 1 - results["direct_steered_tok_s"] / results["direct_unsteered_tok_s"]

        # 3. concurrent requests against the same ones sent one after another
        def sequential(count: int) -> float:
            total, t0 = 0, time.perf_counter()
            for k in range(count):
                total += served(k)
            return total / (time.perf_counter() - t0)

        def concurrent(count: int) -> float:
            t0 = time.perf_counter()
            with ThreadPoolExecutor(count) as pool:
                answers = list(pool.map(lambda k: post(port, body(k)), range(count)))
            return sum(r["usage"]["completion_tokens"] for r in answers) / (time.perf_counter() - t0)

        for c in (4, 16):
            results[f"server_sequential_{c}_tok_s"] = sequential(c)
            results[f"server_concurrent_{c}_tok_s"] = concurrent(c)
            results[f"batching_gain_{c}"] = results[f"server_concurrent_{c}_tok_s"] / results[f"server_sequential_{c}_tok_s"]
        results["health"] = json.loads(_get(port, "/health"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print(
        f"\nin-process: {results['direct_unsteered_tok_s']:.2f} tok/s unsteered, {results['direct_steered_tok_s']:.2f} steered"
        f" (steering overhead {100 * results['steering_overhead']:.1f} %)"
        f"\nserver, 1 request: {results['server_1_tok_s']:.2f} tok/s"
        f" (overhead {100 * results['server_overhead']:.1f} %, goal <= 10 %)"
        f"\nserver, 4 concurrent: {results['server_concurrent_4_tok_s']:.1f} tok/s = {results['batching_gain_4']:.2f}x sequential"
        f"\nserver, 16 concurrent: {results['server_concurrent_16_tok_s']:.1f} tok/s"
        f" = {results['batching_gain_16']:.2f}x sequential (goal >= 4x)"
    )


if __name__ == "__main__":
    main()
