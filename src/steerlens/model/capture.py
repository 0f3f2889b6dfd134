"""Reading activations: batched, padding-aware, and no more forward pass than needed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union, cast

import torch
from tqdm.auto import tqdm

from ..errors import PositionError, SiteError, UnsupportedArchitectureError
from .architectures import ModelSpec, cache_kwargs, resolve
from .hooks import hook_group
from .site import Site
from .tokens import Batch, as_batch, encode, pad

if TYPE_CHECKING:
    from transformers import PretrainedConfig

__all__ = [
    "Activations",
    "capture",
    "CapturePositions",
    "run_body",
    "run_partial",
    "new_cache",
    "StopForward",
    "final_hidden",
    "last_token_logprobs",
    "next_token_ranks",
    "next_token_logprobs",
    "all_position_logprobs",
]

#: ``"all"`` tokens (returned ``[n, pos, d]`` with real tokens first and a mask), ``"last"`` real
#: token (``[n, d]``), a ``[n]`` or ``[n, k]`` long tensor of logical positions (``[n, d]`` /
#: ``[n, k, d]``), or a ``[n, pos]`` bool mask over logical positions (packed ``[m, d]`` with ``rows``).
CapturePositions = Union[Literal["all", "last"], torch.Tensor]


class StopForward(Exception):
    """Raised inside a hook to end a forward pass early (once everything needed is read); :func:`run_partial`
    and :func:`capture` catch it."""


@dataclass
class Activations:
    """Activations read by :func:`capture`, keyed by :class:`Site`.

    Attributes:
        tensors: site -> tensor, shaped as the ``positions`` argument says.
        lengths: ``[n]`` number of real tokens of each input.
        mask: for ``positions="all"``, ``[n, pos]`` mask of real tokens (real tokens come first).
        rows: for a boolean-mask selection, ``[m]`` input row of each packed vector.
    """

    tensors: dict[Site, torch.Tensor]
    lengths: torch.Tensor
    mask: torch.Tensor | None = None
    rows: torch.Tensor | None = None
    sites: list[Site] = field(default_factory=list)
    n_layers: int | None = None

    def __getitem__(self, site: Site | int) -> torch.Tensor:
        key = Site(site) if isinstance(site, int) and not isinstance(site, bool) else site
        if isinstance(key, Site) and key.layer < 0 and self.n_layers is not None:
            key = key.normalized(self.n_layers)
        if key not in self.tensors:
            have = ", ".join(str(s) for s in self.sites)
            raise SiteError(f"{key} was not captured; captured sites: {have}.")
        return self.tensors[key]

    def stack(self, sites: Sequence[Site] | None = None) -> torch.Tensor:
        """Stack the given sites (default: all, in forward order) along a new leading ``layer`` dim."""
        return torch.stack([self[s] for s in (sites or self.sites)])


def run_body(model: torch.nn.Module, batch: Batch) -> None:
    """Run the causal LM on a batch without the KV cache, with position ids that ignore padding."""
    model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids(),
        use_cache=False,
    )


def new_cache(model: torch.nn.Module) -> Any:
    """An empty KV cache for ``model`` (filled by :func:`run_partial` or a forward call, reusable with ``copy.deepcopy``).

    Raises:
        UnsupportedArchitectureError: steerlens cannot continue this model's passes from a cache (CPM-Ant).
    """
    from transformers import DynamicCache

    spec = resolve(model)
    if not spec.caches:
        raise UnsupportedArchitectureError(
            f"steerlens cannot continue a {spec.model_type!r} pass from a KV cache (a cached call re-reads every token "
            "id); run the whole sequence instead."
        )

    return DynamicCache(config=cast("PretrainedConfig", model.config))


def stops_early(model: torch.nn.Module) -> bool:
    """Whether a pass may end once what it needs is read. Not on a model whose blocks are sharded across ranks
    (``steerlens.distributed.shard_model``): each block gathers its weights from every rank, so every rank runs
    the whole pass, and an exception inside a sharded block would leave its weights gathered."""
    from ..distributed import is_sharded

    return not is_sharded(model)


def run_partial(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    *,
    attention_mask: torch.Tensor | None = None,
    position_ids: torch.Tensor | None = None,
    hooks: Sequence[tuple[Site, Callable[[torch.Tensor], torch.Tensor | None]]] = (),
    stop_after: Site | None = None,
    cache: Any = None,
) -> None:
    """One forward pass with ``hooks`` at sites, ending right after ``stop_after`` (no later blocks, no LM head).

    A hook returns a new activation or ``None`` (read only) and may raise :class:`StopForward` itself. With
    ``cache`` (from :func:`new_cache`, possibly holding a prefix) the pass reads and extends it. Gradients flow
    unless the caller disables them, so this is also the differentiable path used for Jacobians.
    """
    spec = resolve(model)

    def stop(h: torch.Tensor) -> None:
        raise StopForward

    with hook_group(spec) as g:
        for site, fn in hooks:
            g.add_site(site, fn)
        if stop_after is not None and stops_early(model):
            g.add_site(stop_after, stop)
        try:
            model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                **cache_kwargs(model, cache),
                use_cache=cache is not None,
            )
        except StopForward:
            pass


def final_hidden(model: torch.nn.Module, rows: Sequence[Sequence[int]]) -> torch.Tensor:
    """Final-normed hidden states ``[b, t, d]`` of right-padded token ``rows`` (the decoder body, no LM head).

    Differentiable; padding comes after every real token and is masked out. Turn them into logits with
    ``resolve(model).logits_from_final``.
    """
    spec = resolve(model)
    b = pad(rows, side="right").to(next(model.parameters()).device)
    out = spec.base(input_ids=b.input_ids, attention_mask=b.attention_mask, position_ids=b.position_ids(), use_cache=False)
    return out[0] if isinstance(out, tuple) else out.last_hidden_state


@torch.no_grad()
def last_token_logprobs(
    model: torch.nn.Module, rows: Sequence[Sequence[int]], batch_size: int = 32, progress: bool | None = None
) -> torch.Tensor:
    """``[n, vocab]`` log-probabilities of the next token after each token row (fp32, CPU), under any installed edits.

    The LM head runs on each row's last position only.
    """
    spec = resolve(model)
    device = next(model.parameters()).device
    out = []
    starts = range(0, len(rows), batch_size)
    show = len(starts) > 4 if progress is None else progress
    for i in tqdm(starts, desc="next-token scores", unit="batch", disable=not show, leave=False):
        part = rows[i : i + batch_size]
        h = final_hidden(model, part)
        last = torch.tensor([len(r) - 1 for r in part], device=device)
        out.append(torch.log_softmax(spec.logits_from_final(h[torch.arange(len(part), device=device), last]).float(), -1).cpu())
    return torch.cat(out) if out else torch.zeros(0, spec.vocab_size)


@torch.no_grad()
def next_token_ranks(
    model: torch.nn.Module,
    rows: Sequence[Sequence[int]],
    targets: Sequence[int],
    batch_size: int = 64,
    progress: bool | None = None,
) -> torch.Tensor:
    """``[n]`` rank of token ``targets[i]`` among the next-token logits after ``rows[i]`` (0: no token scores higher),
    under any installed edits.

    Rows run in batches of similar length (sorted by length, results put back in order), so little of a batch is
    padding, and only the target's rank is kept: memory does not grow with ``n`` times the vocabulary, as
    :func:`last_token_logprobs` does.
    """
    if len(targets) != len(rows):
        raise PositionError(f"{len(targets)} targets for {len(rows)} rows.")
    spec = resolve(model)
    device = next(model.parameters()).device
    order = sorted(range(len(rows)), key=lambda i: (len(rows[i]), i))
    ranks = torch.zeros(len(rows), dtype=torch.long)
    starts = range(0, len(order), batch_size)
    show = len(starts) > 4 if progress is None else progress
    for i in tqdm(starts, desc="next-token ranks", unit="batch", disable=not show, leave=False):
        idx = order[i : i + batch_size]
        part = [rows[j] for j in idx]
        h = final_hidden(model, part)
        last = torch.tensor([len(r) - 1 for r in part], device=device)
        logits = spec.logits_from_final(h[torch.arange(len(part), device=device), last]).float()
        tg = torch.tensor([int(targets[j]) for j in idx], device=device)
        ranks[torch.tensor(idx)] = (logits > logits.gather(1, tg[:, None])).sum(-1).cpu()
    return ranks


@torch.no_grad()
def all_position_logprobs(model: torch.nn.Module, row: Sequence[int]) -> torch.Tensor:
    """``[len(row), vocab]`` next-token log-probabilities at every position of one token row (fp32, CPU), under
    any installed edits."""
    device = next(model.parameters()).device
    b = pad([list(row)], side="right").to(device)
    logits = model(input_ids=b.input_ids, attention_mask=b.attention_mask, position_ids=b.position_ids(), use_cache=False)
    return torch.log_softmax(logits.logits[0].float(), -1).cpu()


@torch.no_grad()
def continuation_logprobs(
    model: torch.nn.Module, rows: Sequence[Sequence[int]], starts: Sequence[int], batch_size: int = 8
) -> list[torch.Tensor]:
    """Per token row, ``log p(token_t | tokens_<t)`` for ``t = starts[i] .. len(row) - 1`` (fp32, CPU).

    The same values as the tail of :func:`next_token_logprobs`, but the LM head runs only on the positions that
    predict those tokens (most of the cost on a large vocabulary when the prefix is long).
    """
    if len(starts) != len(rows):
        raise PositionError(f"{len(starts)} starts for {len(rows)} rows.")
    bad = [i for i, (r, k) in enumerate(zip(rows, starts)) if not 1 <= k < len(r)]
    if bad:
        raise PositionError(f"Row {bad[0]}: start {starts[bad[0]]} must be in [1, {len(rows[bad[0]]) - 1}].")
    spec = resolve(model)
    device = next(model.parameters()).device
    out: list[torch.Tensor] = []
    for i in range(0, len(rows), batch_size):
        part, ks = rows[i : i + batch_size], starts[i : i + batch_size]
        h = final_hidden(model, part)
        # predictions of tokens k.. come from positions k-1 .. n-2
        pos = [(j, t) for j, (r, k) in enumerate(zip(part, ks)) for t in range(k - 1, len(r) - 1)]
        bj = torch.tensor([p[0] for p in pos], device=device)
        bt = torch.tensor([p[1] for p in pos], device=device)
        lp = torch.log_softmax(spec.logits_from_final(h[bj, bt]).float(), -1)
        tgt = torch.tensor([part[j][t + 1] for j, t in pos], device=device)
        vals = lp.gather(-1, tgt[:, None])[:, 0].cpu()
        n = 0
        for r, k in zip(part, ks):
            m = len(r) - k
            out.append(vals[n : n + m])
            n += m
    return out


@torch.no_grad()
def position_logprobs(
    model: torch.nn.Module, rows: Sequence[Sequence[int]], batch_size: int = 8
) -> Iterator[tuple[int, torch.Tensor]]:
    """Per token row (in order): its index and ``[len(row), vocab]`` next-token log-probabilities (fp32, CPU).

    Batched and right-padded like :func:`next_token_logprobs`, under whatever edits are installed; a generator,
    so only one batch of full distributions is held at a time.
    """
    device = next(model.parameters()).device
    for i in range(0, len(rows), batch_size):
        part = rows[i : i + batch_size]
        b = pad(part, side="right").to(device)
        logits = model(
            input_ids=b.input_ids, attention_mask=b.attention_mask, position_ids=b.position_ids(), use_cache=False
        ).logits
        for j, r in enumerate(part):
            yield i + j, torch.log_softmax(logits[j, : len(r)].float(), -1).cpu()


@torch.no_grad()
def next_token_logprobs(model: torch.nn.Module, rows: Sequence[Sequence[int]], batch_size: int = 8) -> list[torch.Tensor]:
    """Teacher-forced ``log p(token_t | tokens_<t)`` for t = 1 .. n-1 of each token row (``[n - 1]``, fp32, CPU).

    Runs under whatever edits are installed; rows are right-padded in batches with position ids from the mask.
    """
    device = next(model.parameters()).device
    out: list[torch.Tensor] = []
    for i in range(0, len(rows), batch_size):
        part = rows[i : i + batch_size]
        b = pad(part, side="right").to(device)
        logits = model(
            input_ids=b.input_ids, attention_mask=b.attention_mask, position_ids=b.position_ids(), use_cache=False
        ).logits.float()
        lp = torch.log_softmax(logits[:, :-1], -1).gather(-1, b.input_ids[:, 1:, None])[..., 0]
        out.extend(lp[j, : len(r) - 1].cpu() for j, r in enumerate(part))
    return out


def capture(
    model: torch.nn.Module,
    inputs: str | Sequence[str] | Any,
    sites: Site | int | Iterable[Site | int],
    *,
    tokenizer: Any = None,
    positions: CapturePositions = "all",
    batch_size: int = 32,
    dtype: torch.dtype | None = None,
    offload: bool | None = None,
    progress: bool | None = None,
) -> Activations:
    """Read the activations at ``sites`` for every input, batched and padding-aware.

    The forward pass stops as soon as the last requested site is read, so later blocks and the LM
    head never run. Results do not depend on the batch size or the padding side.

    Args:
        model: A Hugging Face causal LM.
        inputs: Text(s) (then ``tokenizer`` is required), or a dict / BatchEncoding with
            ``input_ids`` and, for padded batches, ``attention_mask``.
        sites: One or more :class:`Site` (an int means ``Site(layer)``, i.e. ``resid_post``).
        tokenizer: Tokenizer for text inputs (BOS is added as the tokenizer does by default).
        positions: Which tokens to keep; see :data:`CapturePositions`.
        batch_size: Inputs per forward pass (with several batches, inputs are grouped by length to
            limit padding; results always come back in input order).
        dtype: Store activations in this dtype (default: the model's).
        offload: Move results to CPU (default: when the model is not on the CPU).
        progress: Show a progress bar (default: when there is more than one batch).

    Returns:
        :class:`Activations`.
    """
    spec = resolve(model)
    site_list = _normalize_sites(spec, sites)
    rows = _rows(inputs, tokenizer, getattr(getattr(model, "config", None), "pad_token_id", None))
    n = len(rows)
    lengths = torch.tensor([len(r) for r in rows])
    _check_positions(positions, n, lengths)
    if batch_size < 1:
        raise PositionError(f"batch_size must be >= 1, got {batch_size}.")
    device = next(model.parameters()).device
    if offload is None:
        offload = device.type != "cpu"
    # Several batches: longest first, so padding is small and the first batch sets peak memory. One
    # batch keeps the input order (per-row edits of an enclosing intervene() then line up).
    order = sorted(range(n), key=lambda i: -len(rows[i])) if n > batch_size else list(range(n))
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if progress is None:
        progress = len(batches) > 1
    packed = isinstance(positions, torch.Tensor) and positions.dtype == torch.bool
    parts: dict[Site, list[torch.Tensor | None]] = {s: [None] * n for s in site_list}  # packed selections
    tensors: dict[Site, torch.Tensor] = {}  # everything else: preallocated, written batch by batch
    width = int(lengths.max())
    out_device = torch.device("cpu") if offload else device
    every = isinstance(positions, str) and positions == "all"
    with hook_group(spec) as group, torch.no_grad():
        state: dict[str, Any] = {}

        def store(site: Site, h: torch.Tensor) -> None:
            # Copied here, inside the hook: the model may later modify this very tensor in place (Falcon adds
            # the attention output into the MLP output), so a reference read after the forward can be wrong.
            idx, batch = state["idx"], state["batch"]
            if h.dim() != 3 or h.shape[0] != len(idx) or h.shape[1] != batch.input_ids.shape[1]:
                raise SiteError(
                    f"The activation at {site} has shape {tuple(h.shape)}, not [batch, tokens, d_model] = "
                    f"[{len(idx)}, {batch.input_ids.shape[1]}, ...]; steerlens cannot read it as one residual stream."
                )
            if packed:
                assert isinstance(positions, torch.Tensor)  # packed: positions is a bool mask
                sel = positions[idx][:, : h.shape[1]].to(h.device)
                for j, i in enumerate(idx):
                    parts[site][i] = h[j][sel[j]].to(device=out_device, dtype=dtype or h.dtype, copy=True)
                return
            if site not in tensors:
                shape = (n, width, h.shape[-1]) if every else (n, *_selected_shape(positions), h.shape[-1])
                tensors[site] = torch.zeros(shape, dtype=dtype or h.dtype, device=out_device)
            _write(tensors[site], h, idx, positions, batch.attention_mask)

        def make_reader(site: Site):
            def read(h: torch.Tensor) -> None:
                if site in state["got"]:
                    raise SiteError(f"{site} was reached twice in one forward pass; steerlens cannot tell which to read.")
                store(site, h)
                state["got"].add(site)
                if len(state["got"]) == len(site_list) and may_stop:
                    raise StopForward

            return read

        may_stop = stops_early(model)
        for s in site_list:
            group.add_site(s, make_reader(s))
        for idx in tqdm(batches, desc="capture", unit="batch", disable=not progress):
            batch = pad([rows[i] for i in idx], side="right").to(device)
            state.update(got=set(), idx=idx, batch=batch)
            try:
                run_body(model, batch)
            except StopForward:
                pass
            if len(state["got"]) != len(site_list):
                missing = [str(s) for s in site_list if s not in state["got"]]
                raise SiteError(f"The forward pass never reached {', '.join(missing)}; is the model's layout unusual?")
    if packed:
        tensors = {s: torch.cat(chunks) for s, chunks in parts.items()}  # type: ignore[arg-type]
    acts = Activations(tensors=tensors, lengths=lengths, sites=site_list, n_layers=spec.n_layers)
    if isinstance(positions, str) and positions == "all":
        acts.mask = torch.arange(width)[None, :] < lengths[:, None]
    elif isinstance(positions, torch.Tensor) and positions.dtype == torch.bool:
        acts.rows = positions.nonzero()[:, 0]
    return acts


def _normalize_sites(spec: ModelSpec, sites: Site | int | Iterable[Site | int]) -> list[Site]:
    if isinstance(sites, (Site, int)) and not isinstance(sites, bool):
        sites = [sites]
    out = sorted({spec.site(s) for s in sites}, key=lambda s: s.order)  # type: ignore[union-attr]
    if not out:
        raise SiteError("No sites to capture.")
    return out


def _rows(inputs: Any, tokenizer: Any, pad_token_id: int | None) -> list[list[int]]:
    if isinstance(inputs, str) or (isinstance(inputs, (list, tuple)) and inputs and isinstance(inputs[0], str)):
        if tokenizer is None:
            raise PositionError("Text inputs need a tokenizer: capture(model, texts, sites, tokenizer=tokenizer).")
        return encode(tokenizer, [inputs] if isinstance(inputs, str) else list(inputs))
    if isinstance(inputs, (list, tuple)) and not inputs:
        raise PositionError("No inputs to capture.")
    batch = as_batch(inputs, pad_token_id=pad_token_id)
    return [row[m.bool()].tolist() for row, m in zip(batch.input_ids, batch.attention_mask)]


def _check_positions(positions: Any, n: int, lengths: torch.Tensor) -> None:
    if isinstance(positions, str):
        if positions not in ("all", "last"):
            raise PositionError(f"positions must be 'all', 'last', a long tensor or a bool mask; got {positions!r}.")
        return
    if not isinstance(positions, torch.Tensor):
        raise PositionError(f"positions must be 'all', 'last', a long tensor or a bool mask; got {type(positions).__name__}.")
    if positions.shape[0] != n:
        raise PositionError(f"positions has {positions.shape[0]} rows but there are {n} inputs.")
    if positions.dtype == torch.bool:
        if positions.dim() != 2:
            raise PositionError(f"A boolean position mask must be [n, pos], got shape {tuple(positions.shape)}.")
        beyond = positions & (torch.arange(positions.shape[1])[None] >= lengths[:, None])
        if bool(beyond.any()):
            r = int(beyond.any(1).nonzero()[0, 0])
            raise PositionError(f"The position mask selects tokens past the end of input {r} ({int(lengths[r])} tokens).")
        return
    if positions.dtype not in (torch.int64, torch.int32):
        raise PositionError(f"Position indices must be an integer tensor, got {positions.dtype}.")
    if positions.dim() not in (1, 2):
        raise PositionError(f"Position indices must be [n] or [n, k], got shape {tuple(positions.shape)}.")
    p = positions if positions.dim() == 2 else positions[:, None]
    bad = (p < 0) | (p >= lengths[:, None])
    if bool(bad.any()):
        r = int(bad.any(1).nonzero()[0, 0])
        raise PositionError(
            f"Position {p[r][bad[r]].tolist()} is outside input {r}, which has {int(lengths[r])} tokens "
            f"(valid: 0..{int(lengths[r]) - 1})."
        )


def _selected_shape(positions: Any) -> tuple[int, ...]:
    """Per-input shape (without ``d``) of a ``"last"`` or index selection."""
    if isinstance(positions, str):
        return ()
    return () if positions.dim() == 1 else (positions.shape[1],)


def _write(out: torch.Tensor, h: torch.Tensor, idx: list[int], positions: Any, mask: torch.Tensor) -> None:
    """Copy the requested tokens of one right-padded batch ``h`` ``[b, pos, d]`` into rows ``idx`` of ``out``."""
    lengths = mask.sum(1).tolist()
    if isinstance(positions, str) and positions == "all":
        for j, i in enumerate(idx):  # real tokens only; the padding of ``out`` stays zero
            out[i, : lengths[j]].copy_(h[j, : lengths[j]])
        return
    rows = torch.arange(h.shape[0], device=h.device)
    if isinstance(positions, str):  # "last"
        picked = h[rows, torch.tensor(lengths, device=h.device) - 1]
    else:
        sel = positions[idx].to(h.device)
        picked = h[rows, sel] if sel.dim() == 1 else h[rows[:, None], sel]
    out.index_copy_(0, torch.tensor(idx, device=out.device), picked.to(device=out.device, dtype=out.dtype))
