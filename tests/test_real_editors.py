"""REMEDI editors on the embedded models: data with real tokenizers, known facts, the baselines' ordering."""

import torch

from steerlens.editors import (
    EditorEdit,
    Prefix,
    Unedited,
    counterfact_from_relations,
    evaluate_edits,
    filter_known,
    make_editor,
    precompute,
)
from steerlens.editors.data import first_token
from steerlens.editors.inputs import edit_spans
from steerlens.editors.train import editing_batch, editing_loss


def test_capital_city_edits(real):
    name, model, tok = real
    built = counterfact_from_relations(["country capital city", "country language"], tokenizer=tok, seed=0)
    assert all(first_token(tok, s.target_new) != first_token(tok, s.target_true) for s in built)
    known = filter_known(model, tok, built, top_k=3)
    assert len(known) >= 6, (name, len(known))
    known = known[:12]
    # the edit goes on the entity's last token: decoding that token gives the entity's end
    for s, (a, b) in zip(known, edit_spans(tok, [s.prompt for s in known], [s.entity for s in known])):
        ids = tok(s.prompt)["input_ids"]
        assert s.entity.endswith(tok.decode(ids[a:b]).strip()), (s.prompt, tok.decode(ids[a:b]))
    layer = 1
    res = {
        r.method: r
        for r in evaluate_edits(
            model,
            tok,
            known,
            [
                Unedited(),
                Prefix(),
                EditorEdit(make_editor("null", model, layer)),
                EditorEdit(make_editor("identity", model, layer)),
            ],
            generation=False,
            progress=False,
        )
    }
    assert res["null"].efficacy == res["unedited"].efficacy
    assert res["null"].efficacy_magnitude == res["unedited"].efficacy_magnitude
    # stating the new fact first moves the model towards it (the prefix baseline is real)
    assert res["prefix"].efficacy_magnitude > res["unedited"].efficacy_magnitude + 0.05, name
    assert res["identity"].efficacy_magnitude != res["unedited"].efficacy_magnitude
    # a trainable editor starts as the null edit: zero KL; the loss parts are finite
    ins = precompute(model, tok, known, layer)[layer]
    ed = make_editor("linear", model, layer)
    ed.fit_scales(ins.entity_last, ins.attribute)
    _, parts = editing_loss(model, ed, ins, editing_batch(model, tok, known), list(range(len(known))))
    assert parts["kl"] < 1e-3 and all(torch.isfinite(torch.tensor(v)) for v in parts.values())
