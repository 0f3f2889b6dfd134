"""Positions are correct by construction: an edit lands on the same tokens with and without the KV
cache, batched or one by one, left- or right-padded -- on every architecture in the table."""

import pytest
import torch

from conftest import ARCHS, make_tiny, random_prompts
from steerlens.errors import PaddingError
from steerlens.model import Add, From, Site, Spans, Tokens, generate, intervene, resolve
from steerlens.model.tokens import pad

LENGTHS = (5, 9, 3)
NEW = 6
SPANS = [(1, 3), (2, 7), (0, 2)]


def _edits(kind, rows, spec, gen):
    """Build the edit for ``rows`` (indices into the prompt list), so batches and single rows match."""
    v = torch.randn(spec.d_model, generator=gen) * 3.0
    site = Site(1, "resid_post")
    if kind == "tokens_aligned":
        return [Add(site, torch.randn(2, spec.d_model, generator=gen) * 3.0, positions=Tokens(range(-2, 0)))]
    if kind == "spans":
        return [Add(site, v, positions=Spans([SPANS[r] for r in rows]))]
    if kind == "per_row":
        d = torch.randn(len(LENGTHS), spec.d_model, generator=gen) * 3.0
        return [Add(site, d[list(rows)], positions="generated", per_row=True)]
    at = {
        "all": "all",
        "prompt": "prompt",
        "generated": "generated",
        "last_prompt": "last_prompt",
        "tokens": Tokens([1, 6]),
        "from": From(3),
    }[kind]
    return [Add(site, v, positions=at)]


KINDS = ["all", "prompt", "generated", "last_prompt", "tokens", "tokens_aligned", "from", "spans", "per_row"]


def _hf_generate(model, rows, use_cache):
    b = pad(rows, side="left")
    out = model.generate(
        input_ids=b.input_ids,
        attention_mask=b.attention_mask,
        max_new_tokens=NEW,
        do_sample=False,
        use_cache=use_cache,
        pad_token_id=0,
        eos_token_id=None,
    )
    return out[:, b.input_ids.shape[1] :].tolist()


def _with(model, kind, rows, fn):
    spec = resolve(model)
    edits = _edits(kind, rows, spec, torch.Generator().manual_seed(7))
    with intervene(model, edits):
        return fn()


@pytest.mark.parametrize("arch", ARCHS)
def test_generation_is_cache_batch_and_padding_invariant(arch):
    model = make_tiny(arch)
    prompts = random_prompts(LENGTHS)
    plain = _hf_generate(model, prompts, True)
    changed = 0
    for kind in KINDS:
        idx = list(range(len(prompts)))
        cached = _with(model, kind, idx, lambda: _hf_generate(model, prompts, True))
        uncached = _with(model, kind, idx, lambda: _hf_generate(model, prompts, False))
        assert cached == uncached, (arch, kind, "cached vs uncached")
        single = [_with(model, kind, [i], lambda i=i: _hf_generate(model, [prompts[i]], True))[0] for i in idx]
        assert cached == single, (arch, kind, "batched vs one by one")
        right = pad(prompts, side="right")
        wrapped = _with(
            model,
            kind,
            idx,
            lambda right=right: generate(model, None, right.__dict__, max_new_tokens=NEW, eos_token_id=None).new_ids,
        )
        assert wrapped == cached, (arch, kind, "right-padded input through steerlens.generate")
        changed += cached != plain
    # the edits are strong enough to matter: most kinds change the greedy continuation
    assert changed >= len(KINDS) - 2, (arch, changed)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("kind", ["all", "prompt", "last_prompt", "tokens", "tokens_aligned", "from", "spans"])
def test_forward_left_vs_right_padding(arch, kind):
    """Plain forward passes on a padded batch (position ids from the mask): logits of real tokens agree."""
    model = make_tiny(arch)
    prompts = random_prompts(LENGTHS)
    idx = list(range(len(prompts)))
    outs = {}
    for side in ("left", "right"):
        b = pad(prompts, side=side)
        pos = (b.attention_mask.cumsum(1) - 1).clamp(min=0)
        with torch.no_grad():
            logits = _with(
                model,
                kind,
                idx,
                lambda b=b, pos=pos: model(input_ids=b.input_ids, attention_mask=b.attention_mask, position_ids=pos).logits,
            )
        outs[side] = [logits[i][b.attention_mask[i].bool()] for i in idx]
    for i in idx:
        torch.testing.assert_close(outs["left"][i], outs["right"][i], atol=1e-4, rtol=1e-4)


def test_prompt_lengths_override_and_errors():
    model = make_tiny("llama")
    prompts = random_prompts((4,))
    base = _hf_generate(model, prompts, True)
    v = torch.randn(32) * 5
    # declaring the first 2 tokens as the prompt makes "generated" edits start at position 2
    with intervene(model, Add(Site(0), v, positions="generated"), prompt_lengths=[2]):
        early = _hf_generate(model, prompts, True)
    with intervene(model, Add(Site(0), v, positions=From(2))):
        same = _hf_generate(model, prompts, True)
    assert early == same != base
    with pytest.raises(PaddingError, match="2-D attention mask"):
        with intervene(model, Add(Site(0), v)):
            model(input_ids=torch.tensor([[1, 4]]), attention_mask=torch.ones(1, 1, 2, 2))
