#!/usr/bin/env bash
# steerlens bench with the peers: steering-vectors and repeng fit their vectors on the bench's training pairs in
# the peers' virtualenv, and steerlens scores them beside its own writers on the same held-out items.
#
#   benchmarks/run_bench_peers.sh [--quick] [--out DIR] [any other steerlens bench option]
#
# Needs the peers' virtualenv of run_steering_bench.sh (.bench-venv: torch 2.13.0, transformers 4.57.6,
# steering-vectors 0.12.2, repeng 0.4.0 with --no-deps); it is created here when it is missing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
export STEERLENS_HOME="${STEERLENS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/steerlens}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
MAIN_PYTHON="${MAIN_PYTHON:-$REPO/.venv/bin/python}"
BENCH_VENV="${BENCH_VENV:-$REPO/.bench-venv}"
OUT="bench-results/bench-peers"
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done

if [ ! -x "$BENCH_VENV/bin/python" ] || ! "$BENCH_VENV/bin/python" -c \
    "import importlib.util, steering_vectors; assert importlib.util.find_spec('repeng')" 2>/dev/null; then
  # (repeng itself is not imported here: 0.4.0 names np.float_, gone in numpy 2; peers_bench.py adds the alias)
  echo "== creating the peers' virtualenv $BENCH_VENV"
  [ -x "$BENCH_VENV/bin/python" ] || python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install -q "torch==2.13.0"
  "$BENCH_VENV/bin/pip" install -q "torch==2.13.0" "transformers==4.57.6" "steering-vectors==0.12.2" numpy scikit-learn
  "$BENCH_VENV/bin/pip" install -q --no-deps "repeng==0.4.0" gguf
fi

mkdir -p "$OUT"
STEERLENS="$(dirname "$MAIN_PYTHON")/steerlens"
"$STEERLENS" bench "${ARGS[@]}" --export-pairs "$OUT/pairs.json"
"$BENCH_VENV/bin/python" "$HERE/peers_bench.py" --pairs "$OUT/pairs.json" --out "$OUT/peers.safetensors"
"$STEERLENS" bench "${ARGS[@]}" --directions "$OUT/peers.safetensors" --out "$OUT"
