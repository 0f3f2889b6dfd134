"""The knowledge-edit task of ``steerlens bench``: every writer that edits an entity, on the same held-out facts.

Facts are the CounterFact-style samples built from the 47 shipped relations (``counterfact_from_relations(seed=0)``),
split 80/10/10 with ``split_samples(seed=0)`` *before* anything else: that is the split the shipped REMEDI editors
were trained on, so the test facts are ones the editor never saw. Within each part only facts the model knows
(the true object's first token in its top ``known_top_k`` on the prompt) are kept; the scoring is
:func:`steerlens.editors.evaluate_edits` (efficacy, paraphrase efficacy, neighbourhood specificity, fluency and
consistency of sampled generations).

Writers (:data:`EDIT_WRITERS`): ``unedited`` and ``prefix`` (the new fact stated before the prompt) as the
references, ``replace`` (the entity's name swapped for one that has the new object), ``remedi`` (a trained
editor: the shipped one when the model has one, else one trained here on the training facts), ``lre_inverse``
(``W+ (z' - z)`` from a per-relation LRE at the edit layer) and ``lrc_swap`` (the true object's relational
concept swapped for the new one's). The LRE and the LRC are fitted on the training facts of the test facts'
relations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..editors import (
    EditMethod,
    Editor,
    EditorEdit,
    EditSample,
    LrcSwapEdit,
    LreInverseEdit,
    Prefix,
    Replace,
    Unedited,
    counterfact_from_relations,
    evaluate_edits,
    shipped_editor,
    split_samples,
    train_editor,
)
from ..editors.data import known_sample_ids
from ..errors import ConfigError, DataFormatError

__all__ = ["EDIT_WRITERS", "knowledge_facts", "bench_editor", "editor_digest", "run_knowledge"]

EDIT_WRITERS = ("unedited", "prefix", "replace", "remedi", "lre_inverse", "lrc_swap")

#: the seed of the facts and of their split: the one the shipped editors were trained with
FACT_SEED = 0


def _known(
    model: torch.nn.Module,
    tokenizer: Any,
    pool: Sequence[EditSample],
    n: int | None,
    top_k: int,
    cache: Any,
) -> list[EditSample]:
    """The first ``n`` (all with ``None``) samples of ``pool``, in order, that the model knows; scored in chunks so a
    small ``n`` scores only a little more than it needs."""
    chosen: list[EditSample] = []
    step = 64 if n is not None else max(1, len(pool))
    for i in range(0, len(pool), step):
        part = list(pool[i : i + step])
        ids = known_sample_ids(model, tokenizer, part, top_k=top_k, cache=cache, progress=False)
        chosen.extend(s for s in part if s.id in ids)
        if n is not None and len(chosen) >= n:
            break
    return chosen if n is None else chosen[:n]


def knowledge_facts(
    model: torch.nn.Module,
    tokenizer: Any,
    *,
    relations: Sequence[str] | None = None,
    n_facts: int | None = None,
    n_train: int | None = None,
    top_k: int = 1,
    cache: Any = True,
) -> tuple[list[EditSample], list[EditSample]]:
    """Known training and test facts: the first ``n_facts`` known facts of the test part (of ``relations``, default
    all), and up to ``n_train`` known facts per relation of theirs from the training part."""
    facts = counterfact_from_relations(tokenizer=tokenizer, seed=FACT_SEED)
    if relations:
        have = {s.relation for s in facts}
        unknown = sorted(set(relations) - have)
        if unknown:
            raise ConfigError(f"No facts for relation(s) {unknown}; choose among {sorted(have)}.")
    parts = split_samples(facts, seed=FACT_SEED)
    wanted = set(relations) if relations else None
    test = _known(model, tokenizer, [s for s in parts["test"] if wanted is None or s.relation in wanted], n_facts, top_k, cache)
    if not test:
        raise DataFormatError(
            f"The model knows none of the test facts (top-{top_k}); raise known_top_k or choose other relations."
        )
    train: list[EditSample] = []
    for rel in sorted({s.relation for s in test}):
        train.extend(_known(model, tokenizer, [s for s in parts["train"] if s.relation == rel], n_train, top_k, cache))
    return train, test


def bench_editor(
    model: torch.nn.Module,
    tokenizer: Any,
    train: Sequence[EditSample],
    *,
    model_name: str,
    layer: int,
    epochs: int,
    seed: int,
    editor: Editor | str | None = None,
) -> tuple[Editor, str]:
    """The REMEDI editor to score and where it came from: ``editor`` (an editor or its folder), else the one shipped
    for ``model_name``, else one trained here on ``train`` at ``layer`` for ``epochs`` epochs."""
    if isinstance(editor, Editor):
        return editor, "given"
    if isinstance(editor, str):
        return Editor.load(editor, model), editor
    path = shipped_editor(model_name) if model_name else None
    if path is not None:
        return Editor.load(path, model), f"shipped ({model_name})"
    if len(train) < 4:
        raise DataFormatError(f"Only {len(train)} known training facts to train an editor on; the bench needs at least 4.")
    result = train_editor(model, tokenizer, train, layer, max_epochs=epochs, seed=seed, progress=False)
    return result.editor, f"trained here ({len(train)} facts, {epochs} epochs, best epoch {result.best_epoch})"


def editor_digest(editor: Editor) -> str:
    """A hash of the editor's kind, layer and weights (it enters the leaderboard's config hash)."""
    h = hashlib.sha256(f"{editor.kind}/{editor.layer}".encode())
    for name, t in sorted(editor.state_dict().items()):
        h.update(name.encode() + t.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def run_knowledge(
    model: torch.nn.Module,
    tokenizer: Any,
    writers: Sequence[str],
    train: Sequence[EditSample],
    test: Sequence[EditSample],
    *,
    editor: Editor | None,
    layer: int,
    lre_samples: int,
    n_generation: int,
    max_new_tokens: int,
    seed: int,
    batch_size: int,
    progress: bool,
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    """One row per writer: n (facts it covers), efficacy, its magnitude, paraphrase efficacy, neighbourhood,
    fluency, consistency and how often generations name the new object."""
    unknown = [w for w in writers if w not in EDIT_WRITERS]
    if unknown:
        raise ConfigError(f"Unknown edit writer(s) {unknown}; choose from {', '.join(EDIT_WRITERS)}.")
    if "remedi" in writers and editor is None:
        raise ConfigError("The 'remedi' writer needs an editor.")
    lre = LreInverseEdit(train, layer, max_samples=lre_samples, seed=seed)
    made: dict[str, EditMethod] = {
        "unedited": Unedited(),
        "prefix": Prefix(),
        "replace": Replace(seed=seed),
        "lre_inverse": lre,
        "lrc_swap": LrcSwapEdit(lre),
    }
    if editor is not None:
        made["remedi"] = EditorEdit(editor, name="remedi")
    results = evaluate_edits(
        model,
        tokenizer,
        test,
        [made[w] for w in writers],
        generation=n_generation > 0,
        n_generation=n_generation,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        seed=seed,
        n_examples=0,
        progress=progress,
    )
    rows = []
    for w, res in zip(writers, results):
        covered = res.n > 0
        rows.append(
            {
                "writer": w,
                "n": res.n,
                "efficacy": res.efficacy if covered else None,
                "efficacy_magnitude": res.efficacy_magnitude if covered else None,
                "paraphrase": res.paraphrase_efficacy,
                "neighbourhood": res.neighbourhood if covered else None,
                "neighbourhood_by_construction": res.neighbourhood_by_construction,
                "fluency": res.fluency,
                "consistency": res.consistency,
                "mentions_new": res.mentions_new,
            }
        )
        log(f"knowledge  {w:<12} efficacy {res.efficacy:.3f} on {res.n} facts")
    return rows
