"""Typed addresses of activations inside a decoder-only transformer.

Layer numbering, the one convention used everywhere in steerlens
-----------------------------------------------------------------
Blocks are numbered ``0 .. n_layers - 1``. For block ``i``:

* ``resid_pre``  -- the residual stream entering block ``i``. It equals Hugging Face's
  ``output_hidden_states[i]`` (``resid_pre`` of layer 0 is the embedding output, scaled where
  the model scales it).
* ``resid_post`` -- the residual stream leaving block ``i``, *before* any final norm. For
  ``i < n_layers - 1`` it equals ``resid_pre`` of layer ``i + 1`` and ``output_hidden_states[i + 1]``.
  (Many HF models apply the final norm to their last ``hidden_states`` entry; ``resid_post`` of the
  last layer is always the raw block output.)
* ``attn_in`` / ``mlp_in`` -- what the attention / MLP sub-module receives (after the pre-norm,
  where the model has one).
* ``attn_out`` / ``mlp_out`` -- what the attention / MLP branch adds to the residual stream (after
  a post-norm, where the model has one, as Gemma-2/3 and OLMo-2 do).
* ``mixer_in`` / ``mixer_out`` -- the same for the block's *token-mixing* branch, whatever it is:
  attention, or a state-space / recurrent / convolution layer (Mamba, RWKV, xLSTM, the recurrent
  layers of hybrids). On an attention layer ``mixer_*`` and ``attn_*`` are the same activation; a
  layer without attention has ``mixer_*`` but no ``attn_*`` site, and asking for one raises
  :class:`~steerlens.errors.SiteError` saying what the layer has instead. Where a block runs
  attention and a recurrent mixer side by side (Falcon-H1), ``mixer_out`` is their sum and
  ``attn_out`` the attention alone; likewise ``mlp_out`` is the sum of an MoE and a shared MLP that a
  block adds separately (Granite-MoE-Shared).

Every block verifies ``resid_post == resid_pre + mixer_out + mlp_out`` (parallel attention/MLP
blocks included); where a family scales its branches (Granite's ``residual_multiplier``),
``ModelSpec.layout(layer)`` records the factor, and where it adds a further branch with no site
(Gemma-4's per-layer input) the layout lists it. A block that is not such a sum (hyper-connections,
stacked residual streams) offers no branch sites rather than wrong ones.

Negative layers count from the end, as in Python: ``Site(-1)`` is the last block.

A bare layer number
-------------------
Wherever steerlens takes a site -- every method, every CLI option -- it also takes a bare int or a
string. **A bare int ``n`` always means ``Site(n)``, i.e. ``resid_post.n``: the residual stream
leaving block ``n``.** A string is parsed by :meth:`Site.parse` (``"resid_pre.6"``, ``"attn_in:3"``,
``"6"``). Methods whose paper used another point say so by giving an explicit :class:`Site` (ActAdd's
"layer 6" is ``Site(6, "resid_pre")``; concept guidance reads ``attn_in``), never by reading a bare
int differently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from ..errors import SiteError

__all__ = ["Point", "POINTS", "Site", "SiteLike", "as_site", "as_sites", "parse_sites"]

Point = Literal["resid_pre", "resid_post", "attn_in", "attn_out", "mlp_in", "mlp_out", "mixer_in", "mixer_out"]
POINTS: tuple[str, ...] = get_args(Point)

# Order of points inside one block, used to sort sites in forward-pass order.
_POINT_ORDER = {
    "resid_pre": 0,
    "mixer_in": 1,
    "attn_in": 1,
    "mixer_out": 2,
    "attn_out": 2,
    "mlp_in": 3,
    "mlp_out": 4,
    "resid_post": 5,
}


@dataclass(frozen=True)
class Site:
    """An activation address: a block index and a point in that block.

    Args:
        layer: Block index, ``0 .. n_layers - 1``; negative values count from the end.
        point: Where in the block (see the module docstring); ``"resid_post"`` by default.

    Example:
        >>> Site(6)
        Site(layer=6, point='resid_post')
        >>> Site.parse("resid_pre.3")
        Site(layer=3, point='resid_pre')
    """

    layer: int
    point: Point = "resid_post"

    def __post_init__(self) -> None:
        if isinstance(self.layer, bool) or not isinstance(self.layer, int):
            raise SiteError(f"Site layer must be an int, got {self.layer!r} ({type(self.layer).__name__}).")
        if self.point not in POINTS:
            raise SiteError(f"Unknown site point {self.point!r}; expected one of {', '.join(POINTS)}.")

    @classmethod
    def parse(cls, text: str) -> Site:
        """Parse ``"resid_post.6"``, ``"resid_pre:3"``, ``"mlp_out 2"`` or a bare layer ``"6"``."""
        s = text.strip()
        m = re.fullmatch(r"(?:([a-z_]+)\s*[.:\s]\s*)?(-?\d+)", s)
        if not m:
            raise SiteError(
                f"Cannot parse site {text!r}; write POINT.LAYER such as 'resid_post.6' "
                f"(points: {', '.join(POINTS)}) or a bare layer number."
            )
        point = m.group(1) or "resid_post"
        if point not in POINTS:
            raise SiteError(f"Unknown site point {point!r} in {text!r}; expected one of {', '.join(POINTS)}.")
        return cls(int(m.group(2)), point)  # type: ignore[arg-type]

    def normalized(self, n_layers: int) -> Site:
        """Return the same site with a non-negative layer, checked against ``n_layers``."""
        layer = self.layer + n_layers if self.layer < 0 else self.layer
        if not 0 <= layer < n_layers:
            raise SiteError(
                f"Layer {self.layer} is outside this model: it has {n_layers} blocks, so valid layers are "
                f"0..{n_layers - 1} (or -{n_layers}..-1 counting from the end)."
            )
        return Site(layer, self.point) if layer != self.layer else self

    @property
    def order(self) -> tuple[int, int]:
        """Sort key in forward-pass order (only meaningful for normalised sites)."""
        return (self.layer, _POINT_ORDER[self.point])

    def __str__(self) -> str:
        return f"{self.point}.{self.layer}"


SiteLike = Site | int | str
"""A :class:`Site`, a bare layer int (``resid_post`` of that block) or a site string (:meth:`Site.parse`)."""


def as_site(site: SiteLike) -> Site:
    """The :class:`Site` a site-like value names: an int ``n`` is ``Site(n)`` (``resid_post.n``)."""
    if isinstance(site, Site):
        return site
    if isinstance(site, int) and not isinstance(site, bool):
        return Site(site)
    if isinstance(site, str):
        return Site.parse(site)
    raise SiteError(
        f"A site must be a Site, a layer int (meaning resid_post of that block) or a string such as 'resid_pre.6', "
        f"got {site!r} ({type(site).__name__})."
    )


def as_sites(sites: SiteLike | Sequence[SiteLike]) -> list[Site]:
    """A list of sites from one site-like value or a sequence of them (see :func:`as_site`)."""
    if isinstance(sites, (Site, int, str)):
        return [as_site(sites)]
    try:
        out = [as_site(s) for s in sites]
    except TypeError:
        raise SiteError(f"Expected a site or a sequence of sites, got {sites!r}.") from None
    if not out:
        raise SiteError("Give at least one site.")
    return out


def parse_sites(text: str, n_layers: int) -> list[Site]:
    """Sites from a comma-separated list (the command line's one grammar for sites).

    Each item is ``[POINT.]LAYERS`` where ``LAYERS`` is a layer (``6``, ``-1``), a range (``0-17``) or
    ``all``; without a point it is ``resid_post``. Examples: ``"6"`` (``resid_post.6``),
    ``"resid_pre.6"``, ``"resid_pre.0-17"``, ``"attn_in.all"``, ``"mlp_out.2,mlp_out.4"``. Layers are
    returned non-negative, checked against ``n_layers``.
    """
    out: list[Site] = []
    for item in text.split(","):
        item = item.strip()
        m = re.fullmatch(r"(?:([a-z_]+)\s*[.:]\s*)?(all|-?\d+(?:\s*-\s*-?\d+)?)", item)
        if not m:
            raise SiteError(
                f"Cannot read sites {text!r} (at {item!r}): write items such as '6', 'resid_pre.6', 'resid_pre.0-17' "
                f"or 'attn_in.all', separated by commas (points: {', '.join(POINTS)}; a bare number means resid_post)."
            )
        point = m.group(1) or "resid_post"
        if point not in POINTS:
            raise SiteError(f"Unknown site point {point!r} in {text!r}; expected one of {', '.join(POINTS)}.")
        layers = m.group(2)
        if layers == "all":
            numbers = list(range(n_layers))
        else:
            r = re.fullmatch(r"(-?\d+)\s*-\s*(-?\d+)", layers)
            numbers = list(range(int(r.group(1)), int(r.group(2)) + 1)) if r else [int(layers)]
            if r and not numbers:
                raise SiteError(f"Empty layer range {layers!r} in {text!r}; write it low-high, e.g. 0-17.")
        out.extend(Site(x, point).normalized(n_layers) for x in numbers)  # type: ignore[arg-type]
    return out
