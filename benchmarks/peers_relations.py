"""LRE training peer: linear-relational 0.6.2's ``Trainer.train_lre``, in the peers' virtualenv.

Runs in ``.bench-venv`` (torch 2.13.0, transformers 4.57.6, linear-relational 0.6.2; no steerlens),
driven by ``bench_relations.py``, which writes the prompts (already validated with steerlens, so both
libraries train on exactly the same prompts) and reads back what this script writes:

    .bench-venv/bin/python benchmarks/peers_relations.py --workdir DIR [--variant shipped|fixed-cache]

reads ``DIR/prompts.json``, writes ``DIR/peer-<variant>.safetensors`` (``weight`` [d, d], ``bias`` [d])
and ``DIR/peer-<variant>.json`` (timings, warnings, the peer's own tokenization of the prompts).

What is timed: ``Trainer(model, tokenizer).train_lre(relation, subject_layer, object_layer, prompts,
object_aggregation=..., validate_prompts=False)`` on the training prompts, wall clock, once, after one
untimed warm-up call on a single prompt. Layer ``n`` is the output of block ``n`` (``model.layers.{n}``, the
matcher linear-relational guesses), the same as steerlens' ``Site(n, "resid_post")``.

Variants:

* ``shipped``: the package as installed.
* ``fixed-cache``: the same code, with one change outside it: every ``model(...)`` call that is handed
  a KV cache gets a copy of it (see ``clone_cache``). ``order_1_approx`` runs the tokens before the subject once with
  ``use_cache=True`` and then passes the returned cache to two more forward passes (the one that reads the
  subject and object activations, and the one ``torch.autograd.functional.jacobian`` differentiates).
  With transformers 4.57 (this env) that cache is a mutable ``DynamicCache`` which every forward appends to, so the
  differentiated pass sees the prompt's tail twice (the cache already holds it) at shifted positions:
  the Jacobian, hence W and b, belong to a corrupted context. The copy restores what the code intends
  (every pass continues from the prefix alone). This variant isolates that bug from the algorithm.

The model folder was written by transformers 5: it is loaded from a temporary folder of symlinks with a
translated ``config.json`` (``peers_capture.translate_config``) and, where needed, a translated
``tokenizer_config.json`` (``tokenizer_class: TokenizersBackend`` -> ``PreTrainedTokenizerFast``).
"""

from __future__ import annotations

import argparse
import atexit
import copy
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _capture_common as C  # noqa: E402
import torch  # noqa: E402
from peers_capture import translate_config  # noqa: E402

VARIANTS = ("shipped", "fixed-cache")


def v4_folder(src: Path) -> tuple[Path, list[str]]:
    """A temporary folder of symlinks to ``src`` with config and tokenizer config that transformers 4 reads."""
    import transformers

    if int(transformers.__version__.split(".")[0]) >= 5:
        return src, []
    cfg = json.loads((src / "config.json").read_text())
    new_cfg, notes = translate_config(cfg) if "rope_parameters" in cfg else (cfg, [])
    tok_cfg = json.loads((src / "tokenizer_config.json").read_text())
    if tok_cfg.get("tokenizer_class") == "TokenizersBackend":  # transformers 5's generic fast tokenizer
        tok_cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
        notes.append("tokenizer_class TokenizersBackend -> PreTrainedTokenizerFast")
    tmp = Path(tempfile.mkdtemp(prefix="relations-bench-v4-"))
    atexit.register(shutil.rmtree, tmp, True)  # only symlinks and two small JSON files live there
    for f in src.iterdir():
        if f.name not in ("config.json", "tokenizer_config.json"):
            os.symlink(f, tmp / f.name)
    (tmp / "config.json").write_text(json.dumps(new_cfg, indent=2))
    (tmp / "tokenizer_config.json").write_text(json.dumps(tok_cfg, indent=2))
    return tmp, notes


def clone_cache(cache: Any) -> Any:
    """A copy of a transformers-4.57 ``Cache`` whose layers (and their tensors) are new objects.

    Not ``copy.deepcopy``: ``order_1_approx`` is decorated ``@torch.no_grad()`` over
    ``@torch.inference_mode(mode=False)``, which leaves grad mode ON inside, so the cache tensors are
    non-leaf tensors, which refuse deepcopy. ``clone()`` keeps them (and their graph) as they are.
    """
    layers = getattr(cache, "layers", None)
    if layers is None:
        return copy.deepcopy(cache)
    new = copy.copy(cache)
    new.layers = []
    for layer in layers:
        twin = copy.copy(layer)
        for k, v in vars(layer).items():
            if isinstance(v, torch.Tensor):
                setattr(twin, k, v.clone())
        new.layers.append(twin)
    return new


def copy_cache_on_every_call(model: torch.nn.Module) -> None:
    """The ``fixed-cache`` variant: hand every forward a copy of the KV cache it is given."""
    inner = model.forward

    def forward(*args: Any, **kwargs: Any) -> Any:
        pkv = kwargs.get("past_key_values")
        if pkv is not None:
            kwargs["past_key_values"] = clone_cache(pkv)
        return inner(*args, **kwargs)

    model.forward = forward  # type: ignore[method-assign]


class CacheProbe:
    """Records the KV-cache length each forward starts from (to show the shipped variant's reuse)."""

    def __init__(self, model: torch.nn.Module):
        self.calls: list[dict[str, Any]] = []
        self.handle = model.register_forward_pre_hook(self.pre, with_kwargs=True)

    def pre(self, _module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        pkv = kwargs.get("past_key_values")
        self.calls.append(
            {
                "input_len": int(ids.shape[-1]) if ids is not None else None,
                "cache_len": int(pkv.get_seq_length()) if pkv is not None else 0,
            }
        )

    def remove(self) -> None:
        self.handle.remove()


def tokenization(tok: Any, prompts: list[Any]) -> list[dict[str, Any]]:
    """How linear-relational itself places each prompt's tokens (compared with steerlens' in the report)."""
    from linear_relational.lib.token_utils import find_final_word_token_index, find_prompt_answer_data

    out = []
    for p in prompts:
        data = find_prompt_answer_data(tok, p.text, p.answer)
        out.append(
            {
                "ids": list(tok.encode(data.full_prompt)),
                "subject": find_final_word_token_index(tok, p.text, p.subject),
                "predict": list(data.output_answer_token_indices),
            }
        )
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    from linear_relational import Prompt, Trainer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    C.setup_torch()
    work = Path(args.workdir)
    spec = json.loads((work / "prompts.json").read_text())
    result: dict[str, Any] = {"variant": args.variant, "model": spec["model"]}
    folder, notes = v4_folder(Path(spec["model_dir"]))
    result["config_translation"] = notes
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, local_files_only=True).eval()
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    result["load_s"] = time.perf_counter() - t0
    result["attn_implementation"] = model.config._attn_implementation
    print(
        f"[peer {args.variant}] loaded {spec['model']} in {result['load_s']:.1f}s "
        f"(attn={model.config._attn_implementation}; {'; '.join(notes) or 'config as is'})",
        flush=True,
    )
    if args.variant == "fixed-cache":
        copy_cache_on_every_call(model)

    def prompts(rows: list[dict[str, str]]) -> list[Any]:
        return [Prompt(text=r["text"], answer=r["answer"], subject=r["subject"], object_name=r["object_name"]) for r in rows]

    train, warm = prompts(spec["train"]), prompts(spec["warmup"])
    result["tokenization"] = tokenization(tok, train)
    trainer = Trainer(model, tok)
    result["layer_matcher"] = trainer.layer_matcher

    def train_lre(ps: list[Any]) -> Any:
        return trainer.train_lre(
            spec["relation"],
            spec["subject_layer"],
            spec["object_layer"],
            ps,
            object_aggregation=spec["aggregation"],
            validate_prompts=False,
            verbose=False,
        )

    def caught(ws: list[warnings.WarningMessage]) -> list[str]:
        msgs = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in ws))
        for m in msgs:
            print(f"[peer {args.variant}] warning: {m}", file=sys.stderr, flush=True)
        return msgs

    # warm-up on one prompt, with torch's (normally silent) vmap fallback warnings switched on, so the
    # ops that vmap runs as a slow per-row loop are named; also records the cache length of every forward
    probe = CacheProbe(model)
    show = not args.no_fallback_warnings
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        if show:
            torch._C._debug_only_display_vmap_fallback_warnings(True)
        try:
            t0 = time.perf_counter()
            train_lre(warm)
            result["warmup_s"] = time.perf_counter() - t0
        finally:
            if show:
                torch._C._debug_only_display_vmap_fallback_warnings(False)
    probe.remove()
    result["warmup_forward_calls"] = probe.calls
    result["warmup_warnings"] = caught(ws)
    result["fallback_warnings_shown_in_warmup"] = show
    print(
        f"[peer {args.variant}] warm-up on 1 prompt: {result['warmup_s']:.2f}s; forwards (tokens, cache length "
        f"they start from): {[(c['input_len'], c['cache_len']) for c in probe.calls]}",
        flush=True,
    )

    # the timed run: library defaults, warnings as the library would print them
    cont = C.Contention()
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        cont.start()
        t0 = time.perf_counter()
        lre = train_lre(train)
        result["train_s"] = time.perf_counter() - t0
        result["other_cpu_share"] = cont.stop()
    result["timed_warnings"] = caught(ws)
    result["loadavg_end"] = os.getloadavg()
    result["n_prompts"] = len(train)
    result["lre"] = {
        "subject_layer": lre.subject_layer,
        "object_layer": lre.object_layer,
        "object_aggregation": lre.object_aggregation,
        "metadata": lre.metadata,
        "weight_shape": list(lre.weight.shape),
        "bias_shape": list(lre.bias.shape),
    }
    print(
        f"[peer {args.variant}] train_lre on {len(train)} prompts: {result['train_s']:.2f}s "
        f"(others used {result['other_cpu_share']:.0%} CPU)",
        flush=True,
    )

    from safetensors.torch import save_file

    save_file(
        {
            "weight": lre.weight.detach().float().cpu().contiguous(),
            "bias": lre.bias.detach().float().cpu().reshape(-1).contiguous(),
        },
        str(work / f"peer-{args.variant}.safetensors"),
    )
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", required=True, help="holds prompts.json; gets peer-<variant>.{json,safetensors}")
    ap.add_argument("--variant", choices=VARIANTS, default="shipped")
    ap.add_argument(
        "--no-fallback-warnings", action="store_true", help="do not switch on torch's vmap fallback warnings during the warm-up"
    )
    args = ap.parse_args()
    out = Path(args.workdir) / f"peer-{args.variant}.json"
    env = C.env_info(["linear-relational", "torch", "transformers", "tokenizers", "safetensors", "dataclasses-json"])
    try:
        result = run(args)
    except Exception as e:  # recorded for the report (e.g. a model the package cannot run)
        C.write_json(
            out, {"variant": args.variant, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(), "env": env}
        )
        traceback.print_exc()
        sys.exit(3)
    result["env"] = env
    C.write_json(out, result)
    print(f"[peer {args.variant}] wrote {out}", flush=True)


if __name__ == "__main__":
    main()
