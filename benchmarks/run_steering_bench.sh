#!/usr/bin/env bash
# Steering benchmark: steerlens vs steering-vectors and repeng (steered generate overhead, vector training).
#
#   benchmarks/run_steering_bench.sh [--repeats N] [--warmup N] [--wait-quiet SECONDS]
#
# Environment: STEERLENS_HOME (default: $XDG_CACHE_HOME/steerlens or ~/.cache/steerlens, as steerlens),
# MAIN_PYTHON (default: .venv/bin/python), BENCH_VENV (default: .bench-venv),
# STEERING_BENCH_DIR (default: bench-results/steering-speed). Needs the peers' virtualenv of
# run_capture_bench.sh (torch 2.13.0, transformers 4.57.6, steering-vectors 0.12.2) plus repeng 0.4.0,
# which this script adds with --no-deps (its numpy<2 pin would downgrade numpy; see peers_steering.py).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
export STEERLENS_HOME="${STEERLENS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/steerlens}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
MAIN_PYTHON="${MAIN_PYTHON:-$REPO/.venv/bin/python}"
BENCH_VENV="${BENCH_VENV:-$REPO/.bench-venv}"
WORK="${STEERING_BENCH_DIR:-$REPO/bench-results/steering-speed}"

REPEATS=7 WARMUP=1 WAIT_QUIET=300
while [ $# -gt 0 ]; do
  case "$1" in
    --repeats) REPEATS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --wait-quiet) WAIT_QUIET="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

# --- the peers' virtualenv: steering-vectors from run_capture_bench.sh, repeng added here -----------
if [ ! -x "$BENCH_VENV/bin/python" ] || ! "$BENCH_VENV/bin/python" -c "import steering_vectors" 2>/dev/null; then
  echo "== the peers' virtualenv is missing; creating it with run_capture_bench.sh's requirements"
  [ -x "$BENCH_VENV/bin/python" ] || python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install -q "torch==2.13.0"
  "$BENCH_VENV/bin/pip" install -q "torch==2.13.0" "transformers==4.57.6" "steering-vectors==0.12.2" "numpy"
fi
if [ "$("$BENCH_VENV/bin/python" -c 'from importlib.metadata import version as v; print(v("repeng"))' 2>/dev/null)" != "0.4.0" ]; then
  echo "== adding repeng 0.4.0 (and gguf, which it imports) to $BENCH_VENV with --no-deps"
  "$BENCH_VENV/bin/pip" install -q --no-deps "repeng==0.4.0"
  "$BENCH_VENV/bin/python" -c "import gguf" 2>/dev/null || "$BENCH_VENV/bin/pip" install -q --no-deps gguf
fi
"$BENCH_VENV/bin/python" -c "import torch, transformers, steering_vectors, gguf, sklearn, tqdm" \
  || { echo "the peers' virtualenv is broken" >&2; exit 1; }

# --- the model (converted once from the embedded GGUF into $STEERLENS_HOME) -----------------------
echo "== STEERLENS_HOME=$STEERLENS_HOME"
"$(dirname "$MAIN_PYTHON")/steerlens" models --provision gemma-3-270m > /dev/null

mkdir -p "$WORK"
rm -f "$WORK"/{inputs.json,vector.safetensors,main.json,peers.json,results.json}
COMMON=(--workdir "$WORK" --repeats "$REPEATS" --warmup "$WARMUP" --wait-quiet "$WAIT_QUIET")

echo "== steerlens' env ($MAIN_PYTHON)"
"$MAIN_PYTHON" "$HERE/bench_steering.py" run "${COMMON[@]}" 2>&1 | { grep --line-buffered -v "Loading weights" || true; }
echo "== peers' env ($BENCH_VENV)"
"$BENCH_VENV/bin/python" "$HERE/peers_steering.py" run "${COMMON[@]}" 2>&1 \
  | { grep --line-buffered -v -e "Loading weights" -e "^Device set to use" || true; }

"$MAIN_PYTHON" "$HERE/bench_steering.py" report --workdir "$WORK"
echo "(results: $WORK/results.json; whole run ${SECONDS}s)"
