"""REMEDI editors: maps from an attribute's (and optionally the entity's) state to an edit direction.

Every editor is a module ``forward(entity [b, d], attribute [b, d]) -> direction [b, d]`` tied to one
layer. The direction is added to the entity's last token at that layer (``h <- h + strength * d``).

========== ================================================================ ===========
kind       direction                                                        trainable
========== ================================================================ ===========
linear     ``W h_a + b`` (``rank`` r: ``B (A h_a + a) + b``; ``use_entity``: reads [h_e; h_a])  yes
biaffine   ``W_e h_e + W_a h_a + b``                                         yes
mlp        ``W2 LeakyReLU(W1 x + b1) + b2``, x = h_a (or [h_e; h_a])         yes
scalar     ``(w . h_a + c) h_a``                                             yes
identity   ``h_a`` (REMEDI (I))                                              no
null       ``0``                                                             no
random     a Gaussian sample with the mean and covariance of in-context      fitted
           entity changes (see :func:`~steerlens.editors.train.fit_random_editor`)
========== ================================================================ ===========

Trainable editors start as the null edit (their last layer is zero), so training starts from the
unedited model. They standardise their inputs per dimension and scale their output by the
attribute states' per-dimension spread (:meth:`Editor.fit_scales`, called by ``train_editor``), so one
learning rate works whatever the residual stream's scale; ``standardize=False`` in ``train_editor``
keeps REMEDI's raw inputs. Save and load with :meth:`Editor.save` / :meth:`Editor.load` (a steerlens artifact with
the model's fingerprint and the layer).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, cast

import torch
from torch import nn

from ..artifacts import Artifact, load_artifact, register, save_artifact
from ..errors import IncompatibleArtifactError, ShapeError
from ..model import resolve

__all__ = [
    "Editor",
    "LinearEditor",
    "BiaffineEditor",
    "MlpEditor",
    "ScalarEditor",
    "IdentityEditor",
    "NullEditor",
    "RandomEditor",
    "EDITOR_KINDS",
    "make_editor",
    "shipped_editor",
]

ARTIFACT_KIND = "remedi_editor"


class Editor(nn.Module):
    """Base class: an editor for one layer of a model with hidden size ``d_model``.

    Attributes:
        layer: The layer whose output (``resid_post``) is read and edited.
        input_last_entity_token: Read the entity's last token (else the mean over its tokens).
        edit_last_entity_token: Edit the entity's last token in the prompt (else all its tokens).
    """

    kind: ClassVar[str] = ""
    trainable: ClassVar[bool] = True
    # buffers registered by _add_scales (only on editors that call it)
    attribute_shift: torch.Tensor
    attribute_scale: torch.Tensor
    entity_shift: torch.Tensor
    entity_scale: torch.Tensor
    output_scale: torch.Tensor

    def __init__(
        self, d_model: int, layer: int, *, input_last_entity_token: bool = True, edit_last_entity_token: bool = True
    ) -> None:
        super().__init__()
        if d_model < 1 or layer < 0:
            raise ShapeError(f"An editor needs d_model >= 1 and a non-negative layer, got {d_model} and {layer}.")
        self.d_model = int(d_model)
        self.layer = int(layer)
        self.input_last_entity_token = bool(input_last_entity_token)
        self.edit_last_entity_token = bool(edit_last_entity_token)

    def options(self) -> dict[str, Any]:
        """Constructor options beyond the common ones (for saving)."""
        return {}

    def _add_scales(self) -> None:
        # input standardisation and output scale, per dimension (identity until fit_scales is called)
        d = self.d_model
        self.register_buffer("attribute_shift", torch.zeros(d))
        self.register_buffer("attribute_scale", torch.ones(d))
        self.register_buffer("entity_shift", torch.zeros(d))
        self.register_buffer("entity_scale", torch.ones(d))
        self.register_buffer("output_scale", torch.ones(d))

    @torch.no_grad()
    def fit_scales(self, entity: torch.Tensor, attribute: torch.Tensor) -> None:
        """Standardise inputs per dimension (mean, std of these states) and scale outputs by the attribute
        states' per-dimension std, so that one learning rate suits any residual-stream scale.

        (REMEDI feeds raw states; on models with large residual norms, such as Gemma's ~1000 at early
        layers, AdamW's first steps then throw the direction far off. The map stays affine.)
        """
        if not hasattr(self, "output_scale"):
            return
        for name, x in (("attribute", attribute), ("entity", entity)):
            x = x.float()
            getattr(self, f"{name}_shift").copy_(x.mean(0))
            getattr(self, f"{name}_scale").copy_(x.std(0).clamp(min=1e-6) if len(x) > 1 else torch.ones_like(x[0]))
        self.output_scale.copy_(self.attribute_scale)

    def _standardize(self, entity: torch.Tensor, attribute: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return ((entity - self.entity_shift) / self.entity_scale, (attribute - self.attribute_shift) / self.attribute_scale)

    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild the editor (JSON-friendly)."""
        return {
            "kind": self.kind,
            "d_model": self.d_model,
            "layer": self.layer,
            "input_last_entity_token": self.input_last_entity_token,
            "edit_last_entity_token": self.edit_last_entity_token,
            **self.options(),
        }

    def save(
        self, path: str | os.PathLike[str], model: torch.nn.Module | None = None, history: dict[str, Any] | None = None
    ) -> Path:
        """Save as a steerlens artifact (kind ``"editor"``), with ``model``'s fingerprint if given and any training
        ``history`` (JSON) alongside."""
        tensors = {k: v.detach().float() for k, v in self.state_dict().items()}
        cfg = self.config()
        if history is not None:
            cfg["history"] = history
        return save_artifact(path, ARTIFACT_KIND, tensors, cfg, model=model)

    @classmethod
    def load(cls, path: str | os.PathLike[str], model: torch.nn.Module | None = None, *, layer: int | None = None) -> Editor:
        """Load an editor saved with :meth:`save` (of whatever kind it is); ``steerlens.load`` does the same.

        Raises:
            IncompatibleArtifactError: the editor was made for another model, or for another layer than
                ``layer`` (when given).
        """
        art = load_artifact(path, model=model, kind=ARTIFACT_KIND)
        ed = _load(art, model)
        if layer is not None and model is not None:
            layer = layer % resolve(model).n_layers
        if layer is not None and ed.layer != layer:
            raise IncompatibleArtifactError(f"{path} holds an editor for layer {ed.layer}, not layer {layer}.")
        if not isinstance(ed, cls):
            raise IncompatibleArtifactError(f"{path} holds a {type(ed).__name__}, not a {cls.__name__}.")
        return ed

    def _check(self, entity: torch.Tensor, attribute: torch.Tensor) -> None:
        for name, x in (("entity", entity), ("attribute", attribute)):
            if x.dim() != 2 or x.shape[-1] != self.d_model:
                raise ShapeError(f"{type(self).__name__}: {name} states must be [batch, {self.d_model}], got {tuple(x.shape)}.")
        if entity.shape[0] != attribute.shape[0]:
            raise ShapeError(f"{entity.shape[0]} entity states but {attribute.shape[0]} attribute states.")

    def forward(self, entity: torch.Tensor, attribute: torch.Tensor) -> torch.Tensor:  # noqa: D102
        self._check(entity, attribute)
        p = next(iter(self.parameters()), None)
        dtype = p.dtype if p is not None else torch.float32
        return self.direction(entity.to(dtype), attribute.to(dtype))

    def direction(self, entity: torch.Tensor, attribute: torch.Tensor) -> torch.Tensor:
        """The edit direction ``[b, d]`` (inputs already checked)."""
        raise NotImplementedError

    def extra_repr(self) -> str:  # noqa: D102
        return f"layer={self.layer}, d_model={self.d_model}"


class LinearEditor(Editor):
    """``d = W h_a + b`` (the default REMEDI editor); optional rank and entity input."""

    kind = "linear"
    w: nn.Linear | nn.Sequential

    def __init__(self, d_model: int, layer: int, *, rank: int | None = None, use_entity: bool = False, **kw: Any) -> None:
        super().__init__(d_model, layer, **kw)
        if rank is not None and not 1 <= rank <= d_model:
            raise ShapeError(f"rank must be between 1 and d_model={d_model}, got {rank}.")
        self.rank = rank
        self.use_entity = bool(use_entity)
        self._add_scales()
        n_in = 2 * d_model if use_entity else d_model
        if rank is None:
            self.w = nn.Linear(n_in, d_model)
            nn.init.zeros_(self.w.weight)
            nn.init.zeros_(self.w.bias)
        else:
            self.w = nn.Sequential(nn.Linear(n_in, rank), nn.Linear(rank, d_model))
            last = cast(nn.Linear, self.w[1])
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def options(self) -> dict[str, Any]:  # noqa: D102
        return {"rank": self.rank, "use_entity": self.use_entity}

    def direction(self, entity, attribute):  # noqa: D102
        entity, attribute = self._standardize(entity, attribute)
        x = torch.cat([entity, attribute], -1) if self.use_entity else attribute
        return self.w(x) * self.output_scale


class BiaffineEditor(Editor):
    """``d = W_e h_e + W_a h_a + b``."""

    kind = "biaffine"

    def __init__(self, d_model: int, layer: int, **kw: Any) -> None:
        super().__init__(d_model, layer, **kw)
        self._add_scales()
        self.w_entity = nn.Linear(d_model, d_model, bias=False)
        self.w_attribute = nn.Linear(d_model, d_model)
        for m in (self.w_entity, self.w_attribute):
            nn.init.zeros_(m.weight)
        nn.init.zeros_(self.w_attribute.bias)

    def direction(self, entity, attribute):  # noqa: D102
        entity, attribute = self._standardize(entity, attribute)
        return (self.w_entity(entity) + self.w_attribute(attribute)) * self.output_scale


class MlpEditor(Editor):
    """``d = W2 LeakyReLU(W1 x + b1) + b2`` with ``x = h_a`` (or ``[h_e; h_a]``)."""

    kind = "mlp"

    def __init__(self, d_model: int, layer: int, *, hidden: int | None = None, use_entity: bool = False, **kw: Any) -> None:
        super().__init__(d_model, layer, **kw)
        self._add_scales()
        self.hidden = int(hidden or d_model)
        self.use_entity = bool(use_entity)
        self.net = nn.Sequential(
            nn.Linear(2 * d_model if use_entity else d_model, self.hidden), nn.LeakyReLU(), nn.Linear(self.hidden, d_model)
        )
        last = cast(nn.Linear, self.net[2])
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def options(self) -> dict[str, Any]:  # noqa: D102
        return {"hidden": self.hidden, "use_entity": self.use_entity}

    def direction(self, entity, attribute):  # noqa: D102
        entity, attribute = self._standardize(entity, attribute)
        return self.net(torch.cat([entity, attribute], -1) if self.use_entity else attribute) * self.output_scale


class ScalarEditor(Editor):
    """``d = (w . h_a + c) h_a``: the attribute state, rescaled."""

    kind = "scalar"

    def __init__(self, d_model: int, layer: int, **kw: Any) -> None:
        super().__init__(d_model, layer, **kw)
        self._add_scales()
        self.w = nn.Linear(d_model, 1)
        nn.init.zeros_(self.w.weight)
        nn.init.zeros_(self.w.bias)

    def direction(self, entity, attribute):  # noqa: D102
        return self.w(self._standardize(entity, attribute)[1]) * attribute


class IdentityEditor(Editor):
    """``d = h_a`` (the paper's REMEDI (I) control)."""

    kind = "identity"
    trainable = False

    def direction(self, entity, attribute):  # noqa: D102
        return attribute.float()


class NullEditor(Editor):
    """``d = 0``: the unedited model, through the same code path."""

    kind = "null"
    trainable = False

    def direction(self, entity, attribute):  # noqa: D102
        return torch.zeros_like(attribute, dtype=torch.float32)


class RandomEditor(Editor):
    """A Gaussian direction with a fitted mean and covariance, independent of the inputs (a control).

    ``mean`` and ``scale`` (a ``[d, k]`` factor, ``cov = scale @ scale.T``) are fitted on in-context
    entity changes by :func:`~steerlens.editors.train.fit_random_editor`. Sampling is seeded per call
    by the hash of the inputs' shapes and ``seed``, so the same batch gets the same directions.
    """

    kind = "random"
    trainable = False
    # buffers registered in __init__
    mean: torch.Tensor
    scale: torch.Tensor

    def __init__(self, d_model: int, layer: int, *, rank: int | None = None, seed: int = 0, **kw: Any) -> None:
        super().__init__(d_model, layer, **kw)
        self.seed = int(seed)
        k = int(rank or d_model)
        self.register_buffer("mean", torch.zeros(d_model))
        self.register_buffer("scale", torch.zeros(d_model, k))

    def options(self) -> dict[str, Any]:  # noqa: D102
        return {"rank": self.scale.shape[1], "seed": self.seed}

    def direction(self, entity, attribute):  # noqa: D102
        g = torch.Generator().manual_seed(self.seed + attribute.shape[0])
        z = torch.randn(attribute.shape[0], self.scale.shape[1], generator=g)
        return (self.mean + z @ self.scale.T).to(attribute.device)


EDITOR_KINDS: dict[str, type[Editor]] = {
    c.kind: c for c in (LinearEditor, BiaffineEditor, MlpEditor, ScalarEditor, IdentityEditor, NullEditor, RandomEditor)
}


def make_editor(kind: str, model_or_d: torch.nn.Module | int, layer: int, **options: Any) -> Editor:
    """Build an editor of ``kind`` for a model (or a hidden size) at ``layer`` (negative counts from the end).

    Raises:
        ShapeError: unknown kind or a layer the model does not have.
    """
    if kind not in EDITOR_KINDS:
        raise ShapeError(f"Unknown editor kind {kind!r}; choose one of {', '.join(EDITOR_KINDS)}.")
    if isinstance(model_or_d, int):
        d = model_or_d
    else:
        spec = resolve(model_or_d)
        d = spec.d_model
        if not -spec.n_layers <= layer < spec.n_layers:
            raise ShapeError(f"Layer {layer} does not exist; the model has layers 0..{spec.n_layers - 1}.")
        layer = layer % spec.n_layers
    return EDITOR_KINDS[kind](d, layer, **options)


#: Editors trained by ``scripts/train_tour_editor.py`` and shipped in the wheel, one folder per embedded model.
SHIPPED_EDITORS = Path(__file__).resolve().parent.parent / "data" / "editors"


def shipped_editor(model_name: str) -> Path | None:
    """The folder of the editor shipped for an embedded model (e.g. ``"gemma-3-270m"``), or ``None``.

    It was trained on the ``train`` part of ``split_samples(counterfact_from_relations(seed=0), seed=0)``, so the
    ``test`` part of that split holds facts it never saw.
    """
    folder = SHIPPED_EDITORS / model_name
    return folder if (folder / "artifact.json").is_file() else None


@register(ARTIFACT_KIND)
def _load(art: Artifact, model: Any) -> Editor:
    cfg = dict(art.config)
    cfg.pop("history", None)
    kind, d, layer = cfg.pop("kind"), cfg.pop("d_model"), cfg.pop("layer")
    if kind not in EDITOR_KINDS:
        raise IncompatibleArtifactError(f"Unknown editor kind {kind!r} in the artifact.")
    if model is not None:
        spec = resolve(model)
        if spec.d_model != d or layer >= spec.n_layers:
            raise IncompatibleArtifactError(
                f"The editor is for hidden size {d}, layer {layer}; this model has hidden size {spec.d_model} and "
                f"{spec.n_layers} layers."
            )
    ed = EDITOR_KINDS[kind](d, layer, **cfg)
    ed.load_state_dict(art.tensors)
    if model is not None:
        ed.to(next(model.parameters()).device)
    return ed.eval()
