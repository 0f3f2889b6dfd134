"""Benchmark: steerlens ``capture`` of every residual layer vs plain forward passes (steerlens' env).

Runs in the project's virtualenv (transformers 5.x). Its peers (steering-vectors, nnsight) run in
``peers_capture.py`` in a separate virtualenv (transformers 4.x); ``run_capture_bench.sh`` runs both
on the same inputs and prints one table. See benchmarks/README.md.

    python benchmarks/bench_capture.py run --workdir DIR [--repeats 5] [--warmup 1] [--no-memory]
        writes DIR/inputs.json (texts + token ids, the batches every method gets), DIR/ref.safetensors
        (steerlens' residuals, for the peers' agreement check) and DIR/main.json (timings).
    python benchmarks/bench_capture.py report --workdir DIR
        reads DIR/main.json and DIR/peers.json, prints the combined table, writes DIR/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _capture_common as C  # noqa: E402
import torch  # noqa: E402

MODEL = "gemma-3-270m"
BATCH_SIZE = 32
FIRST_THIRD = 6  # layers 0..5 of 18

DESCRIPTIONS = {
    "plain_forward": "model(**batch, output_hidden_states=True)",
    "body_forward": "model.model(**batch)  [decoder body, no LM head]",
    "steerlens_all": "steerlens.capture, all 18 resid_post",
    "steerlens_first_third": "steerlens.capture, resid_post 0-5",
}


def load() -> tuple[Any, Any, Any]:
    import steerlens

    model, tok = steerlens.load_model(MODEL)
    return model, tok, steerlens.resolve(model)


def prepare_inputs(tok: Any, folder: Path) -> dict[str, Any]:
    """Tokenize the prompts and sort them longest first, so that fixed chunks of 32 are steerlens' batches."""
    texts = C.make_prompts()
    ids = [list(map(int, r)) for r in tok(texts, add_special_tokens=True, padding=False)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: -len(ids[i]))  # stable, as steerlens sorts
    texts = [texts[i] for i in order]
    ids = [ids[i] for i in order]
    # steerlens sorts its inputs the same way; on this already sorted list its order is the identity.
    assert sorted(range(len(ids)), key=lambda i: -len(ids[i])) == list(range(len(ids)))
    return {
        "model": MODEL,
        "model_dir": str(folder),
        "batch_size": BATCH_SIZE,
        "texts": texts,
        "input_ids": ids,
        "lengths": [len(r) for r in ids],
        "padding": "right",
        "pad_id": C.PAD_ID,
    }


def build_methods(model: Any, tok: Any, spec: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    import steerlens

    texts = inputs["texts"]
    batches = C.make_batches(inputs["input_ids"], inputs["batch_size"])
    all_sites = spec.all_sites("resid_post")
    third = all_sites[:FIRST_THIRD]

    plain_forward, body_forward = C.reference_forwards(model, batches)

    def steerlens_all():
        return steerlens.capture(
            model, texts, all_sites, tokenizer=tok, positions="all", batch_size=inputs["batch_size"], progress=False
        )

    def steerlens_first_third():
        return steerlens.capture(
            model, texts, third, tokenizer=tok, positions="all", batch_size=inputs["batch_size"], progress=False
        )

    return {
        "plain_forward": plain_forward,
        "body_forward": body_forward,
        "steerlens_all": steerlens_all,
        "steerlens_first_third": steerlens_first_third,
    }


def to_layers(name: str, result: Any, batches: list[dict[str, torch.Tensor]], n_layers: int) -> dict[int, torch.Tensor]:
    """A method's result -> {layer: [real tokens, d]} (layer n-1 of HF hidden_states / body output is post-norm)."""
    if name.startswith("steerlens"):
        return {s.layer: result[s][result.mask] for s in result.sites}
    if name == "plain_forward":
        return {i: C.pack([hs[i + 1] for hs in result], batches) for i in range(n_layers)}
    if name == "body_forward":
        return {n_layers - 1: C.pack(result, batches)}
    raise KeyError(name)


def git_state() -> dict[str, Any]:
    repo = HERE.parent

    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(repo), *a], capture_output=True, text=True).stdout.strip()
        except OSError:
            return ""

    return {"head": git("rev-parse", "--short", "HEAD"), "src_dirty": bool(git("status", "--porcelain", "src"))}


def cmd_run(args: argparse.Namespace) -> None:
    C.setup_torch()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    import steerlens

    t0 = time.perf_counter()
    folder = steerlens.provision(MODEL)
    model, tok, spec = load()
    print(
        f"[main] loaded {MODEL} from {folder} in {time.perf_counter() - t0:.1f}s "
        f"(attn={model.config._attn_implementation}, {spec.n_layers} layers)",
        flush=True,
    )
    inputs = prepare_inputs(tok, folder)
    C.write_json(work / "inputs.json", inputs)
    batches = C.make_batches(inputs["input_ids"], inputs["batch_size"])
    print(
        f"[main] {len(inputs['texts'])} prompts, {sum(inputs['lengths'])} tokens "
        f"({min(inputs['lengths'])}-{max(inputs['lengths'])} each), batches of {inputs['batch_size']}: "
        f"{[tuple(b['input_ids'].shape) for b in batches]}",
        flush=True,
    )
    env = C.env_info(["steerlens", "torch", "transformers", "tokenizers", "safetensors", "numpy"])
    methods = build_methods(model, tok, spec, inputs)
    log = lambda s: print("[main]" + s, flush=True)  # noqa: E731
    quiet = C.wait_for_quiet(args.wait_quiet, log=log) if args.wait_quiet > 0 else None
    times, first, others = C.time_methods(methods, args.repeats, args.warmup, log=log)
    env["loadavg_end"] = os.getloadavg()

    # agreement: steerlens' all-layer capture is the reference
    n = spec.n_layers
    layers = {k: to_layers(k, v, batches, n) for k, v in first.items()}
    ref = layers["steerlens_all"]
    assert first["steerlens_all"].lengths.tolist() == inputs["lengths"], "steerlens tokenized differently"
    with torch.no_grad():
        normed_last = spec.final_norm(ref[n - 1])
    ref_hf = {**ref, n - 1: normed_last}  # HF's last hidden state is after the final norm
    agree = {
        "steerlens_first_third": C.agreement(ref, layers["steerlens_first_third"]),
        "plain_forward": C.agreement(ref_hf, layers["plain_forward"]),
        "body_forward": C.agreement(ref_hf, layers["body_forward"]),
    }
    from safetensors.torch import save_file  # never pickle: the peers' env reads it back with safetensors

    save_file(
        {**{f"layer.{i}": t.contiguous() for i, t in ref.items()}, "final_norm_last": normed_last.contiguous()},
        str(work / "ref.safetensors"),
    )
    del first, layers

    memory = {}
    if not args.no_memory:
        memory = C.run_memory_probes(__file__, sys.executable, list(methods), ["--workdir", str(work)], log=log)
    result = C.result_record(env, args, quiet, model, DESCRIPTIONS, methods, times, memory, agree, others, git=git_state())
    C.write_json(work / "main.json", result)
    print(f"[main] wrote {work / 'main.json'}", flush=True)


def cmd_memory_probe(name: str, workdir: str) -> None:
    C.setup_torch()
    model, tok, spec = load()
    inputs = C.load_inputs(Path(workdir) / "inputs.json")
    run = build_methods(model, tok, spec, inputs)[name]
    print(json.dumps(C.memory_probe(run)))


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------


def _fmt_agree(a: dict[str, Any] | None) -> str:
    if not a:
        return "-"
    if a.get("errors"):
        return f"ERROR {a['errors']}"
    ls = a["layers"]
    span = f"layers {ls[0]}-{ls[-1]}" if len(ls) > 1 else f"layer {ls[0]}"
    if a["worst_max_abs_diff"] == 0:
        return f"{span}: bitwise identical (max|d| = 0)"
    return (
        f"{span}: max|d|/max|ref| = {a['worst_rel_max']:.1e} (worst layer {a['worst_layer']}), "
        f"||d||/||ref|| <= {a['worst_rel_fro']:.1e}, max|d| = {a['worst_max_abs_diff']:.2e}"
    )


def _paired(times: list[float], ref: list[float]) -> dict[str, float]:
    return C.summarize([t / r for t, r in zip(times, ref)])


def cmd_report(args: argparse.Namespace) -> None:
    work = Path(args.workdir)
    parts = [("main", json.loads((work / "main.json").read_text()))]
    if (work / "peers.json").is_file():
        parts.append(("peers", json.loads((work / "peers.json").read_text())))
    main = parts[0][1]
    main_body = main["methods"]["body_forward"]["stats"]["median"]

    head = (
        f"{'method':<52} {'env':<8} {'median s':>9} {'IQR s':>7} {'x plain':>8} {'x body':>7} "
        f"{'x body(tf5)':>11} {'peak RSS MB':>11} {'+RSS MB':>8} {'others CPU':>10}"
    )
    lines = [head, "-" * len(head)]
    rows = []
    for part, res in parts:
        tfv = res["env"]["packages"]["transformers"]
        env = "tf" + ".".join(tfv.split(".")[:2])
        plain = res["methods"]["plain_forward"]
        body = res["methods"]["body_forward"]
        for name, m in res["methods"].items():
            s = m["stats"]
            mem = m.get("memory") or {}
            peak = f"{mem['peak_rss_mb']:.0f}" if "peak_rss_mb" in mem else "-"
            extra = f"{mem['extra_peak_mb']:.0f}" if "extra_peak_mb" in mem else "-"
            row = {
                "part": part,
                "name": name,
                "desc": m["desc"],
                "env": env,
                "median_s": s["median"],
                "iqr_s": s["iqr"],
                "q1_s": s["q1"],
                "q3_s": s["q3"],
                "n": s["n"],
                "x_plain": s["median"] / plain["stats"]["median"],
                "x_body": s["median"] / body["stats"]["median"],
                "x_body_tf5": s["median"] / main_body,
                "paired_x_plain": _paired(m["times"], plain["times"]),
                "paired_x_body": _paired(m["times"], body["times"]),
                "peak_rss_mb": mem.get("peak_rss_mb"),
                "extra_peak_mb": mem.get("extra_peak_mb"),
                "agreement": m.get("agreement"),
                "other_cpu_share_max": max(m.get("other_cpu_share") or [0.0]),
            }
            rows.append(row)
            lines.append(
                f"{m['desc']:<52} {env:<8} {s['median']:>9.3f} {s['iqr']:>7.3f} {row['x_plain']:>8.3f} "
                f"{row['x_body']:>7.3f} {row['x_body_tf5']:>11.3f} {peak:>11} {extra:>8} "
                f"{row['other_cpu_share_max']:>10.0%}"
            )
        lines.append("")
    print()
    print(
        f"Capture of residual activations: {MODEL}, {len(C.make_prompts())} prompts, batch size {BATCH_SIZE}, "
        f"CPU, torch threads {main['env']['torch_threads']}; median and IQR over {main['repeats']} repeats "
        f"after {main['warmup']} warm-up"
    )
    print(
        "x plain / x body: median time over the median of the same env's plain / body forward; "
        "x body(tf5): over steerlens' env's body forward"
    )
    print("peak RSS: one cold run in a fresh process (model loaded, result kept); +RSS: peak minus RSS before the run")
    print("others CPU: the most CPU that other processes used during any timed call of that row (0% = quiet machine)")
    print()
    print("\n".join(lines).rstrip())
    print()
    print("Paired per-round ratios (each round runs every method of an env once), median [q1, q3]:")
    for r in rows:
        if r["name"] in ("plain_forward", "body_forward") and r["part"] == "main":
            continue
        pp, pb = r["paired_x_plain"], r["paired_x_body"]
        print(
            f"  {r['desc']:<52} {r['env']:<8} x plain {pp['median']:.3f} [{pp['q1']:.3f}, {pp['q3']:.3f}]   "
            f"x body {pb['median']:.3f} [{pb['q1']:.3f}, {pb['q3']:.3f}]"
        )
    print()
    print(
        "Agreement with steerlens' all-layer capture (real tokens only; HF's last hidden state and the body's "
        "output are compared with final_norm(steerlens resid_post 17)):"
    )
    for r in rows:
        if r["agreement"]:
            print(f"  {r['desc']:<52} {r['env']:<8} {_fmt_agree(r['agreement'])}")
    print()
    for part, res in parts:
        e = res["env"]
        pk = ", ".join(f"{k} {v}" for k, v in e["packages"].items() if v)
        la = lambda t: "/".join(f"{x:.1f}" for x in t)  # noqa: E731
        print(
            f"{part}: python {e['python']}, {pk}; attn={res['attn_implementation']}; "
            f"load average {la(e['loadavg_start'])} -> {la(e['loadavg_end'])} ({e['cpu_count']} CPUs)"
        )
        if res.get("config_translation"):
            print(f"  config translated for transformers 4: {res['config_translation']['summary']}")
        if "tokenizer_ids_identical" in res:
            print(f"  its own tokenizer gives the same ids as steerlens' env: {res['tokenizer_ids_identical']}")
    g = main.get("git", {})
    print(f"steerlens at {g.get('head')}{' (src/ has uncommitted changes)' if g.get('src_dirty') else ''}")

    sl = next(r for r in rows if r["part"] == "main" and r["name"] == "steerlens_all")
    ok = sl["x_body"] <= 1.05
    print()
    print(
        f"steerlens capture of all 18 layers / body forward: {sl['x_body']:.3f} (paired median "
        f"{sl['paired_x_body']['median']:.3f}) -> {'within' if ok else 'ABOVE'} the 1.05x target"
    )
    C.write_json(work / "results.json", {"rows": rows, "parts": {p: r for p, r in parts}})


def main() -> None:
    C.cli(__doc__, cmd_run, cmd_memory_probe, cmd_report)


if __name__ == "__main__":
    main()
