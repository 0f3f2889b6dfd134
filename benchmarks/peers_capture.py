"""Benchmark peers: steering-vectors' record_activations and nnsight, plus same-env plain/body forwards.

Runs in the separate bench virtualenv (.bench-venv: transformers 4.57, steering-vectors, nnsight; no
steerlens), on the same converted model folder and the same token ids as bench_capture.py:

    .bench-venv/bin/python benchmarks/peers_capture.py run --workdir DIR [--repeats 5] [--warmup 1] [--no-memory]

reads DIR/inputs.json and DIR/ref.safetensors (written by bench_capture.py run), writes DIR/peers.json.

The converted folder was saved by transformers 5, whose Gemma-3 config.json has ``rope_parameters``
({"full_attention": {"rope_theta": ...}, "sliding_attention": {"rope_theta": ...}}); transformers 4
reads ``rope_theta`` / ``rope_local_base_freq`` / ``rope_scaling`` instead. So the model is loaded from a
temporary folder holding symlinks to the weights and tokenizer files and a translated config.json.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _capture_common as C  # noqa: E402
import torch  # noqa: E402

DESCRIPTIONS = {
    "plain_forward": "model(**batch, output_hidden_states=True)",
    "body_forward": "model.model(**batch)  [decoder body, no LM head]",
    "steering_vectors": "steering-vectors record_activations, 18 blocks",
    "nnsight": "nnsight trace, 18 x layers[i].output saved",
}


def translate_config(cfg: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """transformers-5 config dict -> one transformers 4.57 reads the same way; returns (config, notes)."""
    cfg = dict(cfg)
    notes = []
    rp = cfg.pop("rope_parameters", None)
    if rp is not None:
        if "full_attention" in rp or "sliding_attention" in rp:  # per-layer-type (Gemma-3)
            full = rp.get("full_attention") or rp.get("sliding_attention")
            local = rp.get("sliding_attention") or full
            cfg["rope_theta"] = full["rope_theta"]
            cfg["rope_local_base_freq"] = local["rope_theta"]
            notes.append(f"rope_parameters.full_attention.rope_theta -> rope_theta={full['rope_theta']}")
            notes.append(f"rope_parameters.sliding_attention.rope_theta -> rope_local_base_freq={local['rope_theta']}")
            if local.get("rope_type", "default") != "default":
                raise SystemExit("sliding-attention RoPE scaling has no transformers-4 equivalent")
        else:
            full = rp
            cfg["rope_theta"] = full["rope_theta"]
            notes.append(f"rope_parameters.rope_theta -> rope_theta={full['rope_theta']}")
        if full.get("rope_type", "default") == "default":
            cfg["rope_scaling"] = None
            notes.append("rope_type 'default' -> rope_scaling=null")
        else:
            cfg["rope_scaling"] = {k: v for k, v in full.items() if k != "rope_theta"}
            notes.append(f"rope scaling -> rope_scaling={cfg['rope_scaling']}")
    if "dtype" in cfg and "torch_dtype" not in cfg:
        cfg["torch_dtype"] = cfg["dtype"]
        notes.append("dtype -> torch_dtype")
    return cfg, notes


def v4_model_dir(src: Path) -> tuple[Path, dict[str, Any] | None]:
    """``src`` if this transformers reads its config as is, else a temp folder with a translated config."""
    import transformers

    cfg = json.loads((src / "config.json").read_text())
    if int(transformers.__version__.split(".")[0]) >= 5 or "rope_parameters" not in cfg:
        return src, None
    new, notes = translate_config(cfg)
    tmp = Path(tempfile.mkdtemp(prefix="capture-bench-v4-"))
    atexit.register(shutil.rmtree, tmp, True)  # only symlinks and the config live there
    for f in src.iterdir():
        if f.name != "config.json":
            os.symlink(f, tmp / f.name)
    (tmp / "config.json").write_text(json.dumps(new, indent=2))
    return tmp, {"summary": "; ".join(notes), "notes": notes, "folder": str(tmp)}


def load(inputs: dict[str, Any]) -> tuple[Any, Any, dict[str, Any] | None]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, translation = v4_model_dir(Path(inputs["model_dir"]))
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, local_files_only=True).eval()
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return model, tok, translation


def build_methods(model: Any, tok: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    import nnsight
    from nnsight import TransformersModel
    from steering_vectors import record_activations

    batches = C.make_batches(inputs["input_ids"], inputs["batch_size"])
    n_layers = model.config.num_hidden_layers
    # Wrapping is set-up (like loading the model), so it stays outside the timed region.
    nn_model = TransformersModel(model, tokenizer=tok)
    nn_model.tokenizer.padding_side = "right"  # our batches are right-padded (nnsight defaults decoders to left)

    plain_forward, body_forward = C.reference_forwards(model, batches)

    def steering_vectors():
        # library defaults: every decoder block, clone_activations=True
        with torch.no_grad(), record_activations(model, layer_type="decoder_block") as rec:
            for b in batches:
                model(**b, use_cache=False)
        return dict(rec)

    def nnsight_trace():
        out = []
        with torch.no_grad():
            for b in batches:
                with nn_model.trace(b, use_cache=False):
                    saved = nnsight.save(list())
                    for i in range(n_layers):
                        saved.append(nn_model.model.layers[i].output[0])
                out.append(saved)
        return out

    return {
        "plain_forward": plain_forward,
        "body_forward": body_forward,
        "steering_vectors": steering_vectors,
        "nnsight": nnsight_trace,
    }


def to_layers(name: str, result: Any, batches: list[dict[str, torch.Tensor]], n_layers: int) -> dict[int, torch.Tensor]:
    if name == "plain_forward":
        return {i: C.pack([hs[i + 1] for hs in result], batches) for i in range(n_layers)}
    if name == "body_forward":
        return {n_layers - 1: C.pack(result, batches)}
    if name == "steering_vectors":
        return {i: C.pack(result[i], batches) for i in sorted(result)}
    if name == "nnsight":
        return {i: C.pack([saved[i] for saved in result], batches) for i in range(n_layers)}
    raise KeyError(name)


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
        print(f"[peers] config translated for transformers 4: {translation['summary']}", flush=True)
    own_ids = [list(map(int, r)) for r in tok(inputs["texts"], add_special_tokens=True)["input_ids"]]
    batches = C.make_batches(inputs["input_ids"], inputs["batch_size"])
    env = C.env_info(["torch", "transformers", "tokenizers", "safetensors", "numpy", "steering-vectors", "nnsight"])
    methods = build_methods(model, tok, inputs)
    log = lambda s: print("[peers]" + s, flush=True)  # noqa: E731
    quiet = C.wait_for_quiet(args.wait_quiet, log=log) if args.wait_quiet > 0 else None
    times, first, others = C.time_methods(methods, args.repeats, args.warmup, log=log)
    env["loadavg_end"] = os.getloadavg()

    from safetensors.torch import load_file

    ref_file = load_file(str(work / "ref.safetensors"))
    ref = {int(k.split(".")[1]): v for k, v in ref_file.items() if k.startswith("layer.")}
    n = len(ref)
    ref_hf = {**ref, n - 1: ref_file["final_norm_last"]}
    agree = {}
    for k, v in first.items():
        got = to_layers(k, v, batches, n)
        agree[k] = C.agreement(ref_hf if k in ("plain_forward", "body_forward") else ref, got)
    del first

    memory = {}
    if not args.no_memory:
        memory = C.run_memory_probes(__file__, sys.executable, list(methods), ["--workdir", str(work)], log=log)
    result = C.result_record(
        env,
        args,
        quiet,
        model,
        DESCRIPTIONS,
        methods,
        times,
        memory,
        agree,
        others,
        config_translation=translation,
        tokenizer_ids_identical=own_ids == inputs["input_ids"],
    )
    C.write_json(work / "peers.json", result)
    print(f"[peers] wrote {work / 'peers.json'}", flush=True)


def cmd_memory_probe(name: str, workdir: str) -> None:
    C.setup_torch()
    inputs = C.load_inputs(Path(workdir) / "inputs.json")
    model, tok, _ = load(inputs)
    run = build_methods(model, tok, inputs)[name]
    print(json.dumps(C.memory_probe(run)))


def main() -> None:
    C.cli(__doc__, cmd_run, cmd_memory_probe)


if __name__ == "__main__":
    main()
