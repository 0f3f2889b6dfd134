"""Steering on the embedded models (small cases; the full results are in benchmarks/steering_results.py)."""

import pytest
import torch

from steerlens.model import Site, capture, generate
from steerlens.steering import ActAdd, SamplingConfig, compare, sentiment, train_steering_vector, x_vector

pytestmark = pytest.mark.real

PROMPTS = ["I hate you because", "Yesterday my neighbour told me that"]


def test_actadd_cache_and_batch_invariant(real):
    _, model, tok = real
    act = ActAdd.build(model, tok, x_vector("Love", "Hate", 5.0, "resid_pre.3", tokenizer=tok))
    assert len({t.shape[0] for t in act.tensors}) == 1  # the shorter prompt was right-padded
    plain = generate(model, tok, PROMPTS, max_new_tokens=6).new_ids
    with act.apply(model):
        cached = generate(model, tok, PROMPTS, max_new_tokens=6).new_ids
        uncached = generate(model, tok, PROMPTS, max_new_tokens=6, use_cache=False).new_ids
        single = [generate(model, tok, [p], max_new_tokens=6).new_ids[0] for p in PROMPTS]
    assert cached == uncached == single
    assert cached != plain


def test_love_minus_hate_raises_sentiment_on_gemma(gemma):
    model, tok = gemma
    act = ActAdd.build(model, tok, x_vector("Love", "Hate", 5.0, "resid_pre.6", tokenizer=tok))
    comp = compare(model, tok, "I hate you because", act, n=4, seed=0, config=SamplingConfig(max_new_tokens=16))
    comp.score("sentiment", sentiment)
    s = comp.scores["sentiment"]
    assert sum(s["steered"]) / 4 > sum(s["unsteered"]) / 4 + 0.5, comp.to_dict()


def test_vector_mean_diff_matches_captured_activations(smollm):
    model, tok = smollm
    pairs = [("I love this, it is wonderful", "I hate this, it is awful"), ("What a great day", "What a terrible day")]
    vec = train_steering_vector(model, tok, pairs, [4, 8])
    acts = capture(model, [p for p, _ in pairs] + [n for _, n in pairs], [Site(8)], tokenizer=tok, positions="last")
    h = acts[Site(8)].double()
    torch.testing.assert_close(vec.directions[8].double(), (h[:2] - h[2:]).mean(0), atol=1e-4, rtol=1e-4)


def test_serve_engine_batches_differently_steered_requests_exactly(gemma):
    """The server's engine on the real model: one batch, three steering specs, each row equal to its own generate."""
    import threading

    from steerlens.model import Add, intervene
    from steerlens.model.tokens import encode
    from steerlens.serve import ArtifactLibrary, Engine, Job, build_edits

    model, tok = gemma
    library = ArtifactLibrary(None, model)
    vec = capture(model, {"input_ids": torch.tensor([tok("Love")["input_ids"]])}, [Site(6, "resid_pre")])[Site(6, "resid_pre")][
        0, -1
    ]
    specs = [
        ("The weather today is", None),
        ("I hate you because", [{"actadd": {"plus": "Love", "minus": "Hate"}, "sites": "resid_pre.6", "strength": 5}]),
        ("My favourite food is", [{"vector": vec.tolist(), "sites": "resid_pre.6", "strength": 0.5, "positions": "generated"}]),
    ]
    engine = Engine(model, tok, max_batch_size=8, batch_window=0.5)
    done = {i: threading.Event() for i in range(len(specs))}
    results: dict[int, dict] = {}
    try:
        for i, (prompt, steering) in enumerate(specs):

            def sink(ev, i=i):
                if ev["type"] in ("done", "error"):
                    results[i] = ev
                    done[i].set()

            edits = build_edits(steering, model, tok, library)
            engine.submit(Job(encode(tok, [prompt])[0], 10, sink, edits))
        for e in done.values():
            assert e.wait(300)
    finally:
        engine.close()
    assert engine.stats["largest_batch"] == 3
    expected_edits = [
        [],
        ActAdd.build(model, tok, x_vector("Love", "Hate", 5.0, Site(6, "resid_pre"), tokenizer=tok)).edits(),
        [Add(Site(6, "resid_pre"), vec, positions="generated", strength=0.5)],
    ]
    from steerlens.model.generate import eos_token_ids

    eos = eos_token_ids(model)
    for i, ((prompt, _), edits) in enumerate(zip(specs, expected_edits)):
        with intervene(model, edits):
            want = generate(model, tok, [prompt], max_new_tokens=10).new_ids[0]
        want = [t for t in want if t not in eos]
        assert results[i]["type"] == "done", results[i]
        assert results[i]["tokens"] == want, (prompt, tok.decode(results[i]["tokens"]), tok.decode(want))
    with intervene(model, []):
        plain = generate(model, tok, [specs[1][0]], max_new_tokens=10).new_ids[0]
    assert results[1]["tokens"] != plain  # the steering did something


def test_bench_quick_on_gemma_is_deterministic(gemma, tmp_path):
    """`steerlens bench --quick` on the embedded model: every writer on every concept and every knowledge-edit
    writer on held-out facts, twice, the same leaderboard; the mean-difference vector steers sentiment towards its
    positive answers on held-out prompts, and the shipped REMEDI editor moves held-out facts the model knows."""
    import json

    from steerlens.bench import EDIT_WRITERS, WRITERS
    from steerlens.cli import main

    for out in ("a", "b"):
        assert main(["bench", "--quick", "--out", str(tmp_path / out)]) == 0
    a, b = ((tmp_path / out / "leaderboard.json").read_text() for out in ("a", "b"))
    assert a == b
    board = json.loads(a)
    assert len(board["rows"]) == 3 * len(WRITERS) and board["site"] == "resid_post.6"
    row = {(r["concept"], r["writer"]): r for r in board["rows"]}
    assert row[("sentiment", "mean_diff")]["steerability"] > 0
    assert row[("sentiment", "mean_diff")]["anti_steerable"] < 0.5
    assert [r["writer"] for r in board["knowledge"]] == list(EDIT_WRITERS)
    assert board["knowledge_setup"]["editor"] == "shipped (gemma-3-270m)" and board["knowledge_setup"]["layer"] == 9
    edits = {r["writer"]: r for r in board["knowledge"]}
    assert edits["unedited"]["efficacy"] == 0.0  # known facts: the true object is the top token, by construction
    assert edits["remedi"]["efficacy"] >= 0.25 and edits["prefix"]["efficacy"] >= 0.5
