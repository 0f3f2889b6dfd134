"""Benchmark: streaming capture to an activation store, 1 vs 2 ranks, memory vs data size, lens training from a store.

    .venv/bin/python benchmarks/bench_store.py [--model smollm2-135m] [--texts 64] [--out bench-results/store]

Every run is a fresh subprocess (``steerlens capture``, or ``torchrun -m steerlens capture`` for 2 ranks), so
its peak RSS is its own. Texts: entries of the shipped corpus (training part), cycled to the count asked.

1. Capture throughput at 4 sites, all tokens: one process with 2 threads, and 2 gloo ranks with 1 thread
   each (the same 2 cores), tokens/s of wall time; store size per million tokens.
2. Peak RSS of one process capturing ``--texts`` and 10x as many texts: it should be flat (memory is one
   batch plus one shard buffer of ``--shard-tokens``, whatever the dataset's size; both runs fill shards).
3. Tuned-lens training: tokens/s training from the model vs from a store captured at every ``resid_pre`` and
   the last block (the store's capture time is reported apart).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(cmd: list[str], threads: int) -> float:
    """Wall seconds of a subprocess."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "TQDM_DISABLE": "1"}
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return time.perf_counter() - t


def rss_of(cmd: list[str], threads: int) -> tuple[float, float]:
    """Wall seconds and the child's own peak RSS (MB, its VmHWM polled from /proc)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "TQDM_DISABLE": "1"}
    t = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while p.poll() is None:
        try:
            for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError):
            pass
        time.sleep(0.05)
    _, err = p.communicate()
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{err[-3000:]}")
    return time.perf_counter() - t, peak / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--texts", type=int, default=64)
    ap.add_argument("--sites", default="4,12,20,28")
    ap.add_argument("--lens-steps", type=int, default=4)
    ap.add_argument(
        "--shard-tokens",
        type=int,
        default=2048,
        help="tokens per shard; below the small run's token count, so both memory runs flush shards",
    )
    ap.add_argument("--skip-lens", action="store_true", help="skip the lens-training comparison")
    ap.add_argument("--out", default="bench-results/store")
    a = ap.parse_args()
    out = Path(a.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    sys.path.insert(0, str(ROOT / "src"))
    from steerlens.lens.data import default_corpus

    corpus = [t.replace("\n", " ").strip() for t in default_corpus("train") if t.strip()]
    corpus = [t for t in corpus if len(t) < 2000]

    def data(n: int, name: str) -> Path:
        p = out / name
        p.write_text("\n".join(corpus[i % len(corpus)] for i in range(n)) + "\n")
        return p

    small, big = data(a.texts, "small.txt"), data(10 * a.texts, "big.txt")
    py = sys.executable
    cap = [py, "-m", "steerlens", "capture"]
    common = ["--model", a.model, "--sites", a.sites, "--batch-size", "8", "--shard-tokens", str(a.shard_tokens)]
    res: dict = {"model": a.model, "texts": a.texts, "sites": a.sites}

    wall1, rss1 = rss_of([*cap, str(small), "--out", str(out / "one"), *common], threads=2)
    man = json.loads((out / "one" / "manifest.json").read_text())
    size = sum(f.stat().st_size for f in (out / "one").glob("*.safetensors"))
    cap1 = man["seconds_by_rank"][0]
    res["one_process"] = {
        "wall_seconds": wall1,
        "capture_seconds": cap1,
        "tokens": man["n_tokens"],
        "tokens_per_s": man["n_tokens"] / cap1,
        "peak_rss_mb": rss1,
    }
    res["store_mb_per_million_tokens"] = size / man["n_tokens"] * 1e6 / 2**20
    torchrun = str(Path(py).parent / "torchrun")
    wall2 = run(
        [torchrun, "--nproc-per-node", "2", "-m", "steerlens", "capture", str(small), "--out", str(out / "two"), *common],
        threads=1,
    )
    cap2 = max(json.loads((out / "two" / "manifest.json").read_text())["seconds_by_rank"])
    res["two_ranks"] = {"wall_seconds": wall2, "capture_seconds": cap2, "tokens_per_s": man["n_tokens"] / cap2}
    wall_big, rss_big = rss_of([*cap, str(big), "--out", str(out / "big"), *common], threads=2)
    man_big = json.loads((out / "big" / "manifest.json").read_text())
    res["ten_times_the_data"] = {
        "wall_seconds": wall_big,
        "tokens": man_big["n_tokens"],
        "tokens_per_s": man_big["n_tokens"] / man_big["seconds_by_rank"][0],
        "peak_rss_mb": rss_big,
    }
    print(json.dumps(res, indent=1), flush=True)

    if a.skip_lens:
        (out / "results.json").write_text(json.dumps(res, indent=1))
        return
    # lens training: from the model vs from a store of the same text
    code = f"""
import json, sys, time, torch
torch.set_num_threads(2)
import steerlens
from steerlens.lens.data import chunk_texts, read_texts
from steerlens.lens.train import LensTrainConfig, train_tuned_lens
from steerlens.store import ActivationStore, capture_to_store
from steerlens.model import Site
model, tok = steerlens.load_model({a.model!r})
texts = read_texts([{str(small)!r}])
chunks = chunk_texts(tok, texts, 128)
cfg = LensTrainConfig(steps={a.lens_steps}, tokens_per_step=512, micro_batch=4, optimizer="adam")
t = time.perf_counter(); train_tuned_lens(model, chunks, cfg, progress=False); from_model = time.perf_counter() - t
spec = steerlens.resolve(model)
sites = list(spec.all_sites("resid_pre")) + [Site(spec.n_layers - 1)]
rows = [tok.decode(r, skip_special_tokens=True) for r in chunks.ids[: {a.lens_steps} * 4]]
t = time.perf_counter()
store = capture_to_store(model, tok, rows, sites, {str(out / "lens-store")!r}, batch_size=4, shard_tokens=4096, progress=False)
cap = time.perf_counter() - t
t = time.perf_counter(); train_tuned_lens(model, store, cfg, progress=False, row_tokens=128); from_store = time.perf_counter() - t
n = {a.lens_steps} * 512
print(json.dumps({{"from_model_tokens_per_s": n / from_model, "from_store_tokens_per_s": n / from_store,
                  "store_capture_seconds": cap, "store_tokens": store.n_tokens}}))
"""
    p = subprocess.run([py, "-c", code], capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
    if p.returncode != 0:
        raise SystemExit(p.stderr[-3000:])
    res["lens_training"] = json.loads(p.stdout.strip().splitlines()[-1])
    (out / "results.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
