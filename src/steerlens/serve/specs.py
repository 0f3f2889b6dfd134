"""The server's artifact library and the ``steering`` field of a request, turned into steerlens edits.

A request's ``steering`` is a list of items. Each names one source -- ``artifact`` (a name in the
server's library), ``vector`` (an inline list of floats) or ``actadd`` (a prompt pair, built on the
fly) -- and optionally ``sites`` (the command line's grammar, e.g. ``"resid_pre.6"`` or
``"attn_in.4-8"``, or a list), ``strength`` (default 1), ``positions`` (``"all"``, ``"prompt"``,
``"generated"`` or ``"last_prompt"``; default ``"all"``) and ``mode``:

* ``"add"`` -- add ``strength`` times the vector (steering vectors and inline vectors; the default);
* ``"guide"`` -- concept guidance with ``strength`` as the guidance scale (the default for concepts);
* ``"project_out"`` -- remove the component along the vector.

Every item is checked against the served model before the request is queued, so a bad one gets a
4xx answer saying what was wrong, never a failure in the middle of a batch.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..artifacts import Fingerprint, load
from ..errors import SteerlensError
from ..model.architectures import resolve
from ..model.intervene import Add, Edit, ProjectOut
from ..model.site import Site, parse_sites

__all__ = ["RequestError", "ArtifactLibrary", "EditPlan", "plan_edits", "build_edits", "parse_site_list", "STEERABLE_KINDS"]

STEERABLE_KINDS = ("steering_vector", "concept", "actadd")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_POSITIONS = ("all", "prompt", "generated", "last_prompt")


class RequestError(SteerlensError, ValueError):
    """A request the server refuses: ``status`` is the HTTP status, ``code`` a short machine-readable reason."""

    def __init__(self, status: int, message: str, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass
class _Entry:
    obj: Any
    kind: str
    path: Path


class ArtifactLibrary:
    """Named steerlens artifacts for the served model, kept in a folder (one sub-folder per artifact).

    Artifacts of another model found in the folder at start are skipped (listed in :attr:`skipped`);
    uploads for another model are refused.
    """

    def __init__(self, folder: str | Path | None, model: torch.nn.Module) -> None:
        self.model = model
        self.fingerprint = Fingerprint.of(model)
        self.folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="steerlens-serve-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self._items: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self.skipped: dict[str, str] = {}
        for sub in sorted(p for p in self.folder.iterdir() if (p / "artifact.json").is_file()):
            try:
                self._items[sub.name] = self._open(sub)
            except SteerlensError as e:
                self.skipped[sub.name] = str(e)

    def _open(self, path: Path) -> _Entry:
        kind = json.loads((path / "artifact.json").read_text()).get("kind", "?")
        return _Entry(load(path, model=self.model), kind, path)

    def names(self) -> list[str]:
        return sorted(self._items)

    def get(self, name: str) -> Any:
        entry = self._items.get(name)
        if entry is None:
            known = ", ".join(self.names()) or "none"
            raise RequestError(404, f"No artifact named {name!r} on this server (it has: {known}).", "unknown_artifact")
        return entry.obj

    def kind(self, name: str) -> str:
        self.get(name)
        return self._items[name].kind

    def describe(self, name: str) -> dict[str, Any]:
        obj = self.get(name)
        entry = self._items[name]
        out: dict[str, Any] = {"name": name, "kind": entry.kind}
        sites = getattr(obj, "sites", None)
        if callable(sites):
            sites = sites()
        if isinstance(sites, list):
            out["sites"] = [str(s) for s in sites]
        if entry.kind == "actadd":
            out["sites"] = sorted({str(a.site) for a in obj.additions})
            out["additions"] = [a.describe() for a in obj.additions]
        return out

    def add(self, name: str, meta: Any, tensors_b64: Any) -> dict[str, Any]:
        """Store an uploaded artifact (its ``artifact.json`` as a dict and its safetensors file base64-encoded)."""
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise RequestError(400, f"Artifact names are 1-64 letters, digits, '.', '_' or '-'; got {name!r}.", "bad_name")
        if not isinstance(meta, dict):
            raise RequestError(400, "'artifact' must be the JSON object of the artifact's artifact.json.", "bad_artifact")
        if not isinstance(tensors_b64, str):
            raise RequestError(400, "'tensors' must be the artifact's tensors.safetensors file, base64-encoded.", "bad_artifact")
        try:
            raw = base64.b64decode(tensors_b64, validate=True)
        except ValueError:
            raise RequestError(400, "'tensors' is not valid base64.", "bad_artifact") from None
        tmp = Path(tempfile.mkdtemp(prefix=".upload-", dir=self.folder))
        try:
            (tmp / "artifact.json").write_text(json.dumps(meta))
            (tmp / "tensors.safetensors").write_bytes(raw)
            try:
                entry = self._open(tmp)
            except SteerlensError as e:
                from ..errors import IncompatibleArtifactError

                status = 409 if isinstance(e, IncompatibleArtifactError) else 400
                code = "wrong_model" if status == 409 else "bad_artifact"
                raise RequestError(status, f"Refused artifact {name!r}: {e}", code) from None
            except Exception as e:  # noqa: BLE001 - a malformed file (bad safetensors header, missing keys)
                raise RequestError(
                    400, f"Refused artifact {name!r}: not a readable steerlens artifact ({e}).", "bad_artifact"
                ) from None
            with self._lock:
                if name in self._items:
                    raise RequestError(409, f"An artifact named {name!r} exists; delete it first.", "exists")
                final = self.folder / name
                if final.exists():
                    shutil.rmtree(final)
                tmp.rename(final)
                entry.path = final
                self._items[name] = entry
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return self.describe(name)

    def delete(self, name: str) -> None:
        with self._lock:
            self.get(name)
            entry = self._items.pop(name)
            shutil.rmtree(entry.path, ignore_errors=True)


def parse_site_list(value: Any, n_layers: int, what: str = "sites") -> list[Site]:
    """Sites from a request: a string in the command line's grammar, a layer int, or a list of those."""
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, int):
            return parse_sites(str(value), n_layers)
        if isinstance(value, str):
            return parse_sites(value, n_layers)
        if isinstance(value, list) and value and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
            return [s for v in value for s in parse_sites(str(v), n_layers)]
    except SteerlensError as e:
        raise RequestError(400, f"{what}: {e}", "bad_site") from None
    except TypeError:
        pass
    raise RequestError(
        400, f"{what} must be a string such as 'resid_pre.6', a layer number, or a list of them; got {value!r}.", "bad_site"
    )


@dataclass
class EditPlan:
    """A request's ``steering``, checked: its edits in order, where an ActAdd pair is still a function that builds
    its edits (that needs a forward pass, which the engine runs when the request's batch starts).

    ``min_prompt_tokens``: the longest ActAdd steering prompt, in tokens; shorter prompts cannot take it.
    """

    parts: list[list[Edit] | Callable[[], list[Edit]]] = field(default_factory=list)
    min_prompt_tokens: int = 0

    @property
    def empty(self) -> bool:
        return not self.parts

    def build(self) -> list[Edit]:
        """Every edit, building the pending ones (runs the model: call it where nothing else does)."""
        out: list[Edit] = []
        for part in self.parts:
            out.extend(part() if callable(part) else part)
        return out


def plan_edits(items: Any, model: torch.nn.Module, tokenizer: Any, library: ArtifactLibrary) -> EditPlan:
    """Check a request's ``steering`` list against the model without running it (raises :class:`RequestError`)."""
    plan = EditPlan()
    if items is None:
        return plan
    if not isinstance(items, list):
        raise RequestError(400, f"'steering' must be a list of edits, got {type(items).__name__}.", "bad_steering")
    spec = resolve(model)
    for k, item in enumerate(items):
        where = f"steering[{k}]"
        try:
            new = _item_edits(item, where, model, tokenizer, library)
            if isinstance(new, _Deferred):
                plan.parts.append(new.build)
                plan.min_prompt_tokens = max(plan.min_prompt_tokens, new.tokens)
                continue
            for e in new:
                e.validate(spec)
                tensors = getattr(e, "delta", None)
                if isinstance(tensors, torch.Tensor) and tensors.dim() == 2 and getattr(e, "location", None) == "front":
                    plan.min_prompt_tokens = max(plan.min_prompt_tokens, tensors.shape[0])  # a built ActAdd
        except RequestError:
            raise
        except SteerlensError as e:
            raise RequestError(400, f"{where}: {e}", "bad_steering") from None
        plan.parts.append(new)
    return plan


def build_edits(items: Any, model: torch.nn.Module, tokenizer: Any, library: ArtifactLibrary) -> list[Edit]:
    """The edits of a request's ``steering`` list, checked and built (runs the model for ActAdd pairs)."""
    return plan_edits(items, model, tokenizer, library).build()


@dataclass
class _Deferred:
    build: Callable[[], list[Edit]]
    tokens: int


_KEYS = {"artifact", "vector", "actadd", "sites", "strength", "positions", "mode"}


def _item_edits(
    item: Any, where: str, model: torch.nn.Module, tokenizer: Any, library: ArtifactLibrary
) -> list[Edit] | _Deferred:
    from ..concepts.guidance import ConceptProbe, guidance_edits
    from ..steering.addition import ActAdd, x_vector
    from ..steering.vectors import SteeringVector

    if not isinstance(item, dict):
        raise RequestError(400, f"{where} must be an object such as {{'artifact': 'name', 'strength': 4}}.", "bad_steering")
    unknown = sorted(set(item) - _KEYS)
    if unknown:
        raise RequestError(400, f"{where}: unknown field(s) {unknown}; known: {sorted(_KEYS)}.", "bad_steering")
    sources = [key for key in ("artifact", "vector", "actadd") if key in item]
    if len(sources) != 1:
        raise RequestError(
            400, f"{where} needs exactly one of 'artifact', 'vector' or 'actadd' (got {sources or 'none'}).", "bad_steering"
        )
    spec = resolve(model)
    strength = item.get("strength", 1.0)
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not torch.isfinite(torch.tensor(float(strength))):
        raise RequestError(400, f"{where}: strength must be a finite number, got {strength!r}.", "bad_steering")
    strength = float(strength)
    positions = item.get("positions", "all")
    if positions not in _POSITIONS:
        raise RequestError(400, f"{where}: positions must be one of {list(_POSITIONS)}, got {positions!r}.", "bad_steering")
    sites = parse_site_list(item["sites"], spec.n_layers, f"{where}.sites") if "sites" in item else None
    mode = item.get("mode")
    if mode not in (None, "add", "guide", "project_out"):
        raise RequestError(400, f"{where}: mode must be 'add', 'guide' or 'project_out', got {mode!r}.", "bad_steering")

    def vectors_at(dirs: dict[Site, torch.Tensor]) -> list[Edit]:
        chosen = list(dirs) if sites is None else sites
        missing = [str(s) for s in chosen if s not in dirs]
        if missing:
            have = ", ".join(str(s) for s in dirs)
            raise RequestError(400, f"{where}: no vector at {', '.join(missing)} (it has {have}).", "bad_site")
        if mode == "project_out":
            return [ProjectOut(s, dirs[s], positions) for s in chosen]
        return [Add(s, dirs[s], positions, strength) for s in chosen]

    if "vector" in item:
        vec = item["vector"]
        if not isinstance(vec, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vec):
            raise RequestError(400, f"{where}.vector must be a list of numbers.", "bad_steering")
        if len(vec) != spec.d_model:
            raise RequestError(
                400, f"{where}.vector has {len(vec)} numbers, but the model's hidden size is {spec.d_model}.", "wrong_hidden_size"
            )
        if sites is None:
            raise RequestError(400, f"{where}: an inline vector needs 'sites' (e.g. 'resid_pre.6').", "bad_site")
        if mode == "guide":
            raise RequestError(400, f"{where}: mode 'guide' needs a concept artifact.", "bad_steering")
        t = torch.tensor(vec, dtype=torch.float32)
        return vectors_at({s: t for s in sites})
    if "actadd" in item:
        pair = item["actadd"]
        if not isinstance(pair, dict) or not isinstance(pair.get("plus"), str) or not isinstance(pair.get("minus", ""), str):
            raise RequestError(400, f"{where}.actadd must be {{'plus': text, 'minus': text}} ('minus' optional).", "bad_steering")
        if set(pair) - {"plus", "minus"}:
            raise RequestError(400, f"{where}.actadd takes only 'plus' and 'minus'.", "bad_steering")
        if sites is None or len(sites) != 1:
            raise RequestError(400, f"{where}: an ActAdd pair needs one site in 'sites' (e.g. 'resid_pre.6').", "bad_site")
        if mode not in (None, "add") or "positions" in item:
            raise RequestError(
                400,
                f"{where}: an ActAdd pair is added at the front of the prompt; it takes no mode or positions.",
                "bad_steering",
            )
        minus = pair.get("minus")
        if minus is None:
            from ..steering.addition import ActivationAddition

            additions: Any = [ActivationAddition(strength, sites[0], prompt=pair["plus"])]
        else:
            additions = list(x_vector(pair["plus"], minus, strength, sites[0], tokenizer=tokenizer))
        longest = max(len(a.token_ids(tokenizer)) for a in additions)

        def build() -> list[Edit]:
            return ActAdd.build(model, tokenizer, additions).edits(model)

        return _Deferred(build, longest)
    name = item["artifact"]
    if not isinstance(name, str):
        raise RequestError(400, f"{where}.artifact must be a name, got {name!r}.", "bad_steering")
    obj = library.get(name)
    if isinstance(obj, SteeringVector):
        if mode == "guide":
            raise RequestError(400, f"{where}: mode 'guide' needs a concept; {name!r} is a steering vector.", "bad_steering")
        return vectors_at({spec.site(s): obj.directions[s.layer] for s in obj.sites})
    if isinstance(obj, ConceptProbe):
        dirs = {spec.site(s): obj.directions()[s.layer] for s in obj.sites}
        if mode in (None, "guide"):
            if positions != "all":
                raise RequestError(400, f"{where}: concept guidance acts on every token; it takes no positions.", "bad_steering")
            return list(guidance_edits(model, obj, strength, sites))
        return vectors_at(dirs)
    if isinstance(obj, ActAdd):
        if sites is not None or mode not in (None, "add") or "positions" in item:
            raise RequestError(400, f"{where}: an ActAdd artifact carries its own sites; give only 'strength'.", "bad_steering")
        scaled = ActAdd(obj.additions, [t * strength for t in obj.tensors], obj.location, obj.dims, obj.fingerprint)
        return scaled.edits(model)
    kind = library.kind(name)
    raise RequestError(
        400, f"{where}: {name!r} is a {kind} artifact; steering takes {', '.join(STEERABLE_KINDS)} artifacts.", "bad_steering"
    )
