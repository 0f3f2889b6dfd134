"""Lenses: decode the residual stream at any layer into next-token predictions."""

from .logit import logit_lens_table

__all__ = ["logit_lens_table"]
