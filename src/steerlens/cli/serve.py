"""``steerlens serve``: the steering server and its browser workbench."""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["add_parsers", "run_serve"]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``serve``."""
    from .common import add_command, add_model

    p = add_command(
        sub,
        "serve",
        "serve:run_serve",
        "serve a model with per-request steering (OpenAI-style API) and the browser workbench",
        "Start an HTTP server with OpenAI-compatible /v1/completions and /v1/chat/completions (streaming with "
        "\"stream\": true), a 'steering' field per request, artifact, lens and capture endpoints, and the workbench "
        "at http://HOST:PORT/. Concurrent requests with different steering are batched together.",
    )
    add_model(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (anything but localhost needs --api-key)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free port, printed at start)")
    p.add_argument(
        "--artifacts", default=None, help="folder of the server's artifact library (default: in the steerlens cache, per model)"
    )
    p.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY' on /v1/ (default: $STEERLENS_API_KEY)")
    from ..serve.app import ServeConfig

    d = ServeConfig()
    p.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens, help="largest max_tokens a request may ask for")
    p.add_argument("--max-prompt-tokens", type=int, default=d.max_prompt_tokens, help="longest prompt accepted, in tokens")
    p.add_argument("--max-batch-size", type=int, default=d.max_batch_size, help="requests generated together in one batch")
    p.add_argument(
        "--batch-window-ms", type=float, default=d.batch_window_ms, help="how long a batch waits for more requests to join"
    )
    p.add_argument("--max-queue", type=int, default=d.max_queue, help="requests that may wait; more get 503")
    p.add_argument("--max-body-bytes", type=int, default=d.max_body_bytes, help="largest request body accepted")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")


def run_serve(args: argparse.Namespace) -> int:
    """``steerlens serve``."""
    import socket

    import torch

    from ..artifacts import Fingerprint
    from ..errors import ConfigError, MissingExtraError
    from ..loading import load_model, steerlens_home
    from ..serve.app import ServeConfig, create_app

    try:
        import uvicorn
    except ImportError:
        raise MissingExtraError("steerlens serve needs uvicorn and starlette: pip install 'steerlens[serve]'.") from None
    api_key = args.api_key or os.environ.get("STEERLENS_API_KEY") or None
    local = args.host in ("127.0.0.1", "localhost", "::1")
    if not local and not api_key:
        raise ConfigError(
            f"Binding to {args.host} would expose the model to the network without a key: pass --api-key KEY "
            "(or set STEERLENS_API_KEY), or bind to 127.0.0.1."
        )
    for name in ("max_new_tokens", "max_prompt_tokens", "max_batch_size", "max_queue", "max_body_bytes"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}.")
    if args.threads:
        torch.set_num_threads(args.threads)
    model, tokenizer = load_model(args.model)
    name = os.path.basename(os.path.normpath(str(args.model)))
    artifacts = args.artifacts or steerlens_home() / "serve" / f"{name}-{Fingerprint.of(model).unembed_hash}"
    cfg = ServeConfig(
        model_name=name,
        max_new_tokens=args.max_new_tokens,
        max_prompt_tokens=args.max_prompt_tokens,
        max_batch_size=args.max_batch_size,
        batch_window_ms=args.batch_window_ms,
        max_queue=args.max_queue,
        max_body_bytes=args.max_body_bytes,
        api_key=api_key,
    )
    app = create_app(model, tokenizer, cfg, artifacts=artifacts)
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    print(
        f"steerlens serve: {name} on http://{args.host}:{port}/ (workbench), API at http://{args.host}:{port}/v1/",
        file=sys.stderr,
    )
    print(f"steerlens serve: artifacts in {artifacts}", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
    server.run(sockets=[sock])
    return 0
