"""LRE training head-to-head: steerlens.relations.train_lre vs linear-relational 0.6.2 (steerlens' env + report).

Runs in the project's virtualenv (transformers 5). linear-relational needs transformers < 5, so it runs in
``peers_relations.py`` in the peers' virtualenv (``.bench-venv``, transformers 4.57), called from here by
subprocess on the same model folder and the very same prompts; ``run_relations_bench.sh`` sets that
virtualenv up and runs this script.

    .venv/bin/python benchmarks/bench_relations.py [--model gemma-3-270m|smollm2-135m] [--relation NAME]
        [--subject-layer N --object-layer M] [--aggregation mean|first_token] [--n-train 8] [--quick]

Steps (CPU, float32, torch threads 2, in both environments):

1. Prompts: ``make_prompts(load_relation(relation), n_demonstrations=3)`` (ICL, 3 demonstrations), kept
   when steerlens can place the subject and answer tokens and when ``PromptValidator`` says the model
   answers them; seeded shuffle; the first ``--n-train`` train both LREs, the rest are held out.
2. steerlens: ``train_lre(model, tok, train, subject_layer, object_layer, aggregation=...)`` (its defaults:
   batch_size and chunk_size as ``train_lre`` declares them), timed once (wall clock) after an untimed warm-up
   on 1 prompt; then with each ``--extra-batch-sizes`` (the rows of a batch are left-padded so that their
   subject tokens share a column, and the differentiated pass starts there).
3. linear-relational: ``Trainer(model, tok).train_lre(relation, subject_layer, object_layer, train,
   object_aggregation=..., validate_prompts=False)``, timed the same way in the peers' env, as shipped and
   with its KV-cache reuse fixed from outside (variant ``fixed-cache``, see peers_relations.py).
4. Report: max |W_steerlens - W_peer|, max |b diff|, relative Frobenius differences; faithfulness of every
   LRE on the held-out prompts (and the training ones): the share of prompts where
   ``argmax logits(W s + b)`` (final norm + unembedding, ``steerlens.model.resolve(model).logits``) is the
   model's own next token after the prompt, with the SAME subject activations ``s`` for every LRE
   (``steerlens.relations.subject_activations``); a bias-only row (``logits(b)``) is the baseline that
   ignores the subject. Training time of each and the speed ratio (target: steerlens >= 5x faster).

If the peer fails on ``--model`` (e.g. a model its cache code cannot run), the error is recorded and the
whole comparison is repeated on ``--fallback-model`` (default smollm2-135m); both attempts are reported.
Results: ``bench-results/relations-peer/`` (git-ignored): ``results.json`` (``results-quick.json`` with
``--quick``) and one folder per model with the prompts, the LREs (safetensors) and the peer's logs.
"""

from __future__ import annotations

import argparse
import inspect
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import _capture_common as C  # noqa: E402
import torch  # noqa: E402

MODELS = ("gemma-3-270m", "smollm2-135m")
# of 18 and 30 blocks. smollm2's object is its last block: at block 22 (and 26) even the model's own object
# activation decodes (final norm + unembedding) to "." / "the" for every prompt, so faithfulness would be 0
# by construction; gemma's block 14 already decodes to the answers.
DEFAULT_LAYERS = {"gemma-3-270m": (6, 14), "smollm2-135m": (10, 29)}
VARIANTS = ("shipped", "fixed-cache")
TARGET_SPEEDUP = 5.0
from steerlens.relations import train_lre as _train_lre  # noqa: E402

SL_BATCH = int(inspect.signature(_train_lre).parameters["batch_size"].default)
SL_CHUNK = inspect.signature(_train_lre).parameters["chunk_size"].default


def log(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def as_row(p: Any) -> dict[str, str]:
    return {"text": p.text, "answer": p.answer, "subject": p.subject, "object_name": p.object_name}


def run_peer(python: str, work: Path, variant: str) -> dict[str, Any]:
    """Run peers_relations.py in the peers' env; echo and keep its output; return its JSON (+ rc, log)."""
    import json

    cmd = [python, str(HERE / "peers_relations.py"), "--workdir", str(work), "--variant", variant]
    log(f"peer: {' '.join(cmd)}")
    logfile = work / f"peer-{variant}.log"
    out_json = work / f"peer-{variant}.json"
    out_json.unlink(missing_ok=True)
    lines = []
    t0 = time.perf_counter()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Loading weights" not in line:
                print("    " + line, end="", flush=True)
    logfile.write_text("".join(lines))
    res: dict[str, Any] = json.loads(out_json.read_text()) if out_json.is_file() else {}
    res.update({"rc": proc.returncode, "process_s": time.perf_counter() - t0, "log": str(logfile)})
    if proc.returncode != 0 and "error" not in res:
        res["error"] = f"exit status {proc.returncode}: " + "".join(lines[-5:]).strip()
    text = "".join(lines)
    res["vmap_performance_drop_warning"] = "performance drop" in text
    res["vmap_fallback_ops"] = sorted(
        {ln.split("batching rule for ")[1].split(".")[0].strip() for ln in lines if "batching rule for " in ln}
    )
    return res


def model_targets(model: Any, tok: Any, prompts: list[Any]) -> tuple[list[int], list[int]]:
    """The model's own greedy next token after each prompt, and the first answer token in context."""
    from steerlens.relations import locate

    own, in_context = [], []
    with torch.no_grad():
        for p in prompts:
            ids = locate(tok, p, with_answer=False).ids
            logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0, -1]
            own.append(int(logits.argmax()))
            loc = locate(tok, p)
            in_context.append(loc.ids[loc.predict[0] + 1])
    return own, in_context


def faithfulness(
    spec: Any, tok: Any, weight: torch.Tensor, bias: torch.Tensor, s: torch.Tensor, targets: list[int], use_subject: bool = True
) -> dict[str, Any]:
    """Share of prompts where argmax logits(W s + b) is the target token (same ``s`` for every LRE)."""
    with torch.no_grad():
        o = s.float() @ weight.float().T + bias.float() if use_subject else bias.float().expand(len(s), -1)
        pred = spec.logits(o).float().argmax(-1).tolist()
    hits = [int(a == b) for a, b in zip(pred, targets)]
    return {
        "faithfulness": sum(hits) / len(hits) if hits else float("nan"),
        "hits": sum(hits),
        "n": len(hits),
        "predicted": [tok.decode([t]) for t in pred],
    }


def compare(ws: torch.Tensor, bs: torch.Tensor, wp: torch.Tensor, bp: torch.Tensor) -> dict[str, float]:
    ws, bs, wp, bp = ws.double(), bs.double(), wp.double(), bp.double()
    return {
        "max_abs_dW": float((ws - wp).abs().max()),
        "max_abs_W": float(ws.abs().max()),
        "max_abs_db": float((bs - bp).abs().max()),
        "max_abs_b": float(bs.abs().max()),
        "rel_fro_W": float(torch.linalg.norm(ws - wp) / torch.linalg.norm(ws)),
        "rel_fro_b": float(torch.linalg.norm(bs - bp) / torch.linalg.norm(bs)),
        "cos_W": float((ws * wp).sum() / (torch.linalg.norm(ws) * torch.linalg.norm(wp))),
    }


def run_model(args: argparse.Namespace, name: str, subject_layer: int, object_layer: int) -> dict[str, Any]:
    """The whole comparison on one model; returns its result dict (also written as result.json)."""
    from safetensors.torch import load_file, save_file

    import steerlens
    from steerlens.errors import SpanNotFoundError
    from steerlens.model.architectures import resolve
    from steerlens.relations import (
        PromptValidator,
        load_relation,
        locate,
        make_prompts,
        object_activations,
        subject_activations,
        train_lre,
    )
    from steerlens.relations.data import stable_shuffle

    work = Path(args.out) / (name + ("-quick" if args.quick else ""))
    work.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {
        "model": name,
        "subject_layer": subject_layer,
        "object_layer": object_layer,
        "aggregation": args.aggregation,
        "workdir": str(work),
    }
    t0 = time.perf_counter()
    folder = steerlens.provision(name)
    model, tok = steerlens.load_model(name)
    spec = resolve(model)
    log(
        f"{name}: loaded from {folder} in {time.perf_counter() - t0:.1f}s ({spec.n_layers} blocks, d_model "
        f"{spec.d_model}, attn={model.config._attn_implementation}); layers {subject_layer} -> {object_layer}, "
        f"{args.aggregation}"
    )

    # 1. prompts both libraries train on
    rel = load_relation(args.relation)
    made = make_prompts(rel, n_demonstrations=3)
    placeable = []
    for p in made:
        try:
            locate(tok, p)
            placeable.append(p)
        except SpanNotFoundError as e:
            log(f"  skipped (tokens not placeable): {e}")
    t0 = time.perf_counter()
    valid = PromptValidator(model, tok).filter(placeable, progress=False)
    log(
        f"{len(made)} prompts, {len(placeable)} placeable, {len(valid)} answered by the model "
        f"(validated in {time.perf_counter() - t0:.1f}s)"
    )
    order = stable_shuffle(valid, args.seed)
    train, held = order[: args.n_train], order[args.n_train :]
    if len(train) < args.n_train or not held:
        raise SystemExit(f"{name}: only {len(valid)} validated prompts; need more than --n-train {args.n_train}")
    warm = train[:1]
    res.update(
        {
            "relation": rel.name,
            "n_prompts_made": len(made),
            "n_placeable": len(placeable),
            "n_validated": len(valid),
            "n_train": len(train),
            "n_heldout": len(held),
            "train_subjects": [p.subject for p in train],
            "heldout_subjects": [p.subject for p in held],
        }
    )
    located = [locate(tok, p) for p in train]
    C.write_json(
        work / "prompts.json",
        {
            "model": name,
            "model_dir": str(folder),
            "relation": rel.name,
            "subject_layer": subject_layer,
            "object_layer": object_layer,
            "aggregation": args.aggregation,
            "n_demonstrations": 3,
            "train": [as_row(p) for p in train],
            "warmup": [as_row(p) for p in warm],
            "heldout": [as_row(p) for p in held],
            "steerlens_tokenization": [{"ids": loc.ids, "subject": loc.subject, "predict": list(loc.predict)} for loc in located],
        },
    )

    # 2. steerlens
    def sl_train(ps: list[Any]) -> Any:
        return train_lre(
            model, tok, ps, subject_layer, object_layer, relation=rel.name, aggregation=args.aggregation, progress=False
        )

    t0 = time.perf_counter()
    sl_train(warm)
    warm_s = time.perf_counter() - t0
    cont = C.Contention()
    cont.start()
    t0 = time.perf_counter()
    lre = sl_train(train)
    train_s = time.perf_counter() - t0
    res["steerlens"] = {
        "warmup_s": warm_s,
        "train_s": train_s,
        "other_cpu_share": cont.stop(),
        "call": f"train_lre(model, tok, prompts, {subject_layer}, {object_layer}, "
        f"aggregation={args.aggregation!r})  [batch_size={SL_BATCH}, chunk_size={SL_CHUNK}]",
    }
    log(
        f"steerlens train_lre: warm-up on 1 prompt {warm_s:.2f}s; {len(train)} prompts {train_s:.2f}s "
        f"(others used {res['steerlens']['other_cpu_share']:.0%} CPU)"
    )
    w_sl, b_sl = lre.weight.float(), lre.bias.float()
    save_file({"weight": w_sl.contiguous(), "bias": b_sl.contiguous()}, str(work / "steerlens.safetensors"))
    # other batch sizes on the same prompts (informational): a batch's rows are aligned on their subject
    # column, and each runs from there to the batch's longest tail
    res["steerlens_batch_sizes"] = {}
    for bs in args.extra_batch_sizes:
        cont.start()
        t0 = time.perf_counter()
        other = train_lre(
            model,
            tok,
            train,
            subject_layer,
            object_layer,
            relation=rel.name,
            aggregation=args.aggregation,
            batch_size=bs,
            progress=False,
        )
        res["steerlens_batch_sizes"][str(bs)] = {
            "train_s": time.perf_counter() - t0,
            "other_cpu_share": cont.stop(),
            "agreement": compare(w_sl, b_sl, other.weight.float(), other.bias.float()),
        }
        log(f"steerlens train_lre(batch_size={bs}): {res['steerlens_batch_sizes'][str(bs)]['train_s']:.2f}s")
    srt = sorted(located, key=lambda x: x.predict[-1] - x.subject)  # steerlens' batching (by tail length)
    parts = [srt[i : i + SL_BATCH] for i in range(0, len(srt), SL_BATCH)]
    res["token_positions"] = {
        "subject": [loc.subject for loc in located],
        "length": [len(loc.ids) for loc in located],
        "last_object_position": [loc.predict[-1] for loc in located],
        "steerlens_rows_x_positions_differentiated": sum(
            len(p) * max(loc.predict[-1] + 1 - loc.subject for loc in p) for p in parts
        ),
        "peer_positions_differentiated": sum(len(loc.ids) - loc.subject for loc in located),
        "needed_positions": sum(loc.predict[-1] + 1 - loc.subject for loc in located),
    }

    # 3. the peer, in its own env
    res["peer"] = {}
    lres = {"steerlens": (w_sl, b_sl)}
    for variant in args.variants:
        pr = run_peer(args.peer_python, work, variant)
        res["peer"][variant] = pr
        if pr["rc"] != 0:
            log(f"peer {variant} FAILED: {pr.get('error')}")
            continue
        t = load_file(str(work / f"peer-{variant}.safetensors"))
        lres[f"linear-relational ({variant})"] = (t["weight"], t["bias"])
        pr["agreement"] = compare(w_sl, b_sl, t["weight"], t["bias"])
        ours = [{"ids": loc.ids, "subject": loc.subject, "predict": list(loc.predict)} for loc in located]
        pr["same_tokenization"] = [a == b for a, b in zip(ours, pr.get("tokenization", []))]
    if (
        "fixed-cache" in res["peer"]
        and "shipped" in res["peer"]
        and "agreement" in res["peer"]["shipped"]
        and "agreement" in res["peer"]["fixed-cache"]
    ):
        a, b = load_file(str(work / "peer-shipped.safetensors")), load_file(str(work / "peer-fixed-cache.safetensors"))
        res["shipped_vs_fixed_cache"] = compare(b["weight"], b["bias"], a["weight"], a["bias"])

    # 4. faithfulness with the same subject activations for every LRE
    s_held = subject_activations(model, tok, held, subject_layer)
    s_train = subject_activations(model, tok, train, subject_layer)
    own_h, ctx_h = model_targets(model, tok, held)
    own_t, _ = model_targets(model, tok, train)
    res["targets"] = {
        "heldout_own": [tok.decode([t]) for t in own_h],
        "heldout_own_equals_first_answer_token": sum(a == b for a, b in zip(own_h, ctx_h)),
        "train_own": [tok.decode([t]) for t in own_t],
    }
    res["faithfulness"] = {}
    for label, (w, b) in lres.items():
        res["faithfulness"][label] = {
            "heldout": faithfulness(spec, tok, w, b, s_held, own_h),
            "train": faithfulness(spec, tok, w, b, s_train, own_t),
        }
    o_held = object_activations(model, tok, held, object_layer, aggregation=args.aggregation)
    o_train = object_activations(model, tok, train, object_layer, aggregation=args.aggregation)
    eye = torch.eye(spec.d_model)
    zero = torch.zeros(spec.d_model)
    res["faithfulness"]["object activation o itself (ceiling)"] = {
        "heldout": faithfulness(spec, tok, eye, zero, o_held, own_h),
        "train": faithfulness(spec, tok, eye, zero, o_train, own_t),
    }
    res["faithfulness"]["bias only (steerlens b)"] = {
        "heldout": faithfulness(spec, tok, w_sl, b_sl, s_held, own_h, use_subject=False),
        "train": faithfulness(spec, tok, w_sl, b_sl, s_train, own_t, use_subject=False),
    }
    C.write_json(work / "result.json", res)
    return res


def fmt_s(x: float | None) -> str:
    return "-" if x is None else (f"{x:.2f} s" if x < 100 else f"{x:.0f} s")


def fmt_f(f: dict[str, Any] | None) -> str:
    return "-" if not f else f"{f['faithfulness']:.2f} ({f['hits']}/{f['n']})"


def report(res: dict[str, Any]) -> dict[str, Any]:
    """Print one model's tables; return the summary figures."""
    sl = res["steerlens"]
    print()
    print(
        f"LRE training head-to-head: {res['model']}, relation {res['relation']!r}, layers {res['subject_layer']} -> "
        f"{res['object_layer']} (block outputs), aggregation {res['aggregation']}; fp32 CPU, 2 torch threads"
    )
    print(
        f"prompts: {res['n_prompts_made']} made (ICL, 3 demonstrations), {res['n_validated']} answered by the model; "
        f"{res['n_train']} train both LREs, {res['n_heldout']} held out. One timed call each after a 1-prompt warm-up."
    )
    print()
    rows = [("steerlens train_lre", sl["train_s"], sl["other_cpu_share"], None)]
    for v, pr in res["peer"].items():
        rows.append((f"linear-relational 0.6.2 ({v})", pr.get("train_s"), pr.get("other_cpu_share"), pr))
    hdr = (
        f"{'':38} {'train time':>11} {'peer/steerlens':>15} {'others CPU':>10}  {'faithful held-out':>18} {'faithful train':>15}"
    )
    print(hdr)
    print("-" * len(hdr))
    summary: dict[str, Any] = {"model": res["model"], "steerlens_train_s": sl["train_s"], "peer": {}}
    for label, t, oc, pr in rows:
        key = "steerlens" if pr is None else f"linear-relational ({label.split('(')[1].rstrip(')')})"
        f = res["faithfulness"].get(key)
        ratio = "" if pr is None or t is None else f"{t / sl['train_s']:.1f}x"
        occ = "-" if oc is None else f"{oc:.0%}"
        if pr is not None and pr.get("rc") != 0:
            print(f"{label:38} FAILED: {pr.get('error', '')[:100]}")
            continue
        print(f"{label:38} {fmt_s(t):>11} {ratio:>15} {occ:>10}  {fmt_f(f and f['heldout']):>18} {fmt_f(f and f['train']):>15}")
        if pr is not None:
            summary["peer"][pr["variant"]] = {"train_s": t, "ratio": t / sl["train_s"]}
    for bs, r in res.get("steerlens_batch_sizes", {}).items():
        print(
            f"{'  steerlens, batch_size=' + bs + ' (info)':38} {fmt_s(r['train_s']):>11} {'':>15} "
            f"{r['other_cpu_share']:>10.0%}  (W rel Fro diff vs the default: {r['agreement']['rel_fro_W']:.1e})"
        )
    for label, key in (
        ("bias only, logits(b) (baseline)", "bias only (steerlens b)"),
        ("true object o, logits(o) (ceiling)", "object activation o itself (ceiling)"),
    ):
        f = res["faithfulness"][key]
        print(f"{label:38} {'':>11} {'':>15} {'':>10}  {fmt_f(f['heldout']):>18} {fmt_f(f['train']):>15}")
    print()
    print(
        f"{'W, b vs steerlens':38} {'max|dW|':>10} {'max|W|':>9} {'rel Fro W':>10} {'cos W':>8} {'max|db|':>10} "
        f"{'max|b|':>9} {'rel Fro b':>10}"
    )
    pairs = [(f"linear-relational ({v})", pr["agreement"]) for v, pr in res["peer"].items() if "agreement" in pr]
    if "shipped_vs_fixed_cache" in res:
        pairs.append(("shipped vs fixed-cache peer", res["shipped_vs_fixed_cache"]))
    for label, a in pairs:
        print(
            f"{label:38} {a['max_abs_dW']:>10.3g} {a['max_abs_W']:>9.3g} {a['rel_fro_W']:>10.3g} {a['cos_W']:>8.5f} "
            f"{a['max_abs_db']:>10.3g} {a['max_abs_b']:>9.3g} {a['rel_fro_b']:>10.3g}"
        )
    print("(rel Fro = ||X_steerlens - X_other||_F / ||X_steerlens||_F; last row: fixed-cache peer as the reference)")
    tp = res.get("token_positions")
    if tp:
        print(
            f"positions differentiated (prompt rows x sequence positions in the Jacobian passes): steerlens "
            f"{tp['steerlens_rows_x_positions_differentiated']} (batches of {SL_BATCH}, aligned on their subject "
            f"column, run from there to their longest tail), linear-relational {tp['peer_positions_differentiated']} "
            f"(each prompt from its subject token to its end), needed {tp['needed_positions']} (subject token to "
            "last object position)"
        )
    for v, pr in res["peer"].items():
        if pr.get("rc") != 0:
            continue
        same = pr.get("same_tokenization", [])
        calls = [(c["input_len"], c["cache_len"]) for c in pr.get("warmup_forward_calls", [])]
        print(
            f"peer {v}: tokenization (ids, subject, answer positions) same as steerlens for {sum(same)}/{len(same)} "
            f"prompts; warm-up forwards (tokens, cache length they start from): {calls}"
        )
        if pr.get("vmap_performance_drop_warning"):
            print(
                f"peer {v}: vmap 'performance drop' warning (fallback warnings switched on in the warm-up) for: "
                f"{', '.join(pr['vmap_fallback_ops']) or '?'}"
            )
        for w in pr.get("timed_warnings", []):
            print(f"peer {v}: warning in the timed run: {w[:160]}")
    best = summary["peer"].get("shipped", {}).get("ratio")
    if best is not None:
        verdict = "met" if best >= TARGET_SPEEDUP else "NOT met"
        print(
            f"speed: steerlens is {best:.1f}x faster than linear-relational as shipped (target >= {TARGET_SPEEDUP:g}x: {verdict})"
        )
    summary["faithfulness_heldout"] = {k: v["heldout"]["faithfulness"] for k, v in res["faithfulness"].items()}
    summary["agreement"] = {k: v for k, v in pairs}
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=MODELS, default="gemma-3-270m")
    ap.add_argument(
        "--fallback-model",
        default="smollm2-135m",
        help="model to repeat the comparison on if the peer fails on --model ('none': no fallback)",
    )
    ap.add_argument("--relation", default="country capital city")
    ap.add_argument("--subject-layer", type=int, default=None, help=f"default per model: {DEFAULT_LAYERS}")
    ap.add_argument("--object-layer", type=int, default=None)
    ap.add_argument("--aggregation", choices=("mean", "first_token"), default="mean")
    ap.add_argument("--n-train", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0, help="shuffle of the validated prompts before the train split")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="peer variants to run (comma-separated)")
    ap.add_argument(
        "--extra-batch-sizes",
        default="8",
        help="also time steerlens with these train_lre batch sizes (informational; '' for none)",
    )
    ap.add_argument("--quick", action="store_true", help="smoke test: 2 training prompts")
    ap.add_argument("--out", default=str(REPO / "bench-results" / "relations-peer"))
    ap.add_argument("--peer-python", default=str(REPO / ".bench-venv" / "bin" / "python"))
    args = ap.parse_args()
    if args.quick:
        args.n_train = 2
    args.variants = [v for v in args.variants.split(",") if v]
    args.extra_batch_sizes = [int(b) for b in args.extra_batch_sizes.split(",") if b]
    for v in args.variants:
        if v not in VARIANTS:
            ap.error(f"unknown variant {v!r}; use some of {', '.join(VARIANTS)}")
    if (args.subject_layer is None) != (args.object_layer is None):
        ap.error("give both --subject-layer and --object-layer, or neither")
    C.setup_torch()
    env = C.env_info(["steerlens", "torch", "transformers", "tokenizers", "safetensors"])
    t_start = time.perf_counter()

    layers = (args.subject_layer, args.object_layer) if args.subject_layer is not None else DEFAULT_LAYERS[args.model]
    attempts = [run_model(args, args.model, *layers)]
    shipped = attempts[0]["peer"].get("shipped", {})
    if shipped.get("rc", 0) != 0 and args.fallback_model not in ("none", args.model):
        log(f"linear-relational failed on {args.model}; repeating the comparison on {args.fallback_model}")
        attempts.append(run_model(args, args.fallback_model, *DEFAULT_LAYERS[args.fallback_model]))

    summaries = [report(r) for r in attempts]
    env["loadavg_end"] = os.getloadavg()
    out = Path(args.out) / ("results-quick.json" if args.quick else "results.json")
    C.write_json(
        out,
        {
            "summary": summaries,
            "attempts": attempts,
            "env": env,
            "quick": args.quick,
            "argv": sys.argv[1:],
            "total_s": time.perf_counter() - t_start,
        },
    )
    print(f"\n(results: {out}; whole run {time.perf_counter() - t_start:.0f}s)")


if __name__ == "__main__":
    main()
