"""Per-layer linear probes: difference-in-means, logistic regression and PCA (the concept-guidance maths).

Every layer is fitted independently on token samples ``x`` (``[n, L, d]``) with labels ``y`` in {0, 1}.

* :class:`DiMProbe`: centre by the mean over all training tokens, normalise each token to unit length,
  direction = normalised mean of ``(2y - 1) * x``; read-out: 1-D logistic regression on the projection.
* :class:`LogisticProbe`: unit-normalised tokens, L2-regularised logistic regression (C = 1 / l2_penalty,
  no intercept; scikit-learn); the direction is the coefficient vector (not unit length, as in the seed).
* :class:`PCAProbe`: first principal direction of differences of random token pairs with random signs
  (label-agnostic), then **sign-aligned with the labels** (the seed leaves the sign arbitrary);
  read-out: 1-D logistic regression on the projection.

The interface is scikit-learn-like: ``fit``, ``predict_proba`` (``[n, L]``), ``score`` (per-layer
accuracy), ``directions()`` (``[L, d]``). The centring mean is kept and saved, so predictions are
reproducible from the file (the seed drops it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import DataFormatError, ShapeError

__all__ = ["Probe", "DiMProbe", "LogisticProbe", "PCAProbe", "PROBES", "layer_accuracy"]


def _check_xy(x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    x = torch.as_tensor(x)
    if x.dim() == 2:
        x = x[:, None, :]
    if x.dim() != 3:
        raise ShapeError(f"Probe inputs must be [tokens, layers, d] (or [tokens, d]), got {tuple(x.shape)}.")
    x = x.float()  # float32 arithmetic (means and projections accumulate well enough; float64 doubled the cost)
    if y is None:
        return x, None
    y = torch.as_tensor(y).long().reshape(-1)
    if y.shape[0] != x.shape[0]:
        raise ShapeError(f"{x.shape[0]} samples but {y.shape[0]} labels.")
    bad = set(y.unique().tolist()) - {0, 1}
    if bad:
        raise DataFormatError(f"Labels must be 0 or 1; found {sorted(bad)}.")
    if len(set(y.tolist())) < 2:
        raise DataFormatError(f"Fitting a probe needs both labels; all samples have label {int(y[0])}.")
    return x, y


def _fit_readout(z: np.ndarray, y: np.ndarray, tol: float) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=np.inf, tol=tol, max_iter=500).fit(z[:, None], y)  # unpenalised
    return float(clf.coef_[0, 0]), float(clf.intercept_[0])


class Probe:
    """Base class: per-layer direction ``W`` [L, d], read-out slope ``a`` [L] and intercept ``b`` [L]."""

    kind: ClassVar[str] = ""

    def __init__(self) -> None:
        self.W: torch.Tensor | None = None
        self.a: torch.Tensor | None = None
        self.b: torch.Tensor | None = None
        self.mean: torch.Tensor | None = None

    # subclasses implement _fit_layer(x [n, d] float32, y [n]) -> (w, a, b) and _features(x, layer)
    def fit(self, x: torch.Tensor, y: torch.Tensor, progress: bool = False) -> Probe:
        """Fit every layer independently; returns ``self``."""
        x, checked_y = _check_xy(x, y)
        assert checked_y is not None  # _check_xy returns a tensor for a given y
        y = checked_y
        n_layers, d = x.shape[1], x.shape[2]
        self.mean = x.mean(0)
        by_layer = x.transpose(0, 1).contiguous()  # one copy; every layer's samples are then contiguous
        W, A, B = torch.zeros(n_layers, d), torch.zeros(n_layers), torch.zeros(n_layers)
        for layer in tqdm(range(n_layers), desc=f"{self.kind} probe", unit="layer", disable=not progress):
            w, a, b = self._fit_layer(by_layer[layer], y, layer)
            W[layer], A[layer], B[layer] = w.float(), a, b
        self.W, self.a, self.b = W, A, B
        return self

    def _check_fitted(self) -> None:
        if self.W is None:
            raise DataFormatError(f"This {self.kind} probe is not fitted yet; call fit() first.")

    def _features(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        raise NotImplementedError

    def _fit_layer(self, x: torch.Tensor, y: torch.Tensor, layer: int) -> tuple[torch.Tensor, float, float]:
        raise NotImplementedError

    def decision_function(self, x: torch.Tensor) -> torch.Tensor:
        """``[n, L]`` logits of P(y = 1)."""
        self._check_fitted()
        x, _ = _check_xy(x, None)
        assert self.W is not None and self.a is not None and self.b is not None
        if x.shape[1:] != self.W.shape:
            raise ShapeError(f"Probe was fitted on [layers, d] = {tuple(self.W.shape)}, got {tuple(x.shape[1:])}.")
        out = torch.empty(x.shape[0], x.shape[1], dtype=torch.float64)
        for layer in range(x.shape[1]):
            z = (self._features(x[:, layer], layer) @ self.W[layer]).double()
            out[:, layer] = self.a[layer] * z + self.b[layer]
        return out

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """``[n, L]`` probability of label 1 per sample and layer."""
        return torch.sigmoid(self.decision_function(x)).float()

    def layer_proba(self, h: torch.Tensor, layer: int) -> torch.Tensor:
        """Probability of label 1 of activations ``h`` (``[..., d]``) under the probe of layer index ``layer``."""
        self._check_fitted()
        assert self.W is not None and self.a is not None and self.b is not None
        if not 0 <= layer < self.W.shape[0] or h.shape[-1] != self.W.shape[1]:
            raise ShapeError(
                f"Probe has {self.W.shape[0]} layers of width {self.W.shape[1]}; got layer {layer}, {tuple(h.shape)}."
            )
        flat = h.reshape(-1, h.shape[-1]).float()
        z = (self._features(flat, layer) @ self.W[layer]).double()
        return torch.sigmoid(self.a[layer] * z + self.b[layer]).float().reshape(h.shape[:-1])

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return (self.predict_proba(x) > 0.5).long()

    def score(self, x: torch.Tensor, y: torch.Tensor, groups: torch.Tensor | None = None) -> torch.Tensor:
        """Per-layer accuracy (``[L]``); with ``groups`` (example index per token), averaged per example first."""
        return layer_accuracy(self.predict_proba(x), torch.as_tensor(y), groups)

    def directions(self) -> torch.Tensor:
        """``[L, d]`` concept directions (DiM/PCA unit length; logistic raw coefficients)."""
        self._check_fitted()
        assert self.W is not None
        return self.W.clone()

    # ------------------------------------------------------------------ persistence
    def state(self) -> dict[str, torch.Tensor]:
        self._check_fitted()
        assert self.W is not None and self.a is not None and self.b is not None and self.mean is not None
        return {"W": self.W, "a": self.a[:, None], "b": self.b, "mean": self.mean}

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor], **kw: Any) -> Probe:
        probe = cls(**kw)
        probe.W = state["W"].float()
        probe.a = state["a"].reshape(-1).float() if "a" in state else torch.ones(state["W"].shape[0])
        probe.b = state["b"].reshape(-1).float() if "b" in state else torch.zeros(state["W"].shape[0])
        probe.mean = state["mean"].float() if "mean" in state else torch.zeros_like(probe.W)
        return probe

    def save_seed_format(self, path: str | os.PathLike[str]) -> Path:
        """Write the concept-guidance seed's safetensors layout (``W`` [L, d], ``a`` [L, 1], ``b`` [L]; plus ``mean``)."""
        from safetensors.torch import save_file

        st = {k: v.contiguous().float() for k, v in self.state().items()}
        if self.kind == "logistic":
            st.pop("a")
        save_file(st, str(path))
        return Path(path)


def _centre_normalise(x: torch.Tensor, mean: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    c = x - mean
    return c / c.norm(dim=-1, keepdim=True).clamp_min(eps)


class DiMProbe(Probe):
    """Difference in means of centred, unit-normalised activations, with a 1-D logistic read-out."""

    kind = "dim"

    def _features(self, x, layer):
        assert self.mean is not None
        return _centre_normalise(x, self.mean[layer])

    def _fit_layer(self, x, y, layer):
        assert self.mean is not None
        xt = _centre_normalise(x, self.mean[layer])
        w = ((2 * y - 1).float() @ xt) / xt.shape[0]
        w = w / w.norm().clamp_min(1e-12)
        a, b = _fit_readout((xt @ w).numpy(), y.numpy(), tol=1e-3)
        return w, a, b


class LogisticProbe(Probe):
    """L2-regularised logistic regression on unit-normalised activations (no intercept)."""

    kind = "logistic"

    def __init__(self, l2_penalty: float = 1.0) -> None:
        super().__init__()
        if not l2_penalty > 0:
            raise DataFormatError(f"l2_penalty must be > 0, got {l2_penalty}.")
        self.l2_penalty = float(l2_penalty)

    def _features(self, x, layer):
        return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-8)

    def _fit_layer(self, x, y, layer):
        from sklearn.linear_model import LogisticRegression

        xn = self._features(x, layer).numpy()
        clf = LogisticRegression(C=1.0 / self.l2_penalty, fit_intercept=False, solver="liblinear", max_iter=300, tol=1e-3).fit(
            xn, y.numpy()
        )
        return torch.from_numpy(clf.coef_[0]).float(), 1.0, 0.0


class PCAProbe(Probe):
    """First principal direction of random-pair differences (label-agnostic), sign-aligned with the labels."""

    kind = "pca"

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.seed = seed

    def _features(self, x, layer):
        return x

    def _fit_layer(self, x, y, layer):
        g = torch.Generator().manual_seed(self.seed + layer)
        perm = torch.randperm(x.shape[0], generator=g)
        k = x.shape[0] // 2
        diffs = x[perm[: 2 * k : 2]] - x[perm[1 : 2 * k : 2]]
        signs = torch.randint(0, 2, (k, 1), generator=g).float() * 2 - 1
        w = _first_principal_direction(diffs * signs)
        z = x @ w
        if float(z[y == 1].mean()) < float(z[y == 0].mean()):  # sign alignment: label 1 projects higher
            w, z = -w, -z
        a, b = _fit_readout(z.numpy(), y.numpy(), tol=1e-2)
        return w, a, b


def _first_principal_direction(x: torch.Tensor) -> torch.Tensor:
    """Unit first principal direction of the rows of ``x`` (centred), exactly: the top eigenvector of the
    d x d covariance (float64 eigensolver) -- what scikit-learn's PCA(n_components=1) estimates, without
    its randomised SVD."""
    c = x - x.mean(0, dtype=torch.float64).float()
    cov = (c.T @ c).double()
    w = torch.linalg.eigh(cov).eigenvectors[:, -1].float()
    return w / w.norm().clamp_min(1e-12)


PROBES: dict[str, type[Probe]] = {"dim": DiMProbe, "logistic": LogisticProbe, "pca": PCAProbe}


def layer_accuracy(proba: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor | None = None) -> torch.Tensor:
    """Accuracy per layer of ``proba`` ([n, L]) against ``labels`` ([n]).

    With ``groups`` (the example of each token), the seed's metric: per example, the fraction of its
    tokens classified right, then the mean over examples.
    """
    labels = labels.long().reshape(-1)
    right = ((proba > 0.5).long() == labels[:, None]).double()
    if groups is None:
        return right.mean(0).float()
    groups = groups.long().reshape(-1)
    uniq, inv = groups.unique(return_inverse=True)
    sums = torch.zeros(len(uniq), right.shape[1], dtype=torch.float64).index_add_(0, inv, right)
    counts = torch.zeros(len(uniq), dtype=torch.float64).index_add_(0, inv, torch.ones_like(inv, dtype=torch.float64))
    return (sums / counts[:, None]).mean(0).float()
