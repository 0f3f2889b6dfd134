"""Self-check: the located parts of a model behave as steerlens' conventions say."""

from __future__ import annotations

from typing import Any

import torch

from .architectures import resolve
from .capture import capture
from .site import Site
from .tokens import Batch

__all__ = ["self_check"]


def self_check(model: torch.nn.Module, tokenizer: Any = None, text: str = "The quick brown fox jumps over the lazy dog",
               atol: float = 1e-4) -> dict[str, Any]:
    """Check site numbering against ``output_hidden_states`` and that the lens reproduces the logits.

    * ``resid_pre`` of layer i equals ``hidden_states[i]``; ``resid_post`` of layer i equals
      ``hidden_states[i + 1]`` (for the last layer, either raw or after the final norm, as HF models differ);
    * ``final norm + unembedding`` of the last ``resid_post`` reproduces the model's logits.

    Returns a JSON-friendly report whose ``ok`` is True when every check passes within ``atol``
    (relative to the scale of the compared tensors).
    """
    spec = resolve(model)
    device = next(model.parameters()).device
    if tokenizer is not None:
        ids = torch.tensor([tokenizer(text)["input_ids"]])
    else:
        ids = torch.randint(0, spec.vocab_size, (1, 12), generator=torch.Generator().manual_seed(0))
    batch = Batch(ids.to(device), torch.ones_like(ids).to(device))
    with torch.no_grad():
        out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_hidden_states=True,
                    use_cache=False)
    hs = out.hidden_states
    sites = spec.all_sites("resid_pre") + spec.all_sites("resid_post")
    acts = capture(model, {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}, sites)

    def err(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a.float() - b.float()).abs().max() / (b.float().abs().max() + 1e-6))

    L = spec.n_layers
    pre = [err(acts[Site(i, "resid_pre")][0], hs[i][0]) for i in range(L)]
    post = [err(acts[Site(i, "resid_post")][0], hs[i + 1][0]) for i in range(L - 1)]
    last = acts[Site(L - 1, "resid_post")]
    with torch.no_grad():
        last_raw = err(last[0], hs[L][0])
        last_normed = err(spec.final_norm(last)[0], hs[L][0])
        logits_err = err(spec.logits(last)[0], out.logits[0])
    checks = {
        "resid_pre_matches_hidden_states": max(pre) <= atol,
        "resid_post_matches_hidden_states": (max(post) if post else 0.0) <= atol,
        "last_resid_post_matches_last_hidden_state": min(last_raw, last_normed) <= atol,
        "lens_reproduces_logits": logits_err <= atol,
    }
    return {
        "ok": all(checks.values()), "checks": checks, "model": spec.describe(),
        "max_rel_error": {"resid_pre": max(pre), "resid_post": max(post) if post else 0.0,
                          "last_hidden_raw": last_raw, "last_hidden_normed": last_normed, "logits": logits_err},
        "last_hidden_state_is_normed": last_normed < last_raw,
    }
