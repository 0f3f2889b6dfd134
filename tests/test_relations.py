"""LREs, LRCs, matching and concept swaps on tiny random models (exactness and bad input)."""

import json

import pytest
import torch

import steerlens
from conftest import make_tiny
from steerlens.errors import DataFormatError, IncompatibleArtifactError, ShapeError, SiteError
from steerlens.model import Site, capture, resolve
from steerlens.model.hooks import hook_group
from steerlens.relations import (
    ConceptMatcher,
    ConceptSwapper,
    InvertedLre,
    LowRankLre,
    Lre,
    Prompt,
    RelationalConcept,
    RelationalConcepts,
    concepts_from_inverse,
    jacobians,
    load_relation,
    locate,
    make_prompts,
    object_activations,
    relation_names,
    subject_activations,
    train_lre,
)
from steerlens.relations.data import balance_grouped
from steerlens.relations.validate import answer_matches
from tests_helpers import tiny_tokenizer

TOK = tiny_tokenizer()
PROMPTS = [
    Prompt("w3 w4 w5 w6", "w7 w8", "w4"),
    Prompt("w9 w10 w11", "w12", "w10 w11"),
    Prompt("w5 w6 w20 w21 w22", "w30 w31 w32", "w5"),
    Prompt("w40 w41 w42 w43 w44 w45", "w12", "w43"),
]


def _reference_jacobian(model, prompt, ls, lo, aggregation="mean"):
    """Plain autograd Jacobian of the aggregated object activation w.r.t. the subject activation."""
    spec = resolve(model)
    loc = locate(TOK, prompt)
    ids = torch.tensor([loc.ids])
    pos = list(loc.object_positions(aggregation))

    def run(x):
        got = {}

        def write(h):
            h = h.clone()
            h[0, loc.subject] = x
            return h

        def read(h):
            got["o"] = h

        with hook_group(spec) as g:
            g.add_site(Site(ls), write)
            g.add_site(Site(lo), read)
            model(input_ids=ids)
        return got["o"][0, pos].mean(0)

    with torch.no_grad():
        s = capture(model, ids, Site(ls), positions=torch.tensor([loc.subject]))[Site(ls)][0]
    return torch.autograd.functional.jacobian(run, s.clone()), s, run(s).detach()


@pytest.mark.parametrize("aggregation", ["mean", "first_token"])
def test_vectorised_jacobians_match_autograd(tiny, aggregation):
    J, s, o = jacobians(tiny, TOK, PROMPTS, 0, 2, aggregation=aggregation, batch_size=3, chunk_size=7)
    assert J.shape == (len(PROMPTS), 32, 32)
    for i, p in enumerate(PROMPTS):
        ref, s_ref, o_ref = _reference_jacobian(tiny, p, 0, 2, aggregation)
        torch.testing.assert_close(J[i], ref, atol=1e-4, rtol=0)
        torch.testing.assert_close(s[i], s_ref, atol=1e-4, rtol=0)
        torch.testing.assert_close(o[i], o_ref, atol=1e-4, rtol=0)


def test_single_prompt_lre_reproduces_the_object_activation():
    model = make_tiny("llama")
    for p in PROMPTS:
        lre = train_lre(model, TOK, [p], 0, 2)
        s = subject_activations(model, TOK, [p], 0)
        o = object_activations(model, TOK, [p], 2)
        torch.testing.assert_close(lre(s), o, atol=1e-4, rtol=0)
        torch.testing.assert_close(lre(s[0]), o[0], atol=1e-4, rtol=0)  # 1-D in, 1-D out


def test_lre_averages_prompts_and_is_batch_independent():
    model = make_tiny("gemma3_text")
    a = train_lre(model, TOK, PROMPTS, 0, 1, batch_size=4)
    b = train_lre(model, TOK, PROMPTS, 0, 1, batch_size=1, chunk_size=None)
    torch.testing.assert_close(a.weight, b.weight, atol=1e-5, rtol=0)
    singles = [train_lre(model, TOK, [p], 0, 1) for p in PROMPTS]
    torch.testing.assert_close(a.weight, torch.stack([s.weight for s in singles]).mean(0), atol=1e-5, rtol=0)
    torch.testing.assert_close(a.bias, torch.stack([s.bias for s in singles]).mean(0), atol=1e-5, rtol=0)
    assert a.metadata["num_prompts"] == 4


def test_low_rank_and_inverse():
    torch.manual_seed(0)
    d = 6
    lre = Lre("r", 1, 3, "mean", torch.randn(d), weight=torch.randn(d, d))
    x = torch.randn(5, d)
    full = lre.to_low_rank(d)
    torch.testing.assert_close(full(x), lre(x), atol=1e-4, rtol=0)
    torch.testing.assert_close(full(x[0]), lre(x[0]), atol=1e-4, rtol=0)  # the seed broadcast [d] + [d, 1] here
    assert lre(x).shape == (5, d) and torch.allclose(lre.mean(x), lre(x).mean(0))
    inv = lre.invert(d)
    torch.testing.assert_close(inv(lre(x)), x, atol=1e-3, rtol=0)  # full rank: an exact inverse
    low = lre.invert(2)
    assert (low.u.shape, low.s.shape, low.v.shape) == ((d, 2), (2,), (d, 2))
    assert repr(low) == "InvertedLre(r, rank 2, layers 1 -> 3, mean)"
    assert repr(lre.to_low_rank(2)) == "LowRankLre(r, rank 2, layers 1 -> 3, mean)"
    # identity factors, bias -e1 (forward) or +e1 (inverse): both give the mean [0.5, 0.5, 0.5]
    eye = torch.eye(3)
    e1 = torch.tensor([1.0, 0, 0])
    inputs = torch.tensor([[2.0, 1, 1], [1, 0, 0]])
    lr = LowRankLre("r", 0, 1, "mean", -e1, u=eye, s=torch.ones(3), v=eye)
    ir = InvertedLre("r", 0, 1, "mean", e1, u=eye, s=torch.ones(3), v=eye)
    for m in (lr, ir):
        assert torch.allclose(m.mean(inputs), torch.full((3,), 0.5))
        assert torch.allclose(m.mean(inputs, normalize=True), torch.full((3,), 3**-0.5))
        assert m(inputs).shape == (2, 3)
    with pytest.raises(ShapeError, match="between 1 and the hidden size 6"):
        lre.invert(7)
    with pytest.raises(ShapeError, match="expected"):
        lre(torch.randn(4))
    beta = Lre("r", 1, 3, "mean", torch.zeros(d), weight=torch.eye(d), beta=2.0)
    assert torch.allclose(beta(x), 2 * x)


def test_lre_save_load(tmp_path):
    model = make_tiny("llama")
    lre = train_lre(model, TOK, PROMPTS[:2], 0, 2, relation="toy")
    lre.save(tmp_path / "lre")
    back = Lre.load(tmp_path / "lre", model=model)
    assert torch.equal(back.weight, lre.weight) and back.relation == "toy" and back.subject_layer == 0
    inv = lre.invert(4)
    inv.save(tmp_path / "inv")
    back_inv = Lre.load(tmp_path / "inv")
    assert isinstance(back_inv, InvertedLre) and torch.equal(back_inv.u, inv.u)
    with pytest.raises(IncompatibleArtifactError, match="another model"):
        Lre.load(tmp_path / "lre", model=make_tiny("gpt2"))


def test_balanced_sampling_counts():
    groups = {"a": list(range(4)), "b": list(range(10, 14)), "c": [20, 21]}

    def counts(**kw):
        got = balance_grouped(groups, **kw)
        return sorted(sum(1 for x in got if x in g) for g in groups.values())

    assert counts() == [2, 4, 4]
    assert counts(max_total=6) == [2, 2, 2]
    assert counts(max_per_group=3) == [2, 3, 3]
    assert counts(max_per_group=3, max_total=100) == [2, 3, 3]
    assert balance_grouped(groups, seed=1) == balance_grouped(groups, seed=1)


def test_locate_subject_and_answer():
    loc = locate(TOK, Prompt("w3 w4 w5 w4 w6", "w7 w8 w9", "w4"))
    assert loc.subject == 4  # BOS + w3 w4 w5 [w4]: the last occurrence
    assert loc.predict == (5, 6, 7)  # the last prompt token and the answer's first two tokens
    assert loc.object_positions("first_token") == (5,)
    with pytest.raises(DataFormatError, match="does not occur"):
        Prompt("w3 w4", "w5", "w9")
    with pytest.raises(DataFormatError, match="empty answer"):
        Prompt("w3 w4", " ", "w3")


def test_bad_layers_and_inputs():
    model = make_tiny("llama")
    with pytest.raises(SiteError, match="after the object layer"):
        train_lre(model, TOK, PROMPTS, 2, 1)
    with pytest.raises(SiteError):
        train_lre(model, TOK, PROMPTS, 0, 7)
    with pytest.raises(DataFormatError, match="at least one prompt"):
        train_lre(model, TOK, [], 0, 1)
    with pytest.raises(DataFormatError, match="'mean' or 'first_token'"):
        jacobians(model, TOK, PROMPTS, 0, 1, aggregation="last")


def test_concepts_matcher_and_editor(tmp_path):
    model = make_tiny("qwen2")
    prompts = [Prompt(f"w{3 + i} w{20 + i} w{40 + i}", "w7" if i % 2 else "w8", f"w{20 + i}") for i in range(6)]
    lre = train_lre(model, TOK, prompts, 0, 2, relation="toy")
    concepts = concepts_from_inverse(model, TOK, lre.invert(8), prompts)
    assert sorted(c.object for c in concepts) == ["w7", "w8"]
    assert all(c.layer == 0 and abs(float(c.vector.norm()) - 1) < 1e-5 for c in concepts)
    # a concept is the normalised mean of R+ over its object's activations
    objs = object_activations(model, TOK, prompts, 2)
    inv = lre.invert(8)
    w8 = inv(objs[[0, 2, 4]]).mean(0)
    torch.testing.assert_close(next(c for c in concepts if c.object == "w8").vector, w8 / w8.norm(), atol=1e-5, rtol=0)

    matcher = ConceptMatcher(model, TOK, concepts)
    results = matcher.query_bulk([(p.text, p.subject) for p in prompts])
    acts = subject_activations(model, TOK, prompts, 0)
    for r, a in zip(results, acts):
        for c in concepts:
            assert abs(r.scores[c.name] - float(c.vector @ a)) < 1e-4
    assert matcher.query(prompts[0].text, prompts[0].subject).best in {c.name for c in concepts}
    v = torch.nn.functional.normalize(torch.randn(32), dim=0)
    pm = [RelationalConcept(0, v, "plus", "x"), RelationalConcept(0, -v, "minus", "x")]
    mapped = ConceptMatcher(model, TOK, pm, map_activations=lambda acts: {k: v.expand_as(a) for k, a in acts.items()})
    assert mapped.query("w3 w4", "w4").scores == pytest.approx({"x: plus": 1.0, "x: minus": -1.0}, abs=1e-5)

    assert isinstance(concepts, RelationalConcepts)
    concepts.save(tmp_path / "c", model=model)
    back = RelationalConcepts.load(tmp_path / "c", model=model)
    generic = steerlens.load(tmp_path / "c", model=model)
    assert isinstance(back, RelationalConcepts) and isinstance(generic, RelationalConcepts)
    assert [c.name for c in generic] == [c.name for c in concepts]
    assert [c.name for c in back] == [c.name for c in concepts] and torch.equal(back[0].vector, concepts[0].vector)

    editor = ConceptSwapper(model, TOK, concepts)
    a, b = concepts[0].name, concepts[1].name
    reqs = [(p.text, p.subject, a, b) for p in prompts[:3]]
    base = editor.swap_and_predict(reqs, strength=0.0, max_new_tokens=2)
    batched = editor.swap_and_predict(reqs, strength=3.0, max_new_tokens=2, layers=0)
    single = [editor.swap_and_predict([r], strength=3.0, max_new_tokens=2, layers=0)[0] for r in reqs]
    assert batched == single
    assert batched != base
    probs = editor.answer_probabilities(reqs, [["w7", "w8"]] * 3, strength=0.0)
    assert all(0 < p <= 1 for row in probs for p in row)
    with pytest.raises(DataFormatError, match="No concept named"):
        editor.swap_and_predict([(prompts[0].text, prompts[0].subject, "nope", b)])
    with pytest.raises(IncompatibleArtifactError, match="hidden size"):
        ConceptSwapper(model, TOK, [RelationalConcept(0, torch.ones(7), "o", "r")])


def test_edit_lands_on_the_subject_token_only():
    model = make_tiny("llama")
    c1 = RelationalConcept(1, torch.nn.functional.normalize(torch.randn(32), dim=0), "a", "r")
    c2 = RelationalConcept(1, torch.nn.functional.normalize(torch.randn(32), dim=0), "b", "r")
    editor = ConceptSwapper(model, TOK, [c1, c2])
    text = "w3 w4 w5 w6"
    ids = torch.tensor([TOK(text)["input_ids"]])
    base = capture(model, ids, Site(1))[Site(1)][0]
    from steerlens.model import intervene

    with intervene(model, editor.edits([("r: a", "r: b")], [2], layers=1, strength=0.5)):
        edited = capture(model, ids, Site(1))[Site(1)][0]
    diff = edited - base
    assert diff[[0, 1, 3, 4]].abs().max() == 0
    expected = 0.5 * base[2].norm() * (c2.vector - c1.vector)
    torch.testing.assert_close(diff[2], expected, atol=1e-5, rtol=1e-4)


def test_answer_matching():
    assert answer_matches(" Paris, France", "Paris")
    assert answer_matches("Paris", [" Rome", "Paris "])
    assert not answer_matches(" Parisian", "Paris")
    assert not answer_matches(" paris", "Paris")


def test_shipped_dataset():
    names = relation_names()
    assert len(names) == 47
    assert {len(relation_names(c)) for c in ("factual", "commonsense", "linguistic", "bias")} == {26, 8, 6, 7}
    rel = load_relation("country_capital_city")
    assert rel.name == "country capital city" and rel.category == "factual" and len(rel.samples) == 24
    assert "Brasília" in rel.objects  # doubled \\u escapes are decoded
    total = sum(len(load_relation(n).samples) for n in names)
    assert total == 11089
    with pytest.raises(DataFormatError, match="Did you mean 'country capital city'"):
        load_relation("country capitol city")
    prompts = make_prompts(rel, n_demonstrations=2, exclude_same_object=True)
    assert len(prompts) == 24
    for p in prompts:
        lines = p.text.split("\n")
        assert len(lines) == 3 and lines[-1] == f"The capital city of {p.subject} is"
        assert p.answer not in "\n".join(lines[:-1]) and p.subject not in "\n".join(lines[:-1])
    train, test = rel.split(10)
    assert len(train.samples) == 10 and not set(train.samples) & set(test.samples)


def test_relation_file_errors(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text(json.dumps({"name": "x", "prompt_templates": ["{} is"], "samples": [{"subject": "a"}]}))
    with pytest.raises(DataFormatError, match="sample 0"):
        load_relation(bad)
    bad.write_text(json.dumps({"name": "x", "prompt_templates": ["no slot"], "samples": []}))
    with pytest.raises(DataFormatError, match="slot"):
        load_relation(bad)
    one = tmp_path / "one.json"
    one.write_text(
        json.dumps(
            {
                "name": "one",
                "prompt_templates": ["w3 {} w5"],
                "samples": [{"subject": "w4", "object": "w6"}, {"subject": "w7", "object": "w6"}],
            }
        )
    )
    rel = load_relation(one)
    model = make_tiny("llama")
    prompts = make_prompts(rel)
    lre = train_lre(model, TOK, prompts, 0, 1)
    with pytest.raises(DataFormatError, match="at least two"):
        concepts_from_inverse(model, TOK, lre.invert(4), prompts)


def test_evaluate_relation_end_to_end_and_sample_cap(monkeypatch):
    """The whole per-relation evaluation runs on a tiny model (every answer counted as known, so every
    stage executes), ``max_samples`` caps the relation reproducibly, and the table shows the cap."""
    from conftest import make_tiny
    from steerlens.relations import evaluate as ev
    from tests_helpers import char_tokenizer

    model, tok = make_tiny("llama"), char_tokenizer()
    rel = load_relation("name gender")  # two objects, so concepts have test subjects
    monkeypatch.setattr(ev, "is_prefix", lambda token, target: True)
    monkeypatch.setattr(ev.PromptValidator, "filter", lambda self, prompts, **kw: list(prompts))
    kw = dict(subject_layer=1, object_layer=2, n_train=3, n_icl=2, rank=8, max_test=6, max_swaps_per_concept=1)
    r = ev.evaluate_relation(model, tok, rel, max_samples=12, **kw)
    assert (r.n_samples, r.n_used, r.n_known) == (len(rel.samples), 12, 12)
    assert r.faithfulness == 1.0 and r.causality == 1.0  # every top-1 "matches" under the patch
    assert set(r.concept_accuracy) == {"lrc", "mean", "logistic", "svm"} == set(r.concept_causality)
    assert all(0.0 <= v <= 1.0 for v in r.concept_accuracy.values())
    again = ev.evaluate_relation(model, tok, rel, max_samples=12, baselines=False, **kw)
    assert (again.n_train, again.n_test, again.faithfulness) == (r.n_train, r.n_test, r.faithfulness)
    assert set(again.concept_accuracy) == {"lrc"}
    uncapped = ev.evaluate_relation(model, tok, rel, max_samples=len(rel.samples), baselines=False, **kw)
    assert uncapped.n_used is None and uncapped.n_known == len(rel.samples)
    assert f"12/{len(rel.samples)}" not in ev.results_table([r]) and "12/12" in ev.results_table([r])
    with pytest.raises(DataFormatError, match="max_samples"):
        ev.evaluate_relation(model, tok, rel, max_samples=1, **kw)


def test_evaluate_relation_measure_skips_what_is_not_asked(monkeypatch):
    """``measure=("concepts",)`` with a concept object layer trains one LRE instead of two and gives the very
    concept scores of the full evaluation; a score not asked for stays None; a wrong name is a typed error."""
    from conftest import make_tiny
    from steerlens.relations import evaluate as ev
    from tests_helpers import char_tokenizer

    model, tok = make_tiny("llama"), char_tokenizer()
    rel = load_relation("name gender")
    monkeypatch.setattr(ev, "is_prefix", lambda token, target: True)
    monkeypatch.setattr(ev.PromptValidator, "filter", lambda self, prompts, **kw: list(prompts))
    layers: list[int] = []
    real_train = ev.train_lre

    def counting_train(*args, **kwargs):
        layers.append(args[4])
        return real_train(*args, **kwargs)

    monkeypatch.setattr(ev, "train_lre", counting_train)
    kw = dict(subject_layer=0, object_layer=2, concept_object_layer=1, n_train=3, n_icl=2, rank=8, max_test=6)
    kw.update(max_swaps_per_concept=1, max_samples=12)
    full = ev.evaluate_relation(model, tok, rel, **kw)
    assert layers == [2, 1] and full.faithfulness is not None and full.causality is not None
    layers.clear()
    only = ev.evaluate_relation(model, tok, rel, measure=("concepts",), **kw)
    assert layers == [1]  # the object-layer LRE is never trained
    assert only.faithfulness is None and only.causality is None
    assert only.concept_accuracy == full.concept_accuracy and only.concept_causality == full.concept_causality
    assert set(only.concept_accuracy) == {"lrc", "mean", "logistic", "svm"}
    layers.clear()
    faith = ev.evaluate_relation(model, tok, rel, measure=("faithfulness",), **kw)
    assert layers == [2] and faith.faithfulness == full.faithfulness and faith.causality is None
    assert faith.concept_accuracy == {} and faith.n_concept_test == 0
    for bad in (("concept",), ()):
        with pytest.raises(DataFormatError, match="measure must name some of"):
            ev.evaluate_relation(model, tok, rel, measure=bad, **kw)


def test_concept_split_never_tests_a_subject_the_lre_was_fitted_on():
    """The LRC concepts come from an LRE: its training subjects must not become concept test subjects."""
    from types import SimpleNamespace

    from steerlens.relations.evaluate import _concept_split

    def prompt(subject, obj):
        return SimpleNamespace(subject=subject, object_name=obj)

    fitted = [prompt(f"s{i}", f"o{i % 2}") for i in range(4)]
    rest = [prompt(f"s{i}", f"o{i % 2}") for i in range(2, 20)]  # s2, s3 overlap with the fitted prompts
    train, test_subjects = _concept_split(fitted, rest, seed=0)
    assert not test_subjects & {p.subject for p in fitted}
    assert {p.subject for p in fitted} <= {p.subject for p in train}
    assert not test_subjects & {p.subject for p in train}
    assert len(test_subjects) == 8  # of the 16 unseen subjects, per object every other one
