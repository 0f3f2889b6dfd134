"""The Jacobian lens: decode layer ``l`` through the average Jacobian from layer ``l`` to the last layer.

``lens_l(h) = unembed(final_norm(J_l h))`` with ``J_l = E[d resid_final(t) / d resid_pre_l(t)]``, the
same-position Jacobian averaged over the tokens of a corpus. No training: the fit only averages.

The estimator. For random Rademacher vectors ``u_t`` at every position, one backward pass of
``sum_t u_t . resid_final(t)`` gives ``g_t = sum_s J_{s,t}^T u_s`` at every position ``t`` of every layer at
once, and ``E[u_t g_t^T] = J_{t,t}`` because ``E[u_s u_t^T] = 0`` for ``s != t``: an unbiased estimate of each
token's own Jacobian from one backward pass per sample. Its variance falls with the number of tokens times
``samples``. The residual connection puts an identity in each same-position Jacobian; the estimator takes it out of the random
part (``I + u_t (g_t - u_t)^T``, the same mean because ``E[u u^T] = I``), which removes the identity's share of
the noise -- most of it at the late layers, whose Jacobians are close to the identity. ``exact=True`` replaces the
random vectors with one-hot ones: exact, but one backward pass per
token and dimension, so for small models and for checks.

``reduction="future"`` fits the reference implementation's quantity instead (Gurnee et al. 2026, the
``jlens`` package): for each source token ``t`` the Jacobians to *every* later target summed,
``sum_{s >= t} d resid_final(s) / d resid_pre_l(t)``, averaged over sources. Its estimator uses one random vector
shared by all target positions. ``skip_first`` leaves the first tokens (attention sinks; the reference skips 16)
out as sources and as targets. The decoded distribution is the same up to the norm's scale invariance whichever
reduction is used; they differ in what is averaged.

A fit keeps the sum and the token count per layer, so fits of disjoint texts merge exactly
(:meth:`JacobianLens.merge`). Each text's random vectors come from a seed and the text's own tokens, so
``merge(fit(A), fit(B)) == fit(A + B)``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ..artifacts import load_artifact, register, save_artifact
from ..errors import ConfigError, DataFormatError, IncompatibleArtifactError
from ..model.architectures import resolve
from ..model.capture import run_partial
from ..model.site import Site
from ..model.tokens import encode, pad
from .lenses import Lens
from .unembed import Unembed

__all__ = ["JacobianLens"]


class JacobianLens(Lens):
    """``T_l(h) = J_l h``: the residual at lens index ``l`` (``resid_pre.l``) mapped by the average Jacobian to
    the last block's output, then decoded by the model's final norm and unembedding.

    Build it with :meth:`fit`; ``jacobian_sum`` ``[L, d, d]`` and ``tokens`` ``[L]`` are the running sums.
    """

    jacobian_sum: torch.Tensor
    tokens: torch.Tensor

    def __init__(self, unembed: Unembed) -> None:
        super().__init__()
        self.unembed = unembed
        n, d = unembed.n_layers, unembed.d_model
        self.register_buffer("jacobian_sum", torch.zeros(n, d, d, dtype=torch.float64))
        self.register_buffer("tokens", torch.zeros(n, dtype=torch.float64))
        self.samples = 0
        self.exact = False
        self.reduction = "position"
        self.skip_first = 0
        self.control = True
        self.meta: dict[str, Any] = {}
        self.source = ""  # set when imported from another tool's file (its Jacobians are then means, not sums)

    @property
    def jacobians(self) -> torch.Tensor:
        """``[L, d, d]`` average Jacobians (float32); a layer with no tokens yet is the identity (the logit lens)."""
        return torch.stack([self.jacobian(i) for i in range(self.jacobian_sum.shape[0])])

    def jacobian(self, idx: int) -> torch.Tensor:
        """``[d, d]`` average Jacobian of lens index ``idx`` (the identity while it has no tokens)."""
        i = self._check_index(idx)
        if float(self.tokens[i]) == 0:
            return torch.eye(self.jacobian_sum.shape[1])
        return (self.jacobian_sum[i] / self.tokens[i]).float()

    def transform(self, h: torch.Tensor, idx: int) -> torch.Tensor:  # noqa: D102
        j = self.jacobian(idx).to(device=h.device, dtype=h.dtype)
        return h @ j.T

    # ----------------------------------------------------------------- fitting
    @classmethod
    def fit(
        cls,
        model: torch.nn.Module,
        tokenizer: Any,
        texts: Sequence[str] | Sequence[Sequence[int]],
        *,
        layers: Sequence[int] | None = None,
        samples: int = 4,
        exact: bool = False,
        reduction: str = "position",
        skip_first: int = 0,
        control: bool = True,
        max_tokens: int = 128,
        seed: int = 0,
        progress: bool | None = None,
    ) -> JacobianLens:
        """Average the same-position Jacobians ``d resid_final(t) / d resid_pre_l(t)`` over the tokens of ``texts``.

        Args:
            texts: strings (tokenised with BOS) or token rows; each is cut to ``max_tokens`` (and says so).
            layers: lens indices to fit (default: all; the others stay the identity).
            samples: random vectors per text (``exact=False``); more lowers the variance, not the bias.
            exact: one-hot vectors instead: exact, one backward pass per token and dimension (small models).
            reduction: ``"position"`` (each token's own Jacobian) or ``"future"`` (the Jacobians to all later
                tokens summed, as the reference implementation; see the module docs).
            skip_first: tokens at the start of each text left out as sources and targets (the reference: 16).
            control: take the identity out of the random part (lower noise where the Jacobian is near the
                identity; see the module docs). Fits merge only with fits made the same way.
            seed: with each text's tokens, seeds its random vectors (so fits of disjoint texts merge exactly).
        """
        if reduction not in ("position", "future"):
            raise ConfigError(f"reduction must be 'position' or 'future', got {reduction!r}.")
        if skip_first < 0:
            raise ConfigError(f"skip_first must be >= 0, got {skip_first}.")
        lens = cls(Unembed(model))
        lens.exact, lens.reduction, lens.skip_first, lens.control = exact, reduction, skip_first, control
        lens.update(model, tokenizer, texts, layers=layers, samples=samples, max_tokens=max_tokens, seed=seed, progress=progress)
        return lens

    def update(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        texts: Sequence[str] | Sequence[Sequence[int]],
        *,
        layers: Sequence[int] | None = None,
        samples: int = 4,
        max_tokens: int = 128,
        seed: int = 0,
        progress: bool | None = None,
    ) -> JacobianLens:
        """Add ``texts`` to the fit (see :meth:`fit`); returns ``self``."""
        spec = resolve(model)
        if spec.n_layers != self.n_layers or spec.d_model != self.unembed.d_model:
            raise IncompatibleArtifactError("This Jacobian lens was made for another model.")
        if samples < 1:
            raise ConfigError(f"samples must be >= 1, got {samples}.")
        idx = list(range(spec.n_layers)) if layers is None else [self._check_index(i) for i in layers]
        if not texts:
            raise DataFormatError("Give at least one text to fit the Jacobian lens on.")
        if isinstance(texts[0], str):
            rows = encode(tokenizer, [str(x) for x in texts])
        else:
            rows = [[int(t) for t in r] for r in texts]
        rows = [r[:max_tokens] for r in rows if len(r) > self.skip_first]
        if not rows:
            raise DataFormatError(f"No text is longer than skip_first={self.skip_first} tokens.")
        device = next(model.parameters()).device
        for row in tqdm(rows, desc="Jacobian lens", unit="text", disable=not (len(rows) > 1 if progress is None else progress)):
            sums = _row_jacobians(
                model, row, idx, samples, self.exact, _row_seed(seed, row), device, self.reduction, self.skip_first, self.control
            )
            self.jacobian_sum[idx] += sums.to(self.jacobian_sum.device)
            self.tokens[idx] += len(row) - self.skip_first
        self.samples = samples
        return self

    def _settings(self) -> dict[str, Any]:
        """What a fit averaged: fits merge only when these agree."""
        return {"reduction": self.reduction, "skip_first": self.skip_first, "control": self.control}

    def merge(self, other: JacobianLens) -> JacobianLens:
        """A new lens fitted on both lenses' texts (sums and token counts add)."""
        if other.jacobian_sum.shape != self.jacobian_sum.shape or other.unembed.fingerprint != self.unembed.fingerprint:
            raise IncompatibleArtifactError("Only Jacobian lenses of the same model merge.")
        if self.source or other.source:
            raise ConfigError("An imported Jacobian lens holds means, not sums over tokens; it does not merge.")
        if other.exact != self.exact:
            raise ConfigError("An exact and a sampled Jacobian lens do not merge.")
        if other._settings() != self._settings():
            raise ConfigError(
                f"These lenses were fitted differently ({self._settings()} vs {other._settings()}); only like fits merge."
            )
        out = JacobianLens(self.unembed)
        out.exact, out.samples, out.reduction, out.skip_first = self.exact, self.samples, self.reduction, self.skip_first
        out.control = self.control
        with torch.no_grad():
            out.jacobian_sum.copy_(self.jacobian_sum + other.jacobian_sum)
            out.tokens.copy_(self.tokens + other.tokens)
        return out

    @classmethod
    def from_jlens(cls, path: str | os.PathLike[str], model: torch.nn.Module, *, point: str = "resid_post") -> JacobianLens:
        """Import a Jacobian lens saved by the reference ``jlens`` package (the published ``*_jacobian_lens.pt`` files).

        The file is read with ``torch.load(weights_only=True)`` (tensors and plain containers only, no code). The
        per-layer ``[d, d]`` matrices are found as a mapping ``layer -> tensor`` (at the top level or under one
        key) or as one stacked ``[n, d, d]`` tensor. The published lenses are anchored at each block's output
        (``point="resid_post"``: the matrix of block ``l`` reads ``resid_post.l``, which is this lens's index
        ``l + 1``); give ``point="resid_pre"`` for a file anchored at block inputs. Layers the file lacks stay the
        identity (the logit lens). The layout was taken from the published lenses' descriptions, not from a
        downloaded file: a file it does not recognise is refused with what was found in it.
        """
        if point not in ("resid_post", "resid_pre"):
            raise ConfigError(f"point must be 'resid_post' or 'resid_pre', got {point!r}.")
        file = Path(path)
        if not file.is_file():
            raise DataFormatError(f"{file} does not exist.")
        try:
            obj = torch.load(file, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is a format error for the user
            raise DataFormatError(f"{file} is not a weights-only torch file ({type(exc).__name__}: {exc}).") from exc
        lens = cls(Unembed(model))
        d, n = lens.unembed.d_model, lens.n_layers
        mats, meta = _find_matrices(obj, d)
        if not mats:
            keys = sorted(map(str, obj)) if isinstance(obj, dict) else [type(obj).__name__]
            raise DataFormatError(f"{file}: found no per-layer [{d}, {d}] matrices (contents: {keys[:20]}).")
        target = meta.get("target_layer")
        if isinstance(target, int) and target not in (-1, n - 1):
            raise IncompatibleArtifactError(
                f"{file} maps to layer {target}, not the last one; this lens decodes through the final norm."
            )
        shift = 1 if point == "resid_post" else 0
        with torch.no_grad():
            for layer, m in mats.items():
                idx = layer + shift
                if not 0 <= layer < n:
                    raise IncompatibleArtifactError(f"{file} has a matrix for layer {layer}; the model has {n} layers.")
                if idx >= n:
                    continue  # the last block's output: already final, the lens there is the identity
                lens.jacobian_sum[idx] = m.double()
                lens.tokens[idx] = 1.0
        lens.source = f"jlens:{file.name}"
        lens.meta = {k: v for k, v in meta.items() if isinstance(v, (int, float, str, bool))}
        return lens

    # ----------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save as a steerlens artifact (the sums and counts, so a loaded fit can still be merged)."""
        return save_artifact(
            path,
            "jacobian_lens",
            {"jacobian_sum": self.jacobian_sum, "tokens": self.tokens},
            {
                "exact": self.exact,
                "samples": self.samples,
                "reduction": self.reduction,
                "skip_first": self.skip_first,
                "control": self.control,
                "source": self.source,
                "meta": self.meta,
            },
            fingerprint=self.unembed.fingerprint,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str], model: torch.nn.Module) -> JacobianLens:
        """Load a Jacobian lens onto ``model`` (refused if it was made for another model)."""
        return _load_registered(load_artifact(path, model=model, kind="jacobian_lens"), model)


def _row_seed(seed: int, row: Sequence[int]) -> int:
    digest = hashlib.sha1(f"{seed}:{','.join(map(str, row))}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _row_jacobians(
    model: torch.nn.Module,
    row: list[int],
    layers: list[int],
    samples: int,
    exact: bool,
    seed: int,
    device: torch.device,
    reduction: str = "position",
    skip_first: int = 0,
    control: bool = True,
) -> torch.Tensor:
    """``[len(layers), d, d]``: the sum over the row's source tokens (from ``skip_first``) of the (estimated)
    same-position Jacobians, or with ``reduction="future"`` of the Jacobians to all later targets summed."""
    spec = resolve(model)
    last = Site(spec.n_layers - 1, "resid_post")
    b = pad([row], side="right").to(device)
    kept: dict[int, torch.Tensor] = {}
    out: dict[str, torch.Tensor] = {}

    def leaf(h: torch.Tensor) -> torch.Tensor:  # the graph starts at the embeddings, whatever requires grad
        h = h.detach().requires_grad_(True)
        kept[0] = h
        return h

    def keep(i: int):
        def read(h: torch.Tensor) -> None:
            kept[i] = h

        return read

    def final(h: torch.Tensor) -> None:
        out["h"] = h

    hooks: list[tuple[Site, Any]] = [(Site(0, "resid_pre"), leaf)]
    hooks += [(Site(i, "resid_pre"), keep(i)) for i in sorted(set(layers)) if i > 0]
    hooks.append((last, final))
    with torch.enable_grad():
        run_partial(
            model, b.input_ids, attention_mask=b.attention_mask, position_ids=b.position_ids(), hooks=hooks, stop_after=last
        )
        h_final = out["h"]
        inputs = [kept[i] for i in layers]
        t, d = h_final.shape[1], h_final.shape[2]
        k0 = skip_first
        total = torch.zeros(len(layers), d, d, dtype=torch.float64, device=h_final.device)

        def grads(u: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return torch.autograd.grad(h_final, inputs, grad_outputs=u, retain_graph=True)

        if exact and reduction == "position":
            # one-hot vectors: row k of token t's Jacobian from the gradient at token t
            for pos in range(k0, t):
                for k in range(d):
                    u = torch.zeros_like(h_final)
                    u[0, pos, k] = 1.0
                    for j, g in enumerate(grads(u)):
                        total[j, k] += g[0, pos].double()
        elif exact:
            # one-hot at every valid target at once: the gradient at source t is row k of sum_{s >= t} J_{s,t}
            for k in range(d):
                u = torch.zeros_like(h_final)
                u[0, k0:, k] = 1.0
                for j, g in enumerate(grads(u)):
                    total[j, k] += g[0, k0:].double().sum(0)
        else:
            gen = torch.Generator().manual_seed(seed % (2**63))
            for _ in range(samples):
                u = torch.zeros_like(h_final)
                # the residual connection puts an identity in every J_{t,t}: I + u (g - u)^T has the same mean as
                # u g^T (E[u u^T] = I) without the identity's share of the noise, and it stays a plain sum
                if reduction == "position":  # independent signs per token: E[u_t g_t^T] = J_{t,t}
                    r = torch.randint(0, 2, (t - k0, d), generator=gen) * 2 - 1
                    u[0, k0:] = r.to(h_final.dtype).to(h_final.device)
                    uu = u[0, k0:].double()
                    for j, g in enumerate(grads(u)):
                        total[j] += uu.T @ (g[0, k0:].double() - (uu if control else 0))  # sum of u_t (g_t - u_t)^T
                else:  # one sign vector shared by all targets: E[u g_t^T] = sum_s J_{s,t}
                    r = (torch.randint(0, 2, (d,), generator=gen) * 2 - 1).to(h_final.dtype).to(h_final.device)
                    u[0, k0:] = r
                    rr = r.double()
                    for j, g in enumerate(grads(u)):
                        total[j] += torch.outer(rr, g[0, k0:].double().sum(0) - ((t - k0) * rr if control else 0))
            total /= samples
            if control:
                total += (t - k0) * torch.eye(d, dtype=total.dtype, device=total.device)
    return total.detach().cpu()


@register("jacobian_lens")
def _load_registered(art, model) -> JacobianLens:
    if model is None:
        raise IncompatibleArtifactError("A Jacobian lens is rebuilt on its model: pass model= to load it.")
    lens = JacobianLens(Unembed(model))
    js, tok = art.tensors["jacobian_sum"], art.tensors["tokens"]
    if js.shape != lens.jacobian_sum.shape or tok.shape != lens.tokens.shape:
        raise IncompatibleArtifactError(
            f"The artifact holds Jacobians {tuple(js.shape)}, but this model needs {tuple(lens.jacobian_sum.shape)}."
        )
    with torch.no_grad():
        lens.jacobian_sum.copy_(js)
        lens.tokens.copy_(tok)
    lens.exact = bool(art.config.get("exact", False))
    lens.samples = int(art.config.get("samples", 0))
    lens.reduction = str(art.config.get("reduction", "position"))
    lens.skip_first = int(art.config.get("skip_first", 0))
    lens.control = bool(art.config.get("control", False))
    lens.source = str(art.config.get("source", ""))
    lens.meta = dict(art.config.get("meta", {}))
    return lens


def _layer_key(k: Any) -> int | None:
    if isinstance(k, int) and not isinstance(k, bool):
        return k
    if isinstance(k, str):
        m = re.fullmatch(r"\D*?(\d+)", k)
        if m:
            return int(m.group(1))
    return None


def _find_matrices(obj: Any, d: int) -> tuple[dict[int, torch.Tensor], dict[str, Any]]:
    """Per-layer ``[d, d]`` matrices in a loaded file (a ``layer -> tensor`` mapping, at the top or one level down,
    or a stacked ``[n, d, d]`` tensor), and the file's scalar metadata."""

    def square(v: Any) -> bool:
        return isinstance(v, torch.Tensor) and tuple(v.shape) == (d, d)

    def mapping(m: Any) -> dict[int, torch.Tensor]:
        if not isinstance(m, dict):
            return {}
        out = {}
        for k, v in m.items():
            key = _layer_key(k)
            if key is not None and square(v):
                out[key] = v.float()
        return out

    if isinstance(obj, torch.Tensor):
        return ({i: obj[i].float() for i in range(obj.shape[0])} if obj.dim() == 3 and obj.shape[1:] == (d, d) else {}), {}
    if not isinstance(obj, dict):
        return {}, {}
    meta = {str(k): v for k, v in obj.items() if isinstance(v, (int, float, str, bool))}
    found = mapping(obj)
    if found:
        return found, meta
    for v in obj.values():
        found = mapping(v)
        if found:
            return found, meta
        if isinstance(v, torch.Tensor) and v.dim() == 3 and tuple(v.shape[1:]) == (d, d):
            return {i: v[i].float() for i in range(v.shape[0])}, meta
    return {}, meta
