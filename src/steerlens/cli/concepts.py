"""``steerlens concepts train|guide|sweep``: concept probes and guided generation."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from ..errors import SteeringError
from ..model.site import Site
from .common import model_sites

__all__ = ["add_parsers", "run_probe_train", "run_guide", "run_guide_sweep"]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``concepts train``, ``concepts guide`` and ``concepts sweep``."""
    from ..concepts import guidance_sweep, split_examples, train_concept
    from .common import add_command, add_group, add_model, default_of

    g = add_group(sub, "concepts", "concept probes and guided generation: train, guide, sweep")
    p = add_command(
        g,
        "train",
        "concepts:run_probe_train",
        "train concept probes on labelled completions",
        "Fit per-site probes on a labelled dataset (shipped: tone, refusal, sentiment; or a JSON/JSONL file) and report "
        "train and held-out accuracy per site.",
    )
    p.add_argument("--data", required=True, help="dataset name (tone, refusal, sentiment) or a JSON/JSONL file")
    p.add_argument("--out", required=True, help="output folder (one concept artifact per probe)")
    add_model(p)
    p.add_argument("--probe", default=default_of(train_concept, "probe"), help="dim, logistic, pca, or 'all'")
    p.add_argument(
        "--sites",
        default="attn_in.all",
        help="sites to probe, at one point ('attn_in.all': the attention input of every block, as the paper)",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=default_of(split_examples, "val_fraction"),
        help="fraction of the prompts held out",
    )
    p.add_argument("--plot", metavar="PNG", help="plot accuracy per site")

    q = add_command(
        g,
        "guide",
        "concepts:run_guide",
        "guided vs unguided greedy completion of a prompt",
        "Generate greedily with and without concept guidance.",
    )
    q.add_argument("text", help="the prompt (rendered as a user turn)")
    q.add_argument("--concept", required=True, help="a concept artifact folder (from 'concepts train') or seed .safetensors")
    q.add_argument("--strength", type=float, required=True, help="guidance strength")
    q.add_argument("--sites", help="sites to guide, e.g. 'attn_in.4-12' (default: --top-k, or all of the concept's)")
    q.add_argument("--top-k", type=int, help="guide the k sites with the best train accuracy")
    q.add_argument("--mode", choices=["norm_preserving", "add"], default="norm_preserving", help="how a state is moved")
    add_model(q)
    q.add_argument("--max-new-tokens", type=int, default=48, help="tokens to generate")
    q.add_argument(
        "--monitor",
        nargs="?",
        const="best",
        metavar="SITE",
        help="also print the concept's P(label 1) on every generated token, read at SITE (default: its best site) "
        "from the generating passes",
    )

    s = add_command(
        g,
        "sweep",
        "concepts:run_guide_sweep",
        "sweep the guidance strength",
        "Sweep the guidance strength on prompts the concept was not fitted on: the effect as judged by an independent "
        "probe (fitted on other held-out prompts, at a layer guidance does not write), perplexity on label-1 and "
        "label-0 reference answers, and PNES with each.",
    )
    s.add_argument("--concept", required=True, help="a concept artifact folder (from 'concepts train')")
    s.add_argument("--data", required=True, help="dataset giving prompts and reference answers (label-1 answers)")
    s.add_argument(
        "--strengths",
        default="-8,-4,-2,0,2,4,8",
        help="comma-separated strengths; write --strengths=-8,0,8 when the first is negative",
    )
    s.add_argument("--sites", help="sites to guide (default: --top-k, or all of the concept's)")
    s.add_argument("--top-k", type=int, help="guide the k sites with the best train accuracy")
    s.add_argument("--prompts", type=int, default=16, help="prompts to generate from")
    s.add_argument("--references", type=int, default=24, help="reference answers of each label for perplexity")
    s.add_argument(
        "--scorer",
        default="independent",
        help="what judges the effect: 'independent' (a probe on other held-out prompts at the middle unguided layer), "
        "a site to read that probe at (e.g. 9), or 'own' (the concept's own probe: flatters guidance)",
    )
    s.add_argument(
        "--max-new-tokens", type=int, default=default_of(guidance_sweep, "max_new_tokens"), help="tokens per completion"
    )
    add_model(s)
    s.add_argument("--out", required=True, help="output folder: sweep.json, sweep.png")


def run_probe_train(args: argparse.Namespace) -> int:
    from ..concepts import load_dataset, split_examples, train_concept
    from ..loading import load_model

    kinds = ["dim", "logistic", "pca"] if args.probe == "all" else [args.probe]
    data = load_dataset(args.data)
    train, val = split_examples(data, args.val_fraction)
    model, tok = load_model(args.model)
    out = Path(args.out)
    results = {}
    for kind in kinds:
        c = train_concept(
            model, tok, train, val_examples=val, probe=kind, sites=_sites(args.sites, model), name=Path(args.data).stem
        )
        c.save(out / kind if len(kinds) > 1 else out)
        results[kind] = {"train": c.train_accuracy, "val": c.val_accuracy}
        best = max(range(len(c.layers)), key=lambda i: c.val_accuracy[i])
        print(
            f"{kind}: best held-out accuracy {c.val_accuracy[best]:.3f} at {c.sites[best]}; "
            f"per layer: " + " ".join(f"{a:.2f}" for a in c.val_accuracy)
        )
    (out).mkdir(parents=True, exist_ok=True)
    (out / "accuracy.json").write_text(json.dumps(results, indent=2))
    if args.plot:
        from ..concepts.plots import plot_accuracy

        plot_accuracy(results, args.plot, title=f"{args.data} on {args.model}")
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def _sites(text: str | None, model) -> list[Site] | None:
    return None if text is None else model_sites(text, model)


def run_guide(args: argparse.Namespace) -> int:
    import torch

    from ..concepts import ConceptProbe, guidance_edits
    from ..concepts.data import prompt_ids
    from ..loading import load_model
    from ..model import generate, intervene
    from ..steering import SamplingConfig, sample
    from ..steering.generation import Comparison

    if not args.text:
        raise SteeringError("The prompt is empty.")
    model, tok = load_model(args.model)
    concept = ConceptProbe.load(args.concept, model=model)
    edits = guidance_edits(model, concept, args.strength, _sites(args.sites, model), top_k=args.top_k, mode=args.mode)
    ids = prompt_ids(tok, args.text)
    where = ", ".join(str(e.site) for e in edits)
    title = f"{concept.kind} concept x {args.strength:g} at {where}"
    if args.monitor is None:
        cfg = SamplingConfig(max_new_tokens=args.max_new_tokens, temperature=0, freq_penalty=0)
        plain = sample(model, tok, [ids], config=cfg)
        guided = sample(model, tok, [ids], edits=edits, config=cfg)
        Comparison(args.text, plain, guided, title, None, {"greedy": True}).print()
        return 0
    mon = concept.monitor(None if args.monitor == "best" else model_sites(args.monitor, model)[0])
    batch = {"input_ids": torch.tensor([ids])}
    runs = {"unguided": generate(model, tok, batch, max_new_tokens=args.max_new_tokens, monitors=[mon])}
    with intervene(model, edits):
        runs["guided"] = generate(model, tok, batch, max_new_tokens=args.max_new_tokens, monitors=[mon])
    Comparison(args.text, runs["unguided"].texts or [], runs["guided"].texts or [], title, None, {"greedy": True}).print()
    print(f"\nP(label 1) of each generated token, read at {mon.site} (the last token is not read):")
    for name, gen in runs.items():
        assert gen.readings is not None
        read = [(t, v) for t, v in zip(gen.new_ids[0], gen.readings[mon.key][0][len(ids) :]) if not math.isnan(v)]
        mean = sum(v for _, v in read) / max(1, len(read))
        print(f"  {name:<9} mean {mean:.3f}  " + " ".join(f"{tok.decode([t])!r}:{v:.2f}" for t, v in read))
    return 0


def run_guide_sweep(args: argparse.Namespace) -> int:
    from ..concepts import ConceptProbe, guidance_sweep, held_out_judge, load_dataset
    from ..errors import DataFormatError
    from ..loading import load_model
    from .common import parse_floats

    model, tok = load_model(args.model)
    concept = ConceptProbe.load(args.concept, model=model)
    data = load_dataset(args.data)
    sites = _sites(args.sites, model)
    guided = sites if sites is not None else concept.top_sites(args.top_k) if args.top_k else concept.sites
    if args.scorer == "own":
        scorer, pool = None, concept.held_out(data)
    else:
        site = None if args.scorer == "independent" else model_sites(args.scorer, model)
        scorer, pool = held_out_judge(model, tok, concept, data, guided, site=site)
    prompts = list(dict.fromkeys(e.prompt for e in pool))[: args.prompts]
    refs = [e for e in pool if e.label == 1][: args.references]
    neutral = [e for e in pool if e.label == 0][: args.references]
    if not prompts or not refs:
        raise DataFormatError(
            f"{args.data}: no prompts or label-1 answers are left that the concept was not fitted on; give a held-out dataset."
        )
    res = guidance_sweep(
        model,
        tok,
        concept,
        parse_floats(args.strengths),
        prompts,
        refs,
        sites=guided,
        scorer=scorer,
        max_new_tokens=args.max_new_tokens,
        neutral_references=neutral or None,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res.save_json(out / "sweep.json")
    print(res.table())
    try:
        res.plot(out / "sweep.png")
    except ImportError as exc:
        print(f"(no plot: {exc})", file=sys.stderr)
    return 0
