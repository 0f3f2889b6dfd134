"""Steering benchmark peers: steering-vectors 0.12.2 and repeng 0.4.0, plus the same-env plain generate.

Runs in the bench virtualenv (.bench-venv: transformers 4.57, steering-vectors, repeng; no steerlens),
on the same converted model folder (config translated for transformers 4, see peers_capture.py), the
same token ids, pairs and steering vector as bench_steering.py:

    .bench-venv/bin/python benchmarks/peers_steering.py run --workdir DIR [--repeats 7] [--warmup 1] [--wait-quiet S]

reads DIR/inputs.json and DIR/vector.safetensors (written by bench_steering.py run), writes DIR/peers.json.

repeng 0.4.0 pins numpy<2 and annotates with ``np.float_`` (removed in numpy 2), which fails at import
under the venv's numpy 2; it is installed with ``--no-deps`` and ``np.float_`` is aliased to
``np.float64`` (what it always was) before importing it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")  # repeng shows progress bars unconditionally

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _capture_common as C  # noqa: E402
import _steering_common as S  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from peers_capture import load  # noqa: E402  (loads the folder with a transformers-4 config)

NOTES: list[str] = [
    "repeng 0.4.0's ControlModule does not pass attention_type through to Gemma-3's decoder layers "
    "(vgel/repeng#64, fixed in repeng 0.5.0): the attribute is copied onto the wrappers"
]
if not hasattr(np, "float_"):
    np.float_ = np.float64  # type: ignore[attr-defined]
    NOTES.append(f"repeng 0.4.0 needs np.float_ (numpy<2); aliased to np.float64 under numpy {np.__version__}")

GEN_DESC = {
    "plain_generate": "model.generate(ids, mask, max_new_tokens=N, min_new_tokens=N, do_sample=False)",
    "steering_vectors": f"  same, inside steering_vectors.SteeringVector.apply(model, multiplier={S.SCALE})",
    "repeng": f"  same, via ControlModel(model, layers).set_control(vec, coeff={S.SCALE}) ... reset, unwrap",
}


def left_batch(rows: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Left-padded batch (as steerlens.model.generate builds it)."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :] = torch.tensor(r)
        mask[i, width - len(r) :] = 1
    return {"input_ids": ids, "attention_mask": mask}


def _fix_attention_type(cm: Any) -> None:
    """repeng 0.4.0's ControlModule hides the wrapped block's attributes, but transformers 4.57's Gemma-3
    reads ``decoder_layer.attention_type`` (AttributeError; vgel/repeng#64, fixed in 0.5.0 by passing
    attribute lookups through). Copy that one attribute onto the wrappers, as 0.5.0's pass-through would."""
    from repeng.control import model_layer_list

    blocks = model_layer_list(cm.model)
    for i in cm.layer_ids:
        if hasattr(blocks[i].block, "attention_type"):
            blocks[i].attention_type = blocks[i].block.attention_type


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().flatten(), b.double().flatten()
    return float(a @ b / (a.norm() * b.norm()))


def cmd_run(args: argparse.Namespace) -> None:
    C.setup_torch()
    work = Path(args.workdir)
    inputs = C.load_inputs(work / "inputs.json")
    t0 = time.perf_counter()
    model, tok, translation = load(inputs)
    print(
        f"[peers] loaded {inputs['model_dir']} in {time.perf_counter() - t0:.1f}s (attn={model.config._attn_implementation})",
        flush=True,
    )
    if translation:
        NOTES.append(f"config translated for transformers 4: {translation['summary']}")
    log = lambda s: print("[peers]" + s, flush=True)  # noqa: E731

    import repeng
    import steering_vectors as sv
    from safetensors.torch import load_file

    layers, all_layers, scale, n = inputs["layers"], inputs["all_layers"], inputs["scale"], inputs["max_new_tokens"]
    pairs = [tuple(p) for p in inputs["pairs"]]
    own_prompt_ids = [list(map(int, r)) for r in tok(inputs["gen_prompts"])["input_ids"]]
    texts = [p for p, _ in pairs] + [q for _, q in pairs]
    own_pair_ids = [list(map(int, r)) for r in tok(texts)["input_ids"]]
    NOTES.append(
        f"this env's tokenizer gives the same ids: prompts {own_prompt_ids == inputs['gen_prompt_ids']}, "
        f"pairs {own_pair_ids == inputs['pair_ids']}; padding side {tok.padding_side!r}"
    )

    # the shared steering vector (steerlens' mean-diff), in each peer's own type
    vec_t = {int(k.split(".")[1]): v for k, v in load_file(str(work / "vector.safetensors")).items()}
    assert sorted(vec_t) == layers
    sv_vec = sv.SteeringVector(layer_activations={k: v.clone() for k, v in vec_t.items()}, layer_type="decoder_block")
    rp_vec = repeng.ControlVector(
        model_type=model.config.model_type, directions={k: v.numpy().astype(np.float32) for k, v in vec_t.items()}
    )

    batch = left_batch(inputs["gen_prompt_ids"], inputs["pad_id"])
    width = batch["input_ids"].shape[1]
    kw = dict(**batch, max_new_tokens=n, min_new_tokens=n, do_sample=False, use_cache=True, pad_token_id=inputs["pad_id"])

    def gen():
        with torch.no_grad():
            return model.generate(**kw)[:, width:].tolist()

    def steered_sv():
        with sv_vec.apply(model, multiplier=scale):
            return gen()

    def steered_repeng():
        # ControlModel mutates the model (wraps the chosen blocks); undone after each call so the other
        # rows run the untouched model. Wrapping/unwrapping is a few attribute assignments.
        cm = repeng.ControlModel(model, layers)
        _fix_attention_type(cm)
        try:
            cm.set_control(rp_vec, coeff=scale)
            with torch.no_grad():
                return cm.generate(**kw)[:, width:].tolist()
        finally:
            cm.reset()
            cm.unwrap()

    def repeng_probe() -> dict[str, Any]:
        """repeng steers by wrapping blocks, not with hooks: time ControlModule.forward minus the block inside."""
        from repeng.control import model_layer_list

        cm = repeng.ControlModel(model, layers)
        _fix_attention_type(cm)
        acc = {"outer": 0.0, "inner": 0.0, "calls": 0}

        def timed(fn: Any, key: str) -> Any:
            def wrapper(*a: Any, **k: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    acc[key] += time.perf_counter() - t0
                    acc["calls"] += key == "outer"

            return wrapper

        patched = []
        for i in cm.layer_ids:
            outer = model_layer_list(cm.model)[i]
            outer.forward = timed(outer.forward, "outer")
            outer.block.forward = timed(outer.block.forward, "inner")
            patched += [outer, outer.block]
        try:
            cm.set_control(rp_vec, coeff=scale)
            with torch.no_grad():
                cm.generate(**kw)
        finally:
            for m in patched:
                m.__dict__.pop("forward", None)
            cm.reset()
            cm.unwrap()
        return {"seconds": acc["outer"] - acc["inner"], "calls": acc["calls"], "hooks": len(layers)}

    gen_methods = {"plain_generate": gen, "steering_vectors": steered_sv, "repeng": steered_repeng}

    dataset = [repeng.DatasetEntry(positive=p, negative=q) for p, q in pairs]
    train_methods = {
        "sv_train": lambda: sv.train_steering_vector(model, tok, pairs, layers=layers),
        "sv_train_bs32": lambda: sv.train_steering_vector(model, tok, pairs, layers=layers, batch_size=32),
        "repeng_train": lambda: repeng.ControlVector.train(model, tok, dataset, hidden_layers=layers),
        "sv_train_all": lambda: sv.train_steering_vector(model, tok, pairs, layers=all_layers),
        "sv_train_bs32_all": lambda: sv.train_steering_vector(model, tok, pairs, layers=all_layers, batch_size=32),
        "repeng_train_all": lambda: repeng.ControlVector.train(model, tok, dataset, hidden_layers=all_layers),
    }
    train_desc = {
        "sv_train": "steering-vectors train_steering_vector(batch_size=1 default)",
        "sv_train_bs32": "steering-vectors train_steering_vector(batch_size=32)",
        "repeng_train": "repeng ControlVector.train(pca_diff, batch_size=32 default)",
    }
    train_desc.update({f"{k}_all": v for k, v in train_desc.items()})

    env = C.env_info(["torch", "transformers", "tokenizers", "safetensors", "numpy", "steering-vectors", "repeng"])
    quiet = C.wait_for_quiet(args.wait_quiet, log=log) if args.wait_quiet > 0 else None
    log(" -- generation")
    gtimes, gfirst, gothers = C.time_methods(gen_methods, args.repeats, args.warmup, log=log)
    log(" -- training")
    ttimes, tfirst, tothers = C.time_methods(train_methods, args.repeats, args.warmup, log=log)
    log(" -- time inside the steering hooks (untimed extra calls)")
    hooks = {"steering_vectors": [], "repeng": []}
    for _ in range(args.hook_runs):
        timer = S.HookTimer(model)
        with sv_vec.apply(model, multiplier=scale):
            n_hooks = timer.wrap_new()
            try:
                gen()
            finally:
                timer.unwrap()
        hooks["steering_vectors"].append(
            {"seconds": timer.seconds, "calls": timer.calls, "hooks": n_hooks, "per_hook": timer.per_hook}
        )
        hooks["repeng"].append(repeng_probe())
    hook_time = {}
    for k, runs in hooks.items():
        secs = sorted(r["seconds"] for r in runs)
        hook_time[k] = {
            "per_call_s": secs[len(secs) // 2],
            "calls": runs[0]["calls"],
            "hooks": runs[0]["hooks"],
            "runs": runs,
            "how": (
                "summed wall time inside the forward hooks apply() added"
                if k == "steering_vectors"
                else "summed wall time inside ControlModule.forward minus the wrapped block's forward"
            ),
        }
        log(
            f"  {k}: {hook_time[k]['per_call_s'] * 1e3:.1f} ms in {hook_time[k]['hooks']} hooks/wrappers "
            f"({hook_time[k]['calls']} calls) per generate"
        )
    env["loadavg_end"] = os.getloadavg()
    for k, g in gfirst.items():
        assert all(len(r) == n for r in g), f"{k}: not every row generated {n} tokens"

    # the peers' own trained vectors vs steerlens' (cosine per layer; repeng's is a unit PCA direction)
    agree = {}
    for k in ("sv_train", "sv_train_bs32", "repeng_train"):
        v = tfirst[k]
        got = (
            {ly: v.layer_activations[ly] for ly in layers}
            if k.startswith("sv")
            else {ly: torch.from_numpy(np.asarray(v.directions[ly])) for ly in layers}
        )
        cos = {ly: _cos(vec_t[ly], got[ly]) for ly in layers}
        rel = {ly: float((vec_t[ly].double() - got[ly].double()).norm() / vec_t[ly].double().norm()) for ly in layers}
        summ = f"cosine with steerlens' mean-diff {min(cos.values()):.5f}..{max(cos.values()):.5f}"
        if k.startswith("sv"):
            summ += f", ||d||/||steerlens|| <= {max(rel.values()):.1e}"
        agree[k] = {"cos": cos, "rel_diff": rel if k.startswith("sv") else None, "summary": summ}

    result = {
        "env_label": f"transformers {env['packages']['transformers']}",
        "env": env,
        "attn_implementation": model.config._attn_implementation,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "quiet_wait": quiet,
        "notes": NOTES,
        "config_translation": translation,
        "vector_agreement": agree,
        "generation": {
            k: {
                "desc": GEN_DESC[k],
                "times": gtimes[k],
                "stats": C.summarize(gtimes[k]),
                "other_cpu_share": gothers[k],
                "new_ids": gfirst[k],
                "hook_time": hook_time.get(k),
            }
            for k in gen_methods
        },
        "training": {
            k: {
                "desc": train_desc[k],
                "layers": all_layers if k.endswith("_all") else layers,
                "times": ttimes[k],
                "stats": C.summarize(ttimes[k]),
                "other_cpu_share": tothers[k],
            }
            for k in train_methods
        },
    }
    C.write_json(work / "peers.json", result)
    print(f"[peers] wrote {work / 'peers.json'}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--workdir", required=True)
    r.add_argument("--repeats", type=int, default=7)
    r.add_argument("--warmup", type=int, default=1)
    r.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS")
    r.add_argument("--hook-runs", type=int, default=3, help="instrumented generate calls per steered method")
    a = p.parse_args()
    if a.repeats < 1 or a.warmup < 1:
        p.error("--repeats and --warmup must be >= 1")
    cmd_run(a)


if __name__ == "__main__":
    main()
