"""Lenses: decode the residual stream at any layer into next-token predictions.

* :class:`Unembed` -- the model's final norm + unembedding (+ bias, soft-cap) as a frozen module.
* :class:`LogitLens` -- decode any layer through it.
* :class:`TunedLens` -- per-layer affine translators (identity at init) before it.
* :class:`JacobianLens` -- each layer mapped by its average Jacobian to the last layer (fitted, not trained).
* :func:`prediction_trajectory` -- per layer x position predictions, entropy, KL, target rank; plots.
* :func:`train_tuned_lens` / :func:`evaluate_lenses` -- training and evaluation in bits per byte.
* :func:`patchscope` / :func:`token_identity_precision` -- decode a state by patching it into another prompt.
"""

from .data import Chunks, chunk_texts, default_corpus, read_texts
from .evaluate import evaluate_lenses, layer_transfer, plot_evaluation
from .jacobian import JacobianLens
from .lenses import Lens, LogitLens, TunedLens
from .logit import logit_lens_table
from .patchscope import IDENTITY_PROMPT, PatchscopeReadout, TokenIdentity, patchscope, token_identity_precision
from .train import LensTrainConfig, TrainHistory, train_tuned_lens
from .trajectory import PredictionTrajectory, prediction_trajectory
from .unembed import Unembed

__all__ = [
    "Lens",
    "LogitLens",
    "TunedLens",
    "JacobianLens",
    "Unembed",
    "logit_lens_table",
    "PredictionTrajectory",
    "prediction_trajectory",
    "LensTrainConfig",
    "TrainHistory",
    "train_tuned_lens",
    "evaluate_lenses",
    "layer_transfer",
    "plot_evaluation",
    "Chunks",
    "chunk_texts",
    "default_corpus",
    "read_texts",
    "patchscope",
    "PatchscopeReadout",
    "token_identity_precision",
    "TokenIdentity",
    "IDENTITY_PROMPT",
]
