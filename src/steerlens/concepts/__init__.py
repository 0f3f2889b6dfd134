"""Concept guidance: probes on labelled completions, per-layer concept vectors, guided generation.

* :class:`ConceptExample`, :func:`read_examples`, :func:`load_dataset` (shipped: ``"tone"``,
  ``"refusal"``), :func:`render` (chat template or a plain fallback, with the completion's token span).
* :func:`concept_activations` -- completion-token activations per layer (default: attention inputs).
* :class:`DiMProbe`, :class:`LogisticProbe`, :class:`PCAProbe` -- scikit-learn-like per-layer probes.
* :func:`train_concept` -> :class:`ConceptProbe`; :func:`guide` -- norm-preserving guidance as a context manager.
* :func:`guidance_sweep`, :func:`pnes` -- effect and perplexity against the guidance strength.
"""

from .activations import ConceptActivations, concept_activations
from .data import DATASETS, ConceptExample, Rendered, load_dataset, read_examples, render, split_examples
from .evaluate import GuidanceSweep, completion_perplexity, guidance_sweep, pnes, probe_scorer
from .guidance import ConceptProbe, guidance_edits, guide, train_concept
from .probes import PROBES, DiMProbe, LogisticProbe, PCAProbe, Probe, layer_accuracy

__all__ = [
    "ConceptActivations",
    "concept_activations",
    "DATASETS",
    "ConceptExample",
    "Rendered",
    "load_dataset",
    "read_examples",
    "render",
    "split_examples",
    "ConceptProbe",
    "guidance_edits",
    "guide",
    "train_concept",
    "GuidanceSweep",
    "completion_perplexity",
    "guidance_sweep",
    "pnes",
    "probe_scorer",
    "PROBES",
    "DiMProbe",
    "LogisticProbe",
    "PCAProbe",
    "Probe",
    "layer_accuracy",
]
