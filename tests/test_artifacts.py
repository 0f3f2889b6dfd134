"""Artifacts: JSON + safetensors, fingerprinted, never pickled."""

import json

import pytest
import torch

from conftest import make_tiny
from steerlens.artifacts import Fingerprint, load, load_artifact, register, save_artifact
from steerlens.errors import ArtifactFormatError, IncompatibleArtifactError


def test_roundtrip_and_files(tmp_path):
    model = make_tiny("llama")
    t = {"vector": torch.randn(32), "stack": torch.randn(3, 32)}
    save_artifact(tmp_path / "a", "test_vector", t, {"layer": 1, "note": "x"}, model=model)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["artifact.json", "tensors.safetensors"]
    art = load_artifact(tmp_path / "a", model=model, kind="test_vector")
    assert art.config == {"layer": 1, "note": "x"}
    assert torch.equal(art.tensors["stack"], t["stack"])
    assert art.fingerprint == Fingerprint.of(model)
    meta = json.loads((tmp_path / "a" / "artifact.json").read_text())
    assert meta["format_version"] == 1 and meta["steerlens_version"]


def test_other_model_is_rejected_with_the_difference(tmp_path):
    save_artifact(tmp_path / "a", "k", {"v": torch.zeros(32)}, model=make_tiny("llama"))
    with pytest.raises(IncompatibleArtifactError, match="architecture: artifact 'llama' vs model 'qwen2'"):
        load_artifact(tmp_path / "a", model=make_tiny("qwen2"))


def test_same_architecture_other_weights_is_rejected(tmp_path):
    a = make_tiny("llama")
    b = type(a)(a.config)
    save_artifact(tmp_path / "a", "k", {"v": torch.zeros(32)}, model=a)
    with pytest.raises(IncompatibleArtifactError, match="unembedding weights"):
        load_artifact(tmp_path / "a", model=b)


def test_fingerprint_ignores_dtype():
    a = make_tiny("mistral")
    b = type(a)(a.config)
    b.load_state_dict(a.state_dict())
    b = b.to(torch.bfloat16)
    assert Fingerprint.of(a) == Fingerprint.of(b)


def test_bad_folders(tmp_path):
    with pytest.raises(ArtifactFormatError, match="does not exist"):
        load_artifact(tmp_path / "missing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "artifact.json").write_text("{not json")
    with pytest.raises(ArtifactFormatError, match="malformed"):
        load_artifact(tmp_path / "bad")
    save_artifact(tmp_path / "v", "k", {"v": torch.zeros(2)})
    meta = json.loads((tmp_path / "v" / "artifact.json").read_text())
    meta["format_version"] = 99
    (tmp_path / "v" / "artifact.json").write_text(json.dumps(meta))
    with pytest.raises(IncompatibleArtifactError, match="upgrade steerlens"):
        load_artifact(tmp_path / "v")
    save_artifact(tmp_path / "k", "lens", {"v": torch.zeros(2)})
    with pytest.raises(IncompatibleArtifactError, match="holds a 'lens' artifact, not a 'probe'"):
        load_artifact(tmp_path / "k", kind="probe")
    with pytest.raises(ArtifactFormatError, match="not JSON-serialisable"):
        save_artifact(tmp_path / "j", "k", {}, {"x": object()})
    with pytest.raises(ArtifactFormatError, match="must be torch tensors"):
        save_artifact(tmp_path / "j", "k", {"x": [1, 2]})


def test_registry(tmp_path):
    @register("test_pair")
    def _load_pair(art, model):
        assert model is None
        return (art.config["name"], art.tensors["a"])

    save_artifact(tmp_path / "p", "test_pair", {"a": torch.ones(2)}, {"name": "n"})
    name, a = load(tmp_path / "p")
    assert name == "n" and torch.equal(a, torch.ones(2))
    save_artifact(tmp_path / "q", "unknown_kind", {"a": torch.ones(2)})
    with pytest.raises(ArtifactFormatError, match="No loader is registered for artifact kind 'unknown_kind'"):
        load(tmp_path / "q")


def test_steerlens_load_opens_every_kind_without_prior_imports(tmp_path):
    """One artifact of every built-in kind, saved here, then opened by ``steerlens.load`` in a fresh interpreter
    that imports nothing but ``steerlens`` (the registry fills itself by kind)."""
    import subprocess
    import sys

    from steerlens.artifacts import KINDS
    from steerlens.concepts import ConceptExample, train_concept
    from steerlens.editors import make_editor
    from steerlens.lens import JacobianLens, TunedLens
    from steerlens.relations import Lre, RelationalConcept, RelationalConcepts
    from steerlens.steering import ActAdd, ActivationAddition, train_steering_vector
    from tests_helpers import tiny_tokenizer

    model, tok = make_tiny("llama"), tiny_tokenizer()
    d = model.config.hidden_size
    model.save_pretrained(tmp_path / "model")
    made = {
        "steering_vector": train_steering_vector(model, tok, [("w5 w6", "w7 w8"), ("w9", "w10")], [1, 2]),
        "activation_additions": ActAdd.build(model, tok, [ActivationAddition(2.0, "resid_pre.1", prompt="w5 w6")]),
        "concept": train_concept(
            model,
            tok,
            [ConceptExample(f"w{i}", "w20 w21 w22" if i % 2 else "w30 w31 w32", i % 2) for i in range(10, 20)],
            progress=False,
        ),
        "tuned_lens": TunedLens.from_model(model),
        "jacobian_lens": JacobianLens.fit(model, None, [[1, 5, 6, 7]], samples=1, progress=False),
        "lre": Lre("toy", 0, 2, "last", torch.zeros(d), weight=torch.eye(d)),
        "relational_concepts": RelationalConcepts([RelationalConcept(1, torch.ones(d) / d**0.5, "Paris", "capital")]),
        "remedi_editor": make_editor("linear", model, 1),
    }
    made["low_rank_lre"] = made["lre"].to_low_rank(4)
    made["inverted_lre"] = made["lre"].invert(4)
    assert set(made) == set(KINDS)  # every built-in kind is exercised
    expected = {}
    for kind, obj in made.items():
        obj.save(tmp_path / kind)
        expected[kind] = type(obj).__name__
    code = (
        "import json, sys, steerlens, transformers\n"
        "from pathlib import Path\n"
        "root = Path(sys.argv[1])\n"
        "model = transformers.AutoModelForCausalLM.from_pretrained(root / 'model')\n"
        "kinds = json.loads(sys.argv[2])\n"
        "assert not any(m.startswith('steerlens.steering') for m in sys.modules), 'imported too early'\n"
        "print(json.dumps({k: type(steerlens.load(root / k, model=model)).__name__ for k in kinds}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path), json.dumps(list(made))], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == expected
