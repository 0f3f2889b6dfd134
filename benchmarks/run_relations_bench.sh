#!/usr/bin/env bash
# LRE training head-to-head: steerlens.relations.train_lre vs linear-relational 0.6.2, same model, same prompts.
#
#   benchmarks/run_relations_bench.sh [--wait-load SECONDS] [bench_relations.py options...]
#   e.g. benchmarks/run_relations_bench.sh --quick
#        benchmarks/run_relations_bench.sh --model smollm2-135m --aggregation first_token
#
# Environment: STEERLENS_HOME (default: $XDG_CACHE_HOME/steerlens or ~/.cache/steerlens, as steerlens),
# MAIN_PYTHON (default: .venv/bin/python), BENCH_VENV (default: .bench-venv), LOAD_THRESHOLD (default 0.7).
# Before timing, waits (polling every 30 s, up to --wait-load seconds, default 1200; 0 = don't wait) until
# the 1-minute load average is below LOAD_THRESHOLD. What is measured: bench_relations.py's docstring.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
export STEERLENS_HOME="${STEERLENS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/steerlens}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
MAIN_PYTHON="${MAIN_PYTHON:-$REPO/.venv/bin/python}"
BENCH_VENV="${BENCH_VENV:-$REPO/.bench-venv}"
LOAD_THRESHOLD="${LOAD_THRESHOLD:-0.7}"
WAIT_LOAD=1200
case "${1:-}" in
  -h|--help) sed -n '2,11p' "$0"; exec "$MAIN_PYTHON" "$HERE/bench_relations.py" --help ;;
  --wait-load) WAIT_LOAD="$2"; shift 2 ;;
esac

# --- the peers' virtualenv (idempotent) --------------------------------------------------------------
# torch first and pinned: this exact version has a local CPU wheel; any other spec pulls CUDA wheels.
# linear-relational 0.6.2 requires transformers>=4.42,<5, dataclasses-json<0.7 and tqdm (no torch pin);
# it is installed with --no-deps so nothing already in the env moves, plus the light deps it imports.
LR_VERSION=0.6.2
if [ ! -x "$BENCH_VENV/bin/python" ] || ! "$BENCH_VENV/bin/python" -c "import torch, transformers" 2>/dev/null; then
  echo "== creating the peers' virtualenv $BENCH_VENV"
  [ -x "$BENCH_VENV/bin/python" ] || python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install -q "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
  "$BENCH_VENV/bin/pip" install -q "torch==2.13.0" "transformers==4.57.6" "safetensors" "numpy" 2>&1 \
    | grep -v "^WARNING: Location" || true
fi
if [ "$("$BENCH_VENV/bin/python" -c 'from importlib.metadata import version as v; print(v("linear-relational"))' \
      2>/dev/null)" != "$LR_VERSION" ]; then
  echo "== adding linear-relational $LR_VERSION (and dataclasses-json, which it imports) to $BENCH_VENV"
  "$BENCH_VENV/bin/pip" install -q --no-deps "linear-relational==$LR_VERSION" 2>&1 | grep -v "^WARNING: Location" || true
  "$BENCH_VENV/bin/python" -c "import dataclasses_json" 2>/dev/null \
    || "$BENCH_VENV/bin/pip" install -q "dataclasses-json>=0.6.2,<0.7" 2>&1 | grep -v "^WARNING: Location" || true
fi
"$BENCH_VENV/bin/python" -c "import torch, transformers, safetensors, tqdm, linear_relational; \
assert transformers.__version__.startswith('4.'), transformers.__version__" \
  || { echo "the peers' virtualenv is broken" >&2; exit 1; }

echo "== STEERLENS_HOME=$STEERLENS_HOME"
for m in gemma-3-270m smollm2-135m; do "$(dirname "$MAIN_PYTHON")/steerlens" models --provision "$m" > /dev/null; done

# --- wait for a quiet machine (2 cores: one busy neighbour distorts every timing) ----------------------
waited=0
while awk -v t="$LOAD_THRESHOLD" '{exit !($1 >= t)}' /proc/loadavg; do
  if [ "$waited" -ge "$WAIT_LOAD" ]; then
    echo "== WARNING: 1-min load average still $(cut -d' ' -f1 /proc/loadavg) after ${waited}s; running anyway"
    break
  fi
  echo "== 1-min load average $(cut -d' ' -f1 /proc/loadavg) >= $LOAD_THRESHOLD; waiting (${waited}s so far)"
  sleep 30
  waited=$((waited + 30))
done
echo "== load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (waited ${waited}s)"

"$MAIN_PYTHON" "$HERE/bench_relations.py" --peer-python "$BENCH_VENV/bin/python" "$@" 2>&1 \
  | { grep --line-buffered -v "Loading weights" || true; }
echo "(whole run ${SECONDS}s)"
