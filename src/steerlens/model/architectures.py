"""Where the parts of each supported Hugging Face causal LM live.

This module and :mod:`steerlens.model.hooks` are the only places in steerlens that know
Hugging Face module names. Supporting a new architecture means adding one row to
:data:`ARCHITECTURES`; a model whose type has no row is located structurally (with a warning).

Module paths are relative to the ``*ForCausalLM`` object for the model-level parts, and
relative to one decoder block for the per-block parts.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from ..errors import SiteError, UnsupportedArchitectureError
from .site import POINTS, Site

__all__ = ["ArchitectureRow", "ARCHITECTURES", "ModelSpec", "resolve", "supported_model_types", "cache_kwargs"]


@dataclass(frozen=True)
class ArchitectureRow:
    """Declarative description of one family of Hugging Face decoder-only models.

    Attributes:
        base: The decoder body (embeddings + blocks + final norm) inside the causal LM.
        embed: The token embedding module.
        blocks: The ``ModuleList`` of decoder blocks.
        final_norm: The norm applied after the last block.
        unembed: The output projection to the vocabulary.
        attn: The attention sub-module of a block (its input is ``attn_in``).
        mlp: The MLP sub-module of a block (its input is ``mlp_in``).
        attn_out: The module whose output is what the attention branch adds to the residual
            (the attention itself, or its post-norm where the model has one).
        mlp_out: Likewise for the MLP branch.
        embed_scale: ``"sqrt_hidden"`` where the embedding output is multiplied by
            ``sqrt(hidden_size)`` (the HF module already does it; recorded for users who map token
            embeddings into the residual stream by hand).
        softcap_attr: Config attribute holding the final-logit soft-cap, if the family has one.
        norm: Form of the final norm: ``"rms"``, ``"rms_one_plus"`` (Gemma's ``(1 + w)`` scale) or
            ``"layer"``.
    """

    base: str
    embed: str
    blocks: str
    final_norm: str
    attn: str
    mlp: str
    attn_out: str
    mlp_out: str
    unembed: str = "lm_head"
    embed_scale: Literal["none", "sqrt_hidden"] = "none"
    softcap_attr: str | None = None
    norm: Literal["rms", "rms_one_plus", "layer"] = "rms"


_LLAMA_LIKE = ArchitectureRow(
    base="model", embed="model.embed_tokens", blocks="model.layers", final_norm="model.norm",
    attn="self_attn", mlp="mlp", attn_out="self_attn", mlp_out="mlp",
)
_GEMMA_LIKE = ArchitectureRow(
    base="model", embed="model.embed_tokens", blocks="model.layers", final_norm="model.norm",
    attn="self_attn", mlp="mlp", attn_out="post_attention_layernorm", mlp_out="post_feedforward_layernorm",
    embed_scale="sqrt_hidden", softcap_attr="final_logit_softcapping", norm="rms_one_plus",
)

#: ``config.model_type`` -> row. Rows are tested against ``output_hidden_states`` in the test suite.
ARCHITECTURES: dict[str, ArchitectureRow] = {
    "llama": _LLAMA_LIKE,
    "mistral": _LLAMA_LIKE,
    "qwen2": _LLAMA_LIKE,
    "qwen3": _LLAMA_LIKE,
    "phi3": _LLAMA_LIKE,
    "gemma3_text": _GEMMA_LIKE,
    "gemma2": _GEMMA_LIKE,
    "olmo2": ArchitectureRow(
        base="model", embed="model.embed_tokens", blocks="model.layers", final_norm="model.norm",
        attn="self_attn", mlp="mlp", attn_out="post_attention_layernorm", mlp_out="post_feedforward_layernorm",
    ),
    "gpt2": ArchitectureRow(
        base="transformer", embed="transformer.wte", blocks="transformer.h", final_norm="transformer.ln_f",
        attn="attn", mlp="mlp", attn_out="attn", mlp_out="mlp", norm="layer",
    ),
    "gpt_neox": ArchitectureRow(
        base="gpt_neox", embed="gpt_neox.embed_in", blocks="gpt_neox.layers", final_norm="gpt_neox.final_layer_norm",
        attn="attention", mlp="mlp", attn_out="attention", mlp_out="mlp", norm="layer",
    ),
}

# Model types known not to be decoder-only causal LMs steerlens can hook.
_UNSUPPORTED = {
    "t5": "encoder-decoder", "bart": "encoder-decoder", "mbart": "encoder-decoder", "bert": "encoder-only",
    "roberta": "encoder-only", "gemma3": "multimodal wrapper (load the text model, model_type 'gemma3_text')",
}


def cache_kwargs(model: nn.Module, cache: object) -> dict[str, object]:
    """``{name: cache}`` for passing a KV cache to ``model(...)``: transformers renamed the argument
    ``past_key_values`` to ``cache`` (the old name is deprecated, to be removed in 5.40)."""
    import inspect

    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        params = {}
    return {"cache" if "cache" in params else "past_key_values": cache}


def supported_model_types() -> list[str]:
    """Model types with a row in the architecture table (others go through the structural fallback)."""
    return sorted(ARCHITECTURES)


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """The located parts and sizes of one loaded model. Build it with :func:`resolve`."""

    model: nn.Module
    model_type: str
    row: ArchitectureRow
    base: nn.Module
    embed: nn.Module
    blocks: nn.ModuleList
    final_norm: nn.Module
    unembed: nn.Module
    n_layers: int
    d_model: int
    vocab_size: int
    softcap: float | None
    embed_scale: float
    structural: bool = False
    _paths: dict[str, str] = field(default_factory=dict, repr=False)

    def site(self, site: Site | int) -> Site:
        """Check a site against this model and return it with a non-negative layer."""
        if isinstance(site, int) and not isinstance(site, bool):
            site = Site(site)
        if not isinstance(site, Site):
            raise SiteError(f"Expected a steerlens Site (or a layer int), got {type(site).__name__}: {site!r}.")
        return site.normalized(self.n_layers)

    def all_sites(self, point: str = "resid_post") -> list[Site]:
        """One site per block at ``point``, in layer order."""
        if point not in POINTS:
            raise SiteError(f"Unknown site point {point!r}; expected one of {', '.join(POINTS)}.")
        return [Site(i, point) for i in range(self.n_layers)]  # type: ignore[arg-type]

    def module_for(self, site: Site) -> tuple[nn.Module, Literal["input", "output"]]:
        """The module to hook for ``site``, and whether the activation is its input or output."""
        site = self.site(site)
        block = self.blocks[site.layer]
        if site.point == "resid_pre":
            return block, "input"
        if site.point == "resid_post":
            return block, "output"
        if site.point == "attn_in":
            return block.get_submodule(self.row.attn), "input"
        if site.point == "mlp_in":
            return block.get_submodule(self.row.mlp), "input"
        if site.point == "attn_out":
            return block.get_submodule(self.row.attn_out), "output"
        return block.get_submodule(self.row.mlp_out), "output"

    def logits(self, resid: torch.Tensor) -> torch.Tensor:
        """Final norm + unembedding (+ bias and soft-capping where the model has them) of a residual.

        Applied to ``resid_post`` of the last layer this reproduces the model's own logits.
        """
        if resid.shape[-1] != self.d_model:
            raise SiteError(
                f"Residual has size {resid.shape[-1]} in its last dimension, but this model's hidden size is "
                f"{self.d_model}."
            )
        out = self.unembed(self.final_norm(resid))
        if self.softcap:
            out = torch.tanh(out / self.softcap) * self.softcap
        return out

    def logits_from_final(self, hidden: torch.Tensor) -> torch.Tensor:
        """Unembedding (+ bias and soft-capping) of the decoder body's output, which is already final-normed.

        ``logits_from_final(model.<base>(...).last_hidden_state)`` equals the model's logits; it lets a
        caller unembed only the positions it needs.
        """
        out = self.unembed(hidden)
        if self.softcap:
            out = torch.tanh(out / self.softcap) * self.softcap
        return out

    def describe(self) -> dict[str, object]:
        """A JSON-friendly summary: model type, sizes and module paths."""
        return {
            "model_type": self.model_type, "n_layers": self.n_layers, "d_model": self.d_model,
            "vocab_size": self.vocab_size, "softcap": self.softcap, "embed_scale": self.embed_scale,
            "structural_fallback": self.structural, **self._paths,
        }


_SPEC_ATTR = "_steerlens_spec"
_warned_types: set[str] = set()


def resolve(model: nn.Module) -> ModelSpec:
    """Locate the parts of a Hugging Face causal LM (cached on the model object).

    Raises:
        UnsupportedArchitectureError: the model is not a decoder-only causal LM steerlens can hook,
            or a part named by its architecture row is missing.
    """
    cached = model.__dict__.get(_SPEC_ATTR)
    if cached is not None:
        return cached
    config = getattr(model, "config", None)
    if config is None:
        raise UnsupportedArchitectureError(
            f"{type(model).__name__} has no `.config`; steerlens works on Hugging Face causal LMs "
            "(objects loaded with AutoModelForCausalLM or steerlens.load_model)."
        )
    model_type = str(getattr(config, "model_type", "unknown"))
    if model_type in _UNSUPPORTED:
        raise UnsupportedArchitectureError(
            f"Model type {model_type!r} is not supported: it is a {_UNSUPPORTED[model_type]} model. steerlens "
            f"hooks decoder-only causal LMs; the table covers {', '.join(supported_model_types())}."
        )
    row = ARCHITECTURES.get(model_type)
    structural = row is None
    if row is None:
        row = _structural_row(model, model_type)
        if model_type not in _warned_types:
            _warned_types.add(model_type)
            warnings.warn(
                f"Model type {model_type!r} is not in steerlens' architecture table; its parts were found "
                f"structurally ({row}). Check the results (ModelSpec.logits must reproduce the model's logits) "
                "and consider adding a row to steerlens.model.architectures.ARCHITECTURES.",
                stacklevel=2,
            )
    spec = _build_spec(model, model_type, row, structural)
    model.__dict__[_SPEC_ATTR] = spec
    return spec


def _get(model: nn.Module, path: str, model_type: str, what: str) -> nn.Module:
    try:
        return model.get_submodule(path)
    except AttributeError as exc:
        raise UnsupportedArchitectureError(
            f"Model type {model_type!r}: expected the {what} at {path!r}, but {type(model).__name__} has no such "
            "module. Its transformers version may lay the model out differently."
        ) from exc


def _build_spec(model: nn.Module, model_type: str, row: ArchitectureRow, structural: bool) -> ModelSpec:
    config = model.config  # type: ignore[attr-defined]
    blocks = _get(model, row.blocks, model_type, "decoder blocks")
    if not isinstance(blocks, nn.ModuleList) or len(blocks) == 0:
        raise UnsupportedArchitectureError(f"Model type {model_type!r}: {row.blocks!r} is not a non-empty ModuleList.")
    for sub, what in ((row.attn, "attention"), (row.mlp, "MLP"), (row.attn_out, "attention output"),
                      (row.mlp_out, "MLP output")):
        _get(blocks[0], sub, model_type, f"{what} sub-module of a block")
    unembed = _get(model, row.unembed, model_type, "unembedding")
    weight = getattr(unembed, "weight", None)
    if weight is None or weight.dim() != 2:
        raise UnsupportedArchitectureError(f"Model type {model_type!r}: the unembedding has no 2-D weight.")
    d_model = int(weight.shape[1])
    softcap = getattr(config, row.softcap_attr, None) if row.softcap_attr else None
    paths = {
        "base": row.base, "embed": row.embed, "blocks": row.blocks, "final_norm": row.final_norm,
        "unembed": row.unembed, "attn": row.attn, "mlp": row.mlp, "attn_out": row.attn_out, "mlp_out": row.mlp_out,
    }
    return ModelSpec(
        model=model,
        model_type=model_type,
        row=row,
        base=_get(model, row.base, model_type, "decoder body"),
        embed=_get(model, row.embed, model_type, "token embedding"),
        blocks=blocks,  # type: ignore[arg-type]
        final_norm=_get(model, row.final_norm, model_type, "final norm"),
        unembed=unembed,
        n_layers=len(blocks),
        d_model=d_model,
        vocab_size=int(weight.shape[0]),
        softcap=float(softcap) if softcap else None,
        embed_scale=math.sqrt(d_model) if row.embed_scale == "sqrt_hidden" else 1.0,
        structural=structural,
        _paths=paths,
    )


def _structural_row(model: nn.Module, model_type: str) -> ArchitectureRow:
    """Guess an :class:`ArchitectureRow` from the module tree (the fallback for unknown types)."""
    config = model.config  # type: ignore[attr-defined]
    n_layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
    lists = [
        (name, mod) for name, mod in model.named_modules()
        if isinstance(mod, nn.ModuleList) and (n_layers is None or len(mod) == n_layers)
    ]
    if len(lists) != 1:
        raise UnsupportedArchitectureError(
            f"Model type {model_type!r} is not in steerlens' architecture table, and the structural fallback found "
            f"{len(lists)} candidate block lists of length {n_layers} (needs exactly one). Add a row for it to "
            "steerlens.model.architectures.ARCHITECTURES."
        )
    blocks_path, blocks = lists[0]
    base_path = blocks_path.rpartition(".")[0]
    base = model.get_submodule(base_path) if base_path else model
    names = dict(model.named_modules())
    inv = {id(m): n for n, m in names.items()}

    def child_matching(parent: nn.Module, parent_path: str, keys: tuple[str, ...], what: str) -> str:
        for name, child in parent.named_children():
            low = name.lower()
            if any(k in low for k in keys) and not isinstance(child, nn.ModuleList):
                return f"{parent_path}.{name}" if parent_path else name
        raise UnsupportedArchitectureError(
            f"Model type {model_type!r}: the structural fallback could not find the {what} (a child named like "
            f"{' / '.join(keys)}). Add a row for it to steerlens.model.architectures.ARCHITECTURES."
        )

    final_norm = child_matching(base, base_path, ("norm", "ln_f"), "final norm")
    block0 = blocks[0]  # type: ignore[index]
    attn = child_matching(block0, "", ("attn", "attention"), "attention sub-module")
    mlp = child_matching(block0, "", ("mlp", "feed_forward", "ffn"), "MLP sub-module")
    get_in = getattr(model, "get_input_embeddings", None)
    get_out = getattr(model, "get_output_embeddings", None)
    embed_mod = get_in() if get_in else None
    out_mod = get_out() if get_out else None
    if embed_mod is None or out_mod is None or id(embed_mod) not in inv or id(out_mod) not in inv:
        raise UnsupportedArchitectureError(
            f"Model type {model_type!r}: no input/output embeddings found; is this a causal LM?"
        )
    return ArchitectureRow(
        base=base_path, embed=inv[id(embed_mod)], blocks=blocks_path, final_norm=final_norm, attn=attn, mlp=mlp,
        attn_out=attn, mlp_out=mlp, unembed=inv[id(out_mod)],
        softcap_attr="final_logit_softcapping" if hasattr(config, "final_logit_softcapping") else None,
    )
