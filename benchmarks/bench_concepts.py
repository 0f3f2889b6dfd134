"""Benchmark: steerlens concept guidance (activation extraction, probe fitting, guided generation) -- speed.

Compares steerlens with a faithful minimal re-run of the concept-guidance seed's recipe
(``dvruette/concept-guidance`` is not on PyPI; ``seed_*`` below is our own plain torch/transformers
code following its ``compute_activations``, ``DiMProbe``/``LogisticProbe``/``PCAProbe`` and
``patch_model``), on the embedded ``gemma-3-270m``, float32, CPU, ``torch.set_num_threads(2)``.

    python benchmarks/bench_concepts.py [--n-examples 500] [--repeats 5] [--extract-repeats 3]
        [--max-new-tokens 64] [--gen-batch 1] [--wait-quiet 600] [--out bench-results/concepts-speed]
    python benchmarks/bench_concepts.py --quick      # smoke test: tiny sizes, ~2 minutes

What is timed (every method runs once per round, in an order rotated each round; min and median):

(a) extraction -- completion-token activations at every layer's attention input for N examples (the
    shipped ``tone`` dataset, then ``refusal``, cycled if N > 600):
    * ``steerlens``: ``concept_activations(model, tok, examples)`` (defaults: ``sites`` = ``attn_in`` of every block,
      ``ctx_len=16``, ``max_completion_tokens=32``, batches of 16, right-padded, forward stopped after
      the last block -- no final norm, no LM head);
    * ``seed re-run``: one example per forward, the seed's way: render with the seed's default chat
      template (``<bos>Question: ...\\nAnswer: ...\\n``; gemma-3-270m's tokenizer has none), find the
      prefix length by rendering an empty answer minus 2 tokens, cut at prefix + 32 tokens, run the whole
      model (``output_hidden_states=True, use_cache=True``, LM head included) with forward hooks on every
      ``input_layernorm`` (what baukit's ``TraceDict`` does), keep the completion positions without the
      last one, first 16 of them.
    The two are checked against each other token by token (max |diff| of the activations).
(b) probe fitting -- each probe on all 18 layers, both on the same token samples (steerlens' activations
    from (a); for the seed re-run split into its list-of-examples format): ``DiMProbe().fit``,
    ``LogisticProbe().fit``, ``PCAProbe().fit`` vs the seed's maths (float32, its chunked mean, sklearn
    per layer). The directions are compared (cosine per layer).
(c) guided generation -- ``steerlens.model.generate(model, tok, prompts, max_new_tokens=N,
    min_new_tokens=N)`` (greedy, exactly N new tokens), plain and inside ``guide(model, concept, scale)``
    (all 18 layers, and the top 9 by train accuracy), and inside the seed's ``patch_model`` re-run (all
    layers). The concept is a DiM probe trained with ``train_concept`` on the ``tone`` data.
    Also reported: the time spent inside steerlens' hooks per generate call (untimed extra calls).

Results: ``<out>/results.json`` (``results-quick.json`` with ``--quick``); ``bench-results/`` is git-ignored.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _capture_common as C  # noqa: E402
import _steering_common as S  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

MODEL = "gemma-3-270m"
SCALE = 16.0  # guidance scale (norm-preserving; gemma-3-270m's attention inputs: median norms 16-90, layers 0-1: 200-430)

# The seed's default chat template for tokenizers without one (concept_guidance/chat_template.py), as a string.
SEED_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ 'Question: ' }}"
    "{% elif message['role'] == 'assistant' %}{{ 'Answer: ' }}{% endif %}"
    "{{ message['content'].strip() }}{{ '\\n' }}{% endfor %}"
)


# ----------------------------------------------------------------------------------------------
# The seed's recipe, re-run (own minimal code)
# ----------------------------------------------------------------------------------------------


def _seed_messages(ex: Any, completion: str) -> list[dict[str, str]]:
    msgs = [{"role": r, "content": c} for r, c in ex.conversation_history]
    return msgs + [{"role": "user", "content": ex.prompt}, {"role": "assistant", "content": completion}]


def seed_tokens(tok: Any, ex: Any, max_assistant_tokens: int = 32, max_length: int = 1024) -> tuple[torch.Tensor, int]:
    """The seed's ``get_tokens``: ids [1, T] and the number of completion tokens (the template's end included)."""
    text = tok.apply_chat_template(_seed_messages(ex, ex.completion), tokenize=False, chat_template=SEED_TEMPLATE)
    empty = tok.apply_chat_template(_seed_messages(ex, ""), tokenize=False, chat_template=SEED_TEMPLATE)
    n_prefix = len(tok(empty, add_special_tokens=False)["input_ids"]) - 2  # the seed's "-2" heuristic
    ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    ids = ids[:, : n_prefix + max_assistant_tokens]
    n_completion = ids.shape[1] - n_prefix
    ids = ids[:, -max_length:]
    return ids, min(max_length, n_completion)


@torch.no_grad()
def seed_activations(
    model: Any,
    tok: Any,
    examples: Sequence[Any],
    ctx_len: int = 16,
) -> tuple[list[torch.Tensor], torch.Tensor, list[int]]:
    """The seed's ``compute_activations(representation="pre-attn")``: per example ``[n_tok, L, d]`` fp32.

    Also returns the position of each example's first selected token (for the agreement check only).
    """
    layers = model.model.layers
    seen: dict[int, torch.Tensor] = {}

    def keep(i: int, module: Any, args: Any, output: torch.Tensor) -> None:
        seen[i] = output

    handles = [layer.input_layernorm.register_forward_hook(functools.partial(keep, i)) for i, layer in enumerate(layers)]
    acts, labels, starts = [], [], []
    try:
        for ex in examples:
            ids, n_completion = seed_tokens(tok, ex)
            model(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True, return_dict=True, use_cache=True)
            reps = torch.cat([seen[i] for i in range(len(layers))], dim=0)  # [L, T, d]
            reps = reps[:, -n_completion:-1][:, :ctx_len]
            acts.append(reps.cpu().to(torch.float32).transpose(0, 1))
            labels.append(ex.label)
            starts.append(ids.shape[1] - n_completion)
            seen.clear()
    finally:
        for h in handles:
            h.remove()
    return acts, torch.tensor(labels, dtype=torch.long), starts


def seed_flatten(xs: list[torch.Tensor], y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The seed's ``adaptive_flatten``: token samples ``[n, L, d]`` and each token's label (in x's dtype)."""
    if all(x.shape == xs[0].shape for x in xs):
        stacked = torch.stack(xs)
        return stacked.reshape(-1, *stacked.shape[2:]), y[:, None].expand(-1, stacked.shape[1]).reshape(-1)
    ys = [torch.full(x.shape[:1], fill_value=int(v), dtype=x.dtype) for x, v in zip(xs, y)]
    return torch.cat(xs, 0), torch.cat(ys, 0)


def seed_mean(xs: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """The seed's ``stable_mean`` over dim 0: the average of chunk means (the last, shorter chunk counts as a full one)."""
    if xs.shape[0] < chunk:
        return xs.float().mean(0).to(xs.dtype)
    acc = torch.zeros(xs.shape[1:], dtype=xs.dtype)
    count = 0
    for i in range(0, xs.shape[0], chunk):
        acc += xs[i : i + chunk].float().mean(0)
        count += 1
    return (acc / count).to(xs.dtype)


def _seed_pm1(ys: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    ys = (ys - ys.min()) / (ys.max() - ys.min()) * 2 - 1
    return ys.reshape((-1,) + (1,) * (like.ndim - 1))


def _seed_readouts(alphas: torch.Tensor, ys: torch.Tensor, tol: float) -> list[Any]:
    from sklearn.linear_model import LogisticRegression

    # penalty=None in the seed; C=inf is the same model (sklearn >= 1.8 deprecates `penalty`)
    return [
        LogisticRegression(C=np.inf, fit_intercept=True, max_iter=500, tol=tol).fit(
            alphas[:, i, None].float().numpy(), ys.reshape(-1).float().numpy()
        )
        for i in range(alphas.shape[1])
    ]


@torch.no_grad()
def seed_fit_dim(X: list[torch.Tensor], y: torch.Tensor) -> torch.Tensor:
    """The seed's ``DiMProbe(normalize=True).fit``; returns the directions ``[L, d]``."""
    xs, ys = seed_flatten(X, y)
    mean = seed_mean(xs)[None]
    xs = xs - mean
    xs = xs / xs.norm(dim=-1, keepdim=True).clip(torch.finfo(xs.dtype).tiny)
    ys = _seed_pm1(ys, xs)
    m = seed_mean(xs * ys).float()
    w = (m / m.norm(dim=-1, keepdim=True).clip(1e-8)).to(xs.dtype)
    _seed_readouts(torch.einsum("ild,ld->il", xs, w), ys, tol=1e-3)
    return w


@torch.no_grad()
def seed_fit_logistic(X: list[torch.Tensor], y: torch.Tensor) -> torch.Tensor:
    """The seed's ``LogisticProbe(normalize=True, l2_penalty=1.0).fit``; returns the coefficients ``[L, d]``."""
    from sklearn.linear_model import LogisticRegression

    xs, ys = seed_flatten(X, y)
    seed_mean(xs)  # computed (and unused) by the seed
    xs = xs / xs.norm(dim=-1, keepdim=True).clip(torch.finfo(xs.dtype).tiny)
    coefs = []
    for i in range(xs.shape[1]):
        clf = LogisticRegression(fit_intercept=False, solver="liblinear", C=1.0, max_iter=300, tol=1e-3)
        clf.fit(xs[:, i].float().numpy(), ys.float().numpy())
        coefs.append(torch.from_numpy(clf.coef_[0]))
    return torch.stack(coefs).float()


@torch.no_grad()
def seed_fit_pca(X: list[torch.Tensor], y: torch.Tensor) -> torch.Tensor:
    """The seed's ``PCAProbe(normalize=False).fit``; returns the (arbitrarily signed) directions ``[L, d]``."""
    from sklearn.decomposition import PCA

    xs, ys = seed_flatten(X, y)
    ys = _seed_pm1(ys, xs)
    d = xs[torch.randperm(xs.shape[0])]
    end = (d.shape[0] // 2) * 2
    d = d[0:end:2] - d[1:end:2]
    d *= torch.randint(2, size=(d.shape[0], 1, 1)) * 2 - 1
    w = torch.cat(
        [torch.from_numpy(PCA(n_components=1).fit(d[:, i].float().numpy()).components_) for i in range(xs.shape[1])], 0
    ).to(xs.dtype)
    _seed_readouts(torch.einsum("ild,ld->il", xs, w), ys, tol=1e-2)
    return w


def seed_patch(model: Any, vectors: torch.Tensor, layers: Sequence[int], scale: float) -> Callable[[], None]:
    """The seed's ``patch_model(representation="pre-attn")``: replace ``input_layernorm.forward``; returns the unpatch."""

    def guided(old: Callable[[torch.Tensor], torch.Tensor], w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        x = old(x)
        dtype = x.dtype
        x = x.to(torch.float32)
        w = w / w.norm(dim=-1, keepdim=True)
        x_norm = x.norm(dim=-1, keepdim=True)
        x = x + scale * w
        x = x * (x_norm / x.norm(dim=-1, keepdim=True))
        return x.to(dtype)

    patched = []
    for i in layers:
        ln = model.model.layers[i].input_layernorm
        patched.append((ln, ln.__dict__.get("forward")))
        ln.forward = functools.partial(guided, ln.forward, vectors[i][None, None].float())

    def unpatch() -> None:
        for ln, had in patched:
            if had is None:
                del ln.forward  # our instance attribute shadowed the class' forward
            else:
                ln.forward = had

    return unpatch


# ----------------------------------------------------------------------------------------------
# Timing helpers
# ----------------------------------------------------------------------------------------------


def rounds(
    methods: dict[str, Callable[[], Any]], repeats: int, warmups: dict[str, Callable[[], Any]], log: Callable[[str], None]
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, Any]]:
    """Untimed ``warmups`` once, then ``repeats`` rounds of every method (order rotated); keeps each last result."""
    for name, fn in warmups.items():
        t0 = time.perf_counter()
        fn()
        log(f"  warm-up {name}: {time.perf_counter() - t0:.2f}s")
    names = list(methods)
    times: dict[str, list[float]] = {n: [] for n in names}
    others: dict[str, list[float]] = {n: [] for n in names}
    last: dict[str, Any] = {}
    cont = C.Contention()
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            last.pop(name, None)
            gc.collect()
            cont.start()
            t0 = time.perf_counter()
            out = methods[name]()
            times[name].append(time.perf_counter() - t0)
            others[name].append(cont.stop())
            last[name] = out
            del out
        log(
            f"  round {r + 1}/{repeats}: "
            + ", ".join(f"{n}={times[n][-1]:.2f}s" for n in names)
            + f" (others used up to {max(others[n][-1] for n in names):.0%} CPU)"
        )
    return times, others, last


def stats(ts: list[float], others: list[float] | None = None) -> dict[str, Any]:
    out = {"median": statistics.median(ts), "min": min(ts), "max": max(ts), "n": len(ts), "times": ts}
    if others is not None:
        out["max_other_cpu_share"] = max(others)
    return out


def paired_median_ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b))


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


# ----------------------------------------------------------------------------------------------
# Benchmark
# ----------------------------------------------------------------------------------------------


def examples_for(n: int) -> tuple[list[Any], str]:
    from steerlens.concepts import load_dataset

    pool = load_dataset("tone") + load_dataset("refusal")
    out = [pool[i % len(pool)] for i in range(n)]
    how = f"first {n} of tone (300) + refusal (300)" + (f", cycled ({n - len(pool)} repeats)" if n > len(pool) else "")
    return out, how


def agreement(sl: Any, seed_acts: list[torch.Tensor], seed_starts: list[int], tok: Any, examples: list[Any]) -> dict[str, Any]:
    """Compare the two extractions at the tokens both selected (same absolute positions)."""
    from steerlens.concepts.data import render

    counts = torch.bincount(sl.example, minlength=len(examples)).tolist()
    per_ex = torch.split(sl.x, counts)
    max_abs = max_ref = 0.0
    sq_diff = sq_ref = 0.0
    compared = start_differs = count_differs = 0
    for i, ex in enumerate(examples):
        a = per_ex[i]
        b = seed_acts[i]
        if a.shape[0] != b.shape[0]:
            count_differs += 1
        if render(tok, ex).completion[0] != seed_starts[i]:
            start_differs += 1
            continue
        k = min(a.shape[0], b.shape[0])
        diff = (a[:k] - b[:k]).abs()
        max_abs = max(max_abs, float(diff.max()))
        max_ref = max(max_ref, float(b[:k].abs().max()))
        sq_diff += float((diff.double() ** 2).sum())
        sq_ref += float((b[:k].double() ** 2).sum())
        compared += k
    return {
        "tokens_compared": compared,
        "tokens_steerlens": int(sl.x.shape[0]),
        "tokens_seed": int(sum(x.shape[0] for x in seed_acts)),
        "max_abs_diff": max_abs,
        "max_abs_ref": max_ref,
        "rel_max": max_abs / max_ref if max_ref else 0.0,
        "rel_fro": (sq_diff / sq_ref) ** 0.5 if sq_ref else 0.0,
        "examples_with_other_token_count": count_differs,
        "examples_with_other_start": start_differs,
        "note": "steerlens drops the last completion token, the seed the template's trailing newline token "
        "(differs for completions of < 17 tokens); the seed's 'empty answer minus 2 tokens' prefix "
        "heuristic misplaces some completions (those examples are not compared)",
    }


def cosines(a: torch.Tensor, b: torch.Tensor) -> list[float]:
    a, b = a.double(), b.double()
    return (torch.nn.functional.cosine_similarity(a, b, dim=-1)).tolist()


def bench_probes(
    x: torch.Tensor,
    labels: torch.Tensor,
    X_list: list[torch.Tensor],
    y_ex: torch.Tensor,
    repeats: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Time every probe, steerlens and the seed re-run, on the same token samples; compare their directions."""
    import sklearn.decomposition  # noqa: F401  (imports are not part of the timings)
    import sklearn.linear_model  # noqa: F401

    from steerlens.concepts.probes import PROBES

    torch.manual_seed(42)
    seed_fit = {"dim": seed_fit_dim, "logistic": seed_fit_logistic, "pca": seed_fit_pca}
    # warm-up on every 10th example and the first two of each label
    firsts = [i for lab in (0, 1) for i in (y_ex == lab).nonzero().flatten()[:2].tolist()]
    few = sorted(set(range(0, len(X_list), 10)) | set(firsts))
    X_few = [X_list[i] for i in few]
    x_few = torch.cat([X_list[i] for i in few])
    y_few = torch.cat([torch.full((X_list[i].shape[0],), int(y_ex[i])) for i in few])
    probe_res: dict[str, Any] = {}
    for kind in ("dim", "logistic", "pca"):
        methods = {
            f"steerlens {kind}": lambda kind=kind: PROBES[kind]().fit(x, labels).directions(),
            f"seed re-run {kind}": lambda kind=kind: seed_fit[kind](X_list, y_ex),
        }
        warm = {
            f"steerlens {kind} ({len(few)} examples)": lambda kind=kind: PROBES[kind]().fit(x_few, y_few),
            f"seed re-run {kind} ({len(few)} examples)": lambda kind=kind: seed_fit[kind](X_few, y_ex[few]),
        }
        times, others, last = rounds(methods, repeats, warm, log)
        cos = cosines(last[f"steerlens {kind}"], last[f"seed re-run {kind}"])
        probe_res[kind] = {
            "steerlens": stats(times[f"steerlens {kind}"], others[f"steerlens {kind}"]),
            "seed_rerun": stats(times[f"seed re-run {kind}"], others[f"seed re-run {kind}"]),
            "seed_over_steerlens_paired_median": paired_median_ratio(times[f"seed re-run {kind}"], times[f"steerlens {kind}"]),
            "direction_cosine_min": min(cos),
            "direction_abs_cosine_min": min(abs(c) for c in cos),
            "direction_cosine": cos,
        }
        log(
            f"  {kind}: direction cosine steerlens vs seed re-run, min over layers {min(cos):.6f} "
            f"(|cos| min {min(abs(c) for c in cos):.6f})"
        )
    return probe_res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-examples", type=int, default=500, help="examples for the extraction (default 500)")
    ap.add_argument("--repeats", type=int, default=5, help="timed rounds for probes and generation (default 5)")
    ap.add_argument("--extract-repeats", type=int, default=3, help="timed rounds for the extraction (default 3)")
    ap.add_argument("--max-new-tokens", type=int, default=64, help="new tokens per guided generation (default 64)")
    ap.add_argument("--gen-batch", type=int, default=1, help="prompts per generate call (default 1, as the seed)")
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=600.0,
        help="wait up to S seconds for other processes to leave the CPUs idle before timing (0: don't)",
    )
    ap.add_argument("--out", default=str(HERE.parent / "bench-results" / "concepts-speed"))
    ap.add_argument("--quick", action="store_true", help="smoke test: 24 examples, 2 rounds, 8 tokens")
    ap.add_argument(
        "--probes-only", action="store_true", help="extract once (untimed) and time only the probe fitting; no generation"
    )
    args = ap.parse_args()
    if args.quick:
        args.n_examples, args.repeats, args.extract_repeats, args.max_new_tokens = 24, 2, 2, 8
        args.wait_quiet = 0.0

    C.setup_torch()
    import steerlens
    from steerlens.concepts import concept_activations, guide, load_dataset, split_examples, train_concept
    from steerlens.model import generate

    log = lambda s: print(s, flush=True)  # noqa: E731
    t0 = time.perf_counter()
    model, tok = steerlens.load_model(MODEL)
    model.eval()
    torch.set_grad_enabled(False)
    log(
        f"loaded {MODEL} in {time.perf_counter() - t0:.1f}s (attn={model.config._attn_implementation}, "
        f"{model.dtype}, torch threads {torch.get_num_threads()})"
    )
    n_layers = len(model.model.layers)
    examples, how = examples_for(args.n_examples)
    env = C.env_info(["steerlens", "torch", "transformers", "tokenizers", "scikit-learn", "numpy"])
    quiet = C.wait_for_quiet(args.wait_quiet, log=log) if args.wait_quiet > 0 else None
    result: dict[str, Any] = {"model": MODEL, "env": env, "quiet_wait": quiet, "args": vars(args), "examples": how}

    # (a) extraction ---------------------------------------------------------------------------
    log(f"\n(a) extraction: {len(examples)} examples ({how})")
    small = examples[:8]
    methods = {
        "steerlens": lambda: concept_activations(model, tok, examples, progress=False),
        "seed re-run": lambda: seed_activations(model, tok, examples),
    }
    warm = {
        "steerlens (8 examples)": lambda: concept_activations(model, tok, small, progress=False),
        "seed re-run (8 examples)": lambda: seed_activations(model, tok, small),
    }
    if args.probes_only:
        sl = methods["steerlens"]()
        result["extraction"] = {"skipped": "--probes-only", "tokens": int(sl.x.shape[0]), "shape": list(sl.x.shape)}
    else:
        times, others, last = rounds(methods, args.extract_repeats, warm, log)
        sl, (seed_acts, _, seed_starts) = last["steerlens"], last["seed re-run"]
        agree = agreement(sl, seed_acts, seed_starts, tok, examples)
        ext = {k: stats(times[k], others[k]) for k in methods}
        ext_ratio = paired_median_ratio(times["seed re-run"], times["steerlens"])
        result["extraction"] = {
            "methods": ext,
            "seed_over_steerlens_paired_median": ext_ratio,
            "agreement": agree,
            "tokens": int(sl.x.shape[0]),
            "shape": list(sl.x.shape),
        }
        del seed_acts
        gc.collect()

    # (b) probe fitting ------------------------------------------------------------------------
    x, labels = sl.x, sl.labels
    counts = torch.bincount(sl.example, minlength=len(examples)).tolist()
    X_list = list(torch.split(x, counts))
    y_ex = sl.example_labels()
    log(f"\n(b) probe fitting: {x.shape[0]} token samples x {x.shape[1]} layers x {x.shape[2]}")
    probe_res = bench_probes(x, labels, X_list, y_ex, args.repeats, log)
    result["probes"] = probe_res
    del X_list, sl, x
    gc.collect()
    if args.probes_only:
        C.write_json(Path(args.out) / "results-probes.json", result)
        log(f"wrote {Path(args.out) / 'results-probes.json'}")
        return

    # (c) guided generation --------------------------------------------------------------------
    tone = load_dataset("tone")
    if args.quick:
        tone = tone[:24] + tone[-24:]
    t0 = time.perf_counter()
    concept = train_concept(model, tok, tone, probe="dim", name="tone", progress=False)
    log(
        f"\n(c) guided generation; concept trained on {len(tone)} tone examples in {time.perf_counter() - t0:.1f}s "
        f"(val accuracy max {max(concept.val_accuracy):.2f})"
    )
    _, val = split_examples(tone)
    uniq = list(dict.fromkeys(e.prompt for e in val))
    prompts = [f"Question: {p.strip()}\nAnswer:" for p in (uniq * args.gen_batch)[: args.gen_batch]]
    n = args.max_new_tokens
    top = concept.top_sites(n_layers // 2)
    W = concept.probe.directions()
    all_layers = list(range(n_layers))

    def gen() -> Any:
        return generate(model, tok, prompts, max_new_tokens=n, min_new_tokens=n)

    def guided(**kw: Any) -> Callable[[], Any]:
        def run() -> Any:
            with guide(model, concept, SCALE, **kw):
                return gen()

        return run

    def seed_guided() -> Any:
        unpatch = seed_patch(model, W, all_layers, SCALE)
        try:
            return gen()
        finally:
            unpatch()

    methods = {
        "plain generate": gen,
        f"guide, all {n_layers} layers": guided(),
        f"guide, top {len(top)} layers": guided(top_k=len(top)),
        f"seed patch_model, all {n_layers}": seed_guided,
    }
    warm = {f"{k}": v for k, v in methods.items()}
    times, others, last = rounds(methods, args.repeats, warm, log)
    plain = times["plain generate"]
    gen_res: dict[str, Any] = {}
    for k in methods:
        gen_res[k] = {
            **stats(times[k], others[k]),
            "ratio_median": statistics.median(times[k]) / statistics.median(plain),
            "ratio_min": min(times[k]) / min(plain),
            "ratio_paired_median": paired_median_ratio(times[k], plain),
            "new_tokens": [len(r) for r in last[k].new_ids],
            "sample": last[k].texts[0],
        }
    same = last[f"guide, all {n_layers} layers"].new_ids == last[f"seed patch_model, all {n_layers}"].new_ids
    differs = last[f"guide, all {n_layers} layers"].new_ids != last["plain generate"].new_ids
    log("  time inside steerlens' hooks (untimed extra calls):")
    hooks = {}
    for k, kw in ((f"guide, all {n_layers} layers", {}), (f"guide, top {len(top)} layers", {"top_k": len(top)})):
        runs = []
        for _ in range(max(2, min(3, args.repeats))):
            timer = S.HookTimer(model)
            with guide(model, concept, SCALE, **kw):
                n_hooks = timer.wrap_new()
                try:
                    gen()
                finally:
                    timer.unwrap()
            runs.append({"seconds": timer.seconds, "calls": timer.calls, "hooks": n_hooks})
        secs = statistics.median(r["seconds"] for r in runs)
        hooks[k] = {
            "per_generate_s": secs,
            "hook_calls": runs[0]["calls"],
            "hooks": runs[0]["hooks"],
            "share_of_plain_median": secs / statistics.median(plain),
        }
        log(
            f"    {k}: {secs * 1e3:.1f} ms in {runs[0]['hooks']} hooks ({runs[0]['calls']} hook calls) per generate "
            f"= {secs / statistics.median(plain):.1%} of a plain generate"
        )
    result["generation"] = {
        "prompts": prompts,
        "max_new_tokens": n,
        "scale": SCALE,
        "top_sites": [str(x) for x in top],
        "methods": gen_res,
        "hook_time": hooks,
        "guide_all_equals_seed_patch_tokens": same,
        "guided_differs_from_plain": differs,
    }
    env["loadavg_end"] = os.getloadavg()

    # report -----------------------------------------------------------------------------------
    e = result["extraction"]
    print(
        f"\n== {MODEL}, fp32, CPU, {torch.get_num_threads()} threads; load average {env['loadavg_start']} -> {env['loadavg_end']}"
    )
    print(
        f"\n(a) extraction of {len(examples)} examples -> {e['tokens']} token samples x {n_layers} layers "
        f"({args.extract_repeats} rounds)"
    )
    rows = []
    for k, s in e["methods"].items():
        rows.append(
            [
                k,
                f"{s['median']:.2f}",
                f"{s['min']:.2f}",
                f"{1e3 * s['median'] / len(examples):.1f}",
                f"{s['max_other_cpu_share']:.0%}",
            ]
        )
    print(table(["method", "median s", "min s", "ms/example", "others CPU"], rows))
    a = e["agreement"]
    print(
        f"seed re-run / steerlens: {e['seed_over_steerlens_paired_median']:.2f}x (paired median); "
        f"min/min {e['methods']['seed re-run']['min'] / e['methods']['steerlens']['min']:.2f}x"
    )
    print(
        f"agreement on {a['tokens_compared']} tokens: max|diff| {a['max_abs_diff']:.3g} (max|ref| {a['max_abs_ref']:.3g}, "
        f"rel {a['rel_max']:.2g}; ||diff||/||ref|| {a['rel_fro']:.2g}); token counts differ in "
        f"{a['examples_with_other_token_count']} examples, start differs in {a['examples_with_other_start']}"
    )
    print(f"\n(b) probe fitting, all {n_layers} layers ({args.repeats} rounds)")
    rows = []
    for k, p in probe_res.items():
        rows.append(
            [
                k,
                f"{p['steerlens']['median']:.2f}",
                f"{p['steerlens']['min']:.2f}",
                f"{p['seed_rerun']['median']:.2f}",
                f"{p['seed_rerun']['min']:.2f}",
                f"{p['seed_over_steerlens_paired_median']:.2f}x",
                f"{p['direction_cosine_min']:.4f}",
            ]
        )
    print(table(["probe", "steerlens med s", "min s", "seed med s", "min s", "seed/steerlens", "cos min"], rows))
    print(f"\n(c) generation of {n} tokens x {len(prompts)} prompt(s), greedy ({args.repeats} rounds); scale {SCALE}")
    rows = []
    for k, g in gen_res.items():
        rows.append(
            [
                k,
                f"{g['median']:.3f}",
                f"{g['min']:.3f}",
                f"{g['ratio_median']:.3f}x",
                f"{g['ratio_paired_median']:.3f}x",
                f"{g['ratio_min']:.3f}x",
                f"{g['max_other_cpu_share']:.0%}",
            ]
        )
    print(table(["method", "median s", "min s", "med/med", "paired", "min/min", "others CPU"], rows))
    print(f"steerlens guide() (all layers) == seed patch tokens: {same}; guided differs from plain: {differs}")
    out = Path(args.out)
    path = out / ("results-quick.json" if args.quick else "results.json")
    C.write_json(path, result)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
