"""Monitors read per token from the generating forward passes; Conditional edits fire only where they read so."""

import math

import pytest
import torch

from conftest import make_tiny
from steerlens.errors import ShapeError, SiteError
from steerlens.model import Add, Site, capture, generate, intervene
from steerlens.model.monitor import Conditional, Monitor
from steerlens.model.tokens import pad

PROMPTS = [[1, 17, 23, 5, 9], [1, 40, 41], [1, 60, 3, 8, 12, 30, 2]]


def _ids(rows):
    b = pad(rows, side="right")
    return {"input_ids": b.input_ids, "attention_mask": b.attention_mask}


def _direction(seed=0, d=32):
    return torch.randn(d, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_readings_equal_a_separate_capture_of_the_same_tokens(arch):
    """Per row: the prompt's and the generated tokens' readings, from the generating passes, equal the monitor
    applied to a plain capture of prompt + generated tokens (the last generated token has no reading)."""
    model = make_tiny(arch)
    d = model.config.hidden_size if arch != "gpt2" else model.config.n_embd
    mon = Monitor.projection(Site(1), _direction(d=d), name="w")
    lens = Monitor.logit_lens(model, Site(0), [5, 9], name="lens")
    gen = generate(model, None, _ids(PROMPTS), max_new_tokens=4, monitors=[mon, lens])
    assert gen.readings is not None and set(gen.readings) == {"w", "lens"}
    for i, (p, new) in enumerate(zip(gen.prompt_ids, gen.new_ids)):
        full = p + new
        acts = capture(model, {"input_ids": torch.tensor([full])}, [Site(1), Site(0)])
        for name, m, site in (("w", mon, Site(1)), ("lens", lens, Site(0))):
            got = gen.readings[name][i]
            assert len(got) == len(full) and math.isnan(got[-1])
            want = m.read(acts[site])[0]
            torch.testing.assert_close(torch.tensor(got[:-1]), want[:-1], atol=1e-4, rtol=1e-4)


def test_readings_are_the_same_cached_uncached_batched_and_alone():
    model = make_tiny("llama")
    mon = Monitor.projection("resid_pre.2", _direction(1), cosine=True)
    batched = generate(model, None, _ids(PROMPTS), max_new_tokens=5, monitors=[mon])
    uncached = generate(model, None, _ids(PROMPTS), max_new_tokens=5, monitors=[mon], use_cache=False)
    key = "resid_pre.2"
    assert batched.new_ids == uncached.new_ids
    for i, p in enumerate(PROMPTS):
        alone = generate(model, None, _ids([p]), max_new_tokens=5, monitors=[mon])
        assert alone.new_ids[0] == batched.new_ids[i]
        for other in (uncached.readings[key][i], alone.readings[key][0]):
            torch.testing.assert_close(torch.tensor(other), torch.tensor(batched.readings[key][i]), equal_nan=True)
        assert all(-1.0001 <= v <= 1.0001 for v in batched.readings[key][i][:-1])  # cosines


def test_conditional_that_never_fires_is_bit_identical_and_one_that_always_fires_is_the_edit():
    model = make_tiny("llama")
    delta = _direction(2) * 3
    edit = Add(Site(1), delta, strength=2.0)
    mon = Monitor.projection(Site(0), _direction(3))
    plain = generate(model, None, _ids(PROMPTS), max_new_tokens=6)
    with intervene(model, [Conditional(edit, mon, threshold=math.inf)]):
        never = generate(model, None, _ids(PROMPTS), max_new_tokens=6)
        with torch.no_grad():
            logits_never = model(**_ids(PROMPTS)).logits
    with torch.no_grad():
        logits_plain = model(**_ids(PROMPTS)).logits
    assert never.new_ids == plain.new_ids and torch.equal(logits_never, logits_plain)
    with intervene(model, [edit]):
        steered = generate(model, None, _ids(PROMPTS), max_new_tokens=6)
    with intervene(model, [Conditional(edit, mon, threshold=-math.inf)]):
        always = generate(model, None, _ids(PROMPTS), max_new_tokens=6)
    assert always.new_ids == steered.new_ids != plain.new_ids


def test_token_condition_applies_exactly_where_the_monitor_reads_above():
    model = make_tiny("llama")
    mon = Monitor.projection(Site(0), _direction(4))
    ids = _ids(PROMPTS)
    before = capture(model, ids, [Site(0), Site(1)])
    reading = mon.read(before[Site(0)])
    thr = float(reading[ids["attention_mask"].bool()].median())
    delta = _direction(5)
    with intervene(model, [Conditional(Add(Site(1), delta), mon, thr)]):
        after = capture(model, ids, [Site(1)])[Site(1)]
    fired = (reading > thr) & ids["attention_mask"].bool()
    assert 0 < int(fired.sum()) < int(ids["attention_mask"].sum())
    diff = after - before[Site(1)]
    torch.testing.assert_close(diff[fired], delta.expand(int(fired.sum()), -1), atol=1e-5, rtol=1e-5)
    assert float(diff[~fired].abs().max()) == 0.0
    with intervene(model, [Conditional(Add(Site(1), delta), mon, thr, above=False)]):
        below = capture(model, ids, [Site(1)])[Site(1)] - before[Site(1)]
    under = (reading < thr) & ids["attention_mask"].bool()
    torch.testing.assert_close(below[under], delta.expand(int(under.sum()), -1), atol=1e-5, rtol=1e-5)
    assert float(below[~under].abs().max()) == 0.0  # including the median token itself: neither above nor below


def test_prompt_condition_decides_per_row_and_keeps_the_decision_while_generating():
    """CAST: the mean reading over a row's prompt decides; the rows that fire are steered on every token, cached or
    not, batched or alone; the others generate exactly as unsteered."""
    model = make_tiny("llama")
    mon = Monitor.projection(Site(0), _direction(6))
    ids = _ids(PROMPTS)
    r = mon.read(capture(model, ids, [Site(0)])[Site(0)])
    m = ids["attention_mask"].float()
    means = (r * m).sum(1) / m.sum(1)
    low, mid, _ = sorted(means.tolist())
    thr = (low + mid) / 2  # one row below, two above, none near the threshold
    fires = [bool(x > thr) for x in means]
    assert any(fires) and not all(fires)
    edit = Add(Site(1), _direction(7) * 4, strength=2.0)
    cond = Conditional(edit, mon, thr, scope="prompt")
    plain = generate(model, None, ids, max_new_tokens=6)
    with intervene(model, [edit]):
        steered = generate(model, None, ids, max_new_tokens=6)
    with intervene(model, [cond]):
        got = generate(model, None, ids, max_new_tokens=6)
        uncached = generate(model, None, ids, max_new_tokens=6, use_cache=False)
        alone = [generate(model, None, _ids([p]), max_new_tokens=6).new_ids[0] for p in PROMPTS]
    for i, f in enumerate(fires):
        assert got.new_ids[i] == (steered.new_ids[i] if f else plain.new_ids[i])
    assert got.new_ids == uncached.new_ids == alone


def test_bad_monitors_and_conditions_are_typed_errors():
    model = make_tiny("llama")
    edit = Add(Site(0), _direction(8))
    with (
        pytest.raises(SiteError, match="after the edit writes"),
        intervene(model, [Conditional(edit, Monitor.projection(Site(2), _direction()), 0.0)]),
    ):
        pass  # fmt: skip
    with pytest.raises(ShapeError, match="finite, non-zero"):
        Monitor.projection(Site(0), torch.zeros(32))
    with pytest.raises(SiteError, match="residual stream"):
        Monitor.logit_lens(model, "attn_out.0", [1])
    bad = Monitor(Site(0), lambda h: h.sum(-1, keepdim=True))
    with pytest.raises(ShapeError, match="expected \\[batch, tokens\\]"):
        generate(model, None, _ids(PROMPTS), max_new_tokens=2, monitors=[bad])
    with pytest.raises(ShapeError, match="distinct names"):
        generate(model, None, _ids(PROMPTS), max_new_tokens=2, monitors=[Monitor.projection(0, _direction())] * 2)
    with pytest.raises(ShapeError, match="threshold"):
        with intervene(model, [Conditional(edit, Monitor.projection(0, _direction()), float("nan"))]):
            pass
