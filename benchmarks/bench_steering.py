"""Benchmark: steerlens steering (generation overhead, vector training) -- steerlens' env.

Runs in the project's virtualenv (transformers 5.x). Its peers (steering-vectors, repeng) run in
``peers_steering.py`` in the separate bench virtualenv (transformers 4.57); ``run_steering_bench.sh``
runs both on the same model folder, pairs, prompts and steering vector and prints one table.

    python benchmarks/bench_steering.py run --workdir DIR [--repeats 7] [--warmup 1] [--wait-quiet S]
        writes DIR/inputs.json (pairs, prompts and their token ids, layers, scale), DIR/vector.safetensors
        (steerlens' mean-diff vector: the one every library steers generation with) and DIR/main.json.
    python benchmarks/bench_steering.py report --workdir DIR
        reads DIR/main.json and DIR/peers.json, prints the table, writes DIR/results.json.

What is timed (torch threads fixed to 2, CPU, float32, medians over round-robin repeats):

* generation: one batch of 8 prompts, left-padded, greedy, ``min_new_tokens = max_new_tokens = 64`` (so
  every call generates exactly 64 tokens per row), plain and steered with the *same* call; steered =
  ``SCALE`` x the mean-diff vector added at every position of the blocks in ``LAYERS``.
* training: a steering vector from the 32 pairs at ``LAYERS`` (and at all blocks but the first), read
  at each text's last token, each library with its default batching.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _capture_common as C  # noqa: E402
import _steering_common as S  # noqa: E402
import torch  # noqa: E402

GEN_DESC = {
    "plain_generate": "steerlens.model.generate(model, tok, prompts, max_new_tokens=N, min_new_tokens=N)",
    "steerlens_vector": f"  same, inside vec.apply(model, strength={S.SCALE}, positions='all')",
    "steerlens_actadd": "  same, inside ActAdd(x_vector('Love', 'Hate', 5.0, 'resid_pre.6')).apply(model)",
}
TRAIN_DESC = {
    "steerlens_train": "steerlens train_steering_vector(mean_diff, batch_size=32 default)",
    "steerlens_train_all": "steerlens train_steering_vector(mean_diff, batch_size=32 default)",
}


def hook_probe(model: Any, gen: Any, context: Any, runs: int) -> dict[str, Any]:
    """Self-time of the hooks ``context()`` installs, per generate call (median over ``runs`` calls)."""
    out = []
    for _ in range(runs):
        timer = S.HookTimer(model)
        with context():
            n_hooks = timer.wrap_new()
            try:
                gen()
            finally:
                timer.unwrap()
        out.append({"seconds": timer.seconds, "calls": timer.calls, "hooks": n_hooks, "per_hook": timer.per_hook})
    secs = sorted(r["seconds"] for r in out)
    return {
        "per_call_s": secs[len(secs) // 2],
        "calls": out[0]["calls"],
        "hooks": out[0]["hooks"],
        "runs": out,
        "how": "summed wall time inside the forward (pre-)hooks the steering context added",
    }


def git_state() -> dict[str, Any]:
    import subprocess

    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(HERE.parent), *a], capture_output=True, text=True).stdout.strip()
        except OSError:
            return ""

    return {"head": git("rev-parse", "--short", "HEAD"), "src_dirty": bool(git("status", "--porcelain", "src"))}


def cmd_run(args: argparse.Namespace) -> None:
    C.setup_torch()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    import steerlens
    from steerlens.model import generate
    from steerlens.model.tokens import encode
    from steerlens.steering import ActAdd, train_steering_vector, x_vector

    t0 = time.perf_counter()
    folder = steerlens.provision(S.MODEL)
    model, tok = steerlens.load_model(S.MODEL)
    model.eval()
    print(
        f"[main] loaded {S.MODEL} from {folder} in {time.perf_counter() - t0:.1f}s (attn={model.config._attn_implementation})",
        flush=True,
    )
    log = lambda s: print("[main]" + s, flush=True)  # noqa: E731

    prompt_ids = encode(tok, S.GEN_PROMPTS)
    pair_ids = encode(tok, [p for p, _ in S.PAIRS] + [n for _, n in S.PAIRS])
    inputs = {
        "model": S.MODEL,
        "model_dir": str(folder),
        "layers": S.LAYERS,
        "all_layers": S.ALL_LAYERS,
        "scale": S.SCALE,
        "max_new_tokens": args.max_new_tokens,
        "pairs": S.PAIRS,
        "gen_prompts": S.GEN_PROMPTS,
        "gen_prompt_ids": prompt_ids,
        "pair_ids": pair_ids,
        "pad_id": 0,
    }
    C.write_json(work / "inputs.json", inputs)

    # The vector every library steers generation with (steerlens' mean-diff at LAYERS), saved for the peers.
    vec = train_steering_vector(model, tok, S.PAIRS, S.LAYERS, method="mean_diff", progress=False)
    from safetensors.torch import save_file

    save_file({f"layer.{k}": v.contiguous() for k, v in vec.directions.items()}, str(work / "vector.safetensors"))
    act = ActAdd.build(model, tok, list(x_vector("Love", "Hate", 5.0, "resid_pre.6", tokenizer=tok)))
    log(f" vector at layers {vec.layers}, norms " + ", ".join(f"{k}: {n:.1f}" for k, n in vec.norms().items()))

    n = args.max_new_tokens

    def gen():
        with torch.no_grad():
            return generate(model, tok, S.GEN_PROMPTS, max_new_tokens=n, min_new_tokens=n)

    def steered_vector():
        with vec.apply(model, strength=S.SCALE, positions="all"):
            return gen()

    def steered_actadd():
        with act.apply(model):
            return gen()

    gen_methods = {"plain_generate": gen, "steerlens_vector": steered_vector, "steerlens_actadd": steered_actadd}
    train_methods = {
        "steerlens_train": lambda: train_steering_vector(model, tok, S.PAIRS, S.LAYERS, method="mean_diff", progress=False),
        "steerlens_train_all": lambda: train_steering_vector(
            model, tok, S.PAIRS, S.ALL_LAYERS, method="mean_diff", progress=False
        ),
    }

    env = C.env_info(["steerlens", "torch", "transformers", "tokenizers", "safetensors", "numpy"])
    quiet = C.wait_for_quiet(args.wait_quiet, log=log) if args.wait_quiet > 0 else None
    log(" -- generation")
    gtimes, gfirst, gothers = C.time_methods(gen_methods, args.repeats, args.warmup, log=log)
    log(" -- training")
    ttimes, tfirst, tothers = C.time_methods(train_methods, args.repeats, args.warmup, log=log)
    log(" -- time inside the steering hooks (untimed extra calls)")
    hooks = {
        "steerlens_vector": hook_probe(model, gen, lambda: vec.apply(model, strength=S.SCALE, positions="all"), args.hook_runs),
        "steerlens_actadd": hook_probe(model, gen, lambda: act.apply(model), args.hook_runs),
    }
    for k, h in hooks.items():
        log(f"  {k}: {h['per_call_s'] * 1e3:.1f} ms in {h['hooks']} hooks ({h['calls']} hook calls) per generate")
    env["loadavg_end"] = os.getloadavg()

    for k, g in gfirst.items():
        assert all(len(r) == n for r in g.new_ids), f"{k}: not every row generated {n} tokens"
    same = tfirst["steerlens_train"].directions
    dev = max(float((same[k] - vec.directions[k]).abs().max()) for k in vec.layers)
    result = {
        "env_label": f"transformers {env['packages']['transformers']}",
        "env": env,
        "attn_implementation": model.config._attn_implementation,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "quiet_wait": quiet,
        "git": git_state(),
        "max_new_tokens": n,
        "vector_norms": vec.norms(),
        "retrain_max_abs_diff": dev,
        "generation": {
            k: {
                "desc": GEN_DESC[k],
                "times": gtimes[k],
                "stats": C.summarize(gtimes[k]),
                "other_cpu_share": gothers[k],
                "new_ids": gfirst[k].new_ids,
                "sample": gfirst[k].texts[0],
                "hook_time": hooks.get(k),
            }
            for k in gen_methods
        },
        "training": {
            k: {
                "desc": TRAIN_DESC[k],
                "layers": S.LAYERS if k == "steerlens_train" else S.ALL_LAYERS,
                "times": ttimes[k],
                "stats": C.summarize(ttimes[k]),
                "other_cpu_share": tothers[k],
            }
            for k in train_methods
        },
    }
    C.write_json(work / "main.json", result)
    print(f"[main] wrote {work / 'main.json'}", flush=True)


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------


def _paired(times: list[float], ref: list[float]) -> dict[str, float]:
    return C.summarize([t / r for t, r in zip(times, ref)])


def _agree_rows(a: list[list[int]], b: list[list[int]]) -> str:
    """How many rows are identical, and the mean number of leading tokens that agree."""
    same = sum(x == y for x, y in zip(a, b))
    lead = []
    for x, y in zip(a, b):
        k = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
        lead.append(k)
    return f"{same}/{len(a)} rows identical, {sum(lead) / len(lead):.1f} of {len(a[0])} leading tokens agree on average"


def cmd_report(args: argparse.Namespace) -> None:
    work = Path(args.workdir)
    main = json.loads((work / "main.json").read_text())
    peers = json.loads((work / "peers.json").read_text()) if (work / "peers.json").is_file() else None
    parts = [("main", main)] + ([("peers", peers)] if peers else [])

    def env_of(res: dict[str, Any]) -> str:
        return "tf" + ".".join(res["env"]["packages"]["transformers"].split(".")[:2])

    out: dict[str, Any] = {"generation": [], "training": []}
    print()
    print(
        f"Steering benchmark: {S.MODEL}, float32, CPU, torch threads {main['env']['torch_threads']}; "
        f"median and IQR over {main['repeats']} repeats after {main['warmup']} warm-up (round-robin)"
    )
    print(
        f"Steering vector: mean-diff of the 32 pairs (last token) at blocks {S.LAYERS}, added x{S.SCALE} at every "
        "position of those blocks' outputs; the same vector (steerlens' one) in every library"
    )
    print()
    print(
        f"(a) Generation: {len(S.GEN_PROMPTS)} prompts in one left-padded batch, greedy, exactly "
        f"{main['max_new_tokens']} new tokens per row (N); each library's ratio is against the plain generate of its own env"
    )
    head = (
        f"{'method':<92} {'env':<6} {'median s':>9} {'IQR s':>7} {'min s':>7} {'x plain':>8} "
        f"{'paired x plain [q1, q3]':>24} {'others':>6} {'hooks ms':>9} {'1+hooks/plain':>13}"
    )
    print(head)
    print("-" * len(head))
    for part, res in parts:
        g = res["generation"]
        plain = g["plain_generate"]
        for k, m in g.items():
            s = m["stats"]
            ratio = s["median"] / plain["stats"]["median"]
            pr = _paired(m["times"], plain["times"])
            oth = max(m["other_cpu_share"])
            out["generation"].append(
                {
                    "part": part,
                    "name": k,
                    "desc": m["desc"],
                    "env": env_of(res),
                    "median_s": s["median"],
                    "iqr_s": s["iqr"],
                    "x_plain": ratio,
                    "paired_x_plain": pr,
                    "other_cpu_share_max": oth,
                }
            )
            ht = m.get("hook_time")
            est = 1 + ht["per_call_s"] / plain["stats"]["median"] if ht else None
            out["generation"][-1].update(
                {
                    "min_s": s["min"],
                    "hook_s": ht["per_call_s"] if ht else None,
                    "hook_calls": ht["calls"] if ht else None,
                    "est_x_plain": est,
                }
            )
            pcol = "-" if k == "plain_generate" else f"{pr['median']:.4f} [{pr['q1']:.4f}, {pr['q3']:.4f}]"
            hcol = f"{ht['per_call_s'] * 1e3:.1f}" if ht else "-"
            ecol = f"{est:.5f}" if est else "-"
            print(
                f"{m['desc']:<92} {env_of(res):<6} {s['median']:>9.3f} {s['iqr']:>7.3f} {s['min']:>7.3f} {ratio:>8.4f} "
                f"{pcol:>24} {oth:>6.0%} {hcol:>9} {ecol:>13}"
            )
        print()
    print(
        "x plain: median over the same env's plain median; paired: per-round ratios; others: the most CPU other "
        "processes took during any timed call"
    )
    print(
        "hooks ms: wall time spent inside the steering hooks (repeng: inside its ControlModule wrappers, minus the "
        "wrapped block) per generate call, from separate instrumented calls; 1+hooks/plain: the overhead ratio it implies"
    )
    print()

    print("(b) Training a steering vector from 32 (positive, negative) pairs, read at the last token")
    head = f"{'method':<72} {'layers':<10} {'env':<6} {'median s':>9} {'IQR s':>7} {'steerlens speedup':>17} {'others':>6}"
    print(head)
    print("-" * len(head))
    sl = {tuple(m["layers"]): m["stats"]["median"] for m in main["training"].values()}
    for part, res in parts:
        for k, m in res["training"].items():
            s = m["stats"]
            lay = tuple(m["layers"])
            speed = sl[lay] and s["median"] / sl[lay]
            oth = max(m["other_cpu_share"])
            lname = f"{lay[0]}-{lay[-1]}"
            out["training"].append(
                {
                    "part": part,
                    "name": k,
                    "desc": m["desc"],
                    "layers": list(lay),
                    "env": env_of(res),
                    "median_s": s["median"],
                    "iqr_s": s["iqr"],
                    "steerlens_speedup": speed,
                    "other_cpu_share_max": oth,
                }
            )
            scol = "-" if part == "main" else f"{speed:.2f}x"
            print(f"{m['desc']:<72} {lname:<10} {env_of(res):<6} {s['median']:>9.3f} {s['iqr']:>7.3f} {scol:>17} {oth:>6.0%}")
        print()

    if peers:
        print("Checks:")
        mg, pg = main["generation"], peers["generation"]
        print(
            f"  plain greedy tokens, tf5 steerlens generate vs tf4 model.generate: "
            f"{_agree_rows(mg['plain_generate']['new_ids'], pg['plain_generate']['new_ids'])}"
        )
        for k in ("steering_vectors", "repeng"):
            if k in pg:
                print(
                    f"  steered tokens, steerlens vs {k:<16}: {_agree_rows(mg['steerlens_vector']['new_ids'], pg[k]['new_ids'])}"
                )
        print(
            f"  steered tokens differ from plain (steerlens): "
            f"{sum(a != b for a, b in zip(mg['steerlens_vector']['new_ids'], mg['plain_generate']['new_ids']))}/"
            f"{len(mg['plain_generate']['new_ids'])} rows"
        )
        for k, v in peers.get("vector_agreement", {}).items():
            print(f"  trained vector, {k}: {v['summary']}")
        print(f"  sample, plain   : {mg['plain_generate']['sample']!r}")
        print(f"  sample, steered : {mg['steerlens_vector']['sample']!r}")
        print()
    for part, res in parts:
        e = res["env"]
        pk = ", ".join(f"{k} {v}" for k, v in e["packages"].items() if v)
        la = lambda t: "/".join(f"{x:.1f}" for x in t)  # noqa: E731
        print(
            f"{part}: python {e['python']}, {pk}; attn={res['attn_implementation']}; "
            f"load average {la(e['loadavg_start'])} -> {la(e['loadavg_end'])} ({e['cpu_count']} CPUs)"
        )
        for note in res.get("notes", []):
            print(f"  {note}")
    g = main.get("git", {})
    print(f"steerlens at {g.get('head')}{' (src/ has uncommitted changes)' if g.get('src_dirty') else ''}")

    # targets
    print()
    gen = {(r["part"], r["name"]): r for r in out["generation"]}
    slr = gen[("main", "steerlens_vector")]
    verdicts = []
    ok = slr["x_plain"] <= 1.03
    verdicts.append(
        (
            "steerlens steered / plain generate <= 1.03 (wall-clock medians)",
            ok,
            f"{slr['x_plain']:.4f} (paired median {slr['paired_x_plain']['median']:.4f})",
        )
    )
    verdicts.append(
        (
            "steerlens steered / plain generate <= 1.03 (hook-time estimate)",
            slr["est_x_plain"] <= 1.03,
            f"{slr['est_x_plain']:.5f} ({slr['hook_s'] * 1e3:.1f} ms of hooks per generate)",
        )
    )
    for k in ("steering_vectors", "repeng"):
        r = gen.get(("peers", k))
        if r:
            verdicts.append(
                (
                    f"steerlens overhead ratio < {k}'s (wall-clock medians)",
                    slr["x_plain"] < r["x_plain"],
                    f"{slr['x_plain']:.4f} vs {r['x_plain']:.4f} (paired medians "
                    f"{slr['paired_x_plain']['median']:.4f} vs {r['paired_x_plain']['median']:.4f})",
                )
            )
            verdicts.append(
                (
                    f"steerlens overhead ratio < {k}'s (hook-time estimate)",
                    slr["est_x_plain"] < r["est_x_plain"],
                    f"{slr['est_x_plain']:.5f} vs {r['est_x_plain']:.5f} "
                    f"({slr['hook_s'] * 1e3:.1f} vs {r['hook_s'] * 1e3:.1f} ms per generate)",
                )
            )
    for r in out["training"]:
        if r["part"] == "peers" and r["layers"] == S.LAYERS:
            verdicts.append(
                (f"training >= 2.5x faster than {r['desc']}", r["steerlens_speedup"] >= 2.5, f"{r['steerlens_speedup']:.2f}x")
            )
    print("Targets (training judged at the benchmark layers " + f"{S.LAYERS[0]}-{S.LAYERS[-1]}):")
    for name, ok, detail in verdicts:
        print(f"  [{'MET' if ok else 'NOT MET'}] {name}: {detail}")
    out["verdicts"] = [{"target": n, "met": ok, "detail": d} for n, ok, d in verdicts]
    C.write_json(work / "results.json", {**out, "parts": {p: r for p, r in parts}})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--workdir", required=True)
    r.add_argument("--repeats", type=int, default=7)
    r.add_argument("--warmup", type=int, default=1)
    r.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS")
    r.add_argument("--max-new-tokens", type=int, default=S.MAX_NEW_TOKENS, help="for quick development runs only")
    r.add_argument("--hook-runs", type=int, default=3, help="instrumented generate calls per steered method")
    sub.add_parser("report").add_argument("--workdir", required=True)
    a = p.parse_args()
    if a.cmd == "run":
        if a.repeats < 1 or a.warmup < 1:
            p.error("--repeats and --warmup must be >= 1")
        cmd_run(a)
    else:
        cmd_report(a)


if __name__ == "__main__":
    main()
