"""Activation stores: residuals captured over a text dataset, streamed to safetensors shards on disk.

:func:`capture_to_store` runs the model over texts in fixed batches of consecutive texts (batch ``b`` holds
texts ``b*B .. b*B+B-1``) and appends what it reads at the requested sites to a buffer that is written out as
a shard once it holds ``shard_tokens`` tokens, so memory is bounded by one batch plus one shard whatever the
size of the dataset. Each shard holds, per site, a ``[tokens, d_model]`` tensor, and for every token its
text index (``item``), position in the text (``position``) and token id (``token``).

* **Resumable**: a shard is written to a temporary name and renamed, then the rank's progress file
  (``rank-000.json``) records it with the next batch to run. Run the same call again after an interruption
  and it carries on from there; the finished store is the same as an uninterrupted run's.
* **Sharded across ranks**: under ``torchrun --nproc-per-node N`` (or with ``rank``/``world_size``), batch
  ``b`` belongs to rank ``b mod N`` and each rank writes its own shards. Batches are the same whatever
  ``N``, so the union of the shards equals the single-process store bit for bit.
* **Manifest**: when every rank is done, ``manifest.json`` lists the model's fingerprint, the sites,
  positions and dtype, the token counts, every shard and each rank's capture time (model loading excluded).

:class:`ActivationStore` reads a store back (in text order with :meth:`ActivationStore.load`, or shard by
shard with :meth:`ActivationStore.iter_shards`) for probes and lens training without re-running the model.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from ._io import json_records
from .artifacts import Fingerprint
from .distributed import barrier, is_sharded, world
from .errors import ConfigError, DataFormatError, IncompatibleArtifactError
from .model.architectures import resolve
from .model.capture import capture
from .model.site import Site
from .model.tokens import encode, pad

__all__ = ["capture_to_store", "ActivationStore", "read_texts", "StoreSettings", "STORE_VERSION"]

STORE_VERSION = 1
_SETTINGS = "store.json"
_MANIFEST = "manifest.json"
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class StoreSettings:
    """What a store was made with; resuming with other settings is refused."""

    fingerprint: dict[str, Any]
    sites: list[str]
    positions: str
    dtype: str
    batch_size: int
    shard_tokens: int
    world_size: int
    max_length: int | None
    version: int = STORE_VERSION


def read_texts(path: str | os.PathLike[str], *, text_field: str = "text") -> list[str]:
    """Texts from a local file or dataset folder.

    * ``.txt``: one text per non-empty line;
    * ``.jsonl``: one JSON object per line, the text in ``text_field``;
    * a folder written by ``datasets.Dataset.save_to_disk`` (needs the ``datasets`` package), column ``text_field``.
    """
    p = Path(path)
    if p.is_dir():
        try:
            import datasets
        except ImportError as exc:
            from .errors import MissingExtraError

            raise MissingExtraError(
                f"{p} is a folder: reading a saved Hugging Face dataset needs the 'datasets' package (pip install datasets)."
            ) from exc
        ds = datasets.load_from_disk(str(p))
        if text_field not in ds.column_names:
            raise DataFormatError(f"The dataset at {p} has no column {text_field!r}; its columns: {ds.column_names}.")
        return [str(x) for x in ds[text_field]]
    if not p.exists():
        raise DataFormatError(f"No such file: {p}.")
    if p.suffix == ".jsonl":
        records, where = json_records(p)
        for k, obj in records:
            if not isinstance(obj, dict) or not isinstance(obj.get(text_field), str):
                raise DataFormatError(f"{p}, {where} {k}: expected an object with a string field {text_field!r}.")
        return [obj[text_field] for _, obj in records]
    return [line for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


def _site_list(model: torch.nn.Module, sites: Site | int | Iterable[Site | int]) -> list[Site]:
    spec = resolve(model)
    raw = [sites] if isinstance(sites, (Site, int)) else list(sites)
    if not raw:
        raise ConfigError("No sites to capture.")
    out = [spec.site(Site(s) if isinstance(s, int) else s) for s in raw]
    if len(set(out)) != len(out):
        raise ConfigError(f"Sites repeat: {[str(s) for s in out]}.")
    return out


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # one per process: ranks may write the same file
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def capture_to_store(
    model: torch.nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    sites: Site | int | Iterable[Site | int],
    out: str | os.PathLike[str],
    *,
    positions: Literal["all", "last"] = "all",
    batch_size: int = 8,
    shard_tokens: int = 65536,
    max_length: int | None = None,
    dtype: str | None = None,
    rank: int | None = None,
    world_size: int | None = None,
    progress: bool | None = None,
    on_shard: Callable[[Path], None] | None = None,
) -> ActivationStore | None:
    """Capture ``sites`` over ``texts`` into the store folder ``out`` (see the module doc).

    Args:
        texts: The dataset, one text per item (:func:`read_texts` reads files); each is tokenized as the
            tokenizer does by default (BOS added).
        positions: ``"all"`` tokens, or ``"last"`` (one token per text).
        batch_size: Texts per forward pass; part of the store's identity (batches decide what runs on each rank).
        shard_tokens: A shard is written once its buffer holds at least this many tokens.
        max_length: A text longer than this many tokens is an error (nothing is truncated); default: the
            model's ``max_position_embeddings`` when it has one.
        dtype: ``"float32"``, ``"float16"`` or ``"bfloat16"`` on disk (default: the model's).
        rank: This process's rank (default: from ``torch.distributed`` or ``torchrun``'s variables).
        world_size: How many ranks share the texts (default: as ``rank``).
        on_shard: Called with each shard's path once it is recorded (progress reporting, tests).

    Returns:
        The finished :class:`ActivationStore` when every rank is done (on every rank under a process
        group), else ``None`` (other ranks still running without a process group to wait on).
    """
    folder = Path(out)
    if rank is None or world_size is None:
        r0, w0 = world()
        rank = r0 if rank is None else rank
        world_size = w0 if world_size is None else world_size
    if not 0 <= rank < world_size:
        raise ConfigError(f"rank must be in [0, world_size={world_size}), got {rank}.")
    if is_sharded(model):
        raise ConfigError(
            "capture_to_store runs each rank on its own batches and resumes each rank on its own, so it cannot drive a "
            "model sharded over the ranks (shard_model), whose every forward pass needs all ranks at once. Load the "
            "model whole on each rank, or across its devices with load_model(..., device_map=...)."
        )
    if positions not in ("all", "last"):
        raise ConfigError(f"positions must be 'all' or 'last', got {positions!r}.")
    if batch_size < 1 or shard_tokens < 1:
        raise ConfigError(f"batch_size and shard_tokens must be >= 1, got {batch_size} and {shard_tokens}.")
    if dtype is not None and dtype not in _DTYPES:
        raise ConfigError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}.")
    if isinstance(texts, str):
        raise DataFormatError("texts must be a sequence of strings, not one string.")
    site_list = _site_list(model, sites)
    model_dtype = next(model.parameters()).dtype
    store_dtype = _DTYPES[dtype] if dtype else model_dtype
    if max_length is None:
        max_length = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    settings = StoreSettings(
        fingerprint=asdict(Fingerprint.of(model)),
        sites=[str(s) for s in site_list],
        positions=positions,
        dtype=str(store_dtype).removeprefix("torch."),
        batch_size=batch_size,
        shard_tokens=shard_tokens,
        world_size=world_size,
        max_length=max_length,
    )
    folder.mkdir(parents=True, exist_ok=True)
    settings_path = folder / _SETTINGS
    if settings_path.exists():
        old = json.loads(settings_path.read_text())
        if old != asdict(settings):
            diff = [f"{k}: stored {old.get(k)!r}, now {v!r}" for k, v in asdict(settings).items() if old.get(k) != v]
            raise ConfigError(
                f"The store at {folder} was started with other settings ({'; '.join(diff)}). Resume with the same "
                "settings, or write to a new folder."
            )
    else:
        _write_json(settings_path, asdict(settings))

    state_path = folder / f"rank-{rank:03d}.json"
    state: dict[str, Any] = (
        json.loads(state_path.read_text())
        if state_path.exists()
        else {"shards": [], "next_batch": rank, "done": False, "seconds": 0.0}
    )
    t_start, seconds_before = time.perf_counter(), float(state.get("seconds", 0.0))
    n_batches = (len(texts) + batch_size - 1) // batch_size
    mine = list(range(state["next_batch"], n_batches, world_size))
    show = (rank == 0) if progress is None else progress
    buf: dict[str, list[torch.Tensor]] = {}
    buf_tokens = 0
    first_batch = state["next_batch"]

    def flush(next_batch: int, done: bool) -> None:
        nonlocal buf, buf_tokens, first_batch
        if buf_tokens:
            name = f"shard-r{rank:03d}-{len(state['shards']):05d}.safetensors"
            tensors = {k: torch.cat(v).contiguous() for k, v in buf.items()}
            tmp = folder / (name + ".tmp")
            save_file(tensors, str(tmp))
            os.replace(tmp, folder / name)
            items = tensors["item"]
            state["shards"].append(
                {
                    "file": name,
                    "rank": rank,
                    "first_batch": first_batch,
                    "items": [int(items.min()), int(items.max())],
                    "tokens": int(items.numel()),
                }
            )
        state["next_batch"], state["done"] = next_batch, done
        state["seconds"] = seconds_before + time.perf_counter() - t_start
        _write_json(state_path, state)
        if buf_tokens and on_shard is not None:
            on_shard(folder / state["shards"][-1]["file"])
        buf, buf_tokens, first_batch = {}, 0, next_batch

    for b in tqdm(mine, desc=f"capture (rank {rank})", unit="batch", disable=not show):
        lo = b * batch_size
        chunk = list(texts[lo : lo + batch_size])
        for k, t in enumerate(chunk):
            if not isinstance(t, str) or not t:
                raise DataFormatError(f"Text {lo + k} is empty or not a string; every item must be a non-empty text.")
        rows = encode(tokenizer, chunk)
        for k, r in enumerate(rows):
            if max_length is not None and len(r) > max_length:
                raise DataFormatError(
                    f"Text {lo + k} has {len(r)} tokens, more than max_length={max_length}; split long texts "
                    "(nothing is truncated) or pass a larger max_length."
                )
        batch = pad(rows, side="right")
        acts = capture(
            model,
            {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask},
            site_list,
            positions=positions,
            batch_size=len(rows),
            dtype=store_dtype,
            offload=True,
            progress=False,
        )
        if positions == "all":
            assert acts.mask is not None  # capture sets it for positions="all"
            mask = acts.mask  # [texts, width]: the real tokens of each row
            item = (torch.arange(len(rows))[:, None] + lo).expand_as(mask)[mask]
            pos = torch.arange(mask.shape[1])[None, :].expand_as(mask)[mask]
            tok = batch.input_ids[mask]
            for s in site_list:
                buf.setdefault(str(s), []).append(acts[s][mask])
        else:
            item = torch.arange(len(rows)) + lo
            pos = acts.lengths - 1
            tok = torch.tensor([r[-1] for r in rows])
            for s in site_list:
                buf.setdefault(str(s), []).append(acts[s])
        buf.setdefault("item", []).append(item.to(torch.int64))
        buf.setdefault("position", []).append(pos.to(torch.int64))
        buf.setdefault("token", []).append(tok.to(torch.int64))
        buf_tokens += int(item.numel())
        if buf_tokens >= shard_tokens:
            flush(b + world_size, False)
    if not state["done"]:
        flush(n_batches + rank, True)

    barrier()
    return _finish(folder, settings, len(texts))


def _finish(folder: Path, settings: StoreSettings, n_items: int) -> ActivationStore | None:
    """Write the manifest once every rank is done (any rank may; the content is the same)."""
    states = []
    for r in range(settings.world_size):
        p = folder / f"rank-{r:03d}.json"
        if not p.exists():
            return None
        st = json.loads(p.read_text())
        if not st["done"]:
            return None
        states.append(st)
    shards = sorted((s for st in states for s in st["shards"]), key=lambda s: s["first_batch"])
    manifest = {
        **asdict(settings),
        "n_items": n_items,
        "n_tokens": sum(s["tokens"] for s in shards),
        "seconds_by_rank": [st.get("seconds", 0.0) for st in states],
        "shards": shards,
    }
    if not (folder / _MANIFEST).exists() or json.loads((folder / _MANIFEST).read_text()) != manifest:
        _write_json(folder / _MANIFEST, manifest)
    return ActivationStore(folder)


class ActivationStore:
    """A finished activation store (see the module doc)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        mp = self.path / _MANIFEST
        if not mp.exists():
            hint = (
                " It is not finished: some rank has not written all its shards (run the capture again to resume)."
                if (self.path / _SETTINGS).exists()
                else ""
            )
            raise DataFormatError(f"No activation store at {self.path} (no {_MANIFEST}).{hint}")
        self.manifest: dict[str, Any] = json.loads(mp.read_text())
        if self.manifest.get("version") != STORE_VERSION:
            raise DataFormatError(
                f"The store at {self.path} has format version {self.manifest.get('version')}; this steerlens reads "
                f"{STORE_VERSION}."
            )

    @property
    def sites(self) -> list[str]:
        return list(self.manifest["sites"])

    @property
    def n_tokens(self) -> int:
        return int(self.manifest["n_tokens"])

    @property
    def n_items(self) -> int:
        return int(self.manifest["n_items"])

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(**self.manifest["fingerprint"])

    def check_model(self, model: torch.nn.Module) -> None:
        """Raise :class:`IncompatibleArtifactError` unless ``model`` is the model the store was captured from."""
        diff = self.fingerprint.differences(Fingerprint.of(model))
        if diff:
            raise IncompatibleArtifactError(f"The store at {self.path} was captured from another model: {'; '.join(diff)}.")

    def _site_key(self, site: Site | int | str) -> str:
        key = str(Site(site) if isinstance(site, int) else site)
        if key not in self.sites:
            raise ConfigError(f"The store has no site {key}; it has {', '.join(self.sites)}.")
        return key

    def iter_shards(self, sites: Sequence[Site | int | str] | None = None) -> Iterator[dict[str, torch.Tensor]]:
        """Shards one at a time (``item``, ``position``, ``token`` and the sites), in batch order of each shard's start."""
        keys = [self._site_key(s) for s in sites] if sites is not None else self.sites
        for sh in self.manifest["shards"]:
            data = load_file(str(self.path / sh["file"]))
            yield {k: data[k] for k in ("item", "position", "token", *keys)}

    def load(self, sites: Sequence[Site | int | str] | None = None) -> dict[str, torch.Tensor]:
        """Everything (or the given sites) in text order, then position order: ``[n_tokens, d]`` per site."""
        parts = list(self.iter_shards(sites))
        if not parts:
            raise DataFormatError(f"The store at {self.path} holds no tokens.")
        cat = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        order = torch.argsort(cat["item"] * (int(cat["position"].max()) + 1) + cat["position"], stable=True)
        return {k: v[order] for k, v in cat.items()}

    def per_item(self, sites: Sequence[Site | int | str], reduce: str = "mean") -> torch.Tensor:
        """One feature row per text, ``[n_items, len(sites), d]`` in float32, streamed shard by shard.

        ``reduce``: ``"mean"`` over the text's stored tokens, or its ``"last"`` stored token. The result feeds a
        probe directly (``DiMProbe().fit(store.per_item(sites), labels)``) with one label per text.
        """
        if reduce not in ("mean", "last"):
            raise ConfigError(f"reduce must be 'mean' or 'last', got {reduce!r}.")
        keys = [self._site_key(s) for s in sites]
        out: torch.Tensor | None = None
        count = torch.zeros(self.n_items, dtype=torch.float64)
        best = torch.full((self.n_items,), -1, dtype=torch.long)
        for shard in self.iter_shards(keys):
            item, pos = shard["item"], shard["position"]
            x = torch.stack([shard[k].double() for k in keys], dim=1)  # [tokens, sites, d]
            if out is None:
                out = torch.zeros(self.n_items, len(keys), x.shape[-1], dtype=torch.float64)
            if reduce == "mean":
                out.index_add_(0, item, x)
                count.index_add_(0, item, torch.ones_like(item, dtype=torch.float64))
            else:
                for j in range(item.numel()):  # keep each text's highest position
                    i = int(item[j])
                    if int(pos[j]) > int(best[i]):
                        best[i] = pos[j]
                        out[i] = x[j]
                count.index_add_(0, item, torch.ones_like(item, dtype=torch.float64))
        if out is None or bool((count == 0).any()):
            missing = int((count == 0).sum()) if out is not None else self.n_items
            raise DataFormatError(f"{missing} texts of the store at {self.path} have no stored tokens.")
        if reduce == "mean":
            out /= count[:, None, None]
        return out.float()

    def __repr__(self) -> str:
        return (
            f"ActivationStore({str(self.path)!r}: {self.n_items} texts, {self.n_tokens} tokens, sites "
            f"{', '.join(self.sites)}, {len(self.manifest['shards'])} shards)"
        )
