"""The cross-method benchmark (``steerlens bench``) on a tiny model: every writer scored, deterministic, typed errors."""

import json

import pytest
import torch

from conftest import make_tiny
from steerlens.bench import WRITERS, BenchConfig, Leaderboard, auroc, run_bench
from steerlens.errors import ConfigError
from tests_helpers import char_tokenizer

SMALL = BenchConfig(concepts=("sentiment",), n_train=4, n_test=3, strengths=(-0.5, 0.0, 0.5), n_neutral=2, layer=1)


@pytest.fixture(scope="module")
def board() -> Leaderboard:
    return run_bench(make_tiny("llama"), char_tokenizer(), SMALL, progress=False)


def test_every_writer_is_scored_on_held_out_items(board):
    assert [r["writer"] for r in board.rows] == list(WRITERS)
    assert board.site == "resid_post.1" and board.residual_norm > 0
    for r in board.rows:
        assert 0.0 <= r["auroc"] <= 1.0
        assert r["kl"] >= 0 and r["perplexity_ratio"] > 0
        if r["writer"] == "project_out":
            assert r["steerability"] is None and r["anti_steerable"] is None
        else:
            assert r["steerability"] is not None and 0.0 <= r["anti_steerable"] <= 1.0
            # the curve at alpha = 0 is the unsteered score, and the slope is the curve's least-squares slope
            curve = board.curves["sentiment"][r["writer"]]
            assert curve[1] == board.unsteered["sentiment"]["score"]
            assert r["steerability"] == pytest.approx((curve[2] - curve[0]) / 1.0, rel=1e-4, abs=1e-4)
            assert r["effect_at_max"] == pytest.approx(curve[2] - curve[1], rel=1e-4, abs=1e-4)


def test_two_runs_give_the_same_leaderboard(board, tmp_path):
    again = run_bench(make_tiny("llama"), char_tokenizer(), SMALL, progress=False)
    assert json.dumps(again.to_dict(), sort_keys=True) == json.dumps(board.to_dict(), sort_keys=True)
    board.save(tmp_path)
    saved = json.loads((tmp_path / "leaderboard.json").read_text())
    assert saved["config_hash"] == board.config_hash and len(saved["rows"]) == len(WRITERS)
    assert "| sentiment | mean_diff |" in (tmp_path / "leaderboard.md").read_text()
    assert (tmp_path / "curves.png").stat().st_size > 1000


def test_config_hash_follows_the_config_and_the_model():
    fp = "model-a"
    assert SMALL.digest(fp) == BenchConfig(**{**SMALL.__dict__}).digest(fp)
    assert SMALL.digest(fp) != BenchConfig(**{**SMALL.__dict__, "seed": 1}).digest(fp)
    assert SMALL.digest(fp) != SMALL.digest("model-b")


def test_bad_configs_are_refused():
    model, tok = make_tiny("llama"), char_tokenizer()
    with pytest.raises(ConfigError, match="Unknown writer"):
        run_bench(model, tok, BenchConfig(writers=("caa",)), progress=False)
    with pytest.raises(ConfigError, match="include 0"):
        run_bench(model, tok, BenchConfig(strengths=(0.1, 0.2)), progress=False)
    with pytest.raises(ConfigError, match="held-out prompts asked"):
        run_bench(model, tok, BenchConfig(concepts=("sentiment",), n_train=90, n_test=20, writers=("mean_diff",)), progress=False)
    with pytest.raises(ConfigError, match="No ActAdd prompts"):
        BenchConfig(concepts=("my_concept",)).check()


def test_auroc_counts_ties_half():
    assert auroc([3.0, 2.0, 1.0, 0.0], [1, 1, 0, 0]) == 1.0
    assert auroc([0.0, 1.0, 2.0, 3.0], [1, 1, 0, 0]) == 0.0
    assert auroc([1.0, 1.0], [1, 0]) == 0.5
    with pytest.raises(ConfigError):
        auroc([1.0], [1])
    torch.manual_seed(0)
    s = torch.randn(200).tolist()
    y = [int(i % 2) for i in range(200)]
    assert 0.35 < auroc(s, y) < 0.65


def test_a_direction_fitted_elsewhere_is_scored_like_the_same_builtin(board):
    """An external direction equal to the built-in mean difference gets the mean difference's scores exactly; the
    training pairs handed out are the ones the bench fits on."""
    from steerlens.bench import training_pairs
    from steerlens.concepts.data import contrast_pairs, load_dataset
    from steerlens.errors import ShapeError
    from steerlens.model import Site
    from steerlens.steering import train_steering_vector

    model, tok = make_tiny("llama"), char_tokenizer()
    pairs = training_pairs(SMALL)["sentiment"]
    held = {p for p, _ in contrast_pairs(load_dataset("sentiment"))} - {p for p, _ in pairs}
    assert len(pairs) == SMALL.n_train and len(held) == 100 - SMALL.n_train
    d = train_steering_vector(model, tok, pairs, [Site(1)], method="mean_diff").directions[1]
    cfg = BenchConfig(**{**SMALL.__dict__, "writers": ("mean_diff",)})
    both = run_bench(model, tok, cfg, directions={"sentiment": {"peer": d * 3}}, progress=False)
    mine, peer = both.rows
    assert peer["writer"] == "peer"
    for key, value in mine.items():  # the same up to the float rounding of normalising 3 d instead of d
        if key != "writer":
            assert peer[key] == (value if isinstance(value, str) else pytest.approx(value, rel=1e-4, abs=1e-6)), key
    assert both.config_hash != run_bench(model, tok, cfg, progress=False).config_hash
    with pytest.raises(ShapeError, match="not \\[32\\]"):
        run_bench(model, tok, cfg, directions={"sentiment": {"peer": torch.ones(5)}}, progress=False)
    with pytest.raises(ConfigError, match="built-in writer"):
        run_bench(model, tok, cfg, directions={"sentiment": {"pca": d}}, progress=False)
