"""Subject and object activations of relation prompts and the exact Jacobians ``d o / d s`` between them.

Layers follow steerlens's convention: layer ``l`` is ``Site(l, "resid_post")``, the output of block ``l``.
Jacobians are computed exactly, batched over prompts, with ``torch.func`` (one forward pass per batch,
then vectorised vector-Jacobian products, chunked to bound memory); the forward pass stops at the
object layer. The tokens before the subject run once into a fresh KV cache that the single
differentiated call uses once (the seed re-used one mutable cache across calls, which corrupts its
Jacobians), so the result is the plain autograd Jacobian of the whole sequence.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from tqdm.auto import tqdm

from ..errors import ShapeError
from ..model.architectures import resolve
from ..model.capture import capture, new_cache, run_partial
from ..model.site import Site
from ..model.tokens import Batch, pad
from .data import Prompt
from .locate import Aggregation, aggregation_weights, check_aggregation, locate, relation_sites

__all__ = ["jacobians", "subject_activations", "object_activations"]


def subject_activations(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[Prompt],
    layer: int,
    *,
    batch_size: int = 16,
) -> torch.Tensor:
    """``[n, d]`` activations leaving block ``layer`` at each prompt's subject token (fp32, CPU).

    The prompt text is run without its answer (the answer comes after the subject and cannot change it).
    """
    spec = resolve(model)
    site = spec.site(Site(layer, "resid_post"))
    if not prompts:
        return torch.zeros(0, spec.d_model)
    located = [locate(tokenizer, p, with_answer=False) for p in prompts]
    return capture(
        model,
        pad([loc.ids for loc in located]),
        site,
        positions=torch.tensor([loc.subject for loc in located]),
        batch_size=batch_size,
        dtype=torch.float32,
        offload=True,
        progress=False,
    )[site]


def object_activations(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[Prompt],
    layer: int,
    *,
    aggregation: Aggregation = "mean",
    batch_size: int = 16,
) -> torch.Tensor:
    """``[n, d]`` object activations: block ``layer``'s output over the answer-predicting tokens of
    ``prompt + " " + answer``, averaged (``"mean"``) or at the last prompt token (``"first_token"``)."""
    check_aggregation(aggregation)
    spec = resolve(model)
    site = spec.site(Site(layer, "resid_post"))
    if not prompts:
        return torch.zeros(0, spec.d_model)
    located = [locate(tokenizer, p) for p in prompts]
    h = capture(
        model, pad([loc.ids for loc in located]), site, batch_size=batch_size, dtype=torch.float32, offload=True, progress=False
    )[site]
    return torch.einsum("bt,btd->bd", aggregation_weights(located, aggregation, h.shape[1]), h)


def jacobians(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[Prompt],
    subject_layer: int,
    object_layer: int,
    *,
    aggregation: Aggregation = "mean",
    batch_size: int = 1,
    chunk_size: int | None = 128,
    progress: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-prompt Jacobians ``d o / d s`` with the subject and object activations.

    Returns:
        ``(J [n, d, d], s [n, d], o [n, d])`` on the model's device and dtype.

    Each batch runs one forward pass (stopping at the object layer) under ``torch.func.vjp``, with the
    subject token's activation replaced by the differentiated input; the ``d`` rows of every prompt's
    Jacobian then come from vectorised VJPs, ``chunk_size`` at a time (``None``: all at once).
    Prompts in a batch are independent, so one cotangent ``e_k`` on every row gives row ``k`` of all
    their Jacobians together. The rows of a batch are left-padded so that their subject tokens share a
    column, and the differentiated pass runs from that column to the batch's longest tail (subject to last
    object position). On CPU a batch still does not beat one prompt at a time (measured: 8 ICL prompts on
    gemma-3-270m, 71.6 s at batch_size 1, 82.2 s at 8, `benchmarks/README.md`), hence the default of 1.
    """
    check_aggregation(aggregation)
    spec = resolve(model)
    s_site, o_site = relation_sites(spec, subject_layer, object_layer)
    located = [locate(tokenizer, p) for p in prompts]
    d = spec.d_model
    device = next(model.parameters()).device
    chunk = d if chunk_size is None else int(chunk_size)
    if chunk < 1:
        raise ShapeError(f"chunk_size must be >= 1 or None, got {chunk_size}.")
    # batches of prompts with similar tails: the tokens before the subject do not depend on it, so they
    # run once (into a fresh KV cache, rows aligned on the subject column) and the differentiated pass,
    # forward and backward, covers only the tails, padded to the batch's longest
    order = sorted(range(len(located)), key=lambda i: located[i].predict[-1] - located[i].subject)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    jac_out = torch.empty(len(located), d, d, device=device, dtype=next(model.parameters()).dtype)
    s_out = torch.empty(len(located), d, device=device, dtype=jac_out.dtype)
    o_out = torch.empty_like(s_out)
    show = len(batches) > 1 if progress is None else progress
    for idx in tqdm(batches, desc="LRE Jacobians", unit="batch", disable=not show):
        part = [located[i] for i in idx]
        # tokens after the last answer-predicting position cannot change the object activation
        rows = [loc.ids[: loc.predict[-1] + 1] for loc in part]
        # each row is shifted right (left padding) so that every subject token sits in the same column: the
        # differentiated pass then starts at that column for every row, not at the batch's earliest subject
        col = max(loc.subject for loc in part)
        shift = [col - loc.subject for loc in part]
        batch = _aligned(rows, shift).to(device)
        positions = batch.position_ids()
        subj = torch.tensor([loc.subject for loc in part], device=device)
        ar = torch.arange(len(part), device=device)
        s = capture(model, pad(rows), s_site, positions=subj.cpu(), batch_size=len(part), offload=False, progress=False)[s_site]
        start = col
        prefix = _prefix_cache(model, batch, positions, start, o_site) if start > 0 else None
        w = aggregation_weights(part, aggregation, batch.input_ids.shape[1])  # in each row's own positions
        w = torch.stack([torch.roll(row, k) for row, k in zip(w, shift)])[:, start:].to(device=device, dtype=s.dtype)
        ids = batch.input_ids[:, start:]
        pos_ids = positions[:, start:]
        local = torch.zeros_like(subj)

        def f(
            x: torch.Tensor, ids=ids, pos_ids=pos_ids, mask=batch.attention_mask, prefix=prefix, local=local, ar=ar, w=w
        ) -> tuple[torch.Tensor, torch.Tensor]:
            got: dict[str, torch.Tensor] = {}

            def write(h: torch.Tensor) -> torch.Tensor:
                return h.index_put((ar, local), x.to(h.dtype))

            def read(h: torch.Tensor) -> None:
                got["o"] = h

            run_partial(
                model,
                ids,
                attention_mask=mask,
                position_ids=pos_ids,
                hooks=[(s_site, write), (o_site, read)],
                stop_after=o_site,
                cache=copy.deepcopy(prefix) if prefix is not None else None,
            )
            o = torch.einsum("bt,btd->bd", w, got["o"])
            return o, o.detach()

        # the math SDPA backend is made of plain ops, whose backward vmap can batch (the fused
        # kernels' backward has no batching rule and would fall back to a slow per-row loop)
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
            # with has_aux=True vjp returns (output, vjp_fn, aux); its stub is a union with the 2-tuple form
            _, vjp_fn, o = cast("tuple[Any, Callable[..., Any], torch.Tensor]", torch.func.vjp(f, s, has_aux=True))
            eye = torch.eye(d, device=device, dtype=s.dtype)
            rows_out = []
            for k in range(0, d, chunk):
                cot = eye[k : k + chunk, None, :].expand(-1, len(part), d)
                rows_out.append(torch.func.vmap(vjp_fn)(cot)[0])  # [c, b, d_in]
            where = torch.tensor(idx, device=device)
            jac_out[where] = torch.cat(rows_out).permute(1, 0, 2).to(jac_out.dtype)  # [b, d_out, d_in]
        s_out[where] = s.to(s_out.dtype)
        o_out[where] = o.to(o_out.dtype)
    return jac_out, s_out, o_out


def _aligned(rows: Sequence[Sequence[int]], shift: Sequence[int]) -> Batch:
    """``rows`` with ``shift[i]`` pad tokens before row ``i`` and right padding after (marked by the mask)."""
    width = max(k + len(r) for r, k in zip(rows, shift))
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, (r, k) in enumerate(zip(rows, shift)):
        ids[i, k : k + len(r)] = torch.as_tensor(list(r), dtype=torch.long)
        mask[i, k : k + len(r)] = 1
    return Batch(ids, mask)


def _prefix_cache(model: torch.nn.Module, batch: Any, positions: torch.Tensor, start: int, last: Site) -> Any:
    """A KV cache of the first ``start`` tokens (real in every row), filled up to block ``last``."""
    cache = new_cache(model)
    with torch.no_grad():
        run_partial(
            model,
            batch.input_ids[:, :start],
            attention_mask=batch.attention_mask[:, :start],
            position_ids=positions[:, :start],
            stop_after=last,
            cache=cache,
        )
    return cache
