"""``steerlens serve`` against a real server process on a free localhost port, and its workbench in headless Chromium.

The served model is the tiny random llama with the character tokenizer, saved as a local model folder;
every expected output is computed here, in the test process, with the library's own ``generate`` and edits.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from conftest import make_tiny
from steerlens.artifacts import Fingerprint
from steerlens.loading import load_model
from steerlens.model import Add, ProjectOut, Site, generate, intervene
from steerlens.steering import SteeringVector
from steerlens.steering.addition import ActAdd, x_vector
from tests_helpers import char_tokenizer

KEY = "test-key-123"
ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "build" / "test-artifacts"
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }} | {% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"
)


class Server:
    def __init__(self, port: int, proc: subprocess.Popen, folder: Path, log: Path) -> None:
        self.port, self.proc, self.folder, self.log = port, proc, folder, log

    def request(self, method: str, path: str, body=None, *, key: str | None = KEY, raw: bytes | None = None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        conn.close()
        try:
            parsed = json.loads(payload) if payload else None
        except json.JSONDecodeError:
            parsed = payload.decode()
        return resp.status, parsed

    def post(self, path: str, body, **kw):
        return self.request("POST", path, body, **kw)

    def stream(self, body, *, path="/v1/completions"):
        """The SSE events of a streamed request, parsed (``"[DONE]"`` kept as a string)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("POST", path, body=json.dumps({**body, "stream": True}), headers={"Authorization": f"Bearer {KEY}"})
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()
        assert resp.getheader("content-type").startswith("text/event-stream")
        text = resp.read().decode()
        conn.close()
        events = []
        for block in text.split("\n\n"):
            if block.startswith("data: "):
                data = block[6:]
                events.append(data if data == "[DONE]" else json.loads(data))
        return events


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("uvicorn", reason="steerlens serve needs the serve extra (bootstrap installs it)")
    folder = tmp_path_factory.mktemp("serve")
    model_dir = folder / "tiny-llama"
    make_tiny("llama").save_pretrained(model_dir)
    tokenizer = char_tokenizer()
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(model_dir)
    model, tok = load_model(model_dir)
    torch.manual_seed(7)
    sv = SteeringVector({0: torch.randn(32), 1: torch.randn(32)}, point="resid_pre", fingerprint=Fingerprint.of(model))
    sv.save(folder / "artifacts" / "sv")
    from steerlens.lens import TunedLens

    TunedLens.from_model(model).save(folder / "artifacts" / "zero-lens")  # zero translators: the logit lens
    log = folder / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "steerlens",
        "serve",
        "--model",
        str(model_dir),
        "--port",
        "0",
        "--artifacts",
        str(folder / "artifacts"),
    ]
    cmd += ["--api-key", KEY, "--batch-window-ms", "400", "--max-batch-size", "8", "--max-new-tokens", "4000"]
    cmd += ["--max-prompt-tokens", "64", "--max-body-bytes", "200000", "--threads", "1"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    port = None
    deadline = time.time() + 120
    while time.time() < deadline and port is None:
        if proc.poll() is not None:
            pytest.fail(f"the server exited: {log.read_text()}")
        m = re.search(r"on http://127\.0\.0\.1:(\d+)/", log.read_text())
        if m:
            port = int(m.group(1))
        time.sleep(0.2)
    assert port is not None, log.read_text()
    srv = Server(port, proc, folder, log)
    while time.time() < deadline:
        try:
            if srv.request("GET", "/health")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    srv.model, srv.tok, srv.sv = model, tok, sv
    yield srv
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _expected(srv, prompt: str, edits, max_new_tokens: int) -> list[int]:
    with intervene(srv.model, edits):
        out = generate(srv.model, srv.tok, [prompt], max_new_tokens=max_new_tokens)
    ids = out.new_ids[0]
    return ids[:-1] if ids and ids[-1] == srv.model.config.eos_token_id else ids


def test_concurrent_differently_steered_requests_each_equal_their_own_generate(server):
    torch.manual_seed(3)
    vec = torch.randn(32)
    cases = [
        ("hello there", None, []),
        (
            "the cat sat",
            [{"vector": vec.tolist(), "sites": "resid_pre.1", "strength": 6}],
            [Add(Site(1, "resid_pre"), vec, strength=6.0)],
        ),
        ("a b", [{"artifact": "sv", "strength": 4, "positions": "generated"}], server.sv.edits(server.model, 4.0, "generated")),
        (
            "I said that",
            [{"actadd": {"plus": "love", "minus": "hate"}, "sites": "resid_pre.1", "strength": 3}],
            ActAdd.build(
                server.model, server.tok, x_vector("love", "hate", 3.0, Site(1, "resid_pre"), tokenizer=server.tok)
            ).edits(),
        ),
        (
            "Paris is",
            [{"artifact": "sv", "sites": "resid_pre.1", "mode": "project_out"}],
            [ProjectOut(Site(1, "resid_pre"), server.sv.directions[1])],
        ),
    ]
    before = server.request("GET", "/health")[1]

    def ask(case):
        prompt, steering, _ = case
        body = {"prompt": prompt, "max_tokens": 12, "temperature": 0}
        if steering is not None:
            body["steering"] = steering
        return server.post("/v1/completions", body)

    with ThreadPoolExecutor(len(cases)) as pool:
        answers = list(pool.map(ask, cases))
    after = server.request("GET", "/health")[1]
    assert after["largest_batch"] >= 2, (before, after)  # the requests really shared a batch
    for (prompt, steering, edits), (status, body) in zip(cases, answers):
        assert status == 200, body
        got = body["choices"][0]["steerlens"]["token_ids"]
        assert got == _expected(server, prompt, edits, 12), (prompt, steering)
        assert body["choices"][0]["text"] == server.tok.decode(got, skip_special_tokens=True)
        if steering is not None and "actadd" not in steering[0]:
            assert got != _expected(server, prompt, [], 12), f"steering {steering} changed nothing"


def test_sampled_request_does_not_depend_on_its_batch(server):
    body = {"prompt": "once upon", "max_tokens": 10, "temperature": 0.9, "top_p": 0.95, "seed": 42}
    alone = server.post("/v1/completions", body)[1]["choices"][0]["steerlens"]["token_ids"]
    others = [
        {"prompt": "zz", "max_tokens": 14, "temperature": 1.3, "seed": 5},
        {"prompt": "a longer prompt here", "max_tokens": 6, "temperature": 0},
    ]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(lambda b: server.post("/v1/completions", b), [body, *others]))
    assert together[0][1]["choices"][0]["steerlens"]["token_ids"] == alone
    assert together[0][1]["choices"][0]["steerlens"]["seed"] == 42
    other_seed = server.post("/v1/completions", {**body, "seed": 43})[1]["choices"][0]["steerlens"]["token_ids"]
    assert other_seed != alone


def test_streaming_sends_the_same_text_as_one_answer(server):
    body = {"prompt": "hello there", "max_tokens": 15, "temperature": 0, "steering": [{"artifact": "sv", "strength": 2}]}
    whole = server.post("/v1/completions", body)[1]
    events = server.stream(body)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "text_completion" for c in chunks)
    assert "".join(c["choices"][0]["text"] for c in chunks) == whole["choices"][0]["text"]
    assert len(chunks) >= 3  # token by token, not one block
    assert chunks[-1]["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]
    assert chunks[-1]["steerlens"]["token_ids"] == whole["choices"][0]["steerlens"]["token_ids"]


def test_stop_strings_limits_and_metric(server):
    base = {"prompt": "I went up to my friend and said", "max_tokens": 20, "temperature": 0}
    full = server.post("/v1/completions", base)[1]["choices"][0]
    text = full["text"]
    assert len(text) >= 4
    stop = text[2:4]
    cut = server.post("/v1/completions", {**base, "stop": stop})[1]["choices"][0]
    assert cut["text"] == text[: text.find(stop)] and cut["finish_reason"] == "stop"
    assert "".join(c["choices"][0]["text"] for c in server.stream({**base, "stop": stop})[:-1]) == cut["text"]
    three = server.post("/v1/completions", {**base, "max_tokens": 3})[1]["choices"][0]
    assert len(three["steerlens"]["token_ids"]) == 3 and three["finish_reason"] == "length"
    scored = server.post("/v1/completions", {**base, "metric": "sentiment"})[1]["choices"][0]["steerlens"]
    assert len(scored["metric"]) == len(scored["tokens"]) and all(-1 <= v <= 1 for v in scored["metric"])
    probe = server.post("/v1/completions", {**base, "metric": "sv"})[1]["choices"][0]["steerlens"]
    assert len(probe["metric"]) == len(probe["tokens"])
    assert all(v is None or -1 <= v <= 1 for v in probe["metric"])  # cosines; the last token never ran


def test_artifacts_upload_list_use_delete_and_other_models_are_refused(server, tmp_path):
    def payload(folder):
        return {
            "artifact": json.loads((folder / "artifact.json").read_text()),
            "tensors": base64.b64encode((folder / "tensors.safetensors").read_bytes()).decode(),
        }

    mine = SteeringVector({2: torch.ones(32)}, point="resid_pre", fingerprint=Fingerprint.of(server.model))
    mine.save(tmp_path / "mine")
    status, body = server.request("PUT", "/v1/artifacts/ones", payload(tmp_path / "mine"))
    assert status == 201 and body["kind"] == "steering_vector" and body["sites"] == ["resid_pre.2"]
    names = [a["name"] for a in server.request("GET", "/v1/artifacts")[1]["data"]]
    assert "ones" in names and "sv" in names
    status, body = server.post(
        "/v1/completions", {"prompt": "hi", "max_tokens": 3, "temperature": 0, "steering": [{"artifact": "ones"}]}
    )
    assert status == 200, body
    assert server.request("PUT", "/v1/artifacts/ones", payload(tmp_path / "mine"))[0] == 409  # exists
    other = make_tiny("gemma2")
    SteeringVector({0: torch.ones(32)}, fingerprint=Fingerprint.of(other)).save(tmp_path / "other")
    status, body = server.request("PUT", "/v1/artifacts/other", payload(tmp_path / "other"))
    assert status == 409 and body["error"]["code"] == "wrong_model"
    assert "another model" in body["error"]["message"] or "architecture" in body["error"]["message"]
    assert "other" not in [a["name"] for a in server.request("GET", "/v1/artifacts")[1]["data"]]
    bad = payload(tmp_path / "mine")
    bad["tensors"] = base64.b64encode(b"not a safetensors file").decode()
    assert server.request("PUT", "/v1/artifacts/broken", bad)[0] == 400
    assert server.request("PUT", "/v1/artifacts/..%2Fescape", payload(tmp_path / "mine"))[0] in (400, 404)
    assert server.request("DELETE", "/v1/artifacts/ones")[0] == 204
    assert server.request("DELETE", "/v1/artifacts/ones")[0] == 404
    assert not (server.folder / "artifacts" / "ones").exists()


BAD = [
    ("unknown artifact", {"steering": [{"artifact": "nope"}]}, 404, "unknown_artifact"),
    ("wrong hidden size", {"steering": [{"vector": [1.0] * 31, "sites": "resid_pre.1"}]}, 400, "wrong_hidden_size"),
    ("site out of range", {"steering": [{"vector": [1.0] * 32, "sites": "resid_pre.9"}]}, 400, "bad_site"),
    ("unknown site point", {"steering": [{"artifact": "sv", "sites": "resid_middle.1"}]}, 400, "bad_site"),
    ("site the vector lacks", {"steering": [{"artifact": "sv", "sites": "resid_pre.2"}]}, 400, "bad_site"),
    ("two sources", {"steering": [{"artifact": "sv", "vector": [1.0] * 32}]}, 400, "bad_steering"),
    ("unknown field", {"steering": [{"artifact": "sv", "scale": 2}]}, 400, "bad_steering"),
    ("non-numeric strength", {"steering": [{"artifact": "sv", "strength": "big"}]}, 400, "bad_steering"),
    (
        "actadd pair longer than the prompt",
        {"steering": [{"actadd": {"plus": "lovely"}, "sites": "resid_pre.1"}]},
        400,
        "prompt_too_short",
    ),
    ("too many new tokens", {"max_tokens": 5000}, 400, "bad_max_tokens"),
    ("prompt too long", {"prompt": "x" * 100}, 400, "too_many_tokens"),
    ("bad temperature", {"temperature": -1}, 400, "bad_temperature"),
    ("n > 1", {"n": 2}, 400, "bad_n"),
    ("bad prompt type", {"prompt": {"text": "hi"}}, 400, "bad_prompt"),
    ("unknown metric artifact", {"metric": "nope"}, 404, "unknown_artifact"),
]


@pytest.mark.parametrize("name,change,status,code", BAD, ids=[b[0] for b in BAD])
def test_bad_generation_requests_get_a_clear_4xx(server, name, change, status, code):
    got, body = server.post("/v1/completions", {"prompt": "hi", "max_tokens": 2, **change})
    assert got == status, body
    assert body["error"]["code"] == code and len(body["error"]["message"]) > 20


def test_other_bad_input_and_the_server_survives(server):
    assert server.request("POST", "/v1/completions", raw=b'{"prompt": "hi",')[1]["error"]["code"] == "bad_json"
    status, body = server.request("POST", "/v1/completions", raw=b'{"prompt": "' + b"x" * 300_000 + b'"}')
    assert status == 413 and body["error"]["code"] == "too_large"
    assert server.request("GET", "/v1/models", key=None)[0] == 401
    assert server.request("GET", "/v1/models", key="wrong")[0] == 401
    assert server.request("GET", "/v1/nothing")[0] == 404
    assert server.request("GET", "/v1/completions")[0] == 405
    assert server.post("/v1/chat/completions", {"messages": "hi"})[1]["error"]["code"] == "bad_messages"
    status, body = server.post("/v1/capture", {"prompt": "hello", "sites": "resid_post.all"})
    assert status == 200 and len(body["activations"]["resid_post.2"]) == len(body["tokens"]) == 6
    with torch.no_grad():
        hidden = server.model(torch.tensor([body["token_ids"]]), output_hidden_states=True).hidden_states
    assert torch.allclose(torch.tensor(body["activations"]["resid_post.0"]), hidden[1][0], atol=1e-5)
    assert server.post("/v1/capture", {"prompt": "hello", "sites": "resid_post.7"})[0] == 400
    assert server.post("/v1/lens", {"prompt": "hello", "top_k": 50})[0] == 400
    logit = server.post("/v1/lens", {"prompt": "hello", "top_k": 3})[1]
    tuned = server.post("/v1/lens", {"prompt": "hello", "top_k": 3, "lens": "zero-lens"})[1]
    assert logit["lens"] == "logit" and tuned["lens"] == "tuned" and len(tuned["rows"]) == 4
    assert tuned["top_tokens"] == logit["top_tokens"]  # untrained translators decode as the logit lens does
    assert "zero-lens" in server.request("GET", "/v1/info")[1]["lenses"]
    assert server.post("/v1/lens", {"prompt": "hello", "lens": "sv"})[1]["error"]["code"] == "bad_lens"
    models = server.request("GET", "/v1/models")[1]
    assert models["data"][0]["steerlens"]["n_layers"] == 3
    assert server.request("GET", "/health")[1]["status"] == "ok"


def test_a_client_that_disconnects_frees_its_slot(server):
    before = server.request("GET", "/health")[1]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    body = {"prompt": "hello", "max_tokens": 4000, "temperature": 0.8, "seed": 1, "stream": True}
    conn.request("POST", "/v1/completions", body=json.dumps(body), headers={"Authorization": f"Bearer {KEY}"})
    resp = conn.getresponse()
    assert resp.status == 200
    resp.fp.readline()  # the first event has arrived: generation is under way
    conn.sock.close()
    conn.close()
    t0 = time.time()
    status, quick = server.post("/v1/completions", {"prompt": "hi", "max_tokens": 3, "temperature": 0})
    assert status == 200 and len(quick["choices"][0]["steerlens"]["token_ids"]) >= 1
    health = server.request("GET", "/health")[1]
    deadline = time.time() + 30
    while (health["busy"] or health["cancelled"] == before["cancelled"]) and time.time() < deadline:
        time.sleep(0.1)
        health = server.request("GET", "/health")[1]
    assert health["cancelled"] == before["cancelled"] + 1
    assert health["tokens"] - before["tokens"] < 4000 - 3  # the abandoned row stopped long before its limit
    assert time.time() - t0 < 30


def test_binding_beyond_localhost_needs_a_key():
    from steerlens.cli import main

    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 1


# ---- the workbench in a real browser ------------------------------------------------------------------


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def page(server):
    sync = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (bootstrap installs it)")
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium on this machine (bootstrap installs Debian's chromium with apt-get when run as root)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync.sync_playwright() as p:
        args = [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ]
        browser = p.chromium.launch(executable_path=exe, args=[*args, "--no-first-run"])
        pg = browser.new_page(viewport={"width": 1280, "height": 800})
        pg.add_init_script(f"sessionStorage.setItem('steerlens-key', {json.dumps(KEY)})")
        pg.requests_seen = []
        pg.on("request", lambda r: pg.requests_seen.append(r.url))
        pg.goto(f"http://127.0.0.1:{server.port}/")
        pg.wait_for_function("document.getElementById('model-info').textContent.includes('layers')", timeout=20000)
        yield pg
        browser.close()


def test_workbench_lens_heatmap_and_hover(server, page):
    prompt = "hello world"
    page.fill("#lens-prompt", prompt)
    page.click("#lens-run")
    page.wait_for_selector("#heatmap td.cell", timeout=20000)
    n_tokens = len(server.tok(prompt)["input_ids"])
    assert page.locator("#heatmap td.cell").count() == (3 + 1) * n_tokens  # 3 layers and the output, every position
    expect = server.post("/v1/lens", {"prompt": prompt, "top_k": 5})[1]
    cell = page.locator('#heatmap td.cell[data-row="1"][data-col="4"]')
    cell.hover()
    page.wait_for_selector("#tooltip:not([hidden])")
    tip = page.text_content("#tooltip")
    top = json.dumps(expect["top_tokens"][1][4][0])
    assert "resid_pre.1" in tip and "position 4" in tip and top in tip
    cell.click()
    assert page.locator("#cell-detail .bar").count() == 5
    page.screenshot(path=str(SHOTS / "workbench-lens.png"), full_page=True)
    page.keyboard.press("ArrowRight")  # keyboard: arrows move the focus between cells
    assert page.evaluate("document.activeElement.dataset.col") == "5"


def test_workbench_steered_comparison_fills_both_columns(server, page):
    page.click("#tab-steer")
    page.fill("#steer-prompt", "I went there")
    page.fill("#steer-sites", "resid_pre.1")
    page.fill("#steer-strength", "8")
    page.fill("#steer-max", "12")
    page.select_option("#steer-metric", "sentiment")
    page.click("#steer-run")
    page.wait_for_selector("#col-plain[data-done='1']", timeout=30000)
    page.wait_for_selector("#col-steered[data-done='1']", timeout=30000)
    plain = page.text_content("#col-plain .gen")
    steered = page.text_content("#col-steered .gen")
    assert plain and steered
    assert page.locator("#col-steered .gen .tok").count() >= 1  # coloured by the metric, token by token
    assert "sentiment: mean" in page.text_content("#col-steered .score")
    same_seed = server.post("/v1/completions", {"prompt": "I went there", "max_tokens": 12, "temperature": 0.8, "seed": 0})[1]
    assert plain == same_seed["choices"][0]["text"]
    page.screenshot(path=str(SHOTS / "workbench-steer.png"), full_page=True)
    outside = [u for u in page.requests_seen if not u.startswith(f"http://127.0.0.1:{server.port}/")]
    assert outside == []  # every asset is served by the server itself: it works offline


def test_a_dropped_non_streaming_request_is_cancelled_too(server):
    before = server.request("GET", "/health")[1]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    body = {"prompt": "hello", "max_tokens": 4000, "temperature": 0.8, "seed": 2}
    conn.request("POST", "/v1/completions", body=json.dumps(body), headers={"Authorization": f"Bearer {KEY}"})
    deadline = time.time() + 30
    while server.request("GET", "/health")[1]["requests"] == before["requests"] and time.time() < deadline:
        time.sleep(0.05)  # wait until its generation has started
    conn.sock.close()
    health = server.request("GET", "/health")[1]
    while (health["busy"] or health["cancelled"] == before["cancelled"]) and time.time() < deadline:
        time.sleep(0.1)
        health = server.request("GET", "/health")[1]
    assert health["cancelled"] == before["cancelled"] + 1
    assert health["tokens"] - before["tokens"] < 4000


def test_chat_completions_apply_the_chat_template(server):
    messages = [{"role": "user", "content": "Hi there"}]
    body = {"messages": messages, "max_tokens": 8, "temperature": 0, "steering": [{"artifact": "sv", "strength": 3}]}
    status, chat = server.post("/v1/chat/completions", body)
    assert status == 200 and chat["object"] == "chat.completion", chat
    ids = server.tok("user: Hi there | assistant:", add_special_tokens=False)["input_ids"]
    plain = server.post("/v1/completions", {"prompt": ids, "max_tokens": 8, "temperature": 0, "steering": body["steering"]})[1]
    message = chat["choices"][0]["message"]
    assert message["role"] == "assistant" and message["content"] == plain["choices"][0]["text"]
    assert chat["usage"]["prompt_tokens"] == len(ids)
    events = server.stream(body, path="/v1/chat/completions")
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(e["object"] == "chat.completion.chunk" for e in events[:-1])
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1]) == message["content"]
