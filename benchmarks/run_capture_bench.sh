#!/usr/bin/env bash
# Capture benchmark: steerlens vs plain forwards vs steering-vectors and nnsight, one table.
#
#   benchmarks/run_capture_bench.sh [--repeats N] [--warmup N] [--no-memory] [--wait-quiet SECONDS]
#
# Environment: STEERLENS_HOME (default: $XDG_CACHE_HOME/steerlens or ~/.cache/steerlens, as steerlens),
# MAIN_PYTHON (default: .venv/bin/python), BENCH_VENV (default: .bench-venv),
# CAPTURE_BENCH_DIR (default: bench-results/capture). See benchmarks/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
export STEERLENS_HOME="${STEERLENS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/steerlens}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
MAIN_PYTHON="${MAIN_PYTHON:-$REPO/.venv/bin/python}"
BENCH_VENV="${BENCH_VENV:-$REPO/.bench-venv}"
WORK="${CAPTURE_BENCH_DIR:-$REPO/bench-results/capture}"

REPEATS=5 WARMUP=1 MEMORY="" WAIT_QUIET=300
while [ $# -gt 0 ]; do
  case "$1" in
    --repeats) REPEATS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --no-memory) MEMORY="--no-memory"; shift ;;
    --wait-quiet) WAIT_QUIET="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

# --- the peers' virtualenv (idempotent: skipped when the stamp matches) ---------------------------
# torch first and pinned: this exact version has a local CPU wheel; any other spec pulls CUDA wheels.
TORCH_REQ="torch==2.13.0"
PEER_REQS=("transformers==4.57.6" "steering-vectors==0.12.2" "nnsight==0.8.1" "numpy")
STAMP="$BENCH_VENV/.capture-bench-stamp"
WANT="$TORCH_REQ ${PEER_REQS[*]}"
if [ ! -x "$BENCH_VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "== setting up the peers' virtualenv $BENCH_VENV"
  [ -x "$BENCH_VENV/bin/python" ] || python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install -q "$TORCH_REQ" 2>&1 | grep -v "^WARNING: Location" || true
  "$BENCH_VENV/bin/pip" install -q "$TORCH_REQ" "${PEER_REQS[@]}" 2>&1 | grep -v "^WARNING: Location" || true
  "$BENCH_VENV/bin/python" -c "import torch, transformers, steering_vectors, nnsight" \
    || { echo "the peers' virtualenv is broken" >&2; exit 1; }
  echo "$WANT" > "$STAMP"
fi

# --- the model (converted once from the embedded GGUF into $STEERLENS_HOME) -----------------------
echo "== STEERLENS_HOME=$STEERLENS_HOME"
"$(dirname "$MAIN_PYTHON")/steerlens" models --provision gemma-3-270m > /dev/null

mkdir -p "$WORK"
rm -f "$WORK"/{inputs.json,ref.safetensors,main.json,peers.json,results.json}
COMMON=(--workdir "$WORK" --repeats "$REPEATS" --warmup "$WARMUP" --wait-quiet "$WAIT_QUIET" $MEMORY)

echo "== steerlens' env ($MAIN_PYTHON)"
"$MAIN_PYTHON" "$HERE/bench_capture.py" run "${COMMON[@]}" 2>&1 | { grep --line-buffered -v "Loading weights" || true; }
echo "== peers' env ($BENCH_VENV)"
"$BENCH_VENV/bin/python" "$HERE/peers_capture.py" run "${COMMON[@]}" 2>&1 \
  | { grep --line-buffered -v -e "Loading weights" -e "^Device set to use" || true; }
rm -f "$WORK/ref.safetensors"  # ~100 MB of activations, only needed for the agreement check

"$MAIN_PYTHON" "$HERE/bench_capture.py" report --workdir "$WORK"
echo "(results: $WORK/results.json; whole run ${SECONDS}s)"
