"""Patchscopes: a patched state is decoded by the target prompt; at the last layer it reproduces the source's output."""

import pytest
import torch

from conftest import make_tiny
from steerlens.errors import DataFormatError, SiteError
from steerlens.lens.patchscope import patchscope, token_identity_precision
from steerlens.model import Replace, Site, capture, intervene
from steerlens.model.capture import last_token_logprobs
from tests_helpers import tiny_tokenizer

SOURCES = ["w10 w11 w12 w13", "w40 w41", "w60 w3 w8 w12 w30"]
TARGET = "w5 w6 w5 w6 w7"


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


def test_readout_is_the_target_run_with_that_one_state_replaced(tok):
    model = make_tiny("llama")
    read = patchscope(model, tok, SOURCES, ["resid_post.0", "resid_pre.2"], target=TARGET, top_k=3)
    assert read.top_ids.shape == (3, 2, 3)
    tgt = tok(TARGET)["input_ids"]
    for j, site in enumerate([Site(0), Site(2, "resid_pre")]):
        for i, text in enumerate(SOURCES):
            ids = tok(text)["input_ids"]
            h = capture(model, {"input_ids": torch.tensor([ids])}, [site])[site][0, -1]
            with intervene(model, [Replace(site, h[None], positions="last_prompt", per_row=True)]):
                lp = last_token_logprobs(model, [tgt])[0]
            assert read.top_ids[i, j].tolist() == lp.topk(3).indices.tolist()
            torch.testing.assert_close(read.top_logprobs[i, j], lp.topk(3).values, atol=1e-5, rtol=1e-5)


def test_patching_a_prompt_into_itself_changes_nothing(tok):
    model = make_tiny("gpt2")
    plain = last_token_logprobs(model, [tok(TARGET)["input_ids"]])[0]
    read = patchscope(model, tok, [TARGET], [0, 1, 2], target=TARGET, top_k=4)
    for j in range(3):
        assert read.top_ids[0, j].tolist() == plain.topk(4).indices.tolist()


def test_token_identity_is_exact_at_the_last_layer(tok):
    """At the last layer both the logit lens and the identity patchscope reproduce the model's own prediction."""
    model = make_tiny("llama")
    texts = [" ".join(f"w{(7 * i + k) % 90 + 3}" for k in range(12)) for i in range(6)]
    res = token_identity_precision(model, tok, texts, n_positions=20, target=TARGET)
    assert res.layers == [0, 1, 2] and res.n == 20
    assert res.logit_lens[-1] == 1.0 and res.patchscope[-1] == 1.0
    assert all(0.0 <= v <= 1.0 for v in res.patchscope + res.logit_lens)
    assert "patchscope" in res.table() and res.to_dict()["examples"]


def test_bad_arguments_are_typed_errors(tok):
    model = make_tiny("llama")
    with pytest.raises(SiteError, match="one target per source"):
        patchscope(model, tok, SOURCES, [0, 1], target_sites=[0])
    with pytest.raises(DataFormatError, match="top_k"):
        patchscope(model, tok, SOURCES, 0, top_k=0)
    with pytest.raises(DataFormatError, match="at least one source"):
        patchscope(model, tok, [], 0)
    with pytest.raises(DataFormatError, match="prefixes"):
        token_identity_precision(model, tok, ["w1 w2 w3 w4 w5"], n_positions=50)


def test_cli_prints_the_per_layer_table(tmp_path, capsys):
    import json

    from steerlens.cli import main
    from tests_helpers import save_tiny_with_tokenizer

    folder = save_tiny_with_tokenizer(tmp_path / "m")
    text = tmp_path / "t.txt"
    text.write_text("\n\n".join(" ".join(f"w{(5 * i + k) % 90 + 3}" for k in range(10)) for i in range(8)))
    out = tmp_path / "ps.json"
    argv = ["lens", "patchscope", "--model", str(folder), "--text", str(text), "--positions", "12", "--out", str(out)]
    assert main(argv) == 0
    assert "layer  patchscope  logit lens" in capsys.readouterr().out
    res = json.loads(out.read_text())
    assert res["layers"] == [0, 1, 2] and res["logit_lens"][-1] == 1.0 and res["patchscope"][-1] == 1.0
