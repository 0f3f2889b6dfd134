"""Self-check: the located parts of a model behave as steerlens' conventions say."""

from __future__ import annotations

from typing import Any

import torch

from .architectures import NormThenHead, flat_streams, resolve, unstack
from .capture import capture, run_body
from .hooks import hook_group
from .site import POINTS, Site
from .tokens import Batch

__all__ = ["self_check"]


def _err(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest absolute difference relative to the scale of ``b`` (infinite where the shapes differ)."""
    if a.shape != b.shape:
        return float("inf")
    return float((a.float() - b.float()).abs().max() / (b.float().abs().max() + 1e-6))


def self_check(
    model: torch.nn.Module,
    tokenizer: Any = None,
    text: str = "The quick brown fox jumps over the lazy dog",
    atol: float | None = None,
) -> dict[str, Any]:
    """Check every site of a model against what the model itself computes.

    * ``resid_pre`` of layer i equals ``hidden_states[i]``; ``resid_post`` of layer i equals
      ``hidden_states[i + 1]`` (for the last layer, either raw or after the final norm, as HF models differ;
      where a family records block outputs only, ``hidden_states[i]`` is ``resid_post`` of layer i);
      ``resid_pre`` of layer i + 1 equals ``resid_post`` of layer i;
    * ``final norm + unembedding`` of the last ``resid_post`` reproduces the model's logits;
    * branch sum: ``resid_post == resid_pre + mixer_out + mlp_out`` on every layer whose branches all
      have a site (each term times its recorded scale; a layer without an MLP sums the mixer alone);
    * capture: what :func:`~steerlens.model.capture.capture` returns at every site equals a clone
      taken inside a hook at that very module during the forward pass;
    * edits land: adding ``delta`` at a middle layer's ``mixer_out`` / ``attn_out`` / ``mlp_out`` moves
      that layer's ``resid_post`` by exactly ``scale * delta``.

    Returns a JSON-friendly report whose ``ok`` is True when every check passes within ``atol``
    (relative to the scale of the compared tensors; default 1e-4 in float32, 2e-2 in half precision).
    """
    spec = resolve(model)
    param = next(model.parameters())
    device = param.device
    if atol is None:
        atol = 1e-4 if param.dtype in (torch.float32, torch.float64) else 2e-2
    if tokenizer is not None:
        ids = torch.tensor([tokenizer(text)["input_ids"]])
    else:
        ids = torch.randint(0, spec.vocab_size, (1, 12), generator=torch.Generator().manual_seed(0))
    batch = Batch(ids.to(device), torch.ones_like(ids).to(device))
    inputs = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}
    with torch.no_grad():
        out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_hidden_states=True, use_cache=False)
    hs = out.hidden_states
    if spec.stacked_streams:  # stacked streams, read flat as steerlens' residual sites are
        hs = tuple(flat_streams(h, spec.stacked_streams) if h.dim() == 4 else h for h in hs)
    L = spec.n_layers
    sites = [Site(i, p) for i in range(L) for p in POINTS if spec.has(Site(i, p))]  # type: ignore[arg-type]
    acts = capture(model, inputs, sites)
    clones, extras = _hook_clones(model, batch, sites)

    # Hugging Face's convention: hidden_states[i] enters block i (the embedding output first). A few
    # families (Mamba, RWKV) record the output of each block instead; the check accepts either, says which,
    # and independently checks that each block starts where the previous one ended.
    shift = 0 if len(hs) == L + 1 and _err(acts[Site(0, "resid_pre")][0], hs[0][0]) <= atol else 1
    if shift:
        hs = (None, *hs)
    pre = [_err(acts[Site(i, "resid_pre")][0], hs[i][0]) for i in range(shift, L)]
    post = [_err(acts[Site(i, "resid_post")][0], hs[i + 1][0]) for i in range(L - 1)]
    chain = [_err(acts[Site(i, "resid_pre")][0], acts[Site(i - 1, "resid_post")][0]) for i in range(1, L)]
    last = acts[Site(L - 1, "resid_post")]
    with torch.no_grad():
        last_raw = _err(last[0], hs[L][0]) if len(hs) > L else float("inf")
        norm = spec.final_norm.norm if isinstance(spec.final_norm, NormThenHead) else spec.final_norm
        last_normed = _err(norm(last)[0], hs[L][0]) if len(hs) > L else float("inf")
        logits_err = _err(spec.logits(last)[0], out.logits[0])
    branch = [0.0] + [_sum_err(spec.layouts[i], i, acts, extras, spec) for i in range(L) if spec.layouts[i].complete]
    capture_err = max(_err(acts[s][0], clones[s][0]) for s in sites)
    edit_err = _edit_errors(model, batch, acts)
    checks = {
        "resid_pre_matches_hidden_states": (max(pre) if pre else 0.0) <= atol,
        "resid_pre_is_previous_resid_post": (max(chain) if chain else 0.0) <= atol,
        "resid_post_matches_hidden_states": (max(post) if post else 0.0) <= atol,
        "last_resid_post_matches_last_hidden_state": min(last_raw, last_normed) <= atol,
        "lens_reproduces_logits": logits_err <= atol,
        "branches_sum_to_resid_post": max(branch) <= atol,
        "capture_matches_hook_clone": capture_err <= atol,
        "edits_land_in_resid_post": max(edit_err.values(), default=0.0) <= atol,
    }
    return {
        "ok": all(checks.values()),
        "checks": checks,
        "model": spec.describe(),
        "max_rel_error": {
            "resid_pre": max(pre) if pre else 0.0,
            "chain": max(chain) if chain else 0.0,
            "resid_post": max(post) if post else 0.0,
            "last_hidden_raw": last_raw,
            "last_hidden_normed": last_normed,
            "logits": logits_err,
            "branch_sum": max(branch),
            "capture": capture_err,
            "edit": max(edit_err.values(), default=0.0),
        },
        "layers_with_missing_branch_sites": [i for i in range(L) if not spec.layouts[i].complete],
        "last_hidden_state_is_normed": last_normed < last_raw,
        "hidden_states_convention": "block outputs" if shift else "block inputs",
    }


def _sum_err(lay: Any, i: int, acts: Any, extras: dict[tuple[int, str], torch.Tensor], spec: Any) -> float:
    """How far layer ``i``'s ``resid_post`` is from ``resid_scale * resid_pre + sum(scale * branch)`` (or, for a block
    that composes its update through norms, from that composition: see ``LayerLayout.steps``)."""
    pre = acts[Site(i, "resid_pre")][0].float()
    if lay.hyper is not None:
        return _hyper_sum_err(lay, i, pre, acts, extras, spec)
    if lay.steps:
        block = spec.blocks[i]

        def norm(path: str | None, h: torch.Tensor) -> torch.Tensor:
            if path is None:
                return h
            mod = block.get_submodule(path)
            dtype = next(mod.parameters(), h).dtype
            with torch.no_grad():
                return mod(h.to(dtype)).float()

        r = pre
        for base, a, branch, s in lay.steps:
            r = a * norm(base, r) + s * acts[Site(i, branch)][0].float()
        return _err(norm(lay.out_norm, r), acts[Site(i, "resid_post")][0])

    def scaled(scale: Any, h: torch.Tensor) -> torch.Tensor:
        return (scale.to(h.device) if isinstance(scale, torch.Tensor) else scale) * h

    total = scaled(lay.resid_scale, pre)
    for point in ("mixer_out", "mlp_out"):
        if point in lay.parts:
            total = total + scaled(lay.parts[point].scale, acts[Site(i, point)][0].float())
    for part in lay.extras:
        total = total + scaled(part.scale, extras[(i, part.path)][0].reshape(total.shape).float())
    if lay.bias is not None:
        total = total + lay.bias.to(total.device)
    return _err(total, acts[Site(i, "resid_post")][0])


def _hyper_sum_err(lay: Any, i: int, pre: torch.Tensor, acts: Any, extras: Any, spec: Any) -> float:
    """Branch sum of a hyper-connection block: each branch's output is spread over the streams with the weights
    its hyper-connection module computed (recorded in ``extras``), and added to the streams mixed as that module
    said (``"mhc"``: ``post * out + comb^T @ streams``; ``"post"``: ``streams + post * out``; ``"gated"``:
    ``streams + inject * out``)."""
    n = spec.streams
    if lay.hyper_kind == "altup":
        return _altup_sum_err(lay, i, pre, acts, extras, spec)
    r = pre
    for part in lay.extras:  # added to the residual before the first hyper-connection (Qwen4-Exp's ``ple``)
        r = r + extras[(i, part.path)][0].reshape(r.shape).float()
    worst = 0.0
    for k, (hc, site) in enumerate(zip(lay.hyper, (Site(i, "mixer_out"), Site(i, "mlp_out")))):
        out = acts[site][0].float()  # [tokens, d]
        w = extras[(i, hc)]
        streams = r.unflatten(-1, (n, out.shape[-1]))  # [tokens, streams, d]
        if lay.hyper_kind == "mhc":
            post, comb = w[0][0].float(), w[1][0].float()  # [tokens, streams], [tokens, streams, streams]
            streams = post.unsqueeze(-1) * out.unsqueeze(-2) + comb.transpose(-1, -2) @ streams
        elif lay.hyper_kind == "post":
            streams = streams + w[0][0].float().unsqueeze(-1) * out.unsqueeze(-2)
        else:
            inject = w[2][0].float()  # [tokens, streams]
            if k == 0:  # the module's own copy of its input: the residual it sees, extras included
                worst = max(worst, _err(r, w[1][0].reshape(r.shape)))
            streams = streams + inject.unsqueeze(-1) * out.unsqueeze(-2)
        r = streams.flatten(-2)
    return max(worst, _err(r, acts[Site(i, "resid_post")][0]))


def _altup_sum_err(lay: Any, i: int, pre: torch.Tensor, acts: Any, extras: Any, spec: Any) -> float:
    """Branch sum of a Gemma-3n block: AltUp predicts every stream from ``resid_pre``; the active stream's update is
    ``(prediction + attn_out + laurel) / sqrt(2) + mlp_out``; AltUp corrects every stream by it; the per-layer-input
    projection is added to every stream but the first."""
    altup = spec.blocks[i].get_submodule(lay.hyper[0])
    active = int(altup.config.altup_active_idx)
    dtype = next(altup.parameters()).dtype
    with torch.no_grad():
        predictions = altup.predict(unstack(pre[None].to(dtype), spec.streams, "outer")).float()
        laurel = extras[(i, lay.extras[0].path)][0].float()
        update = (predictions[active, 0] + acts[Site(i, "attn_out")][0].float() + laurel) / 2**0.5
        update = update + acts[Site(i, "mlp_out")][0].float()
        corrected = altup.correct(predictions.to(dtype), update[None].to(dtype)).float().clone()
    corrected[1:] += extras[(i, lay.extras[1].path)][0].float()
    return _err(flat_streams(corrected, "outer")[0], acts[Site(i, "resid_post")][0])


def _edit_errors(model: torch.nn.Module, batch: Batch, acts: Any) -> dict[str, float]:
    """For each branch point of the middle layer, under an ``Add`` of ``delta`` there: how far the site's activation
    is from its unedited value + ``delta``, and how far the edited branches are from summing to ``resid_post``
    (so the edit reached the residual stream, and everything downstream of it in the block saw it)."""
    from .intervene import Add, intervene

    spec = resolve(model)
    layer = spec.n_layers // 2
    lay = spec.layouts[layer]
    if not lay.complete:
        return {}
    here = [Site(layer, p) for p in ("resid_pre", "mixer_out", "attn_out", "mlp_out", "resid_post") if spec.has(Site(layer, p))]
    post = Site(layer, "resid_post")
    out: dict[str, float] = {}
    for site in here[1:-1]:
        g = torch.Generator().manual_seed(3)
        delta = torch.randn(spec.width(site), generator=g) * acts[site].float().abs().mean()
        with intervene(model, [Add(site, delta.to(acts[post].dtype))]):
            edited, extras = _hook_clones(model, batch, here)
        landed = _err(edited[site][0], acts[site][0].float() + delta.to(edited[site].device))
        out[site.point] = max(landed, _sum_err(lay, layer, edited, extras, spec))
    return out


def _hook_clones(
    model: torch.nn.Module, batch: Batch, sites: list[Site]
) -> tuple[dict[Site, torch.Tensor], dict[tuple[int, str], torch.Tensor]]:
    """The activation at each site, cloned inside a hook during one full forward pass (the reference for capture),
    and the output of each extra branch (a summed branch without a site) by ``(layer, path)``."""
    spec = resolve(model)
    got: dict[Site, torch.Tensor] = {}
    extras: dict[tuple[int, str], torch.Tensor] = {}

    def reader(site: Site):
        def read(h: torch.Tensor) -> None:
            got.setdefault(site, h.detach().clone())

        return read

    def extra_reader(key: tuple[int, str], whole: bool = False):
        def read(mod: torch.nn.Module, args: Any, output: Any) -> None:
            if whole:  # a hyper-connection module: every tensor it returns
                extras.setdefault(key, tuple(o.detach().clone() for o in output))  # type: ignore[arg-type]
                return
            out = output[0] if isinstance(output, (tuple, list)) else output
            extras.setdefault(key, out.detach().clone())

        return read

    with hook_group(spec) as group, torch.no_grad():
        for s in sites:
            group.add_site(s, reader(s))
        handles = [
            spec.blocks[i].get_submodule(p.path).register_forward_hook(extra_reader((i, p.path)))
            for i, lay in enumerate(spec.layouts)
            for p in lay.extras
        ] + [
            spec.blocks[i].get_submodule(path).register_forward_hook(extra_reader((i, path), whole=True))
            for i, lay in enumerate(spec.layouts)
            for path in lay.hyper or ()
        ]
        try:
            run_body(model, batch)
        finally:
            for h in handles:
                h.remove()
    return got, extras
