"""steerlens: read and write the representations inside transformer language models.

Start with :func:`load_model`, then read activations with :func:`capture` and write them with
:func:`intervene`. See the README for the quick start.
"""

from ._version import __version__
from .artifacts import Fingerprint, load
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .loading import DEFAULT_MODEL, EMBEDDED_MODELS, load_model, provision
from .model import (
    Activations,
    Add,
    Conditional,
    Edit,
    From,
    ModelSpec,
    Monitor,
    ProjectOut,
    Replace,
    Site,
    Spans,
    Tokens,
    Transform,
    answer_span,
    capture,
    generate,
    intervene,
    resolve,
    token_span,
)

__all__ = [
    "__version__",
    "load_model",
    "provision",
    "DEFAULT_MODEL",
    "EMBEDDED_MODELS",
    "Site",
    "ModelSpec",
    "resolve",
    "capture",
    "Activations",
    "intervene",
    "Edit",
    "Add",
    "Replace",
    "ProjectOut",
    "Transform",
    "Monitor",
    "Conditional",
    "Tokens",
    "From",
    "Spans",
    "generate",
    "token_span",
    "answer_span",
    "load",
    "Fingerprint",
    *_errors_all,
]
