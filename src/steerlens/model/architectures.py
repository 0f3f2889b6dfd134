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
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal, cast

import torch
from torch import nn

from ..errors import SiteError, UnsupportedArchitectureError
from .site import POINTS, Site

if TYPE_CHECKING:
    from transformers import PretrainedConfig

__all__ = [
    "ArchitectureRow",
    "ARCHITECTURES",
    "LayerLayout",
    "ModelSpec",
    "Part",
    "resolve",
    "supported_model_types",
    "cache_kwargs",
]


@dataclass(frozen=True)
class ArchitectureRow:
    """Declarative description of one family of Hugging Face decoder-only models.

    Attributes:
        base: The decoder body (embeddings + blocks + final norm) inside the causal LM.
        embed: The token embedding module.
        blocks: The ``ModuleList`` of decoder blocks.
        final_norm: The norm applied after the last block (``""``: the family has none).
        unembed: The output projection to the vocabulary.
        attn: The attention sub-module of a block (its input is ``attn_in``). ``None``: the branch
            sites of every layer are located by a verified probe (see :func:`probe_layouts`).
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
        logit_scale: ``(config attribute, "mul" | "div")`` where the family multiplies or divides its
            logits by a constant (Cohere's ``logit_scale``, Granite's ``logits_scaling``).
        streams: Config attribute holding the number of parallel residual streams in families with
            hyper-connections (DeepSeek-V4's ``hc_mult``); ``None``: one stream. The residual sites of such a
            model are all streams side by side, ``[batch, tokens, streams * hidden]``.
        stacked: How the blocks carry the streams: ``"inner"`` as ``[batch, tokens, streams, hidden]``,
            ``"outer"`` as ``[streams, batch, tokens, hidden]`` (Gemma-3n's AltUp), ``""`` already flat. steerlens
            reads and writes them flat either way.
        collapse: The module that reduces the streams to one state before the final norm.
        hyper: ``(before the token mixer, before the MLP)``: the hyper-connection module of each branch.
        hyper_kind: ``"mhc"`` -- the module returns ``(post, comb, collapsed)`` and the block computes
            ``post * out + comb^T @ streams`` (DeepSeek-V4); ``"post"`` -- ``(post, collapsed)`` and
            ``streams + post * out`` (HY-V4); ``"gated"`` -- it returns
            ``(collapsed, streams, inject)`` and the block computes ``streams + inject * out`` (Qwen4-Exp);
            ``"altup"`` -- Gemma-3n's AltUp: ``hyper`` names the AltUp module (twice) whose ``predict`` and
            ``correct`` surround a Gemma block run on the active stream, and ``extras`` its LAuReL branch and
            per-layer-input projection.
        extras: Modules some blocks have whose output the block adds to its residual before anything else
            (no site; Qwen4-Exp's per-layer embedding ``ple``).
        masks_padding: Masked left padding leaves the outputs unchanged (``False``: generation runs rows of
            equal length together, unpadded).
        prefix: Config attribute holding a number of positions the model prepends to every prompt inside its
            blocks (CPM-Ant's learned prompt); steerlens' sites show the token positions only.
        caches: steerlens can continue a pass from the model's KV cache. ``False`` where a cached call does
            not take only the new tokens (CPM-Ant re-reads every id and slices its cache itself):
            :func:`~steerlens.model.generate.generate` then re-runs the whole sequence at every step.
    """

    base: str
    embed: str
    blocks: str
    final_norm: str
    attn: str | None = None
    mlp: str | None = None
    attn_out: str | None = None
    mlp_out: str | None = None
    unembed: str = "lm_head"
    embed_scale: Literal["none", "sqrt_hidden"] = "none"
    softcap_attr: str | None = None
    norm: Literal["rms", "rms_one_plus", "layer"] = "rms"
    logit_scale: tuple[str, Literal["mul", "div"]] | None = None
    streams: str | None = None
    stacked: Literal["", "inner", "outer"] = ""
    collapse: str = ""
    hyper: tuple[str, str] | None = None
    hyper_kind: Literal["mhc", "post", "gated", "altup"] = "mhc"
    extras: tuple[str, ...] = ()
    masks_padding: bool = True
    prefix: str | None = None
    caches: bool = True


@dataclass(frozen=True)
class Part:
    """Where one branch point of a block lives: a module path relative to the block, and whether the
    activation is that module's input or output. ``scale``: the block adds ``scale *`` this activation to
    the residual stream (1 except in families with a residual multiplier)."""

    path: str
    where: Literal["input", "output"]
    #: a float, or a ``[d_model]`` tensor where the family scales its residual per dimension (Doge, ZAYA)
    scale: float | torch.Tensor = 1.0
    #: the module's output is ``[batch * tokens, d]`` (read and edited as ``[batch, tokens, d]``)
    flat: bool = False
    #: modules (run earlier in the block) whose outputs add to this one's to make the site: the site is the
    #: sum, and an edit of it is written back into this module's output
    plus: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayerLayout:
    """The branch sites of one block (``resid_pre`` / ``resid_post`` exist on every block).

    The block computes ``resid_post = resid_scale * resid_pre + sum(part.scale * out) (+ bias)`` over its
    ``mixer_out`` and ``mlp_out`` parts and ``extras`` (every scale is 1 except in families with residual
    multipliers; per-dimension vectors and a bias where the family learns residual scales, as Doge and ZAYA do).

    Attributes:
        parts: point -> :class:`Part` for the branch points this block has.
        mixer: Class name of the block's token mixer (attention or recurrent), or ``None``.
        note: Why a point is missing, for the error that names it.
        resid_scale: What ``resid_pre`` is multiplied by in the sum (1 in most families; 0 where the block's own
            input norm is the residual base, as in RWKV's first block, which lists that norm in ``extras``).
        complete: The ``*_out`` parts account for the whole update (False where a branch has no single
            module, e.g. an MoE and a shared MLP added separately).
    """

    parts: dict[str, Part]
    mixer: str | None = None
    note: str = ""
    resid_scale: float | torch.Tensor = 1.0
    complete: bool = True
    #: further branches the block adds to its residual stream that have no site (Gemma-4's per-layer input)
    extras: tuple[Part, ...] = ()
    #: a constant ``[d_model]`` vector the block adds (per-dimension fits only)
    bias: torch.Tensor | None = None
    #: a block that composes its update through norms instead of summing it (post-norm GPT-1 / GIT, MiniMax):
    #: ``r = resid_pre``, then per step ``(base_norm, a, point, s)``: ``r = a * base_norm(r) + s * <point>``
    #: (``base_norm`` ``None``: the identity); ``resid_post = out_norm(r)``. Empty for a plain sum.
    steps: tuple[tuple[str | None, float, str, float], ...] = ()
    out_norm: str | None = None
    #: hyper-connection families: the block's two hyper-connection modules and their kind (see
    #: :class:`ArchitectureRow`); the branch sum is then the mixing those modules computed, not a plain sum
    hyper: tuple[str, str] | None = None
    hyper_kind: str = "mhc"

    @staticmethod
    def from_row(row: ArchitectureRow, block: nn.Module) -> LayerLayout:
        """The layout a row gives ``block``. ``row.attn`` may list alternatives (``"linear_attn|self_attn"``,
        for hybrids whose token mixer changes by layer): the first the block has is its mixer. A mixer that
        is not attention gets ``mixer_*`` sites only."""
        from .probe import classify

        assert row.attn and row.mlp and row.attn_out and row.mlp_out
        names = dict(block.named_modules())
        attn = next((a for a in row.attn.split("|") if a in names), row.attn.split("|")[0])
        attn_out = attn if row.attn_out == row.attn else row.attn_out
        mixer_in, mixer_out = Part(attn, "input"), Part(attn_out, "output")
        parts = {"mixer_in": mixer_in, "mixer_out": mixer_out}
        mod = names.get(attn)
        kind = classify(mod, attn) if mod is not None else None
        note = ""
        if kind == "recurrent":
            note = f"its token mixer is {type(mod).__name__}, not attention: use mixer_in / mixer_out"
        else:
            parts.update({"attn_in": mixer_in, "attn_out": mixer_out})
        parts.update({"mlp_in": Part(row.mlp, "input"), "mlp_out": Part(row.mlp_out, "output")})
        return LayerLayout(
            parts,
            type(mod).__name__ if mod is not None else None,
            note,
            extras=tuple(Part(e, "output") for e in row.extras if names.get(e) is not None),
            hyper=row.hyper,
            hyper_kind=row.hyper_kind,
        )


_LLAMA_LIKE = ArchitectureRow(
    base="model",
    embed="model.embed_tokens",
    blocks="model.layers",
    final_norm="model.norm",
    attn="self_attn",
    mlp="mlp",
    attn_out="self_attn",
    mlp_out="mlp",
)
_GEMMA_LIKE = ArchitectureRow(
    base="model",
    embed="model.embed_tokens",
    blocks="model.layers",
    final_norm="model.norm",
    attn="self_attn",
    mlp="mlp",
    attn_out="post_attention_layernorm",
    mlp_out="post_feedforward_layernorm",
    embed_scale="sqrt_hidden",
    softcap_attr="final_logit_softcapping",
    norm="rms_one_plus",
)

_MHC = replace(
    _LLAMA_LIKE,
    streams="hc_mult",
    stacked="inner",
    collapse="model.hc_head",
    hyper=("attn_hc", "ffn_hc"),
    hyper_kind="mhc",
)
_GATED_HC = replace(
    _LLAMA_LIKE,
    final_norm="",
    attn="linear_attn|self_attn",
    attn_out="linear_attn|self_attn",
    streams="hc_count",
    collapse="model.hyper_connection_mixer",
    hyper=("attn_hyper_connection", "mlp_hyper_connection"),
    hyper_kind="gated",
    extras=("ple",),
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
        base="model",
        embed="model.embed_tokens",
        blocks="model.layers",
        final_norm="model.norm",
        attn="self_attn",
        mlp="mlp",
        attn_out="post_attention_layernorm",
        mlp_out="post_feedforward_layernorm",
    ),
    "gpt2": ArchitectureRow(
        base="transformer",
        embed="transformer.wte",
        blocks="transformer.h",
        final_norm="transformer.ln_f",
        attn="attn",
        mlp="mlp",
        attn_out="attn",
        mlp_out="mlp",
        norm="layer",
    ),
    # the multimodal wrapper: its text tower is Gemma-3 (text-only inputs go straight to it)
    "gemma3": ArchitectureRow(
        base="model.language_model",
        embed="model.language_model.embed_tokens",
        blocks="model.language_model.layers",
        final_norm="model.language_model.norm",
        attn="self_attn",
        mlp="mlp",
        attn_out="post_attention_layernorm",
        mlp_out="post_feedforward_layernorm",
        embed_scale="sqrt_hidden",
        softcap_attr="final_logit_softcapping",
        norm="rms_one_plus",
    ),
    # hyper-connections: the residual is several parallel streams; steerlens' residual sites hold them side by side
    # DeepSeek-V4's compressed attention pools padded positions into its compressed keys
    "deepseek_v4": replace(_MHC, masks_padding=False),
    "hy_v4": replace(_MHC, hyper_kind="post"),
    "qwen4_exp": _GATED_HC,
    "qwen4_exp_text": _GATED_HC,
    # AltUp: four streams [streams, batch, tokens, d]; the attention and MLP run on the active one
    "gemma3n_text": replace(
        _GEMMA_LIKE,
        streams="altup_num_inputs",
        stacked="outer",
        collapse="model.altup_unembed_projections",
        hyper=("altup", "altup"),
        hyper_kind="altup",
        extras=("laurel", "post_per_layer_input_norm"),
    ),
    # CPM-Ant prepends `prompt_length` learned positions to the prompt inside its blocks; the head reads the rest
    "cpmant": ArchitectureRow(
        base="cpmant",
        embed="cpmant.input_embedding",
        blocks="cpmant.encoder.layers",
        final_norm="cpmant.encoder.output_layernorm",
        attn="self_att.self_attention",
        mlp="ffn.ffn",
        attn_out="self_att.self_attention",
        mlp_out="ffn.ffn",
        norm="layer",
        prefix="prompt_length",
        masks_padding=False,  # padding is id 0 and counts as a position
        caches=False,
    ),
    "gpt_neox": ArchitectureRow(
        base="gpt_neox",
        embed="gpt_neox.embed_in",
        blocks="gpt_neox.layers",
        final_norm="gpt_neox.final_layer_norm",
        attn="attention",
        mlp="mlp",
        attn_out="attention",
        mlp_out="mlp",
        norm="layer",
    ),
}

# Model types known not to be decoder-only causal LMs steerlens can hook.
_UNSUPPORTED = {
    "t5": "encoder-decoder",
    "bert": "encoder-only",
    "roberta": "encoder-only",
}


def cache_kwargs(model: nn.Module, cache: object) -> dict[str, object]:
    """``{name: cache}`` for passing a KV cache to ``model(...)``: transformers renamed the argument
    ``past_key_values`` to ``cache`` (the old name is deprecated, to be removed in 5.40)."""
    import inspect

    params: Mapping[str, inspect.Parameter]
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
    layouts: tuple[LayerLayout, ...] = ()
    #: constant the model multiplies its logits by (Cohere's ``logit_scale``; ``1 / logits_scaling`` on Granite)
    logit_scale: float = 1.0
    #: masked left padding leaves the outputs unchanged (False for models that ignore their mask, e.g. RWKV:
    #: :func:`~steerlens.model.generate.generate` then runs rows of equal length together, unpadded)
    masks_padding: bool = True
    #: indices (in the model's own block list) of blocks a text-only pass never runs, left out of the numbering
    skipped_layers: tuple[int, ...] = ()
    #: number of parallel residual streams (hyper-connections); the residual sites are ``[..., streams * hidden]``
    streams: int = 1
    #: how the blocks carry the streams (see :class:`ArchitectureRow`; steerlens reads and writes them flat)
    stacked_streams: Literal["", "inner", "outer"] = ""
    #: positions the model prepends to a prompt inside its blocks (CPM-Ant); sites hide them
    prefix_positions: int = 0
    #: steerlens can continue a pass from the KV cache (see :class:`ArchitectureRow`)
    caches: bool = True
    _paths: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def branch_width(self) -> int:
        """Width of the branch sites (``mixer_*``, ``attn_*``, ``mlp_*``): ``d_model`` except with several
        residual streams, where a branch reads and writes one ``d_model / streams`` state."""
        return self.d_model // self.streams

    def width(self, site: Site | int) -> int:
        """The last dimension of the activation at ``site``."""
        site = self.site(site)
        return self.d_model if site.point in ("resid_pre", "resid_post") else self.branch_width

    def site(self, site: Site | int) -> Site:
        """Check a site against this model and return it with a non-negative layer."""
        if isinstance(site, int) and not isinstance(site, bool):
            site = Site(site)
        if not isinstance(site, Site):
            raise SiteError(f"Expected a steerlens Site (or a layer int), got {type(site).__name__}: {site!r}.")
        return site.normalized(self.n_layers)

    def all_sites(self, point: str = "resid_post") -> list[Site]:
        """One site per block at ``point``, in layer order (raises if a block lacks it; see :meth:`has`)."""
        if point not in POINTS:
            raise SiteError(f"Unknown site point {point!r}; expected one of {', '.join(POINTS)}.")
        sites = [Site(i, point) for i in range(self.n_layers)]  # type: ignore[arg-type]
        for s in sites:
            self.module_for(s)
        return sites

    def layout(self, layer: int) -> LayerLayout:
        """The branch sites of block ``layer`` (negative counts from the end)."""
        return self.layouts[self.site(Site(layer)).layer]

    def has(self, site: Site | int) -> bool:
        """Whether ``site`` exists on this model (a hybrid's recurrent layer has no ``attn_*`` sites)."""
        site = self.site(site)
        return site.point in ("resid_pre", "resid_post") or site.point in self.layouts[site.layer].parts

    def points(self, layer: int) -> list[str]:
        """The points block ``layer`` has, in forward order."""
        lay = self.layout(layer)
        return [p for p in POINTS if p in ("resid_pre", "resid_post") or p in lay.parts]

    def part(self, site: Site) -> Part | None:
        """The :class:`Part` behind a branch site (``None`` for ``resid_pre`` / ``resid_post``)."""
        site = self.site(site)
        if site.point in ("resid_pre", "resid_post"):
            return None
        self.module_for(site)  # raises with an explanation when the block lacks the point
        return self.layouts[site.layer].parts[site.point]

    def module_for(self, site: Site) -> tuple[nn.Module, Literal["input", "output"]]:
        """The module to hook for ``site``, and whether the activation is its input or output.

        Raises:
            SiteError: the block has no such point (with what it has instead).
        """
        site = self.site(site)
        block = self.blocks[site.layer]
        if site.point == "resid_pre":
            return block, "input"
        if site.point == "resid_post":
            return block, "output"
        lay = self.layouts[site.layer]
        part = lay.parts.get(site.point)
        if part is None:
            why = f": {lay.note}" if lay.note else ""
            raise SiteError(
                f"Layer {site.layer} of this {self.model_type!r} model has no {site.point} site{why}. Its sites are "
                f"{', '.join(self.points(site.layer))}."
            )
        return block.get_submodule(part.path), part.where

    def logits(self, resid: torch.Tensor) -> torch.Tensor:
        """Final norm + unembedding (+ bias, logit multiplier and soft-capping where the model has them).

        Applied to ``resid_post`` of the last layer this reproduces the model's own logits.
        """
        if resid.shape[-1] != self.d_model:
            raise SiteError(
                f"Residual has size {resid.shape[-1]} in its last dimension, but this model's hidden size is {self.d_model}."
            )
        return self.logits_from_final(self.final_norm(resid))

    def logits_from_final(self, hidden: torch.Tensor) -> torch.Tensor:
        """Unembedding (+ bias, logit multiplier and soft-capping) of the decoder body's output, which is
        already final-normed.

        ``logits_from_final(model.<base>(...).last_hidden_state)`` equals the model's logits; it lets a
        caller unembed only the positions it needs.
        """
        weight = getattr(self.unembed, "weight", None)
        if isinstance(weight, torch.Tensor) and weight.is_floating_point() and hidden.dtype != weight.dtype:
            hidden = hidden.to(weight.dtype)  # some final norms return float32 for bfloat16 inputs (Mamba's)
        out = self.unembed(hidden)
        if self.logit_scale != 1.0:
            out = out * self.logit_scale
        if self.softcap:
            out = torch.tanh(out / self.softcap) * self.softcap
        return out

    def describe(self) -> dict[str, object]:
        """A JSON-friendly summary: model type, sizes, module paths and the branch sites of each block."""
        kinds = [lay.mixer or "-" for lay in self.layouts]
        return {
            "model_type": self.model_type,
            "n_layers": self.n_layers,
            "d_model": self.d_model,
            "vocab_size": self.vocab_size,
            "softcap": self.softcap,
            "embed_scale": self.embed_scale,
            "logit_scale": self.logit_scale,
            "structural_fallback": self.structural,
            **({"residual_streams": self.streams} if self.streams > 1 else {}),
            **({"prefix_positions": self.prefix_positions} if self.prefix_positions else {}),
            **self._paths,
            "mixers": kinds if len(set(kinds)) > 1 else kinds[:1],
            "branch_sites": sorted({p for lay in self.layouts for p in lay.parts}),
            **({"skipped_layers": list(self.skipped_layers)} if self.skipped_layers else {}),
        }


_SPEC_ATTR = "_steerlens_spec"
_warned_types: set[str] = set()


def resolve(model: nn.Module) -> ModelSpec:
    """Locate the parts of a Hugging Face causal LM (cached on the model object).

    A type in :data:`ARCHITECTURES` is read off its row. Any other type is located structurally and
    verified by one forward pass on a few tokens (:mod:`steerlens.model.probe`): the final norm and
    logit multiplier must reproduce the model's logits, and each block's branch sites must add up to its
    residual update, or they are not offered.

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
    if getattr(config, "is_encoder_decoder", False):
        raise UnsupportedArchitectureError(
            f"Model type {model_type!r} is an encoder-decoder model; steerlens hooks decoder-only causal LMs."
        )
    row = ARCHITECTURES.get(model_type)
    spec = _build_spec(model, model_type, row) if row is not None else _structural_spec(model, model_type)
    if spec.structural and model_type not in _warned_types:
        _warned_types.add(model_type)
        warnings.warn(
            f"Model type {model_type!r} is not in steerlens' architecture table; its parts were found structurally "
            f"and verified by a probe forward pass ({spec._paths}). steerlens.model.self_check(model) checks them "
            "again; consider adding a row to steerlens.model.architectures.ARCHITECTURES.",
            stacklevel=2,
        )
    model.__dict__[_SPEC_ATTR] = spec
    return spec


def _get(model: nn.Module, path: str, model_type: str, what: str) -> nn.Module:
    if path == "":
        return nn.Identity()
    try:
        return model.get_submodule(path)
    except AttributeError as exc:
        raise UnsupportedArchitectureError(
            f"Model type {model_type!r}: expected the {what} at {path!r}, but {type(model).__name__} has no such "
            "module. Its transformers version may lay the model out differently."
        ) from exc


def _sizes(model: nn.Module, model_type: str, unembed: nn.Module) -> tuple[int, int]:
    weight = getattr(unembed, "weight", None)
    if weight is None or weight.dim() != 2:
        raise UnsupportedArchitectureError(f"Model type {model_type!r}: the unembedding has no 2-D weight.")
    return int(weight.shape[1]), int(weight.shape[0])


def _config_logit_scale(config: object, row: ArchitectureRow) -> float:
    if row.logit_scale is None:
        return 1.0
    attr, op = row.logit_scale
    value = getattr(config, attr, None)
    if value is None:
        return 1.0
    return float(value) if op == "mul" else 1.0 / float(value)


def _blocks(model: nn.Module, path: str, model_type: str) -> nn.ModuleList:
    blocks = _get(model, path, model_type, "decoder blocks")
    if not isinstance(blocks, nn.ModuleList) or len(blocks) == 0:
        raise UnsupportedArchitectureError(f"Model type {model_type!r}: {path!r} is not a non-empty ModuleList.")
    return blocks


def _build_spec(model: nn.Module, model_type: str, row: ArchitectureRow) -> ModelSpec:
    config = cast("PretrainedConfig", model.config)
    blocks = _blocks(model, row.blocks, model_type)
    unembed = _get(model, row.unembed, model_type, "unembedding")
    d_model, vocab = _sizes(model, model_type, unembed)
    if row.attn is None:
        layouts = _probe(model, blocks, vocab)[0]
    else:
        for sub, what in (
            (row.attn.split("|")[0] if "|" not in row.attn else None, "attention"),
            (row.mlp, "MLP"),
            (row.attn_out if row.attn_out != row.attn else None, "attention output"),
            (row.mlp_out, "MLP output"),
            *((h, "hyper-connection") for h in row.hyper or ()),
        ):
            if sub is not None:
                _get(blocks[0], sub, model_type, f"{what} sub-module of a block")
        layouts = tuple(LayerLayout.from_row(row, b) for b in blocks)
    text = config.get_text_config() if callable(getattr(config, "get_text_config", None)) else config
    softcap = getattr(text, row.softcap_attr, None) if row.softcap_attr else None
    final_norm = _get(model, row.final_norm, model_type, "final norm")
    streams = 1
    if row.streams is not None:
        streams = int(getattr(text, row.streams))
        collapse = _get(model, row.collapse, model_type, "stream collapse")
        if row.hyper_kind == "altup":
            collapse = AltUpCollapse(cast(nn.ModuleList, collapse))
        final_norm = StreamHead(collapse, final_norm, streams, row.stacked)
        d_model *= streams
    return ModelSpec(
        model=model,
        model_type=model_type,
        row=row,
        base=_get(model, row.base, model_type, "decoder body"),
        embed=_get(model, row.embed, model_type, "token embedding"),
        blocks=blocks,
        final_norm=final_norm,
        unembed=unembed,
        n_layers=len(blocks),
        d_model=d_model,
        vocab_size=vocab,
        softcap=float(softcap) if softcap else None,
        embed_scale=math.sqrt(d_model // streams) if row.embed_scale == "sqrt_hidden" else 1.0,
        structural=False,
        layouts=layouts,
        logit_scale=_config_logit_scale(text, row),
        streams=streams,
        stacked_streams=row.stacked,
        masks_padding=row.masks_padding,
        prefix_positions=int(getattr(text, row.prefix)) if row.prefix else 0,
        caches=row.caches,
        _paths=_row_paths(row),
    )


def _row_paths(row: ArchitectureRow) -> dict[str, str]:
    paths = {"base": row.base, "embed": row.embed, "blocks": row.blocks, "final_norm": row.final_norm, "unembed": row.unembed}
    if row.attn is not None:
        paths.update({"attn": row.attn, "mlp": row.mlp or "", "attn_out": row.attn_out or "", "mlp_out": row.mlp_out or ""})
    return paths


def _probe(model: nn.Module, blocks: nn.ModuleList, vocab: int):
    """Branch layouts of every block and the probe record (see :mod:`steerlens.model.probe`)."""
    from .probe import probe_layouts, record_forward

    try:
        dtype = next(model.parameters()).dtype
        if next(model.parameters()).device.type == "meta":
            raise RuntimeError("the model's weights are on the meta device")
        record = record_forward(model, blocks, vocab)
    except Exception as exc:  # noqa: BLE001 -- any failure leaves the branch sites unverified, so not offered
        note = f"steerlens could not run its probe forward pass to locate them ({type(exc).__name__}: {exc})"
        return tuple(LayerLayout({}, None, note, complete=False) for _ in blocks), None
    layouts = tuple(
        LayerLayout(
            {
                p: Part(path, where, scale, path in f.flat and where == "output", plus)  # type: ignore[arg-type]
                for p, (path, where, scale, plus) in f.parts.items()
            },
            f.mixer,
            f.note,
            f.resid_scale,
            f.complete,
            tuple(Part(path, "output", scale, path in f.flat) for path, scale in f.extras),
            f.bias,
            tuple(f.steps),
            f.out_norm,
        )
        for f in probe_layouts(record, dtype)
    )
    return layouts, record


class NormThenHead(nn.Module):
    """A final norm followed by a head transform (ModernBERT-decoder's prediction head) before the unembedding."""

    def __init__(self, norm: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.norm, self.head = norm, head

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(h))


def unstack(h: torch.Tensor, streams: int, stacked: str) -> torch.Tensor:
    """Flat residual streams ``[b, t, streams * d]`` in the layout the model's blocks carry them (see
    :class:`ArchitectureRow`); the inverse of :func:`flat_streams`."""
    if stacked == "inner":
        return h.unflatten(-1, (streams, h.shape[-1] // streams))
    if stacked == "outer":
        return h.unflatten(-1, (streams, h.shape[-1] // streams)).permute(2, 0, 1, 3).contiguous()
    return h


def flat_streams(h: torch.Tensor, stacked: str) -> torch.Tensor:
    """A block's residual streams as steerlens' flat ``[b, t, streams * d]``."""
    if stacked == "inner":
        return h.flatten(-2)
    if stacked == "outer":
        return h.permute(1, 2, 0, 3).flatten(-2)
    return h


class AltUpCollapse(nn.Module):
    """Gemma-3n's last step before its final norm: stream 0 as it is, every other stream projected back and scaled to
    stream 0's magnitude, then the mean of them all (its decoder body does this inline; this is the same computation)."""

    def __init__(self, projections: nn.ModuleList) -> None:
        super().__init__()
        self.projections = projections

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # [streams, batch, tokens, d]
        target = torch.mean(h[0] ** 2, dim=-1, keepdim=True) ** 0.5
        out = [h[0]]
        for i, proj in enumerate(self.projections, start=1):
            x = proj(h[i]).to(h.dtype)
            mag = torch.sqrt(torch.mean(x**2, dim=-1, keepdim=True).clamp(min=1e-5))
            out.append(x * target / mag)
        return torch.stack(out).mean(dim=0)


class StreamHead(nn.Module):
    """What a multi-stream model does to its last residual before the unembedding: the streams (``[..., streams *
    hidden]``, flat as steerlens' residual sites are) collapsed to one state, then the final norm."""

    def __init__(self, collapse: nn.Module, norm: nn.Module, streams: int, stacked: str) -> None:
        super().__init__()
        self.collapse, self.norm, self.streams, self.stacked = collapse, norm, streams, stacked

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        lead = h.shape[:-1]
        # the collapse reads a [batch, tokens, ...] layout: any other leading shape goes in as one batch row
        out = self.collapse(unstack(h.reshape(1, -1, h.shape[-1]), self.streams, self.stacked))
        return self.norm(out.reshape(*lead, out.shape[-1]))


_SOFTCAP_ATTRS = ("final_logit_softcapping", "logits_soft_cap", "output_logit_soft_cap")
_NOT_TEXT = ("vision", "visual", "image", "audio", "speech", "vit")
_NORM_NAME = ("norm", "ln_f", "ln_out", "layernorm", "final_layer")


def _structural_spec(model: nn.Module, model_type: str) -> ModelSpec:
    """Locate the parts of a model without a table row, verified by one probe forward pass."""
    from .probe import probe_head

    config = cast("PretrainedConfig", model.config)
    blocks_path, all_blocks = _structural_blocks(model, model_type)
    skipped = _text_skipped_layers(config, len(all_blocks))
    blocks = nn.ModuleList([b for i, b in enumerate(all_blocks) if i not in skipped]) if skipped else all_blocks
    parent_path = blocks_path.rpartition(".")[0]
    parent = model.get_submodule(parent_path) if parent_path else model
    inv = {id(m): n for n, m in model.named_modules()}
    get_in = getattr(model, "get_input_embeddings", None)
    get_out = getattr(model, "get_output_embeddings", None)
    embed_mod = get_in() if get_in else None
    out_mod = get_out() if get_out else None
    if embed_mod is None or out_mod is None or id(embed_mod) not in inv or id(out_mod) not in inv:
        raise UnsupportedArchitectureError(f"Model type {model_type!r}: no input/output embeddings found; is this a causal LM?")
    # the decoder body: the innermost module holding both the embedding and the blocks (it gets the token ids
    # and the 2-D attention mask, where the blocks' own parent may get embeddings and a 4-D mask, as on GIT)
    embed_parts, block_parts = inv[id(embed_mod)].split("."), blocks_path.split(".")
    common = []
    for a, b in zip(embed_parts, block_parts):
        if a != b:
            break
        common.append(a)
    base_path = ".".join(common)
    base = model.get_submodule(base_path) if base_path else model
    d_model, vocab = _sizes(model, model_type, out_mod)
    layouts, record = _probe(model, blocks, vocab)
    text = config.get_text_config() if callable(getattr(config, "get_text_config", None)) else config
    softcap_attr = next((a for a in _SOFTCAP_ATTRS if getattr(text, a, None)), None)
    softcap = float(getattr(text, softcap_attr)) if softcap_attr else None
    norms = _final_norm_candidates(model, parent, parent_path, all_blocks)
    # a head that transforms the normed state before the unembedding (ModernBERT's prediction head)
    heads = [
        (name, child)
        for name, child in model.named_children()
        if child is not base
        and child is not out_mod
        and not isinstance(child, (nn.ModuleList, nn.ModuleDict))
        and not any(m is base or m is out_mod for m in child.modules())
    ]
    norms = norms + [("", nn.Identity())]
    norms = norms + [(f"{n}+{h}", NormThenHead(nm, hm)) for n, nm in norms for h, hm in heads]
    if record is None:
        raise UnsupportedArchitectureError(
            f"Model type {model_type!r} is not in steerlens' architecture table, and {layouts[0].note}; its parts "
            "cannot be verified. Add a row for it to steerlens.model.architectures.ARCHITECTURES."
        )
    last = record.block_out[-1]
    head = None if last is None else probe_head(record, last, norms, out_mod, softcap, next(model.parameters()).dtype)
    if head is None:
        tried = ", ".join(p for p, _ in norms if p and "+" not in p) or "none"
        raise UnsupportedArchitectureError(
            f"Model type {model_type!r} is not in steerlens' architecture table, and no final norm (candidates: "
            f"{tried}, or none) followed by the unembedding reproduces its logits (it may transform the last "
            "hidden state in a way steerlens does not know). Add a row for it to "
            "steerlens.model.architectures.ARCHITECTURES."
        )
    final_path, logit_scale = head
    if abs(logit_scale - 1.0) < 1e-6:
        logit_scale = 1.0
    from .probe import masks_padding

    pads = masks_padding(model, vocab) if record is not None else True
    row = ArchitectureRow(
        base=base_path,
        embed=inv[id(embed_mod)],
        blocks=blocks_path,
        final_norm=final_path,
        unembed=inv[id(out_mod)],
        softcap_attr=softcap_attr,
    )
    final_norm = dict(norms)[final_path]
    return ModelSpec(
        model=model,
        model_type=model_type,
        row=row,
        base=base,
        embed=embed_mod,
        blocks=blocks,
        final_norm=final_norm,
        unembed=out_mod,
        n_layers=len(blocks),
        d_model=d_model,
        vocab_size=vocab,
        softcap=softcap,
        embed_scale=1.0,
        structural=True,
        layouts=layouts,
        logit_scale=logit_scale,
        masks_padding=pads,
        skipped_layers=skipped,
        _paths=_row_paths(row),
    )


def _text_skipped_layers(config: object, n_blocks: int) -> tuple[int, ...]:
    """Blocks a text-only forward pass never runs: Mllama's cross-attention layers (listed in the text config's
    ``cross_attention_layers``) attend to an image and are skipped without one, so HF's ``hidden_states`` and
    steerlens' layer numbers count the self-attention blocks only."""
    get_text = getattr(config, "get_text_config", None)
    text = get_text() if callable(get_text) else config
    layers = getattr(text, "cross_attention_layers", None)
    if not isinstance(layers, (list, tuple)) or not all(isinstance(i, int) for i in layers):
        return ()
    skipped = tuple(sorted({i for i in layers if 0 <= i < n_blocks}))
    return skipped if len(skipped) < n_blocks else ()


def _structural_blocks(model: nn.Module, model_type: str) -> tuple[str, nn.ModuleList]:
    config = cast("PretrainedConfig", model.config)
    text = getattr(config, "get_text_config", None)
    cfg = text() if callable(text) else config
    n_layers = next(
        (
            getattr(cfg, k)
            for k in ("num_hidden_layers", "n_layer", "num_layers", "n_layers")
            if isinstance(getattr(cfg, k, None), int)
        ),
        None,
    )
    every = [(name, mod) for name, mod in model.named_modules() if isinstance(mod, nn.ModuleList) and len(mod) > 1]
    lists = [(name, mod) for name, mod in every if n_layers is None or len(mod) == n_layers]
    if not lists:  # the config counts layers differently (LongCat-Flash counts two per block)
        lists = every
    # a block holds parameters of its own and is not itself a sub-module of another candidate's blocks
    lists = [(n, m) for n, m in lists if not any(n.startswith(o + ".") for o, _ in lists)]
    if len(lists) > 1:  # a multimodal model's vision / audio towers are not the text decoder
        text_only = [(n, m) for n, m in lists if not any(k in n.lower() for k in _NOT_TEXT)]
        lists = text_only or lists
    if len(lists) > 1:  # prefer the list with the most parameters (the decoder stack, not per-layer helpers)
        sizes = [sum(p.numel() for p in m.parameters()) for _, m in lists]
        best = max(sizes)
        lists = [lm for lm, s in zip(lists, sizes) if s == best]
    if len(lists) != 1:
        raise UnsupportedArchitectureError(
            f"Model type {model_type!r} is not in steerlens' architecture table, and the structural fallback found "
            f"{len(lists)} candidate block lists ({', '.join(n for n, _ in lists) or f'none of length {n_layers}'}; "
            "needs exactly one decoder stack). Add a row for it to steerlens.model.architectures.ARCHITECTURES."
        )
    return lists[0]


def _final_norm_candidates(
    model: nn.Module, base: nn.Module, base_path: str, blocks: nn.ModuleList
) -> list[tuple[str, nn.Module]]:
    """Norm-like children of the decoder body, those registered after the blocks first (never the embedding norm)."""
    names = [name for name, _ in base.named_children()]
    block_name = next((n for n, m in base.named_children() if m is blocks), None)
    after = names.index(block_name) + 1 if block_name in names else 0
    out = []
    for i, (name, child) in enumerate(base.named_children()):
        if isinstance(child, (nn.ModuleList, nn.ModuleDict)) or child is blocks:
            continue
        low = name.lower()
        if any(k in low for k in _NORM_NAME) or "norm" in type(child).__name__.lower():
            out.append((i >= after, f"{base_path}.{name}" if base_path else name, child))
    return [(p, m) for _, p, m in sorted(out, key=lambda t: not t[0])]  # stable: registered after the blocks first
