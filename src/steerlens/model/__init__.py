"""Model access: the only part of steerlens that knows Hugging Face module paths.

* :class:`Site` -- typed activation addresses with one layer-numbering convention.
* :func:`resolve` -> :class:`ModelSpec` -- the located parts of a model (table + structural fallback).
* :func:`capture` -- batched, padding-aware reading of activations that stops the forward early.
* :func:`intervene` with :class:`Add`, :class:`Replace`, :class:`ProjectOut`, :class:`Transform` --
  scoped, composable edits whose positions are right with the KV cache and any padding.
* :func:`generate` -- generation that does not depend on how the batch was padded, with per-token
  :class:`Monitor` readings; :class:`Conditional` -- an edit that fires only where a monitor reads so.
* :func:`token_span`, :func:`answer_span` -- token positions of substrings and answers.
"""

from .architectures import ModelSpec, resolve, supported_model_types
from .capture import Activations, capture
from .generate import Generation, generate
from .intervene import Add, Edit, Intervention, OnRows, ProjectOut, Replace, Transform, intervene
from .monitor import Conditional, Monitor
from .positions import From, Positions, Spans, Tokens
from .site import POINTS, Site, SiteLike, parse_sites
from .tokens import answer_span, token_span

__all__ = [
    "Site",
    "SiteLike",
    "POINTS",
    "parse_sites",
    "resolve",
    "ModelSpec",
    "supported_model_types",
    "capture",
    "Activations",
    "intervene",
    "Intervention",
    "Edit",
    "Add",
    "Replace",
    "ProjectOut",
    "Transform",
    "OnRows",
    "Monitor",
    "Conditional",
    "Positions",
    "Tokens",
    "From",
    "Spans",
    "generate",
    "Generation",
    "token_span",
    "answer_span",
]
