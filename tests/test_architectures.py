"""The architecture table, site numbering and the lens self-check, on every architecture."""

import pytest
import torch
import transformers as T

import steerlens
from conftest import ARCHS, make_tiny
from steerlens.errors import SiteError, UnsupportedArchitectureError
from steerlens.model import POINTS, Site, resolve
from steerlens.model.architectures import _SPEC_ATTR, ARCHITECTURES
from steerlens.model.check import self_check


def test_every_table_row_is_tested():
    """Each row is exercised by the shared tiny fixtures or by the coverage harness (tests/test_coverage.py)."""
    from steerlens.model.coverage import EXCLUDED, causal_lm_types

    covered = set(ARCHS) | (set(causal_lm_types()) - set(EXCLUDED))
    assert set(ARCHITECTURES) <= covered
    assert set(ARCHS) <= set(ARCHITECTURES)


def test_resolve_uses_the_table(tiny):
    spec = resolve(tiny)
    assert not spec.structural
    assert spec.n_layers == 3 and spec.d_model == 32
    assert spec.vocab_size == tiny.config.vocab_size
    for point in POINTS:
        module, where = spec.module_for(Site(1, point))
        assert where in ("input", "output")
        assert any(module is m for m in spec.blocks[1].modules())


def test_self_check_site_numbering_and_logits(tiny):
    """resid_pre[i] == hidden_states[i], resid_post[i] == hidden_states[i+1], lens reproduces logits."""
    report = self_check(tiny)
    assert report["ok"], report
    assert report["max_rel_error"]["logits"] < 1e-5


def test_gemma2_softcap_is_applied():
    spec = resolve(make_tiny("gemma2"))
    assert spec.softcap == 30.0
    report = self_check(make_tiny("gemma2"))
    assert report["checks"]["lens_reproduces_logits"]


def test_structural_fallback_warns_and_works(monkeypatch):
    model = T.AutoModelForCausalLM.from_config(
        T.LlamaConfig(
            num_hidden_layers=2,
            hidden_size=32,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=64,
            vocab_size=64,
            pad_token_id=0,
        )
    )
    monkeypatch.delitem(ARCHITECTURES, "llama")
    monkeypatch.setattr("steerlens.model.architectures._warned_types", set())
    with pytest.warns(UserWarning, match="'llama' is not in steerlens' architecture table"):
        spec = resolve(model)
    assert spec.structural
    assert spec.final_norm is model.model.norm
    assert self_check(model)["ok"]


def test_unsupported_model_type_is_named():
    model = torch.nn.Linear(2, 2)
    model.config = T.PretrainedConfig()
    model.config.model_type = "t5"
    with pytest.raises(UnsupportedArchitectureError, match="'t5'"):
        resolve(model)


def test_structural_fallback_failure_names_model_type():
    class Odd(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.config = T.PretrainedConfig(num_hidden_layers=3)
            self.config.model_type = "oddformer"
            self.a = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(2)])

    with pytest.raises(UnsupportedArchitectureError, match="oddformer"):
        resolve(Odd())


def test_site_validation_messages(tiny):
    spec = resolve(tiny)
    assert spec.site(Site(-1)) == Site(2)
    with pytest.raises(SiteError, match=r"valid layers are 0\.\.2"):
        spec.site(Site(3))
    with pytest.raises(SiteError, match="Unknown site point"):
        Site(0, "resid_mid")  # type: ignore[arg-type]
    with pytest.raises(SiteError):
        Site(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("resid_post.6", Site(6)),
        ("resid_pre:3", Site(3, "resid_pre")),
        ("mlp_out 2", Site(2, "mlp_out")),
        ("7", Site(7)),
        ("attn_in.-1", Site(-1, "attn_in")),
    ],
)
def test_site_parse(text, expected):
    assert Site.parse(text) == expected


@pytest.mark.parametrize("bad", ["resid.3", "layer six", "", "mlp_out."])
def test_site_parse_errors(bad):
    with pytest.raises(SiteError):
        Site.parse(bad)


def test_spec_is_cached_and_logits_check_hidden_size(tiny):
    assert resolve(tiny) is tiny.__dict__[_SPEC_ATTR]
    with pytest.raises(SiteError, match="hidden size is 32"):
        resolve(tiny).logits(torch.zeros(1, 31))


def test_public_api_exports():
    for name in steerlens.__all__:
        assert hasattr(steerlens, name), name
