"""REMEDI editors on tiny random-weight models: data, precompute, editors, loss, training, evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import ARCHS, make_tiny
from steerlens.editors import (
    EDITOR_KINDS,
    Editor,
    EditorEdit,
    Prefix,
    Unedited,
    counterfact_from_relations,
    edit_generate,
    evaluate_edits,
    inspect,
    load_counterfact,
    load_samples,
    make_editor,
    precompute,
    results_table,
    sample_for,
    save_samples,
    split_samples,
    train_editor,
)
from steerlens.editors.data import EditSample
from steerlens.editors.editors import NullEditor
from steerlens.editors.evaluate import efficacy, score_targets, weighted_ngram_entropy
from steerlens.editors.inputs import edit, edit_spans, entity_span
from steerlens.editors.inspect import classification_metrics, randomized_copy, unmediated
from steerlens.editors.train import editing_batch, editing_loss, fit_random_editor
from steerlens.errors import DataFormatError, IncompatibleArtifactError, ShapeError, SpanNotFoundError
from steerlens.model import Site, capture, intervene, resolve
from steerlens.relations import Relation
from steerlens.relations.data import Sample
from tests_helpers import tiny_tokenizer

TOK = tiny_tokenizer()


def toy_relation(n_subjects: int = 24, n_objects: int = 4) -> Relation:
    samples = tuple(Sample(f"w{10 + i}", f"w{60 + i % n_objects}") for i in range(n_subjects))
    return Relation("toy", samples, ("w3 {} w4", "w5 w6 {} w7"), ("{} w8 w9",), "factual")


@pytest.fixture(scope="module")
def toy_samples():
    return counterfact_from_relations([toy_relation()], tokenizer=TOK, seed=0)


# --- data -----------------------------------------------------------------------------------------


def test_counterfact_samples_are_well_formed_and_deterministic(toy_samples):
    again = counterfact_from_relations([toy_relation()], tokenizer=TOK, seed=0)
    assert [s.to_dict() for s in again] == [s.to_dict() for s in toy_samples]
    other = counterfact_from_relations([toy_relation()], tokenizer=TOK, seed=1)
    assert [s.target_new for s in other] != [s.target_new for s in toy_samples]
    assert len(toy_samples) == 24
    for s in toy_samples:
        assert s.target_new != s.target_true
        assert s.entity in s.prompt and s.entity in s.context and s.attribute in s.context
        assert s.context.endswith(" " + s.target_new)
        ctx_t, prompt_t = s.source["context_template"], s.source["prompt_template"]
        assert ctx_t != prompt_t and s.prompt == prompt_t.format(s.entity)
        assert len(s.paraphrases) == 1 and s.prompt not in s.paraphrases
        # neighbours: other subjects with the same true object, asked with the prompt template
        rel = toy_relation()
        same = {x.subject for x in rel.samples if x.object == s.target_true and x.subject != s.entity}
        assert s.neighbourhood and all(any(n == prompt_t.format(x) for x in same) for n in s.neighbourhood)
        owners = {x.subject for x in rel.samples if x.object == s.target_new}
        assert s.new_object_subjects and set(s.new_object_subjects) <= owners - {s.entity}


def test_attribute_is_the_context_after_the_entity(toy_samples):
    s = next(x for x in toy_samples if x.source["context_template"] == "w3 {} w4")
    assert s.attribute == f"w4 {s.target_new}"


def test_shipped_relations_give_a_benchmark():
    samples = counterfact_from_relations(["country capital city", "adjective antonym"], seed=0)
    # adjective antonym has 100 samples, 2 of them exact duplicates; a subject with two antonyms is two samples
    assert len(samples) == 24 + 98
    happy = [s for s in samples if s.entity == "happy"]
    assert len(happy) == 2 and all(s.target_new not in {"sad", "unhappy"} for s in happy)
    caps = [s for s in samples if s.relation == "country capital city"]
    assert all(s.target_new != s.target_true for s in caps)
    assert len({s.id for s in samples}) == len(samples)


def test_splits_are_seeded_and_disjoint(toy_samples):
    a = split_samples(toy_samples, (0.5, 0.25, 0.25), seed=3)
    b = split_samples(list(reversed(toy_samples)), (0.5, 0.25, 0.25), seed=3)
    assert [s.id for s in a["test"]] == [s.id for s in b["test"]]
    ids = [s.id for part in a.values() for s in part]
    assert sorted(ids) == sorted(s.id for s in toy_samples) and len(a["train"]) == 12
    with pytest.raises(DataFormatError, match="summing to 1"):
        split_samples(toy_samples, (0.5, 0.5, 0.5))


def test_known_splits_split_every_sample_before_filtering(toy_samples):
    """The parts are those of split_samples whatever is known; known_ids and the model filter agree."""
    from steerlens.editors import filter_known, known_splits

    parts = split_samples(toy_samples, seed=3)
    listed = [s.id for s in toy_samples[::3]]
    by_ids = known_splits(None, TOK, toy_samples, seed=3, known_ids=listed)
    assert {k: [s.id for s in v] for k, v in by_ids.items()} == {
        k: [s.id for s in v if s.id in set(listed)] for k, v in parts.items()
    }
    model = make_tiny("llama")
    by_model = known_splits(model, TOK, toy_samples, top_k=5, seed=3, batch_size=8)
    for k, v in parts.items():
        assert [s.id for s in by_model[k]] == [s.id for s in filter_known(model, TOK, v, top_k=5, batch_size=8)]
    everything = known_splits(model, TOK, toy_samples, top_k=TOK.vocab_size + 10, seed=3)
    assert {k: len(v) for k, v in everything.items()} == {k: len(v) for k, v in parts.items()}
    with pytest.raises(DataFormatError, match="needs the model"):
        known_splits(None, TOK, toy_samples)


def test_samples_round_trip_and_counterfact_format(tmp_path, toy_samples):
    p = save_samples(toy_samples, tmp_path / "s.jsonl")
    assert [s.to_dict() for s in load_samples(p)] == [s.to_dict() for s in toy_samples]
    (tmp_path / "bad.jsonl").write_text('{"id": "x"}\n')
    with pytest.raises(DataFormatError, match="line 1: missing keys"):
        load_samples(tmp_path / "bad.jsonl")
    record = {
        "case_id": 7,
        "requested_rewrite": {
            "prompt": "The mother tongue of {} is",
            "relation_id": "P103",
            "subject": "Danielle Darrieux",
            "target_new": {"str": "English"},
            "target_true": {"str": "French"},
        },
        "paraphrase_prompts": ["Shayna does this.\nDanielle Darrieux spoke the language", "x"],
        "neighborhood_prompts": ["The mother tongue of Léon Blum is"],
    }
    (tmp_path / "cf.json").write_text(json.dumps([record]))
    (s,) = load_counterfact(tmp_path / "cf.json")
    assert s.context == "The mother tongue of Danielle Darrieux is English"
    assert s.attribute == "is English" and s.prompt == "Danielle Darrieux spoke the language"
    assert (s.target_new, s.target_true, s.relation, s.id) == ("English", "French", "P103", "7")
    record["requested_rewrite"].pop("subject")
    (tmp_path / "cf.json").write_text(json.dumps([record]))
    with pytest.raises(DataFormatError, match="record 0: missing CounterFact field 'subject'"):
        load_counterfact(tmp_path / "cf.json")


def test_bad_samples_are_refused():
    with pytest.raises(DataFormatError, match="does not occur in the prompt"):
        EditSample("x", "w10", "w10 w4 w60", "w4 w60", "w3 w11 w4", "w61")
    with pytest.raises(DataFormatError, match="attribute 'w9' is not part of the context"):
        EditSample("x", "w10", "w10 w4 w60", "w9", "w3 w10 w4", "w61")
    with pytest.raises(DataFormatError, match="attribute"):
        sample_for("w3 w10 w4", "w10", "w4 w60", context="w10 w5")


# --- metrics (the REMEDI unit checks) ---------------------------------------------------------------


def test_efficacy_examples():
    assert efficacy([[1.0]], [[0.5]]) == (1.0, 0.5)
    # per-sample means first: sample 1 scores 1/2 and 0, sample 2 scores 0 and 0
    assert efficacy([[0.1, 0.9], [0.2]], [[0.5, 0.5], [0.2]]) == (0.25, 0.0)
    with pytest.raises(DataFormatError):
        efficacy([[0.1]], [[0.2], [0.3]])


def test_weighted_ngram_entropy_examples():
    assert weighted_ngram_entropy("a a a") == 0.0
    assert weighted_ngram_entropy("a b " * 100) == pytest.approx(1.0, abs=1e-4)  # 100 "a b" vs 99 "b a" bigrams
    assert weighted_ngram_entropy(["a a a", "a b " * 100]) == pytest.approx(0.5, abs=1e-4)


def test_classification_metrics():
    acc, f1, mcc = classification_metrics([True, True, False, False], [True, False, False, False])
    assert acc == 0.75 and mcc == pytest.approx(1 / np.sqrt(3))
    assert f1 == pytest.approx(0.8)  # positive class = label False: precision 2/3, recall 1


def test_entity_token_ranges_first_and_second_mention(smollm_tokenizer):
    text = "The batman is the night. The batman is"
    first, second = entity_span(smollm_tokenizer, text, "batman", 0), entity_span(smollm_tokenizer, text, "batman", 1)
    ids = smollm_tokenizer(text)["input_ids"]
    assert smollm_tokenizer.decode(ids[first[0] : first[1]]).strip() == "batman"
    assert smollm_tokenizer.decode(ids[second[0] : second[1]]).strip() == "batman" and second[0] > first[1]
    with pytest.raises(SpanNotFoundError, match="occurrence 2 does not exist"):
        entity_span(smollm_tokenizer, text, "batman", 2)
    with pytest.raises(SpanNotFoundError, match="'robin' does not occur"):
        edit_spans(smollm_tokenizer, [text], ["robin"])


@pytest.fixture(scope="module")
def smollm_tokenizer():
    from conftest import load_real

    return load_real("smollm2-135m")[1]


# --- precompute, edits, loss ------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["llama", "gpt2", "gemma3_text"])
def test_precompute_matches_direct_capture(arch, toy_samples):
    model = make_tiny(arch)
    ins = precompute(model, TOK, toy_samples[:5], [0, 2], batch_size=2)
    for i, s in enumerate(toy_samples[:5]):
        h = capture(model, [s.entity], [0, 2], tokenizer=TOK)
        assert torch.allclose(ins[2].entity_last[i], h[2][0, -1].float(), atol=1e-5)
        c = capture(model, [s.context], 2, tokenizer=TOK)[2][0]
        words = s.context.split()
        a0 = 1 + words.index(s.attribute.split()[0])  # +1 for BOS
        assert torch.allclose(ins[2].attribute[i], c[a0 : a0 + len(s.attribute.split())].float().mean(0), atol=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_logits_from_final_reproduce_the_model(arch):
    model = make_tiny(arch)
    spec = resolve(model)
    ids = torch.tensor([[1, 5, 9, 12, 30]])
    out = spec.base(input_ids=ids)
    h = out[0] if isinstance(out, tuple) else out.last_hidden_state
    assert torch.allclose(spec.logits_from_final(h), model(ids).logits, atol=1e-4)


def test_edit_lands_on_the_last_entity_token_only_and_padding_does_not_matter():
    model = make_tiny("llama")
    texts = ["w3 w10 w11 w4", "w5 w6 w12 w7 w8 w9"]
    spans = edit_spans(TOK, texts, ["w10 w11", "w12"])
    assert spans == [(3, 4), (3, 4)]  # BOS is token 0
    d = torch.randn(2, 32)
    seen = {}

    def grab(name):
        return lambda h: seen.__setitem__(name, h)

    from steerlens.model.hooks import hook_group

    for name, edits in (("plain", []), ("edited", [edit(0, d, spans)])):
        with intervene(model, edits), hook_group(resolve(model)) as g:
            g.add_site(Site(0), lambda h, n=name: seen.__setitem__(n, h.clone()))
            from steerlens.model.capture import final_hidden

            final_hidden(model, [TOK(t)["input_ids"] for t in texts])
    diff = (seen["edited"] - seen["plain"]).norm(dim=-1)
    assert diff[0, 3] > 0 and diff[1, 3] > 0
    diff[0, 3] = diff[1, 3] = 0
    assert diff.max() == 0
    # scores with the edit are the same one row at a time (no padding) and batched (right padding)
    tg = torch.tensor([[60], [61]])
    both, _ = score_targets(model, TOK, texts, tg, edits_for=lambda idx, part: [edit(0, d[idx], [spans[i] for i in idx])])
    one = [
        score_targets(model, TOK, [t], tg[i : i + 1], edits_for=lambda idx, part, i=i: [edit(0, d[i : i + 1], [spans[i]])])[0]
        for i, t in enumerate(texts)
    ]
    assert torch.allclose(both, torch.cat(one), atol=1e-5)


def _kl_reference(model, s, direction, layer):
    """The loss terms of one sample computed with full logits (no position gathering)."""
    ids = torch.tensor([TOK(s.prompt)["input_ids"]])
    e = entity_span(TOK, s.prompt, s.entity, 0)[1] - 1
    with torch.no_grad():
        p = torch.log_softmax(model(ids).logits.float(), -1)[0]
    with intervene(model, [edit(layer, direction[None], [(e, e + 1)])]):
        q = torch.log_softmax(model(ids).logits.float(), -1)[0]
    T = ids.shape[1] - 1
    kl = sum(torch.nn.functional.kl_div(q[t], p[t], log_target=True, reduction="sum") for t in range(e, T))
    return q[T], kl


@pytest.mark.parametrize("arch", ["llama", "gemma2", "gpt_neox"])
def test_editing_loss_sums_every_example(arch, toy_samples):
    model = make_tiny(arch)
    samples = toy_samples[:4]
    ed = make_editor("linear", model, 1)
    with torch.no_grad():
        ed.w.weight.normal_(0, 0.05)
        ed.w.bias.normal_(0, 0.5)
    ins = precompute(model, TOK, samples, 1)[1]
    batch = editing_batch(model, TOK, samples)
    loss, parts = editing_loss(model, ed, ins, batch, [0, 1, 2, 3], lam_kl=10.0)
    dirs = ed(ins.entity_last, ins.attribute).detach()
    lm = lu = kl = 0.0
    for i, s in enumerate(samples):
        lpT, kli = _kl_reference(model, s, dirs[i], 1)
        lm += -lpT[int(batch.new[i])].detach() / 4
        lu += -torch.log1p(-lpT[int(batch.true[i])].exp()).detach() / 4
        kl += kli.detach() / 4
    assert parts["kl"] > 0
    assert parts["new"] == pytest.approx(float(lm), rel=1e-4)
    assert parts["true"] == pytest.approx(float(lu), rel=1e-4)
    assert parts["kl"] == pytest.approx(float(kl), rel=1e-3)
    assert float(loss.detach()) == pytest.approx(float(lm + lu + 10 * kl), rel=1e-3)


def test_null_start_means_zero_kl(toy_samples):
    model = make_tiny("llama")
    ed = make_editor("linear", model, 1)
    ins = precompute(model, TOK, toy_samples[:3], 1)[1]
    batch = editing_batch(model, TOK, toy_samples[:3])
    _, parts = editing_loss(model, ed, ins, batch, [0, 1, 2])
    assert parts["kl"] == pytest.approx(0.0, abs=1e-6)


def test_target_not_in_vocabulary_is_refused():
    model = make_tiny("llama")
    s = EditSample("x", "w10", "w3 w10 w4 zzz", "w4 zzz", "w5 w6 w10 w7", "zzz", "w61")
    with pytest.raises(DataFormatError, match="no token in this model's vocabulary|has no tokens"):
        editing_batch(model, TOK, [s])


# --- editors, training, save/load ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(EDITOR_KINDS))
def test_every_editor_kind_gives_directions(kind):
    ed = make_editor(kind, 32, 1, **({"rank": 4} if kind == "linear" else {}))
    e, a = torch.randn(3, 32), torch.randn(3, 32)
    d = ed(e, a)
    assert d.shape == (3, 32)
    if kind == "identity":
        assert torch.equal(d, a)
    if kind in ("null", "linear", "mlp", "biaffine", "scalar"):
        assert torch.count_nonzero(d) == 0  # trainable editors start as the null edit
    with pytest.raises(ShapeError, match=r"\[batch, 32\]"):
        ed(torch.randn(3, 31), a)


def test_unknown_kind_and_layer():
    model = make_tiny("llama")
    with pytest.raises(ShapeError, match="Unknown editor kind 'bogus'"):
        make_editor("bogus", model, 0)
    with pytest.raises(ShapeError, match="Layer 7 does not exist"):
        make_editor("linear", model, 7)
    with pytest.raises(ShapeError, match="nothing to train"):
        train_editor(model, TOK, [], 0, kind="null")


def test_training_lowers_the_loss_and_keeps_the_best_state(toy_samples):
    model = make_tiny("llama")
    train, val = toy_samples[:16], toy_samples[:6]  # validating on training samples: the loss must go down
    res = train_editor(model, TOK, train, 1, validation=val, max_epochs=4, batch_size=16, lr=1e-3, progress=False)
    vals = [h["val_loss"] for h in res.history]
    assert res.history[0]["epoch"] == 0 and res.history[0]["train_loss"] is None
    assert min(vals) < vals[0]
    assert res.best_epoch == int(np.argmin(vals))
    # the returned editor holds the best state: its validation loss is the best one
    ins = precompute(model, TOK, val, 1)[1]
    batch = editing_batch(model, TOK, val)
    with torch.no_grad():
        loss, _ = editing_loss(model, res.editor, ins, batch, list(range(len(val))))
    assert float(loss) == pytest.approx(min(vals), rel=1e-4)
    assert all(p.requires_grad for p in model.parameters())  # frozen during training only


def test_an_editor_that_never_left_its_start_says_so(toy_samples):
    """lr = 0: no epoch beats epoch 0, so the null editor comes back -- with a warning and ``untrained``."""
    model = make_tiny("llama")
    with pytest.warns(UserWarning, match="no epoch improved the validation loss"):
        res = train_editor(
            model, TOK, toy_samples[:8], 1, validation=toy_samples[:4], max_epochs=2, batch_size=8, lr=0.0, progress=False
        )
    assert res.untrained and res.best_epoch == 0 and res.to_dict()["untrained"] is True
    assert all(float(p.detach().abs().max()) == 0 for p in res.editor.parameters())


def test_training_makes_the_new_target_win(toy_samples):
    model = make_tiny("llama")
    train = toy_samples[:20]  # a random model has nothing to generalise from: fit and score the training samples
    res = train_editor(
        model, TOK, train, 0, validation=train[:8], max_epochs=8, batch_size=4, lr=3e-2, lam_kl=1.0, progress=False
    )
    results = evaluate_edits(
        model, TOK, train, [Unedited(), EditorEdit(NullEditor(32, 0)), EditorEdit(res.editor)], generation=False, progress=False
    )
    by = {r.method: r for r in results}
    assert by["null"].efficacy == by["unedited"].efficacy
    assert by["remedi"].efficacy > by["unedited"].efficacy + 0.3


def test_editor_save_load(tmp_path, toy_samples):
    model = make_tiny("llama")
    ed = make_editor("linear", model, 2, rank=4, use_entity=True)
    with torch.no_grad():
        for p in ed.parameters():
            p.normal_()
    path = ed.save(tmp_path / "ed", model=model)
    back = Editor.load(path, model, layer=2)
    e, a = torch.randn(2, 32), torch.randn(2, 32)
    assert torch.equal(back(e, a), ed(e, a)) and back.config() == ed.config()
    with pytest.raises(IncompatibleArtifactError, match="layer 2, not layer 1"):
        Editor.load(path, model, layer=1)
    with pytest.raises(IncompatibleArtifactError, match="another model"):
        Editor.load(path, make_tiny("gpt2"))


def test_random_editor_fits_in_context_changes(toy_samples):
    model = make_tiny("llama")
    ed = fit_random_editor(model, TOK, toy_samples, 1, rank=8)
    d = ed(torch.zeros(500, 32), torch.zeros(500, 32))
    assert torch.allclose(d.mean(0), ed.mean, atol=0.35 * float(ed.scale.norm(dim=1).max()) + 1e-3)
    assert ed.mean.norm() > 0


# --- evaluation and inspection -----------------------------------------------------------------------


def test_evaluate_edits_table(toy_samples):
    model = make_tiny("llama")
    results = evaluate_edits(
        model,
        TOK,
        toy_samples[:8],
        [Unedited(), Prefix(), EditorEdit(NullEditor(32, 1))],
        max_new_tokens=6,
        n_generation=4,
        progress=False,
    )
    by = {r.method: r for r in results}
    assert by["null"].efficacy == by["unedited"].efficacy
    assert by["null"].neighbourhood == by["unedited"].neighbourhood and by["null"].neighbourhood_by_construction
    assert not by["prefix"].neighbourhood_by_construction
    assert by["prefix"].efficacy_magnitude != by["unedited"].efficacy_magnitude
    assert by["unedited"].fluency is not None and by["unedited"].fluency > 0
    table = results_table(results)
    assert "prefix" in table and "*" in table


def test_replace_baseline_swaps_the_entity_for_one_with_the_new_object(toy_samples):
    from dataclasses import replace as dc_replace

    from steerlens.editors import Replace
    from steerlens.editors.data import first_token

    rep = Replace(seed=0)
    s = toy_samples[0]
    other = rep.substitute(s)
    assert other in s.new_object_subjects and other != s.entity
    assert rep.text(s, s.prompt) == s.source["prompt_template"].format(other)
    assert all(rep.substitute(x) == Replace(seed=0).substitute(x) for x in toy_samples)  # seeded, stable
    lonely = dc_replace(toy_samples[1], new_object_subjects=())
    assert not rep.covers(lonely) and rep.covers(s)
    with pytest.raises(DataFormatError, match="no other entity"):
        rep.substitute(lonely)

    model = make_tiny("llama")
    samples = [*toy_samples[2:8], lonely]
    results = evaluate_edits(model, TOK, samples, [Unedited(), rep], generation=False, progress=False)
    by = {r.method: r for r in results}
    assert by["unedited"].n == 7 and by["replace"].n == 6  # the sample with no substitute is left out
    assert by["replace"].neighbourhood == by["unedited"].neighbourhood and by["replace"].neighbourhood_by_construction
    # efficacy is the unedited model's on the substituted prompts
    texts = [rep.text(x, x.prompt) for x in samples[:6]]
    tg = torch.tensor([[first_token(TOK, x.target_new), first_token(TOK, x.target_true)] for x in samples[:6]])
    lp, _ = score_targets(model, TOK, texts, tg, progress=False)
    p = lp.exp()
    assert by["replace"].efficacy == pytest.approx(float((p[:, 0] > p[:, 1]).float().mean()))


def test_lrc_swap_edits_the_entity_token_with_the_lre_concepts(toy_samples):
    from dataclasses import replace as dc_replace

    from steerlens.editors import LrcSwapEdit, LreInverseEdit

    model = make_tiny("llama")
    train, test = toy_samples[:16], toy_samples[16:]
    lre = LreInverseEdit(train, 1, max_samples=4)
    swap = LrcSwapEdit(lre, strength=0.5, layers=1)
    swap.prepare(model, TOK, test)
    assert set(lre.lres) == {"toy"}  # the concepts come from the source's inverse LRE, trained once
    inv = lre.lres["toy"]
    lre.prepare(model, TOK, test)
    assert lre.lres["toy"] is inv
    assert set(swap.concepts["toy"]) == {x.target_true for x in train}
    s = next(x for x in test if swap.covers(x))
    # the edit: h += 0.5 * |h| * (v_new - v_true) at the entity's last token of block 1's output, nowhere else
    site = Site(1)
    base = capture(model, [s.prompt], [site], tokenizer=TOK, progress=False)[site][0]
    with intervene(model, swap.edits(TOK, [s], [s.prompt])):
        got = capture(model, [s.prompt], [site], tokenizer=TOK, progress=False)[site][0]
    j = entity_span(TOK, s.prompt, s.entity)[1] - 1
    v = {c.object: c.vector for c in swap._swapper.concepts.values()}
    want = base[j] + 0.5 * base[j].norm() * (v[s.target_new] - v[s.target_true])
    assert torch.allclose(got[j], want, atol=1e-5)
    assert torch.allclose(got[:j], base[:j]) and torch.allclose(got[j + 1 :], base[j + 1 :])
    # a sample whose new object has no concept is left out, and editing it is refused with a typed error
    lonely = dc_replace(s, target_new="w50")
    assert not swap.covers(lonely)
    with pytest.raises(DataFormatError, match="No concept swap"):
        swap.edits(TOK, [lonely], [lonely.prompt])
    results = evaluate_edits(model, TOK, [*test, lonely], [Unedited(), swap], n_generation=2, max_new_tokens=3, progress=False)
    assert results[1].method == "lrc_swap" and results[1].n == sum(swap.covers(x) for x in test)


def test_edit_generate_changes_only_the_edited_run(toy_samples):
    model = make_tiny("llama")
    ed = make_editor("identity", model, 0)
    s = sample_for("w3 w10 w4", "w10", "w4 w61")
    out = edit_generate(model, TOK, ed, [s], max_new_tokens=5, strength=5.0)
    plain = edit_generate(model, TOK, make_editor("null", model, 0), [s], max_new_tokens=5)
    assert out.unedited == plain.unedited == plain.edited
    assert out.edited != out.unedited


def test_inspect_runs_and_controls(toy_samples):
    model = make_tiny("llama")
    res = inspect(model, TOK, make_editor("identity", model, 1), toy_samples, 2, contextual=True)
    assert res.n == 24 and 0 <= res.accuracy <= 1 and -1 <= res.mcc <= 1
    dec = inspect(model, TOK, make_editor("identity", model, 1), toy_samples, 2, contextual=False)
    assert dec.setting == "decontextual"
    u = unmediated(toy_samples[0])
    assert u.context.endswith(toy_samples[0].target_true) and u.attribute.endswith(toy_samples[0].target_true)


def test_randomized_copy_changes_matrices_only():
    model = make_tiny("llama")
    rnd = randomized_copy(model, seed=1)
    for (n, p), (_, q) in zip(model.named_parameters(), rnd.named_parameters()):
        assert torch.equal(p, q) == (p.dim() < 2), n


def test_known_sample_ids_are_remembered_per_model(toy_samples, tmp_path, monkeypatch):
    """The second call reads the cache; a sample whose text changed is scored again, alone."""
    import steerlens.editors.data as data
    from steerlens.editors import filter_known
    from steerlens.editors.data import known_sample_ids

    model = make_tiny("llama")
    first = known_sample_ids(model, TOK, toy_samples, top_k=5, cache=tmp_path)
    assert first == {s.id for s in filter_known(model, TOK, toy_samples, top_k=5)}
    assert len(list(tmp_path.glob("llama-*-top5.json"))) == 1
    scored: list[int] = []
    real = data.filter_known

    def counting(model, tokenizer, samples, **kw):
        scored.append(len(samples))
        return real(model, tokenizer, samples, **kw)

    monkeypatch.setattr(data, "filter_known", counting)
    assert known_sample_ids(model, TOK, toy_samples, top_k=5, cache=tmp_path) == first and scored == []
    import dataclasses

    changed = [dataclasses.replace(toy_samples[0], prompt=toy_samples[0].prompt + " w9"), *toy_samples[1:]]
    known_sample_ids(model, TOK, changed, top_k=5, cache=tmp_path)
    assert scored == [1]
    with pytest.raises(DataFormatError, match="top_k"):
        known_sample_ids(model, TOK, toy_samples, top_k=0)


def test_cli_splits_the_shipped_facts_before_filtering(toy_samples, monkeypatch):
    """``steerlens editors train/eval`` use the split the shipped editor was trained with: no training fact of
    that split reaches the CLI's test part (filtering first, then splitting, leaked them)."""
    import argparse

    import steerlens.cli.editors as cli
    from steerlens.editors import known_splits

    known = {s.id for s in toy_samples[::2]}
    monkeypatch.setattr(cli, "_built", lambda args, tok: list(toy_samples))
    monkeypatch.setattr(cli, "_known_ids", lambda args, model, tok, samples: known)
    args = argparse.Namespace(samples=None, relations="", known_top_k=1, seed=3)
    parts = cli._parts(args, None, TOK)
    reference = known_splits(None, TOK, toy_samples, seed=3, known_ids=known)
    assert {k: [s.id for s in v] for k, v in parts.items()} == {k: [s.id for s in v] for k, v in reference.items()}
    trained_on = {s.id for s in reference["train"]}
    assert not trained_on & {s.id for s in parts["test"]}
    leaky = split_samples([s for s in toy_samples if s.id in known], seed=3)["test"]
    assert trained_on & {s.id for s in leaky}  # the old order would have leaked
