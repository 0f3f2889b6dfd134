"""Concept guidance: probes on labelled completions, per-layer concept vectors, guided generation.

* :class:`ConceptExample`, :func:`read_examples`, :func:`load_dataset` (shipped: ``"tone"``,
  ``"refusal"``), :func:`render` (chat template or a plain fallback, with the completion's token span).
* :func:`concept_activations` -- completion-token activations per layer (default: attention inputs).
* :class:`DiMProbe`, :class:`LogisticProbe`, :class:`PCAProbe` -- scikit-learn-like per-layer probes.
* :func:`train_concept` -> :class:`ConceptProbe`; :func:`guide` -- norm-preserving guidance as a context manager.
* :func:`guidance_sweep`, :func:`pnes` -- effect and perplexity against the guidance strength;
  :func:`independent_scorer` -- a judge that shares neither prompts nor layer with the concept.
"""

from .activations import ConceptActivations, concept_activations
from .data import ConceptExample, load_dataset, read_examples, split_examples
from .evaluate import (
    GuidanceSweep,
    ProbeScorer,
    completion_perplexity,
    guidance_sweep,
    held_out_judge,
    independent_scorer,
    pnes,
    probe_scorer,
)
from .guidance import ConceptProbe, guidance_edits, guide, train_concept
from .probes import DiMProbe, LogisticProbe, PCAProbe, Probe

__all__ = [
    "ConceptExample",
    "load_dataset",
    "read_examples",
    "split_examples",
    "train_concept",
    "ConceptProbe",
    "guide",
    "guidance_edits",
    "concept_activations",
    "ConceptActivations",
    "guidance_sweep",
    "GuidanceSweep",
    "pnes",
    "probe_scorer",
    "independent_scorer",
    "held_out_judge",
    "ProbeScorer",
    "completion_perplexity",
    "Probe",
    "DiMProbe",
    "LogisticProbe",
    "PCAProbe",
]
