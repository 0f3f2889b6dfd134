"""``steerlens serve``: a steering server with OpenAI-style endpoints and a browser workbench.

Concurrent requests with different steering share one batch (each request's edits act on its own row
only), stream their tokens as server-sent events, and are cancelled when their client goes away.
Needs the ``serve`` extra (``pip install 'steerlens[serve]'``): Starlette and uvicorn.
"""

from __future__ import annotations

from .app import ServeConfig, create_app
from .engine import Engine, EngineBusy, Job, Sampling
from .specs import ArtifactLibrary, RequestError, build_edits

__all__ = [
    "ServeConfig",
    "create_app",
    "Engine",
    "EngineBusy",
    "Job",
    "Sampling",
    "ArtifactLibrary",
    "RequestError",
    "build_edits",
]
