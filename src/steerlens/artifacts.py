"""One save/load for every artifact steerlens makes (vectors, probes, lenses, LREs, concepts, editors).

An artifact is a folder holding ``artifact.json`` (kind, format version, library version, model
fingerprint, the object's JSON config) and ``tensors.safetensors`` (its tensors). Nothing is ever
pickled. Loading an artifact onto a model other than the one it was made for raises
:class:`~steerlens.errors.IncompatibleArtifactError` saying what differs.

Classes register a loader for their ``kind`` with :func:`register`; :func:`load` then returns the
right object without importing anything by a path stored in the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from safetensors.torch import load_file, save_file

from ._version import __version__
from .errors import ArtifactFormatError, IncompatibleArtifactError

__all__ = ["FORMAT_VERSION", "KINDS", "Fingerprint", "Artifact", "save_artifact", "load_artifact", "register", "load"]

FORMAT_VERSION = 1
_META = "artifact.json"
_TENSORS = "tensors.safetensors"


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a model for an artifact: architecture, sizes and a hash of the unembedding.

    The hash covers a fixed sample of unembedding rows rounded to bfloat16, so the same weights
    loaded in float32, float16 or bfloat16 give the same fingerprint.
    """

    model_type: str
    d_model: int
    n_layers: int
    vocab_size: int
    unembed_hash: str

    @classmethod
    def of(cls, model: torch.nn.Module) -> Fingerprint:
        """Fingerprint of a loaded model (cached on the model object)."""
        from .model.architectures import resolve

        cached = model.__dict__.get("_steerlens_fingerprint")
        if cached is not None:
            return cached
        spec = resolve(model)
        w = cast(torch.Tensor, spec.unembed.weight).detach()
        step = max(1, w.shape[0] // 512)
        sample = w[::step].to(device="cpu", dtype=torch.bfloat16).view(torch.int16).numpy().tobytes()
        digest = hashlib.sha256(sample + str(tuple(w.shape)).encode()).hexdigest()[:16]
        fp = cls(spec.model_type, spec.d_model, spec.n_layers, spec.vocab_size, digest)
        model.__dict__["_steerlens_fingerprint"] = fp
        return fp

    def differences(self, other: Fingerprint) -> list[str]:
        """Human-readable list of the fields that differ."""
        names = {
            "model_type": "architecture",
            "d_model": "hidden size",
            "n_layers": "layer count",
            "vocab_size": "vocabulary size",
            "unembed_hash": "unembedding weights (hash)",
        }
        return [
            f"{names[k]}: artifact {getattr(self, k)!r} vs model {getattr(other, k)!r}"
            for k in names
            if getattr(self, k) != getattr(other, k)
        ]


@dataclass
class Artifact:
    """The contents of an artifact folder."""

    kind: str
    config: dict[str, Any]
    tensors: dict[str, torch.Tensor]
    fingerprint: Fingerprint | None
    meta: dict[str, Any] = field(default_factory=dict)


def save_artifact(
    path: str | os.PathLike[str],
    kind: str,
    tensors: dict[str, torch.Tensor],
    config: dict[str, Any] | None = None,
    *,
    model: torch.nn.Module | None = None,
    fingerprint: Fingerprint | None = None,
) -> Path:
    """Write an artifact folder (``artifact.json`` + ``tensors.safetensors``) and return its path.

    Args:
        path: Folder to create (or overwrite the artifact files in).
        kind: The artifact kind, e.g. ``"steering_vector"``; used by :func:`load`.
        tensors: Named tensors (copied to contiguous CPU tensors).
        config: JSON-serialisable settings needed to rebuild the object.
        model: The model the artifact belongs to (its fingerprint is stored), or pass ``fingerprint``.
    """
    if not isinstance(kind, str) or not kind:
        raise ArtifactFormatError("An artifact needs a non-empty kind string.")
    if model is not None and fingerprint is None:
        fingerprint = Fingerprint.of(model)
    bad = [k for k, v in tensors.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ArtifactFormatError(f"Artifact tensors must be torch tensors; {bad} are not.")
    try:
        config_json = json.loads(json.dumps(config or {}))
    except TypeError as exc:
        raise ArtifactFormatError(f"The artifact config is not JSON-serialisable: {exc}.") from exc
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "kind": kind,
        "format_version": FORMAT_VERSION,
        "steerlens_version": __version__,
        "fingerprint": asdict(fingerprint) if fingerprint else None,
        "config": config_json,
    }
    save_file(
        {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()},
        str(folder / _TENSORS),
        metadata={"kind": kind, "format_version": str(FORMAT_VERSION)},
    )
    tmp = folder / (_META + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
    os.replace(tmp, folder / _META)
    return folder


def load_artifact(
    path: str | os.PathLike[str],
    *,
    model: torch.nn.Module | None = None,
    kind: str | None = None,
    device: str | torch.device = "cpu",
) -> Artifact:
    """Read an artifact folder; check its kind and, given ``model``, that it was made for that model.

    Raises:
        ArtifactFormatError: missing files or malformed metadata.
        IncompatibleArtifactError: another kind, a newer format, or another model (says what differs).
    """
    folder = Path(path)
    meta_path = folder / _META
    if not meta_path.is_file():
        what = "does not exist" if not folder.exists() else f"has no {_META}"
        raise ArtifactFormatError(f"{folder} {what}; it is not a steerlens artifact folder.")
    try:
        meta = json.loads(meta_path.read_text())
        art_kind = meta["kind"]
        version = int(meta["format_version"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactFormatError(f"{meta_path} is malformed: {exc!r}.") from exc
    if version > FORMAT_VERSION:
        raise IncompatibleArtifactError(
            f"{folder} uses artifact format {version}, newer than this steerlens ({__version__}) reads "
            f"(format {FORMAT_VERSION}); upgrade steerlens."
        )
    if kind is not None and art_kind != kind:
        raise IncompatibleArtifactError(f"{folder} holds a {art_kind!r} artifact, not a {kind!r}.")
    fp = Fingerprint(**meta["fingerprint"]) if meta.get("fingerprint") else None
    if model is not None and fp is not None:
        diffs = fp.differences(Fingerprint.of(model))
        if diffs:
            raise IncompatibleArtifactError(
                f"{folder} was made for another model ({'; '.join(diffs)}). Load it onto the model it was made for, "
                "or recompute it for this one."
            )
    tensor_path = folder / _TENSORS
    if not tensor_path.is_file():
        raise ArtifactFormatError(f"{folder} has no {_TENSORS}.")
    tensors = load_file(str(tensor_path), device=str(device))
    return Artifact(kind=art_kind, config=meta.get("config") or {}, tensors=tensors, fingerprint=fp, meta=meta)


_LOADERS: dict[str, Callable[[Artifact, Any], Any]] = {}

#: Where the loader of each built-in kind lives. :func:`load` imports the module on first use, so
#: ``steerlens.load(dir)`` opens every kind without the caller importing anything first.
KINDS: dict[str, str] = {
    "steering_vector": "steerlens.steering.vectors",  # SteeringVector
    "activation_additions": "steerlens.steering.addition",  # ActAdd
    "concept": "steerlens.concepts.guidance",  # ConceptProbe
    "tuned_lens": "steerlens.lens.lenses",  # TunedLens
    "jacobian_lens": "steerlens.lens.jacobian",  # JacobianLens
    "lre": "steerlens.relations.lre",  # Lre
    "low_rank_lre": "steerlens.relations.lre",  # LowRankLre
    "inverted_lre": "steerlens.relations.lre",  # InvertedLre
    "relational_concepts": "steerlens.relations.lrc",  # RelationalConcepts
    "remedi_editor": "steerlens.editors.editors",  # Editor (any kind)
}


def register(kind: str) -> Callable[[Callable[[Artifact, Any], Any]], Callable[[Artifact, Any], Any]]:
    """Decorator registering ``fn(artifact, model) -> object`` as the loader of ``kind``.

    ``model`` is the model passed to :func:`load` (``None`` when none was given).
    """

    def deco(fn: Callable[[Artifact, Any], Any]) -> Callable[[Artifact, Any], Any]:
        if kind in _LOADERS and _LOADERS[kind] is not fn:
            raise ArtifactFormatError(f"Artifact kind {kind!r} is registered twice.")
        _LOADERS[kind] = fn
        return fn

    return deco


def load(path: str | os.PathLike[str], *, model: torch.nn.Module | None = None) -> Any:
    """Open any steerlens artifact folder and return its object (a ``SteeringVector``, ``ActAdd``,
    ``ConceptProbe``, ``TunedLens``, ``Lre``/``LowRankLre``/``InvertedLre``, ``RelationalConcepts`` or an
    ``Editor``), whatever its kind; given ``model``, an artifact made for another model is refused.

    Each kind's class also has ``Kind.load(dir, model=...)``, which returns the same object and
    additionally checks the kind.
    """
    art = load_artifact(path, model=model)
    if art.kind not in _LOADERS and art.kind in KINDS:
        import importlib

        importlib.import_module(KINDS[art.kind])
    loader = _LOADERS.get(art.kind)
    if loader is None:
        known = ", ".join(sorted(_LOADERS)) or "none yet"
        raise ArtifactFormatError(
            f"No loader is registered for artifact kind {art.kind!r} (known: {known}); use load_artifact() for the raw contents."
        )
    return loader(art, model)
