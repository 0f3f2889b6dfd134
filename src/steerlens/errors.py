"""Typed errors raised by steerlens.

Every error says what was wrong and what to do about it. All of them derive from
:class:`SteerlensError`, so ``except steerlens.SteerlensError`` catches anything the library
raises on purpose. Where Python already has a matching built-in category, the error also
derives from it (``ValueError``, ``KeyError``...), so generic handlers keep working.
"""

from __future__ import annotations

__all__ = [
    "SteerlensError",
    "UnknownModelError",
    "ModelNotProvisionedError",
    "ChecksumError",
    "UnsupportedArchitectureError",
    "SiteError",
    "PositionError",
    "PaddingError",
    "SpanNotFoundError",
    "ShapeError",
    "IncompatibleArtifactError",
    "ArtifactFormatError",
    "MissingExtraError",
    "SteeringError",
    "DataFormatError",
    "ConfigError",
]


class SteerlensError(Exception):
    """Base class of every error steerlens raises deliberately."""


class UnknownModelError(SteerlensError, ValueError):
    """A model name is neither an embedded model nor an existing local folder or file."""


class ModelNotProvisionedError(SteerlensError, RuntimeError):
    """An embedded model's weights package is not installed; the message names the pip command."""


class ChecksumError(SteerlensError, RuntimeError):
    """Model weights on disk do not have the checksum steerlens expects."""


class UnsupportedArchitectureError(SteerlensError, ValueError):
    """steerlens cannot locate the parts it needs in this model."""


class SiteError(SteerlensError, ValueError):
    """A site (layer and point) does not exist in the model."""


class PositionError(SteerlensError, ValueError):
    """Token positions that do not exist in the input, or a selector that cannot be resolved."""


class PaddingError(SteerlensError, ValueError):
    """A padded batch without an attention mask, or an attention mask that does not fit the input."""


class SpanNotFoundError(SteerlensError, ValueError):
    """A substring that should be located in a text does not occur in it."""


class ShapeError(SteerlensError, ValueError):
    """A tensor whose shape does not match what the operation needs (never broadcast silently)."""


class IncompatibleArtifactError(SteerlensError, ValueError):
    """An artifact was made for another model, or by an incompatible format version."""


class ArtifactFormatError(SteerlensError, ValueError):
    """An artifact folder is missing files, or its metadata is malformed."""


class MissingExtraError(SteerlensError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class SteeringError(SteerlensError, ValueError):
    """An invalid steering request: a bad coefficient, an empty prompt, an impossible alignment."""


class DataFormatError(SteerlensError, ValueError):
    """A data file (pairs, labelled examples, prompts) with a missing field or a malformed line; says which line."""


class ConfigError(SteerlensError, ValueError):
    """An option has a value the function does not accept (the message lists the accepted ones)."""
