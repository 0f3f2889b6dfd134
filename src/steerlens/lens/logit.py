"""The logit lens: the model's own final norm and unembedding applied to intermediate residuals."""

from __future__ import annotations

from typing import Any

import torch

from ..model.architectures import resolve
from ..model.capture import capture
from ..model.site import Site

__all__ = ["logit_lens_table"]


def logit_lens_table(model: torch.nn.Module, tokenizer: Any, text: str, top_k: int = 5) -> list[dict[str, Any]]:
    """Top-``top_k`` next tokens at the last position of ``text``, decoded from every layer.

    Rows: the embedding (``resid_pre`` of layer 0, labelled ``emb``) then ``resid_post`` of each
    layer; the last row is the model's own prediction.
    """
    spec = resolve(model)
    sites = [Site(0, "resid_pre"), *spec.all_sites("resid_post")]
    acts = capture(model, [text], sites, tokenizer=tokenizer, positions="last")
    rows = []
    with torch.no_grad():
        for site in sites:
            probs = spec.logits(acts[site].to(next(model.parameters()).dtype)).float().softmax(-1)[0]
            p, idx = probs.topk(top_k)
            rows.append({
                "label": "emb" if site.point == "resid_pre" else str(site.layer),
                "site": str(site),
                "top": [{"token": tokenizer.decode([int(i)]), "id": int(i), "prob": float(q)} for q, i in zip(p, idx)],
            })
    return rows
