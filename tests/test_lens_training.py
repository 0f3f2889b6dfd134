"""Chunked KL, corpus chunking, tuned-lens training (with resume) and evaluation on tiny models."""

import json
import math

import pytest
import torch

from conftest import make_tiny
from steerlens.errors import ConfigError, ShapeError, SteerlensError
from steerlens.lens import LogitLens, TunedLens, Unembed
from steerlens.lens.data import CorpusError, chunk_texts
from steerlens.lens.evaluate import evaluate_lenses, layer_transfer, stream_stats
from steerlens.lens.kl import chunked_kl
from steerlens.lens.train import LensTrainConfig, frozen_pass, lens_kl, train_tuned_lens
from tests_helpers import tiny_tokenizer


@pytest.mark.parametrize("softcap", [None, 3.0])
def test_chunked_kl_matches_plain_autograd(softcap):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 8, generator=g, requires_grad=True)
    w, b = torch.randn(37, 8, generator=g), torch.randn(37, generator=g)
    target = torch.randn(5, 37, generator=g).log_softmax(-1)

    def plain(x):
        z = x @ w.T + b
        if softcap:
            z = torch.tanh(z / softcap) * softcap
        return (target.exp() * (target - z.log_softmax(-1))).sum(-1)

    ref = plain(x)
    got = chunked_kl(x, w, target, bias=b, softcap=softcap, chunk=10)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    with torch.no_grad():  # no gradient: the cross term comes from the logits, not the accumulator
        torch.testing.assert_close(
            chunked_kl(x, w, target, bias=b, softcap=softcap, chunk=10), ref.detach(), atol=1e-5, rtol=1e-5
        )
    weights = torch.randn(3, 5, generator=g)
    (g_ref,) = torch.autograd.grad((ref * weights).sum(), x)
    (g_got,) = torch.autograd.grad((chunked_kl(x, w, target, bias=b, softcap=softcap, chunk=7) * weights).sum(), x)
    torch.testing.assert_close(g_got, g_ref, atol=1e-5, rtol=1e-5)
    with pytest.raises(ShapeError):
        chunked_kl(x, w, target[:, :5])
    # bfloat16 matmuls: same quantity, bf16-level agreement
    low = chunked_kl(x, w.bfloat16(), target, bias=b, softcap=softcap, chunk=10, compute_dtype=torch.bfloat16)
    torch.testing.assert_close(low, ref, atol=0.05, rtol=0.05)


def test_stream_stats_match_plain_formulas():
    model = make_tiny("gemma2")  # soft-capped head
    u = Unembed(model)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 32, generator=g)
    target = torch.randn(4, u.vocab_size, generator=g).log_softmax(-1)
    nxt = torch.tensor([3, 50, -1, 95])
    st = stream_stats(x, u, target, nxt, chunk=13)
    logq = u.logits_of_normed(x).log_softmax(-1)
    torch.testing.assert_close(st["kl"], (target.exp() * (target - logq)).sum(-1), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(st["entropy"], -(logq.exp() * logq).sum(-1), atol=1e-4, rtol=1e-4)
    ce = -logq.gather(-1, nxt.clamp(min=0).expand(2, 4)[..., None])[..., 0]
    torch.testing.assert_close(st["ce"][:, [0, 1, 3]], ce[:, [0, 1, 3]], atol=1e-4, rtol=1e-4)


def _corpus(n_words=3000, seed=0):
    g = torch.Generator().manual_seed(seed)
    # a corpus with structure: each word is usually followed by its successor
    words, cur = [], 5
    for _ in range(n_words):
        cur = (cur + 1) % 90 if torch.rand(1, generator=g) < 0.8 else int(torch.randint(0, 90, (1,), generator=g))
        words.append(f"w{cur}")
    return [" ".join(words[i : i + 300]) for i in range(0, n_words, 300)]


def test_chunk_texts_and_errors():
    tok = tiny_tokenizer()
    chunks = chunk_texts(tok, _corpus(), seq_len=16)
    assert chunks.ids.shape[1] == 16 and (chunks.ids[:, 0] == tok.bos_token_id).all()
    assert chunks.n_tokens == chunks.ids.numel() and chunks.nats_to_bpb > 0
    train, held = chunks.split(0.2)
    assert train.ids.shape[0] + held.ids.shape[0] == chunks.ids.shape[0]
    with pytest.raises(CorpusError, match="empty"):
        chunk_texts(tok, ["  ", ""], seq_len=16)
    with pytest.raises(CorpusError, match="fewer than one chunk"):
        chunk_texts(tok, ["w1 w2 w3"], seq_len=16)


def test_frozen_pass_targets_are_the_model_output():
    model = make_tiny("llama")
    ids = torch.randint(3, 96, (2, 7))
    ids[0, 3] = model.config.pad_token_id  # an EOS separator that shares the pad id is not padding
    hidden, target = frozen_pass(model, ids, torch.float32)
    assert hidden.shape == (3, 14, 32)
    with torch.no_grad():
        ref = model(ids).logits.log_softmax(-1).reshape(14, -1)
    torch.testing.assert_close(target, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("arch", ["llama", "gemma3_text", "gpt2"])
def test_training_beats_logit_lens_on_held_out(arch):
    model = make_tiny(arch)
    tok = tiny_tokenizer()
    train, held = chunk_texts(tok, _corpus(6000), seq_len=16).split(0.25)
    cfg = LensTrainConfig(steps=40, tokens_per_step=64, micro_batch=2, vocab_chunk=40, optimizer="sgd")
    lens, hist = train_tuned_lens(model, train, cfg, progress=False)
    assert hist.kl[-1] < hist.kl[0]
    res = evaluate_lenses(model, held, {"logit": LogitLens.from_model(model), "tuned": lens}, progress=False)
    kl_logit, kl_tuned = res["lenses"]["logit"]["kl"], res["lenses"]["tuned"]["kl"]
    assert all(t < lg for t, lg in zip(kl_tuned, kl_logit)), (kl_tuned, kl_logit)
    assert res["model"]["ce"] > 0 and len(res["lenses"]["tuned"]["ce"]) == 3


def test_entropy_only_when_asked_and_bf16_vocab_matmuls(tmp_path):
    from steerlens.errors import ConfigError
    from steerlens.lens.evaluate import plot_evaluation

    model = make_tiny("llama")
    held = chunk_texts(tiny_tokenizer(), _corpus(1500), seq_len=16)
    lenses = {"logit": LogitLens.from_model(model)}
    plain = evaluate_lenses(model, held, lenses, progress=False)
    full = evaluate_lenses(model, held, lenses, entropy=True, progress=False)
    assert set(plain["lenses"]["logit"]) == {"kl", "ce"} and "entropy" not in plain["model"]
    assert set(full["lenses"]["logit"]) == {"kl", "ce", "entropy"} and full["model"]["entropy"] > 0
    assert plain["lenses"]["logit"]["kl"] == full["lenses"]["logit"]["kl"]  # the same pass, one sum less
    assert plain["lenses"]["logit"]["ce"] == full["lenses"]["logit"]["ce"]
    # entropy is bounded by log(vocab) (in nats per token, times the bits-per-byte factor); stream_stats' own
    # entropy is checked against a direct computation above
    bound = math.log(model.config.vocab_size) * full["nats_to_bpb"]
    assert all(0 < h <= bound * (1 + 1e-5) for h in full["lenses"]["logit"]["entropy"])
    half = evaluate_lenses(model, held, lenses, compute_dtype=torch.bfloat16, progress=False)
    assert half["lenses"]["logit"]["kl"] != plain["lenses"]["logit"]["kl"]  # the matmuls really ran in bf16
    for a, b in zip(half["lenses"]["logit"]["kl"], plain["lenses"]["logit"]["kl"]):
        assert a == pytest.approx(b, rel=0.05, abs=1e-3)
    with pytest.raises(ConfigError, match="no 'entropy'"):
        plot_evaluation(plain, tmp_path / "e.png", metric="entropy")
    assert plot_evaluation(full, tmp_path / "e.png", metric="entropy").stat().st_size > 1000


def test_adam_warmup_runs_and_bias_only():
    model = make_tiny("qwen2")
    chunks = chunk_texts(tiny_tokenizer(), _corpus(), seq_len=16)
    cfg = LensTrainConfig(
        steps=10,
        tokens_per_step=32,
        micro_batch=2,
        optimizer="adam",
        mode="bias_only",
        compute_dtype="bfloat16",
        target_dtype="bfloat16",
    )
    assert cfg.warmup() == 2
    lens, hist = train_tuned_lens(model, chunks, cfg, progress=False)
    assert lens.weight.abs().max() == 0 and lens.bias.abs().max() > 0
    assert len(hist.kl) == 10


class _Stop(Exception):
    """Raised by :func:`_stop_at_4` to interrupt a training run (as a crash would)."""


def _stop_at_4(step, lens, hist):
    if step == 4:
        raise _Stop


def test_checkpoint_resume_gives_the_same_lens(tmp_path):
    model = make_tiny("llama")
    chunks = chunk_texts(tiny_tokenizer(), _corpus(), seq_len=16)
    cfg = LensTrainConfig(steps=6, tokens_per_step=32, micro_batch=2, checkpoint_every=3, optimizer="sgd")
    full, _ = train_tuned_lens(model, chunks, cfg, progress=False)

    with pytest.raises(_Stop):
        train_tuned_lens(model, chunks, cfg, out=tmp_path, progress=False, callback=_stop_at_4)
    resumed, hist = train_tuned_lens(model, chunks, cfg, out=tmp_path, progress=False)
    assert hist.step == [1, 2, 3, 4, 5, 6]
    torch.testing.assert_close(resumed.weight, full.weight, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(resumed.bias, full.bias, atol=1e-6, rtol=1e-5)
    assert json.loads((tmp_path / "history.json").read_text())["step"][-1] == 6
    assert torch.equal(TunedLens.load(tmp_path, model).weight, resumed.weight)


def test_layer_transfer_diagonal_is_the_lens_kl():
    model = make_tiny("mistral")
    chunks = chunk_texts(tiny_tokenizer(), _corpus(), seq_len=16)
    lens = TunedLens.from_model(model)
    with torch.no_grad():
        lens.weight.normal_(0, 0.05)
    m = layer_transfer(model, chunks, lens)
    res = evaluate_lenses(model, chunks, {"t": lens}, progress=False)
    for i in range(3):
        assert m[i][i] == pytest.approx(res["lenses"]["t"]["kl"][i], rel=1e-4)
    # a subset of layers, in the order given, is the matching sub-matrix
    sub = layer_transfer(model, chunks, lens, layers=[2, 0])
    expected = [[m[2][2], m[2][0]], [m[0][2], m[0][0]]]
    assert sub == [[pytest.approx(v, rel=1e-4) for v in row] for row in expected]
    with pytest.raises(ConfigError, match="lens indices"):
        layer_transfer(model, chunks, lens, layers=[0, 3])


def test_lens_kl_is_per_layer():
    model = make_tiny("llama")
    hidden, target = frozen_pass(model, torch.randint(3, 96, (1, 6)), torch.float32)
    kl = lens_kl(TunedLens.from_model(model), hidden, target, 16)
    assert kl.shape == (3,) and (kl >= 0).all()


def test_shipped_corpus_is_split_by_entry():
    from steerlens.lens.data import default_corpus

    train, test = default_corpus("train"), default_corpus("test")
    assert len(train) > 800 and len(test) > 80
    assert not set(train) & set(test)
    assert sum(map(len, train)) > 300_000
    assert any(e.startswith("ABRIDGE, v.t.") for e in test)
    with pytest.raises(CorpusError, match="part must be"):
        default_corpus("validation")


def test_validation_keeps_each_layers_best_translator(tmp_path):
    """Per-layer early stopping: every layer ends at the translator of its lowest validation KL
    (the identity lens counts, as step 0), so no layer ends worse on validation than the logit lens;
    with a learning rate far too high some layers must fall back. Resuming keeps the same choice."""
    model = make_tiny("llama")
    train, val = chunk_texts(tiny_tokenizer(), _corpus(3000), seq_len=16).split(0.2)
    cfg = LensTrainConfig(steps=6, tokens_per_step=32, micro_batch=2, lr_scale=300.0, checkpoint_every=3, optimizer="sgd")
    lens, hist = train_tuned_lens(model, train, cfg, progress=False, validation=val, eval_every=2)
    assert hist.val_step == [0, 2, 4, 6] and len(hist.val_kl[0]) == lens.n_layers
    table = torch.tensor(hist.val_kl)
    best = table.argmin(0)
    assert hist.best_step == [hist.val_step[int(i)] for i in best]
    assert 0 in hist.best_step, "this run is meant to make some layer fall back to the logit lens"
    from steerlens.lens.train import _ModelRows, _validation_kl

    got = _validation_kl(lens, _ModelRows(model, val), cfg, torch.float32)
    torch.testing.assert_close(got, table.min(0).values, atol=1e-5, rtol=1e-5)
    assert (got <= table[0] + 1e-6).all()
    for i, s in enumerate(hist.best_step):
        if s == 0:
            assert lens.weight[i].abs().max() == 0 and lens.bias[i].abs().max() == 0

    with pytest.raises(_Stop):
        train_tuned_lens(model, train, cfg, out=tmp_path, progress=False, validation=val, eval_every=2, callback=_stop_at_4)
    resumed, hist2 = train_tuned_lens(model, train, cfg, out=tmp_path, progress=False, validation=val, eval_every=2)
    assert hist2.best_step == hist.best_step and hist2.val_step == hist.val_step
    torch.testing.assert_close(resumed.weight, lens.weight, atol=1e-6, rtol=1e-5)
    assert hist2.lr_mult == hist.lr_mult
    with pytest.raises(CorpusError, match="eval_every"):
        train_tuned_lens(model, train, cfg, progress=False, validation=val, eval_every=0)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_scaled_step_is_a_per_layer_learning_rate(optimizer):
    """Scaling layer i's update by mult[i] equals a plain step at mult[i] times the learning rate."""
    from steerlens.lens.train import _optimizer, _scaled_step

    model = make_tiny("llama")
    mult = torch.tensor([1.0, 0.5, 0.0])
    grads = [torch.randn_like(p) for p in (TunedLens.from_model(model).weight, TunedLens.from_model(model).bias)]
    results = {}
    for scale in (1.0, 0.5, 0.0, None):
        lens = TunedLens.from_model(model)
        with torch.no_grad():
            lens.weight.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))
        cfg = LensTrainConfig(optimizer=optimizer, lr_scale=scale if scale is not None else 1.0, weight_decay=0.1)
        opt, _ = _optimizer(lens, cfg)
        for _ in range(2):
            lens.weight.grad, lens.bias.grad = grads[0].clone(), grads[1].clone()
            _scaled_step(opt, lens, mult) if scale is None else opt.step()
        results[scale] = (lens.weight.detach().clone(), lens.bias.detach().clone())
    start = TunedLens.from_model(model).weight.detach().normal_(0, 0.1, generator=torch.Generator().manual_seed(1))
    for i, m in enumerate(mult.tolist()):
        if optimizer == "sgd":  # SGD is linear in the learning rate, so two scaled steps equal two steps at m * lr
            torch.testing.assert_close(results[None][0][i], results[m][0][i], atol=1e-6, rtol=1e-5)
            torch.testing.assert_close(results[None][1][i], results[m][1][i], atol=1e-6, rtol=1e-5)
        elif m in (0.0, 1.0):  # Adam's step is not linear across steps, but 0 and 1 are exact
            torch.testing.assert_close(results[None][0][i], results[m][0][i], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(results[None][0][2], start[2])  # multiplier 0: untouched, weight decay included


def test_backoff_reverts_and_slows_only_the_layers_that_got_worse():
    """backoff=0: a layer whose validation KL rises goes back to its best translator and stays there,
    so every later measurement of it equals its best; layers that never got worse keep multiplier 1."""
    model = make_tiny("llama")
    train, val = chunk_texts(tiny_tokenizer(), _corpus(3000), seq_len=16).split(0.2)
    cfg = LensTrainConfig(steps=8, tokens_per_step=32, micro_batch=2, lr_scale=300.0, backoff=0.0, optimizer="sgd")
    lens, hist = train_tuned_lens(model, train, cfg, progress=False, validation=val, eval_every=2)
    table = torch.tensor(hist.val_kl)
    frozen = [i for i, m in enumerate(hist.lr_mult) if m == 0.0]
    assert frozen, "this run is meant to make some layer get worse"
    for i in frozen:
        rows = table[:, i]
        first_bad = next(k for k in range(1, len(rows)) if rows[k] > rows[:k].min())
        assert first_bad < len(rows) - 1, "a layer is only frozen when it gets worse before the last step"
        torch.testing.assert_close(
            rows[first_bad + 1 :], rows[:first_bad].min().expand(len(rows) - first_bad - 1), atol=1e-5, rtol=1e-5
        )
    for i, m in enumerate(hist.lr_mult):
        if m == 1.0:
            assert all(table[k, i] <= table[:k, i].min() for k in range(1, len(table) - 1))
    halved, hist_h = train_tuned_lens(
        model, train, LensTrainConfig(**{**cfg.__dict__, "backoff": 0.5}), progress=False, validation=val, eval_every=2
    )
    assert set(hist_h.lr_mult) <= {1.0, 0.5, 0.25, 0.125} and min(hist_h.lr_mult) < 1
    with pytest.raises(SteerlensError, match="backoff"):
        train_tuned_lens(
            model,
            train,
            LensTrainConfig(steps=2, tokens_per_step=32, micro_batch=2, backoff=1.5, optimizer="sgd"),
            progress=False,
            validation=val,
        )


def test_training_from_a_store_equals_training_from_the_model(tmp_path):
    import random

    from steerlens.lens.data import Chunks
    from steerlens.model import Site
    from steerlens.store import capture_to_store

    model = make_tiny("llama")
    tok = tiny_tokenizer()
    rng = random.Random(0)
    texts = [" ".join(f"w{rng.randrange(4, 90)}" for _ in range(15)) for _ in range(12)]  # BOS + 15 = 16 tokens each
    ids = torch.tensor([tok(t)["input_ids"] for t in texts])
    assert ids.shape == (12, 16)
    chunks = Chunks(ids=ids, n_bytes=sum(len(t) for t in texts), n_tokens=ids.numel())
    sites = [Site(i, "resid_pre") for i in range(3)] + [Site(2)]  # the tiny llama has 3 blocks
    store = capture_to_store(model, tok, texts, sites, tmp_path / "s", batch_size=5, shard_tokens=40, progress=False)
    val = capture_to_store(model, tok, texts[:4], sites, tmp_path / "v", progress=False)
    cfg = LensTrainConfig(steps=5, tokens_per_step=32, micro_batch=2, optimizer="adam")
    ref, ref_hist = train_tuned_lens(model, chunks, cfg, progress=False, validation=Chunks(ids[:4], 1, 64), eval_every=2)
    got, hist = train_tuned_lens(model, store, cfg, progress=False, validation=val, eval_every=2, row_tokens=16)
    assert ref.weight.abs().sum() > 0
    torch.testing.assert_close(got.weight, ref.weight, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got.bias, ref.bias, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(torch.tensor(hist.val_kl), torch.tensor(ref_hist.val_kl), atol=1e-6, rtol=1e-4)
    # a store without every resid_pre cannot train a lens: refused with the capture to run
    partial = capture_to_store(model, tok, texts[:2], [Site(0, "resid_pre"), Site(2)], tmp_path / "p", progress=False)
    with pytest.raises(ConfigError, match="lacks resid_pre.1"):
        train_tuned_lens(model, partial, cfg, progress=False, row_tokens=16)
    with pytest.raises(SteerlensError, match="another model"):
        train_tuned_lens(make_tiny("mistral"), store, cfg, progress=False, row_tokens=16)
