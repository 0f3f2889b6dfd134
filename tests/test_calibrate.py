"""Calibration: effect and side effects measured right, the budget respected, halving cheaper than the grid."""

import json
import math

import pytest
import torch

from conftest import make_tiny
from steerlens.errors import ConfigError, DataFormatError, SteeringError
from steerlens.model import Add, Site, intervene
from steerlens.model.capture import next_token_logprobs
from steerlens.model.tokens import encode
from steerlens.steering import ActAdd, SteeringVector, x_vector
from steerlens.steering.calibrate import ContrastEffect, TokenEffect, calibrate, pareto_front, steerer
from tests_helpers import tiny_tokenizer

TOK = tiny_tokenizer()
PAIRS = [(f"w{i} w{i + 1} w{i + 2} w5 w6", f"w{i} w{i + 1} w{i + 2} w7 w8") for i in range(10, 22)]
NEUTRAL = [" ".join(f"w{(7 * i + 3 * k) % 80 + 4}" for k in range(9)) for i in range(6)]


def _vector(model, layers=(0, 1)):
    g = torch.Generator().manual_seed(3)
    d = model.config.hidden_size
    return SteeringVector({k: torch.randn(d, generator=g) for k in layers})


def test_contrast_effect_sums_the_continuation_log_probs():
    model = make_tiny("llama")
    eff = ContrastEffect(TOK, PAIRS[:3])
    got = eff.score(model, [0, 1, 2])
    for i, (a, b) in enumerate(PAIRS[:3]):
        la, lb = next_token_logprobs(model, encode(TOK, [a, b]))
        # BOS + 3 shared words: the continuation is tokens 4.. ; log-prob entries 3..
        assert got[i] == pytest.approx(float(la[3:].sum() - lb[3:].sum()), abs=1e-5)
    assert eff.prompts([0]) == ["w10 w11 w12"]


def test_contrast_effect_refuses_pairs_without_two_continuations():
    with pytest.raises(DataFormatError, match="prefix"):
        ContrastEffect(TOK, [("w4 w5", "w4 w5 w6")])


def test_token_effect_and_single_token_targets():
    model = make_tiny("llama")
    eff = TokenEffect(TOK, ["w4 w5", "w9"], ["w7", 20])
    assert eff.target_ids == [11, 20]  # word wN has id N + 4
    got = eff.score(model, [0, 1])
    full = next_token_logprobs(model, encode(TOK, ["w4 w5 w7", "w9 w7"]))
    # log P({w7, w16}) >= log P(w7) at the next token
    assert got[0] >= full[0][-1] - 1e-6 and got[1] >= full[1][-1] - 1e-6


def test_side_effects_match_a_direct_computation():
    """One candidate on every item: KL(steered || unsteered) per token and the perplexity ratio, recomputed."""
    model = make_tiny("llama")
    vec = _vector(model, (1,))
    res = calibrate(
        model,
        TOK,
        vec,
        ContrastEffect(TOK, PAIRS),
        NEUTRAL,
        sites=[Site(1)],
        strengths=[0.5],
        search="grid",
        max_kl=100.0,
        max_perplexity_ratio=100.0,
        progress=False,
    )
    (rec,) = res.records
    rows = encode(TOK, NEUTRAL)
    kl_sum, n, dlp = 0.0, 0, 0.0
    for r in rows:
        ids = torch.tensor([r])
        with torch.no_grad():
            p0 = torch.log_softmax(model(ids).logits[0].float(), -1)
            with intervene(model, [Add(Site(1), vec.directions[1], strength=0.5)]):
                p1 = torch.log_softmax(model(ids).logits[0].float(), -1)
        kl_sum += float((p1.exp() * (p1 - p0)).sum())
        n += len(r)
        tgt = torch.tensor(r[1:])[:, None]
        dlp += float((p1[:-1].gather(-1, tgt) - p0[:-1].gather(-1, tgt)).sum())
    assert rec["kl"] == pytest.approx(kl_sum / n, rel=2e-3, abs=1e-5)  # reference held in fp16
    n_tok = sum(len(r) - 1 for r in rows)
    assert rec["perplexity_ratio"] == pytest.approx(math.exp(-dlp / n_tok), rel=2e-3)
    eff = ContrastEffect(TOK, PAIRS)
    base = eff.score(model, range(len(PAIRS)))
    with intervene(model, [Add(Site(1), vec.directions[1], strength=0.5)]):
        steered = eff.score(model, range(len(PAIRS)))
    assert rec["effect"] == pytest.approx(float((steered - base).mean()), abs=1e-4)


def test_zero_strength_has_no_side_effects():
    model = make_tiny("llama")
    res = calibrate(
        model, TOK, _vector(model), ContrastEffect(TOK, PAIRS), NEUTRAL, sites=[1], strengths=[0.0], search="grid", progress=False
    )
    (rec,) = res.records
    assert rec["effect"] == pytest.approx(0.0, abs=1e-5) and rec["kl"] == pytest.approx(0.0, abs=1e-4)
    assert rec["perplexity_ratio"] == pytest.approx(1.0, abs=1e-3) and rec["feasible"]


def _runs(model, **kw):
    args = dict(
        sites=[0, 1], strengths=[-4, -1, 0.5, 1, 2, 4, 8], max_kl=0.05, max_perplexity_ratio=1.5, progress=False, min_items=2
    )
    args.update(kw)
    return calibrate(model, TOK, _vector(model), ContrastEffect(TOK, PAIRS), NEUTRAL, **args)


def test_grid_chooses_the_best_feasible_point_and_halving_is_cheaper():
    model = make_tiny("llama")
    grid = _runs(model, search="grid", prune=False)
    assert len(grid.records) == 14 and all(r["items"] == len(PAIRS) for r in grid.records)
    feasible = [r for r in grid.records if r["kl"] <= 0.05 and r["perplexity_ratio"] <= 1.5]
    assert [r["feasible"] for r in grid.records].count(True) == len(feasible)
    assert feasible and len(feasible) < 14, "the test needs both feasible and infeasible candidates"
    assert grid.chosen == max(feasible, key=lambda r: r["effect"])
    half = _runs(model, search="halving")
    assert half.cost_tokens < grid.cost_tokens
    assert half.chosen is not None and half.chosen["feasible"] and half.chosen["items"] == len(PAIRS)
    # every evaluation on all items agrees with the grid's (per-item scores are reused, not re-drawn)
    by_key = {(r["site"], r["strength"]): r for r in grid.records}
    for r in half.full:
        g = by_key[(r["site"], r["strength"])]
        assert r["effect"] == pytest.approx(g["effect"], abs=1e-5) and r["kl"] == pytest.approx(g["kl"], abs=1e-6)
    # the frontier is non-dominated and sorted by KL
    kls = [r["kl"] for r in grid.frontier]
    assert kls == sorted(kls) and [r["effect"] for r in grid.frontier] == sorted(r["effect"] for r in grid.frontier)


def test_pruning_skips_strengths_beyond_a_broken_budget():
    model = make_tiny("llama")
    res = _runs(model, search="grid", prune=True, max_kl=1e-4, max_perplexity_ratio=1.0001)
    tried = {(r["site"], r["strength"]) for r in res.records}
    assert ("resid_post.0", 8.0) not in tried and ("resid_post.0", 0.5) in tried
    assert res.chosen is None and "No candidate meets the budget" in res.table()


def test_same_seed_same_choice_and_json(tmp_path):
    model = make_tiny("llama")
    a, b = _runs(model, seed=5), _runs(model, seed=5)
    assert a.records == b.records and a.chosen == b.chosen
    path = a.save_json(tmp_path / "c.json")
    data = json.loads(path.read_text())
    assert data["chosen"] == a.chosen and len(data["records"]) == len(a.records)
    assert a.plot(tmp_path / "c.png").stat().st_size > 1000


def test_confirmation_by_generation_picks_among_the_feasible_finalists():
    model = make_tiny("llama")
    res = _runs(model, confirm=lambda texts: [t.count("w5") for t in texts], confirm_top=2)
    tried = res.confirmation["candidates"]
    assert 1 <= len(tried) <= 2 and res.chosen is not None
    best = max(tried, key=lambda t: t["metric"])
    assert (res.chosen["site"], res.chosen["strength"]) == (best["site"], best["strength"])


def test_actadd_pair_steerer_scales_a_unit_x_vector():
    model = make_tiny("llama")
    steer = steerer(model, ("w4 w5", "w6 w7"), TOK)
    direct = ActAdd.build(model, TOK, x_vector("w4 w5", "w6 w7", 3.0, Site(1), tokenizer=TOK))
    ids = torch.tensor([encode(TOK, ["w9 w10 w11 w12"])[0]])
    with torch.no_grad(), intervene(model, steer(Site(1), 3.0)):
        a = model(ids).logits
    with torch.no_grad(), direct.apply(model):
        b = model(ids).logits
    assert torch.allclose(a, b, atol=1e-5)


def test_bad_configuration_is_refused():
    model = make_tiny("llama")
    eff = ContrastEffect(TOK, PAIRS)
    with pytest.raises(ConfigError, match="eta"):
        calibrate(model, TOK, _vector(model), eff, NEUTRAL, sites=[1], strengths=[1], eta=1)
    with pytest.raises(ConfigError, match="repeat"):
        calibrate(model, TOK, _vector(model), eff, NEUTRAL, sites=[1], strengths=[1, 1])
    with pytest.raises(SteeringError, match="Cannot calibrate"):
        calibrate(model, TOK, 42, eff, NEUTRAL, sites=[1], strengths=[1])
    with pytest.raises(SteeringError, match="neutral"):
        calibrate(model, TOK, _vector(model), eff, [], sites=[1], strengths=[1])


def test_pareto_front():
    pts = [(0.1, 1.0), (0.2, 0.5), (0.05, 0.2), (0.3, 2.0)]
    assert pareto_front(pts) == [2, 0, 3]
