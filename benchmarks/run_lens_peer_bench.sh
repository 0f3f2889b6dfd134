#!/usr/bin/env bash
# Tuned-lens training benchmark: steerlens vs the tuned-lens package (0.2.0), same model, same token ids.
#
#   benchmarks/run_lens_peer_bench.sh [bench_lens_peer.py run options...]
#   e.g. benchmarks/run_lens_peer_bench.sh --steps 12 --tokens-per-step 512 --sl-steps 24 --sl-tokens-per-step 128
#
# Environment: STEERLENS_HOME (default: $XDG_CACHE_HOME/steerlens or ~/.cache/steerlens, as steerlens),
# MAIN_PYTHON (default: .venv/bin/python), LENS_BENCH_VENV (default: .bench-lens-venv). What is measured: the
# docstrings of bench_lens_peer.py (steerlens' env) and peer_lens_train.py (the package's env).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
export STEERLENS_HOME="${STEERLENS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/steerlens}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_MODE=disabled TOKENIZERS_PARALLELISM=false
MAIN_PYTHON="${MAIN_PYTHON:-$REPO/.venv/bin/python}"
VENV="${LENS_BENCH_VENV:-$REPO/.bench-lens-venv}"
case "${1:-}" in -h|--help) sed -n '2,9p' "$0"; exec "$MAIN_PYTHON" "$HERE/bench_lens_peer.py" run --help ;; esac

# --- the package's virtualenv (idempotent: skipped when the stamp matches) -------------------------
# torch first and pinned: this exact version has a local CPU wheel; any other spec pulls CUDA wheels.
# tuned-lens 0.2.0 needs torchdata < 0.10 (its train loop imports torchdata.dataloader2, removed in 0.10)
# and transformers < 5 (its Model.load passes load_in_8bit=False to from_pretrained, a TypeError in 5.x).
TORCH_REQ="torch==2.13.0"
PEER_REQS=("tuned-lens==0.2.0" "transformers==4.57.6" "torchdata==0.9.0" "numpy")
STAMP="$VENV/.lens-peer-bench-stamp"
WANT="$TORCH_REQ ${PEER_REQS[*]}"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "== setting up the package's virtualenv $VENV"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "$TORCH_REQ" 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/pip" install -q "$TORCH_REQ" "${PEER_REQS[@]}" 2>&1 | grep -v "^WARNING: Location" || true
  WANDB_MODE=disabled "$VENV/bin/python" -W ignore -c "import torch, transformers, tuned_lens.scripts.train_loop" \
    || { echo "the package's virtualenv is broken" >&2; exit 1; }
  echo "$WANT" > "$STAMP"
fi

echo "== STEERLENS_HOME=$STEERLENS_HOME"
"$(dirname "$MAIN_PYTHON")/steerlens" models --provision smollm2-135m > /dev/null

"$MAIN_PYTHON" "$HERE/bench_lens_peer.py" run --peer-python "$VENV/bin/python" "$@" 2>&1 \
  | { grep --line-buffered -v "Loading weights" || true; }
echo "(whole run ${SECONDS}s)"
