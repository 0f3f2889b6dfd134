"""The cross-method benchmark (``steerlens bench``) on a tiny model: every writer scored, deterministic, typed errors."""

import json
from dataclasses import replace

import pytest
import torch

from conftest import make_tiny
from steerlens.bench import WRITERS, BenchConfig, Leaderboard, auroc, run_bench
from steerlens.errors import ConfigError
from tests_helpers import char_tokenizer

SMALL = BenchConfig(
    concepts=("sentiment",), n_train=4, n_test=3, strengths=(-0.5, 0.0, 0.5), n_neutral=2, layer=1, edit_writers=()
)


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


KNOWLEDGE = BenchConfig(
    concepts=(),
    edit_relations=("person occupation",),
    n_facts=6,
    n_edit_train=12,
    known_top_k=10**6,  # a random model knows nothing; count every fact as known
    n_generation=2,
    max_new_tokens=4,
    editor_epochs=1,
    edit_layer=1,
)


def test_knowledge_edits_score_every_entity_writer_on_held_out_facts(tmp_path):
    from steerlens.bench import EDIT_WRITERS
    from steerlens.editors import counterfact_from_relations, split_samples

    model, tok = make_tiny("llama"), char_tokenizer()
    board = run_bench(model, tok, KNOWLEDGE, progress=False, known_facts_cache=tmp_path / "known")
    assert board.rows == [] and board.curves == {}
    assert [r["writer"] for r in board.knowledge] == list(EDIT_WRITERS)
    setup = board.knowledge_setup
    assert setup["layer"] == 1 and setup["n_test"] == 6 and setup["n_train"] == 12
    assert setup["relations"] == ["person occupation"] and setup["editor"].startswith("trained here")
    # the test facts come from the test part of the split the shipped editors were trained on
    parts = split_samples(counterfact_from_relations(tokenizer=tok, seed=0), seed=0)
    test_ids = [s.id for s in parts["test"] if s.relation == "person occupation"][:6]
    assert setup["test_facts"] == test_ids
    by = {r["writer"]: r for r in board.knowledge}
    assert by["unedited"]["n"] == 6 and not by["unedited"]["neighbourhood_by_construction"]
    for w in ("replace", "remedi", "lre_inverse", "lrc_swap"):
        assert by[w]["neighbourhood_by_construction"] and by[w]["neighbourhood"] == by["unedited"]["neighbourhood"]
    for r in board.knowledge:
        assert r["n"] == 0 or 0.0 <= r["efficacy"] <= 1.0
    again = run_bench(model, tok, KNOWLEDGE, progress=False, known_facts_cache=tmp_path / "known")
    assert json.dumps(again.to_dict(), sort_keys=True) == json.dumps(board.to_dict(), sort_keys=True)
    board.save(tmp_path / "out")
    md = (tmp_path / "out" / "leaderboard.md").read_text()
    assert "| lre_inverse | " in md and "Knowledge edits at block 1" in md
    assert (tmp_path / "out" / "knowledge.png").stat().st_size > 1000
    assert not (tmp_path / "out" / "curves.png").exists()  # no steering task, no curves


def test_bad_knowledge_configs_are_refused(tmp_path):
    model, tok = make_tiny("llama"), char_tokenizer()
    with pytest.raises(ConfigError, match="Unknown edit writer"):
        BenchConfig(edit_writers=("rome",)).check()
    with pytest.raises(ConfigError, match="Nothing to run"):
        BenchConfig(concepts=(), edit_writers=()).check()
    with pytest.raises(ConfigError, match="No facts for relation"):
        run_bench(model, tok, replace(KNOWLEDGE, edit_relations=("person shoe size",)), progress=False)
