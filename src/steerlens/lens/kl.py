"""KL(target || softmax(x W^T)) over a large vocabulary, chunked so memory stays small.

With a 262k-token vocabulary (Gemma-3), the logits of a few hundred tokens for every layer do not
fit comfortably in memory, and autograd would keep them for the backward pass. This function never
materialises more than ``[rows, chunk]`` logits: the forward pass streams over vocabulary chunks
with a running log-sum-exp, and the backward pass recomputes each chunk's softmax. The result and
its gradient are those of the plain formula (tested against it).
"""

from __future__ import annotations

import torch

from ..errors import ShapeError

__all__ = ["chunked_kl"]


class _ChunkedKL(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, target_logp, softcap, chunk):  # type: ignore[override]
        # x: [..., n, d] normed states; weight: [V, d]; target_logp: [n, V] (log-probs of the target,
        # shared by every leading index of x, e.g. every layer)
        lead, vocab = x.shape[:-1], weight.shape[0]
        m = torch.full(lead, -float("inf"), dtype=torch.float32, device=x.device)
        s = torch.zeros(lead, dtype=torch.float32, device=x.device)
        cross = torch.zeros(lead, dtype=torch.float32, device=x.device)  # sum_v p_v z_v
        neg_entropy = torch.zeros(lead[-1:], dtype=torch.float32, device=x.device)  # sum_v p_v log p_v
        for a in range(0, vocab, chunk):
            z = _logits(x, weight, bias, softcap, a, a + chunk).float()
            lp = target_logp[:, a : a + chunk].float()
            p = lp.exp()
            cross += (p * z).sum(-1)
            neg_entropy += torch.where(p > 0, p * lp, torch.zeros_like(p)).sum(-1)
            cm = z.max(-1).values
            new_m = torch.maximum(m, cm)
            s = s * torch.exp(m - new_m) + torch.exp(z - new_m[..., None]).sum(-1)
            m = new_m
        lse = m + s.log()
        ctx.save_for_backward(x, weight, bias if bias is not None else torch.empty(0), target_logp, lse)
        ctx.softcap, ctx.chunk, ctx.has_bias = softcap, chunk, bias is not None
        return neg_entropy - cross + lse  # per-row KL in nats

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        x, weight, bias, target_logp, lse = ctx.saved_tensors
        bias = bias if ctx.has_bias else None
        grad_x = torch.zeros_like(x, dtype=torch.float32)
        g = grad_out.float()[..., None]
        for a in range(0, weight.shape[0], ctx.chunk):
            raw = x @ weight[a : a + ctx.chunk].to(x.dtype).T
            if bias is not None:
                raw = raw + bias[a : a + ctx.chunk].to(raw.dtype)
            z = raw.float()
            if ctx.softcap:
                t = torch.tanh(z / ctx.softcap)
                z, dz = t * ctx.softcap, 1 - t * t
            q = torch.exp(z - lse[..., None])
            dlogits = (q - target_logp[:, a : a + ctx.chunk].float().exp()) * g
            if ctx.softcap:
                dlogits = dlogits * dz
            grad_x += dlogits.to(x.dtype) @ weight[a : a + ctx.chunk].to(x.dtype)
        return grad_x.to(x.dtype), None, None, None, None, None


def _logits(x, weight, bias, softcap, a, b):
    z = x @ weight[a:b].to(x.dtype).T
    if bias is not None:
        z = z + bias[a:b].to(z.dtype)
    if softcap:
        z = torch.tanh(z / softcap) * softcap
    return z


def chunked_kl(
    x: torch.Tensor,
    weight: torch.Tensor,
    target_logp: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    softcap: float | None = None,
    chunk: int = 16384,
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
    """
    if x.dim() < 2 or target_logp.shape != (x.shape[-2], weight.shape[0]) or x.shape[-1] != weight.shape[1]:
        raise ShapeError(f"chunked_kl: x {tuple(x.shape)}, weight {tuple(weight.shape)} and target "
                         f"{tuple(target_logp.shape)} do not fit ([..., n, d], [V, d], [n, V]).")
    return _ChunkedKL.apply(x, weight.detach(), None if bias is None else bias.detach(), target_logp.detach(),
                            softcap, int(chunk))
