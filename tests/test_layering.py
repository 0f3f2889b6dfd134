"""Architecture rules of the code base, checked mechanically."""

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "steerlens"
# Only these files may know Hugging Face module names.
ALLOWED = {SRC / "model" / name for name in ("architectures.py", "hooks.py", "probe.py", "coverage.py", "_tiny_configs.py")}
HF_NAMES = re.compile(
    r"model\.layers|transformer\.h\b|gpt_neox\.|self_attn|lm_head|embed_tokens|\bln_f\b|"
    r"post_attention_layernorm|input_layernorm|\.wte\b"
)


def test_hf_module_names_only_in_the_model_access_layer():
    offenders = []
    for path in SRC.rglob("*.py"):
        if path in ALLOWED:
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if HF_NAMES.search(line):
                offenders.append(f"{path.relative_to(SRC)}:{i}: {line.strip()}")
    assert not offenders, "Hugging Face module names outside steerlens.model.architectures:\n" + "\n".join(offenders)


def test_no_pickle_anywhere():
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        assert "import pickle" not in text, path
        for call in re.findall(r"torch\.load\(([^)]*)\)", text):
            assert "weights_only=True" in call, (path, call)
