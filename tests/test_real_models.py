"""The real-model suite: the embedded gemma-3-270m and smollm2-135m (small cases, shared models)."""

import pytest
import torch

from steerlens.lens import logit_lens_table
from steerlens.model import Add, Site, capture, generate, intervene, resolve
from steerlens.model.check import self_check
from steerlens.model.tokens import pad

pytestmark = pytest.mark.real

PROMPTS = ["The Eiffel Tower is in the city of", "I hate you because", "Miles Davis plays the", "The capital of Japan is"]


def test_self_check(real):
    name, model, tok = real
    report = self_check(model, tok)
    assert report["ok"], report
    assert report["model"]["n_layers"] == {"gemma-3-270m": 18, "smollm2-135m": 30}[name]


def test_probe_locates_the_real_model_as_its_table_row(real, monkeypatch):
    """Without its table row, the embedded model is located by the verified probe to the row's very modules."""
    import warnings

    from steerlens.model.architectures import _SPEC_ATTR, ARCHITECTURES

    _, model, _ = real
    table = resolve(model)
    monkeypatch.delitem(ARCHITECTURES, table.model_type)
    model.__dict__.pop(_SPEC_ATTR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probed = resolve(model)
    finally:
        model.__dict__[_SPEC_ATTR] = table  # the shared model keeps its table spec
    assert probed.structural and probed.final_norm is table.final_norm and probed.logit_scale == 1.0
    for a, b in zip(table.layouts, probed.layouts):
        assert {p: (q.path, q.where, q.scale) for p, q in a.parts.items()} == {
            p: (q.path, q.where, q.scale) for p, q in b.parts.items()
        }


def test_logit_lens_ends_in_paris(real):
    _, model, tok = real
    rows = logit_lens_table(model, tok, "The Eiffel Tower is in the city of", top_k=3)
    assert rows[-1]["top"][0]["token"].strip() == "Paris"
    # the model's own prediction is the last row
    with torch.no_grad():
        logits = model(**tok("The Eiffel Tower is in the city of", return_tensors="pt")).logits[0, -1]
    assert rows[-1]["top"][0]["id"] == int(logits.argmax())


def test_capture_is_batch_and_padding_invariant(real):
    _, model, tok = real
    spec = resolve(model)
    sites = [Site(2), Site(spec.n_layers // 2, "attn_in"), Site(-1)]
    one = [capture(model, [p], sites, tokenizer=tok, positions="last") for p in PROMPTS]
    rows = [tok(p)["input_ids"] for p in PROMPTS]
    left = pad(rows, "left")
    batched = capture(model, left.__dict__, sites, positions="last", batch_size=3)
    for s in sites:
        ref = torch.cat([o[s] for o in one])
        # Judged against each row's scale, not element by element: Gemma's last residual has rows of RMS ~1,400
        # with entries from ~1 to 36,000, so float32 reordering in a padded batch moves a small entry by a few
        # 1e-3 (measured: 0.006 at most, 4.5e-6 of its row's RMS, on a 2-core EPYC) and an elementwise rtol of
        # 1e-3 fails on noise. Misplaced padding or a wrong mask moves rows by O(their RMS); 1e-4 of it catches that,
        # and is tighter than the elementwise bound on every entry larger than ~0.1 x the row's RMS.
        rms = ref.float().pow(2).mean(-1, keepdim=True).sqrt()
        err = ((batched[s].float() - ref.float()).abs() / rms).max().item()
        assert err < 1e-4, f"{s}: batched capture differs from one-by-one by {err:.2e} of the row RMS"


def test_steered_generation_cache_and_batch_invariant(real):
    _, model, tok = real
    spec = resolve(model)
    layer = spec.n_layers // 3
    acts = capture(model, ["Love", "Hate"], [Site(layer, "resid_pre")], tokenizer=tok, positions="last")
    v = acts[Site(layer, "resid_pre")]
    edit = Add(Site(layer, "resid_pre"), v[0] - v[1], positions="all", strength=4.0)
    prompts = PROMPTS[1:3]
    plain = generate(model, tok, prompts, max_new_tokens=8).new_ids
    with intervene(model, edit):
        cached = generate(model, tok, prompts, max_new_tokens=8).new_ids
        uncached = generate(model, tok, prompts, max_new_tokens=8, use_cache=False).new_ids
        single = [generate(model, tok, [p], max_new_tokens=8).new_ids[0] for p in prompts]
    assert cached == uncached == single
    assert cached != plain


def test_disk_offloaded_model_steers_and_captures_like_the_in_memory_one(smollm, tmp_path):
    """Issue 22, part 1: smollm2-135m with half its blocks offloaded to disk by accelerate (device_map +
    offload_folder) gives token-identical steered greedy generation and identical captures, at sites in both
    halves; steerlens' hooks coexist with accelerate's."""
    import steerlens
    from steerlens.errors import ConfigError

    model, tok = smollm
    n = model.config.num_hidden_layers
    device_map = {"model.embed_tokens": "cpu", "model.norm": "cpu", "model.rotary_emb": "cpu", "lm_head": "cpu"}
    device_map.update({f"model.layers.{i}": "cpu" if i < n // 2 else "disk" for i in range(n)})
    offloaded, _ = steerlens.load_model("smollm2-135m", device_map=device_map, offload_folder=tmp_path / "offload")
    assert type(offloaded.model.layers[n - 1]._hf_hook).__name__ == "AlignDevicesHook"  # really offloaded
    v = torch.randn(model.config.hidden_size, generator=torch.Generator().manual_seed(0))
    edits = [Add(Site(5), v, strength=2.0), Add(Site(n - 5), v, strength=2.0)]
    prompts = ["The weather today is", "My favourite food is a"]
    sites = [Site(3), Site(n - 5), Site(n - 2, "mlp_out")]
    got = []
    for m in (model, offloaded):
        with intervene(m, edits):
            gen = generate(m, tok, prompts, max_new_tokens=8)
        acts = capture(m, prompts, sites, tokenizer=tok)
        got.append((gen.new_ids, [acts[s] for s in sites]))
    assert got[0][0] == got[1][0]
    for a, b in zip(got[0][1], got[1][1]):
        assert torch.equal(a, b)
    with pytest.raises(ConfigError, match="not both"):
        steerlens.load_model("smollm2-135m", device="cpu", device_map="auto")
    with pytest.raises(ConfigError, match="only apply with device_map"):
        steerlens.load_model("smollm2-135m", offload_folder=tmp_path)
