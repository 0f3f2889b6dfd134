"""The steerlens command line, end to end on a tiny local model folder."""

import json
import shutil
import subprocess
import sys

import pytest

from steerlens.cli import main


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from tests_helpers import save_tiny_with_tokenizer

    return save_tiny_with_tokenizer(tmp_path_factory.mktemp("cli"))


def test_lens_json(folder, capsys):
    assert main(["lens", "w1 w2 w3", "--model", str(folder), "--json", "--top-k", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["label"] for r in out["layers"]] == ["emb", "0", "1", "2"]
    assert all(len(r["top"]) == 3 for r in out["layers"])
    assert all(0.0 <= t["prob"] <= 1.0 for r in out["layers"] for t in r["top"])


def test_lens_table(folder, capsys):
    assert main(["lens", "w1 w2", "--model", str(folder)]) == 0
    assert "logit lens" in capsys.readouterr().out


def test_check(folder, capsys):
    assert main(["check", "--model", str(folder)]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_unknown_model_is_a_clear_error(capsys):
    assert main(["lens", "hello", "--model", "gemma-3-207m"]) == 1
    err = capsys.readouterr().err
    assert "Did you mean 'gemma-3-270m'" in err and "Traceback" not in err


def test_models_json(capsys):
    assert main(["models", "--json"]) == 0
    names = [r["name"] for r in json.loads(capsys.readouterr().out)]
    assert names == ["gemma-3-270m", "smollm2-135m"]


def test_console_script_is_installed():
    exe = shutil.which("steerlens") or str(__import__("pathlib").Path(sys.executable).parent / "steerlens")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "lens" in out.stdout
