"""The generation engine behind ``steerlens serve``: one worker thread that batches concurrent requests.

Requests wait in a queue; the worker takes as many as are waiting (up to ``max_batch_size``, after a short
window for stragglers) and runs them as one batch. Each request's edits are wrapped in
:class:`~steerlens.model.intervene.OnRows` with its own row, so differently steered requests share the
batch while every other row keeps its activations exactly. Sampling draws from each request's own seeded
generator, and each row stops at its own token limit, stop string, end-of-sequence token or cancellation,
so a request's output does not depend on what else is in the batch.

Everything else that runs the model (lens, capture, building an ActAdd vector) takes :attr:`Engine.lock`,
so no two forward passes, nor their hooks, ever overlap.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch

from ..model.generate import eos_token_ids, generate, pad_token_id
from ..model.intervene import Edit, OnRows, intervene
from ..model.monitor import Monitor
from ..model.tokens import pad
from ..steering.generation import Warp

__all__ = ["Sampling", "Job", "Engine", "EngineBusy"]


class EngineBusy(RuntimeError):
    """The request queue is full."""


@dataclass(frozen=True)
class Sampling:
    """How one request draws its tokens: greedy when ``temperature == 0``, else sampled from its own generator."""

    temperature: float = 1.0
    top_p: float | None = None
    top_k: int | None = None
    seed: int = 0

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


@dataclass(eq=False)
class Job:
    """One generation request (one row of a batch).

    ``sink`` receives events, from the worker thread: ``{"type": "delta", "text": ...}`` as text becomes
    final, then one ``{"type": "done", ...}`` (or ``{"type": "error", "message": ...}``).
    """

    prompt_ids: list[int]
    max_new_tokens: int
    sink: Callable[[dict[str, Any]], None]
    edits: Sequence[Edit] = ()
    prepare: Callable[[], Sequence[Edit]] | None = None  # builds the edits when the batch starts (ActAdd pairs)
    sampling: Sampling = field(default_factory=lambda: Sampling(temperature=0.0))
    stop: Sequence[str] = ()
    monitors: Sequence[Monitor] = ()
    metric: Callable[[list[str]], list[float]] | None = None
    # filled in by the engine
    tokens: list[int] = field(default_factory=list)
    finish_reason: str | None = None
    cancelled: bool = False
    text: str = ""
    sent: int = 0

    def cancel(self) -> None:
        """Stop this request at the next step (or drop it before it starts); thread-safe."""
        self.cancelled = True


class _RowSampler:
    """Logits processor: each sampled row draws its token from its own generator; greedy rows are untouched.

    The drawn token's score is set to 0 and every other one to ``-inf``, so the greedy decoding that
    ``generate`` runs picks it. One generator per row makes a row's draws independent of its batch.
    """

    def __init__(self, samplings: Sequence[Sampling]) -> None:
        self.rows = []
        for i, s in enumerate(samplings):
            if not s.greedy:
                gen = torch.Generator().manual_seed(s.seed)
                self.rows.append((i, Warp(s.temperature, s.top_k, s.top_p), gen))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if not self.rows:
            return scores
        out = scores.clone()
        for i, warp, gen in self.rows:
            row = warp(input_ids[i : i + 1], scores[i : i + 1].float())  # type: ignore[arg-type]
            probs = torch.softmax(row, dim=-1)[0].cpu()
            token = int(torch.multinomial(probs, 1, generator=gen))
            out[i] = float("-inf")
            out[i, token] = 0.0
        return out  # type: ignore[return-value]


class Engine:
    """Batches generation requests on one model in a worker thread.

    Args:
        model, tokenizer: The served model.
        max_batch_size: Rows per batch.
        batch_window: Seconds to wait, after the first request of a batch arrives, for more to join it.
        max_queue: Requests that may wait; :meth:`submit` raises :class:`EngineBusy` beyond it.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        *,
        max_batch_size: int = 16,
        batch_window: float = 0.02,
        max_queue: int = 256,
    ) -> None:
        from ..model.architectures import resolve

        self.model = model
        self.tokenizer = tokenizer
        # a model that ignores its attention mask (RWKV) cannot batch prompts of different lengths
        self.max_batch_size = max_batch_size if resolve(model).masks_padding else 1
        self.batch_window = batch_window
        self.max_queue = max_queue
        self.lock = threading.RLock()
        self.stats = {"batches": 0, "requests": 0, "cancelled": 0, "tokens": 0, "largest_batch": 0}
        self.busy = False
        self._queue: queue.Queue[Job] = queue.Queue()
        self._stopped = threading.Event()
        self._eos = eos_token_ids(model) | (
            {tokenizer.eos_token_id} if isinstance(getattr(tokenizer, "eos_token_id", None), int) else set()
        )
        self._thread = threading.Thread(target=self._loop, name="steerlens-engine", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        """Queue ``job``; raises :class:`EngineBusy` when the queue is full."""
        if self._queue.qsize() >= self.max_queue:
            raise EngineBusy(f"{self._queue.qsize()} requests are already waiting (the server's --max-queue).")
        self._queue.put(job)

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        self._stopped.set()

    # -- worker -----------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopped.is_set():
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            deadline = time.monotonic() + self.batch_window
            while len(batch) < self.max_batch_size:
                left = deadline - time.monotonic()
                try:
                    batch.append(self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait())
                except queue.Empty:
                    break
            live = []
            for job in batch:
                if job.cancelled:
                    self.stats["cancelled"] += 1
                    _emit(job, {"type": "done", "finish_reason": "cancelled"})
                else:
                    live.append(job)
            if live:
                self._run(live)

    def _run(self, batch: list[Job]) -> None:
        self.busy = True
        ready = []
        for job in batch:
            if job.prepare is not None:
                try:
                    with self.lock, torch.no_grad():
                        job.edits = list(job.prepare())
                    job.prepare = None
                except Exception as e:  # noqa: BLE001 - this request fails alone
                    _emit(job, _error_event(e))
                    continue
            ready.append(job)
        batch = ready
        if not batch:
            self.busy = False
            return
        self.stats["batches"] += 1
        self.stats["requests"] += len(batch)
        self.stats["largest_batch"] = max(self.stats["largest_batch"], len(batch))
        edits = [OnRows(e, (i,)) for i, job in enumerate(batch) for e in job.edits]
        monitors: dict[str, Monitor] = {}
        for job in batch:
            for m in job.monitors:
                monitors.setdefault(m.key, m)
        rows = [job.prompt_ids for job in batch]
        pad_id = pad_token_id(self.model, self.tokenizer)
        prompts = pad(rows, side="left", pad_id=pad_id)
        sampler = _RowSampler([job.sampling for job in batch])

        def on_step(idx: list[int], tokens: list[int]) -> list[int]:
            stop = []
            for i, token in zip(idx, tokens):
                job = batch[i]
                if job.finish_reason is None:
                    self._advance(job, token)
                if job.finish_reason is not None:
                    stop.append(i)
            return stop

        try:
            with self.lock, torch.no_grad(), intervene(self.model, edits) if edits else nullcontext():
                gen = generate(
                    self.model,
                    None,
                    {"input_ids": prompts.input_ids, "attention_mask": prompts.attention_mask},
                    max_new_tokens=max(job.max_new_tokens for job in batch),
                    monitors=list(monitors.values()) or None,
                    on_step=on_step,
                    logits_processor=[sampler],
                )
        except Exception as e:  # noqa: BLE001 - the server keeps running
            self.busy = False
            if len(batch) > 1:
                # find the request at fault: rows that have sent nothing yet run again one by one, so one bad
                # request never fails the others (rows already streaming cannot restart and get the error)
                for job in batch:
                    if job.sent == 0 and not job.tokens:
                        job.finish_reason = None
                        self._run([job])
                    else:
                        _emit(job, _error_event(e))
                return
            _emit(batch[0], _error_event(e))
            return
        for i, job in enumerate(batch):
            if job.finish_reason is None:
                job.finish_reason = "length"
            if job.finish_reason == "cancelled":
                self.stats["cancelled"] += 1
            self.stats["tokens"] += len(job.tokens)
            self._flush(job, final=True)
            readings = {}
            if gen.readings is not None:
                start = len(job.prompt_ids)
                for m in job.monitors:
                    vals = gen.readings[m.key][i][start : start + len(job.tokens)]
                    readings[m.key] = [None if math.isnan(v) else v for v in vals]
            pieces = [self.tokenizer.decode([t]) for t in job.tokens]
            event = {
                "type": "done",
                "finish_reason": job.finish_reason,
                "text": job.text,
                "tokens": job.tokens,
                "token_texts": pieces,
                "readings": readings,
            }
            if job.metric is not None:
                event["metric"] = job.metric(pieces)
            _emit(job, event)
        self.busy = False

    def _advance(self, job: Job, token: int) -> None:
        """Take one drawn token for ``job``: append it, or finish the row (EOS, limit, stop string, cancellation)."""
        if job.cancelled:
            job.finish_reason = "cancelled"
            return
        if token in self._eos:
            job.finish_reason = "stop"
            return
        job.tokens.append(token)
        if len(job.tokens) >= job.max_new_tokens:
            job.finish_reason = "length"
        self._flush(job, final=False)

    def _flush(self, job: Job, final: bool) -> None:
        """Decode the row's text so far, apply stop strings, and send what is final."""
        text = self.tokenizer.decode(job.tokens, skip_special_tokens=True)
        hold = 0
        cut = min((k for k in (text.find(s) for s in job.stop if s) if k >= 0), default=-1)
        if cut >= 0:
            text = text[:cut]
            job.finish_reason = "stop"
            final = True
        elif not final and job.finish_reason is None:
            if text.endswith("\ufffd"):  # an incomplete multi-byte character: wait for the rest
                hold = 1
            for s in job.stop:  # keep back a tail that may begin a stop string
                for n in range(min(len(s) - 1, len(text)), 0, -1):
                    if text.endswith(s[:n]):
                        hold = max(hold, n)
                        break
        job.text = text
        upto = len(text) - hold
        if upto > job.sent:
            _emit(job, {"type": "delta", "text": text[job.sent : upto]})
            job.sent = upto


def _emit(job: Job, event: dict[str, Any]) -> None:
    try:
        job.sink(event)
    except Exception:  # noqa: BLE001 - a client that went away must not stop the batch
        job.cancelled = True


def _error_event(e: Exception) -> dict[str, Any]:
    from ..errors import SteerlensError

    # steerlens' own errors are about the request (e.g. an ActAdd prompt longer than the prompt it steers)
    status = 400 if isinstance(e, SteerlensError) else 500
    return {"type": "error", "message": f"{type(e).__name__}: {e}", "status": status}


def random_seed() -> int:
    """A fresh seed for a sampled request that gave none (returned to the client, so it can repeat the draw)."""
    return int.from_bytes(os.urandom(4), "little")
