"""ConceptProbe guidance on tiny random models: data, activations, probes, guidance invariants, files."""

from __future__ import annotations

import json
import random

import pytest
import torch

from conftest import make_tiny
from steerlens.concepts import (
    ConceptExample,
    ConceptProbe,
    DiMProbe,
    LogisticProbe,
    PCAProbe,
    concept_activations,
    guide,
    load_dataset,
    read_examples,
    split_examples,
    train_concept,
)
from steerlens.concepts.data import DATASETS, render
from steerlens.concepts.probes import layer_accuracy
from steerlens.errors import DataFormatError, IncompatibleArtifactError, ShapeError, SiteError, SteeringError
from steerlens.model import Site, capture, generate
from tests_helpers import tiny_tokenizer


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


def _examples(n=30, seed=0):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        p = " ".join(f"w{rng.randrange(10, 90)}" for _ in range(4))
        out.append(ConceptExample(p, " ".join(f"w{rng.randrange(10, 40)}" for _ in range(6)), 0))
        out.append(ConceptExample(p, " ".join(f"w{rng.randrange(50, 90)}" for _ in range(6)), 1))
    return out


@pytest.fixture(scope="module")
def examples():
    return _examples()


# --------------------------------------------------------------------------- data


def test_read_examples_errors_name_the_line(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text('{"prompt": "a", "completion": "b", "label": 1}\n{"prompt": "a", "completion": "c", "label": 2}\n')
    with pytest.raises(DataFormatError, match="line 2: label must be 0 or 1"):
        read_examples(f)
    f.write_text('{"prompt": "a", "completion": " ", "label": 1}\n')
    with pytest.raises(DataFormatError, match="line 1: the completion is empty"):
        read_examples(f)
    f.write_text('{"prompt": "a", "label": 1}\n')
    with pytest.raises(DataFormatError, match="line 1: missing field 'completion'"):
        read_examples(f)
    f.write_text('{"prompt": "a", "completion": "b", "label": true}\n')
    with pytest.raises(DataFormatError, match="label must be 0 or 1"):
        read_examples(f)
    f.write_text('{"prompt": "a", "completion": "b", "label": 0, "conversation_history": [{"role": "user"}]}\n')
    with pytest.raises(DataFormatError, match=r"conversation_history\[0\]"):
        read_examples(f)
    f.write_text('{"prompt": "a", "completion": "b", "label": 0,\n')
    with pytest.raises(DataFormatError, match="line 1: invalid JSON"):
        read_examples(f)
    f.write_text(
        json.dumps([{"prompt": "a", "completion": "b", "label": 0, "conversation_history": [{"role": "user", "content": "hi"}]}])
    )
    (ex,) = read_examples(f)
    assert ex.conversation_history == (("user", "hi"),) and ex.messages()[0] == {"role": "user", "content": "hi"}


def test_shipped_datasets_are_balanced_and_paired():
    for name in DATASETS:
        data = load_dataset(name)
        assert len(data) >= 200
        labels = [e.label for e in data]
        assert abs(labels.count(0) - labels.count(1)) <= len(data) // 10
        by_prompt: dict[str, set[int]] = {}
        for e in data:
            by_prompt.setdefault(e.prompt, set()).add(e.label)
        assert sum(1 for s in by_prompt.values() if s == {0, 1}) >= 0.9 * len(by_prompt)
    with pytest.raises(DataFormatError, match="Unknown dataset"):
        load_dataset("humour")


def test_split_by_prompt(examples):
    train, val = split_examples(examples, 0.25, seed=1)
    assert {e.prompt for e in train}.isdisjoint({e.prompt for e in val})
    assert len(train) + len(val) == len(examples) and len(val) > 0


def test_render_fallback_and_template(tok):
    ex = ConceptExample("w5 w6", "w7 w8 w9", 1, (("user", "w1"), ("assistant", "w2")))
    r = render(tok, ex)  # the tiny tokenizer has no chat template: plain layout
    a, b = r.completion
    assert tok.convert_ids_to_tokens(r.ids[a:b]) == ["w7", "w8", "w9"]
    tok2 = tiny_tokenizer()
    tok2.chat_template = "{% for m in messages %}{{ m['role'] }} {{ m['content'] }} {% endfor %}"
    r2 = render(tok2, ex)
    a, b = r2.completion
    assert tok2.convert_ids_to_tokens(r2.ids[a:b]) == ["w7", "w8", "w9"]


# --------------------------------------------------------------------------- activations


def test_activations_take_completion_tokens_without_the_last(tok, examples):
    model = make_tiny("llama")
    acts = concept_activations(model, tok, examples[:4], ctx_len=16)
    # 6 completion tokens each, the last one dropped -> 5 tokens per example
    assert acts.x.shape == (20, 3, 32) and acts.example.tolist() == [i for i in range(4) for _ in range(5)]
    assert acts.labels.tolist() == [e.label for e in examples[:4] for _ in range(5)]
    # the same vectors as a direct capture at those positions
    r = render(tok, examples[1])
    a, _ = r.completion
    direct = capture(model, {"input_ids": torch.tensor([r.ids])}, Site(2, "attn_in"))[Site(2, "attn_in")][0]
    torch.testing.assert_close(acts.x[5:10, 2], direct[a : a + 5].float(), atol=1e-5, rtol=1e-5)
    short = concept_activations(model, tok, examples[:4], ctx_len=2, sites=[1])  # a bare int: resid_post
    assert short.x.shape == (8, 1, 32) and short.layers == [1] and short.sites == [Site(1)]
    with pytest.raises(SiteError, match="one point"):
        concept_activations(model, tok, examples[:4], sites=["attn_in.0", "resid_post.1"])
    with pytest.raises(DataFormatError, match="both labels"):
        concept_activations(model, tok, [e for e in examples if e.label == 1][:3])
    with pytest.raises(DataFormatError, match="fewer than 2 completion tokens"):
        concept_activations(model, tok, [ConceptExample("w1", "w2", 0), ConceptExample("w1", "w3 w4", 1)])


# --------------------------------------------------------------------------- probes


def _blobs(n=200, d=16, layers=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    shift = torch.zeros(d)
    shift[0] = 3.0
    x = torch.randn(n, layers, d, generator=g) + 5.0 + y[:, None, None] * shift
    return x, y


@pytest.mark.parametrize("cls", [DiMProbe, LogisticProbe, PCAProbe])
def test_probes_separate_blobs(cls):
    x, y = _blobs()
    probe = cls().fit(x, y)
    acc = probe.score(x, y)
    assert acc.shape == (2,) and bool((acc > 0.85).all()), acc
    W = probe.directions()
    assert W.shape == (2, 16)
    assert bool((W[:, 0] > 0).all())  # points toward label 1 (PCA: after sign alignment)
    if cls is not LogisticProbe:
        torch.testing.assert_close(W.norm(dim=-1), torch.ones(2))
    p = probe.predict_proba(x)
    assert p.shape == (200, 2) and bool(((p >= 0) & (p <= 1)).all())
    back = cls.from_state(probe.state())
    torch.testing.assert_close(back.predict_proba(x), p)


def test_pca_sign_alignment_flips_with_labels():
    x, y = _blobs(seed=3)
    w1 = PCAProbe().fit(x, y).directions()
    w2 = PCAProbe().fit(x, 1 - y).directions()
    torch.testing.assert_close(w1, -w2)


def test_probe_input_errors():
    x, y = _blobs()
    with pytest.raises(DataFormatError, match="both labels"):
        DiMProbe().fit(x, torch.zeros(200))
    with pytest.raises(DataFormatError, match="0 or 1"):
        DiMProbe().fit(x, y * 2)
    with pytest.raises(ShapeError):
        DiMProbe().fit(x, y[:10])
    with pytest.raises(DataFormatError, match="not fitted"):
        DiMProbe().predict_proba(x)
    with pytest.raises(ShapeError):
        DiMProbe().fit(x, y).predict_proba(x[:, :1])


def test_layer_accuracy_averages_per_example():
    proba = torch.tensor([[0.9], [0.2], [0.8], [0.7]])
    labels = torch.tensor([1, 1, 0, 0])
    groups = torch.tensor([0, 0, 1, 1])
    assert layer_accuracy(proba, labels).item() == pytest.approx(0.25)
    assert layer_accuracy(proba, labels, groups).item() == pytest.approx(0.25)
    assert layer_accuracy(proba[:3], labels[:3], torch.tensor([0, 1, 1])).item() == pytest.approx(0.5)


# --------------------------------------------------------------------------- concepts and guidance


@pytest.fixture(scope="module")
def concept(tok, examples):
    return train_concept(make_tiny("llama"), tok, examples, probe="dim", progress=False)


def test_train_concept_records_accuracies(concept):
    assert concept.layers == [0, 1, 2] and len(concept.train_accuracy) == 3 and len(concept.val_accuracy) == 3
    assert all(0 <= a <= 1 for a in concept.train_accuracy + concept.val_accuracy)
    assert concept.sites == [Site(i, "attn_in") for i in range(3)]  # the paper's point, by default
    top = concept.top_sites(2)
    best = max(range(3), key=lambda i: concept.train_accuracy[i])
    assert Site(best, "attn_in") in top and len(top) == 2
    with pytest.raises(SteeringError):
        concept.top_sites(5)


@pytest.mark.parametrize("arch", ["llama", "gemma3_text", "gpt2"])
def test_scale_zero_is_bit_identical_and_exit_restores(arch, tok):
    model = make_tiny(arch)
    d = model.config.hidden_size if arch != "gpt2" else model.config.n_embd
    dirs = {Site(i, "attn_in"): torch.randn(d, generator=torch.Generator().manual_seed(i)) for i in range(3)}
    prompts = ["w10 w11 w12 w13", "w20 w21"]
    plain = generate(model, tok, prompts, max_new_tokens=6).new_ids
    ids = tok(prompts[0], return_tensors="pt")
    with torch.no_grad():
        logits0 = model(**ids).logits
    with guide(model, dirs, 0.0) as h:
        assert h.edits == []
        assert generate(model, tok, prompts, max_new_tokens=6).new_ids == plain
        with torch.no_grad():
            assert torch.equal(model(**ids).logits, logits0)
    with guide(model, dirs, 8.0):
        guided = generate(model, tok, prompts, max_new_tokens=6).new_ids
        uncached = generate(model, tok, prompts, max_new_tokens=6, use_cache=False).new_ids
        single = [generate(model, tok, [p], max_new_tokens=6).new_ids[0] for p in prompts]
    assert guided != plain and guided == uncached == single
    with torch.no_grad():
        assert torch.equal(model(**ids).logits, logits0)  # exit restored the forward exactly
    with pytest.raises(RuntimeError), guide(model, dirs, 8.0):
        raise RuntimeError("boom")
    with torch.no_grad():
        assert torch.equal(model(**ids).logits, logits0)


def test_guided_attention_inputs_keep_their_norms(tok):
    model = make_tiny("llama")
    w = torch.randn(32, generator=torch.Generator().manual_seed(0))
    site = Site(1, "attn_in")
    texts = ["w10 w11 w12 w13 w14"]
    before = capture(model, texts, site, tokenizer=tok)[site][0]
    with guide(model, {site: w}, 5.0, [site]):
        after = capture(model, texts, site, tokenizer=tok)[site][0]
    torch.testing.assert_close(after.norm(dim=-1), before.norm(dim=-1), atol=1e-4, rtol=1e-5)
    unit = w / w.norm()
    assert bool(((after @ unit) / after.norm(dim=-1) > (before @ unit) / before.norm(dim=-1)).all())
    with guide(model, {"attn_in.1": w}, 5.0, "attn_in.1", mode="add"):
        added = capture(model, texts, site, tokenizer=tok)[site][0]
    torch.testing.assert_close(added - before, (5.0 * unit).expand_as(before), atol=1e-4, rtol=1e-4)


def test_guidance_arguments(tok, concept):
    model = make_tiny("llama")
    at0, at2 = Site(0, "attn_in"), Site(2, "attn_in")
    with guide(model, concept, {at0: 1.0, "attn_in.2": -1.0}, [at0, at2]) as h:
        assert [e.site for e in h.edits] == [at0, at2]
    with guide(model, concept, [1.0, 0.0], [at0, at2]) as h:
        assert len(h.edits) == 1
    with guide(model, concept, 2.0, top_k=1) as h:
        assert [e.site for e in h.edits] == concept.top_sites(1)
    with pytest.raises(SteeringError, match="finite"), guide(model, concept, float("nan")):
        pass
    with pytest.raises(SteeringError, match="one per site"), guide(model, concept, [1.0], [at0, at2]):
        pass
    with pytest.raises(SiteError), guide(model, concept, 1.0, [Site(7, "attn_in")]):
        pass
    # a bare int is resid_post everywhere: this attn_in concept has no direction there, and says so
    with pytest.raises(SiteError, match="no direction at resid_post.1"), guide(model, concept, 1.0, [1]):
        pass
    with pytest.raises(IncompatibleArtifactError), guide(make_tiny("gpt2"), concept, 1.0):
        pass
    with pytest.raises(ShapeError), guide(model, {"attn_in.0": torch.ones(48)}, 1.0):
        pass


def test_concept_save_load_and_seed_format(tok, concept, tmp_path, examples):
    model = make_tiny("llama")
    concept.save(tmp_path / "c")
    back = ConceptProbe.load(tmp_path / "c", model=model)
    assert back.layers == concept.layers and back.kind == "dim" and back.train_accuracy == concept.train_accuracy
    acts = concept_activations(model, tok, examples[:6])
    torch.testing.assert_close(back.score_activations(acts), concept.score_activations(acts))  # mean kept
    with pytest.raises(IncompatibleArtifactError):
        ConceptProbe.load(tmp_path / "c", model=make_tiny("gpt2"))
    seed_file = concept.save_seed_format(tmp_path / "humor.safetensors")
    from safetensors.torch import load_file

    st = load_file(str(seed_file))
    assert st["W"].shape == (3, 32) and st["a"].shape == (3, 1) and st["b"].shape == (3,)
    again = ConceptProbe.load(seed_file, model=model)
    torch.testing.assert_close(again.probe.directions(), concept.probe.directions())
    from safetensors.torch import save_file

    save_file({"W": torch.ones(3, 48)}, str(tmp_path / "wide.safetensors"))
    with pytest.raises(IncompatibleArtifactError, match="width 32"):
        ConceptProbe.from_seed_file(tmp_path / "wide.safetensors", model)
    assert ConceptProbe.from_seed_file(tmp_path / "wide.safetensors").kind == "logistic"  # no 'a': a logistic file


def test_prompt_ids_stop_where_the_completion_starts(tok):
    from steerlens.concepts.data import prompt_ids

    ex = ConceptExample("w5 w6 w7", "w8 w9", 1)
    full = render(tok, ex)
    ids = prompt_ids(tok, "w5 w6 w7")
    assert ids == full.ids[: full.completion[0]] and len(ids) < len(full.ids)
    assert "w7" in tok.decode(ids) and "w8" not in tok.decode(ids)


def test_pca_direction_is_sklearns_first_component():
    """The PCA probe's exact eigen-solver finds scikit-learn's (full-SVD) first component, up to sign."""
    from sklearn.decomposition import PCA

    from steerlens.concepts.probes import _first_principal_direction

    g = torch.Generator().manual_seed(3)
    x = torch.randn(300, 24, generator=g) * torch.linspace(0.5, 3.0, 24) + torch.randn(24, generator=g)
    ours = _first_principal_direction(x)
    ref = torch.from_numpy(PCA(n_components=1, svd_solver="full").fit(x.double().numpy()).components_[0]).float()
    assert abs(float(ours @ ref)) > 1 - 1e-5 and abs(float(ours.norm()) - 1) < 1e-6


# --------------------------------------------------------------------------- judging guidance (issue 19, defect 4)


def test_sweep_refuses_prompts_the_concept_was_fitted_on(tok, concept, examples):
    """The concept records (hashes of) its training prompts; a sweep on them would score reconstruction."""
    from steerlens.concepts import guidance_sweep

    seen, held = concept.seen(examples), concept.held_out(examples)
    assert seen and held and len(seen) + len(held) == len(examples)
    assert {e.prompt for e in seen}.isdisjoint({e.prompt for e in held})
    with pytest.raises(DataFormatError, match="used to fit the concept"):
        guidance_sweep(make_tiny("llama"), tok, concept, [0.0, 1.0, 2.0], [seen[0].prompt], held[:2], progress=False)


def test_independent_judge_shares_neither_prompts_nor_layer(tok, concept, examples):
    from steerlens.concepts import guidance_sweep, held_out_judge, independent_scorer

    model = make_tiny("llama")
    guided = concept.top_sites(2)
    scorer, pool = held_out_judge(model, tok, concept, examples, guided)
    free = ({0, 1, 2} - {s.layer for s in guided}).pop()
    assert scorer.site == Site(free, "resid_post")
    judge_prompts = scorer.concept.train_prompts | {e.prompt for e in pool}
    assert not (scorer.concept.train_prompts & concept.train_prompts)  # fitted on prompts the concept never saw
    assert {e.prompt for e in pool}.isdisjoint({e.prompt for e in concept.seen(examples)})
    assert len(judge_prompts) > len(scorer.concept.train_prompts)  # evaluation prompts are not the judge's either
    with pytest.raises(SiteError, match="layer guidance writes"):
        independent_scorer(model, tok, concept.held_out(examples), concept, guided[0].layer, avoid=guided)
    with pytest.raises(DataFormatError, match="prompts the concept was fitted on"):
        independent_scorer(model, tok, examples, concept, free, avoid=guided)
    prompts = list(dict.fromkeys(e.prompt for e in pool))[:2]
    refs = [e for e in pool if e.label == 1][:2]
    neutral = [e for e in pool if e.label == 0][:2]
    res = guidance_sweep(
        model, tok, concept, [-2.0, 0.0, 2.0], prompts, refs, sites=guided, scorer=scorer,
        neutral_references=neutral, max_new_tokens=3, progress=False,
    )  # fmt: skip
    assert len(res.perplexity_neutral) == 3 and res.pnes and res.pnes_neutral
    assert "independent" in res.scorer and str(scorer.site) in res.scorer
    assert res.perplexity_neutral != res.perplexity  # two reference sets, two perplexities
    own = guidance_sweep(model, tok, concept, [0.0, 2.0], prompts, refs, sites=guided, max_new_tokens=3, progress=False)
    assert "own" in own.scorer and "not independent" in own.scorer


def test_concept_save_load_keeps_training_prompts(tmp_path, concept):
    concept.save(tmp_path / "c")
    back = ConceptProbe.load(tmp_path / "c")
    assert back.train_prompts == concept.train_prompts and len(back.train_prompts) > 0
    text = (tmp_path / "c" / "artifact.json").read_text()
    assert "w1" not in text.split('"train_prompts"')[1][:200]  # hashes, not the prompts themselves


def test_concept_monitor_reads_the_probe_per_token(tok, concept):
    """concept.monitor() reads P(label 1) of the chosen layer's probe on each token, from the generating passes."""
    model = make_tiny("llama")
    mon = concept.monitor()
    best = max(range(3), key=lambda i: (concept.val_accuracy[i], -i))
    assert mon.site == concept.sites[best]
    gen = generate(model, tok, ["w10 w11 w12"], max_new_tokens=3, monitors=[mon])
    full = gen.prompt_ids[0] + gen.new_ids[0]
    acts = capture(model, {"input_ids": torch.tensor([full])}, concept.sites)
    x = torch.stack([acts[s][0] for s in concept.sites], 1)  # [tokens, layers, d]
    want = concept.probe.predict_proba(x)[:, best]
    got = torch.tensor(gen.readings[mon.key][0])
    torch.testing.assert_close(got[:-1], want[:-1], atol=1e-5, rtol=1e-4)
    with pytest.raises(SiteError, match="no probe at"):
        concept.monitor("resid_post.1")


def test_contrast_pairs_pair_each_prompts_two_labels():
    from steerlens.concepts.data import ConceptExample, contrast_pairs, load_dataset

    ex = [
        ConceptExample("p1", "plain", 0),
        ConceptExample("p1", "funny", 1),
        ConceptExample("p1", "funnier", 1),
        ConceptExample("p2", "only plain", 0),
    ]
    assert contrast_pairs(ex) == [("p1\nfunny", "p1\nplain")]
    assert contrast_pairs(ex, "Q: {prompt} A: {completion}") == [("Q: p1 A: funny", "Q: p1 A: plain")]
    with pytest.raises(DataFormatError, match="both"):
        contrast_pairs(ex[3:])
    with pytest.raises(DataFormatError, match="template"):
        contrast_pairs(ex, "{prompt}")
    assert len(contrast_pairs(load_dataset("tone"))) == 150
