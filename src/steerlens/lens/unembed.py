"""The model's decoder head as a frozen module: final norm, unembedding, bias and soft-capping."""

from __future__ import annotations

import copy
from typing import cast

import torch
from torch import nn

from ..artifacts import Fingerprint
from ..errors import ShapeError
from ..model.architectures import ModelSpec, resolve

__all__ = ["Unembed"]


class Unembed(nn.Module):
    """``logits(h) = softcap(s · (W_U · FinalNorm(h) + b_U))``, frozen.

    The final norm is copied (it is tiny, and Gemma's ``(1 + w)`` form comes with it); the
    unembedding matrix is shared with the model, not copied (on Gemma-3 it has 168M entries).
    Applied to ``resid_post`` of the last layer it reproduces the model's logits. The model's constant
    logit multiplier ``s`` (Cohere, Granite, MiniCPM; 1 elsewhere) is folded into :meth:`normed` and the
    bias, so ``logits_of_normed(normed(h))`` is all a caller needs.

    Args:
        model: A Hugging Face causal LM.
    """

    # buffers registered in __init__ (annotated here for type checkers)
    weight: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        spec: ModelSpec = resolve(model)
        self.final_norm = copy.deepcopy(spec.final_norm).requires_grad_(False)
        weight = cast(torch.Tensor, spec.unembed.weight).detach()
        bias = getattr(spec.unembed, "bias", None)
        self.register_buffer("weight", weight, persistent=False)
        self.logit_scale = spec.logit_scale
        if bias is not None:
            bias = bias.detach() * self.logit_scale if self.logit_scale != 1.0 else bias.detach()
        self.register_buffer("bias", bias, persistent=False)
        self.softcap = spec.softcap
        self.d_model = spec.d_model
        self.vocab_size = spec.vocab_size
        self.n_layers = spec.n_layers
        self.fingerprint = Fingerprint.of(model)

    def normed(self, h: torch.Tensor) -> torch.Tensor:
        """The final norm of ``h`` (``[..., d_model]``), times the model's logit multiplier if it has one."""
        if h.shape[-1] != self.d_model:
            raise ShapeError(f"Residual has size {h.shape[-1]}, but the model's hidden size is {self.d_model}.")
        out = self.final_norm(h)
        return out * self.logit_scale if self.logit_scale != 1.0 else out

    def logits_of_normed(self, x: torch.Tensor, vocab: slice | None = None) -> torch.Tensor:
        """Logits of an already-normed state, optionally only for a slice of the vocabulary."""
        w = self.weight if vocab is None else self.weight[vocab]
        out = x @ w.to(x.dtype).T
        if self.bias is not None:
            out = out + (self.bias if vocab is None else self.bias[vocab]).to(out.dtype)
        if self.softcap:
            out = torch.tanh(out / self.softcap) * self.softcap
        return out

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Logits ``[..., vocab]`` of residual states ``[..., d_model]``."""
        return self.logits_of_normed(self.normed(h))
