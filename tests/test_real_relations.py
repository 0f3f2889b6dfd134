"""Relations on the embedded models: exact single-prompt LREs, the validator and the shipped dataset."""

import torch

from steerlens.relations import (
    PromptValidator,
    load_relation,
    make_prompts,
    object_activations,
    subject_activations,
    train_lre,
)


def test_single_prompt_lre_reproduces_object_activation(real):
    name, model, tok = real
    rel = load_relation("country capital city")
    prompt = make_prompts(rel, n_demonstrations=2)[10]  # France -> Paris, after two demonstrations
    for agg in ("first_token", "mean"):
        lre = train_lre(model, tok, [prompt], 3, 5, aggregation=agg)
        s = subject_activations(model, tok, [prompt], 3)
        o = object_activations(model, tok, [prompt], 5, aggregation=agg)
        scale = float(o.abs().max())
        assert (lre(s) - o).abs().max() <= 1e-4 * max(1.0, scale), (name, agg)
        # the Jacobian is not the identity or zero: the map really depends on the subject
        assert 0 < float(lre.weight.norm()) and not torch.allclose(lre.weight, torch.eye(lre.d_model), atol=1e-3)


def test_validator_keeps_known_capitals(gemma):
    model, tok = gemma
    rel = load_relation("country capital city")
    prompts = make_prompts(rel, n_demonstrations=3)[9:15]  # Spain, France, Germany, Italy, Russia, China
    kept = PromptValidator(model, tok).filter(prompts)
    assert {p.answer for p in kept} >= {"Paris", "Madrid"}
    wrong = [type(p)(p.text, "Narnia", p.subject) for p in prompts[:2]]
    assert PromptValidator(model, tok).filter(wrong) == []
