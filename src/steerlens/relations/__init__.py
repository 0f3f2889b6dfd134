"""Linear relational embeddings (LREs) and linear relational concepts (LRCs).

* :mod:`~steerlens.relations.data` -- the 47-relation dataset (shipped), :class:`Prompt`, prompt building.
* :class:`PromptValidator` -- keep the prompts the model already answers.
* :func:`train_lre` -> :class:`Lre` (``to_low_rank`` -> :class:`LowRankLre`, ``invert`` -> :class:`InvertedLre`),
  with exact Jacobians from ``torch.func``.
* :func:`train_relation_concepts` -> :class:`RelationalConcept`, :class:`ConceptMatcher`, :class:`ConceptSwapper`.
* :mod:`~steerlens.relations.evaluate` -- faithfulness, causality, concept accuracy and swaps, with baselines.
"""

from .data import (
    CATEGORIES,
    Prompt,
    Relation,
    Sample,
    balance_grouped,
    load_relation,
    load_relations,
    make_prompts,
    relation_names,
    stable_shuffle,
)
from .jacobian import jacobians, object_activations, subject_activations
from .locate import Located, locate, locate_answer
from .lrc import (
    ConceptMatcher,
    ConceptSwapper,
    MatchResult,
    RelationalConcept,
    RelationalConcepts,
    concepts_from_inverse,
    default_rank,
    train_relation_concepts,
)
from .lre import InvertedLre, LowRankLre, Lre, train_lre
from .validate import PromptValidator, answer_matches

__all__ = [
    "CATEGORIES",
    "Prompt",
    "Relation",
    "Sample",
    "balance_grouped",
    "load_relation",
    "load_relations",
    "make_prompts",
    "relation_names",
    "stable_shuffle",
    "InvertedLre",
    "Located",
    "LowRankLre",
    "Lre",
    "jacobians",
    "locate",
    "locate_answer",
    "object_activations",
    "subject_activations",
    "train_lre",
    "ConceptSwapper",
    "ConceptMatcher",
    "MatchResult",
    "RelationalConcept",
    "concepts_from_inverse",
    "default_rank",
    "RelationalConcepts",
    "train_relation_concepts",
    "PromptValidator",
    "answer_matches",
]
