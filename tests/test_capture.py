"""capture(): batched, padding-aware, stops early, removes its hooks."""

import pytest
import torch

from conftest import make_tiny, random_prompts
from steerlens.errors import PaddingError, PositionError, SiteError
from steerlens.model import Site, capture, resolve
from steerlens.model.tokens import pad

ALL_POINTS = ["resid_pre", "attn_in", "attn_out", "mlp_in", "mlp_out", "resid_post"]


def _reference(model, rows):
    """resid_pre/resid_post of each prompt run alone through output_hidden_states."""
    out = []
    for r in rows:
        with torch.no_grad():
            hs = model(torch.tensor([r]), output_hidden_states=True).hidden_states
        out.append(hs)
    return out


def test_capture_matches_hidden_states_for_padded_batches(tiny):
    rows = random_prompts((5, 9, 3, 7))
    ref = _reference(tiny, rows)
    sites = [Site(0, "resid_pre"), Site(1, "resid_pre"), Site(1, "resid_post")]
    for side in ("left", "right"):
        b = pad(rows, side=side)
        for bs in (1, 3, 4):
            acts = capture(tiny, {"input_ids": b.input_ids, "attention_mask": b.attention_mask}, sites, batch_size=bs)
            assert acts.mask.tolist() == [[j < len(r) for j in range(9)] for r in rows]
            for i, r in enumerate(rows):
                n = len(r)
                torch.testing.assert_close(acts[Site(0, "resid_pre")][i, :n], ref[i][0][0], atol=1e-4, rtol=1e-4)
                torch.testing.assert_close(acts[Site(1, "resid_pre")][i, :n], ref[i][1][0], atol=1e-4, rtol=1e-4)
                torch.testing.assert_close(acts[Site(1, "resid_post")][i, :n], ref[i][2][0], atol=1e-4, rtol=1e-4)
                assert acts[Site(1, "resid_post")][i, n:].abs().sum() == 0


def test_capture_position_kinds_agree(tiny):
    rows = random_prompts((5, 9, 3))
    sites = [Site(2, p) for p in ALL_POINTS]
    full = capture(tiny, {"input_ids": pad(rows).input_ids, "attention_mask": pad(rows).attention_mask}, sites)
    last = capture(
        tiny,
        {"input_ids": pad(rows, "left").input_ids, "attention_mask": pad(rows, "left").attention_mask},
        sites,
        positions="last",
        batch_size=2,
    )
    idx = torch.tensor([[0, 4], [8, 1], [2, 0]])
    picked = capture(tiny, pad(rows, "left").__dict__, sites, positions=idx)
    mask = torch.zeros(3, 9, dtype=torch.bool)
    mask[0, 1] = mask[1, 3] = mask[1, 8] = mask[2, 2] = True
    packed = capture(tiny, pad(rows).__dict__, sites, positions=mask, batch_size=1)
    for s in sites:
        for i, r in enumerate(rows):
            torch.testing.assert_close(last[s][i], full[s][i, len(r) - 1], atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(picked[s][i], full[s][i, idx[i]], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(packed[s], full[s][mask], atol=1e-4, rtol=1e-4)
    assert packed.rows.tolist() == [0, 1, 1, 2]


def test_capture_stops_after_last_site(tiny):
    spec = resolve(tiny)
    calls = []
    handles = [
        spec.blocks[2].register_forward_pre_hook(lambda *a: calls.append("block2")),
        spec.final_norm.register_forward_hook(lambda *a: calls.append("norm")),
        spec.unembed.register_forward_hook(lambda *a: calls.append("head")),
    ]
    try:
        capture(tiny, {"input_ids": torch.tensor([[1, 5, 6]])}, [Site(0), Site(1, "resid_pre")])
        assert calls == []
        capture(tiny, {"input_ids": torch.tensor([[1, 5, 6]])}, [Site(2)])
        assert calls == ["block2"]
    finally:
        for h in handles:
            h.remove()


def test_capture_removes_its_hooks_even_on_error(tiny):
    spec = resolve(tiny)

    def count():
        return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in tiny.modules())

    before = count()
    capture(tiny, {"input_ids": torch.tensor([[1, 5, 6]])}, spec.all_sites("mlp_out"))
    assert count() == before
    boom = spec.blocks[1].register_forward_hook(lambda *a: (_ for _ in ()).throw(RuntimeError("boom")))
    try:
        with pytest.raises(RuntimeError, match="boom"):
            capture(tiny, {"input_ids": torch.tensor([[1, 5, 6]])}, [Site(2)])
    finally:
        boom.remove()
    assert count() == before


def test_capture_text_inputs_need_tokenizer():
    model = make_tiny("llama")
    with pytest.raises(PositionError, match="need a tokenizer"):
        capture(model, ["hello"], [Site(0)])


def test_capture_bad_inputs():
    model = make_tiny("llama")
    padded = pad(random_prompts((5, 3))).input_ids
    with pytest.raises(PaddingError, match="no attention"):
        capture(model, {"input_ids": padded}, [Site(0)])
    with pytest.raises(SiteError, match="valid layers are 0..2"):
        capture(model, {"input_ids": padded[:1]}, [Site(5)])
    with pytest.raises(PositionError, match="outside input 1"):
        capture(model, pad(random_prompts((5, 3))).__dict__, [Site(0)], positions=torch.tensor([4, 3]))
    with pytest.raises(PositionError, match="2 rows but there are 1"):
        capture(model, {"input_ids": padded[:1]}, [Site(0)], positions=torch.tensor([0, 1]))
    with pytest.raises(PositionError):
        capture(model, {"input_ids": padded[:1]}, [Site(0)], positions="first")
    bad_mask = torch.zeros(2, 5, dtype=torch.bool)
    bad_mask[1, 4] = True
    with pytest.raises(PositionError, match="past the end of input 1"):
        capture(model, pad(random_prompts((5, 3))).__dict__, [Site(0)], positions=bad_mask)
    with pytest.raises(PaddingError, match="attention_mask has shape"):
        capture(model, {"input_ids": padded, "attention_mask": torch.ones(2, 4)}, [Site(0)])


def test_capture_dtype_and_stack():
    model = make_tiny("qwen2")
    acts = capture(
        model, {"input_ids": torch.tensor([[1, 4, 5, 6]])}, resolve(model).all_sites(), positions="last", dtype=torch.bfloat16
    )
    assert acts.stack().shape == (3, 1, 32)
    assert acts.stack().dtype == torch.bfloat16
    with pytest.raises(SiteError, match="was not captured"):
        acts[Site(0, "mlp_out")]


def test_continuation_logprobs_equal_the_tail_of_next_token_logprobs(tiny):
    """The LM head on the continuation positions only gives the same log-probs as the full pass, every arch."""
    from steerlens.errors import PositionError
    from steerlens.model.capture import continuation_logprobs, next_token_logprobs

    rows = [[1, 17, 23, 5, 9], [1, 40, 41, 7], [1, 60, 3, 8, 12, 30]]
    starts = [2, 3, 1]
    full = next_token_logprobs(tiny, rows, batch_size=2)
    got = continuation_logprobs(tiny, rows, starts, batch_size=2)
    for f, g, k in zip(full, got, starts):
        torch.testing.assert_close(g, f[k - 1 :], atol=1e-4, rtol=1e-4)
    with pytest.raises(PositionError, match="start"):
        continuation_logprobs(tiny, rows, [0, 1, 1])


def test_next_token_ranks_match_the_full_distribution_in_input_order():
    from steerlens.model.capture import last_token_logprobs, next_token_ranks

    model = make_tiny("llama")
    rows = [[5, 6, 7, 8, 9, 10], [11, 12], [13, 14, 15, 16], [17], [18, 19, 20]]
    targets = [3, 40, 7, 21, 2]
    lp = last_token_logprobs(model, rows, batch_size=2)
    want = (lp > lp.gather(1, torch.tensor(targets)[:, None])).sum(-1)
    got = next_token_ranks(model, rows, targets, batch_size=2)  # batched by length, put back in order
    assert got.tolist() == want.tolist()
    assert got.tolist() == next_token_ranks(model, rows, targets, batch_size=64).tolist()
    top = lp.argmax(-1).tolist()
    assert next_token_ranks(model, rows, top).tolist() == [0] * len(rows)
    with pytest.raises(PositionError, match="2 targets for 5 rows"):
        next_token_ranks(model, rows, targets[:2])
