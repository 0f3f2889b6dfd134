"""The tuned-lens package's half of bench_lens_peer.py: its own training loop on the benchmark's token ids.

Runs in the lens-peer virtualenv (.bench-lens-venv: tuned-lens 0.2.0, transformers 4.57, torchdata 0.9; no
steerlens), started by ``bench_lens_peer.py run``:

    .bench-lens-venv/bin/python benchmarks/peer_lens_train.py --workdir DIR --steps N --tokens-per-step T
        [--batch-size B] [--checkpoints 3 6 9 12] [--name peer]

Reads DIR/data.safetensors + DIR/data.json (the token chunks steerlens' env cut) and DIR/ref.safetensors
(steerlens' residuals and final log-probs of one held-out chunk, for the same-model check); writes the
package's lens at each checkpoint step as DIR/NAME/step_K/{config.json,params.pt} (its own TunedLens.save)
and DIR/NAME.json (timings, per-step training loss, peak RSS, versions); NAME is --name, default "peer".

What runs is ``tuned_lens.scripts.train_loop.Train.execute()`` itself, with its default recipe
(``ingredients.Optimizer()``: SGD, Nesterov momentum 0.9, lr 1.0 * (1 - 0.9), weight decay 1e-3, linear decay,
no warm-up; KL loss, token shift 0, bf16 autocast for the lens, global grad clip 1.0, its torchdata loader
shuffling with seed 42). Only three things are swapped in, none of them in the loop:

* ``Data.load`` returns the benchmark's chunks as a ``datasets.Dataset`` in torch format (what
  ``chunk_and_tokenize`` returns) instead of tokenizing a hub dataset;
* ``Model.name`` is the converted model folder (through a translated config.json under transformers 4, see
  peers_capture.py);
* ``setup`` and ``_log`` (called once per optimiser step, a no-op without W&B) are wrapped to time the
  steps and to copy the translators at checkpoint steps (the copy time is subtracted).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _capture_common as C  # noqa: E402
import torch  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--tokens-per-step", type=int, required=True)
    p.add_argument("--batch-size", type=int, default=1, help="Distributed.per_gpu_batch_size (package default 1)")
    p.add_argument("--checkpoints", type=int, nargs="*", default=[])
    p.add_argument("--name", default="peer", help="outputs go to DIR/NAME/ and DIR/NAME.json")
    a = p.parse_args()
    C.setup_torch()
    warnings.filterwarnings("ignore", category=UserWarning, module="torchdata")
    import tuned_lens
    import tuned_lens.scripts.ingredients as ing
    from datasets import Dataset
    from peers_capture import v4_model_dir
    from safetensors.torch import load_file
    from tuned_lens.scripts.train_loop import LossChoice, Train

    work = Path(a.workdir)
    meta = json.loads((work / "data.json").read_text())
    data = load_file(str(work / "data.safetensors"))
    train_ids = data["train_ids"]
    folder, translation = v4_model_dir(Path(meta["model_dir"]))
    translation = v4_tokenizer_config(folder, translation)

    class BenchData(ing.Data):
        """The benchmark's chunks, as chunk_and_tokenize would return them (torch format, input_ids only)."""

        def load(self, tokenizer):  # noqa: D102, ARG002 - the chunks are already token ids
            ds = Dataset.from_dict({"input_ids": train_ids.tolist()}).with_format("torch", columns=["input_ids"])
            return ds, meta["train_nats_to_bpb"]

    out_dir = work / a.name
    train = Train(
        model=ing.Model(name=str(folder)),
        data=BenchData(max_length=train_ids.shape[1]),
        opt=ing.Optimizer(),  # the default recipe
        dist=ing.Distributed(per_gpu_batch_size=a.batch_size),
        output=out_dir / "final",
        num_steps=a.steps,
        tokens_per_step=a.tokens_per_step,
        loss=LossChoice.KL,
    )
    marks: dict = {"step_end": [], "copy_s": 0.0, "train_kl": [], "train_kl_layers": []}
    saved: dict[int, dict[str, torch.Tensor]] = {}
    held: dict = {}
    contention = C.Contention()
    orig_setup, orig_log = train.setup, train._log

    def setup():
        state, model, grad_acc = orig_setup()
        held.update(model=model, lens=state.lens, grad_acc=grad_acc, opt=state.opt)
        C.reset_peak_rss()
        marks["rss_before_mb"] = C._status_kb("VmRSS") / 1024
        contention.start()
        marks["t0"] = time.perf_counter()
        return state, model, grad_acc

    def log(opt, step, losses, lens, nats_to_bpb):
        t = time.perf_counter()
        per_layer = [sum(v) / len(v) for _, v in sorted(losses.items(), key=lambda kv: int(kv[0].split("_")[1]))]
        marks["train_kl_layers"].append(per_layer)
        marks["train_kl"].append(sum(per_layer) / len(per_layer))
        marks["step_end"].append(t - marks["t0"] - marks["copy_s"])
        if step + 1 in a.checkpoints:
            saved[step + 1] = {k: v.detach().clone() for k, v in lens.layer_translators.state_dict().items()}
        if step + 1 == a.steps:
            marks["peak_rss_mb"] = C._status_kb("VmHWM") / 1024
            marks["other_cpu_share"] = contention.stop()
        print(
            f"[peer] step {step + 1}/{a.steps}: {marks['step_end'][-1]:.1f}s, train KL {marks['train_kl'][-1]:.3f} nats/token",
            flush=True,
        )
        marks["copy_s"] += time.perf_counter() - t
        return orig_log(opt, step, losses, lens, nats_to_bpb)

    train.setup, train._log = setup, log
    t_all = time.perf_counter()
    train.execute()
    total_s = time.perf_counter() - t_all
    tokens_per_step = held["grad_acc"] * a.batch_size * train_ids.shape[1]
    if tokens_per_step != a.tokens_per_step:
        raise SystemExit(f"tuned-lens used {tokens_per_step} tokens per step, not {a.tokens_per_step}")
    n_steps = len(marks["step_end"])
    if n_steps != a.steps:  # the loop stops silently when the loader runs dry
        raise SystemExit(f"tuned-lens ran {n_steps} of {a.steps} steps (the data ran out?)")

    lens = held["lens"]
    final_state = {k: v.detach().clone() for k, v in lens.layer_translators.state_dict().items()}
    saved[a.steps] = final_state
    for step, state in sorted(saved.items()):
        lens.layer_translators.load_state_dict(state)
        lens.save(out_dir / f"step_{step}")  # the package's own format: config.json + params.pt
    lens.layer_translators.load_state_dict(final_state)

    check = same_model_check(held["model"], lens, work / "ref.safetensors")
    seconds = marks["step_end"][-1]
    env = C.env_info(["torch", "transformers", "tuned-lens", "torchdata", "datasets", "accelerate", "numpy"])
    record = {
        "library": f"tuned-lens {getattr(tuned_lens, '__version__', None) or env['packages']['tuned-lens']}",
        "env": env,
        "config_translation": translation,
        "recipe": {
            "optimizer": train.opt.optimizer.value,
            "lr": held["opt"].param_groups[0]["initial_lr"],
            "momentum": train.opt.momentum,
            "nesterov": True,
            "weight_decay": train.opt.weight_decay,
            "warmup_steps": train.opt.warmup_steps,
            "schedule": "linear decay to 0 (get_linear_schedule_with_warmup)",
            "clip_norm": 1.0,
            "loss": "kl",
            "autocast": "bfloat16",
            "steps": a.steps,
            "tokens_per_step": a.tokens_per_step,
            "per_gpu_batch_size": a.batch_size,
            "grad_acc_steps": held["grad_acc"],
        },
        "train_seconds": seconds,
        "tokens": a.steps * a.tokens_per_step,
        "tokens_per_s": a.steps * a.tokens_per_step / seconds,
        "execute_seconds_incl_setup_and_save": total_s,
        "checkpoints": {
            str(s): {
                "train_seconds": marks["step_end"][s - 1],
                "tokens": s * a.tokens_per_step,
                "path": str(out_dir / f"step_{s}"),
            }
            for s in sorted(saved)
        },
        "step_seconds": marks["step_end"],
        "train_kl_nats": marks["train_kl"],
        "train_kl_layers_first_last": [marks["train_kl_layers"][0], marks["train_kl_layers"][-1]],
        "copy_seconds": marks["copy_s"],
        "rss_before_mb": marks["rss_before_mb"],
        "peak_rss_train_mb": marks["peak_rss_mb"],
        "peak_rss_process_mb": C._status_kb("VmHWM") / 1024,
        "other_cpu_share": marks["other_cpu_share"],
        "same_model_check": check,
    }
    C.write_json(work / f"{a.name}.json", record)
    print(
        f"[peer] {a.steps} steps x {a.tokens_per_step} tokens in {seconds:.1f}s "
        f"({record['tokens_per_s']:.1f} tokens/s), peak RSS {marks['peak_rss_mb']:.0f} MB; "
        f"same model: {check.get('summary')}",
        flush=True,
    )


def v4_tokenizer_config(folder: Path, translation: dict | None) -> dict | None:
    """transformers 5 saves ``tokenizer_class: TokenizersBackend``, which transformers 4 cannot import: in the
    temporary folder (its config.json already translated), point it at ``PreTrainedTokenizerFast``, which reads the
    same tokenizer.json. (The tokenizer is only loaded here: the chunks are token ids already.)"""
    import transformers

    path = folder / "tokenizer_config.json"
    cfg = json.loads(path.read_text())
    cls = cfg.get("tokenizer_class")
    if translation is None or not cls or hasattr(transformers, cls):
        return translation
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    path.unlink()  # a symlink to the original: replace it, never write through it
    path.write_text(json.dumps(cfg, indent=2))
    note = f"tokenizer_class {cls} -> PreTrainedTokenizerFast"
    return {**translation, "notes": [*translation["notes"], note], "summary": translation["summary"] + "; " + note}


@torch.no_grad()
def same_model_check(model, lens, ref_path: Path) -> dict:
    """hidden_states[:-1] and final log-probs of this env vs steerlens' resid_pre and log-probs (one chunk)."""
    from safetensors.torch import load_file

    if not ref_path.is_file():
        return {"summary": "skipped (no ref.safetensors)"}
    ref = load_file(str(ref_path))
    out = model(input_ids=ref["ids"], output_hidden_states=True)
    hs = torch.stack(out.hidden_states[:-1])[:, 0]  # [layers, pos, d]
    logp = out.logits[0].float().log_softmax(-1)
    resid_rel = float((hs - ref["resid_pre"]).abs().max() / ref["resid_pre"].abs().max())
    logp_max = float((logp - ref["final_logp"]).abs().max())
    n_lens = len(lens)
    ok = hs.shape[0] == n_lens == ref["resid_pre"].shape[0] and resid_rel < 1e-3 and logp_max < 1e-2
    return {
        "hidden_states_used": int(hs.shape[0]),
        "translators": n_lens,
        "resid_pre_rel_max_diff": resid_rel,
        "final_logp_max_abs_diff": logp_max,
        "ok": ok,
        "summary": f"{'OK' if ok else 'MISMATCH'} (resid rel {resid_rel:.1e}, log-prob {logp_max:.1e})",
    }


if __name__ == "__main__":
    main()
