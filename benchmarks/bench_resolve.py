"""What the verified structural fallback costs: ``resolve`` from the table row vs by the probe forward pass.

    .venv/bin/python benchmarks/bench_resolve.py [--repeats 5] [--models gemma-3-270m smollm2-135m]

For each embedded model: the median time of ``resolve`` with its table row, and with the row removed (the
structural path: block list, one probe forward pass on 6 tokens recording every sub-module of every block,
the padding probe, the head fit), and whether the probe found exactly the row's modules.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

from steerlens import load_model
from steerlens.model import resolve
from steerlens.model.architectures import _SPEC_ATTR, ARCHITECTURES


def timed(model: torch.nn.Module) -> tuple[float, object]:
    model.__dict__.pop(_SPEC_ATTR, None)
    t0 = time.perf_counter()
    spec = resolve(model)
    return time.perf_counter() - t0, spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=["gemma-3-270m", "smollm2-135m"])
    args = parser.parse_args()
    torch.set_num_threads(2)
    warnings.simplefilter("ignore")
    print("| model | resolve from the table row | resolve by the probe | ratio | same modules |")
    print("|---|---|---|---|---|")
    for name in args.models:
        model, _ = load_model(name)
        model_type = model.config.model_type
        row = ARCHITECTURES[model_type]
        table_times = [timed(model)[0] for _ in range(args.repeats)]
        table = resolve(model)
        del ARCHITECTURES[model_type]
        try:
            probe_runs = [timed(model) for _ in range(args.repeats)]
        finally:
            ARCHITECTURES[model_type] = row
            model.__dict__.pop(_SPEC_ATTR, None)
        probed = probe_runs[-1][1]
        same = all(
            {p: (q.path, q.where) for p, q in a.parts.items()} == {p: (q.path, q.where) for p, q in b.parts.items()}
            for a, b in zip(table.layouts, probed.layouts)  # type: ignore[attr-defined]
        )
        t_table = statistics.median(table_times)
        t_probe = statistics.median(t for t, _ in probe_runs)
        print(f"| {name} | {t_table * 1e3:.2f} ms | {t_probe * 1e3:.0f} ms | {t_probe / t_table:.0f}x | {same} |")


if __name__ == "__main__":
    main()
