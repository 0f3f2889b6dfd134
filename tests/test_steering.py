"""Activation additions and steering vectors on tiny random models: invariants, alignment, errors, files."""

from __future__ import annotations

import json
import math

import pytest
import torch

from conftest import make_tiny
from steerlens.errors import (
    DataFormatError,
    IncompatibleArtifactError,
    PositionError,
    ShapeError,
    SiteError,
    SteeringError,
)
from steerlens.model import From, Site, capture, generate, intervene
from steerlens.steering import (
    ActAdd,
    ActivationAddition,
    SamplingConfig,
    SteeringVector,
    SweepResult,
    compare,
    lexicon_balance,
    logprob_change,
    next_token_effect,
    read_pairs,
    relative_norms,
    sample,
    sentiment,
    sweep,
    train_steering_vector,
    word_count,
    word_counter,
    x_vector,
)
from steerlens.steering.generation import FrequencyPenalty
from steerlens.steering.metrics import effectiveness_disruption
from tests_helpers import tiny_tokenizer

PRE1 = Site(1, "resid_pre")  # the ActAdd paper's "layer 1"

ARCHS3 = ["llama", "gemma3_text", "gpt2"]
PROMPT = "w10 w11 w12 w13 w14 w15"
PROMPTS = ["w10 w11 w12 w13 w14 w15", "w20 w21 w22 w23", "w30 w31 w32 w33 w34 w35 w36 w37"]


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


def _resid(model, tok, texts, site):
    acts = capture(model, texts, site, tokenizer=tok, progress=False)
    return acts[site], acts.lengths


def _logits(model, tok, text):
    ids = tok([text], return_tensors="pt")
    with torch.no_grad():
        return model(**ids).logits


# --------------------------------------------------------------------------- additions


def test_activation_addition_validation():
    with pytest.raises(SteeringError, match="exactly one"):
        ActivationAddition(1.0, 2)
    with pytest.raises(SteeringError, match="exactly one"):
        ActivationAddition(1.0, PRE1, prompt="a", tokens=[1])
    with pytest.raises(SteeringError, match="finite"):
        ActivationAddition(float("nan"), PRE1, prompt="a")
    with pytest.raises(SteeringError, match="finite"):
        ActivationAddition(float("inf"), PRE1, prompt="a")
    with pytest.raises(SteeringError, match="number"):
        ActivationAddition("big", PRE1, prompt="a")
    with pytest.raises(SteeringError, match="non-empty"):
        ActivationAddition(1.0, PRE1, tokens=[])
    a = ActivationAddition(2, "resid_pre.3", prompt="Love")
    assert a.site == Site(3, "resid_pre") and a.strength == 2.0
    assert a == ActivationAddition(2.0, Site(3, "resid_pre"), prompt="Love")
    # one convention across the library: a bare int is resid_post, also for ActAdd
    assert ActivationAddition(2.0, 3, prompt="Love").site == Site(3, "resid_post")
    with pytest.raises(SteeringError, match="number"):
        ActivationAddition(True, 3, prompt="Love")
    assert ActivationAddition.from_dict(a.to_dict()) == a


def test_x_vector_pads_right_with_the_pad_token(tok):
    plus, minus = x_vector("w5 w6 w7", "w8", 3.0, PRE1, tokenizer=tok, pad_token="w0")
    pad_id = tok.convert_tokens_to_ids("w0")
    assert plus.strength == 3.0 and minus.strength == -3.0
    assert len(plus.tokens) == len(minus.tokens) == 4
    assert minus.tokens[2:] == (pad_id, pad_id)
    assert plus.tokens[0] == minus.tokens[0] == tok.bos_token_id
    # unpadded pair keeps the texts
    p2, m2 = x_vector("w5 w6 w7", "w8", 3.0, PRE1, pad=None)
    assert p2.prompt == "w5 w6 w7" and m2.prompt == "w8"
    with pytest.raises(SteeringError, match="one token"):
        x_vector("w5", "w6 w7", 1.0, PRE1, tokenizer=tok, pad_token="w1 w2")
    with pytest.raises(SteeringError, match="tokens_left"):
        x_vector("w5", "w6", 1.0, PRE1, tokenizer=tok, pad="tokens_left")
    with pytest.raises(SteeringError, match="tokenizer"):
        x_vector("w5", "w6", 1.0, PRE1)
    with pytest.raises(SteeringError, match="finite"):
        x_vector("w5", "w6", float("nan"), PRE1, tokenizer=tok)


@pytest.mark.parametrize("arch", ARCHS3)
def test_addition_lands_once_at_the_front_positions(arch, tok):
    model = make_tiny(arch)
    site = Site(1, "resid_pre")
    act = ActAdd.build(model, tok, list(x_vector("w5 w6 w7", "w8", 3.0, PRE1, tokenizer=tok, pad_token="w0")))
    steer = act.summed()
    assert steer.shape == (4, model.config.hidden_size if arch != "gpt2" else model.config.n_embd)
    before, _ = _resid(model, tok, [PROMPT], site)
    with act.apply(model):
        after, _ = _resid(model, tok, [PROMPT], site)
    diff = (after - before)[0]
    n = len(tok(PROMPT).input_ids)
    torch.testing.assert_close(diff[:4], steer, atol=1e-4, rtol=1e-4)  # exactly once (twice would be 2x)
    assert torch.equal(diff[4:n], torch.zeros_like(diff[4:n]))
    # BOS rows of the two steering prompts coincide: nothing is added at position 0
    assert float(steer[0].norm()) < 1e-3 * float(steer[1:].norm())


def test_front_pair_without_a_shared_first_token_warns(tok):
    """With no BOS (SmolLM2, Qwen), an x-vector's first row does not cancel and lands on the attention sink."""
    import warnings

    model = make_tiny("llama")
    w = [tok.convert_tokens_to_ids(f"w{i}") for i in (5, 8, 9)]
    no_bos = [ActivationAddition(2.0, PRE1, tokens=[w[0]]), ActivationAddition(-2.0, PRE1, tokens=[w[1]])]
    with pytest.warns(UserWarning, match="attention sink"):
        ActAdd.build(model, tok, no_bos)
    shared = [ActivationAddition(2.0, PRE1, tokens=[w[2], w[0]]), ActivationAddition(-2.0, PRE1, tokens=[w[2], w[1]])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        act = ActAdd.build(model, tok, shared)  # a shared first token (BOS or a prefix): no warning
        ActAdd.build(model, tok, no_bos, location="back")  # not at the front: the sink is not touched
    assert float(act.summed()[0].norm()) < 1e-3 * float(act.summed()[1].norm())


@pytest.mark.parametrize("location,start", [("back", 3), ("mid", 2), (1, 1)])
def test_other_locations(location, tok, start):
    model = make_tiny("llama")
    site = Site(1, "resid_pre")
    act = ActAdd.build(model, tok, [ActivationAddition(2.0, PRE1, prompt="w5 w6")], location=location)  # 3 tokens
    before, _ = _resid(model, tok, [PROMPT], site)  # 7 tokens: back -> 4..6, mid -> 7//2 - 1 = 2
    with act.apply(model):
        after, _ = _resid(model, tok, [PROMPT], site)
    changed = ((after - before)[0].abs().amax(-1) > 0).nonzero()[:, 0].tolist()
    start = {"back": 4, "mid": 2}.get(location, start) if isinstance(location, str) else location
    assert changed == list(range(start, start + 3))


def test_dimension_slice_changes_only_those_dimensions(tok):
    model = make_tiny("llama")
    site = Site(1, "resid_pre")
    act = ActAdd.build(model, tok, [ActivationAddition(2.0, PRE1, prompt="w5 w6")], dims=slice(0, 8))
    before, _ = _resid(model, tok, [PROMPT], site)
    with act.apply(model):
        after, _ = _resid(model, tok, [PROMPT], site)
    diff = (after - before)[0]
    assert float(diff[:, 8:].abs().max()) == 0.0 and float(diff[:, :8].abs().max()) > 0
    half = ActAdd.build(model, tok, [ActivationAddition(2.0, PRE1, prompt="w5 w6")], dims=0.5)
    assert int(half.edits()[0].dims.sum()) == 16
    with pytest.raises(SteeringError):
        ActAdd.build(model, tok, [ActivationAddition(2.0, PRE1, prompt="w5 w6")], dims=1.5)


@pytest.mark.parametrize("arch", ARCHS3)
def test_coefficient_zero_is_a_no_op(arch, tok):
    model = make_tiny(arch)
    act = ActAdd.build(model, tok, list(x_vector("w5 w6 w7", "w8", 0.0, PRE1, tokenizer=tok, pad_token="w0")))
    plain = _logits(model, tok, PROMPT)
    with act.apply(model):
        steered = _logits(model, tok, PROMPT)
    assert torch.equal(plain, steered)


@pytest.mark.parametrize("arch", ARCHS3)
def test_identical_prompts_cancel_and_sign_is_symmetric(arch, tok):
    model = make_tiny(arch)
    same = ActAdd.build(model, tok, list(x_vector("w5 w6", "w5 w6", 4.0, PRE1, tokenizer=tok, pad_token="w0")))
    plain = _logits(model, tok, PROMPT)
    with same.apply(model):
        torch.testing.assert_close(_logits(model, tok, PROMPT), plain, atol=1e-4, rtol=1e-4)
    site = Site(1, "resid_pre")
    pos = ActAdd.build(model, tok, list(x_vector("w5 w6", "w7", 2.0, PRE1, tokenizer=tok, pad_token="w0")))
    neg = ActAdd.build(model, tok, list(x_vector("w5 w6", "w7", -2.0, PRE1, tokenizer=tok, pad_token="w0")))
    torch.testing.assert_close(pos.summed(), -neg.summed())
    base, _ = _resid(model, tok, [PROMPT], site)
    with pos.apply(model):
        up, _ = _resid(model, tok, [PROMPT], site)
    with neg.apply(model):
        down, _ = _resid(model, tok, [PROMPT], site)
    torch.testing.assert_close(up - base, -(down - base), atol=1e-4, rtol=1e-4)


def test_padding_changes_results(tok):
    model = make_tiny("llama")
    padded = ActAdd.build(model, tok, list(x_vector("w5 w6 w7", "w8", 3.0, PRE1, tokenizer=tok, pad_token="w0")))
    unpadded = ActAdd.build(model, tok, list(x_vector("w5 w6 w7", "w8", 3.0, PRE1, pad=None)))
    assert padded.max_len == unpadded.max_len == 4
    assert not torch.allclose(padded.summed(), unpadded.summed())


def test_additions_at_one_site_add_up(tok):
    model = make_tiny("llama")
    site = Site(1, "resid_pre")
    a = ActivationAddition(1.5, PRE1, prompt="w5 w6")
    b = ActivationAddition(-0.5, PRE1, prompt="w7")
    both = ActAdd.build(model, tok, [a, b])
    one_a, one_b = ActAdd.build(model, tok, [a]), ActAdd.build(model, tok, [b])
    base, _ = _resid(model, tok, [PROMPT], site)
    with both.apply(model):
        ab, _ = _resid(model, tok, [PROMPT], site)
    with one_a.apply(model), one_b.apply(model):
        nested, _ = _resid(model, tok, [PROMPT], site)
    torch.testing.assert_close(ab, nested)
    torch.testing.assert_close((ab - base)[0, :3], both.summed(), atol=1e-4, rtol=1e-4)


def test_steering_longer_than_the_prompt_is_an_error_or_padded(tok):
    model = make_tiny("llama")
    act = ActAdd.build(model, tok, [ActivationAddition(2.0, PRE1, prompt="w1 w2 w3 w4 w5 w6 w7 w8")])  # 9 tokens
    with act.apply(model), pytest.raises(PositionError, match="9 tokens"):
        _logits(model, tok, "w10 w11")
    with pytest.raises(SteeringError, match="injection='pad'"):
        compare(model, tok, "w10 w11", act, n=1, config=SamplingConfig(max_new_tokens=2, temperature=0))
    comp = compare(model, tok, "w10 w11", act, n=1, config=SamplingConfig(max_new_tokens=2, temperature=0), injection="pad")
    assert len(comp.steered) == 1 and comp.sampling["injection"] == "pad"


@pytest.mark.parametrize("arch", ARCHS3)
def test_cached_equals_uncached_and_batched_equals_unbatched(arch, tok):
    model = make_tiny(arch)
    act = ActAdd.build(model, tok, list(x_vector("w5 w6 w7", "w8", 3.0, PRE1, tokenizer=tok, pad_token="w0")))
    with act.apply(model):
        cached = generate(model, tok, PROMPTS, max_new_tokens=6, use_cache=True).new_ids
        uncached = generate(model, tok, PROMPTS, max_new_tokens=6, use_cache=False).new_ids
        single = [generate(model, tok, [p], max_new_tokens=6).new_ids[0] for p in PROMPTS]
    plain = generate(model, tok, PROMPTS, max_new_tokens=6).new_ids
    assert cached == uncached == single
    assert cached != plain  # the steering does something


def test_left_padded_batch_aligns_per_row(tok):
    model = make_tiny("llama")
    act = ActAdd.build(model, tok, [ActivationAddition(2.0, PRE1, prompt="w5 w6")])
    rows = tok(PROMPTS).input_ids
    width = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :] = torch.tensor(r)
        mask[i, width - len(r) :] = 1
    position_ids = (mask.cumsum(1) - 1).clamp(min=0)
    with act.apply(model), torch.no_grad():
        batched = model(input_ids=ids, attention_mask=mask, position_ids=position_ids, output_hidden_states=True)
        for i, r in enumerate(rows):
            alone = model(input_ids=torch.tensor([r]), output_hidden_states=True)
            for layer in (1, 2, 3):
                torch.testing.assert_close(
                    batched.hidden_states[layer][i, width - len(r) :], alone.hidden_states[layer][0], atol=1e-4, rtol=1e-4
                )
    with torch.no_grad():  # and the steering did change the rows
        plain = model(input_ids=ids, attention_mask=mask, position_ids=position_ids, output_hidden_states=True)
    assert not torch.allclose(plain.hidden_states[2], batched.hidden_states[2])


def test_sampling_is_paired_and_restores_the_global_rng(tok):
    model = make_tiny("llama")
    zero = ActAdd.build(model, tok, list(x_vector("w5 w6 w7", "w8", 0.0, PRE1, tokenizer=tok, pad_token="w0")))
    cfg = SamplingConfig(max_new_tokens=8, temperature=1.0, top_p=0.9, freq_penalty=0.5)
    torch.manual_seed(99)
    expected = torch.rand(3)
    torch.manual_seed(99)
    comp = compare(model, tok, PROMPT, zero, n=4, seed=7, config=cfg)
    assert torch.equal(torch.rand(3), expected)  # global stream untouched
    assert comp.unsteered == comp.steered  # coefficient 0 + same seed = same samples
    assert len(set(comp.unsteered)) > 1  # the rows did sample differently from each other
    strong = ActAdd.build(model, tok, list(x_vector("w5 w6 w7", "w8", 50.0, PRE1, tokenizer=tok, pad_token="w0")))
    comp2 = compare(model, tok, PROMPT, strong, n=4, seed=7, config=cfg)
    assert comp2.unsteered == comp.unsteered and comp2.steered != comp2.unsteered
    with pytest.raises(SteeringError, match="non-empty"):
        compare(model, tok, "", strong, n=1)


def test_frequency_penalty_counts_generated_tokens_only():
    fp = FrequencyPenalty(2.0)
    ids = torch.tensor([[5, 5, 6]])
    scores = torch.zeros(1, 10)
    assert torch.equal(fp(ids, scores), scores)  # first call: nothing generated yet
    for new in ([7], [7, 7]):  # generate feeds one more token per step
        fp(torch.tensor([[5, 5, 6, *new]]), scores)
    out = fp(torch.tensor([[5, 5, 6, 7, 7, 5]]), scores)
    assert out[0, 7] == -4.0 and out[0, 5] == -2.0 and out[0, 6] == 0.0


def test_frequency_penalty_restarts_with_each_generation():
    """generate() runs the rows of each length apart on models that ignore padding, with one processor: a call that
    does not extend the previous one by a token is a new prompt, whose own tokens are not penalised."""
    fp = FrequencyPenalty(2.0)
    scores = torch.zeros(1, 10)
    for ids in ([5, 5], [5, 5, 7], [5, 5, 7, 7]):
        fp(torch.tensor([ids]), scores)
    # a new, longer prompt (length 5 = the previous length + 1, but not its continuation)
    assert torch.equal(fp(torch.tensor([[8, 8, 8, 7, 7]]), scores), scores)
    out = fp(torch.tensor([[8, 8, 8, 7, 7, 8]]), scores)
    assert out[0, 8] == -2.0 and out[0, 7] == 0.0


def test_warp_matches_hugging_face_warpers():
    from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    from steerlens.steering.generation import Warp

    g = torch.Generator().manual_seed(0)
    ids = torch.zeros(6, 1, dtype=torch.long)
    for vocab, scale in ((5000, 1.0), (5000, 6.0), (300, 0.1)):
        # scale 0.1: a flat distribution, whose nucleus is larger than the first topk of 256
        scores = torch.randn(6, vocab, generator=g) * scale
        scores[0, :10] = 3.0  # ties
        for temp, k, p in ((1.0, None, 0.3), (0.7, None, 0.9), (1.3, 50, 0.5), (1.0, 20, None), (1.0, None, 1.0)):
            ref = scores.clone()
            if temp != 1.0:
                ref = TemperatureLogitsWarper(temp)(ids, ref)
            if k is not None:
                ref = TopKLogitsWarper(k)(ids, ref)
            if p is not None and p < 1:
                ref = TopPLogitsWarper(p)(ids, ref)
            got = Warp(temp, k, p)(ids, scores.clone())
            # row 0 has ties at the top: which tied tokens survive is the sort's choice, so compare counts there
            assert torch.equal(torch.isinf(got[1:]), torch.isinf(ref[1:])), (vocab, scale, temp, k, p)
            assert int((~torch.isinf(got[0])).sum()) == int((~torch.isinf(ref[0])).sum())
            kept = ~torch.isinf(ref[1:])
            assert torch.allclose(got[1:][kept], ref[1:][kept])
    kw = SamplingConfig(temperature=0.5, top_p=0.3).generate_kwargs()
    assert kw["temperature"] == 1.0 and kw["top_p"] == 1.0 and kw["top_k"] == 0  # Hugging Face's own warpers are off
    assert [type(x).__name__ for x in kw["logits_processor"]] == ["FrequencyPenalty", "Warp"]


def test_sampling_config_errors():
    for kw in ({"max_new_tokens": 0}, {"temperature": -1}, {"top_p": 0}, {"top_k": 0}):
        with pytest.raises(SteeringError):
            SamplingConfig(**kw)
    assert SamplingConfig(temperature=0).generate_kwargs()["do_sample"] is False


def test_comparison_renders(tok, tmp_path):
    model = make_tiny("llama")
    act = ActAdd.build(model, tok, list(x_vector("w5 w6 w7", "w8", 3.0, PRE1, tokenizer=tok, pad_token="w0")))
    comp = compare(model, tok, PROMPT, act, n=2, config=SamplingConfig(max_new_tokens=4))
    comp.score("length", lambda ts: [len(t) for t in ts])
    page = comp.save_html(tmp_path / "c.html").read_text()
    assert "<b>w10 w11" in page and "Steered completions" in page and "length" in page
    data = json.loads(comp.save_json(tmp_path / "c.json").read_text())
    assert data["steered"] == comp.steered and data["scores"]["length"]["steered"]
    from rich.console import Console

    console = Console(record=True, width=120)
    comp.print(console)
    text = console.export_text()
    assert "Unsteered completions" in text and "mean length" in text


def test_actadd_save_load_roundtrip(tok, tmp_path):
    model = make_tiny("llama")
    act = ActAdd.build(
        model, tok, list(x_vector("w5 w6 w7", "w8", 3.0, PRE1, tokenizer=tok, pad_token="w0")), location="back", dims=slice(0, 16)
    )
    act.save(tmp_path / "a")
    back = ActAdd.load(tmp_path / "a", model=model)
    assert back.additions == act.additions and back.location == "back" and back.dims == slice(0, 16)
    for t1, t2 in zip(back.tensors, act.tensors):
        assert torch.equal(t1, t2)
    with pytest.raises(IncompatibleArtifactError):
        ActAdd.load(tmp_path / "a", model=make_tiny("gpt2"))


def test_bad_site_and_hidden_size(tok):
    model = make_tiny("llama")
    with pytest.raises(SiteError):
        ActAdd.build(model, tok, [ActivationAddition(1.0, 99, prompt="w5")])
    other = ActAdd.build(make_tiny("llama"), tok, [ActivationAddition(1.0, PRE1, prompt="w5")])
    other.tensors = [torch.zeros(2, 48)]
    with pytest.raises(ShapeError, match="hidden size"):
        other.edits(model)


# --------------------------------------------------------------------------- vectors

PAIRS = [("w5 w6 w7", "w8 w9"), ("w10 w11", "w12 w13 w14"), ("w15", "w16"), ("w17 w18 w19 w20", "w21 w22")]


@pytest.mark.parametrize("method", ["mean_diff", "pca", "logistic"])
def test_train_steering_vector(method, tok):
    model = make_tiny("llama")
    vec = train_steering_vector(model, tok, PAIRS, [0, 1, 2], method=method)
    assert vec.layers == [0, 1, 2] and vec.point == "resid_post" and vec.d_model == 32
    texts = [p for p, _ in PAIRS] + [n for _, n in PAIRS]
    acts = capture(model, texts, [Site(1)], tokenizer=tok, positions="last")
    h = acts[Site(1)].double()
    mean = (h[:4] - h[4:]).mean(0)
    if method == "mean_diff":
        torch.testing.assert_close(vec.directions[1].double(), mean, atol=1e-5, rtol=1e-5)
    else:
        # unit direction sign-aligned with the mean difference and scaled by its component along it
        v = vec.directions[1].double()
        assert float(v @ mean) > 0
        torch.testing.assert_close(float(v.norm() ** 2), float(v @ mean), rtol=1e-4, atol=1e-6)


def test_vector_read_mean_and_index(tok):
    model = make_tiny("llama")
    v_last = train_steering_vector(model, tok, PAIRS, 1)
    v_idx = train_steering_vector(model, tok, PAIRS, 1, read=-1)
    torch.testing.assert_close(v_last.directions[1], v_idx.directions[1])
    v_mean = train_steering_vector(model, tok, PAIRS, 1, read="mean")
    assert not torch.allclose(v_mean.directions[1], v_last.directions[1])
    with pytest.raises(SteeringError, match="outside"):
        train_steering_vector(model, tok, PAIRS, 1, read=7)
    with pytest.raises(SteeringError, match="method"):
        train_steering_vector(model, tok, PAIRS, 1, method="svm")
    with pytest.raises(SiteError):
        train_steering_vector(model, tok, PAIRS, 9)


@pytest.mark.parametrize("at", ["all", "generated", From(3)])
def test_vector_steering_is_cache_and_batch_invariant(at, tok):
    model = make_tiny("llama")
    vec = train_steering_vector(model, tok, PAIRS, [1, 2])
    with vec.apply(model, strength=3.0, positions=at):
        cached = generate(model, tok, PROMPTS, max_new_tokens=6, use_cache=True).new_ids
        uncached = generate(model, tok, PROMPTS, max_new_tokens=6, use_cache=False).new_ids
        single = [generate(model, tok, [p], max_new_tokens=6).new_ids[0] for p in PROMPTS]
    plain = generate(model, tok, PROMPTS, max_new_tokens=6).new_ids
    assert cached == uncached == single
    assert cached != plain


def test_generated_only_steering_leaves_the_prompt_pass_alone(tok):
    model = make_tiny("llama")
    vec = train_steering_vector(model, tok, PAIRS, [1])
    plain = _logits(model, tok, PROMPT)
    with vec.apply(model, strength=3.0, positions="generated"):
        assert torch.equal(_logits(model, tok, PROMPT), plain)
    with vec.apply(model, strength=0.0):
        assert torch.equal(_logits(model, tok, PROMPT), plain)
    with vec.apply(model, strength=3.0):
        assert not torch.allclose(_logits(model, tok, PROMPT), plain)
    with pytest.raises(SteeringError, match="finite"):
        vec.edits(model, float("inf"))
    with pytest.raises(SiteError, match="no direction at resid_post.0"):
        vec.edits(model, 1.0, sites=[0])
    assert [e.site for e in vec.edits(model, 1.0, sites="resid_post.1")] == [Site(1)]
    with pytest.raises(SiteError, match="one point"):
        train_steering_vector(model, tok, PAIRS, ["resid_pre.1", 2])


def test_vector_save_load_and_hidden_size_check(tok, tmp_path):
    model = make_tiny("llama")
    vec = train_steering_vector(model, tok, PAIRS, [1, 2], method="pca")
    vec.save(tmp_path / "v")
    back = SteeringVector.load(tmp_path / "v", model=model)
    assert back.layers == [1, 2] and back.method == "pca" and back.meta["pairs"] == 4
    assert torch.equal(back.directions[2], vec.directions[2])
    with pytest.raises(IncompatibleArtifactError):
        SteeringVector.load(tmp_path / "v", model=make_tiny("gpt2"))
    wrong = SteeringVector({1: torch.zeros(48)})
    with pytest.raises(ShapeError, match="hidden size"):
        wrong.edits(model)


def test_gguf_control_vector_roundtrip(tok, tmp_path):
    import gguf

    model = make_tiny("llama")
    vec = train_steering_vector(model, tok, PAIRS, [1, 2])
    path = vec.to_gguf(tmp_path / "v.gguf")
    reader = gguf.GGUFReader(str(path))
    names = sorted(t.name for t in reader.tensors)
    assert names == ["direction.1", "direction.2"]
    arch = reader.fields["general.architecture"]
    assert bytes(arch.parts[arch.data[0]]).decode() == "controlvector"
    count = reader.fields["controlvector.layer_count"]
    assert int(count.parts[count.data[0]][0]) == 2
    back = SteeringVector.from_gguf(path)
    assert back.layers == [1, 2]
    torch.testing.assert_close(back.directions[1], vec.directions[1])
    # resid_pre n is block n-1's output
    pre = SteeringVector({2: vec.directions[1]}, point="resid_pre")
    assert SteeringVector.from_gguf(pre.to_gguf(tmp_path / "p.gguf")).layers == [1]
    with pytest.raises(SteeringError, match="block 1"):
        SteeringVector({0: vec.directions[1]}).to_gguf(tmp_path / "z.gguf")


def test_read_pairs_errors_name_the_line(tmp_path):
    good = tmp_path / "p.jsonl"
    good.write_text('{"positive": "a", "negative": "b"}\n\n{"positive": "c", "negative": "d"}\n')
    assert [p.positive for p in read_pairs(good)] == ["a", "c"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"positive": "a", "negative": "b"}\n{"positive": "c"}\n')
    with pytest.raises(DataFormatError, match="line 2: missing field 'negative'"):
        read_pairs(bad)
    bad.write_text('{"positive": "a", "negative": "b"}\n{"positive": "c", "negative": \n')
    with pytest.raises(DataFormatError, match="line 2: invalid JSON"):
        read_pairs(bad)
    bad.write_text('{"positive": "", "negative": "b"}\n')
    with pytest.raises(DataFormatError, match="line 1"):
        read_pairs(bad)
    js = tmp_path / "p.json"
    js.write_text(json.dumps([{"positive": "a", "negative": "b"}, {"negative": "x"}]))
    with pytest.raises(DataFormatError, match="item 2: missing field 'positive'"):
        read_pairs(js)
    with pytest.raises(DataFormatError, match="does not exist"):
        read_pairs(tmp_path / "nope.jsonl")


# --------------------------------------------------------------------------- metrics and sweeps


def test_text_metrics():
    assert word_count(["A wedding! Weddings, wed.", "no"], ["wedding", "weddings", "wed"]) == [3, 0]
    assert word_count(["Wedding wedding"], ["wedding"], case_sensitive=True) == [1]
    assert word_counter(["bride"])(["the bride"]) == [1]
    pos, neg = sentiment(["I love you, you are wonderful", "I hate you, you are awful"])
    assert pos > 0.5 and neg < -0.5
    assert lexicon_balance(["love joy great", "hate awful"]) == [3, -2]
    with pytest.raises(SteeringError):
        word_count(["x"], [])


def test_effectiveness_and_disruption():
    p = torch.softmax(torch.randn(3, 20, generator=torch.Generator().manual_seed(0)), -1)
    e, d = effectiveness_disruption(p, p, [1, 2])
    assert torch.allclose(e, torch.zeros(3)) and torch.allclose(d, torch.zeros(3), atol=1e-7)
    q = p.clone()
    q[:, 1] *= 4
    q = q / q.sum(-1, keepdim=True)
    e2, d2 = effectiveness_disruption(p, q, [1])
    assert bool((e2 > 0).all())
    assert torch.allclose(d2, torch.zeros(3), atol=1e-6)  # a pure reweighting of T vs not-T disrupts nothing
    r = torch.softmax(torch.randn(3, 20, generator=torch.Generator().manual_seed(1)), -1)
    assert bool((effectiveness_disruption(p, r, [1, 2])[1] > 0).all())
    with pytest.raises(SteeringError):
        effectiveness_disruption(p, p[:, :10], [1])


def test_logprob_change_and_next_token_effect(tok):
    model = make_tiny("llama")
    texts = ["w10 w11 w12 w13 w14 w15 w16", "w20 w21 w22 w23 w24"]
    zero = ActAdd.build(model, tok, list(x_vector("w5 w6", "w7", 0.0, PRE1, tokenizer=tok, pad_token="w0")))
    res = logprob_change(model, tok, texts, zero)
    assert res["masked_positions"] == 3 and res["perplexity_ratio"] == 1.0
    # 7 and 5 predictions per text (BOS + 7 / 5 words); the 3 made at the injected positions are dropped
    assert res["tokens"] == (7 - 3) + (5 - 3)
    strong = ActAdd.build(model, tok, list(x_vector("w5 w6", "w7", 5.0, PRE1, tokenizer=tok, pad_token="w0")))
    res2 = logprob_change(model, tok, texts, strong)
    assert res2["perplexity_ratio"] != 1.0 and math.isfinite(res2["perplexity_ratio"])
    eff = next_token_effect(model, tok, texts[0], strong, ["w30", 31])
    assert len(eff["effectiveness"]) == 8 and eff["target_ids"][1] == 31
    assert eff["effectiveness"][0] == pytest.approx(0.0, abs=1e-4)  # BOS row: nothing added at position 0
    with pytest.raises(SteeringError, match="single tokens"):
        next_token_effect(model, tok, texts[0], strong, ["w30 w31"])
    norms = relative_norms(model, tok, strong, texts[0])
    assert len(norms["steering_norm"]) == 3 and len(norms["ratio"]) == 3 and norms["ratio"][1] > 0


def test_sweep_and_plot(tok, tmp_path):
    pytest.importorskip("matplotlib")
    model = make_tiny("llama")
    res = sweep(
        model,
        tok,
        PROMPT,
        "w5 w6",
        "w7",
        sites=["resid_pre.0", "resid_pre.2"],
        strengths=[0.0, 4.0],
        pad_token="w0",
        metric=lambda ts: [len(t) for t in ts],
        metric_name="length",
        n=3,
        config=SamplingConfig(max_new_tokens=4),
        progress=False,
    )
    assert len(res.records) == 4 and len(res.baseline) == 3
    assert res.mean("resid_pre.0", 0.0) == pytest.approx(res.baseline_mean)  # strength 0 reproduces the baseline
    assert "length" in res.table()
    assert res.plot(tmp_path / "s.png").stat().st_size > 1000
    assert json.loads(res.save_json(tmp_path / "s.json").read_text())["sites"] == ["resid_pre.0", "resid_pre.2"]
    with pytest.raises(SteeringError):
        res.mean(0, 4.0)  # resid_post.0 was not swept


def test_sweep_measures_the_perplexity_cost(tok, tmp_path):
    """With cost texts, each setting records the perplexity ratio steered / unsteered on them (injected positions
    masked), as logprob_change computes it: 1 at strength 0, away from 1 under a real push."""
    pytest.importorskip("matplotlib")
    model = make_tiny("llama")
    texts = {"related": ["w5 w6 w9 w10 w11 w12", "w5 w13 w14 w15"], "unrelated": ["w30 w31 w32 w33 w34 w35"]}
    res = sweep(
        model, tok, PROMPT, "w5 w6", "w7", sites=["resid_pre.1"], strengths=[0.0, 8.0], pad_token="w0",
        metric=lambda ts: [len(t) for t in ts], n=2, config=SamplingConfig(max_new_tokens=3), cost_texts=texts,
        progress=False,
    )  # fmt: skip
    zero, push = res.record("resid_pre.1", 0.0), res.record("resid_pre.1", 8.0)
    assert zero["perplexity_ratio"] == {"related": pytest.approx(1.0), "unrelated": pytest.approx(1.0)}
    act = ActAdd.build(model, tok, list(x_vector("w5 w6", "w7", 8.0, "resid_pre.1", tokenizer=tok, pad_token="w0")))
    for name, ts in texts.items():
        expected = logprob_change(model, tok, ts, act)["perplexity_ratio"]
        assert push["perplexity_ratio"][name] == pytest.approx(expected, rel=1e-5) and abs(expected - 1) > 1e-3
    assert "perplexity ratio (steered / unsteered) on unrelated texts" in res.table()
    assert res.plot(tmp_path / "s.png").stat().st_size > 1000


def test_sweep_parts_merge_into_the_single_run(tok, tmp_path):
    """A grid run in parts (different sites, different strengths, separate calls) and merged from its JSON files
    is the grid of one call, cell for cell; mismatched parts and disagreeing cells are typed errors."""
    model = make_tiny("llama")
    texts = {"related": ["w5 w6 w9 w10"], "unrelated": ["w30 w31 w32 w33"]}
    kw = dict(
        pad_token="w0", metric=lambda ts: [len(t) for t in ts], n=3, seed=5, config=SamplingConfig(max_new_tokens=4),
        cost_texts=texts, progress=False,
    )  # fmt: skip
    whole = sweep(model, tok, PROMPT, "w5 w6", "w7", sites=["resid_pre.0", "resid_pre.2"], strengths=[2.0, 8.0], **kw)
    a = sweep(model, tok, PROMPT, "w5 w6", "w7", sites=["resid_pre.2"], strengths=[8.0, 2.0], **kw)
    b = sweep(model, tok, PROMPT, "w5 w6", "w7", sites=["resid_pre.0"], strengths=[2.0], **kw)
    c = sweep(model, tok, PROMPT, "w5 w6", "w7", sites=["resid_pre.0"], strengths=[8.0, 2.0], **kw)  # one cell in b too
    parts = [SweepResult.load_json(x.save_json(tmp_path / f"{i}.json")) for i, x in enumerate((a, b, c))]
    merged = SweepResult.merge(parts)
    assert merged.sites == whole.sites and merged.strengths == whole.strengths
    assert merged.records == whole.records and merged.baseline == whole.baseline
    assert merged.table() == whole.table()
    partial = SweepResult.merge(parts[:2])  # resid_pre.0 at strength 8 is missing: shown as "-"
    assert len(partial.records) == 3 and "-  " in partial.table()
    other_seed = sweep(model, tok, PROMPT, "w5 w6", "w7", sites=["resid_pre.1"], strengths=[2.0], **(kw | {"seed": 6}))
    with pytest.raises(SteeringError, match="baseline"):
        SweepResult.merge([a, other_seed])
    bad = SweepResult.load_json(tmp_path / "1.json")
    bad.records[0] = dict(bad.records[0], mean=bad.records[0]["mean"] + 1)
    with pytest.raises(SteeringError, match="disagree on the cell resid_pre.0, strength 2"):
        SweepResult.merge([bad, c])
    with pytest.raises(SteeringError, match="No sweep file"):
        SweepResult.load_json(tmp_path / "missing.json")
    (tmp_path / "junk.json").write_text('{"prompt": 1}')
    with pytest.raises(SteeringError, match="not a sweep"):
        SweepResult.load_json(tmp_path / "junk.json")


def test_sample_accepts_token_ids(tok):
    model = make_tiny("llama")
    ids = tok([PROMPT]).input_ids
    a = sample(model, tok, ids, seed=3, config=SamplingConfig(max_new_tokens=4, temperature=0))
    b = sample(model, tok, [PROMPT], seed=3, config=SamplingConfig(max_new_tokens=4, temperature=0))
    assert a == b
    with pytest.raises(SteeringError):
        sample(model, tok, [""])


def test_intervene_with_actadd_edits_directly(tok):
    model = make_tiny("llama")
    act = ActAdd.build(model, tok, [ActivationAddition(2.0, PRE1, prompt="w5")])
    with intervene(model, act.edits(model)):
        a = _logits(model, tok, PROMPT)
    with act.apply(model):
        b = _logits(model, tok, PROMPT)
    assert torch.equal(a, b)


def test_text_drift_is_zero_unsteered_and_sums_as_documented():
    from steerlens.errors import ShapeError
    from steerlens.steering.metrics import summarize_drift, text_drift

    torch.manual_seed(0)
    ref = torch.log_softmax(torch.randn(4, 10), -1)
    row = [1, 2, 3, 4]
    same = text_drift(ref, ref, row)
    assert same.kl == 0.0 and same.logprob_change == 0.0 and same.hits == same.base_hits
    assert summarize_drift([same]) == {"kl": 0.0, "perplexity_ratio": 1.0, "accuracy_change": 0.0}
    lp = torch.log_softmax(torch.randn(4, 10), -1)
    d = text_drift(lp, ref, row)
    kl = float((lp.exp() * (lp - ref)).sum())
    own = float(sum(lp[t, row[t + 1]] - ref[t, row[t + 1]] for t in range(3)))
    assert d.kl == pytest.approx(kl) and d.logprob_change == pytest.approx(own) and d.positions == 4
    s = summarize_drift([d, same])
    assert s["kl"] == pytest.approx(kl / 8) and s["perplexity_ratio"] == pytest.approx(math.exp(-own / 6))
    with pytest.raises(ShapeError):
        text_drift(lp, ref, row[:3])
    with pytest.raises(ShapeError):
        summarize_drift([])
