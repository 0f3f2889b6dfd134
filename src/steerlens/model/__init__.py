"""Model access: the only part of steerlens that knows Hugging Face module paths.

* :class:`Site` -- typed activation addresses with one layer-numbering convention.
* :func:`resolve` -> :class:`ModelSpec` -- the located parts of a model (table + structural fallback).
* :func:`capture` -- batched, padding-aware reading of activations that stops the forward early.
* :func:`intervene` with :class:`Add`, :class:`Replace`, :class:`ProjectOut`, :class:`Transform` --
  scoped, composable edits whose positions are right with the KV cache and any padding.
* :func:`generate` -- generation that does not depend on how the batch was padded.
* :func:`token_span`, :func:`answer_span` -- token positions of substrings and answers.
"""

from .architectures import ARCHITECTURES, ArchitectureRow, LayerLayout, ModelSpec, Part, resolve, supported_model_types
from .capture import Activations, capture
from .generate import Generation, generate
from .hooks import HookGroup, hook_group
from .intervene import Add, Edit, Intervention, ProjectOut, Replace, Transform, intervene
from .positions import CallPositions, From, Positions, PositionTracker, Spans, Tokens
from .site import POINTS, Point, Site, SiteLike, as_site, as_sites, parse_sites
from .tokens import Batch, answer_span, as_batch, encode, pad, spans_to_mask, token_span

__all__ = [
    "ARCHITECTURES",
    "ArchitectureRow",
    "LayerLayout",
    "ModelSpec",
    "Part",
    "resolve",
    "supported_model_types",
    "Activations",
    "capture",
    "Generation",
    "generate",
    "HookGroup",
    "hook_group",
    "Add",
    "Transform",
    "Edit",
    "Intervention",
    "ProjectOut",
    "Replace",
    "intervene",
    "CallPositions",
    "From",
    "Positions",
    "PositionTracker",
    "Spans",
    "Tokens",
    "POINTS",
    "Point",
    "Site",
    "SiteLike",
    "as_site",
    "as_sites",
    "parse_sites",
    "Batch",
    "answer_span",
    "as_batch",
    "encode",
    "pad",
    "spans_to_mask",
    "token_span",
]
