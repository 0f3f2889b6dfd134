"""ActAdd results on an embedded model: Love - Hate sentiment shift and the wedding-topic layer sweep.

    STEERLENS_HOME=... .venv/bin/python benchmarks/steering_results.py --model gemma-3-270m --out bench-results/steering

Writes ``love_hate.json``, ``love_hate.html``, ``wedding_sweep.json`` and ``wedding_sweep.png`` and prints
a summary. Completions are sampled with the ActAdd house settings (temperature 1, top-p 0.3,
frequency penalty 1) and paired seeds, so each steered completion has an unsteered twin drawn from
the same random numbers.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import steerlens
from steerlens.model import Site
from steerlens.model.site import parse_sites
from steerlens.steering import (
    WEDDING_WORDS,
    ActAdd,
    SamplingConfig,
    SweepResult,
    compare,
    lexicon_balance,
    relative_norms,
    sentiment,
    sweep,
    word_counter,
    x_vector,
)

# The seed's topic experiment: " weddings" - " " added at the front of this prompt.
WEDDING_PROMPT, WEDDING_ADD, WEDDING_SUB = "I went up to my friend and said", " weddings", " "

# The cost texts (written for this benchmark): the perplexity ratio on wedding-related text should fall under the
# wedding vector, and on unrelated text stay near 1 (the ActAdd paper's perplexity experiment, in small).
WEDDING_TEXTS = [
    "The bride and groom cut the cake while the guests raised their glasses.",
    "We booked the church for the wedding ceremony a full year in advance.",
    "Her sister caught the bouquet at the reception and everyone cheered.",
    "They spent their honeymoon on a small island with no phone signal.",
    "The wedding invitations were printed on thick cream paper with gold letters.",
    "After the vows, the couple walked down the aisle to a string quartet.",
    "He asked her father for permission before he proposed to marry her.",
    "The best man gave a speech that made the whole reception laugh.",
    "Planning a wedding means choosing flowers, music, food and a venue.",
    "Their marriage was celebrated with a dinner for two hundred guests.",
    "The groom forgot the rings at the hotel and had to run back for them.",
    "She tried on twelve wedding dresses before she found the right one.",
]
UNRELATED_TEXTS = [
    "The train to the coast leaves every hour from the central station.",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen.",
    "The committee postponed its vote on the new budget until next month.",
    "A good bread dough needs flour, water, salt, yeast and patience.",
    "The river flooded the lower fields after three days of heavy rain.",
    "He fixed the leaking tap with a new washer and a spanner.",
    "The library extended its opening hours during the exam period.",
    "Most modern processors run several threads on each physical core.",
    "The goalkeeper saved a penalty in the last minute of the match.",
    "Tomatoes grow best in full sun with regular watering.",
    "The museum's new wing holds a collection of medieval maps.",
    "She parked the car and walked the last mile to the summit.",
]


def _run_sweep(model, tok, a: argparse.Namespace, layers: list[int], cfg: SamplingConfig) -> SweepResult:
    pre = a.prefix  # e.g. "<|endoftext|>" for a tokenizer that adds no BOS: see --prefix
    return sweep(
        model,
        tok,
        pre + WEDDING_PROMPT,
        pre + WEDDING_ADD,
        pre + WEDDING_SUB,
        sites=[Site(x, "resid_pre") for x in layers],  # the paper's "layer n" is the stream entering block n
        strengths=[float(x) for x in a.wedding_strengths.split(",")],
        metric=word_counter(WEDDING_WORDS),
        metric_name="wedding words",
        n=a.wedding_n,
        seed=0,
        config=cfg,
        cost_texts={"wedding": [pre + t for t in WEDDING_TEXTS], "unrelated": [pre + t for t in UNRELATED_TEXTS]},
    )


def _norms(model, tok, a: argparse.Namespace, sites: list[str]) -> dict:
    """Per site, the residual norm of the prompt's first positions, the norm of the steering rows (strength 1) and
    the residual norms of the two steering prompts.

    On a model whose tokenizer adds no BOS, the first position is the attention sink (norms many times the
    others'), and the x-vector's first row, which does not cancel there, is added to it."""
    pre = a.prefix
    out = {}
    print(
        "site: prompt residual norm at positions 0, 1, 2, 3 | steering norm per row (strength 1) | "
        "residual norm per position of the ' weddings' prompt | of the ' ' prompt"
    )
    for site in sites:
        act = ActAdd.build(model, tok, list(x_vector(pre + WEDDING_ADD, pre + WEDDING_SUB, 1.0, Site.parse(site), tokenizer=tok)))
        r = relative_norms(model, tok, act, pre + WEDDING_PROMPT)
        plus, minus = (relative_norms(model, tok, act, pre + p)["prompt_norm"] for p in (WEDDING_ADD, WEDDING_SUB))
        out[site] = {
            "prompt_norm": [round(x, 1) for x in r["prompt_norm"][:4]],
            "steering_norm": [round(x, 1) for x in r["steering_norm"]],
            "plus_prompt_norm": [round(x, 1) for x in plus],
            "minus_prompt_norm": [round(x, 1) for x in minus],
        }
        print(
            f"{site}: {out[site]['prompt_norm']} | {out[site]['steering_norm']} | "
            f"{out[site]['plus_prompt_norm']} | {out[site]['minus_prompt_norm']}"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--out", default="bench-results/steering")
    ap.add_argument("-n", type=int, default=10, help="completions per setting")
    ap.add_argument("--max-new-tokens", type=int, default=30)
    ap.add_argument("--love-layer", type=int, default=6)
    ap.add_argument("--love-strengths", default="1,3,5")
    ap.add_argument("--wedding-strengths", default="1,2,4,8,16")
    ap.add_argument("--wedding-layers", default="all")
    ap.add_argument("--wedding-n", type=int, default=50, help="completions per wedding setting (paired seeds)")
    ap.add_argument(
        "--prefix",
        default="",
        help="text put before the wedding prompt, both steering prompts and every cost text, e.g. '<|endoftext|>' "
        "on a model whose tokenizer adds no BOS, so that the first position (the attention sink) is the same token "
        "everywhere and the x-vector's first row is zero, as with a BOS",
    )
    ap.add_argument("--skip-love", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default=None, help="e.g. cuda (default: CPU)")
    ap.add_argument(
        "--merge",
        default="",
        help="comma-separated wedding_sweep.json files of runs on parts of the grid (e.g. --wedding-layers 0-5, 6-11): "
        "merge them, without sampling anything, into the --out folder's table, plot and summary",
    )
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model, tok = steerlens.load_model(a.model, device=a.device)
    n_layers = steerlens.resolve(model).n_layers
    cfg = SamplingConfig(max_new_tokens=a.max_new_tokens)
    summary: dict = {"model": a.model, "n": a.n, "sampling": cfg.__dict__}

    t0 = time.perf_counter()
    love = []
    for c in [] if a.skip_love else [float(x) for x in a.love_strengths.split(",")]:
        act = ActAdd.build(model, tok, list(x_vector("Love", "Hate", c, Site(a.love_layer, "resid_pre"), tokenizer=tok)))
        comp = compare(model, tok, "I hate you because", act, n=a.n, seed=0, config=cfg)
        comp.score("sentiment", sentiment).score("lexicon", lexicon_balance)
        s = comp.scores
        row = {
            "strength": c,
            "layer": a.love_layer,
            "sentiment_unsteered": sum(s["sentiment"]["unsteered"]) / a.n,
            "sentiment_steered": sum(s["sentiment"]["steered"]) / a.n,
            "lexicon_unsteered": sum(s["lexicon"]["unsteered"]) / a.n,
            "lexicon_steered": sum(s["lexicon"]["steered"]) / a.n,
            "example_unsteered": comp.unsteered[0],
            "example_steered": comp.steered[0],
        }
        love.append(row)
        comp.save_html(out / f"love_hate_c{c:g}.html")
        print(
            f"Love-Hate strength {c:g} at resid_pre.{a.love_layer}: VADER {row['sentiment_unsteered']:+.3f} -> "
            f"{row['sentiment_steered']:+.3f}; lexicon balance {row['lexicon_unsteered']:+.2f} -> "
            f"{row['lexicon_steered']:+.2f}"
        )
    summary["love_hate"] = love
    summary["love_hate_seconds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    layers = [x.layer for x in parse_sites(a.wedding_layers, n_layers)]  # "all", "0-5,12", ...
    if a.merge:
        res = SweepResult.merge([SweepResult.load_json(p) for p in a.merge.split(",") if p])
        summary["merged_from"] = a.merge.split(",")
    else:
        res = _run_sweep(model, tok, a, layers, cfg)
    res.save_json(out / "wedding_sweep.json")

    res.plot(out / "wedding_sweep.png")
    print(res.table())
    best = res.best()
    summary["wedding"] = {
        "unsteered_mean": res.baseline_mean,
        "best": {k: best[k] for k in ("site", "strength", "mean")},
        "best_strength_by_site": {
            site: max((r for r in res.records if r["site"] == site), key=lambda r: r["mean"])["strength"] for site in res.sites
        },
        "peak_site_by_strength": {
            f"{c:g}": max((r for r in res.records if r["strength"] == c), key=lambda r: r["mean"])["site"] for c in res.strengths
        },
        "seconds": time.perf_counter() - t0,
        "per_site_at_best_strength": {r["site"]: r["mean"] for r in res.records if r["strength"] == best["strength"]},
    }
    summary["wedding"]["norms"] = _norms(model, tok, a, res.sites)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(
        json.dumps(
            {k: v for k, v in summary.items() if k != "love_hate"}
            | {
                "love_hate": [
                    {
                        k: r[k]
                        for k in ("strength", "sentiment_unsteered", "sentiment_steered", "lexicon_unsteered", "lexicon_steered")
                    }
                    for r in love
                ]
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
