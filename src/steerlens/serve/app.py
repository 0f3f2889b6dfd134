"""The HTTP side of ``steerlens serve``: an ASGI app (Starlette) with OpenAI-style endpoints and the workbench.

Endpoints (JSON in, JSON out; errors are ``{"error": {"message", "type", "code"}}`` with a 4xx status):

* ``GET /v1/models``; ``POST /v1/completions`` and ``POST /v1/chat/completions`` (``"stream": true`` for
  server-sent events), each with an optional ``steering`` list (see :mod:`steerlens.serve.specs`) and
  ``metric`` (``"sentiment"`` or the name of a concept / steering-vector artifact: a reading per token);
* ``GET /v1/artifacts``, ``GET|PUT|DELETE /v1/artifacts/{name}`` (upload: ``{"artifact": <artifact.json>,
  "tensors": <base64 of tensors.safetensors>}``, refused for another model);
* ``POST /v1/lens`` (a logit- or tuned-lens trajectory) and ``POST /v1/capture`` (residuals at sites);
* ``GET /health``, ``GET /v1/info``; the workbench at ``/`` (every asset served from the package).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from ..errors import SteerlensError
from .engine import Engine, EngineBusy, Job, Sampling, random_seed
from .specs import ArtifactLibrary, RequestError, parse_site_list, plan_edits

__all__ = ["ServeConfig", "create_app"]

LENS_KINDS = ("tuned_lens", "jacobian_lens")


@dataclass(frozen=True)
class ServeConfig:
    """Limits and settings of a server (each is a ``steerlens serve`` option)."""

    model_name: str = "steerlens"
    max_new_tokens: int = 512
    max_prompt_tokens: int = 2048
    max_batch_size: int = 16
    batch_window_ms: float = 20.0
    max_queue: int = 256
    max_body_bytes: int = 16 * 1024 * 1024
    max_capture_values: int = 4_000_000
    max_lens_tokens: int = 256
    api_key: str | None = None


def _error(status: int, message: str, code: str) -> Any:
    from starlette.responses import JSONResponse

    kind = "invalid_request_error" if status < 500 else "server_error"
    if status == 401:
        kind = "authentication_error"
    return JSONResponse({"error": {"message": message, "type": kind, "code": code}}, status_code=status)


class _Limits:
    """ASGI middleware: the body-size limit and the API key (on ``/v1/`` routes)."""

    def __init__(self, app: Any, max_body: int, api_key: str | None) -> None:
        self.app = app
        self.max_body = max_body
        self.api_key = api_key

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.api_key and scope["path"].startswith("/v1/"):
            given = headers.get("authorization", "")
            token = given[7:] if given.lower().startswith("bearer ") else headers.get("x-api-key", "")
            if not hmac.compare_digest(token.encode(), self.api_key.encode()):
                resp = _error(401, "Missing or wrong API key: send 'Authorization: Bearer <key>'.", "bad_api_key")
                await resp(scope, receive, send)
                return
        length = headers.get("content-length")
        too_big = _error(413, f"The request body is larger than the server's limit of {self.max_body} bytes.", "too_large")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await too_big(scope, receive, send)
            return
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await too_big(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


def create_app(
    model: torch.nn.Module, tokenizer: Any, config: ServeConfig | None = None, artifacts: str | Path | None = None
) -> Any:
    """The ASGI app serving ``model`` (run it with uvicorn, or use ``steerlens serve``)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from ..artifacts import Fingerprint
    from ..model.architectures import resolve
    from ..model.tokens import encode

    cfg = config or ServeConfig()
    spec = resolve(model)
    engine = Engine(
        model, tokenizer, max_batch_size=cfg.max_batch_size, batch_window=cfg.batch_window_ms / 1000, max_queue=cfg.max_queue
    )
    library = ArtifactLibrary(artifacts, model)
    fingerprint = Fingerprint.of(model)
    started = int(time.time())

    def locked(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with engine.lock, torch.no_grad():
            return fn(*args, **kwargs)

    async def body_of(request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = json.loads(raw or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RequestError(400, f"The request body is not valid JSON ({e}).", "bad_json") from None
        if not isinstance(body, dict):
            raise RequestError(400, "The request body must be a JSON object.", "bad_json")
        return body

    # -- request fields --------------------------------------------------------------------------------
    def number(body: dict, key: str, default: Any, lo: float, hi: float, integer: bool = False) -> Any:
        v = body.get(key, default)
        if v is None:
            return default
        ok = isinstance(v, int) if integer else isinstance(v, (int, float))
        if isinstance(v, bool) or not ok or not (lo <= v <= hi):
            kind = "an integer" if integer else "a number"
            raise RequestError(400, f"'{key}' must be {kind} in [{lo:g}, {hi:g}], got {v!r}.", f"bad_{key}")
        return v

    def check_prompt(ids: list[int]) -> list[int]:
        if not ids:
            raise RequestError(400, "The prompt encodes to no tokens.", "empty_prompt")
        if len(ids) > cfg.max_prompt_tokens:
            raise RequestError(
                400, f"The prompt is {len(ids)} tokens; this server takes at most {cfg.max_prompt_tokens}.", "too_many_tokens"
            )
        bad = [t for t in ids if not 0 <= t < spec.vocab_size]
        if bad:
            raise RequestError(400, f"Token id {bad[0]} is outside the vocabulary (0..{spec.vocab_size - 1}).", "bad_token")
        return ids

    def prompts_of(body: dict) -> list[list[int]]:
        prompt = body.get("prompt")
        if isinstance(prompt, str):
            return encode(tokenizer, [prompt])
        if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
            if len(prompt) > cfg.max_batch_size:
                raise RequestError(
                    400, f"{len(prompt)} prompts; this server takes at most {cfg.max_batch_size} per request.", "too_many_prompts"
                )
            return encode(tokenizer, prompt)
        if isinstance(prompt, list) and prompt and all(isinstance(p, int) and not isinstance(p, bool) for p in prompt):
            return [list(prompt)]
        raise RequestError(400, "'prompt' must be a string, a list of strings, or a list of token ids.", "bad_prompt")

    def chat_prompt(body: dict) -> list[list[int]]:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError(400, "'messages' must be a non-empty list of {'role', 'content'} objects.", "bad_messages")
        for m in messages:
            if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                raise RequestError(400, "Each message must be an object with string 'role' and 'content'.", "bad_messages")
        if not getattr(tokenizer, "chat_template", None):
            raise RequestError(400, "This model's tokenizer has no chat template; use /v1/completions.", "no_chat_template")
        try:
            text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        except Exception as e:  # noqa: BLE001 - the template's own complaint (e.g. roles out of order)
            raise RequestError(400, f"The chat template refused these messages: {e}", "bad_messages") from None
        return encode(tokenizer, [text], add_special_tokens=False)

    def metric_of(body: dict) -> tuple[list[Any], Callable[[list[str]], list[float]] | None, str | None]:
        from ..concepts.guidance import ConceptProbe
        from ..model.monitor import Monitor
        from ..steering.metrics import sentiment
        from ..steering.vectors import SteeringVector

        name = body.get("metric")
        if name is None:
            return [], None, None
        if name == "sentiment":

            def running(pieces: list[str]) -> list[float]:
                return sentiment(["".join(pieces[: k + 1]) for k in range(len(pieces))]) if pieces else []

            return [], running, None
        if not isinstance(name, str):
            raise RequestError(
                400, "'metric' must be 'sentiment' or the name of a concept or steering-vector artifact.", "bad_metric"
            )
        obj = library.get(name)
        if isinstance(obj, ConceptProbe):
            m = obj.monitor(name=f"metric:{name}")
        elif isinstance(obj, SteeringVector):
            site = obj.sites[len(obj.sites) // 2]
            m = Monitor.projection(site, obj.directions[site.layer], cosine=True, name=f"metric:{name}")
        else:
            raise RequestError(
                400, f"'metric': {name!r} is a {library.kind(name)}; use a concept or steering vector.", "bad_metric"
            )
        return [m], None, m.key

    # -- generation ------------------------------------------------------------------------------------
    async def run_generation(request: Request, chat: bool) -> Any:
        body = await body_of(request)
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise RequestError(400, "'stream' must be true or false.", "bad_stream")
        if body.get("n", 1) != 1:
            raise RequestError(400, "'n' must be 1: send one request per completion (they are batched together anyway).", "bad_n")
        max_tokens = number(body, "max_tokens", 16, 1, cfg.max_new_tokens, integer=True)
        if chat and body.get("max_completion_tokens") is not None:
            max_tokens = number(body, "max_completion_tokens", 16, 1, cfg.max_new_tokens, integer=True)
        temperature = float(number(body, "temperature", 1.0, 0.0, 100.0))
        top_p = number(body, "top_p", None, 0.0, 1.0)
        top_k = number(body, "top_k", None, 1, spec.vocab_size, integer=True)
        seed = number(body, "seed", None, 0, 2**63 - 1, integer=True)
        seed = random_seed() if seed is None else seed
        stop = body.get("stop")
        stops = [stop] if isinstance(stop, str) else stop if stop is not None else []
        if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops) or len(stops) > 8:
            raise RequestError(400, "'stop' must be a non-empty string or a list of at most 8 of them.", "bad_stop")
        for key in ("logprobs", "echo", "best_of", "suffix", "tools", "functions"):
            if body.get(key) not in (None, False, 0, 1) or (key in ("tools", "functions", "suffix") and body.get(key)):
                raise RequestError(400, f"'{key}' is not supported by steerlens serve.", "unsupported")
        for key in ("frequency_penalty", "presence_penalty"):
            if body.get(key) not in (None, 0, 0.0):
                raise RequestError(400, f"'{key}' is not supported by steerlens serve (use 0).", "unsupported")
        model_name = body.get("model", cfg.model_name)
        rows = chat_prompt(body) if chat else prompts_of(body)
        rows = [check_prompt(r) for r in rows]
        monitors, metric_fn, metric_key = metric_of(body)
        plan = plan_edits(body.get("steering"), model, tokenizer, library)
        short = [len(r) for r in rows if len(r) < plan.min_prompt_tokens]
        if short:
            raise RequestError(
                400,
                f"An ActAdd steering prompt is {plan.min_prompt_tokens} tokens, but the prompt is only {short[0]}: the pair is "
                "added position by position from the start of the prompt, so use a longer prompt or a shorter pair.",
                "prompt_too_short",
            )
        # ActAdd pairs are built when the batch starts, in the engine's thread: building them here would wait for
        # the running batch to finish, and the requests that arrive together would not share the next one
        deferred = any(callable(part) for part in plan.parts)
        edits = [] if deferred else plan.build()
        prepare = plan.build if deferred else None
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue()
        jobs = []
        for i, ids in enumerate(rows):

            def sink(event: dict[str, Any], i: int = i) -> None:
                loop.call_soon_threadsafe(events.put_nowait, (i, event))

            sampling = Sampling(temperature, top_p, top_k, seed + i)
            jobs.append(Job(ids, max_tokens, sink, edits, prepare, sampling, stops, monitors, metric_fn))
        try:
            for job in jobs:
                engine.submit(job)
        except EngineBusy as e:
            for job in jobs:
                job.cancel()
            raise RequestError(503, f"The server is busy: {e} Try again shortly.", "busy") from None
        rid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        created = int(time.time())
        obj = "chat.completion" if chat else "text_completion"

        def extras(done: dict[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {"tokens": done.get("token_texts", []), "token_ids": done.get("tokens", []), "seed": seed}
            if metric_fn is not None:
                out["metric"] = done.get("metric")
            elif metric_key is not None:
                out["metric"] = done.get("readings", {}).get(metric_key)
            return out

        if stream:

            def chunk(i: int, finish: str | None, delta: dict[str, Any], text: str, **more: Any) -> str:
                piece: dict[str, Any] = {"index": i, "finish_reason": finish}
                piece.update({"delta": delta} if chat else {"text": text, "logprobs": None})
                kind = "chat.completion.chunk" if chat else obj
                return _sse({"id": rid, "object": kind, "created": created, "model": model_name, "choices": [piece], **more})

            async def sse() -> AsyncIterator[str]:
                pending = len(jobs)
                try:
                    if chat:
                        for i in range(len(jobs)):
                            yield chunk(i, None, {"role": "assistant", "content": ""}, "")
                    while pending:
                        i, ev = await events.get()
                        if ev["type"] == "error":
                            pending -= 1
                            yield _sse({"error": {"message": ev["message"], "type": "server_error", "code": "generation_failed"}})
                        elif ev["type"] == "delta":
                            yield chunk(i, None, {"content": ev["text"]}, ev["text"])
                        else:
                            pending -= 1
                            usage = {"prompt_tokens": len(rows[i]), "completion_tokens": len(ev.get("tokens", []))}
                            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
                            yield chunk(i, ev["finish_reason"], {}, "", usage=usage, steerlens=extras(ev))
                    yield "data: [DONE]\n\n"
                finally:
                    for job in jobs:  # a client that went away cancels its rows at the next step
                        job.cancel()

            return StreamingResponse(
                sse(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
            )

        results: dict[int, dict[str, Any]] = {}

        async def watch() -> None:
            # the body is read: the next message from the client's side can only be its disconnect
            while (await request.receive())["type"] != "http.disconnect":
                pass
            for job in jobs:
                job.cancel()

        watcher = asyncio.ensure_future(watch())
        try:
            while len(results) < len(jobs):
                getter = asyncio.ensure_future(events.get())
                await asyncio.wait([getter, watcher], return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    return Response(status_code=499)  # the client went away; its rows stop at the next step
                i, ev = getter.result()
                if ev["type"] == "error":
                    raise RequestError(ev.get("status", 500), f"Generation failed: {ev['message']}", "generation_failed")
                if ev["type"] == "done":
                    results[i] = ev
        finally:
            watcher.cancel()
            for job in jobs:
                job.cancel()
        choices = []
        for i in range(len(jobs)):
            ev = results[i]
            if chat:
                choice = {
                    "index": i,
                    "message": {"role": "assistant", "content": ev["text"]},
                    "finish_reason": ev["finish_reason"],
                }
            else:
                choice = {"index": i, "text": ev["text"], "logprobs": None, "finish_reason": ev["finish_reason"]}
            choice["steerlens"] = extras(ev)
            choices.append(choice)
        completion = sum(len(results[i].get("tokens", [])) for i in results)
        prompt_tokens = sum(len(r) for r in rows)
        return JSONResponse(
            {
                "id": rid,
                "object": obj,
                "created": created,
                "model": model_name,
                "choices": choices,
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion,
                    "total_tokens": prompt_tokens + completion,
                },
            }
        )

    async def completions(request: Request) -> Any:
        return await run_generation(request, chat=False)

    async def chat_completions(request: Request) -> Any:
        return await run_generation(request, chat=True)

    # -- the rest ---------------------------------------------------------------------------------------
    def info() -> dict[str, Any]:
        lenses = ["logit", *[n for n in library.names() if library.kind(n) in LENS_KINDS]]
        return {
            "model": cfg.model_name,
            "model_type": spec.model_type,
            "n_layers": spec.n_layers,
            "d_model": spec.d_model,
            "vocab_size": spec.vocab_size,
            "fingerprint": fingerprint.unembed_hash,
            "lenses": lenses,
            "artifacts": [library.describe(n) for n in library.names()],
            "chat": bool(getattr(tokenizer, "chat_template", None)),
            "limits": {
                "max_new_tokens": cfg.max_new_tokens,
                "max_prompt_tokens": cfg.max_prompt_tokens,
                "max_batch_size": engine.max_batch_size,
                "max_lens_tokens": cfg.max_lens_tokens,
                "max_capture_values": cfg.max_capture_values,
            },
        }

    async def models(request: Request) -> Any:
        entry = {"id": cfg.model_name, "object": "model", "created": started, "owned_by": "steerlens", "steerlens": info()}
        return JSONResponse({"object": "list", "data": [entry]})

    async def info_route(request: Request) -> Any:
        return JSONResponse(info())

    async def health(request: Request) -> Any:
        return JSONResponse(
            {"status": "ok", "model": cfg.model_name, "waiting": engine.waiting, "busy": engine.busy, **engine.stats}
        )

    async def list_artifacts(request: Request) -> Any:
        return JSONResponse({"data": [library.describe(n) for n in library.names()], "skipped": library.skipped})

    async def artifact(request: Request) -> Any:
        name = request.path_params["name"]
        if request.method == "GET":
            return JSONResponse(library.describe(name))
        if request.method == "DELETE":
            library.delete(name)
            return Response(status_code=204)
        body = await body_of(request)
        unknown = sorted(set(body) - {"artifact", "tensors"})
        if unknown:
            raise RequestError(400, f"Unknown field(s) {unknown}: send {{'artifact': ..., 'tensors': ...}}.", "bad_artifact")
        described = await run_in_threadpool(library.add, name, body.get("artifact"), body.get("tensors"))
        return JSONResponse(described, status_code=201)

    async def lens(request: Request) -> Any:
        from ..lens.trajectory import prediction_trajectory

        body = await body_of(request)
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise RequestError(400, "'prompt' must be a non-empty string.", "bad_prompt")
        top_k = number(body, "top_k", 5, 1, 20, integer=True)
        n = len(encode(tokenizer, [prompt])[0])
        if n > cfg.max_lens_tokens:
            raise RequestError(400, f"The prompt is {n} tokens; the lens takes at most {cfg.max_lens_tokens}.", "too_many_tokens")
        which = body.get("lens", "logit")
        chosen = None
        if which != "logit":
            if not isinstance(which, str):
                raise RequestError(400, "'lens' must be 'logit' or the name of a tuned or Jacobian lens artifact.", "bad_lens")
            chosen = library.get(which)
            if library.kind(which) not in LENS_KINDS:
                raise RequestError(
                    400, f"'lens': {which!r} is a {library.kind(which)}, not a tuned or Jacobian lens.", "bad_lens"
                )
        traj = await run_in_threadpool(locked, prediction_trajectory, model, tokenizer, prompt, lens=chosen, top_k=top_k)
        return JSONResponse(_finite(traj.to_dict()))

    async def capture_route(request: Request) -> Any:
        from ..model.capture import capture

        body = await body_of(request)
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise RequestError(400, "'prompt' must be a non-empty string.", "bad_prompt")
        if "sites" not in body:
            raise RequestError(400, "'sites' is required, e.g. 'resid_post.3' or ['resid_pre.0', 'mlp_out.2'].", "bad_site")
        sites = parse_site_list(body["sites"], spec.n_layers)
        positions = body.get("positions", "all")
        if positions not in ("all", "last"):
            raise RequestError(400, f"'positions' must be 'all' or 'last', got {positions!r}.", "bad_positions")
        ids = check_prompt(encode(tokenizer, [prompt])[0])
        values = (len(ids) if positions == "all" else 1) * len(sites) * spec.d_model
        if values > cfg.max_capture_values:
            raise RequestError(
                413, f"That capture is {values} numbers; this server returns at most {cfg.max_capture_values}.", "too_large"
            )
        for s in sites:
            try:
                spec.site(s)
            except SteerlensError as e:
                raise RequestError(400, f"sites: {e}", "bad_site") from None
        acts = await run_in_threadpool(
            locked, capture, model, {"input_ids": torch.tensor([ids])}, sites, positions=positions, progress=False
        )
        out = {str(s): acts[s][0].float().tolist() for s in sites}
        tokens = [tokenizer.decode([t]) for t in ids]
        return JSONResponse({"tokens": tokens, "token_ids": ids, "positions": positions, "activations": out})

    static = resources.files("steerlens.serve") / "static"

    async def index(request: Request) -> Any:
        return RedirectResponse("/workbench/")

    async def workbench(request: Request) -> Any:
        from starlette.responses import HTMLResponse

        return HTMLResponse(static.joinpath("index.html").read_text())

    def wrap(fn: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Any:
            try:
                return await fn(request)
            except RequestError as e:
                return _error(e.status, str(e), e.code)
            except SteerlensError as e:
                return _error(400, str(e), type(e).__name__)
            except Exception as e:  # noqa: BLE001 - the server stays up and says what happened
                return _error(500, f"{type(e).__name__}: {e}", "internal_error")

        return handler

    routes = [
        Route("/", index),
        Route("/workbench/", workbench),
        Mount("/workbench/static", app=StaticFiles(directory=str(static)), name="static"),
        Route("/health", wrap(health)),
        Route("/v1/info", wrap(info_route)),
        Route("/v1/models", wrap(models)),
        Route("/v1/completions", wrap(completions), methods=["POST"]),
        Route("/v1/chat/completions", wrap(chat_completions), methods=["POST"]),
        Route("/v1/artifacts", wrap(list_artifacts)),
        Route("/v1/artifacts/{name}", wrap(artifact), methods=["GET", "PUT", "DELETE"]),
        Route("/v1/lens", wrap(lens), methods=["POST"]),
        Route("/v1/capture", wrap(capture_route), methods=["POST"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Any:
        status = getattr(exc, "status_code", 404)
        what = "No such endpoint" if status == 404 else "Method not allowed"
        return _error(status, f"{what}: {request.method} {request.url.path}.", "not_found" if status == 404 else "bad_method")

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        engine.close()

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found}, lifespan=lifespan)
    app.state.engine = engine
    app.state.library = library
    return _Limits(app, cfg.max_body_bytes, cfg.api_key)


def _sse(obj: dict[str, Any]) -> str:
    return f"data: {json.dumps(obj)}\n\n"


def _finite(obj: Any) -> Any:
    """JSON has no NaN/inf: make them null."""
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, list):
        return [_finite(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    return obj
