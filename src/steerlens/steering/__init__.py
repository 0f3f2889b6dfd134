"""Activation additions (ActAdd, x-vectors) and contrastive steering vectors, with side-by-side generation.

* :class:`ActivationAddition`, :func:`x_vector`, :class:`ActAdd` -- a steering prompt's residual,
  position by position, added to the front (or back, middle, an offset) of the input's.
* :func:`train_steering_vector` -> :class:`SteeringVector` -- one direction per layer from contrast
  pairs (mean difference, PCA, logistic), applied at all, generated or later positions; GGUF export.
* :func:`compare` -> :class:`Comparison` -- paired-seed steered vs unsteered completions, printed or HTML.
* :func:`calibrate` -> :class:`Calibration` -- the strongest site and strength within a side-effect budget
  (KL and perplexity ratio on neutral text), by successive halving or the full grid, with its frontier.
* metrics (:func:`word_count`, :func:`sentiment`, :func:`logprob_change`, :func:`next_token_effect` ...)
  and :func:`sweep` over sites x strengths with a plot.
"""

from .addition import ActAdd, ActivationAddition, x_vector
from .calibrate import Calibration, ContrastEffect, TokenEffect, calibrate
from .generation import Comparison, SamplingConfig, Warp, compare, sample
from .metrics import (
    WEDDING_WORDS,
    lexicon_balance,
    logprob_change,
    next_token_effect,
    relative_norms,
    sentiment,
    token_logprobs,
    word_count,
    word_counter,
)
from .sweep import SweepResult, sweep
from .vectors import ContrastPair, SteeringVector, read_pairs, train_steering_vector

__all__ = [
    "ActivationAddition",
    "x_vector",
    "ActAdd",
    "SteeringVector",
    "ContrastPair",
    "read_pairs",
    "train_steering_vector",
    "compare",
    "Comparison",
    "sample",
    "SamplingConfig",
    "Warp",
    "sweep",
    "SweepResult",
    "calibrate",
    "Calibration",
    "ContrastEffect",
    "TokenEffect",
    "sentiment",
    "lexicon_balance",
    "word_count",
    "word_counter",
    "WEDDING_WORDS",
    "logprob_change",
    "next_token_effect",
    "relative_norms",
    "token_logprobs",
]
