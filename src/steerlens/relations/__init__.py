"""Linear relational embeddings (LREs) and linear relational concepts (LRCs).

* :mod:`~steerlens.relations.data` -- the 47-relation dataset (shipped), :class:`Prompt`, prompt building.
* :class:`PromptValidator` -- keep the prompts the model already answers.
* :func:`train_lre` -> :class:`Lre` (``to_low_rank`` -> :class:`LowRankLre`, ``invert`` -> :class:`InvertedLre`),
  with exact Jacobians from ``torch.func``.
* :func:`train_relation_concepts` -> :class:`RelationalConcept`, :class:`ConceptMatcher`, :class:`ConceptSwapper`.
* :mod:`~steerlens.relations.evaluate` -- faithfulness, causality, concept accuracy and swaps, with baselines.
"""

from .data import Prompt, Relation, load_relation, load_relations, make_prompts, relation_names
from .jacobian import jacobians, object_activations, subject_activations
from .locate import locate
from .lrc import (
    ConceptMatcher,
    ConceptSwapper,
    MatchResult,
    RelationalConcept,
    RelationalConcepts,
    concepts_from_inverse,
    train_relation_concepts,
)
from .lre import InvertedLre, LowRankLre, Lre, train_lre
from .validate import PromptValidator

__all__ = [
    "Relation",
    "Prompt",
    "load_relation",
    "load_relations",
    "relation_names",
    "make_prompts",
    "PromptValidator",
    "train_lre",
    "Lre",
    "LowRankLre",
    "InvertedLre",
    "jacobians",
    "subject_activations",
    "object_activations",
    "locate",
    "train_relation_concepts",
    "concepts_from_inverse",
    "RelationalConcept",
    "RelationalConcepts",
    "ConceptMatcher",
    "MatchResult",
    "ConceptSwapper",
]
