"""Tuned-lens training, head to head: steerlens vs the tuned-lens package (0.2.0), same model, same token ids.

    STEERLENS_HOME=... benchmarks/run_lens_peer_bench.sh [--peer-same-shape] [options]   # sets up .bench-lens-venv
    .venv/bin/python benchmarks/bench_lens_peer.py run [--steps 12 --tokens-per-step 512]
        [--sl-steps 48 --sl-tokens-per-step 128 --sl-optimizer sgd --sl-compute bfloat16] [--peer-same-shape] ...
    .venv/bin/python benchmarks/bench_lens_peer.py report      # the table of the last run again

One run: (1) cuts the shipped corpus into chunks of --seq-len tokens as bench_lens.py does (training entries ->
643 training chunks; held-out entries -> the first --held-out-chunks chunks) and writes their token ids to the work
folder; (2) trains the package's lens with its own ``Train.execute()`` and default recipe in the package's
virtualenv (peer_lens_train.py: SGD Nesterov 0.9, lr 1.0 effective, wd 1e-3, linear decay, clip 1, KL loss,
bf16 autocast, per_gpu_batch_size 1), with --steps x --tokens-per-step (default 12 x 512 = 6144 tokens, bench_lens.py's
budget; its default 250 x 2**18 is far beyond a 2-core CPU); (3) trains steerlens' lens on the same token budget in a
fresh process of this env (``train-steerlens``) with its own settings (default: the same SGD recipe, bf16 vocabulary
matmuls, but 48 steps x 128 tokens); (4) with --peer-same-shape, a control: the package's recipe with steerlens'
steps x tokens per step; (5) evaluates the checkpoints with steerlens' ``evaluate_lenses`` (the package's lenses
imported with ``TunedLens.from_tuned_lens_package``), so every KL comes from the same code, in bits per byte:
all of the package's default run, and the others in order up to the first that reaches the package's final KL
(--full-curves: all); (6) prints the table: tokens/s, training wall time (evaluation and checkpoint copies
excluded), held-out KL (mean over the lens indices, and per layer), peak RSS during training (VmHWM, reset when
training starts, so it includes the loaded model), other processes' CPU share, and the ratio (steerlens' training
time at its first checkpoint at or below the package's final held-out KL) / (the package's training time); the
issue's target is <= 0.5. Writes results.json and time_to_kl.png under --workdir (default bench-results/lens-peer).
Waits first (up to --wait-quiet s) for the other processes to leave the CPUs idle. Not a test: timings depend on
the machine and its load; about 13 minutes on a quiet 2-core machine with --peer-same-shape.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import _capture_common as C  # noqa: E402
import torch  # noqa: E402


def log(msg: str) -> None:
    print(msg, flush=True)


# ------------------------------------------------------------------------------------------------
# steerlens' training (a fresh process, so its peak RSS is its own)
# ------------------------------------------------------------------------------------------------


def cmd_train_steerlens(a: argparse.Namespace) -> None:
    from safetensors.torch import load_file

    import steerlens
    from steerlens.lens import Chunks
    from steerlens.lens.train import LensTrainConfig, train_tuned_lens

    C.setup_torch()
    work = Path(a.workdir)
    meta = json.loads((work / "data.json").read_text())
    ids = load_file(str(work / "data.safetensors"))["train_ids"]
    model, _ = steerlens.load_model(meta["model"])
    chunks = Chunks(ids, meta["train_n_bytes"], ids.numel())
    cfg = LensTrainConfig(
        steps=a.steps,
        tokens_per_step=a.tokens_per_step,
        micro_batch=a.micro_batch,
        optimizer=a.optimizer,
        lr_scale=a.lr_scale,
        compute_dtype=a.compute,
        warmup_steps=a.warmup_steps,
    )
    saved: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    copy = {"s": 0.0, "before": []}
    contention = C.Contention()

    def callback(step, lens, hist) -> None:
        t = time.perf_counter()
        copy["before"].append(copy["s"])  # copy time already inside hist.seconds[step - 1]
        if step in a.checkpoints or step == a.steps:
            saved[step] = (lens.weight.detach().clone(), lens.bias.detach().clone())
        if step == a.steps:
            marks["peak_rss_mb"] = C._status_kb("VmHWM") / 1024
            marks["other_cpu_share"] = contention.stop()
        log(f"[steerlens] step {step}/{a.steps}: {hist.seconds[-1] - copy['s']:.1f}s, train KL {hist.kl[-1]:.3f} nats/token")
        copy["s"] += time.perf_counter() - t

    marks: dict = {}
    C.reset_peak_rss()
    marks["rss_before_mb"] = C._status_kb("VmRSS") / 1024
    contention.start()
    lens, hist = train_tuned_lens(model, chunks, cfg, progress=False, callback=callback)
    step_s = [s - c for s, c in zip(hist.seconds, copy["before"])]
    out = work / "steerlens"
    for step, (w, b) in sorted(saved.items()):
        with torch.no_grad():
            lens.weight.copy_(w)
            lens.bias.copy_(b)
        lens.save(out / f"step_{step}")
    from dataclasses import asdict

    seconds = step_s[-1]
    env = C.env_info(["torch", "transformers", "steerlens", "numpy"])
    C.write_json(
        work / "steerlens.json",
        {
            "library": f"steerlens {steerlens.__version__}",
            "env": env,
            "recipe": asdict(cfg),
            "train_seconds": seconds,
            "tokens": a.steps * a.tokens_per_step,
            "tokens_per_s": a.steps * a.tokens_per_step / seconds,
            "checkpoints": {
                str(s): {"train_seconds": step_s[s - 1], "tokens": s * a.tokens_per_step, "path": str(out / f"step_{s}")}
                for s in sorted(saved)
            },
            "step_seconds": step_s,
            "train_kl_nats": hist.kl,
            "copy_seconds": copy["s"],
            "rss_before_mb": marks["rss_before_mb"],
            "peak_rss_train_mb": marks["peak_rss_mb"],
            "peak_rss_process_mb": C._status_kb("VmHWM") / 1024,
            "other_cpu_share": marks["other_cpu_share"],
        },
    )
    log(
        f"[steerlens] {a.steps} steps x {a.tokens_per_step} tokens in {seconds:.1f}s "
        f"({a.steps * a.tokens_per_step / seconds:.1f} tokens/s), peak RSS {marks['peak_rss_mb']:.0f} MB"
    )


# ------------------------------------------------------------------------------------------------
# the whole benchmark
# ------------------------------------------------------------------------------------------------


def even_checkpoints(steps: int, n: int) -> list[int]:
    """``n`` roughly even steps in 1..steps, always ending with ``steps``."""
    n = max(1, min(n, steps))
    return sorted({max(1, round(steps * (i + 1) / n)) for i in range(n)})


def prepare(a: argparse.Namespace, work: Path, peer_runs: list[tuple[int, int]]):
    """Chunks (as bench_lens.py cuts them) -> data.safetensors / data.json; one chunk's activations -> ref."""
    from safetensors.torch import save_file

    import steerlens
    from steerlens.lens import Chunks
    from steerlens.lens.data import chunk_texts, default_corpus
    from steerlens.lens.train import frozen_pass
    from steerlens.model.architectures import resolve

    model_dir = steerlens.provision(a.model)
    model, tok = steerlens.load_model(a.model)
    train = chunk_texts(tok, default_corpus("train"), a.seq_len)
    held = chunk_texts(tok, default_corpus("test"), a.seq_len)
    k = min(a.held_out_chunks, held.ids.shape[0])
    held = Chunks(held.ids[:k].contiguous(), max(1, round(held.n_bytes * k / held.ids.shape[0])), held.ids[:k].numel())
    for steps, tps in peer_runs:
        per_step, rem = divmod(tps, a.seq_len)
        if rem or per_step % a.peer_batch:
            # otherwise the package rounds its gradient accumulation up and trains on more tokens than asked
            raise SystemExit(
                f"tokens per step ({tps}) must be a multiple of --seq-len x --peer-batch ({a.seq_len * a.peer_batch})"
            )
        if steps * per_step > train.ids.shape[0]:
            raise SystemExit(
                f"{steps} x {tps} tokens need {steps * per_step} chunks but the corpus has "
                f"{train.ids.shape[0]} (the package's loop would stop silently when its loader runs dry)"
            )
    save_file({"train_ids": train.ids.contiguous(), "held_ids": held.ids}, str(work / "data.safetensors"))
    meta = {
        "model": a.model,
        "model_dir": str(model_dir),
        "seq_len": a.seq_len,
        "train_chunks": train.ids.shape[0],
        "train_n_bytes": train.n_bytes,
        "train_nats_to_bpb": train.nats_to_bpb,
        "held_chunks": k,
        "held_n_bytes": held.n_bytes,
        "held_nats_to_bpb": held.nats_to_bpb,
        "n_layers": resolve(model).n_layers,
        "d_model": resolve(model).d_model,
    }
    (work / "data.json").write_text(json.dumps(meta, indent=1))
    ids = held.ids[:1]
    hidden, logp = frozen_pass(model, ids, torch.float32)
    save_file({"ids": ids, "resid_pre": hidden.contiguous(), "final_logp": logp.contiguous()}, str(work / "ref.safetensors"))
    return model, held, meta


def run_child(cmd: list[str], log_path: Path, timeout: float) -> None:
    log(f"  $ {' '.join(cmd)}")
    with open(log_path, "w") as f:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
        assert proc.stdout is not None
        t0 = time.perf_counter()
        for line in proc.stdout:
            f.write(line)
            f.flush()
            for tag in ("[peer]", "[steerlens]"):
                if tag in line:  # after a tqdm bar's carriage return, possibly
                    log("    " + line[line.index(tag) :].rstrip())
            if time.perf_counter() - t0 > timeout:
                proc.kill()
                raise SystemExit(f"timed out after {timeout:.0f}s; see {log_path}")
        if proc.wait() != 0:
            raise SystemExit(
                f"failed (exit {proc.returncode}); last lines of {log_path}:\n"
                + "".join(log_path.read_text().splitlines(True)[-30:])
            )


def evaluate(model, held, lenses: dict) -> dict:
    from steerlens.lens.evaluate import evaluate_lenses

    t = time.perf_counter()
    res = evaluate_lenses(model, held, lenses, progress=False)
    log(f"  evaluated {', '.join(lenses)} in {time.perf_counter() - t:.0f}s")
    return res["lenses"]


def lens_loader(kind: str, model):
    from steerlens.lens import TunedLens

    if kind == "package":
        return lambda path: TunedLens.from_tuned_lens_package(path, model)  # the package's config.json + params.pt
    return lambda path: TunedLens.load(path, model)


def cmd_run(a: argparse.Namespace) -> None:
    from steerlens.lens import LogitLens

    t_start = time.perf_counter()
    torch.set_num_threads(C.N_THREADS)
    work = Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    import shutil

    for sub in ("peer", "peer-shape", "steerlens"):
        shutil.rmtree(work / sub, ignore_errors=True)
    for f in ("peer.json", "peer-shape.json", "steerlens.json", "results.json"):
        (work / f).unlink(missing_ok=True)
    sl_steps = a.sl_steps or a.steps
    sl_tps = a.sl_tokens_per_step or a.tokens_per_step
    log(f"== preparing data ({a.model}, chunks of {a.seq_len} tokens)")
    model, held, meta = prepare(a, work, [(a.steps, a.tokens_per_step)] + ([(sl_steps, sl_tps)] if a.peer_same_shape else []))
    log(
        f"  {meta['train_chunks']} training chunks, {meta['held_chunks']} held-out chunks "
        f"({held.ids.numel()} tokens); package: {a.steps} steps x {a.tokens_per_step} tokens, "
        f"steerlens: {sl_steps} steps x {sl_tps} tokens"
    )
    quiet = C.wait_for_quiet(a.wait_quiet, log=log) if a.wait_quiet > 0 else None

    def run_peer(name: str, steps: int, tps: int, n_ckpt: int) -> dict:
        log(f"== tuned-lens ({name}: {steps} steps x {tps} tokens) in {a.peer_python}")
        run_child(
            [
                a.peer_python,
                str(HERE / "peer_lens_train.py"),
                "--workdir",
                str(work),
                "--name",
                name,
                "--steps",
                str(steps),
                "--tokens-per-step",
                str(tps),
                "--batch-size",
                str(a.peer_batch),
                "--checkpoints",
                *map(str, even_checkpoints(steps, n_ckpt)),
            ],
            work / f"{name}.log",
            a.child_timeout,
        )
        return json.loads((work / f"{name}.json").read_text())

    records = {"tuned-lens": run_peer("peer", a.steps, a.tokens_per_step, a.peer_checkpoints)}
    log(f"== steerlens ({sl_steps} steps x {sl_tps} tokens)")
    run_child(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "train-steerlens",
            "--workdir",
            str(work),
            "--steps",
            str(sl_steps),
            "--tokens-per-step",
            str(sl_tps),
            "--micro-batch",
            str(a.sl_micro_batch),
            "--optimizer",
            a.sl_optimizer,
            "--lr-scale",
            str(a.sl_lr_scale),
            "--compute",
            a.sl_compute,
            *(["--warmup-steps", str(a.sl_warmup_steps)] if a.sl_warmup_steps is not None else []),
            "--checkpoints",
            *map(str, even_checkpoints(sl_steps, a.sl_checkpoints)),
        ],
        work / "steerlens.log",
        a.child_timeout,
    )
    records["steerlens"] = json.loads((work / "steerlens.json").read_text())
    if a.peer_same_shape:  # control: the package's recipe with steerlens' steps x tokens per step
        records["tuned-lens, steerlens' step shape"] = run_peer("peer-shape", sl_steps, sl_tps, a.sl_checkpoints)
    kinds = {name: ("steerlens" if name == "steerlens" else "package") for name in records}

    log(f"== evaluating on {held.ids.shape[0]} held-out chunks with steerlens' evaluate_lenses (bits per byte)")
    evals: dict[str, dict] = {}

    def key(name: str, step) -> str:
        return f"{name}@{step}"

    def final_step(rec: dict) -> str:
        return str(rec["recipe"]["steps"])

    first = {"logit": LogitLens.from_model(model)}
    for name, rec in records.items():
        first[key(name, final_step(rec))] = lens_loader(kinds[name], model)(rec["checkpoints"][final_step(rec)]["path"])
    evals.update(evaluate(model, held, first))
    del first
    ref = records["tuned-lens"]
    target = mean(evals[key("tuned-lens", final_step(ref))]["kl"])
    # intermediate checkpoints: all of the package's default run; the others in order, stopping at the first that
    # reaches the target (unless --full-curves or the final lens does not reach it either)
    for name, rec in records.items():
        steps = [s for s in rec["checkpoints"] if s != final_step(rec)]
        lazy = name != "tuned-lens" and not a.full_curves and mean(evals[key(name, final_step(rec))]["kl"]) <= target
        if name == "tuned-lens" and a.no_peer_curve:
            continue
        for i in range(0, len(steps), a.eval_batch):
            part = steps[i : i + a.eval_batch]
            evals.update(
                evaluate(
                    model, held, {key(name, s): lens_loader(kinds[name], model)(rec["checkpoints"][s]["path"]) for s in part}
                )
            )
            if lazy and any(mean(evals[key(name, s)]["kl"]) <= target for s in part):
                break

    f = held.nats_to_bpb
    curves, to_target = {}, {}
    for name, rec in records.items():
        pts = []
        for s, c in sorted(rec["checkpoints"].items(), key=lambda kv: int(kv[0])):
            if key(name, s) in evals:
                kl = evals[key(name, s)]["kl"]
                pts.append(
                    {
                        "step": int(s),
                        "tokens": c["tokens"],
                        "train_seconds": c["train_seconds"],
                        "kl_bpb": mean(kl),
                        "kl_nats_per_token": mean(kl) / f,
                        "kl_bpb_per_layer": kl,
                    }
                )
        curves[name] = pts
        hit = next((p for p in pts if p["kl_bpb"] <= target), None)
        interp = None
        if hit:
            i = pts.index(hit)
            p0 = pts[i - 1] if i > 0 else {"train_seconds": 0.0, "kl_bpb": mean(evals["logit"]["kl"])}
            if p0["kl_bpb"] > target:  # linear interpolation between the checkpoints around the crossing
                w = (p0["kl_bpb"] - target) / (p0["kl_bpb"] - hit["kl_bpb"])
                interp = p0["train_seconds"] + w * (hit["train_seconds"] - p0["train_seconds"])
        to_target[name] = {
            "train_seconds": hit["train_seconds"] if hit else None,
            "tokens": hit["tokens"] if hit else None,
            "step": hit["step"] if hit else None,
            "interpolated_seconds": interp,
        }
    t_peer = ref["train_seconds"]
    t_sl = to_target["steerlens"]["train_seconds"]
    ratio = t_sl / t_peer if t_sl is not None else None
    result = {
        "model": a.model,
        "data": meta,
        "args": vars(a),
        "quiet_wait": quiet,
        "target_kl_bpb": target,
        "target_kl_nats_per_token": target / f,
        "logit_lens_kl_bpb": mean(evals["logit"]["kl"]),
        "runs": {
            name: {
                **{k: v for k, v in rec.items() if k != "step_seconds"},
                "kind": kinds[name],
                "time_to_target": to_target[name],
            }
            for name, rec in records.items()
        },
        "curves": curves,
        "ratio": ratio,
        "target_met": ratio is not None and ratio <= 0.5,
        "evaluation": evals,
        "benchmark_wall_s": time.perf_counter() - t_start,
    }
    C.write_json(work / "results.json", result)
    plot(result, work / "time_to_kl.png")
    (work / "ref.safetensors").unlink(missing_ok=True)
    if not a.keep_checkpoints:  # ~40 MB per checkpoint
        import shutil

        for sub in ("peer", "peer-shape", "steerlens"):
            shutil.rmtree(work / sub, ignore_errors=True)
    report(result)
    log(f"(results: {work / 'results.json'}, {work / 'time_to_kl.png'}; whole run {result['benchmark_wall_s']:.0f}s)")


def mean(xs) -> float:
    return sum(xs) / len(xs)


def recipe_str(rec: dict) -> str:
    r = rec["recipe"]
    if "loss" in r:  # the package
        return (
            f"its default: SGD nesterov lr {r['lr']:g} (1.0 effective), wd {r['weight_decay']:g}, linear decay, "
            f"clip 1, bf16 autocast; batch {r['per_gpu_batch_size']}"
        )
    return (
        f"{r['optimizer'].upper()} lr_scale {r['lr_scale']:g}, wd {r['weight_decay']:g}, linear decay, clip "
        f"{r['clip_norm']:g}, {r['compute_dtype']} matmuls; micro-batch {r['micro_batch']}"
    )


def report(r: dict) -> None:
    runs, curves = r["runs"], r["curves"]
    names = list(runs)
    finals = {n: next(x for x in curves[n] if x["step"] == runs[n]["recipe"]["steps"]) for n in names}

    def steps(n):
        rec = runs[n]["recipe"]
        return f"{rec['steps']} x {rec['tokens_per_step']}"

    def tt(n):
        t = runs[n]["time_to_target"]
        if t["train_seconds"] is None:
            return "not reached"
        return f"{t['train_seconds']:.1f} (step {t['step']}, {t['tokens']} tokens)"

    rows = [
        ("library", [runs[n]["library"] for n in names]),
        ("steps x tokens/step", [steps(n) for n in names]),
        ("training wall time (s)", [f"{runs[n]['train_seconds']:.1f}" for n in names]),
        ("tokens/s", [f"{runs[n]['tokens_per_s']:.1f}" for n in names]),
        ("held-out KL, final (bits/byte)", [f"{finals[n]['kl_bpb']:.4f}" for n in names]),
        ("held-out KL, final (nats/token)", [f"{finals[n]['kl_nats_per_token']:.4f}" for n in names]),
        ("time to the package's final KL (s)", [tt(n) for n in names]),
        ("peak RSS during training (MB)", [f"{runs[n]['peak_rss_train_mb']:.0f}" for n in names]),
        ("  RSS before training (MB)", [f"{runs[n]['rss_before_mb']:.0f}" for n in names]),
        ("other processes' CPU share", [f"{runs[n]['other_cpu_share']:.0%}" for n in names]),
    ]
    w0 = max(len(x[0]) for x in rows)
    ws = [max(len(n), *(len(x[1][i]) for x in rows)) for i, n in enumerate(names)]
    log("")
    log(f"{'':<{w0}} | " + " | ".join(f"{n:<{w}}" for n, w in zip(names, ws)))
    log("-" * (w0 + 1) + "".join("+" + "-" * (w + 2) for w in ws))
    for label, vals in rows:
        log(f"{label:<{w0}} | " + " | ".join(f"{v:<{w}}" for v, w in zip(vals, ws)))
    log("")
    for n in names:
        log(f"recipe, {n}: {recipe_str(runs[n])}")
    log(
        f"held-out: {r['data']['held_chunks']} chunks x {r['data']['seq_len']} tokens; logit lens KL "
        f"{r['logit_lens_kl_bpb']:.4f} bits/byte (all KLs: mean over the {len(finals[names[0]]['kl_bpb_per_layer'])} "
        "lens indices, steerlens' evaluate_lenses)"
    )
    log("time-to-KL (training seconds -> held-out KL, bits/byte):")
    for n in names:
        log(f"  {n}: " + ", ".join(f"{q['train_seconds']:.0f}s->{q['kl_bpb']:.3f}" for q in curves[n]))
    log("per-layer held-out KL (bits/byte), final lenses:")
    for n in names:
        log(f"  {n}: " + " ".join(f"{v:.2f}" for v in finals[n]["kl_bpb_per_layer"]))
    tgt, ref = r["target_kl_bpb"], runs["tuned-lens"]
    sl = runs["steerlens"]["time_to_target"]
    if r["ratio"] is None:
        log(f"RESULT: steerlens did not reach the package's final held-out KL ({tgt:.4f} bits/byte) at any checkpoint")
    else:
        extra = f" (interpolated between checkpoints: {sl['interpolated_seconds']:.1f}s)" if sl["interpolated_seconds"] else ""
        log(
            f"RESULT: steerlens first reaches the package's final held-out KL ({tgt:.4f} bits/byte) at a checkpoint "
            f"after {sl['train_seconds']:.1f}s of training{extra}; the package took {ref['train_seconds']:.1f}s: ratio "
            f"{r['ratio']:.2f} -> target (<= 0.5) {'MET' if r['target_met'] else 'NOT met'}"
        )
    busy = [n for n in names if runs[n]["other_cpu_share"] > 0.15]
    if busy:
        log(f"WARNING: other processes used > 15% of the CPUs during training of: {', '.join(busy)}; timings are noisy")
    log(f"same model in both envs: {ref.get('same_model_check', {}).get('summary')}")


def plot(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    styles = {"tuned-lens": ("o", "C0", "-"), "steerlens": ("s", "C1", "-")}
    for name, pts in r["curves"].items():
        run = r["runs"][name]
        m, c, ls = styles.get(name, ("^", "C2", "--"))
        xs = [0.0] + [q["train_seconds"] for q in pts]
        ys = [r["logit_lens_kl_bpb"]] + [q["kl_bpb"] for q in pts]
        rec = run["recipe"]
        ax.plot(
            xs,
            ys,
            marker=m,
            ms=4,
            color=c,
            ls=ls,
            label=f"{name}: {rec['steps']} x {rec['tokens_per_step']} tokens, {run['tokens_per_s']:.0f} tokens/s",
        )
    ax.axhline(r["target_kl_bpb"], color="k", ls="--", lw=1, label="package's final held-out KL")
    ax.axvline(r["runs"]["tuned-lens"]["train_seconds"] / 2, color="grey", ls=":", lw=1, label="half the package's time")
    ax.set_xlabel("training wall time (s; evaluation excluded)")
    ax.set_ylabel("held-out KL, mean over layers (bits/byte)")
    title = f"{r['model']}: tuned-lens training, time to held-out KL"
    ax.set_title(title + (f" (ratio {r['ratio']:.2f})" if r["ratio"] is not None else ""), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="the whole benchmark")
    r.add_argument("--model", default="smollm2-135m")
    r.add_argument("--seq-len", type=int, default=128)
    r.add_argument("--held-out-chunks", type=int, default=8)
    r.add_argument("--steps", type=int, default=12, help="the package's optimiser steps (bench_lens.py's default)")
    r.add_argument("--tokens-per-step", type=int, default=512, help="the package's tokens per step")
    r.add_argument(
        "--peer-batch", type=int, default=1, help="the package's per_gpu_batch_size (its default, and its fastest here)"
    )
    r.add_argument("--peer-checkpoints", type=int, default=4)
    r.add_argument(
        "--peer-same-shape", action="store_true", help="control: also train the package with steerlens' steps x tokens per step"
    )
    r.add_argument("--sl-steps", type=int, default=48, help="steerlens' steps (same token budget by default)")
    r.add_argument("--sl-tokens-per-step", type=int, default=128)
    r.add_argument("--sl-micro-batch", type=int, default=1)
    r.add_argument("--sl-optimizer", choices=["sgd", "adam"], default="sgd")
    r.add_argument("--sl-lr-scale", type=float, default=1.0)
    r.add_argument("--sl-warmup-steps", type=int)
    r.add_argument("--sl-compute", choices=["float32", "bfloat16"], default="bfloat16")
    r.add_argument("--sl-checkpoints", type=int, default=12)
    r.add_argument("--eval-batch", type=int, default=2, help="checkpoints evaluated per pass")
    r.add_argument("--full-curves", action="store_true", help="evaluate every checkpoint")
    r.add_argument("--no-peer-curve", action="store_true", help="evaluate only the package's final lens")
    r.add_argument("--keep-checkpoints", action="store_true", help="keep the lens checkpoints (deleted by default)")
    r.add_argument("--peer-python", default=str(REPO / ".bench-lens-venv/bin/python"))
    r.add_argument(
        "--wait-quiet",
        type=float,
        default=300,
        metavar="SECONDS",
        help="first wait up to this long for other processes to leave the CPUs idle (0: don't)",
    )
    r.add_argument("--child-timeout", type=float, default=1800)
    r.add_argument("--workdir", default=str(REPO / "bench-results/lens-peer"))
    t = sub.add_parser("train-steerlens", help="(internal) steerlens' training in its own process")
    t.add_argument("--workdir", required=True)
    t.add_argument("--steps", type=int, required=True)
    t.add_argument("--tokens-per-step", type=int, required=True)
    t.add_argument("--micro-batch", type=int, default=2)
    t.add_argument("--optimizer", default="sgd")
    t.add_argument("--lr-scale", type=float, default=1.0)
    t.add_argument("--warmup-steps", type=int)
    t.add_argument("--compute", default="bfloat16")
    t.add_argument("--checkpoints", type=int, nargs="*", default=[])
    sub.add_parser("report", help="print the table of an earlier run").add_argument(
        "--workdir", default=str(REPO / "bench-results/lens-peer")
    )
    a = p.parse_args()
    if a.cmd == "run":
        cmd_run(a)
    elif a.cmd == "train-steerlens":
        cmd_train_steerlens(a)
    else:
        report(json.loads((Path(a.workdir) / "results.json").read_text()))


if __name__ == "__main__":
    main()
