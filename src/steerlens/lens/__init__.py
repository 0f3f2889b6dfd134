"""Lenses: decode the residual stream at any layer into next-token predictions.

* :class:`Unembed` -- the model's final norm + unembedding (+ bias, soft-cap) as a frozen module.
* :class:`LogitLens` -- decode any layer through it.
* :class:`TunedLens` -- per-layer affine translators (identity at init) before it.
"""

from .lenses import Lens, LogitLens, TunedLens
from .logit import logit_lens_table
from .unembed import Unembed

__all__ = ["Lens", "LogitLens", "TunedLens", "Unembed", "logit_lens_table"]
