"""Steered generation side by side: the same random stream with and without the steering.

:func:`compare` samples ``n`` completions of one prompt twice, unsteered and steered, with the same
seed and the same batch shape, so completion ``i`` of both columns draws the same random numbers
(paired samples: differences come from the steering, not from luck). :class:`Comparison` prints as
a two-column table (prompt in bold) and renders to a self-contained HTML page.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import torch

from .._results import JsonResult
from ..errors import SteeringError
from ..model.generate import generate
from ..model.intervene import Edit, intervene
from ..model.tokens import encode
from .addition import ActAdd, ActivationAddition, Location, pad_prompt_tokens

__all__ = ["FrequencyPenalty", "Warp", "SamplingConfig", "sample", "Comparison", "compare"]


class FrequencyPenalty:
    """Logits processor: subtract ``penalty * count`` from the logit of every token generated so far.

    Counts only the tokens generated in this call (not the prompt, nor padding), so results do not
    depend on how a batch was padded. A call whose ids do not extend the previous call's by one token
    starts a new generation (``generate`` runs rows of each length apart on models that ignore padding,
    with the same processor).
    """

    def __init__(self, penalty: float) -> None:
        self.penalty = float(penalty)
        self._start: int | None = None
        self._prev: torch.Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        prev = self._prev
        continues = (
            prev is not None
            and self._start is not None
            and input_ids.shape[0] == prev.shape[0]
            and input_ids.shape[1] == prev.shape[1] + 1
            and bool(torch.equal(input_ids[:, :-1], prev))
        )
        if not continues:
            self._start = int(input_ids.shape[1])
        self._prev = input_ids.detach().clone()
        gen = input_ids[:, self._start :]
        if gen.shape[1] == 0 or self.penalty == 0.0:
            return scores
        counts = torch.zeros_like(scores)
        counts.scatter_add_(1, gen, torch.ones_like(gen, dtype=scores.dtype))
        return cast(torch.FloatTensor, scores - self.penalty * counts)


class Warp:
    """Logits processor: temperature, then top-k, then top-p (nucleus), with Hugging Face's semantics.

    Top-p keeps every token whose strictly more probable tokens hold less than ``top_p`` of the mass (at
    least one token). It sorts only the head of the distribution: ``topk`` of a few hundred tokens, grown
    until it holds ``top_p`` of the mass, instead of sorting the whole vocabulary at every step (a
    262k-token vocabulary made the full sort the slowest part of sampling on a CPU).
    """

    def __init__(self, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None) -> None:
        self.temperature = float(temperature)
        self.top_k = top_k
        self.top_p = top_p

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        out: torch.Tensor = scores
        if self.temperature != 1.0:
            out = out / self.temperature
        vocab = out.shape[-1]
        if self.top_k is not None and self.top_k < vocab:
            kth = out.topk(self.top_k, dim=-1).values[..., -1:]
            out = out.masked_fill(out < kth, float("-inf"))
        if self.top_p is not None and self.top_p < 1.0:
            out = self._nucleus(out, float(self.top_p))
        return cast(torch.FloatTensor, out)

    @staticmethod
    def _nucleus(scores: torch.Tensor, p: float) -> torch.Tensor:
        vocab = scores.shape[-1]
        lse = torch.logsumexp(scores, dim=-1, keepdim=True)
        k = min(vocab, 256)
        while True:
            vals, idx = scores.topk(k, dim=-1)  # descending
            probs = (vals - lse).exp()
            cum = probs.cumsum(dim=-1)
            if k == vocab or bool((cum[:, -1] >= p).all()):
                break
            k = min(vocab, k * 4)
        keep = (cum - probs) < p
        keep[:, 0] = True
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(1, idx, vals.masked_fill(~keep, float("-inf")))


@dataclass(frozen=True)
class SamplingConfig:
    """How completions are drawn. ``temperature=0`` means greedy decoding.

    The defaults are the ActAdd authors' house settings (temperature 1, top-p 0.3, frequency penalty 1).
    """

    max_new_tokens: int = 40
    temperature: float = 1.0
    top_p: float | None = 0.3
    top_k: int | None = None
    freq_penalty: float = 1.0
    use_cache: bool = True

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise SteeringError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}.")
        if not self.temperature >= 0:
            raise SteeringError(f"temperature must be >= 0, got {self.temperature}.")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise SteeringError(f"top_p must be in (0, 1], got {self.top_p}.")
        if self.top_k is not None and self.top_k < 1:
            raise SteeringError(f"top_k must be >= 1, got {self.top_k}.")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def generate_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "use_cache": self.use_cache}
        if self.greedy:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            # explicit neutral values: a model's generation_config (Gemma ships top_k=64, top_p=0.95) must not
            # fill the gaps; Warp applies ours, after the frequency penalty (Hugging Face would run its own
            # warpers after every processor passed in)
            kw.update(do_sample=True, temperature=1.0, top_p=1.0, top_k=0)
        procs: list[Any] = []
        if self.freq_penalty:
            procs.append(FrequencyPenalty(self.freq_penalty))
        if not self.greedy:
            procs.append(Warp(self.temperature, self.top_k, self.top_p))
        if procs:
            kw["logits_processor"] = procs
        return kw


def sample(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: str | Sequence[str] | Sequence[Sequence[int]],
    *,
    edits: Sequence[Edit] = (),
    seed: int | None = 0,
    config: SamplingConfig | None = None,
) -> list[str]:
    """Completions of ``prompts`` (texts or token-id lists), under ``edits``, with a local seed.

    The global RNG state is restored afterwards, so sampling here never disturbs the caller's stream.
    """
    cfg = config or SamplingConfig()
    kw = cfg.generate_kwargs()
    if isinstance(prompts, str):
        prompts = [prompts]
    if not prompts:
        raise SteeringError("No prompts to complete.")
    if isinstance(prompts[0], str):
        if any(not p for p in prompts):
            raise SteeringError("Prompts must be non-empty strings.")
        inputs: Any = prompts
    else:
        from ..model.tokens import pad

        rows = cast("Sequence[Sequence[int]]", prompts)  # not strings: rows of token ids
        inputs = pad([list(p) for p in rows], side="left", pad_id=0)
        inputs = {"input_ids": inputs.input_ids, "attention_mask": inputs.attention_mask}
    state = torch.get_rng_state()
    try:
        with intervene(model, list(edits)):
            out = generate(model, tokenizer, inputs, seed=seed, **kw)
    finally:
        torch.set_rng_state(state)
    return list(out.texts or [])


@dataclass
class Comparison(JsonResult):
    """Paired unsteered and steered completions of one prompt."""

    prompt: str
    unsteered: list[str]
    steered: list[str]
    steering: str
    seed: int | None
    sampling: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def score(self, name: str, fn: Any) -> Comparison:
        """Add a per-completion score (``fn(list of texts) -> list of numbers``) for both columns."""
        self.scores[name] = {"unsteered": [float(x) for x in fn(self.unsteered)], "steered": [float(x) for x in fn(self.steered)]}
        return self

    def print(self, console: Any = None) -> None:
        """Print the two columns side by side, the prompt in bold."""
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        console = console or Console()
        table = Table(title=f"Steering: {self.steering}", show_lines=True)
        table.add_column("Unsteered completions", ratio=1)
        table.add_column("Steered completions", ratio=1)
        for i, (a, b) in enumerate(zip(self.unsteered, self.steered)):
            cells = []
            for col, text in (("unsteered", a), ("steered", b)):
                t = Text()
                t.append(self.prompt, style="bold")
                t.append(text)
                for name, vals in self.scores.items():
                    t.append(f"\n[{name}: {vals[col][i]:.3g}]", style="dim")
                cells.append(t)
            table.add_row(*cells)
        console.print(table)
        for name, vals in self.scores.items():
            mu = [sum(vals[c]) / max(len(vals[c]), 1) for c in ("unsteered", "steered")]
            console.print(f"mean {name}: unsteered {mu[0]:.3f}, steered {mu[1]:.3f}")

    def to_html(self) -> str:
        """A self-contained HTML page with the comparison."""
        esc = html.escape
        rows = []
        for i, (a, b) in enumerate(zip(self.unsteered, self.steered)):
            cells = []
            for col, text in (("unsteered", a), ("steered", b)):
                extra = "".join(f'<div class="score">{esc(k)}: {v[col][i]:.3g}</div>' for k, v in self.scores.items())
                cells.append(f"<td><b>{esc(self.prompt)}</b>{esc(text)}{extra}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        means = "".join(
            f"<li>{esc(k)}: unsteered {sum(v['unsteered']) / max(len(v['unsteered']), 1):.3f}, "
            f"steered {sum(v['steered']) / max(len(v['steered']), 1):.3f}</li>"
            for k, v in self.scores.items()
        )
        settings = esc(", ".join(f"{k}={v}" for k, v in self.sampling.items()))
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>steerlens comparison</title><style>"
            "body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;width:100%}"
            "td,th{border:1px solid #ccc;padding:.5em;vertical-align:top;white-space:pre-wrap;width:50%}"
            "th{background:#f3f3f3}.score{color:#777;font-size:.85em;margin-top:.3em}</style></head><body>"
            f"<h2>Steering: {esc(self.steering)}</h2><p>seed {self.seed}; {settings}</p>"
            f"<ul>{means}</ul><table><tr><th>Unsteered completions</th><th>Steered completions</th></tr>"
            + "".join(rows)
            + "</table></body></html>"
        )

    def save_html(self, path: str | os.PathLike[str]) -> Path:
        Path(path).write_text(self.to_html(), encoding="utf-8")
        return Path(path)


def compare(
    model: torch.nn.Module,
    tokenizer: Any,
    prompt: str,
    steering: ActAdd | Sequence[ActivationAddition] | Sequence[Edit],
    *,
    n: int = 5,
    seed: int | None = 0,
    config: SamplingConfig | None = None,
    location: Location = "front",
    injection: str = "overlay",
) -> Comparison:
    """Sample ``n`` completions of ``prompt`` unsteered and steered from the same random stream.

    Args:
        steering: an :class:`ActAdd`, activation additions (built here), or any steerlens edits.
        n: completions per column (generated as one batch each).
        seed: the shared seed (``None``: do not seed).
        config: sampling settings (:class:`SamplingConfig`; ``temperature=0`` is greedy).
        location: where activation additions land (when built here).
        injection: ``"overlay"`` adds on top of the prompt's first tokens; ``"pad"`` first inserts
            (m - 1) pad tokens after BOS in the steered run so the addition overlaps no text.
    """
    if not isinstance(prompt, str) or not prompt:
        raise SteeringError("The prompt must be a non-empty string.")
    if n < 1:
        raise SteeringError(f"n must be >= 1, got {n}.")
    if injection not in ("overlay", "pad"):
        raise SteeringError(f"injection must be 'overlay' or 'pad', got {injection!r}.")
    cfg = config or SamplingConfig()
    actadd: ActAdd | None = None
    if isinstance(steering, ActAdd):
        actadd = steering
    elif steering and all(isinstance(s, ActivationAddition) for s in steering):
        actadd = ActAdd.build(model, tokenizer, list(steering), location=location)  # type: ignore[arg-type]
    elif steering and all(isinstance(s, Edit) for s in steering):
        edits, label = list(cast("Sequence[Edit]", steering)), f"{len(steering)} edit(s)"
    else:
        raise SteeringError("steering must be an ActAdd, a list of ActivationAddition, or a list of steerlens edits.")
    ids = encode(tokenizer, [prompt])[0]
    steered_prompt: list[int] = ids
    if actadd is not None:
        edits, label = actadd.edits(model), actadd.describe()
        m = actadd.max_len
        if injection == "pad":
            pad_id = tokenizer.encode(" ", add_special_tokens=False)
            steered_prompt = pad_prompt_tokens(ids, m, pad_id[0] if len(pad_id) == 1 else ids[0], bos=_has_bos(tokenizer, ids))
        elif actadd.location == "front" and m > len(ids):
            raise SteeringError(
                f"The steering prompt has {m} tokens but the prompt {prompt!r} has only {len(ids)}; use a longer "
                "prompt, a shorter steering prompt, or injection='pad'."
            )
    plain = sample(model, tokenizer, [ids] * n, seed=seed, config=cfg)
    steered = sample(model, tokenizer, [steered_prompt] * n, edits=edits, seed=seed, config=cfg)
    settings = {k: v for k, v in asdict(cfg).items()}
    settings["injection"] = injection
    return Comparison(prompt, plain, steered, label, seed, settings)


def _has_bos(tokenizer: Any, ids: list[int]) -> bool:
    bos = getattr(tokenizer, "bos_token_id", None)
    return bos is not None and bool(ids) and ids[0] == bos
