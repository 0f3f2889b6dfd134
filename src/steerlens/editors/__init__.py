"""Trained representation editors (REMEDI): an attribute, stated in words, becomes an edit of an entity.

* :mod:`~steerlens.editors.data` -- :class:`EditSample`, a CounterFact-style benchmark built from the
  relation dataset (:func:`counterfact_from_relations`), the original CounterFact JSON
  (:func:`load_counterfact`), splits, :func:`filter_known`.
* :func:`precompute` -- entity and attribute states at a layer.
* Editors (:func:`make_editor`: linear, biaffine, mlp, scalar, identity, null, random), saved and loaded as
  artifacts (:meth:`Editor.save`, :meth:`Editor.load`; or ``steerlens.load``).
* :func:`train_editor` -- the REMEDI loss with AdamW and early stopping that keeps the best state.
* :func:`evaluate_edits` -- efficacy, paraphrases, neighbourhood, fluency and consistency for REMEDI,
  the prefix and replace baselines, control editors, the LRE-inverse edit and the LRC swap, in one table.
* :func:`inspect` -- REMEDI as a probe, with contextual/decontextual accuracy, F1 and MCC.

Example:
    >>> samples = counterfact_from_relations(["country capital city"], tokenizer=tok)
    >>> result = train_editor(model, tok, samples, layer=1)
    >>> edit_generate(model, tok, result.editor, [sample_for("Paris is", "Paris", "is in Japan")]).edited
"""

from .apply import EditedGeneration, edit_generate, sample_for
from .data import (
    EditSample,
    counterfact_from_relations,
    filter_known,
    known_splits,
    load_counterfact,
    load_samples,
    save_samples,
    split_samples,
)
from .editors import EDITOR_KINDS, Editor, make_editor, shipped_editor
from .evaluate import (
    EditMethod,
    EditorEdit,
    LrcSwapEdit,
    LreInverseEdit,
    MethodResult,
    Prefix,
    Replace,
    Unedited,
    evaluate_edits,
    results_table,
    write_results,
)
from .inputs import precompute
from .inspect import InspectResult, inspect
from .train import TrainResult, train_editor

__all__ = [
    "EditSample",
    "counterfact_from_relations",
    "load_counterfact",
    "load_samples",
    "save_samples",
    "split_samples",
    "known_splits",
    "filter_known",
    "sample_for",
    "Editor",
    "make_editor",
    "shipped_editor",
    "EDITOR_KINDS",
    "train_editor",
    "TrainResult",
    "evaluate_edits",
    "MethodResult",
    "results_table",
    "write_results",
    "EditMethod",
    "EditorEdit",
    "Prefix",
    "Replace",
    "Unedited",
    "LreInverseEdit",
    "LrcSwapEdit",
    "edit_generate",
    "EditedGeneration",
    "inspect",
    "InspectResult",
    "precompute",
]
