"""The logit lens table: top next tokens at the last position of a text, decoded from every layer."""

from __future__ import annotations

from typing import Any

import torch

from .lenses import Lens

__all__ = ["logit_lens_table"]


def logit_lens_table(
    model: torch.nn.Module, tokenizer: Any, text: str, top_k: int = 5, lens: Lens | None = None
) -> list[dict[str, Any]]:
    """Top-``top_k`` next tokens at the last position of ``text``, from every layer.

    Rows are labelled by the site they decode, ``"resid_pre.0" .. "resid_pre.L-1"`` (the residual
    entering that block, so ``"resid_pre.0"`` reads the embeddings), and ``"output"`` (the model's
    own prediction). ``lens`` defaults to the logit lens.
    """
    from .trajectory import prediction_trajectory

    traj = prediction_trajectory(model, tokenizer, text, lens=lens, target=None, top_k=top_k)
    return [
        {
            "label": label,
            "top": [
                {"token": t, "id": i, "prob": p}
                for t, i, p in zip(traj.top_tokens[r][-1], traj.top_ids[r][-1], traj.top_probs[r][-1])
            ],
        }
        for r, label in enumerate(traj.rows)
    ]
