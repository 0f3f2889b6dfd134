"""Generation that does not depend on how the prompt batch was padded."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import torch

from ..errors import PaddingError
from .architectures import resolve
from .tokens import Batch, as_batch, encode, pad

if TYPE_CHECKING:
    from .monitor import Monitor

__all__ = ["generate", "Generation", "pad_token_id", "eos_token_ids"]


@dataclass(frozen=True)
class Generation:
    """Result of :func:`generate`.

    Attributes:
        prompt_ids: the real prompt tokens of each row.
        new_ids: the generated tokens of each row (up to and including EOS, if produced).
        texts: the decoded generated text of each row (when a tokenizer was given).
        readings: per monitor name, per row, the monitor's reading of each token: the prompt's, then the
            generated ones (``len(prompt_ids[i]) + len(new_ids[i])`` values; the last generated token never
            passes through the model, so its reading is NaN). ``None`` without monitors.
    """

    prompt_ids: list[list[int]]
    new_ids: list[list[int]]
    texts: list[str] | None = None
    readings: dict[str, list[list[float]]] | None = None


def generate(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: str | Sequence[str] | Any,
    *,
    max_new_tokens: int = 20,
    do_sample: bool = False,
    use_cache: bool = True,
    seed: int | None = None,
    monitors: Sequence[Monitor] | None = None,
    on_step: Callable[[list[int], list[int]], Iterable[int] | None] | None = None,
    **generate_kwargs: Any,
) -> Generation:
    """Generate continuations; prompts may be texts or a (left- or right-)padded batch.

    The batch is re-padded on the left (the only layout ``generate`` continues correctly), with
    position ids derived from the attention mask, so each row's continuation is the same as if it were
    generated alone. Use it inside :func:`~steerlens.model.intervene.intervene` to generate with edits.

    Args:
        model: A Hugging Face causal LM.
        tokenizer: Its tokenizer (``None`` is allowed for token-id inputs; texts are then not decoded).
        prompts: Text(s), or a dict with ``input_ids`` and ``attention_mask``.
        max_new_tokens: Tokens to generate per row.
        do_sample: Sample instead of greedy decoding (pass ``temperature``, ``top_p`` ... as keywords).
        use_cache: Use the KV cache (results are the same either way; a model steerlens cannot continue from its
            cache, as CPM-Ant, always runs uncached).
        seed: Seed ``torch``'s generator first, for reproducible sampling.
        monitors: :class:`~steerlens.model.monitor.Monitor` readouts to record for every prompt and generated
            token, from the same forward passes (see :attr:`Generation.readings`).
        on_step: Called after every decoding step with ``(rows, tokens)``: the batch rows that ran the step and the
            token each drew (rows that had already stopped draw padding). It may return rows to stop now; their
            generation ends there (used for streaming, per-row token limits, stop strings and cancellation).
        **generate_kwargs: Passed to ``model.generate``; ``logits_processor`` may be a plain list of
            ``(input_ids, scores) -> scores`` callables.
    """
    if max_new_tokens < 1:
        raise PaddingError(f"max_new_tokens must be >= 1, got {max_new_tokens}.")
    if isinstance(prompts, str) or (isinstance(prompts, (list, tuple)) and prompts and isinstance(prompts[0], str)):
        if tokenizer is None:
            raise PaddingError("Text prompts need a tokenizer.")
        rows = encode(tokenizer, [prompts] if isinstance(prompts, str) else list(prompts))
    else:
        batch = as_batch(prompts, pad_token_id=getattr(model.config, "pad_token_id", None))
        rows = [r[m.bool()].tolist() for r, m in zip(batch.input_ids, batch.attention_mask)]
    if on_step is not None and "stopping_criteria" in generate_kwargs:
        raise PaddingError("on_step stops rows itself; do not also pass stopping_criteria=.")
    pad_id = pad_token_id(model, tokenizer)
    if seed is not None:
        torch.manual_seed(seed)
    groups = [list(range(len(rows)))]
    if not resolve(model).caches:
        use_cache = False  # the model's cached calls re-read every id (CPM-Ant): re-run the sequence each step
    if not resolve(model).masks_padding and len({len(r) for r in rows}) > 1:
        # the model ignores its attention mask (RWKV): padding would change the outputs, so rows of each
        # length run together without any
        groups = [[i for i, r in enumerate(rows) if len(r) == n] for n in sorted({len(r) for r in rows})]
    new_ids: list[list[int]] = [[] for _ in rows]
    raw: dict[str, list[list[float]]] = {}
    for idx in groups:
        kwargs = generate_kwargs if on_step is None else {**generate_kwargs, **_step_hooks(idx, on_step)}
        part, read = _generate_rows(model, [rows[i] for i in idx], pad_id, max_new_tokens, do_sample, use_cache, kwargs, monitors)
        for k, i in enumerate(idx):
            new_ids[i] = part[k]
            for key, values in read.items():
                raw.setdefault(key, [[] for _ in rows])[i] = values[k]
    if "eos_token_id" in generate_kwargs:
        given = generate_kwargs["eos_token_id"]
        eos = set() if given is None else ({given} if isinstance(given, int) else set(given))
    else:
        eos = eos_token_ids(model)
    trimmed = []
    for row in new_ids:
        cut = next((i + 1 for i, t in enumerate(row) if t in eos), len(row))
        trimmed.append(row[:cut])
    texts = [tokenizer.decode(r, skip_special_tokens=True) for r in trimmed] if tokenizer is not None else None
    readings = None
    if monitors:
        readings = {
            key: [vals[: len(rows[i]) + len(trimmed[i])] for i, vals in enumerate(per_row)] for key, per_row in raw.items()
        }
    return Generation(prompt_ids=rows, new_ids=trimmed, texts=texts, readings=readings)


def _generate_rows(
    model: torch.nn.Module,
    rows: list[list[int]],
    pad_id: int,
    max_new_tokens: int,
    do_sample: bool,
    use_cache: bool,
    generate_kwargs: dict[str, Any],
    monitors: Sequence[Monitor] | None = None,
) -> tuple[list[list[int]], dict[str, list[list[float]]]]:
    """``model.generate`` on left-padded rows: the new tokens of each row (not yet cut at EOS), and per monitor the
    readings of each row's real tokens (prompt, then generated)."""
    batch: Batch = pad(rows, side="left", pad_id=pad_id).to(next(model.parameters()).device)
    generate = cast(Callable[..., torch.Tensor], model.generate)  # a Hugging Face model's GenerationMixin.generate
    procs = generate_kwargs.get("logits_processor")
    if isinstance(procs, (list, tuple)):  # plain callables (input_ids, scores) -> scores, as steerlens passes them
        from transformers import LogitsProcessorList

        generate_kwargs = {**generate_kwargs, "logits_processor": LogitsProcessorList(procs)}
    recorder = None
    if monitors:
        from .monitor import Recorder

        recorder = Recorder(model, monitors, max(len(r) for r in rows) + max_new_tokens)
    try:
        out = generate(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            max_new_tokens=max_new_tokens,
            do_sample=do_sample,
            use_cache=use_cache,
            pad_token_id=pad_id,
            **generate_kwargs,
        )
    finally:
        if recorder is not None:
            recorder.remove()
    new = out[:, batch.input_ids.shape[1] :].tolist()
    read: dict[str, list[list[float]]] = {}
    if recorder is not None:
        for key, buf in recorder.readings().items():
            read[key] = [buf[k, : len(r) + len(new[k])].tolist() for k, r in enumerate(rows)]
    return new, read


def _step_hooks(idx: list[int], on_step: Callable[[list[int], list[int]], Iterable[int] | None]) -> dict[str, Any]:
    """A ``stopping_criteria`` argument of ``model.generate`` that calls ``on_step`` after every step (``idx`` maps
    the group's rows to the caller's rows) and stops the rows it returns at once.

    A stopping criterion, not a streamer: ``generate`` checks its criteria right after appending each step's
    tokens, but hands tokens to a streamer only after that check, so a stop asked for by a streamer would take
    effect one token late.
    """
    from transformers import StoppingCriteria, StoppingCriteriaList

    where = {r: k for k, r in enumerate(idx)}

    class _Steps(StoppingCriteria):
        def __init__(self) -> None:
            self.stop = torch.zeros(len(idx), dtype=torch.bool)

        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
            for r in on_step(list(idx), input_ids[:, -1].tolist()) or ():
                if r not in where:
                    raise PaddingError(f"on_step returned row {r!r}, which is not in this batch (rows {idx}).")
                self.stop[where[r]] = True
            return cast(torch.BoolTensor, self.stop.to(input_ids.device).clone())

    return {"stopping_criteria": StoppingCriteriaList([_Steps()])}


def pad_token_id(model: torch.nn.Module, tokenizer: Any) -> int:
    """The id ``generate`` pads with: the tokenizer's, else the generation config's or the model config's, else an EOS id."""
    for src in (tokenizer, getattr(model, "generation_config", None), model.config):
        v = getattr(src, "pad_token_id", None) if src is not None else None
        if isinstance(v, int):
            return v
    eos = eos_token_ids(model)
    return min(eos) if eos else 0


def eos_token_ids(model: torch.nn.Module) -> set[int]:
    """The ids that end a generated row (the generation config's ``eos_token_id``, else the model config's)."""
    cfg = getattr(model, "generation_config", None) or model.config
    eos = getattr(cfg, "eos_token_id", None)
    if eos is None:
        return set()
    return {eos} if isinstance(eos, int) else set(eos)
