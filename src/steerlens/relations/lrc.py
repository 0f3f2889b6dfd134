"""Linear relational concepts (LRCs): concept directions from inverse LREs, matching, and causal swaps.

For a relation and one of its objects ``o``, the concept vector is the unit-normalised mean of the
inverse LRE applied to that object's object activations: ``v_o = normalize(mean_i R+(o_i))``. It
lives in the subject layer's residual stream: ``v_o . h`` at the subject token scores how much the
subject "has" object ``o`` (:class:`ConceptMatcher`), and ``h += m (v_add - v_remove)`` swaps one
object for another (:class:`ConceptSwapper`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..artifacts import load_artifact, register, save_artifact
from ..errors import DataFormatError, IncompatibleArtifactError, ShapeError, SiteError
from ..model.architectures import resolve
from ..model.capture import capture, next_token_logprobs
from ..model.generate import generate
from ..model.intervene import Transform, intervene
from ..model.positions import Spans
from ..model.site import Site
from ..model.tokens import pad
from .data import Prompt
from .jacobian import object_activations
from .locate import Aggregation, locate, locate_answer
from .lre import InvertedLre, train_lre
from .validate import PromptValidator

__all__ = [
    "RelationalConcept",
    "train_relation_concepts",
    "concepts_from_inverse",
    "RelationalConcepts",
    "ConceptMatcher",
    "MatchResult",
    "ConceptSwapper",
    "default_rank",
]


@dataclass
class RelationalConcept:
    """A unit direction in block ``layer``'s output (the subject layer) standing for ``relation: object``."""

    layer: int
    vector: torch.Tensor
    object: str
    relation: str
    name: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.vector.dim() != 1:
            raise ShapeError(f"A concept vector must be 1-D, got shape {tuple(self.vector.shape)}.")
        if not self.name:
            self.name = f"{self.relation}: {self.object}"

    def __call__(self, activations: torch.Tensor) -> torch.Tensor:
        """``v . a`` for ``[d]`` (a scalar) or ``[n, d]`` (``[n]``) activations."""
        if activations.shape[-1] != self.vector.shape[0]:
            raise ShapeError(f"Activations have size {activations.shape[-1]}, the concept {self.vector.shape[0]}.")
        return activations @ self.vector.to(device=activations.device, dtype=activations.dtype)


def default_rank(d_model: int) -> int:
    """The inverse-LRE rank used when none is given: 200 (linear-relational's default), at most ``d_model``."""
    return min(200, d_model)


def concepts_from_inverse(
    model: torch.nn.Module,
    tokenizer: Any,
    inverse: InvertedLre | Callable[[str], InvertedLre],
    prompts: Sequence[Prompt],
    *,
    relation: str | None = None,
    object_layer: int | None = None,
    aggregation: Aggregation | None = None,
    batch_size: int = 16,
    name_fn: Callable[[str, str], str] | None = None,
) -> RelationalConcepts:
    """One concept per object of ``prompts``: ``normalize(mean_i R+(o_i))`` over that object's prompts.

    ``inverse`` is one inverted LRE, or a function ``object -> InvertedLre`` (an LRE per object); with
    a function, ``relation``, ``object_layer`` and ``aggregation`` must be given.
    """
    if isinstance(inverse, InvertedLre):
        relation = relation if relation is not None else inverse.relation
        object_layer = inverse.object_layer if object_layer is None else object_layer
        aggregation = aggregation or inverse.aggregation
    elif relation is None or object_layer is None or aggregation is None:
        raise DataFormatError("With an object -> InvertedLre function, give relation, object_layer and aggregation.")
    groups: dict[str, list[Prompt]] = {}
    for p in prompts:
        groups.setdefault(p.object_name, []).append(p)
    if len(groups) < 2:
        raise DataFormatError(
            f"Relation {relation!r}: the prompts have {len(groups)} object(s); concepts need at least two to tell apart."
        )
    acts = object_activations(model, tokenizer, prompts, object_layer, aggregation=aggregation, batch_size=batch_size)
    out = RelationalConcepts()
    for obj, group in groups.items():
        idx = [i for i, p in enumerate(prompts) if p.object_name == obj]
        inv = inverse if isinstance(inverse, InvertedLre) else inverse(obj)
        v = inv(acts[idx].to(inv.u.dtype)).float().mean(0)
        v = v / v.norm().clamp_min(1e-12)
        name = name_fn(relation, obj) if name_fn else ""
        out.append(
            RelationalConcept(
                inv.subject_layer,
                v.cpu(),
                obj,
                relation,
                name,
                {"num_prompts": len(group), "rank": inv.rank, "object_layer": object_layer},
            )
        )
    return out


def train_relation_concepts(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[Prompt],
    subject_layer: int,
    object_layer: int,
    *,
    relation: str = "",
    rank: int | None = None,
    max_lre_samples: int | None = 20,
    aggregation: Aggregation = "mean",
    validate: bool = True,
    seed: int | str = 42,
    batch_size: int = 8,
    progress: bool | None = None,
) -> RelationalConcepts:
    """Train one LRE on a balanced subset of prompts, invert it, and make a concept per object.

    Args:
        prompts: Prompts with answers (``object_name`` groups them into concepts).
        subject_layer: The LRE's subject layer (a block output); the concepts live there.
        object_layer: The LRE's object layer.
        rank: Rank of the inverse LRE (default :func:`default_rank`).
        max_lre_samples: Prompts used for the LRE (balanced across objects); concepts use all prompts.
        validate: First keep only the prompts the model answers correctly.
    """
    d = resolve(model).d_model
    rank = default_rank(d) if rank is None else rank
    if not isinstance(rank, int) or not 1 <= rank <= d:
        raise ShapeError(f"rank must be between 1 and the hidden size {d}, got {rank!r}.")
    if validate:
        prompts = PromptValidator(model, tokenizer).filter(prompts, progress=progress)
        if not prompts:
            raise DataFormatError(f"Relation {relation!r}: the model answers none of the prompts correctly.")
    if len({p.object_name for p in prompts}) < 2:
        raise DataFormatError(f"Relation {relation!r} has one object among its prompts; concepts need at least two.")
    lre = train_lre(
        model,
        tokenizer,
        prompts,
        subject_layer,
        object_layer,
        relation=relation,
        aggregation=aggregation,
        max_samples=max_lre_samples,
        seed=seed,
        progress=progress,
    )
    return concepts_from_inverse(model, tokenizer, lre.invert(rank), prompts, relation=relation, batch_size=batch_size)


class RelationalConcepts(list):  # list[RelationalConcept]
    """A list of :class:`RelationalConcept` (any relations and layers) that saves and loads as one artifact."""

    def save(self, path: str | os.PathLike[str], model: torch.nn.Module | None = None) -> Path:
        """Save as a steerlens artifact (kind ``"relational_concepts"``), with ``model``'s fingerprint if given."""
        if not self:
            raise DataFormatError("No concepts to save.")
        tensors = {f"concept.{i}": c.vector for i, c in enumerate(self)}
        config = {
            "concepts": [
                {"layer": c.layer, "object": c.object, "relation": c.relation, "name": c.name, "metadata": c.metadata}
                for c in self
            ]
        }
        return save_artifact(path, "relational_concepts", tensors, config, model=model)

    @classmethod
    def load(cls, path: str | os.PathLike[str], model: torch.nn.Module | None = None) -> RelationalConcepts:
        """Load concepts saved with :meth:`save` (given ``model``, refuse another model's)."""
        return _load_concepts(load_artifact(path, model=model, kind="relational_concepts"), model)


@register("relational_concepts")
def _load_concepts(art, model) -> RelationalConcepts:
    return RelationalConcepts(
        RelationalConcept(c["layer"], art.tensors[f"concept.{i}"], c["object"], c["relation"], c["name"], c.get("metadata") or {})
        for i, c in enumerate(art.config["concepts"])
    )


def _check_concepts(concepts: Sequence[RelationalConcept], model: torch.nn.Module) -> dict[str, RelationalConcept]:
    spec = resolve(model)
    if not concepts:
        raise DataFormatError("No concepts given.")
    by_name: dict[str, RelationalConcept] = {}
    for c in concepts:
        if c.vector.shape[0] != spec.d_model:
            raise IncompatibleArtifactError(
                f"Concept {c.name!r} has size {c.vector.shape[0]} but the model's hidden size is {spec.d_model}; it was "
                "made for another model."
            )
        spec.site(Site(c.layer))  # raises SiteError for a layer the model does not have
        if c.name in by_name:
            raise DataFormatError(f"Two concepts are named {c.name!r}; names must be unique.")
        by_name[c.name] = c
    return by_name


Subject = str | int


def _subject_index(tokenizer: Any, text: str, subject: Subject) -> tuple[list[int], int]:
    if isinstance(subject, int) and not isinstance(subject, bool):
        ids = list(tokenizer(text)["input_ids"])
        if not -len(ids) <= subject < len(ids):
            raise SiteError(f"Subject token {subject} is outside the {len(ids)} tokens of {text!r}.")
        return ids, subject % len(ids)
    loc = locate(tokenizer, Prompt(text, "-", str(subject)), with_answer=False)
    return loc.ids, loc.subject


@dataclass
class MatchResult:
    """Scores of every concept for one query; ``best`` is the highest-scoring concept's name."""

    scores: dict[str, float]

    @property
    def best(self) -> str:
        return max(self.scores, key=self.scores.__getitem__)


class ConceptMatcher:
    """Score concepts against a subject's activation, each at its own layer (only those layers are read).

    Args:
        concepts: The concepts (names must be unique).
        map_activations: Optional ``{layer: [n, d]} -> {layer: [n, d]}`` applied before scoring (e.g. an SAE).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        concepts: Sequence[RelationalConcept],
        map_activations: Callable[[dict[int, torch.Tensor]], Mapping[int, torch.Tensor]] | None = None,
    ):
        self.model, self.tokenizer = model, tokenizer
        self.concepts = _check_concepts(concepts, model)
        self.map_activations = map_activations
        self.layers = sorted({c.layer for c in concepts})

    def activations(self, queries: Sequence[tuple[str, Subject]], batch_size: int = 16) -> dict[int, torch.Tensor]:
        """``{layer: [n, d]}`` subject-token activations of the queries (fp32, CPU)."""
        located = [_subject_index(self.tokenizer, t, s) for t, s in queries]
        acts = capture(
            self.model,
            pad([ids for ids, _ in located]),
            [Site(layer) for layer in self.layers],
            positions=torch.tensor([j for _, j in located]),
            batch_size=batch_size,
            dtype=torch.float32,
            offload=True,
            progress=False,
        )
        return {layer: acts[Site(layer)] for layer in self.layers}

    def scores(self, queries: Sequence[tuple[str, Subject]], batch_size: int = 16) -> tuple[list[str], torch.Tensor]:
        """Concept names and the ``[n, n_concepts]`` score matrix."""
        acts = self.activations(queries, batch_size)
        if self.map_activations is not None:
            acts = dict(self.map_activations(acts))
        names = list(self.concepts)
        cols = [self.concepts[n](acts[self.concepts[n].layer]) for n in names]
        return names, torch.stack(cols, 1)

    def query(self, text: str, subject: Subject) -> MatchResult:
        """Scores of every concept for ``subject`` (a substring, last occurrence; or a token index) in ``text``."""
        return self.query_bulk([(text, subject)])[0]

    def query_bulk(self, queries: Sequence[tuple[str, Subject]], batch_size: int = 16) -> list[MatchResult]:
        """:meth:`query` for many ``(text, subject)`` pairs, batched."""
        names, s = self.scores(queries, batch_size)
        return [MatchResult(dict(zip(names, row.tolist()))) for row in s]


class ConceptSwapper:
    """Swap concepts at a subject's token: ``h += m (v_add - v_remove)`` at one layer or at every layer.

    ``m = strength * ||h||`` per token, or ``strength * (h . v_remove)`` with ``use_projection=True``.
    With ``layers="all"`` the two concepts' vectors are added at every block's output (as the LRC
    paper's evaluation does, with a small strength such as 0.05-0.1); with an int, only there
    (the concept layer, with a strength near 1-3). Edits go through :func:`steerlens.model.intervene`,
    so the subject token is right with padding, batching and the KV cache.
    """

    def __init__(self, model: torch.nn.Module, tokenizer: Any, concepts: Sequence[RelationalConcept]):
        self.model, self.tokenizer = model, tokenizer
        self.concepts = _check_concepts(concepts, model)
        self.n_layers = resolve(model).n_layers

    def _concept(self, name: str) -> RelationalConcept:
        if name not in self.concepts:
            import difflib

            close = difflib.get_close_matches(name, list(self.concepts), n=3)
            raise DataFormatError(f"No concept named {name!r}." + (f" Did you mean {close}?" if close else ""))
        return self.concepts[name]

    def edits(
        self,
        swaps: Sequence[tuple[str, str]],
        subject_positions: Sequence[int],
        *,
        layers: int | str = "all",
        strength: float = 1.0,
        use_projection: bool = False,
    ) -> list[Transform]:
        """The edits for a batch: ``swaps[i] = (remove, add)`` at row i's subject token."""
        if not torch.isfinite(torch.tensor(float(strength))):
            raise DataFormatError(f"strength must be finite, got {strength}.")
        if layers == "all":
            layer_list = list(range(self.n_layers))
        elif isinstance(layers, int) and not isinstance(layers, bool):
            layer_list = [resolve(self.model).site(Site(layers)).layer]
        else:
            raise SiteError(f"layers must be 'all' or a layer index, got {layers!r}.")
        remove = torch.stack([self._concept(r).vector for r, _ in swaps]).float()
        add = torch.stack([self._concept(a).vector for _, a in swaps]).float()
        spans = Spans([(j, j + 1) for j in subject_positions])

        def fn(h: torch.Tensor, pos: Any) -> torch.Tensor:
            rm, ad = remove.to(h.device), add.to(h.device)
            hf = h.float()
            k = torch.einsum("btd,bd->bt", hf, rm)[..., None] if use_projection else hf.norm(dim=-1, keepdim=True)
            return (hf + strength * k * (ad - rm)[:, None, :]).to(h.dtype)

        return [Transform(Site(layer), fn, positions=spans) for layer in layer_list]

    def _rows(self, requests: Sequence[tuple[str, Subject, str, str]]) -> tuple[list[str], list[int], list[tuple[str, str]]]:
        texts, pos, swaps = [], [], []
        for text, subject, remove, add in requests:
            _, j = _subject_index(self.tokenizer, text.strip(), subject)
            texts.append(text.strip())
            pos.append(j)
            swaps.append((remove, add))
        return texts, pos, swaps

    def swap_and_predict(
        self,
        requests: Sequence[tuple[str, Subject, str, str]],
        *,
        max_new_tokens: int = 1,
        layers: int | str = "all",
        strength: float = 1.0,
        use_projection: bool = False,
        batch_size: int = 12,
    ) -> list[str]:
        """Greedy continuations after swapping ``remove`` for ``add`` at each ``(text, subject, remove, add)``."""
        out: list[str] = []
        for i in range(0, len(requests), batch_size):
            texts, pos, swaps = self._rows(requests[i : i + batch_size])
            with intervene(self.model, self.edits(swaps, pos, layers=layers, strength=strength, use_projection=use_projection)):
                gen = generate(self.model, self.tokenizer, texts, max_new_tokens=max_new_tokens)
            out.extend(gen.texts or [])
        return out

    def answer_probabilities(
        self,
        requests: Sequence[tuple[str, Subject, str, str]],
        answers: Sequence[Sequence[str]],
        *,
        layers: int | str = "all",
        strength: float = 1.0,
        use_projection: bool = False,
        batch_size: int = 12,
    ) -> list[list[float]]:
        """Per request, the edited model's probability of each candidate answer (teacher-forced
        ``prompt + " " + answer``; an answer's probability is its least likely token's)."""
        if len(answers) != len(requests):
            raise DataFormatError(f"{len(answers)} answer lists for {len(requests)} requests.")
        out: list[list[float]] = []
        for i in range(0, len(requests), batch_size):
            part = requests[i : i + batch_size]
            texts, pos, swaps = self._rows(part)
            rows, owners, spans, row_swaps, row_pos = [], [], [], [], []
            for r, (t, cands) in enumerate(zip(texts, answers[i : i + batch_size])):
                for a in cands:
                    ids, predict = locate_answer(self.tokenizer, t, a)
                    rows.append(ids)
                    owners.append(r)
                    spans.append(predict)
                    row_swaps.append(swaps[r])
                    row_pos.append(pos[r])
            with intervene(
                self.model, self.edits(row_swaps, row_pos, layers=layers, strength=strength, use_projection=use_projection)
            ):
                lps = next_token_logprobs(self.model, rows, batch_size=len(rows))
            res: list[list[float]] = [[] for _ in part]
            for r, lp, sp in zip(owners, lps, spans):
                res[r].append(float(lp[list(sp)].min().exp()))
            out.extend(res)
        return out
