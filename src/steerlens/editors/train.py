"""Training REMEDI editors: the editing loss, AdamW, early stopping on a held-out split.

Loss of a batch (``p~`` the edited model, ``p`` the unedited one, ``T`` each prompt's last token):

* ``L_m = -mean_b log p~(t_new | T)`` -- make the new attribute's first token likely;
* ``L_u = -mean_b log(1 - p~(t_true | T))`` -- push the old fact down (rows without a true target skip it);
* ``L_kl = (1/B) sum_b sum_{t = e_b}^{T_b - 1} KL(p(. | t) || p~(. | t))`` -- stay close to the unedited
  model from the edited (last entity) token up to, not including, the last token; **summed over every
  example of the batch** (REMEDI's code assigns instead of accumulating and keeps one example);
* optional ``L_norm = mean ||d||``.

``L = lam_m L_m + lam_u L_u + lam_kl L_kl (+ lam_norm L_norm)``, defaults 1, 1, 10.

:func:`train_editor` runs AdamW (lr 1e-3, batch 16) for at most 20 epochs after an evaluation-only
epoch 0, keeps a **deep copy** of the best validation state and restores it at the end (REMEDI keeps
the last epoch's weights by mistake), and stops after ``patience`` epochs without improvement. The
language model is frozen throughout; the unedited states needed for the KL term are computed once.

Under a ``torch.distributed`` process group (``torchrun``, then :func:`steerlens.distributed.init_from_env`),
every batch's rows are dealt out to the ranks; each rank's loss, weighted by its share of the rows, is
backpropagated, and the editor's gradients and the loss sums are added up with ``all_reduce``. Every term of
the loss is a mean over rows, so N ranks take the same steps as one process on the same batches. Rank 0
alone shows progress and saves checkpoints.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

import torch
from tqdm.auto import tqdm

from .._results import JsonResult
from ..distributed import all_reduce_sum, group_world, share
from ..errors import DataFormatError, ShapeError
from ..model import intervene, resolve
from ..model.capture import final_hidden
from ..model.tokens import encode
from .data import EditSample, split_samples
from .editors import Editor, RandomEditor, make_editor
from .inputs import EditorInputs, edit, edit_spans, entity_span, precompute, target_ids

__all__ = ["EditingBatch", "editing_batch", "editing_loss", "train_editor", "TrainResult", "fit_random_editor", "frozen"]


class frozen:
    """Context manager: ``requires_grad=False`` on every parameter of a model, restored on exit."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.saved: list[tuple[torch.nn.Parameter, bool]] = []

    def __enter__(self) -> torch.nn.Module:
        self.saved = [(p, p.requires_grad) for p in self.model.parameters()]
        for p, _ in self.saved:
            p.requires_grad_(False)
        return self.model

    def __exit__(self, *exc: Any) -> None:
        for p, flag in self.saved:
            p.requires_grad_(flag)


@dataclass
class EditingBatch:
    """Tokenised prompts of some samples with everything the loss needs.

    Attributes:
        rows: Token ids of each prompt (BOS included).
        spans: Edit span of each prompt (the entity's last token by default).
        new, true: ``[n]`` first-token ids of the new and the true target (``-1``: no true target).
        kl_start: ``[n]`` first KL position (the first edited token); the last is ``len - 2``.
        orig: Per row, the unedited final-normed states ``[len - 1 - kl_start, d]`` at the KL positions.
    """

    rows: list[list[int]]
    spans: list[tuple[int, int]]
    new: torch.Tensor
    true: torch.Tensor
    kl_start: torch.Tensor
    orig: list[torch.Tensor] = field(default_factory=list)


@torch.no_grad()
def editing_batch(
    model: torch.nn.Module,
    tokenizer: Any,
    samples: Sequence[EditSample],
    *,
    last_token: bool = True,
    batch_size: int = 32,
    with_orig: bool = True,
) -> EditingBatch:
    """Tokenise ``samples``' prompts, find edit spans and targets, and (``with_orig``) the unedited states."""
    rows = encode(tokenizer, [s.prompt for s in samples])
    spans = edit_spans(tokenizer, [s.prompt for s in samples], [s.entity for s in samples], 0, last_token)
    new, true = target_ids(tokenizer, [s.target_new for s in samples]), target_ids(tokenizer, [s.target_true for s in samples])
    vocab = resolve(model).vocab_size
    for s, t in zip(samples, new.tolist()):
        if not 0 <= t < vocab:
            raise DataFormatError(f"sample {s.id!r}: the target {s.target_new!r} has no token in this model's vocabulary.")
    kl_start = torch.tensor([sp[1] - 1 for sp in spans])
    for s, r, k in zip(samples, rows, kl_start.tolist()):
        if k >= len(r):
            raise DataFormatError(f"sample {s.id!r}: the entity ends the prompt {s.prompt!r}; nothing is left to predict.")
    out = EditingBatch(rows, spans, new, true, kl_start)
    if with_orig:
        for i in range(0, len(rows), batch_size):
            h = final_hidden(model, rows[i : i + batch_size]).float().cpu()
            for j, r in enumerate(rows[i : i + batch_size]):
                out.orig.append(h[j, int(kl_start[i + j]) : len(r) - 1].clone())
    return out


class _LossWeights(TypedDict):
    """The loss weights :func:`train_editor` passes on to :func:`editing_loss`."""

    lam_m: float
    lam_u: float | None
    lam_kl: float | None
    lam_norm: float | None


def editing_loss(
    model: torch.nn.Module,
    editor: Editor,
    inputs: EditorInputs,
    batch: EditingBatch,
    idx: Sequence[int],
    *,
    lam_m: float = 1.0,
    lam_u: float | None = 1.0,
    lam_kl: float | None = 10.0,
    lam_norm: float | None = None,
    strength: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The editing loss of rows ``idx`` (see the module doc) and its parts."""
    spec = resolve(model)
    device = next(model.parameters()).device
    sub = inputs.subset(idx)
    dirs = editor(sub.entity(editor.input_last_entity_token).to(device), sub.attribute.to(device))
    rows = [batch.rows[i] for i in idx]
    spans = [batch.spans[i] for i in idx]
    with intervene(model, [edit(editor.layer, dirs, spans, strength=strength)]):
        h = final_hidden(model, rows)
    b = len(idx)
    last = torch.tensor([len(r) - 1 for r in rows], device=device)
    lp = torch.log_softmax(spec.logits_from_final(h[torch.arange(b, device=device), last]).float(), -1)
    new = batch.new[list(idx)].to(device)
    true = batch.true[list(idx)].to(device)
    parts: dict[str, float] = {}
    loss_m = -lp.gather(1, new[:, None])[:, 0].mean()
    loss = lam_m * loss_m
    parts["new"] = float(loss_m.detach())
    if lam_u is not None:
        has = true >= 0
        if bool(has.any()):
            p_true = lp.gather(1, true.clamp(min=0)[:, None])[:, 0].exp()
            loss_u = -(torch.log1p(-p_true.clamp(max=1 - 1e-6)) * has).sum() / b
            loss = loss + lam_u * loss_u
            parts["true"] = float(loss_u.detach())
    if lam_kl is not None:
        sel_rows, sel_pos, orig = [], [], []
        for j, i in enumerate(idx):
            k0, n = int(batch.kl_start[i]), len(batch.rows[i]) - 1
            sel_rows += [j] * (n - k0)
            sel_pos += list(range(k0, n))
            orig.append(batch.orig[i])
        if sel_rows:
            hs = h[torch.tensor(sel_rows, device=device), torch.tensor(sel_pos, device=device)]
            lp_edit = torch.log_softmax(spec.logits_from_final(hs).float(), -1)
            with torch.no_grad():
                ho = torch.cat(orig).to(device=device, dtype=h.dtype)
                lp_orig = torch.log_softmax(spec.logits_from_final(ho).float(), -1)
            kl = torch.nn.functional.kl_div(lp_edit, lp_orig, log_target=True, reduction="sum") / b
            loss = loss + lam_kl * kl
            parts["kl"] = float(kl.detach())
    if lam_norm is not None:
        norm = dirs.norm(dim=-1).mean()
        loss = loss + lam_norm * norm
        parts["norm"] = float(norm.detach())
    parts["loss"] = float(loss.detach())
    return loss, parts


@dataclass
class TrainResult(JsonResult):
    """What :func:`train_editor` did.

    Attributes:
        editor: The trained editor, holding the best validation state.
        history: Per epoch: ``{"epoch", "train_loss", "val_loss", "seconds"}`` (epoch 0 has no training:
            its ``train_loss`` is ``None``).
        best_epoch: The epoch whose state was kept.
        seconds: Wall time of the whole run (precompute included).
        step_seconds: Mean wall time of one training step.
        peak_memory: Peak accelerator memory in bytes (``None`` on CPU).
    """

    editor: Editor
    history: list[dict[str, float | None]]
    best_epoch: int
    seconds: float
    step_seconds: float
    peak_memory: int | None = None

    @property
    def untrained(self) -> bool:
        """No epoch beat the starting state on validation, so the editor returned is the untrained one (the null
        edit, for editors that start at zero)."""
        return self.best_epoch == 0

    def to_dict(self) -> dict[str, Any]:
        """History and timings (no tensors)."""
        return {
            "history": self.history,
            "best_epoch": self.best_epoch,
            "untrained": self.untrained,
            "seconds": self.seconds,
            "step_seconds": self.step_seconds,
            "peak_memory": self.peak_memory,
            "config": self.editor.config(),
        }


def train_editor(
    model: torch.nn.Module,
    tokenizer: Any,
    samples: Sequence[EditSample],
    layer: int,
    *,
    kind: str = "linear",
    editor: Editor | None = None,
    validation: Sequence[EditSample] | None = None,
    hold_out: float = 0.1,
    max_epochs: int = 20,
    batch_size: int = 16,
    lr: float = 1e-3,
    lam_m: float = 1.0,
    lam_u: float | None = 1.0,
    lam_kl: float | None = 10.0,
    lam_norm: float | None = None,
    patience: int = 2,
    seed: int = 0,
    standardize: bool = True,
    inputs: EditorInputs | None = None,
    progress: bool | None = None,
    checkpoint: str | None = None,
    **editor_options: Any,
) -> TrainResult:
    """Train one editor at ``layer`` on ``samples`` (see the module doc for the loss and the loop).

    Args:
        model: A Hugging Face causal LM; it is frozen.
        tokenizer: Its tokenizer.
        samples: Training samples (``validation`` given) or all samples (``hold_out`` of them, seeded,
            are held out).
        layer: The layer to read and edit (negative counts from the end).
        kind: Editor kind for :func:`make_editor` (ignored when ``editor`` is given).
        patience: Stop after this many epochs in a row without a better validation loss.
        standardize: Fit the editor's input standardisation and output scale on the training inputs
            first (:meth:`Editor.fit_scales`); ``False`` feeds raw states, as REMEDI does.
        checkpoint: Folder to save the best editor to after every improvement.
        **editor_options: Passed to :func:`make_editor` (``rank``, ``use_entity``, ...).
    """

    t_start = time.perf_counter()
    spec = resolve(model)
    layer = spec.site(layer).layer
    ed = editor if editor is not None else make_editor(kind, model, layer, **editor_options)
    if ed.layer != layer:
        raise ShapeError(f"The editor is for layer {ed.layer}, but training was asked for layer {layer}.")
    if not ed.trainable:
        raise ShapeError(f"A {ed.kind!r} editor has nothing to train.")
    if validation is None:
        if not 0 < hold_out < 1:
            raise DataFormatError(f"hold_out must be between 0 and 1, got {hold_out}.")
        parts = split_samples(samples, (1 - hold_out, hold_out, 0.0), seed=seed)
        train, val = parts["train"], parts["validation"]
    else:
        train, val = list(samples), list(validation)
    if not train or not val:
        raise DataFormatError(f"Training needs samples in both splits (train {len(train)}, validation {len(val)}).")
    if batch_size < 1 or max_epochs < 0 or patience < 0:
        raise DataFormatError("batch_size must be >= 1 and max_epochs, patience >= 0.")
    device = next(model.parameters()).device
    ed.to(device).float()
    all_samples = list(train) + list(val)
    ins = inputs if inputs is not None else precompute(model, tokenizer, all_samples, layer, progress=progress)[layer]
    if len(ins) != len(all_samples):
        raise ShapeError(f"{len(ins)} precomputed inputs for {len(all_samples)} samples.")
    if standardize and editor is None:
        ed.fit_scales(ins.entity(ed.input_last_entity_token)[: len(train)], ins.attribute[: len(train)])
    batch = editing_batch(model, tokenizer, all_samples, last_token=ed.edit_last_entity_token)
    n_train = len(train)
    tr_idx, va_idx = list(range(n_train)), list(range(n_train, len(all_samples)))
    opt = torch.optim.AdamW(ed.parameters(), lr=lr)
    loss_kw = _LossWeights(lam_m=lam_m, lam_u=lam_u, lam_kl=lam_kl, lam_norm=lam_norm)
    gen = torch.Generator().manual_seed(seed)
    history: list[dict[str, float | None]] = []
    best, best_state, best_epoch, bad = math.inf, copy.deepcopy(ed.state_dict()), 0, 0
    step_times: list[float] = []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rank, world_size = group_world()
    show = (progress if progress is not None else True) and rank == 0
    with frozen(model):
        was_training = model.training
        model.eval()
        try:
            for epoch in range(max_epochs + 1):
                t0 = time.perf_counter()
                train_loss: float | None = None  # epoch 0 only evaluates
                if epoch > 0:
                    ed.train()
                    order = torch.randperm(n_train, generator=gen).tolist()
                    total = 0.0
                    bar = tqdm(
                        range(0, n_train, batch_size),
                        desc=f"editor L{layer} epoch {epoch}",
                        unit="batch",
                        disable=not show,
                        leave=False,
                    )
                    for i in bar:
                        ts = time.perf_counter()
                        idx = [tr_idx[j] for j in order[i : i + batch_size]]
                        opt.zero_grad(set_to_none=True)
                        # the loss is a mean over rows: each rank's share, weighted by its size, sums to it
                        mine = share(idx, model, "rows of a batch")
                        part = torch.zeros((), dtype=torch.float64)
                        if mine:
                            loss, _ = editing_loss(model, ed, ins, batch, mine, **loss_kw)
                            (loss * (len(mine) / len(idx))).backward()
                            part += float(loss.detach()) * len(mine)
                        if world_size > 1:
                            for prm in ed.parameters():
                                if prm.requires_grad:
                                    if prm.grad is None:
                                        prm.grad = torch.zeros_like(prm)
                                    all_reduce_sum(prm.grad)
                            all_reduce_sum(part)
                        opt.step()
                        step_times.append(time.perf_counter() - ts)
                        total += float(part)
                        bar.set_postfix(loss=f"{float(part) / len(idx):.3f}")
                    train_loss = total / n_train
                ed.eval()
                with torch.no_grad():
                    val_sum = torch.zeros((), dtype=torch.float64)
                    for i in range(0, len(va_idx), batch_size):
                        mine = share(va_idx[i : i + batch_size], model, "rows of a validation batch")
                        if mine:
                            val_sum += float(editing_loss(model, ed, ins, batch, mine, **loss_kw)[0]) * len(mine)
                    all_reduce_sum(val_sum)
                val_loss = float(val_sum) / len(va_idx)
                history.append(
                    {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "seconds": time.perf_counter() - t0}
                )
                if show:
                    shown = "-" if train_loss is None else f"{train_loss:.4f}"
                    tqdm.write(f"editor L{layer} epoch {epoch}: train {shown} val {val_loss:.4f}")
                if val_loss < best:
                    best, best_state, best_epoch, bad = val_loss, copy.deepcopy(ed.state_dict()), epoch, 0
                    if checkpoint and rank == 0:
                        ed.save(checkpoint, model=model, history={"history": history, "best_epoch": epoch})
                else:
                    bad += 1
                    if bad >= patience + 1 and epoch > 0:
                        break
        finally:
            model.train(was_training)
    ed.load_state_dict(best_state)
    ed.eval()
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    result = TrainResult(ed, history, best_epoch, time.perf_counter() - t_start, sum(step_times) / max(len(step_times), 1), peak)
    if result.untrained and len(history) > 1:
        warnings.warn(
            f"train_editor (layer {layer}): no epoch improved the validation loss over the untrained editor "
            f"({history[0]['val_loss']:.4f}), so the editor returned is the untrained one, which makes no edit. "
            "Try a larger lr, more epochs or a smaller lam_kl.",
            stacklevel=2,
        )
    return result


@torch.no_grad()
def fit_random_editor(
    model: torch.nn.Module,
    tokenizer: Any,
    samples: Sequence[EditSample],
    layer: int,
    *,
    rank: int | None = None,
    seed: int = 0,
    batch_size: int = 32,
) -> RandomEditor:
    """The ``random`` control editor: mean and covariance of in-context entity changes.

    A change is the entity's last-token state at its second mention in ``context + ". " + prompt``
    minus its state at the first mention of the bare prompt, at ``layer``.
    """
    from ..model import Site, capture
    from .data import prompt_in_context

    spec = resolve(model)
    layer = spec.site(layer).layer
    ctx_texts = [prompt_in_context(s) for s in samples]
    second = torch.tensor([entity_span(tokenizer, t, s.entity, 1)[1] - 1 for t, s in zip(ctx_texts, samples)])
    first = torch.tensor([sp[0] for sp in edit_spans(tokenizer, [s.prompt for s in samples], [s.entity for s in samples])])
    a = capture(
        model,
        ctx_texts,
        Site(layer),
        tokenizer=tokenizer,
        positions=second,
        batch_size=batch_size,
        dtype=torch.float32,
        offload=True,
        progress=False,
    )[Site(layer)]
    b = capture(
        model,
        [s.prompt for s in samples],
        Site(layer),
        tokenizer=tokenizer,
        positions=first,
        batch_size=batch_size,
        dtype=torch.float32,
        offload=True,
        progress=False,
    )[Site(layer)]
    delta = (a - b).double()
    mean = delta.mean(0)
    centred = delta - mean
    k = min(rank or spec.d_model, spec.d_model)
    cov = centred.T @ centred / max(len(delta) - 1, 1)
    evals, evecs = torch.linalg.eigh(cov)
    evals, evecs = evals.flip(0)[:k].clamp(min=0), evecs.flip(1)[:, :k]
    ed = RandomEditor(spec.d_model, layer, rank=k, seed=seed)
    ed.mean.copy_(mean.float())
    ed.scale.copy_((evecs * evals.sqrt()).float())
    return ed
