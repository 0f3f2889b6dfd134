"""intervene(): edits land exactly where addressed, compose, and clean up after themselves."""

import pytest
import torch

from conftest import make_tiny, random_prompts
from steerlens.errors import PositionError, ShapeError
from steerlens.model import Add, From, ProjectOut, Replace, Site, Spans, Tokens, Transform, capture, intervene, resolve
from steerlens.model.tokens import pad


def _hs(model, ids, mask=None):
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states


def _hook_count(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_add_changes_exactly_the_next_hidden_state(tiny):
    """Adding v at resid_post of layer 0 shifts hidden_states[1] by exactly v at the chosen tokens."""
    ids = torch.tensor([[1, 7, 8, 9, 10]])
    base = _hs(tiny, ids)
    v = torch.randn(32)
    with intervene(tiny, [Add(Site(0), v, positions=Tokens([1, 3]))]):
        edited = _hs(tiny, ids)
    diff = edited[1][0] - base[1][0]
    torch.testing.assert_close(diff[[1, 3]], torch.stack([v, v]), atol=1e-5, rtol=1e-5)
    assert diff[[0, 2, 4]].abs().max() == 0
    # layer 0's own input is untouched
    assert torch.equal(edited[0], base[0])


def test_scale_zero_and_cancelling_edits_are_no_ops(tiny):
    ids = torch.tensor([[1, 7, 8, 9]])
    base = _hs(tiny, ids)[-1]
    v = torch.randn(32)
    with intervene(tiny, [Add(Site(1), v, strength=0.0)]):
        assert torch.equal(_hs(tiny, ids)[-1], base)
    with intervene(tiny, [Add(Site(1), v), Add(Site(1), -v)]):
        torch.testing.assert_close(_hs(tiny, ids)[-1], base, atol=1e-5, rtol=1e-5)


def test_nested_interventions_compose_and_unwind(tiny):
    ids = torch.tensor([[1, 7, 8, 9]])
    v, w = torch.randn(32), torch.randn(32)
    before = _hook_count(tiny)
    with intervene(tiny, Add(Site(0, "resid_pre"), v)):
        one = _hs(tiny, ids)[0]
        with intervene(tiny, Add(Site(0, "resid_pre"), w)):
            both = _hs(tiny, ids)[0]
        again = _hs(tiny, ids)[0]
    plain = _hs(tiny, ids)[0]
    torch.testing.assert_close(both - plain, (v + w).expand_as(plain), atol=1e-5, rtol=1e-5)
    assert torch.equal(one, again)
    assert _hook_count(tiny) == before


def test_hooks_removed_when_block_raises(tiny):
    before = _hook_count(tiny)
    with pytest.raises(KeyError):
        with intervene(tiny, [Add(Site(1, "mlp_out"), torch.ones(32)), ProjectOut(Site(2), torch.ones(32))]):
            raise KeyError("inside")
    assert _hook_count(tiny) == before


def test_invalid_edit_installs_nothing(tiny):
    before = _hook_count(tiny)
    with pytest.raises(ShapeError, match="hidden size is 32"):
        with intervene(tiny, [Add(Site(0), torch.ones(32)), Add(Site(1), torch.ones(31))]):
            pass
    assert _hook_count(tiny) == before


def test_other_hooks_survive(tiny):
    spec = resolve(tiny)
    seen = []
    h = spec.blocks[0].register_forward_hook(lambda *a: seen.append(1))
    try:
        with intervene(tiny, Add(Site(0), torch.ones(32))):
            pass
        _hs(tiny, torch.tensor([[1, 5]]))
        assert seen == [1]
    finally:
        h.remove()


def test_edits_never_mutate_tensors_in_place():
    model = make_tiny("llama")
    held = {}

    def grab(h, pos):
        held["t"], held["copy"] = h, h.clone()
        return h * 2

    with intervene(
        model,
        [
            Transform(Site(1, "resid_pre"), grab),
            Add(Site(1, "resid_pre"), torch.ones(32)),
            Replace(Site(1, "resid_pre"), torch.zeros(32), positions="last_prompt"),
        ],
    ):
        _hs(model, torch.tensor([[1, 5, 6]]))
    assert torch.equal(held["t"], held["copy"])


def test_replace_and_project_out():
    model = make_tiny("gemma3_text")
    ids = torch.tensor([[1, 5, 6, 7]])
    u = torch.randn(32)
    with intervene(model, [ProjectOut(Site(1, "resid_pre"), u, positions=From(1))]):
        acts = capture(model, {"input_ids": ids}, [Site(1, "resid_pre")])
    h = acts[Site(1, "resid_pre")][0]
    assert (h[1:] @ u / u.norm()).abs().max() < 1e-4
    assert (h[0] @ u).abs() > 1e-3
    val = torch.randn(2, 32)
    with intervene(model, [Replace(Site(0, "resid_post"), val, positions=Tokens([-1, 0]))]):
        acts = capture(model, {"input_ids": ids}, [Site(0, "resid_post")])
    torch.testing.assert_close(acts[Site(0)][0, 3], val[0])
    torch.testing.assert_close(acts[Site(0)][0, 0], val[1])


def test_per_row_and_spans():
    model = make_tiny("phi3")
    rows = random_prompts((4, 6))
    b = pad(rows, "left")
    deltas = torch.randn(2, 32)
    base = capture(model, b.__dict__, [Site(0)])
    with intervene(model, [Add(Site(0), deltas, positions=Spans([(1, 3), (2, 4)]), per_row=True)]):
        edited = capture(model, b.__dict__, [Site(0)])
    diff = edited[Site(0)] - base[Site(0)]
    torch.testing.assert_close(diff[0, 1:3], deltas[0].expand(2, 32), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(diff[1, 2:4], deltas[1].expand(2, 32), atol=1e-5, rtol=1e-5)
    assert diff[0, [0, 3]].abs().max() == 0 and diff[1, [0, 1, 4, 5]].abs().max() == 0


def test_bad_edits_are_typed_errors():
    model = make_tiny("llama")
    with pytest.raises(ShapeError, match="needs either positions=Tokens"):
        with intervene(model, Add(Site(0), torch.ones(3, 32))):
            pass
    with pytest.raises(ShapeError, match="3 vectors for 2 token positions"):
        with intervene(model, Add(Site(0), torch.ones(3, 32), positions=Tokens([0, 1]))):
            pass
    with pytest.raises(PositionError, match="Unknown positions"):
        with intervene(model, Add(Site(0), torch.ones(32), positions="everything")):
            pass
    with pytest.raises(ShapeError, match="linearly dependent"):
        with intervene(model, ProjectOut(Site(0), torch.zeros(32))):
            pass
    with pytest.raises(TypeError, match="takes steerlens edits"):
        with intervene(model, ["not an edit"]):
            pass
    with pytest.raises(ShapeError, match="per_row vectors: 2 rows"):
        with intervene(model, Add(Site(0), torch.ones(2, 32), per_row=True)):
            _hs(model, torch.tensor([[1, 2, 3]]))
    with pytest.raises(PositionError, match="2 spans but the batch has 1"):
        with intervene(model, Add(Site(0), torch.ones(32), positions=Spans([(0, 1), (0, 1)]))):
            _hs(model, torch.tensor([[1, 2, 3]]))


def test_all_tokens_fast_path_matches_tracked_positions(tiny):
    """positions="all" (padding mask only) and From(0) (full position tracking) edit the same tokens."""
    from steerlens.model import generate

    rows = random_prompts((6, 2, 4), seed=3)
    v = torch.randn(32) * 3
    outs = {}
    for at in ("all", From(0)):
        with intervene(tiny, [Add(Site(1), v, positions=at), ProjectOut(Site(0, "resid_post"), v, positions=at)]) as handle:
            assert handle._light == (at == "all")
            for cache in (True, False):
                outs[at, cache] = generate(tiny, None, pad(rows, side="left").__dict__, max_new_tokens=5, use_cache=cache).new_ids
            b = pad(rows, side="right")
            logits = tiny(input_ids=b.input_ids, attention_mask=b.attention_mask).logits
            outs[at, "logits"] = logits[b.attention_mask.bool()]
    assert outs["all", True] == outs[From(0), True] == outs["all", False] == outs[From(0), False]
    assert torch.equal(outs["all", "logits"], outs[From(0), "logits"])
    with intervene(tiny, [Add(Site(1), v)]):
        plain = generate(tiny, None, pad(rows, side="left").__dict__, max_new_tokens=5).new_ids
    assert plain != generate(tiny, None, pad(rows, side="left").__dict__, max_new_tokens=5).new_ids


def test_on_rows_edits_only_its_rows_and_other_rows_stay_bit_identical(tiny):
    from steerlens.model import OnRows, generate

    spec = resolve(tiny)
    rows = random_prompts((5, 9, 3))
    batch = pad(rows, side="left", pad_id=0)
    delta = torch.randn(spec.d_model, generator=torch.Generator().manual_seed(0)) * 20
    site = Site(1, "resid_pre")
    plain = generate(tiny, None, batch, max_new_tokens=6).new_ids
    with intervene(tiny, [OnRows(Add(site, delta, strength=8.0), (1,))]):
        mixed = generate(tiny, None, batch, max_new_tokens=6).new_ids
    with intervene(tiny, Add(site, delta, strength=8.0)):
        alone = generate(tiny, None, {"input_ids": torch.tensor([rows[1]])}, max_new_tokens=6).new_ids[0]
    assert mixed[0] == plain[0] and mixed[2] == plain[2]
    assert mixed[1] == alone != plain[1]
    sites = [Site(2)]
    base = capture(tiny, batch, sites)[sites[0]]
    with intervene(tiny, [OnRows(Add(site, delta, strength=8.0), (0, 2))]):
        edited = capture(tiny, batch, sites)[sites[0]]
    assert torch.equal(edited[1], base[1]) and not torch.equal(edited[0], base[0])


def test_on_rows_keeps_an_edit_that_cannot_place_itself_out_of_other_rows():
    from steerlens.model import OnRows
    from steerlens.steering.addition import ActAdd, ActivationAddition

    model = make_tiny("llama")
    rows = [[1, 5, 6, 7, 8, 9, 10], [1, 4]]  # the second row is shorter than the 5-token steering tensor
    act = ActAdd.build(model, None, [ActivationAddition(2.0, Site(1, "resid_pre"), tokens=[1, 3, 4, 5, 6])])
    batch = pad(rows, side="left", pad_id=0)
    with pytest.raises(PositionError):
        with intervene(model, act.edits()):
            model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
    with intervene(model, [OnRows(e, (0,)) for e in act.edits()]):
        model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)  # only row 0 is steered, and it is long enough
    with pytest.raises(ShapeError, match="batch has 2 rows"):
        with intervene(model, [OnRows(Add(Site(0), torch.ones(32)), (5,))]):
            model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
    with pytest.raises(ShapeError, match="non-negative"):
        intervene(model, [OnRows(Add(Site(0), torch.ones(32)), ())]).__enter__()


def test_generate_on_step_streams_every_token_and_stops_rows_at_once():
    from steerlens.model import generate

    model = make_tiny("llama")
    rows = random_prompts((4, 2, 6))
    batch = pad(rows, side="left", pad_id=0)
    full = generate(model, None, batch, max_new_tokens=8).new_ids
    seen: dict[int, list[int]] = {0: [], 1: [], 2: []}

    def on_step(idx, tokens):
        for i, t in zip(idx, tokens):
            seen[i].append(t)
        return [1] if len(seen[1]) >= 3 else []

    out = generate(model, None, batch, max_new_tokens=8, on_step=on_step).new_ids
    assert out[0] == full[0] and out[2] == full[2]
    assert out[1][:3] == full[1][:3] and set(out[1][3:]) <= {0}  # stopped right after its third token
    assert seen[0] == full[0][: len(seen[0])] and seen[1][:3] == full[1][:3]
