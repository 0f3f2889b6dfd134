"""Unembed, logit lens and tuned lens on every architecture; save/load; tuned-lens package import."""

import json

import pytest
import torch

from conftest import make_tiny
from steerlens.errors import ConfigError, IncompatibleArtifactError, SiteError
from steerlens.lens import LogitLens, TunedLens, Unembed
from steerlens.model import Site, capture, resolve

IDS = torch.tensor([[1, 5, 9, 13, 2, 40]])


def _resid(model, point="resid_pre"):
    spec = resolve(model)
    return capture(model, {"input_ids": IDS}, spec.all_sites(point))


def test_unembed_of_last_resid_post_is_the_model_output(tiny):
    acts = _resid(tiny, "resid_post")
    with torch.no_grad():
        ref = tiny(IDS).logits
        got = Unembed(tiny)(acts[Site(-1)])
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)


def test_untrained_tuned_lens_equals_logit_lens(tiny):
    acts = _resid(tiny)
    logit, tuned = LogitLens.from_model(tiny), TunedLens.from_model(tiny)
    with torch.no_grad():
        for i in range(resolve(tiny).n_layers):
            h = acts[Site(i, "resid_pre")]
            assert torch.equal(tuned(h, i), logit(h, i))


def test_bias_false_and_bias_only():
    model = make_tiny("llama")
    no_bias = TunedLens.from_model(model, bias=False)
    assert not no_bias.bias.requires_grad and no_bias.weight.requires_grad
    with torch.no_grad():
        no_bias.weight[1].fill_(0.01)
    h = torch.randn(2, 32)
    torch.testing.assert_close(no_bias.transform(h, 1), h + h @ no_bias.weight[1].T)
    bias_only = TunedLens.from_model(model, mode="bias_only")
    assert not bias_only.weight.requires_grad and bias_only.bias.requires_grad
    with torch.no_grad():
        bias_only.bias[2].fill_(0.5)
    torch.testing.assert_close(bias_only.transform(h, 2), h + 0.5)
    with pytest.raises(ConfigError, match="needs bias=True"):
        TunedLens.from_model(model, mode="bias_only", bias=False)
    with pytest.raises(ConfigError, match="'affine' or 'bias_only'"):
        TunedLens.from_model(model, mode="linear")
    with pytest.raises(SiteError, match=r"valid indices are 0\.\.2"):
        bias_only.transform(h, 3)


def test_save_load_roundtrip_and_wrong_model(tmp_path):
    model = make_tiny("gemma3_text")
    lens = TunedLens.from_model(model)
    with torch.no_grad():
        lens.weight.normal_(0, 0.01)
        lens.bias.normal_(0, 0.1)
    lens.save(tmp_path / "lens")
    back = TunedLens.load(tmp_path / "lens", model)
    assert torch.equal(back.weight, lens.weight) and torch.equal(back.bias, lens.bias)
    from steerlens.artifacts import load

    assert torch.equal(load(tmp_path / "lens", model=model).bias, lens.bias)
    with pytest.raises(IncompatibleArtifactError, match="another model"):
        TunedLens.load(tmp_path / "lens", make_tiny("gemma2"))


def test_import_from_tuned_lens_package_format(tmp_path):
    model = make_tiny("llama")
    n, d = 3, 32
    state = {f"{i}.weight": torch.randn(d, d) * 0.01 for i in range(n)}
    state |= {f"{i}.bias": torch.randn(d) for i in range(n)}
    folder = tmp_path / "tl"
    folder.mkdir()
    torch.save(state, folder / "params.pt")
    (folder / "config.json").write_text(
        json.dumps(
            {"d_model": d, "num_hidden_layers": n, "bias": True, "base_model_name_or_path": "x", "lens_type": "linear_tuned_lens"}
        )
    )
    lens = TunedLens.from_tuned_lens_package(folder, model)
    h = torch.randn(4, d)
    # tuned-lens applies h + Linear(h) = h + W h + b
    torch.testing.assert_close(lens.transform(h, 1), h + h @ state["1.weight"].T + state["1.bias"])
    (folder / "config.json").write_text(json.dumps({"d_model": 64, "num_hidden_layers": n}))
    with pytest.raises(IncompatibleArtifactError, match="width 64"):
        TunedLens.from_tuned_lens_package(folder, model)


@pytest.mark.parametrize("kw", [{}, {"bias": False}, {"mode": "bias_only"}])
def test_batched_normed_layers_equal_the_per_layer_translators(kw):
    model = make_tiny("llama")
    lens = TunedLens.from_model(model, **kw)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        lens.weight.copy_(torch.randn(lens.weight.shape, generator=g) * 0.05)
        lens.bias.copy_(torch.randn(lens.bias.shape, generator=g))
    hidden = torch.randn(lens.n_layers, 6, lens.unembed.d_model, generator=g)
    per_layer = torch.stack([lens.unembed.normed(lens.transform(hidden[i], i)) for i in range(lens.n_layers)])
    torch.testing.assert_close(lens.normed_layers(hidden), per_layer)
    # the layer-transfer form (one translator for every layer) still goes layer by layer
    torch.testing.assert_close(lens.normed_layers(hidden, translator=0)[1], lens.unembed.normed(lens.transform(hidden[1], 0)))


def test_trajectory_rows_are_labelled_by_the_site_they_decode():
    from steerlens.lens import prediction_trajectory
    from tests_helpers import tiny_tokenizer

    model, tok = make_tiny("llama"), tiny_tokenizer()
    spec = resolve(model)
    traj = prediction_trajectory(model, tok, "w5 w6 w7", target=None, top_k=1)
    assert traj.rows == [f"resid_pre.{i}" for i in range(spec.n_layers)] + ["output"]
    lens = LogitLens.from_model(model)
    ids = tok("w5 w6 w7", return_tensors="pt").input_ids
    for i, label in enumerate(traj.rows[:-1]):
        site = Site.parse(label)
        h = capture(model, {"input_ids": ids}, site)[site][0]
        with torch.no_grad():
            top = lens(h, i).argmax(-1).tolist()
        assert [cell[0] for cell in traj.top_ids[i]] == top
    with torch.no_grad():
        assert [cell[0] for cell in traj.top_ids[-1]] == model(ids).logits[0].argmax(-1).tolist()
