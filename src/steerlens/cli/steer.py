"""``steerlens steer``: steered vs unsteered completions; train contrastive vectors; site x strength sweeps."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..concepts.data import DATASETS
from ..errors import SteeringError
from ..model.intervene import Add
from ..model.site import Site
from .common import model_sites, parse_floats

__all__ = ["add_parsers", "run_steer", "run_train", "run_sweep", "run_calibrate"]


def _one_site(text: str, model) -> Site:
    sites = model_sites(text, model)
    if len(sites) != 1:
        raise SteeringError(f"--site takes one site, got {len(sites)} from {text!r}.")
    return sites[0]


_SAMPLING_HELP = {
    "max_new_tokens": "tokens per completion",
    "temperature": "sampling temperature; 0 = greedy",
    "top_p": "nucleus sampling mass (the ActAdd setting)",
    "top_k": "sample among the k most likely tokens (default: no limit)",
    "freq_penalty": "frequency penalty on generated tokens",
    "use_cache": "use the KV cache while generating",
}


def _sampling_args(p: argparse.ArgumentParser, **defaults: object) -> None:
    from ..steering import SamplingConfig
    from .common import add_dataclass

    add_dataclass(p, SamplingConfig, _SAMPLING_HELP, defaults=defaults)


def _config(args: argparse.Namespace):
    from ..steering import SamplingConfig
    from .common import dataclass_values

    return dataclass_values(args, SamplingConfig)


_SCORES = ("sentiment", "lexicon", "wedding", "none")


def _scorer(name: str, words: str | None = None):
    from ..steering import WEDDING_WORDS, lexicon_balance, sentiment, word_counter

    if words:
        return "words", word_counter([w.strip() for w in words.split(",") if w.strip()])
    return {
        "sentiment": ("sentiment", sentiment),
        "lexicon": ("lexicon balance", lexicon_balance),
        "wedding": ("wedding words", word_counter(WEDDING_WORDS)),
        "none": (None, None),
    }[name]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``steer compare``, ``steer train``, ``steer sweep`` and ``steer calibrate``."""
    from ..steering import compare, sweep, train_steering_vector
    from ..steering.calibrate import calibrate
    from .common import add_command, add_group, add_model, default_of

    g = add_group(sub, "steer", "activation additions and steering vectors: compare, train, sweep")
    p = add_command(
        g,
        "compare",
        "steer:run_steer",
        "steered vs unsteered completions of a prompt, side by side",
        "Complete TEXT n times without and with steering, from the same random stream, and print both "
        "columns. Steer with an x-vector (--add/--sub, ActAdd) or a trained vector (--vector).",
    )
    p.add_argument("text", help="the prompt")
    add_model(p)
    p.add_argument("--add", help="steering prompt added (ActAdd)")
    p.add_argument("--sub", default=None, help="steering prompt subtracted (ActAdd; default: none)")
    p.add_argument(
        "--site",
        default="resid_pre.6",
        help="where ActAdd adds: a site such as resid_pre.6 (the paper's 'layer 6'); a bare number n means resid_post.n",
    )
    p.add_argument("--strength", type=float, help="strength of the steering (default: 5 for ActAdd, 4 for --vector)")
    p.add_argument(
        "--location",
        default=default_of(compare, "location"),
        help="where the addition lands: front, back, mid or a token offset",
    )
    p.add_argument(
        "--injection",
        choices=["overlay", "pad"],
        default=default_of(compare, "injection"),
        help="overlay the prompt's first tokens, or pad the prompt after BOS first",
    )
    p.add_argument("--no-pad", action="store_true", help="do not right-pad the shorter steering prompt with spaces")
    p.add_argument("--vector", metavar="DIR", help="a steering vector artifact (from 'steer train') instead of --add/--sub")
    p.add_argument("--positions", choices=["all", "generated", "prompt"], default="all", help="the tokens --vector steers")
    p.add_argument("-n", type=int, default=default_of(compare, "n"), help="completions per column")
    p.add_argument("--score", choices=_SCORES, default="sentiment", help="score shown per completion")
    p.add_argument("--words", help="comma-separated words to count instead of --score")
    p.add_argument("--html", metavar="OUT", help="also write the comparison as an HTML page")
    p.add_argument("--json", metavar="OUT", help="also write the comparison as JSON")
    p.add_argument("--seed", type=int, default=default_of(compare, "seed"), help="shared seed of the paired samples")
    _sampling_args(p)

    t = add_command(
        g,
        "train",
        "steer:run_train",
        "train a contrastive steering vector from (positive, negative) pairs",
        "Learn one direction per site from contrast pairs (CAA / repeng style) and save it as an artifact.",
    )
    t.add_argument("--pairs", required=True, help='JSONL file: one {"positive": ..., "negative": ...} per line')
    t.add_argument("--out", required=True, help="output folder (steering-vector artifact)")
    add_model(t)
    t.add_argument(
        "--sites",
        default="all",
        help="sites to read and steer at, e.g. '6', '4-10', 'resid_pre.all' ('all': resid_post of every block)",
    )
    t.add_argument(
        "--method",
        choices=["mean_diff", "pca", "logistic"],
        default=default_of(train_steering_vector, "method"),
        help="how the pair differences become a direction",
    )
    t.add_argument(
        "--read",
        default=str(default_of(train_steering_vector, "read")),
        help="the token representing a text: last, mean or a token index",
    )
    t.add_argument("--gguf", metavar="FILE", help="also export a llama.cpp control vector (GGUF)")

    s = add_command(
        g,
        "sweep",
        "steer:run_sweep",
        "sweep an x-vector over sites and strengths",
        "Steer TEXT with the x-vector (--add, --sub) at every site and strength, score the completions and plot.",
    )
    s.add_argument("text", help="the prompt")
    add_model(s)
    s.add_argument("--add", required=True, help="steering prompt added")
    s.add_argument("--sub", default="", help="steering prompt subtracted (default: none)")
    s.add_argument("--sites", default="resid_pre.all", help="sites, e.g. 'resid_pre.0-17' ('resid_pre.all': before every block)")
    s.add_argument("--strengths", default="2,4,8", help="comma-separated strengths")
    s.add_argument("-n", type=int, default=default_of(sweep, "n"), help="completions per setting")
    s.add_argument("--score", choices=_SCORES[:-1], default="sentiment", help="the metric of each completion")
    s.add_argument("--words", help="comma-separated words to count instead of --score")
    s.add_argument("--out", required=True, help="output folder: sweep.json and sweep.png")
    s.add_argument("--seed", type=int, default=default_of(sweep, "seed"), help="shared seed of the paired samples")
    _sampling_args(s)

    c = add_command(
        g,
        "calibrate",
        "steer:run_calibrate",
        "choose the layer and strength of a steering under a side-effect budget",
        "Search sites x strengths for the largest effect on held-out contrast pairs (how much the steering raises "
        "log p(positive) - log p(negative) of their continuations) whose side effects on neutral text stay within "
        "budget: KL(steered || unsteered) per token <= --max-kl and perplexity ratio <= --max-ppl-ratio. Writes "
        "calibration.json (every evaluation, the frontier, the choice) and calibration.png. The pairs come from "
        "--dataset or --pairs; by default a mean-difference vector is trained on half of them (--held-out) and "
        "judged on the other half; or steer with --vector DIR or an ActAdd pair --add/--sub.",
    )
    add_model(c)
    c.add_argument(
        "--dataset", choices=sorted(DATASETS), help="a shipped concept dataset (label-1 vs label-0 answers per prompt)"
    )
    c.add_argument("--pairs", help='JSONL contrast pairs {"positive": ..., "negative": ...} sharing a prompt prefix')
    c.add_argument("--held-out", type=float, default=0.5, help="fraction of the pairs kept out of training to judge the effect")
    c.add_argument("--vector", metavar="DIR", help="a saved steering vector (all pairs then judge it)")
    c.add_argument(
        "--concept",
        metavar="DIR",
        help="a saved concept (concept guidance; with --dataset only the prompts it was not fitted on judge it)",
    )
    c.add_argument("--add", help="ActAdd: steering prompt added (all pairs then judge it)")
    c.add_argument("--sub", default="", help="ActAdd: steering prompt subtracted")
    c.add_argument(
        "--method",
        choices=["mean_diff", "pca", "logistic"],
        default=default_of(train_steering_vector, "method"),
        help="how the trained vector is made from the training pairs",
    )
    c.add_argument(
        "--sites", default="all", help="candidate sites, e.g. '2-20', 'resid_pre.all' ('all': resid_post of every block)"
    )
    c.add_argument("--strengths", default="0.25,0.5,1,2,4,8", help="candidate strengths, comma-separated")
    c.add_argument(
        "--neutral", metavar="FILE", help="neutral texts, one per line (default: held-out entries of the shipped corpus)"
    )
    c.add_argument(
        "--neutral-texts", type=int, default=16, help="how many neutral texts (first lines of --neutral, or corpus entries)"
    )
    c.add_argument(
        "--max-kl", type=float, default=default_of(calibrate, "max_kl"), help="budget: mean KL per neutral token, nats"
    )
    c.add_argument(
        "--max-ppl-ratio",
        type=float,
        default=default_of(calibrate, "max_perplexity_ratio"),
        help="budget: the neutral text's perplexity ratio (steered / unsteered)",
    )
    c.add_argument(
        "--search",
        choices=["halving", "grid"],
        default=default_of(calibrate, "search"),
        help="successive halving or every candidate on every item",
    )
    c.add_argument("--eta", type=int, default=default_of(calibrate, "eta"), help="halving factor")
    c.add_argument("--min-items", type=int, default=default_of(calibrate, "min_items"), help="items of the first halving rung")
    c.add_argument("--no-prune", action="store_true", help="also try strengths beyond one that broke the budget twice over")
    c.add_argument(
        "--confirm", choices=_SCORES, default="none", help="confirm the finalists by short generations scored by this metric"
    )
    c.add_argument("--words", help="comma-separated words to count as the confirming metric instead of --confirm")
    c.add_argument("--seed", type=int, default=default_of(calibrate, "seed"), help="orders the items and seeds the generations")
    c.add_argument("--out", required=True, help="output folder: calibration.json and calibration.png")


def _write_json_and_plot(res, folder: str, stem: str) -> None:
    """Write ``res`` as ``folder/stem.json`` and its plot as ``folder/stem.png`` (the plot skipped, and said so,
    without matplotlib)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    res.save_json(out / f"{stem}.json")
    try:
        res.plot(out / f"{stem}.png")
        print(f"wrote {out / f'{stem}.json'} and {out / f'{stem}.png'}", file=sys.stderr)
    except ImportError as exc:  # MissingExtraError
        print(f"wrote {out / f'{stem}.json'} (no plot: {exc})", file=sys.stderr)


def run_steer(args: argparse.Namespace) -> int:
    from ..loading import load_model
    from ..steering import ActAdd, ActivationAddition, SteeringVector, compare, x_vector

    if not args.text:
        raise SteeringError("The prompt is empty; give the text to complete.")
    if (args.add is None) == (args.vector is None):
        raise SteeringError("Give either --add (and optionally --sub) for ActAdd, or --vector DIR.")
    model, tok = load_model(args.model)
    location = int(args.location) if args.location.isdigit() else args.location
    strength = 5.0 if args.strength is None else args.strength
    steering: ActAdd | list[Add]
    if args.vector:
        vec = SteeringVector.load(args.vector, model=model)
        steering = vec.edits(model, 4.0 if args.strength is None else args.strength, positions=args.positions)
    elif args.sub is not None:
        site = _one_site(args.site, model)
        steering = ActAdd.build(
            model,
            tok,
            list(x_vector(args.add, args.sub, strength, site, tokenizer=tok, pad=None if args.no_pad else "tokens_right")),
            location=location,
        )
    else:
        site = _one_site(args.site, model)
        steering = ActAdd.build(model, tok, [ActivationAddition(strength, site, prompt=args.add)], location=location)
    comp = compare(model, tok, args.text, steering, n=args.n, seed=args.seed, config=_config(args), injection=args.injection)
    name, fn = _scorer(args.score, args.words)
    if fn is not None:
        comp.score(name, fn)
    comp.print()
    if args.html:
        print(f"wrote {comp.save_html(args.html)}", file=sys.stderr)
    if args.json:
        print(f"wrote {comp.save_json(args.json)}", file=sys.stderr)
    return 0


def run_train(args: argparse.Namespace) -> int:
    from ..loading import load_model
    from ..steering import read_pairs, train_steering_vector

    pairs = read_pairs(args.pairs)
    model, tok = load_model(args.model)
    sites = model_sites(args.sites, model)
    read = int(args.read) if args.read.lstrip("-").isdigit() else args.read
    vec = train_steering_vector(model, tok, pairs, sites, method=args.method, read=read)
    out = vec.save(args.out)
    print(f"steering vector from {len(pairs)} pairs at {vec.point} of layers {vec.layers}, method {vec.method}: {out}")
    print("norms: " + ", ".join(f"{k}: {v:.3g}" for k, v in vec.norms().items()))
    if args.gguf:
        print(f"llama.cpp control vector: {vec.to_gguf(args.gguf)}")
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    from ..loading import load_model
    from ..steering import sweep

    if not args.text:
        raise SteeringError("The prompt is empty; give the text to complete.")
    model, tok = load_model(args.model)
    sites = model_sites(args.sites, model)
    name, fn = _scorer(args.score, args.words)
    res = sweep(
        model,
        tok,
        args.text,
        args.add,
        args.sub,
        sites=sites,
        strengths=parse_floats(args.strengths),
        metric=fn,
        n=args.n,
        seed=args.seed,
        config=_config(args),
        metric_name=name,
    )
    print(res.table())
    _write_json_and_plot(res, args.out, "sweep")
    best = res.best()
    print(json.dumps({"best": {k: best[k] for k in ("site", "strength", "mean")}, "unsteered_mean": res.baseline_mean}))
    return 0


def _neutral_texts(path: str | None, n: int) -> list[str]:
    from ..steering.calibrate import neutral_texts

    if n < 1:
        raise SteeringError(f"--neutral-texts must be >= 1, got {n}.")
    if path:
        lines = [x.strip() for x in Path(path).read_text(encoding="utf-8").splitlines() if x.strip()]
        if len(lines) < n:
            raise SteeringError(f"{path} has {len(lines)} non-empty lines, fewer than --neutral-texts {n}.")
        return lines[:n]
    return neutral_texts(n)


def run_calibrate(args: argparse.Namespace) -> int:
    import random

    from ..loading import load_model
    from ..steering import SteeringVector, read_pairs, train_steering_vector
    from ..steering.calibrate import ContrastEffect, calibrate

    if bool(args.dataset) == bool(args.pairs):
        raise SteeringError("Give the contrast pairs with exactly one of --dataset and --pairs.")
    if sum(bool(x) for x in (args.vector, args.add, args.concept)) > 1:
        raise SteeringError("Steer with one of --vector, --concept and --add/--sub.")
    model, tok = load_model(args.model)
    concept = None
    if args.concept:
        from ..concepts import ConceptProbe

        concept = ConceptProbe.load(args.concept, model)
    if args.pairs:
        pairs = [(p.positive, p.negative) for p in read_pairs(args.pairs)]
    else:
        from ..concepts.data import contrast_pairs, load_dataset

        examples = load_dataset(args.dataset)
        pairs = contrast_pairs(concept.held_out(examples) if concept is not None else examples)
    sites = concept.sites if concept is not None and args.sites == "all" else model_sites(args.sites, model)
    if concept is not None:
        method: object = concept
        judge, how = pairs, f"concept {args.concept} (guidance)"
    elif args.vector or args.add:
        method = SteeringVector.load(args.vector, model) if args.vector else (args.add, args.sub)
        judge, how = pairs, (f"vector {args.vector}" if args.vector else f"ActAdd {args.add!r} - {args.sub!r}")
    else:
        if not 0 < args.held_out < 1:
            raise SteeringError(f"--held-out must be in (0, 1), got {args.held_out}.")
        order = list(range(len(pairs)))
        random.Random(args.seed).shuffle(order)
        k = round(len(pairs) * args.held_out)
        if k < 1 or k == len(pairs):
            raise SteeringError(f"{len(pairs)} pairs cannot be split with --held-out {args.held_out}; give more pairs.")
        judge = [pairs[i] for i in order[:k]]
        fit = [pairs[i] for i in order[k:]]
        method = train_steering_vector(model, tok, fit, sites, method=args.method)
        how = f"{args.method} vector from {len(fit)} pairs"
    name, fn = _scorer(args.confirm, args.words)
    res = calibrate(
        model,
        tok,
        method,
        ContrastEffect(tok, judge),
        _neutral_texts(args.neutral, args.neutral_texts),
        sites=sites,
        strengths=parse_floats(args.strengths),
        max_kl=args.max_kl,
        max_perplexity_ratio=args.max_ppl_ratio,
        search=args.search,
        eta=args.eta,
        min_items=args.min_items,
        prune=not args.no_prune,
        seed=args.seed,
        confirm=fn,
    )
    print(f"{how}; effect judged on {len(judge)} held-out pairs" + (f", confirmed by {name}" if fn else ""))
    print(res.table())
    _write_json_and_plot(res, args.out, "calibration")
    print(json.dumps({"chosen": res.chosen, "cost_tokens": res.cost_tokens}))
    return 0 if res.chosen is not None else 1
