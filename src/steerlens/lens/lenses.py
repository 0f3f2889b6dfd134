"""Logit lens and tuned lens.

Lens index ``i`` (``0 .. n_layers - 1``) decodes ``Site(i, "resid_pre")``, the residual stream
entering block ``i`` (index 0 is the embedding output). The model's own output is the last row of a
trajectory and needs no lens: ``Unembed`` of the last ``resid_post`` reproduces the logits.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from ..artifacts import load_artifact, register, save_artifact
from ..errors import ArtifactFormatError, ConfigError, IncompatibleArtifactError, SiteError
from .unembed import Unembed

__all__ = ["Lens", "LogitLens", "TunedLens"]


class Lens(nn.Module):
    """A map from (residual, lens index) to next-token logits."""

    unembed: Unembed

    @property
    def n_layers(self) -> int:
        """Number of lens indices (= the model's blocks)."""
        return self.unembed.n_layers

    def _check_index(self, idx: int) -> int:
        if not -self.n_layers <= idx < self.n_layers:
            raise SiteError(f"Lens index {idx} is outside the model: valid indices are 0..{self.n_layers - 1}.")
        return idx % self.n_layers

    def transform(self, h: torch.Tensor, idx: int) -> torch.Tensor:
        """Map the residual at lens index ``idx`` into the final layer's basis (identity for the logit lens)."""
        raise NotImplementedError

    def forward(self, h: torch.Tensor, idx: int) -> torch.Tensor:
        """Logits ``[..., vocab]`` of residuals ``[..., d_model]`` read at lens index ``idx``."""
        return self.unembed(self.transform(h, idx))

    def normed_layers(self, hidden: torch.Tensor, translator: int | None = None) -> torch.Tensor:
        """Final-normed, translated states of a ``[layers, n, d]`` stack, ready for the unembedding.

        Layer ``i`` goes through translator ``i``, or every layer through ``translator`` when given
        (the layer-transfer experiment).
        """
        return torch.stack(
            [
                self.unembed.normed(self.transform(hidden[i], i if translator is None else translator))
                for i in range(hidden.shape[0])
            ]
        )


class LogitLens(Lens):
    """The logit lens: the model's final norm and unembedding applied to any layer's residual."""

    def __init__(self, unembed: Unembed) -> None:
        super().__init__()
        self.unembed = unembed

    @classmethod
    def from_model(cls, model: nn.Module) -> LogitLens:
        """Logit lens of ``model``."""
        return cls(Unembed(model))

    def transform(self, h: torch.Tensor, idx: int) -> torch.Tensor:  # noqa: D102
        self._check_index(idx)
        return h


class TunedLens(Lens):
    """One affine translator per layer, in residual form: ``T_i(h) = h + W_i h + b_i``.

    ``W_i`` and ``b_i`` start at zero, so an untrained tuned lens *is* the logit lens, and weight
    decay pulls the translators towards the identity rather than towards zero.

    Args:
        unembed: The model's frozen decoder head.
        bias: Learn the ``b_i`` (``False``: linear translators without bias).
        mode: ``"affine"`` (``W_i`` and ``b_i``) or ``"bias_only"`` (``W_i`` fixed at zero: a logit lens
            with a learned constant in place of the skipped layers' mean update).
    """

    def __init__(self, unembed: Unembed, *, bias: bool = True, mode: Literal["affine", "bias_only"] = "affine") -> None:
        super().__init__()
        if mode not in ("affine", "bias_only"):
            raise ConfigError(f"mode must be 'affine' or 'bias_only', got {mode!r}.")
        if mode == "bias_only" and not bias:
            raise ConfigError("A bias-only lens needs bias=True (otherwise it has no parameters).")
        self.unembed = unembed
        self.mode = mode
        self.has_bias = bias
        n, d = unembed.n_layers, unembed.d_model
        dtype = unembed.weight.dtype if unembed.weight.is_floating_point() else torch.float32
        self.weight = nn.Parameter(torch.zeros(n, d, d, dtype=dtype), requires_grad=mode == "affine")
        self.bias = nn.Parameter(torch.zeros(n, d, dtype=dtype), requires_grad=bias)

    @classmethod
    def from_model(cls, model: nn.Module, **kwargs) -> TunedLens:
        """An untrained (identity) tuned lens for ``model``."""
        return cls(Unembed(model), **kwargs)

    def normed_layers(self, hidden: torch.Tensor, translator: int | None = None) -> torch.Tensor:  # noqa: D102
        if translator is not None or hidden.dim() != 3 or hidden.shape[0] != self.n_layers:
            return super().normed_layers(hidden, translator)
        # every layer at once: one batched matmul, and a backward without per-layer index copies
        return self.unembed.normed(self._translate(hidden, self.weight, self.bias[:, None, :]))

    def transform(self, h: torch.Tensor, idx: int) -> torch.Tensor:  # noqa: D102
        i = self._check_index(idx)
        return self._translate(h, self.weight[i], self.bias[i])

    def _translate(self, h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """``h + h W^T + b`` with what this lens learns (one translator, or a stack against ``[L, n, d]``)."""
        out = h
        if self.mode == "affine":
            out = out + h @ weight.to(h.dtype).transpose(-1, -2)
        if self.has_bias:
            out = out + bias.to(h.dtype)
        return out

    # ----------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save as a steerlens artifact (fingerprinted to the model)."""
        tensors = {"bias": self.bias.detach()}
        if self.mode == "affine":
            tensors["weight"] = self.weight.detach()
        return save_artifact(
            path, "tuned_lens", tensors, {"mode": self.mode, "bias": self.has_bias}, fingerprint=self.unembed.fingerprint
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str], model: nn.Module) -> TunedLens:
        """Load a tuned lens onto ``model``: a steerlens artifact (refused if made for another model), or
        a folder saved by the ``tuned-lens`` package (``params.pt`` and no ``artifact.json``)."""
        folder = Path(path)
        if (folder / "params.pt").is_file() and not (folder / "artifact.json").is_file():
            return cls.from_tuned_lens_package(folder, model)
        return _load_registered(load_artifact(path, model=model, kind="tuned_lens"), model)

    @classmethod
    def from_tuned_lens_package(cls, path: str | os.PathLike[str], model: nn.Module) -> TunedLens:
        """Import a lens saved by the ``tuned-lens`` package (``config.json`` + ``params.pt``).

        ``params.pt`` is read with ``torch.load(weights_only=True)``: tensors only, no pickled code.
        """
        folder = Path(path)
        cfg_path, params_path = folder / "config.json", folder / "params.pt"
        if not cfg_path.is_file() or not params_path.is_file():
            raise ArtifactFormatError(f"{folder} is not a tuned-lens folder: it needs config.json and params.pt.")
        cfg = json.loads(cfg_path.read_text())
        state = torch.load(params_path, map_location="cpu", weights_only=True)
        unembed = Unembed(model)
        n, d = unembed.n_layers, unembed.d_model
        if cfg.get("d_model", d) != d or cfg.get("num_hidden_layers", n) != n:
            raise IncompatibleArtifactError(
                f"{folder} is a lens for a model with {cfg.get('num_hidden_layers')} layers of width "
                f"{cfg.get('d_model')}, but this model has {n} layers of width {d}."
            )
        has_bias = bool(cfg.get("bias", True))
        lens = cls(unembed, bias=has_bias)
        try:
            weight = torch.stack([state[f"{i}.weight"] for i in range(n)])
            bias = torch.stack([state[f"{i}.bias"] for i in range(n)]) if has_bias else torch.zeros(n, d)
        except KeyError as exc:
            raise ArtifactFormatError(
                f"{params_path} lacks translator tensor {exc}; expected '0.weight' .. '{n - 1}.weight'."
            ) from exc
        lens._load_tensors(weight, bias, str(folder))
        return lens

    def _load_tensors(self, weight: torch.Tensor | None, bias: torch.Tensor, source: str) -> None:
        n, d = self.unembed.n_layers, self.unembed.d_model
        if bias.shape != (n, d) or (weight is not None and weight.shape != (n, d, d)):
            raise IncompatibleArtifactError(
                f"{source}: translator shapes {None if weight is None else tuple(weight.shape)} / {tuple(bias.shape)} "
                f"do not fit a model with {n} layers of width {d}."
            )
        with torch.no_grad():
            if weight is not None:
                self.weight.copy_(weight)
            self.bias.copy_(bias)


@register("tuned_lens")
def _load_registered(art, model) -> TunedLens:
    if model is None:
        raise ArtifactFormatError("A tuned lens is rebuilt on its model: pass model= to steerlens.artifacts.load.")
    lens = TunedLens(Unembed(model), bias=bool(art.config.get("bias", True)), mode=art.config.get("mode", "affine"))
    lens._load_tensors(art.tensors.get("weight"), art.tensors["bias"], "artifact")
    return lens
