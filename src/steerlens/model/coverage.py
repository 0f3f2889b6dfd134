"""Which Hugging Face causal-LM types steerlens supports, checked on tiny random models of each.

For every type in the installed transformers' ``MODEL_FOR_CAUSAL_LM_MAPPING_NAMES``,
:func:`tiny_model` builds a small random-weight model from the type's default config (shrunk
generically, with a small per-type override table where a config needs it; norm weights and biases
randomised so two norms cannot be confused), and :func:`check_type` runs every check steerlens
promises:

* ``numbering`` -- ``resid_pre`` / ``resid_post`` against ``output_hidden_states``;
* ``logits`` -- final norm + unembedding (+ multiplier, soft-cap) reproduces the model's logits;
* ``branch_sum`` -- ``resid_post == resid_pre + mixer_out + mlp_out`` on every layer (or, for a block that passes
  its update through norms -- post-norm GPT-1 / GIT, MiniMax -- the composition recorded in ``LayerLayout.steps``);
* ``capture`` -- :func:`~steerlens.model.capture.capture` equals a clone taken inside a hook;
* ``edit`` -- an :class:`~steerlens.model.intervene.Add` at a branch site moves ``resid_post`` by exactly
  the added vector (times the branch's scale);
* ``generation`` -- greedy generation under an edit (at ``"all"`` and at ``"generated"`` tokens) is
  token-identical batched and one prompt at a time, with and without the KV cache.

``python -m steerlens.model.coverage`` (or ``steerlens check --all-types``) prints the compatibility
matrix; the test suite runs the same checks.
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from ..errors import SteerlensError, UnsupportedArchitectureError
from . import _tiny_configs as _tiny

__all__ = [
    "EXCLUDED",
    "KNOWN_GAPS",
    "causal_lm_types",
    "tiny_config",
    "tiny_model",
    "check_type",
    "coverage",
    "matrix_markdown",
    "TypeReport",
    "CHECKS",
]

CHECKS = ("numbering", "logits", "branch_sum", "capture", "edit", "generation")

#: Types in the causal-LM mapping that are not text-only decoders, with the reason they are not tested.
EXCLUDED: dict[str, str] = {
    # encoder models that transformers can also run as a decoder
    **{
        t: "encoder family (BERT-style) used as a decoder"
        for t in (
            "bert",
            "bert-generation",
            "big_bird",
            "camembert",
            "data2vec-text",
            "electra",
            "ernie",
            "megatron-bert",
            "rembert",
            "roberta",
            "roberta-prelayernorm",
            "roc_bert",
            "roformer",
            "xlm-roberta",
            "xlm-roberta-xl",
            "xmod",
            "xlm",
        )
    },
    # needs non-text inputs or a package steerlens does not install
    "musicgen": "audio model (codebook tokens)",
    "musicgen_melody": "audio model (codebook tokens)",
    "moshi": "speech model",
    "moss_transcribe_diarize": "speech model",
    **_tiny.EXCLUDE,
}


#: Tested types that do not pass every check, with the reason (tests/test_coverage.py holds the matrix to it:
#: a type listed here must fail the way it says, any other type must pass).
KNOWN_GAPS: dict[str, tuple[str, str]] = {
    "blt": (
        "unsupported",
        "Byte Latent Transformer: a byte-level local encoder, a patch-level global stack and a "
        "local decoder (four block lists); no single residual stream to number",
    ),
    "inkling2_text": (
        "unsupported",
        "attention-residual blocks: the head reads a learned mixture of earlier block outputs, not the last block's output",
    ),
    "inkling2_loop_text": ("unsupported", "attention-residual blocks as inkling2_text, plus a looped block"),
    "dory": (
        "unsupported",
        "a looped middle block: the same block runs several times per forward pass, so capture refuses its sites (reached twice)",
    ),
    "hrm_text": ("unsupported", "hierarchical recurrent model: two block stacks (H and L) applied in cycles"),
    "prophetnet": (
        "unsupported",
        "ProphetNet's decoder runs a main stream and n-gram predicting streams side by side in one sequence; its head "
        "reads the first predicting stream, which no block's main-stream output reproduces",
    ),
    "reformer": (
        "unsupported",
        "reversible residual: each block takes and returns two half-streams through a custom autograd function, and "
        "the head reads their concatenation",
    ),
    "xlnet": ("unsupported", "permutation LM with two-stream attention; its head does not read one causal stream"),
}

_SIZES: dict[str, int] = dict(
    hidden_size=32,
    n_embd=32,
    d_model=32,
    n_embed=32,
    embed_dim=32,
    num_attention_heads=4,
    n_head=4,
    n_heads=4,
    num_heads=4,
    num_key_value_heads=2,
    head_dim=8,
    intermediate_size=64,
    n_inner=64,
    ffn_dim=64,
    ffn_hidden_size=64,
    vocab_size=96,
    max_position_embeddings=128,
    n_positions=128,
    moe_intermediate_size=32,
    num_experts=4,
    num_local_experts=4,
    n_routed_experts=4,
    num_experts_per_tok=2,
    n_shared_experts=1,
    kv_lora_rank=16,
    q_lora_rank=16,
    qk_rope_head_dim=8,
    qk_nope_head_dim=8,
    v_head_dim=8,
    sliding_window=64,
    shared_intermediate_size=32,
    mamba_d_state=8,
    state_size=8,
    mamba_n_heads=4,
    mamba_d_head=8,
    mamba_head_dim=8,
    n_groups=1,
    mamba_n_groups=1,
    num_key_heads=2,
    num_value_heads=4,
    linear_num_key_heads=2,
    linear_num_value_heads=4,
    linear_key_head_dim=8,
    linear_value_head_dim=8,
)
_LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")
VOCAB = 96


def causal_lm_types() -> list[str]:
    """Every model type the installed transformers maps to a causal-LM class."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return sorted(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)


def _shrink(d: dict[str, Any]) -> dict[str, Any]:
    """Shrink one config dict: sizes, and a layer count that keeps every kind of layer of a hybrid."""
    n0 = next((d[k] for k in _LAYER_KEYS if isinstance(d.get(k), int)), None)
    n = 3
    for v in d.values():  # the shortest prefix of a per-layer list that holds every distinct entry
        if isinstance(v, list) and n0 and len(v) == n0 and v and not isinstance(v[0], (list, dict)):
            seen, need = set(), len({str(x) for x in v})
            for i, x in enumerate(v):
                seen.add(str(x))
                if len(seen) == need:
                    n = max(n, i + 1)
                    break
    n = min(n, 8)
    out = dict(d)
    for k in _LAYER_KEYS:
        if isinstance(d.get(k), int) and not isinstance(d.get(k), bool):
            out[k] = n
    for k, v in d.items():
        if isinstance(v, list) and n0 and len(v) == n0:
            out[k] = v[:n]
        elif k in _SIZES and isinstance(v, int) and not isinstance(v, bool):
            out[k] = _SIZES[k]
        elif isinstance(v, dict) and ("model_type" in v or any(x in v for x in _LAYER_KEYS)):
            out[k] = _shrink(v)
    return out


def _merge(d: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Merge ``extra`` into ``d`` recursively (a nested dict with ``"__replace__": True`` replaces instead)."""
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(d.get(k), dict) and not v.get("__replace__"):
            _merge(d[k], v)
        else:
            d[k] = {a: b for a, b in v.items() if a != "__replace__"} if isinstance(v, dict) else v
    return d


def _drop(d: dict[str, Any], dotted: str) -> None:
    *parents, last = dotted.split(".")
    for p in parents:
        d = d.get(p) or {}
    d.pop(last, None)


def tiny_config(model_type: str) -> Any:
    """A small config of ``model_type``: its defaults shrunk (hidden 32, 2-8 layers, vocab 96) plus overrides."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    if model_type not in CONFIG_MAPPING:
        raise UnsupportedArchitectureError(
            f"Unknown model type {model_type!r} for the installed transformers; its causal-LM types are listed by "
            "steerlens.model.coverage.causal_lm_types()."
        )
    cls = CONFIG_MAPPING[model_type]
    d = _shrink(cls(**copy.deepcopy(_tiny.INIT.get(model_type, {}))).to_dict())
    d.update(pad_token_id=0)
    for k, v in (("bos_token_id", 1), ("eos_token_id", 2)):
        if k in d:
            d[k] = v
    for dotted in _tiny.DROP_KEYS.get(model_type, []):
        _drop(d, dotted)
    _merge(d, copy.deepcopy(_tiny.OVERRIDES.get(model_type, {})))
    return cls.from_dict(d)


def tiny_model(model_type: str, seed: int = 0, max_params: int = 3_000_000) -> torch.nn.Module:
    """A tiny random-weight causal LM of ``model_type`` in eval mode.

    Weight matrices are drawn wide (std 0.3) so greedy decoding is decisive, and every 1-D parameter
    (norm weights, biases) gets noise, so no two norms compute the same function.
    """
    import transformers as T

    cfg = tiny_config(model_type)
    with torch.device("meta"):
        meta = T.AutoModelForCausalLM.from_config(cfg)
    n = sum(p.numel() for p in meta.parameters())
    if n > max_params:
        raise ValueError(f"the tiny {model_type} config still has {n:,} parameters (limit {max_params:,})")
    torch.manual_seed(seed)
    model = T.AutoModelForCausalLM.from_config(cfg)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
            elif p.is_floating_point():
                p.add_(torch.randn(p.shape, generator=gen) * 0.3)
    return model.eval()


@dataclass
class TypeReport:
    """One row of the compatibility matrix."""

    model_type: str
    # "pass"; "partial" (every site offered verifies, some layer lacks branch sites and says why); "fail";
    # "unsupported" (resolve raises a typed, explained error); "excluded"; "build-error"
    status: str
    source: str = ""  # "table" or "fallback"
    checks: dict[str, bool] = field(default_factory=dict)
    points: list[str] = field(default_factory=list)
    mixers: list[str] = field(default_factory=list)
    detail: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _generation_check(model: torch.nn.Module, spec: Any) -> tuple[bool, str]:
    from .generate import generate
    from .intervene import Add, intervene
    from .site import Site
    from .tokens import pad

    g = torch.Generator().manual_seed(1)
    prompts = [[1, *torch.randint(3, spec.vocab_size, (k - 1,), generator=g).tolist()] for k in (5, 8, 3)]
    delta = torch.randn(spec.d_model, generator=g)
    site = Site(spec.n_layers // 2)

    def ids(rows: list[list[int]]) -> dict[str, torch.Tensor]:
        b = pad(rows, side="right")
        return {"input_ids": b.input_ids, "attention_mask": b.attention_mask}

    for at in ("all", "generated"):
        with intervene(model, [Add(site, delta, positions=at, strength=2.0)]):
            batched = generate(model, None, ids(prompts), max_new_tokens=4).new_ids
            single = [generate(model, None, ids([p]), max_new_tokens=4).new_ids[0] for p in prompts]
            uncached = generate(model, None, ids(prompts), max_new_tokens=4, use_cache=False).new_ids
        if batched != single:
            return False, f"positions={at!r}: batched {batched} != one at a time {single}"
        if batched != uncached:
            return False, f"positions={at!r}: cached {batched} != uncached {uncached}"
    return True, ""


def check_type(model_type: str, generation: bool = True) -> TypeReport:
    """Build a tiny model of ``model_type`` and run every check on it (see the module docstring)."""
    from .architectures import ARCHITECTURES, resolve
    from .check import self_check

    t0 = time.perf_counter()
    report = TypeReport(model_type, "fail")
    if model_type in EXCLUDED:
        report.status, report.detail = "excluded", EXCLUDED[model_type]
        return report
    try:
        model = tiny_model(model_type)
    except Exception as exc:  # noqa: BLE001 -- the row records why the tiny model could not be built
        report.status, report.detail = "build-error", f"{type(exc).__name__}: {str(exc)[:300]}"
        report.seconds = time.perf_counter() - t0
        return report
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec = resolve(model)
            report.source = "table" if model_type in ARCHITECTURES else "fallback"
            report.points = sorted({p for i in range(spec.n_layers) for p in spec.points(i)})
            report.mixers = sorted({lay.mixer for lay in spec.layouts if lay.mixer})
            sc = self_check(model)
            c = sc["checks"]
            report.checks = {
                "numbering": c["resid_pre_matches_hidden_states"]
                and c["resid_post_matches_hidden_states"]
                and c["last_resid_post_matches_last_hidden_state"]
                and c["resid_pre_is_previous_resid_post"],
                "logits": c["lens_reproduces_logits"],
                "branch_sum": c["branches_sum_to_resid_post"],
                "capture": c["capture_matches_hook_clone"],
                "edit": c["edits_land_in_resid_post"],
            }
            notes = []
            gaps = sc["layers_with_missing_branch_sites"]
            if gaps:
                notes.append(f"layers {gaps} lack branch sites: {spec.layouts[gaps[0]].note}")
            if generation:
                ok, why = _generation_check(model, spec)
                report.checks["generation"] = ok
                if why:
                    notes.append(why)
            bad = [k for k, v in report.checks.items() if not v]
            if bad:
                errs = {k: f"{v:.1e}" for k, v in sc["max_rel_error"].items()}
                notes.insert(0, f"failed: {', '.join(bad)} (relative errors {errs})")
            report.status = "fail" if bad else "partial" if gaps else "pass"
            report.detail = "; ".join(notes)
    except SteerlensError as exc:
        report.status, report.detail = "unsupported", f"{type(exc).__name__}: {str(exc)[:300]}"
    except Exception as exc:  # noqa: BLE001 -- an untyped crash is a failure the matrix must show
        report.status, report.detail = "fail", f"crash {type(exc).__name__}: {str(exc)[:300]}"
    report.seconds = time.perf_counter() - t0
    return report


def coverage(types: Iterable[str] | None = None, generation: bool = True, progress: bool = True) -> list[TypeReport]:
    """:func:`check_type` for each type (default: every causal-LM type of the installed transformers)."""
    from tqdm.auto import tqdm

    todo = list(types) if types is not None else causal_lm_types()
    out = []
    for t in tqdm(todo, desc="architectures", unit="type", disable=not progress):
        out.append(check_type(t, generation=generation))
    return out


def matrix_markdown(reports: list[TypeReport]) -> str:
    """The compatibility matrix as Markdown: counts, the exceptions with their reasons, then every type."""
    import transformers

    tested = [r for r in reports if r.status != "excluded"]
    passed = [r for r in tested if r.status == "pass"]
    by_status: dict[str, list[TypeReport]] = {}
    for r in tested:
        by_status.setdefault(r.status, []).append(r)
    lines = [
        "# Compatibility matrix",
        "",
        f"Generated by `steerlens check --all-types --markdown docs/compatibility.md` with transformers "
        f"{transformers.__version__}: a tiny random model of every type in `MODEL_FOR_CAUSAL_LM_MAPPING_NAMES`, "
        "checked for site numbering against `output_hidden_states` (**numbering**), the lens reproducing the logits "
        "(**logits**), `resid_post == resid_pre + mixer_out + mlp_out` on every layer, or for a block that passes its "
        "update through norms (post-norm GPT-1 and GIT, MiniMax's normed residual) the composition the probe recorded, "
        "e.g. `ln_2(ln_1(resid_pre + mixer_out) + mlp_out)`, and for a residual of several streams (hyper-connections, "
        "AltUp) the mixing the block's own hyper-connection modules computed (**branch_sum**), capture "
        "equal to a clone taken inside a hook (**capture**), an `Add` at each branch site moving `resid_post` by "
        "exactly the vector (**edit**), and greedy generation under an edit token-identical batched / one at a time "
        'and cached / uncached at `"all"` and `"generated"` (**generation**).',
        "",
        f"**{len(passed)} of {len(tested)}** tested decoder-only types pass every check "
        f"({100 * len(passed) / max(1, len(tested)):.1f} %). "
        + ", ".join(f"{len(v)} {k}" for k, v in sorted(by_status.items()) if k != "pass")
        + f". {len(reports) - len(tested)} types of the mapping are not text-only decoders and are not tested.",
        "",
        "*partial*: every site offered verifies, but some layer lacks branch sites (asking for one raises a "
        "`SiteError` with the reason below). *unsupported*: `resolve` or a check raises a typed, explained error.",
        "",
        "## Exceptions",
        "",
        "| type | status | reason |",
        "|---|---|---|",
    ]
    for r in tested:
        if r.status != "pass":
            reason = KNOWN_GAPS.get(r.model_type, ("", ""))[1]
            said = _cell(r.detail)[:240]
            lines.append(f"| {r.model_type} | {r.status} | {reason + '. steerlens: ' if reason else ''}{said} |")
    lines += [
        "",
        "## Every type",
        "",
        "| type | status | source | " + " | ".join(CHECKS) + " | branch sites | token mixers |",
        "|---|---|---|" + "---|" * len(CHECKS) + "---|---|",
    ]
    for r in reports:
        if r.status == "excluded":
            lines.append(f"| {r.model_type} | excluded: {_cell(r.detail)} |" + " |" * (len(CHECKS) + 3))
            continue
        marks = [("✓" if r.checks[c] else "✗") if c in r.checks else "" for c in CHECKS]
        sites = ", ".join(p for p in r.points if p not in ("resid_pre", "resid_post"))
        lines.append(
            f"| {r.model_type} | {r.status} | {r.source} | " + " | ".join(marks) + f" | {sites} | {', '.join(r.mixers)} |"
        )
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def main(argv: list[str] | None = None) -> int:
    """``python -m steerlens.model.coverage [--json FILE] [--markdown FILE] [TYPE ...]``."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m steerlens.model.coverage", description=main.__doc__)
    parser.add_argument("types", nargs="*", help="model types to check (default: every causal-LM type)")
    parser.add_argument("--json", help="write the reports as JSON here")
    parser.add_argument("--markdown", help="write the Markdown matrix here")
    parser.add_argument("--no-generation", action="store_true", help="skip the generation checks")
    args = parser.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    reports = coverage(args.types or None, generation=not args.no_generation)
    md = matrix_markdown(reports)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(md)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.to_dict() for r in reports], f, indent=1)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
