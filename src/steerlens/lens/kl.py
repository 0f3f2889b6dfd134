"""KL(target || softmax(x W^T)) over a large vocabulary, chunked so memory stays small.

With a 262k-token vocabulary (Gemma-3), the logits of a few hundred tokens for every layer do not
fit comfortably in memory, and autograd would keep them for the backward pass. This function never
materialises more than ``[rows, chunk]`` logits: it streams over vocabulary chunks with a running
log-sum-exp and accumulates the gradient in the same pass. The result and its gradient are those
of the plain formula (tested against it).
"""

from __future__ import annotations

from typing import TypedDict

import torch

from ..errors import ShapeError

__all__ = ["chunked_kl", "stream_vocab"]


class _TensorOpts(TypedDict):
    """Keyword arguments for tensor factories: ``torch.zeros(..., **opts)``."""

    dtype: torch.dtype
    device: torch.device


def stream_vocab(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    target_logp: torch.Tensor,
    softcap: float | None,
    chunk: int,
    compute_dtype: torch.dtype,
    *,
    need_grad: bool = False,
    need_entropy: bool = True,
    next_ids: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """One pass over vocabulary chunks with an online softmax (the engine of :func:`chunked_kl`).

    ``x``: ``[..., n, d]`` normed states; ``target_logp``: ``[n, V]``, shared by every leading index
    of ``x`` (e.g. every layer). Returns float32 ``[..., n]`` tensors, in nats: ``kl`` =
    KL(target || q) and (with ``need_entropy``) ``entropy`` = H(q); with ``next_ids`` (``[n]``, -1 for
    none) also ``ce`` = -log q(next); with ``need_grad`` also ``grad`` = d kl / d x (``[..., n, d]``),
    accumulated in the same pass: d kl / dz = q - p, so d kl / dx = sum_c (q_c - p_c) W_c, with
    ``q_c = exp(z_c - m) / s`` rescaled as the running max ``m`` grows. Two matmuls per chunk, no logits
    kept. Without a soft-cap, the cross term sum_v p_v z_v is read off the gradient's accumulator at the
    end (``x . sum_v p_v W_v``) instead of a pass over every chunk's logits.
    """
    lead, vocab = x.shape[:-1], weight.shape[0]
    f32 = _TensorOpts(dtype=torch.float32, device=x.device)
    m = torch.full(lead, -float("inf"), **f32)
    s, sz, cross, z_next = (torch.zeros(lead, **f32) for _ in range(4))  # sz: sum exp(z - m) z; cross: sum p z
    neg_entropy = torch.zeros(lead[-1:], **f32)  # sum_v p_v log p_v
    cross_from_grad = need_grad and not softcap
    p_bias = torch.zeros(lead[-1:], **f32)  # sum_v p_v b_v (bias part of the cross term)
    if need_grad:
        acc_q = torch.zeros(*lead, x.shape[-1], **f32)  # sum_v exp(z_v - m) dz_v W_v
        acc_p = torch.zeros(*(lead if softcap else lead[-1:]), x.shape[-1], **f32)  # sum_v p_v dz_v W_v
    xc = x.to(compute_dtype)
    dz: torch.Tensor | None = None
    for a in range(0, vocab, chunk):
        w = weight[a : a + chunk].to(compute_dtype)
        z = torch.matmul(xc, w.T).float()
        if bias is not None:
            z += bias[a : a + chunk].float()
        if softcap:
            t = torch.tanh(z / softcap)
            z, dz = t * softcap, 1 - t * t
        lp = target_logp[:, a : a + chunk].float()
        p = lp.exp()
        if cross_from_grad:
            if bias is not None:
                p_bias += p @ bias[a : a + chunk].float()
        else:
            cross += (p * z).sum(-1)
        neg_entropy += torch.where(p > 0, p * lp, torch.zeros_like(p)).sum(-1)
        new_m = torch.maximum(m, z.amax(-1))
        rescale = torch.exp(m - new_m)
        if next_ids is not None:
            inside = (next_ids >= a) & (next_ids < a + z.shape[-1])
            if bool(inside.any()):
                idx = (next_ids - a).clamp(0, z.shape[-1] - 1).expand(lead)
                z_next += torch.where(inside, z.gather(-1, idx[..., None])[..., 0], 0.0)
        if need_entropy:
            e = torch.exp(z - new_m[..., None])
            sz = sz * rescale + (e * z).sum(-1)
        else:  # z is not needed any more: exponentiate in place
            e = z.sub_(new_m[..., None]).exp_()
        s = s * rescale + e.sum(-1)
        m = new_m
        if need_grad:
            acc_q.mul_(rescale[..., None])
            acc_q += ((e * dz if dz is not None else e).to(compute_dtype) @ w).float()
            acc_p += ((p * dz if dz is not None else p).to(compute_dtype) @ w).float()
    lse = m + s.log()
    if cross_from_grad:
        cross = (x.float() * acc_p).sum(-1) + p_bias
    out = {"kl": neg_entropy - cross + lse}
    if need_entropy:
        out["entropy"] = lse - sz / s
    if next_ids is not None:
        out["ce"] = lse - z_next
    if need_grad:
        out["grad"] = acc_q / s[..., None] - acc_p
    return out


class _ChunkedKL(torch.autograd.Function):
    """Autograd wrapper of :func:`stream_vocab`: the gradient comes from the forward pass itself."""

    @staticmethod
    def forward(ctx, x, weight, bias, target_logp, softcap, chunk, need_grad, compute_dtype):
        out = stream_vocab(x, weight, bias, target_logp, softcap, chunk, compute_dtype, need_grad=need_grad, need_entropy=False)
        if need_grad:
            ctx.save_for_backward(out["grad"])
        ctx.x_dtype = x.dtype
        return out["kl"]

    @staticmethod
    def backward(ctx, grad_out):
        (grad_unit,) = ctx.saved_tensors
        grad_x = (grad_unit * grad_out.float()[..., None]).to(ctx.x_dtype)
        return grad_x, None, None, None, None, None, None, None


def chunked_kl(
    x: torch.Tensor,
    weight: torch.Tensor,
    target_logp: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    softcap: float | None = None,
    chunk: int = 16384,
    compute_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Per-row ``KL(p || q)`` in nats, ``q = softmax(softcap(x W^T + b))`` and ``p = exp(target_logp)``.

    Args:
        x: ``[..., n, d]`` (already final-normed) states, e.g. ``[layers, tokens, d]``; gradients flow to
            it (not to ``weight``). Leading dimensions share the same target.
        weight: ``[vocab, d]`` unembedding.
        target_logp: ``[n, vocab]`` target log-probabilities (any float dtype; bf16 halves memory).
        bias: optional ``[vocab]`` unembedding bias.
        softcap: optional logit soft-cap (Gemma-2).
        chunk: vocabulary entries per step.
        compute_dtype: dtype of the two matmuls per chunk (default: ``x``'s). ``torch.bfloat16`` is several
            times faster on CPUs with AVX512-BF16; softmax, KL and accumulation stay in float32. Pass
            ``weight`` already in that dtype to avoid re-casting it on every call.
    """
    if x.dim() < 2 or target_logp.shape != (x.shape[-2], weight.shape[0]) or x.shape[-1] != weight.shape[1]:
        raise ShapeError(
            f"chunked_kl: x {tuple(x.shape)}, weight {tuple(weight.shape)} and target "
            f"{tuple(target_logp.shape)} do not fit ([..., n, d], [V, d], [n, V])."
        )
    need_grad = torch.is_grad_enabled() and x.requires_grad
    return _ChunkedKL.apply(
        x,
        weight.detach(),
        None if bias is None else bias.detach(),
        target_logp.detach(),
        softcap,
        int(chunk),
        need_grad,
        compute_dtype or x.dtype,
    )
