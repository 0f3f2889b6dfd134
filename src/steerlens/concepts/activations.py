"""Activations at completion tokens, per layer: the training data of concept probes.

Following the concept-guidance recipe, each rendered example is truncated to its first
``max_completion_tokens`` completion tokens (and to ``max_input_len`` tokens from the left); the
representations of the completion tokens, *without* the last one, are taken, and of those the first
``ctx_len``. Every selected token is its own training sample carrying its example's label (no
pooling). (The seed locates the completion by rendering an empty assistant turn and subtracting two
template tokens; steerlens uses the completion's exact token span from the rendered text, so with a
template whose turn ends in a newline token the two selections differ on a few examples -- 11 of the
500 tone examples with Gemma's template.) The default site is the attention input of each block (``attn_in``: the pre-attention
norm's output, the seed's "pre-attn"); any site point works, e.g. ``resid_post``.

All examples run batched (right-padded, position ids from the mask) and the forward pass stops after
the deepest layer read, so the LM head never runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import DataFormatError, SiteError
from ..model.architectures import resolve
from ..model.capture import capture
from ..model.site import Site, SiteLike, as_sites
from ..model.tokens import pad
from .data import ConceptExample, check_labels, render

__all__ = ["ConceptActivations", "concept_activations"]


@dataclass
class ConceptActivations:
    """Token-level samples.

    Attributes:
        x: ``[n_tokens, n_layers, d]`` activations (fp32), layers in the order of ``layers``.
        labels: ``[n_tokens]`` the label of each token's example.
        example: ``[n_tokens]`` index of each token's example.
        layers: the layer of each slice of ``x``.
        point: the site point read.
        n_examples: number of examples.
    """

    x: torch.Tensor
    labels: torch.Tensor
    example: torch.Tensor
    layers: list[int]
    point: str
    n_examples: int

    @property
    def sites(self) -> list[Site]:
        """The site of each slice of ``x``."""
        return [Site(x, self.point) for x in self.layers]  # type: ignore[arg-type]

    def example_labels(self) -> torch.Tensor:
        out = torch.full((self.n_examples,), -1, dtype=torch.long)
        out[self.example] = self.labels
        return out


def concept_activations(
    model: torch.nn.Module,
    tokenizer: Any,
    examples: Sequence[ConceptExample],
    *,
    sites: SiteLike | Sequence[SiteLike] | None = None,
    ctx_len: int = 16,
    max_completion_tokens: int = 32,
    max_input_len: int = 1024,
    system_prompt: str = "",
    batch_size: int = 16,
    require_both_labels: bool = True,
    progress: bool | None = None,
) -> ConceptActivations:
    """Read the completion-token activations of ``examples`` at ``sites``.

    ``sites`` share one point; by default ``attn_in`` of every block (the seed's). A bare int ``n`` is
    ``resid_post.n``.
    """
    if not examples:
        raise DataFormatError("No examples given.")
    if require_both_labels:
        check_labels(examples)
    if ctx_len < 1 or max_completion_tokens < 2:
        raise DataFormatError("ctx_len must be >= 1 and max_completion_tokens >= 2.")
    spec = resolve(model)
    site_list = [Site(x, "attn_in") for x in range(spec.n_layers)] if sites is None else [spec.site(x) for x in as_sites(sites)]
    points = sorted({x.point for x in site_list})
    if len(points) != 1:
        raise SiteError(f"Concept sites must share one point, got {', '.join(points)}; read each point separately.")
    point = points[0]
    layer_list = [x.layer for x in site_list]
    if len(set(layer_list)) != len(layer_list):
        raise SiteError(f"Duplicate sites in {[str(x) for x in site_list]}.")
    rows: list[list[int]] = []
    masks: list[list[bool]] = []
    for i, ex in enumerate(examples):
        r = render(tokenizer, ex, system_prompt)
        a, b = r.completion
        b = min(b, a + max_completion_tokens)
        ids = r.ids[:b]
        cut = max(len(ids) - max_input_len, 0)
        ids = ids[cut:]
        a = max(a - cut, 0)
        b -= cut
        sel = [a <= t < b - 1 for t in range(len(ids))]  # completion tokens, the last one excluded
        chosen = [t for t, s in enumerate(sel) if s][:ctx_len]
        if not chosen:
            raise DataFormatError(
                f"Example {i} ({ex.completion[:40]!r}) has fewer than 2 completion tokens; "
                "probes need at least one token before the last."
            )
        keep = set(chosen)
        rows.append(ids)
        masks.append([t in keep for t in range(len(ids))])
    width = max(len(r) for r in rows)
    mask = torch.tensor([m + [False] * (width - len(m)) for m in masks])
    acts = capture(model, pad(rows), site_list, positions=mask, batch_size=batch_size, dtype=torch.float32, progress=progress)
    x = torch.stack([acts[s] for s in site_list], 1)
    example = acts.rows
    assert example is not None
    labels = torch.tensor([examples[int(i)].label for i in example])
    return ConceptActivations(x, labels, example, layer_list, point, len(examples))
