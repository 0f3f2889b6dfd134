"""Training a tuned lens: KL from the model's final distribution to every layer's lens distribution.

Per optimiser step, each micro-batch runs the frozen model **once** (stopping after the last block:
the residuals of every layer and the final log-probabilities come from the same pass), then trains
all translators together on those residuals with a vocabulary-chunked KL whose memory does not grow
with the vocabulary. The recipe follows tuned-lens: SGD with Nesterov momentum 0.9 at an effective
learning rate of 1 (``lr = lr_scale * (1 - momentum)``), weight decay 1e-3, global gradient clipping at
1, linear decay to zero (after a linear warm-up, which Adam gets by default and which really runs).

With ``validation`` chunks, every layer's held-out KL is measured before training (the identity lens,
i.e. the logit lens) and every ``eval_every`` steps, and **each layer keeps the translator of its
best validation step** (per-layer early stopping). With ``backoff < 1`` (the default, 0.5), a layer
whose validation KL got worse than its best also goes back to its best translator, its momentum is
cleared and **its learning rate is multiplied by** ``backoff``, so each layer finds its own step
size. The objective is unchanged. Both guards matter on short CPU budgets: the layers want learning
rates ten times apart (on gemma-3-270m, Adam at 1e-3 helps layer 10 most and sends the last layer's
KL from 0.57 to 1.4 nats, where 1e-4 lowers it), and a layer whose logit lens is already good can
otherwise end a noisy run worse than it started.

**Several processes** (``torchrun --nproc-per-node N``, after :func:`steerlens.distributed.init_from_env`): every
rank holds the whole (small) lens; each step's micro-batches are dealt out to the ranks, and the translators'
gradients, the step's KL and the validation sums are added up with ``torch.distributed.all_reduce``, which is
what DDP does for the trainable part. Every rank then takes the same optimiser step, so N ranks train the same
lens as one process on the same global batch (up to float summation order). Rank 0 alone shows progress and
writes checkpoints and the result.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from tqdm.auto import tqdm

from ..artifacts import load_artifact, save_artifact
from ..distributed import all_reduce_sum, barrier, group_world, share
from ..errors import ConfigError
from ..model.architectures import resolve
from ..model.capture import capture
from ..model.site import Site
from .data import Chunks, CorpusError
from .kl import chunked_kl
from .lenses import TunedLens

if TYPE_CHECKING:
    from ..store import ActivationStore

__all__ = ["LensTrainConfig", "TrainHistory", "train_tuned_lens", "frozen_pass"]


@dataclass(frozen=True)
class LensTrainConfig:
    """Settings of :func:`train_tuned_lens`.

    The defaults are the recipe measured to work on a CPU (benchmarks/README.md: on gemma-3-270m, 16 Adam steps of
    512 tokens with per-layer validation put the tuned lens below the logit lens at 18 of 18 layers, where the SGD
    recipe of the tuned-lens package left it above at 2). Pass validation chunks to :func:`train_tuned_lens` too
    (the command line holds out 4 by default). tuned-lens itself uses SGD-Nesterov and 2**18 tokens per step.
    """

    steps: int = 16
    """Optimiser steps."""
    tokens_per_step: int = 512
    """Tokens per optimiser step (a multiple of the chunk length)."""
    micro_batch: int = 2
    """Chunks per frozen forward pass (gradients accumulate over micro-batches)."""
    optimizer: Literal["sgd", "adam"] = "adam"
    lr_scale: float = 1.0
    """SGD: lr = lr_scale * (1 - momentum); Adam: lr = 1e-3 * lr_scale."""
    momentum: float = 0.9
    weight_decay: float = 1e-3
    warmup_steps: int | None = None
    """Linear warm-up; default 0 for SGD and min(1000, steps // 5) for Adam."""
    clip_norm: float = 1.0
    mode: Literal["affine", "bias_only"] = "affine"
    bias: bool = True
    vocab_chunk: int = 2048
    """Vocabulary entries per step of the chunked KL (memory: layers x tokens x chunk floats)."""
    target_dtype: Literal["float32", "bfloat16"] = "float32"
    """Storage of the final log-probs (bfloat16 halves the memory of the targets)."""
    compute_dtype: Literal["float32", "bfloat16"] = "float32"
    """Dtype of the vocabulary matmuls in the hot loop (bfloat16: several times faster on CPUs with
    AVX512-BF16; softmax, KL, gradients and optimiser stay in float32). Evaluation is always float32."""
    seed: int = 42
    checkpoint_every: int = 0
    """Save a resumable checkpoint every this many steps (0: never) under ``out/checkpoint``."""
    backoff: float = 0.5
    """With validation: a layer that got worse goes back to its best translator and its learning rate
    is multiplied by this (0 freezes it; 1 turns the revert off and only keeps each layer's best)."""

    def warmup(self) -> int:
        """Warm-up steps actually used."""
        if self.warmup_steps is not None:
            return self.warmup_steps
        return min(1000, self.steps // 5) if self.optimizer == "adam" else 0


@dataclass
class TrainHistory:
    """Per-step record: mean KL over layers (nats/token), wall time, tokens seen."""

    step: list[int] = field(default_factory=list)
    kl: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    val_step: list[int] = field(default_factory=list)
    """Steps at which the validation KL was measured (0: before training)."""
    val_kl: list[list[float]] = field(default_factory=list)
    """Per-layer validation KL (nats/token) at each ``val_step``."""
    best_step: list[int] = field(default_factory=list)
    """Per layer, the step whose translator was kept (empty without validation)."""
    lr_mult: list[float] = field(default_factory=list)
    """Per layer, the final learning-rate multiplier left by ``backoff`` (empty without validation)."""


def frozen_pass(model: torch.nn.Module, ids: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """One frozen forward over equal-length chunks: ``resid_pre`` of every layer and final log-probs.

    Returns ``([layers, n_tokens, d], [n_tokens, vocab])``; the log-probs come from the last block's
    output through the model's own head (which reproduces its logits).
    """
    spec = resolve(model)
    sites = [*spec.all_sites("resid_pre"), Site(spec.n_layers - 1, "resid_post")]
    # chunks are never padded (EOS separators may share the pad id): say so with a full mask
    acts = capture(model, {"input_ids": ids, "attention_mask": torch.ones_like(ids)}, sites, batch_size=ids.shape[0])
    d = spec.d_model
    hidden = torch.stack([acts[s].reshape(-1, d) for s in sites[:-1]])
    with torch.no_grad():
        final = spec.logits(acts[sites[-1]].reshape(-1, d)).float().log_softmax(-1).to(dtype)
    return hidden, final


class _ModelRows:
    """Training rows run through the frozen model: chunk ``r`` is ``chunks.ids[r]``."""

    def __init__(self, model: torch.nn.Module, chunks: Chunks) -> None:
        self.model, self.chunks = model, chunks
        self.n, self.seq_len = int(chunks.ids.shape[0]), int(chunks.ids.shape[1])

    def batch(self, rows: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        return frozen_pass(self.model, self.chunks.ids[rows], dtype)


class _StoreRows:
    """Training rows read from an activation store: row ``r`` is the store's tokens ``r*S .. r*S+S-1`` in manifest
    order (the lens treats tokens independently, so rows are only the unit of sampling). The last
    ``n_tokens mod S`` tokens are not used."""

    def __init__(self, model: torch.nn.Module, store: Any, seq_len: int) -> None:
        from safetensors import safe_open

        self._open = safe_open
        spec = resolve(model)
        store.check_model(model)
        self.sites = [str(s) for s in spec.all_sites("resid_pre")] + [str(Site(spec.n_layers - 1, "resid_post"))]
        missing = [s for s in self.sites if s not in store.sites]
        if missing:
            raise ConfigError(
                f"Training a tuned lens from a store needs resid_pre of every layer and the last block's output; the "
                f"store at {store.path} lacks {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}. Capture with "
                f"--sites resid_pre.all,resid_post.{spec.n_layers - 1}."
            )
        if seq_len < 1:
            raise ConfigError(f"row_tokens must be >= 1, got {seq_len}.")
        self.spec, self.store, self.seq_len = spec, store, seq_len
        self.files = [store.path / sh["file"] for sh in store.manifest["shards"]]
        self.starts = [0]
        for sh in store.manifest["shards"]:
            self.starts.append(self.starts[-1] + int(sh["tokens"]))
        self.n = store.n_tokens // seq_len
        if self.n == 0:
            raise CorpusError(f"The store at {store.path} has {store.n_tokens} tokens, fewer than one row of {seq_len}.")

    def _span(self, lo: int, hi: int) -> dict[str, torch.Tensor]:
        """Tokens ``lo .. hi-1`` (manifest order) of every needed site, read by slices (no whole shard in memory)."""
        parts: dict[str, list[torch.Tensor]] = {s: [] for s in self.sites}
        for k, path in enumerate(self.files):
            a, b = max(lo, self.starts[k]), min(hi, self.starts[k + 1])
            if a >= b:
                continue
            with self._open(str(path), framework="pt") as f:
                for s in self.sites:
                    parts[s].append(f.get_slice(s)[a - self.starts[k] : b - self.starts[k]])
        return {s: torch.cat(v) for s, v in parts.items()}

    def batch(self, rows: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        spans = [self._span(int(r) * self.seq_len, (int(r) + 1) * self.seq_len) for r in rows]
        hidden = torch.stack([torch.cat([sp[s] for sp in spans]) for s in self.sites[:-1]])
        last = torch.cat([sp[self.sites[-1]] for sp in spans])
        param = next(self.spec.model.parameters())
        with torch.no_grad():
            final = self.spec.logits(last.to(device=param.device, dtype=param.dtype)).float().log_softmax(-1).to(dtype)
        return hidden.to(param.device), final


def _rows_of(model: torch.nn.Module, data: Any, row_tokens: int) -> _ModelRows | _StoreRows:
    from ..store import ActivationStore

    if isinstance(data, ActivationStore):
        return _StoreRows(model, data, row_tokens)
    if isinstance(data, Chunks):
        return _ModelRows(model, data)
    raise CorpusError(f"Expected token Chunks or an ActivationStore, got {type(data).__name__}.")


def lens_kl(
    lens: TunedLens, hidden: torch.Tensor, target_logp: torch.Tensor, vocab_chunk: int, compute_weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-layer mean KL(final || lens) in nats/token, ``[layers]``, differentiable w.r.t. the lens.

    ``compute_weight``: the unembedding already cast to the dtype the vocabulary matmuls should use.
    """
    u = lens.unembed
    x = lens.normed_layers(hidden)
    w = u.weight if compute_weight is None else compute_weight
    return chunked_kl(x, w, target_logp, bias=u.bias, softcap=u.softcap, chunk=vocab_chunk, compute_dtype=w.dtype).mean(-1)


def _optimizer(lens: TunedLens, cfg: LensTrainConfig) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    params = [p for p in (lens.weight, lens.bias) if p.requires_grad]
    if cfg.optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            params, lr=cfg.lr_scale * (1 - cfg.momentum), momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay
        )
    elif cfg.optimizer == "adam":
        opt = torch.optim.Adam(
            params, lr=1e-3 * cfg.lr_scale, betas=(cfg.momentum, 0.999), amsgrad=True, weight_decay=cfg.weight_decay
        )
    else:
        raise ConfigError(f"optimizer must be 'sgd' or 'adam', got {cfg.optimizer!r}.")
    warm, total = cfg.warmup(), cfg.steps

    def factor(step: int) -> float:  # warm-up, then linear decay to 0 at the last step (horizon = all steps)
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total - step) / max(1, total - warm))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def train_tuned_lens(
    model: torch.nn.Module,
    chunks: Chunks | ActivationStore,
    config: LensTrainConfig | None = None,
    *,
    lens: TunedLens | None = None,
    out: str | os.PathLike[str] | None = None,
    resume: bool = True,
    progress: bool = True,
    callback: Callable[[int, TunedLens, TrainHistory], None] | None = None,
    validation: Chunks | ActivationStore | None = None,
    eval_every: int | None = None,
    row_tokens: int = 128,
) -> tuple[TunedLens, TrainHistory]:
    """Train a tuned lens on token chunks; returns the lens and its history.

    Args:
        model: The frozen model (left unchanged).
        chunks: Training chunks (see :func:`steerlens.lens.data.chunk_texts`), or an
            :class:`~steerlens.store.ActivationStore` captured at ``resid_pre`` of every layer and the last
            block's output: then the model's body never runs (its head turns the stored last-block outputs
            into the targets), which is how a large model's lens is trained from activations captured once.
        config: :class:`LensTrainConfig`.
        lens: A lens to continue training (default: a new identity lens).
        out: Folder for the final lens artifact, ``history.json`` and checkpoints.
        resume: Continue from ``out/checkpoint`` when it exists.
        progress: Show a progress bar with the running KL.
        callback: Called after every step with ``(step, lens, history)`` (e.g. to evaluate).
        validation: Held-out chunks for per-layer early stopping (see the module doc); keep them
            apart from the text you report results on.
        eval_every: Steps between validation measurements (default: ``max(1, steps // 8)``; the last
            step is always measured).
        row_tokens: With a store: tokens per training row (the unit a step samples; ``tokens_per_step``
            must be a multiple of it).
    """
    cfg = config or LensTrainConfig()
    rank, world_size = group_world()
    src = _rows_of(model, chunks, row_tokens)
    val_src = _rows_of(model, validation, row_tokens) if validation is not None else None
    seq_len = src.seq_len
    if cfg.tokens_per_step % seq_len:
        raise CorpusError(f"tokens_per_step ({cfg.tokens_per_step}) must be a multiple of the chunk length ({seq_len}).")
    per_step = cfg.tokens_per_step // seq_len
    if per_step % cfg.micro_batch:
        raise CorpusError(f"Chunks per step ({per_step}) must be a multiple of micro_batch ({cfg.micro_batch}).")
    needed, have = cfg.steps * per_step, src.n
    if needed > have:
        warnings.warn(
            f"The corpus has {have} chunks but {cfg.steps} steps need {needed}: chunks will be reused "
            f"({needed / have:.1f} epochs).",
            stacklevel=2,
        )
    model_dtype = next(model.parameters()).dtype
    lens = lens or TunedLens.from_model(model, bias=cfg.bias, mode=cfg.mode)
    opt, sched = _optimizer(lens, cfg)
    history, start = TrainHistory(), 0
    ckpt = Path(out) / "checkpoint" if out is not None else None
    if ckpt is not None and resume and (ckpt / "state" / "artifact.json").is_file():
        start, history = _load_checkpoint(ckpt, lens, opt, sched, model)
    target_dtype = torch.bfloat16 if cfg.target_dtype == "bfloat16" else torch.float32
    compute_weight = lens.unembed.weight.to(torch.bfloat16 if cfg.compute_dtype == "bfloat16" else torch.float32)
    order = _order(have, needed, cfg.seed)
    every = eval_every if eval_every is not None else max(1, cfg.steps // 8)
    if every < 1:
        raise CorpusError(f"eval_every must be at least 1, got {eval_every}.")
    if not 0.0 <= cfg.backoff <= 1.0:
        raise ConfigError(f"backoff must be in [0, 1] (1: no revert), got {cfg.backoff}.")
    best: dict[str, torch.Tensor] | None = None
    if val_src is not None:
        if val_src.n == 0:
            raise CorpusError("The validation corpus has no chunks; give at least one, or no validation.")
        best = _restore_best(ckpt, model) if start > 0 and ckpt is not None else None
        if best is None:  # a fresh run (step 0: the identity lens), or a resumed one saved without validation
            kl0 = _validation_kl(lens, val_src, cfg, model_dtype)
            history.val_step.append(start)
            history.val_kl.append(kl0.tolist())
            best = {
                "kl": kl0,
                "step": torch.full((lens.n_layers,), start, dtype=torch.long),
                "weight": lens.weight.detach().clone(),
                "bias": lens.bias.detach().clone(),
                "lr_mult": torch.ones(lens.n_layers),
            }
    t0 = time.perf_counter() - (history.seconds[-1] if history.seconds else 0.0)
    show = progress and rank == 0
    bar = tqdm(range(start, cfg.steps), desc="tuned lens", unit="step", disable=not show, initial=start, total=cfg.steps)
    trainable = [p for p in (lens.weight, lens.bias) if p.requires_grad]
    for step in bar:
        opt.zero_grad(set_to_none=True)
        step_kl = torch.zeros(lens.n_layers)
        rows = order[step * per_step : (step + 1) * per_step]
        # with several ranks, each runs its share of the step's micro-batches; gradients are then summed
        for k in share(range(0, per_step, cfg.micro_batch), model, "micro-batches of a step"):
            hidden, target = src.batch(rows[k : k + cfg.micro_batch], target_dtype)
            per_layer = lens_kl(lens, hidden.to(model_dtype), target, cfg.vocab_chunk, compute_weight)
            (per_layer.sum() * (cfg.micro_batch / per_step)).backward()
            step_kl += per_layer.detach().float() * (cfg.micro_batch / per_step)
        if world_size > 1:
            for prm in trainable:
                if prm.grad is None:
                    prm.grad = torch.zeros_like(prm)
                all_reduce_sum(prm.grad)
            all_reduce_sum(step_kl)
        torch.nn.utils.clip_grad_norm_(trainable, cfg.clip_norm)
        if best is not None and bool((best["lr_mult"] != 1).any()):
            _scaled_step(opt, lens, best["lr_mult"])
        else:
            opt.step()
        sched.step()
        history.step.append(step + 1)
        history.kl.append(float(step_kl.mean()))
        history.seconds.append(time.perf_counter() - t0)
        history.tokens.append((step + 1) * cfg.tokens_per_step)
        bar.set_postfix(kl=f"{history.kl[-1]:.3f} nats", lr=f"{sched.get_last_lr()[0]:.3g}")
        if best is not None and val_src is not None and ((step + 1) % every == 0 or step + 1 == cfg.steps):
            kl = _validation_kl(lens, val_src, cfg, model_dtype)
            history.val_step.append(step + 1)
            history.val_kl.append(kl.tolist())
            better = kl < best["kl"]
            with torch.no_grad():
                best["kl"] = torch.where(better, kl, best["kl"])
                best["step"][better] = step + 1
                best["weight"][better] = lens.weight.detach()[better]
                best["bias"][better] = lens.bias.detach()[better]
                worse = kl > best["kl"]
                if cfg.backoff < 1 and bool(worse.any()) and step + 1 < cfg.steps:
                    _back_off(opt, lens, best, worse, cfg.backoff)
        if callback is not None:
            callback(step + 1, lens, history)
        if ckpt is not None and cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0:
            if rank == 0:
                _save_checkpoint(ckpt, lens, opt, sched, step + 1, history, cfg, best)
            barrier()
    if best is not None:
        with torch.no_grad():
            lens.weight.copy_(best["weight"])
            lens.bias.copy_(best["bias"])
        history.best_step = best["step"].tolist()
        history.lr_mult = best["lr_mult"].tolist()
    if out is not None and rank == 0:
        lens.save(out)
        (Path(out) / "history.json").write_text(json.dumps({"config": asdict(cfg), **asdict(history)}, indent=1))
    barrier()
    return lens, history


def _scaled_step(opt: torch.optim.Optimizer, lens: TunedLens, mult: torch.Tensor) -> None:
    """``opt.step()`` with layer ``i``'s update (weight decay included) scaled by ``mult[i]``: the same
    as a per-layer learning rate, for SGD and Adam alike, on the stacked parameters."""
    params = [p for p in (lens.weight, lens.bias) if p.requires_grad]
    before = [p.detach().clone() for p in params]
    opt.step()
    with torch.no_grad():
        for p, p0 in zip(params, before):
            m = mult.to(p.dtype).view(-1, *([1] * (p.dim() - 1)))
            p.copy_(p0 + m * (p - p0))


@torch.no_grad()
def _back_off(
    opt: torch.optim.Optimizer, lens: TunedLens, best: dict[str, torch.Tensor], worse: torch.Tensor, factor: float
) -> None:
    """Layers in ``worse`` return to their best translator, lose their momentum, and learn ``factor``
    times slower from now on."""
    lens.weight[worse] = best["weight"][worse].to(lens.weight.dtype)
    lens.bias[worse] = best["bias"][worse].to(lens.bias.dtype)
    best["lr_mult"][worse] *= factor
    for p in (lens.weight, lens.bias):
        state = opt.state.get(p, {})
        for key in ("momentum_buffer", "exp_avg"):
            buf = state.get(key)
            if isinstance(buf, torch.Tensor) and buf.shape[:1] == worse.shape:
                buf[worse] = 0


def _order(n: int, needed: int, seed: int) -> torch.Tensor:
    """Chunk indices for the whole run: a fresh permutation per epoch (deterministic, so resumable)."""
    g = torch.Generator().manual_seed(seed)
    epochs = max(1, math.ceil(needed / n))
    return torch.cat([torch.randperm(n, generator=g) for _ in range(epochs)])[:needed]


@torch.no_grad()
def _validation_kl(
    lens: TunedLens, rows: _ModelRows | _StoreRows, cfg: LensTrainConfig, model_dtype: torch.dtype
) -> torch.Tensor:
    """Per-layer mean KL (nats/token) of the lens on validation rows, in float32 (each rank its share, summed)."""
    total, n = torch.zeros(lens.n_layers, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    model = getattr(rows, "model", None)
    for k in share(range(0, rows.n, cfg.micro_batch), model, "validation micro-batches"):
        hidden, target = rows.batch(torch.arange(k, min(k + cfg.micro_batch, rows.n)), torch.float32)
        total += lens_kl(lens, hidden.to(model_dtype), target, cfg.vocab_chunk).double() * hidden.shape[1]
        n += hidden.shape[1]
    all_reduce_sum(total)
    all_reduce_sum(n)
    return (total / n).float()


def _restore_best(ckpt: Path, model: torch.nn.Module) -> dict[str, torch.Tensor] | None:
    art = load_artifact(ckpt / "state", model=model, kind="tuned_lens_train_state")
    if "best.kl" not in art.tensors:
        return None
    best = {key: art.tensors[f"best.{key}"].clone() for key in ("kl", "step", "weight", "bias")}
    mult = art.tensors.get("best.lr_mult")  # absent from checkpoints written before backoff existed
    best["lr_mult"] = mult.clone() if mult is not None else torch.ones_like(best["kl"])
    return best


def _save_checkpoint(
    folder: Path,
    lens: TunedLens,
    opt,
    sched,
    step: int,
    history: TrainHistory,
    cfg: LensTrainConfig,
    best: dict[str, torch.Tensor] | None = None,
) -> None:
    lens.save(folder / "lens")
    tensors, meta = {}, {}
    for key, value in (best or {}).items():
        tensors[f"best.{key}"] = value
    for pid, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"opt.{pid}.{key}"] = value
            else:
                meta[f"opt.{pid}.{key}"] = value
    config = {
        "step": step,
        "history": asdict(history),
        "scheduler": sched.state_dict()["last_epoch"],
        "param_groups": opt.state_dict()["param_groups"],
        "scalars": meta,
        "train_config": asdict(cfg),
    }
    save_artifact(folder / "state", "tuned_lens_train_state", tensors, config, fingerprint=lens.unembed.fingerprint)


def _load_checkpoint(folder: Path, lens: TunedLens, opt, sched, model) -> tuple[int, TrainHistory]:
    back = TunedLens.load(folder / "lens", model)
    with torch.no_grad():
        lens.weight.copy_(back.weight)
        lens.bias.copy_(back.bias)
    art = load_artifact(folder / "state", model=model, kind="tuned_lens_train_state")
    state: dict[int, dict[str, Any]] = {}
    for name, t in art.tensors.items():
        if name.startswith("best."):
            continue
        _, pid, key = name.split(".", 2)
        state.setdefault(int(pid), {})[key] = t
    for name, v in art.config["scalars"].items():
        _, pid, key = name.split(".", 2)
        state.setdefault(int(pid), {})[key] = v
    opt.load_state_dict({"state": state, "param_groups": art.config["param_groups"]})
    sched.last_epoch = art.config["scheduler"]
    sched._last_lr = [g["lr"] for g in opt.param_groups]  # noqa: SLF001 - keep get_last_lr() right after resume
    h = art.config["history"]
    return int(art.config["step"]), TrainHistory(**h)
