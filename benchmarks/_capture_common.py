"""Shared by bench_capture.py (steerlens' env) and peers_capture.py (the peers' env).

Only the standard library, torch and numpy are used here, so both virtualenvs can import it.
Nothing here imports steerlens or transformers.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

N_THREADS = 2
PAD_ID = 0  # steerlens' pad() pads with 0 and marks padding only in the attention mask

# ----------------------------------------------------------------------------------------------
# Prompts: 16 subjects x 8 templates = 128 deterministic English sentences, ~8-30 tokens each.
# ----------------------------------------------------------------------------------------------

SUBJECTS = [
    "the old lighthouse keeper",
    "my younger sister",
    "a hungry grey wolf",
    "the city council",
    "our chemistry teacher",
    "the night train to Vienna",
    "a small fishing village",
    "the jazz pianist",
    "the new hospital wing",
    "an amateur astronomer",
    "the football team",
    "a retired sea captain",
    "the village baker",
    "a curious red fox",
    "the museum curator",
    "the software engineer",
]

TEMPLATES = [
    "Yesterday {s} smiled at me.",
    "Everyone says that {s} is very kind.",
    "In the morning, {s} walked slowly down to the harbour.",
    "Nobody expected {s} to win the prize, but the judges agreed at once.",
    "When the storm passed, {s} opened the windows and listened to the birds outside.",
    "According to a recent report, {s} has spent ten years studying the history of the region.",
    "Before anyone could stop them, {s} had packed three suitcases and left a note on the kitchen table.",
    "It was late in the evening when {s} realised that the letter hidden in the attic changed everything.",
]


def make_prompts() -> list[str]:
    """The 128 benchmark prompts, in a fixed order (template-major)."""
    out = []
    for t in TEMPLATES:
        for s in SUBJECTS:
            text = t.format(s=s)
            out.append(text[0].upper() + text[1:])
    return out


# ----------------------------------------------------------------------------------------------
# Inputs shared by both environments
# ----------------------------------------------------------------------------------------------


def load_inputs(path: str | os.PathLike[str]) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def make_batches(ids: list[list[int]], batch_size: int) -> list[dict[str, torch.Tensor]]:
    """Right-padded batches in the given order, padded to each batch's own longest row (like steerlens)."""
    batches = []
    for start in range(0, len(ids), batch_size):
        rows = ids[start : start + batch_size]
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            input_ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, : len(r)] = 1
        batches.append({"input_ids": input_ids, "attention_mask": mask})
    return batches


def pack(per_batch: list[torch.Tensor], batches: list[dict[str, torch.Tensor]]) -> torch.Tensor:
    """Real tokens of per-batch ``[b, pos, d]`` right-padded activations -> ``[tokens, d]`` in input order."""
    return torch.cat([h[b["attention_mask"].bool()] for h, b in zip(per_batch, batches)])


# ----------------------------------------------------------------------------------------------
# Agreement
# ----------------------------------------------------------------------------------------------


def agreement(ref: dict[int, torch.Tensor], got: dict[int, torch.Tensor]) -> dict[str, Any]:
    """Per-layer max|a-b| / max|ref| and ||a-b|| / ||ref||; worst over the layers both have."""
    per_layer = {}
    for layer in sorted(set(ref) & set(got)):
        r, g = ref[layer].double(), got[layer].double()
        if r.shape != g.shape:
            per_layer[layer] = {"error": f"shape {tuple(g.shape)} vs reference {tuple(r.shape)}"}
            continue
        diff = (r - g).abs()
        per_layer[layer] = {
            "max_abs_diff": float(diff.max()),
            "max_abs_ref": float(r.abs().max()),
            "rel_max": float(diff.max() / r.abs().max()),
            "rel_fro": float(torch.linalg.vector_norm(r - g) / torch.linalg.vector_norm(r)),
        }
    ok = [v for v in per_layer.values() if "error" not in v]
    worst = max(ok, key=lambda v: v["rel_max"]) if ok else None
    worst_layer = next((k for k, v in per_layer.items() if v is worst), None)
    return {
        "layers": sorted(per_layer),
        "worst_layer": worst_layer,
        "worst_rel_max": worst["rel_max"] if worst else None,
        "worst_rel_fro": max(v["rel_fro"] for v in ok) if ok else None,
        "worst_max_abs_diff": max(v["max_abs_diff"] for v in ok) if ok else None,
        "errors": {k: v["error"] for k, v in per_layer.items() if "error" in v},
        "per_layer": {str(k): v for k, v in per_layer.items()},
    }


# ----------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------


def setup_torch() -> None:
    torch.set_num_threads(N_THREADS)
    torch.manual_seed(0)


def _cpu_busy_s() -> float:
    """CPU seconds all processes spent busy since boot (from /proc/stat; 0 where it is missing)."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    user, nice, system, idle, iowait, irq, softirq, steal = (f + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


class Contention:
    """Share of the machine's CPU used by *other* processes between start() and stop()."""

    def start(self) -> None:
        self.wall, self.busy, self.own = time.perf_counter(), _cpu_busy_s(), _own_cpu_s()

    def stop(self) -> float:
        wall = time.perf_counter() - self.wall
        others = (_cpu_busy_s() - self.busy) - (_own_cpu_s() - self.own)
        return max(0.0, others / (wall * (os.cpu_count() or 1))) if wall > 0 else 0.0


def wait_for_quiet(max_wait_s: float, threshold: float = 0.15, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Wait (up to ``max_wait_s``) until other processes use less than ``threshold`` of the CPUs over 3 s."""
    t0 = time.perf_counter()
    last_log = -1e9
    while True:
        c = Contention()
        c.start()
        time.sleep(3)
        share = c.stop()
        waited = time.perf_counter() - t0
        if share < threshold:
            return {"quiet": True, "waited_s": round(waited, 1), "other_cpu_share": share}
        if waited >= max_wait_s:
            log(
                f"  WARNING: other processes still use {share:.0%} of the CPUs after {waited:.0f}s; "
                "timing anyway (results will be noisy)"
            )
            return {"quiet": False, "waited_s": round(waited, 1), "other_cpu_share": share}
        if waited - last_log >= 30:
            log(f"  other processes use {share:.0%} of the CPUs; waiting for a quiet machine (up to {max_wait_s:.0f}s)")
            last_log = waited


def time_methods(
    methods: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1, log: Callable[[str], None] = print
) -> tuple[dict[str, list[float]], dict[str, Any], dict[str, list[float]]]:
    """Time each method ``repeats`` times after ``warmup`` untimed calls, round-robin.

    Every round runs each method once, in an order rotated by one each round, so slow drifts of the
    machine (other processes, thermal) hit all methods alike. Returns ``(times, first_results,
    contention)``: each method's first warm-up result (for agreement checks) and, per timed call, the
    share of the CPUs that other processes used meanwhile.
    """
    names = list(methods)
    first: dict[str, Any] = {}
    cont = Contention()

    def timed(name: str) -> tuple[Any, float, float]:
        gc.collect()
        cont.start()
        t0 = time.perf_counter()
        out = methods[name]()
        dt = time.perf_counter() - t0
        return out, dt, cont.stop()

    for w in range(warmup):
        for name in names:
            out, dt, share = timed(name)
            log(f"  warm-up {w + 1}/{warmup} {name}: {dt:.2f}s (others used {share:.0%} CPU)")
            if name not in first:
                first[name] = out
            del out
    times: dict[str, list[float]] = {n: [] for n in names}
    others: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            out, dt, share = timed(name)
            del out
            others[name].append(share)
            times[name].append(dt)
        log(
            f"  round {r + 1}/{repeats}: "
            + ", ".join(f"{n}={times[n][-1]:.2f}s" for n in names)
            + f" (others used up to {max(others[n][-1] for n in names):.0%} CPU)"
        )
    return times, first, others


def summarize(ts: list[float]) -> dict[str, float]:
    import numpy as np

    a = np.asarray(ts)
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return {
        "median": float(med),
        "q1": float(q1),
        "q3": float(q3),
        "iqr": float(q3 - q1),
        "min": float(a.min()),
        "max": float(a.max()),
        "n": len(ts),
    }


# ----------------------------------------------------------------------------------------------
# Memory: peak RSS of one cold run, in a fresh process (see run_memory_probe)
# ----------------------------------------------------------------------------------------------


def _status_kb(field: str) -> int:
    m = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    return int(m.group(1)) if m else -1


def reset_peak_rss() -> bool:
    """Reset VmHWM (Linux >= 4.0: writing 5 to /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def memory_probe(run: Callable[[], Any]) -> dict[str, Any]:
    """Peak RSS while running ``run`` once (its result kept alive), and RSS before it (model loaded)."""
    gc.collect()
    reset_ok = reset_peak_rss()
    before = _status_kb("VmRSS")
    out = run()
    peak = _status_kb("VmHWM")
    del out
    return {
        "rss_before_mb": before / 1024,
        "peak_rss_mb": peak / 1024,
        "extra_peak_mb": (peak - before) / 1024,
        "hwm_reset": reset_ok,
    }


def run_memory_probes(
    script: str, python: str, names: list[str], args: list[str], log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run ``python script --memory-probe NAME args...`` for each name; each prints one JSON line."""
    import subprocess

    out = {}
    for name in names:
        t0 = time.perf_counter()
        proc = subprocess.run([python, script, "--memory-probe", name, *args], capture_output=True, text=True)
        line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith("{")), None)
        if proc.returncode != 0 or line is None:
            out[name] = {"error": (proc.stderr or proc.stdout)[-2000:]}
            log(f"  memory {name}: FAILED")
        else:
            out[name] = json.loads(line)
            log(
                f"  memory {name}: peak {out[name]['peak_rss_mb']:.0f} MB, "
                f"+{out[name]['extra_peak_mb']:.0f} MB over the loaded model ({time.perf_counter() - t0:.0f}s)"
            )
    return out


# ----------------------------------------------------------------------------------------------
# Environment
# ----------------------------------------------------------------------------------------------


def env_info(packages: list[str]) -> dict[str, Any]:
    from importlib import metadata

    vers = {}
    for p in packages:
        try:
            vers[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            vers[p] = None
    return {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "platform": platform.platform(),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "packages": vers,
    }


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(obj, indent=2))


def cli(
    doc: str,
    cmd_run: Callable[[Any], None],
    cmd_memory_probe: Callable[[str, str], None],
    cmd_report: Callable[[Any], None] | None = None,
) -> None:
    """The command line shared by both halves: ``run``, ``report`` (if given) and ``--memory-probe``."""
    import argparse

    if len(sys.argv) > 1 and sys.argv[1] == "--memory-probe":
        p = argparse.ArgumentParser()
        p.add_argument("--memory-probe", required=True)
        p.add_argument("--workdir", required=True)
        a = p.parse_args()
        cmd_memory_probe(a.memory_probe, a.workdir)
        return
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--workdir", required=True)
    r.add_argument("--repeats", type=int, default=5)
    r.add_argument("--warmup", type=int, default=1)
    r.add_argument("--no-memory", action="store_true")
    r.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to this long for other processes to leave the CPUs idle",
    )
    if cmd_report is not None:
        sub.add_parser("report").add_argument("--workdir", required=True)
    a = p.parse_args()
    if a.cmd == "report":
        assert cmd_report is not None
        cmd_report(a)
        return
    if a.repeats < 1 or a.warmup < 1:
        p.error("--repeats and --warmup must be >= 1")
    cmd_run(a)


def reference_forwards(model: Any, batches: list[dict[str, Any]]) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """The two baselines every environment times: the plain forward with hidden states, and the body alone."""

    def plain_forward():
        with torch.no_grad():
            return [model(**b, use_cache=False, output_hidden_states=True).hidden_states for b in batches]

    def body_forward():
        with torch.no_grad():
            return [model.model(**b, use_cache=False).last_hidden_state for b in batches]

    return plain_forward, body_forward


def result_record(
    env: dict[str, Any],
    args: Any,
    quiet: Any,
    model: Any,
    descriptions: dict[str, str],
    methods: dict[str, Any],
    times: dict[str, list[float]],
    memory: dict[str, Any],
    agree: dict[str, Any],
    others: dict[str, list[float]],
    **extra: Any,
) -> dict[str, Any]:
    """The JSON record one environment writes: setup, and per method its times, memory and agreement."""
    return {
        "env_label": f"transformers {env['packages']['transformers']}",
        "env": env,
        "attn_implementation": model.config._attn_implementation,
        **extra,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "quiet_wait": quiet,
        "reference_methods": ["plain_forward", "body_forward"],
        "methods": {
            k: {
                "desc": descriptions[k],
                "times": times[k],
                "stats": summarize(times[k]),
                "memory": memory.get(k),
                "agreement": agree.get(k),
                "other_cpu_share": others[k],
            }
            for k in methods
        },
    }
