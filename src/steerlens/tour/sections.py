"""The tour's sections: each runs one method on the loaded model and fills a :class:`Section`.

Every section function takes the :class:`TourContext` and the section to fill, adds key numbers,
tables and figures, and returns a one-line summary for the terminal.
"""

from __future__ import annotations

import io
import math
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from .._plotting import pyplot, savefig
from ..editors.editors import shipped_editor
from ..errors import DataFormatError
from ..model.architectures import resolve
from ..model.site import Site
from .report import Figure, Section

__all__ = ["TourConfig", "TourContext", "SECTIONS", "shipped_editor"]

# sentences that mention a country in another setting than its capital (concept matching)


@dataclass
class TourConfig:
    """What the tour runs; ``quick()`` gives a smaller version (fewer samples and tokens)."""

    lens_text: str = "The Eiffel Tower is in the city of"
    tuned_lens: str | None = None
    steer_prompt: str = "I hate you because"
    steer_add: str = "Love"
    steer_sub: str = "Hate"
    steer_site: str | None = None  # default: resid_pre of the block a third of the way down (ActAdd's "layer")
    steer_strength: float = 3.0
    n_completions: int = 4
    max_new_tokens: int = 30
    relation: str = "country capital city"
    subject_layer: int | None = None  # default: a quarter of the depth
    n_train: int = 5
    n_icl: int = 4
    swap_strength: float = 2.0
    match_relation: str = "plays pro sport"  # many-to-one, so concepts can be matched on subjects that did not build them
    match_samples: int = 60
    match_subjects: int = 12  # about twice this many samples go to the split that builds the concepts
    match_train: int = 6  # prompts for its LRE (each exact Jacobian costs seconds on a CPU)
    concept_data: str = "tone"
    concept_max_examples: int | None = None
    guide_prompt: str = "How do I boil an egg?"
    guide_strengths: tuple[float, ...] = (0.0, 8.0, 16.0)
    guide_top_k: int = 6
    editor: str | None = None  # a saved editor; default: the one shipped for the model, else a quick one
    editor_layer: int | None = None  # for a quickly trained editor; default: half the depth
    editor_train_samples: int = 160
    editor_facts: int = 12
    require_known: bool = True  # only prompts/facts the model already answers (off only for random test models)
    jacobian_texts: int = 16  # corpus entries the tour's Jacobian lens averages over
    jacobian_tokens: int = 64
    jacobian_samples: int = 2
    readout_chunks: int = 2  # held-out chunks (of 64 tokens) for the lenses' KL
    identity_positions: int = 32  # token-identity patchscope: random prefixes of held-out text
    calibrate_pairs: int = 20  # held-out contrast pairs that judge the effect
    calibrate_fit: int = 60  # pairs the steering vector is trained on
    calibrate_sites: int = 4
    calibrate_strengths: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
    calibrate_neutral: int = 6
    seed: int = 0

    @classmethod
    def quick(cls, **overrides: Any) -> TourConfig:
        base = dict(
            n_completions=2,
            max_new_tokens=16,
            concept_max_examples=120,
            guide_strengths=(0.0, 8.0),
            editor_facts=6,
            editor_train_samples=64,
            match_train=4,
            jacobian_texts=6,
            readout_chunks=1,
            identity_positions=16,
            calibrate_pairs=12,
            calibrate_fit=30,
            calibrate_sites=3,
            calibrate_strengths=(0.25, 1.0, 4.0),
            calibrate_neutral=3,
        )
        return cls(**{**base, **overrides})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TourContext:
    model: torch.nn.Module
    tokenizer: Any
    model_name: str
    config: TourConfig

    @property
    def spec(self):
        return resolve(self.model)


# ------------------------------------------------------------------------------------------ helpers
def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    savefig(fig, buf, format="png", dpi=120)
    pyplot().close(fig)
    return buf.getvalue()


def _png_from(save: Callable[..., Any]) -> bytes:
    """PNG bytes from a function that saves a plot to a path."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "figure.png"
        save(path)
        return path.read_bytes()


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


# -------------------------------------------------------------------------------------------- lens
def _from_site(row: int | None) -> str:
    """The site a lens row decodes (row i reads the stream entering block i), or 'never'."""
    return "never" if row is None else f"resid_pre.{row}"


def lens_section(ctx: TourContext, sec: Section) -> str:
    from ..errors import SpanNotFoundError
    from ..lens import TunedLens
    from ..lens.trajectory import prediction_trajectory

    cfg, model, tok = ctx.config, ctx.model, ctx.tokenizer
    text = cfg.lens_text
    first = prediction_trajectory(model, tok, text, target=None)
    answer = first.top_tokens[-1][-1][0]
    try:
        traj = prediction_trajectory(model, tok, text, target=answer)
    except SpanNotFoundError:  # the decoded answer re-tokenises differently: track nothing
        traj = first
    lenses = {"logit": traj}
    if cfg.tuned_lens:
        lenses["tuned"] = prediction_trajectory(
            model, tok, text, lens=TunedLens.load(cfg.tuned_lens, model), target=answer if traj is not first else None
        )
    else:
        sec.notes.append(
            "No tuned lens was given, so only the logit lens is shown. Train one with "
            "'steerlens lens train --out DIR' and pass '--tuned DIR' to the tour."
        )
    n_layers = ctx.spec.n_layers
    first_top: dict[str, int | None] = {}
    probs: dict[str, list[float | None]] = {}
    for name, t in lenses.items():
        tops = [t.top_tokens[r][-1][0] for r in range(n_layers)]
        first_top[name] = next((i for i in range(n_layers) if all(x == answer for x in tops[i:])), None)
        probs[name] = [None if v is None else 2.0**v for v in (row[-1] for row in t.target_log_prob)]
    sec.numbers = {
        "prompt": text,
        "model's next token": repr(answer),
        "output probability": first.top_probs[-1][-1][0],
        "logit lens: answer top-1 from": _from_site(first_top["logit"]),
    }
    if "tuned" in first_top:
        sec.numbers["tuned lens: answer top-1 from"] = _from_site(first_top["tuned"])
    sec.text(
        f"Each row decodes the residual stream entering that block (row 'output' is the model's own "
        f"prediction) at every position of the prompt; colour is the entropy of the decoded distribution in bits, "
        f"and each cell shows its top token. At the last position the model predicts {answer!r}."
    )
    for name, t in lenses.items():
        sec.figure(
            Figure(
                f"lens-trajectory-{name}",
                f"{name} lens trajectory of {text!r}",
                _png_from(lambda p, t=t: t.plot(p, "entropy")),
                asdict(t),
                "Rows: the site each row decodes (resid_pre.i: the residual entering block i) and the output; "
                "columns: input tokens.",
            )
        )
    if any(any(v is not None for v in ps) for ps in probs.values()):
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6.5, 3.4))
        for name, ps in probs.items():
            ax.plot(range(len(ps)), [math.nan if v is None else v for v in ps], "o-", label=f"{name} lens")
        ax.set_xticks(range(n_layers + 1), [*map(str, range(n_layers)), "out"], fontsize=7)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("layer")
        ax.set_ylabel(f"P({answer!r})")
        ax.set_title("Probability of the final answer at the last position", fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        sec.figure(
            Figure(
                "lens-answer-probability",
                f"P({answer!r}) per layer",
                _png(fig),
                {"answer": answer, "rows": traj.rows, "probability": probs},
                "The probability each layer's decoding gives the model's final answer.",
            )
        )
    rows = [
        [traj.rows[r], *[f"{tk!r} {p:.2f}" for tk, p in zip(traj.top_tokens[r][-1][:3], traj.top_probs[r][-1][:3])]]
        for r in range(len(traj.rows))
    ]
    sec.table(["site", "top 1", "top 2", "top 3"], rows, "Logit lens at the last position")
    return f"next token {answer!r}; logit lens has it top-1 from {_from_site(first_top['logit'])}"


# ---------------------------------------------------------------------------------------- steering
def steering_section(ctx: TourContext, sec: Section) -> str:
    from ..steering import ActAdd, SamplingConfig, compare, lexicon_balance, sentiment, x_vector

    cfg, model, tok = ctx.config, ctx.model, ctx.tokenizer
    site = ctx.spec.site(Site.parse(cfg.steer_site) if cfg.steer_site else Site(ctx.spec.n_layers // 3, "resid_pre"))
    adds = list(x_vector(cfg.steer_add, cfg.steer_sub, cfg.steer_strength, site, tokenizer=tok, pad="tokens_right"))
    act = ActAdd.build(model, tok, adds, location="front")
    samp = SamplingConfig(max_new_tokens=cfg.max_new_tokens)
    comp = compare(model, tok, cfg.steer_prompt, act, n=cfg.n_completions, seed=cfg.seed, config=samp)
    comp.score("sentiment", sentiment).score("lexicon balance", lexicon_balance)
    s = comp.scores["sentiment"]
    mu_u, mu_s = _mean(s["unsteered"]), _mean(s["steered"])
    sec.numbers = {
        "steering": f"{cfg.steer_add} - {cfg.steer_sub}, x{cfg.steer_strength:g} at {site}",
        "mean sentiment, unsteered": mu_u,
        "mean sentiment, steered": mu_s,
        "change": mu_s - mu_u,
        "completions per side": cfg.n_completions,
    }
    sec.text(
        f"ActAdd: the residual-stream difference between {cfg.steer_add!r} and {cfg.steer_sub!r} (x {cfg.steer_strength:g}) "
        f"is added at {site} over the first tokens of the prompt. Both columns are sampled from the same "
        f"seed ({cfg.seed}; temperature 1, top-p 0.3, frequency penalty 1), so the only difference is the addition. "
        "Sentiment is VADER's compound score in [-1, 1] (an offline lexicon)."
    )
    rows = [
        [cfg.steer_prompt + a, f"{su:+.2f}", cfg.steer_prompt + b, f"{ss:+.2f}"]
        for a, b, su, ss in zip(comp.unsteered, comp.steered, s["unsteered"], s["steered"])
    ]
    sec.table(["unsteered", "sentiment", "steered", "sentiment"], rows, "Same seeds, side by side")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for i, col in enumerate(("unsteered", "steered")):
        ys = s[col]
        ax.scatter([i + 0.06 * (k - (len(ys) - 1) / 2) for k in range(len(ys))], ys, color=f"C{i}", alpha=0.7)
        ax.hlines(_mean(ys), i - 0.25, i + 0.25, color=f"C{i}", linewidth=3)
    ax.axhline(0, color="#999", linewidth=0.8)
    ax.set_xticks([0, 1], ["unsteered", f"steered\n{cfg.steer_add} - {cfg.steer_sub}, {site}"])
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("VADER sentiment")
    ax.set_title(f"{cfg.steer_prompt!r}: sentiment per completion (bar = mean)", fontsize=10)
    fig.tight_layout()
    sec.figure(
        Figure(
            "steering-sentiment",
            "Sentiment of steered vs unsteered completions",
            _png(fig),
            comp.to_dict(),
            "Each dot is one completion; both sides share their random seeds.",
        )
    )
    return f"sentiment {mu_u:+.2f} -> {mu_s:+.2f} with {cfg.steer_add} - {cfg.steer_sub} at {site}"


def _concept_matching(ctx: TourContext, sec: Section, layer: int, rank: int) -> None:
    """LRC concept matching that generalises: concepts built from some subjects of a many-to-one relation,
    matched on subjects none of whose prompts built them, against chance and the majority baseline."""
    import dataclasses
    import random
    from collections import Counter

    from ..relations import ConceptMatcher, concepts_from_inverse, load_relation, make_prompts, train_lre
    from ..relations.evaluate import split_known

    cfg, model, tok = ctx.config, ctx.model, ctx.tokenizer
    rel = load_relation(cfg.match_relation)
    samples = list(rel.samples)
    random.Random(cfg.seed).shuffle(samples)
    rel = dataclasses.replace(rel, samples=tuple(samples[: cfg.match_samples]))
    train, test, _ = split_known(model, tok, rel, cfg.match_subjects, cfg.n_icl, cfg.seed, require_known=cfg.require_known)
    if not train or not test:
        raise DataFormatError(
            f"The model answers too few prompts of {rel.name!r} to build and test concepts (train {len(train)}, "
            f"held-out {len(test)}); pick another relation with match_relation."
        )
    lre = train_lre(
        model, tok, train, layer, -1, relation=rel.name, aggregation="first_token", max_samples=cfg.match_train, seed=cfg.seed
    )
    concepts = concepts_from_inverse(model, tok, lre.invert(rank), train, relation=rel.name)
    built_from = {p.subject for p in train}
    truth = {x.subject: x.object for x in rel.samples}
    have = {c.object for c in concepts}
    held = sorted({p.subject for p in test if p.object_name in have and p.subject not in built_from})
    if len(have) < 2 or not held:
        raise DataFormatError(f"{rel.name!r}: {len(have)} concept(s) and {len(held)} held-out subject(s); too few to match.")
    zs = make_prompts(rel, zero_shot=True, samples=[x for x in rel.samples if x.subject in held])
    queries = [(p.text, p.subject) for p in zs]
    names, scores = ConceptMatcher(model, tok, concepts).scores(queries)
    obj_of_name = {c.name: c.object for c in concepts}
    best = [obj_of_name[names[int(i)]] for i in scores.argmax(-1)]
    hits = [b == truth[sub] for b, (_, sub) in zip(best, queries)]
    majority = Counter(truth[sub] for _, sub in queries).most_common(1)[0][1] / len(queries)
    sec.numbers.update(
        {
            "concept matching relation": rel.name,
            "concepts built from (subjects)": len(built_from),
            "concept matching accuracy (held-out subjects)": _mean([float(h) for h in hits]),
            "concept matching: chance": 1 / len(concepts),
            "concept matching: majority baseline": majority,
        }
    )
    sec.text(
        f"Linear relational concepts generalise, or not: one concept per {rel.name} object, each built (rank-{rank} "
        f"inverse LRE applied to the object states, averaged, normalised) only from the prompts of "
        f"{len(built_from)} training subjects. They are then matched against {len(queries)} prompts about "
        f"{len(held)} other subjects, none of whose prompts built any concept. The best-scoring concept should be "
        f"the subject's own object. Chance is 1/{len(concepts)}; always answering the most common object scores "
        f"{majority:.2f}."
    )
    sec.table(
        ["held-out prompt", "subject", "best concept", "expected", "match"],
        [[t, sub, b, truth[sub], "yes" if h else "no"] for (t, sub), b, h in zip(queries, best, hits)],
        "Concept matching on held-out subjects",
    )
    plt = pyplot()
    cols = [obj_of_name[n] for n in names]
    fig, ax = plt.subplots(figsize=(1.6 + 0.45 * len(cols), 1.2 + 0.4 * len(queries)))
    z = scores.float()
    im = ax.imshow(z.numpy(), aspect="auto", cmap="viridis")
    for r, k in enumerate(z.argmax(-1).tolist()):
        ax.text(k, r, "*", ha="center", va="center", color="white", fontsize=12)
    ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(queries)), [sub for _, sub in queries], fontsize=7)
    ax.set_title("concept scores on held-out subjects (* = best match)", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    sec.figure(
        Figure(
            "relations-concept-matching",
            "Concept matching scores",
            _png(fig),
            {
                "queries": queries,
                "concepts": cols,
                "scores": z.tolist(),
                "best": best,
                "concept_subjects": sorted(built_from),
                "held_out_subjects": held,
            },
            "Rows: prompts about held-out subjects; columns: concepts (built from other subjects).",
        )
    )


# --------------------------------------------------------------------------------------- relations
def relations_section(ctx: TourContext, sec: Section) -> str:
    from ..relations import (
        ConceptSwapper,
        concepts_from_inverse,
        load_relation,
        subject_activations,
        train_lre,
    )
    from ..relations.evaluate import is_prefix, split_known
    from ..relations.lrc import default_rank

    cfg, model, tok, spec = ctx.config, ctx.model, ctx.tokenizer, ctx.spec
    rel = load_relation(cfg.relation)
    layer = cfg.subject_layer if cfg.subject_layer is not None else max(1, spec.n_layers // 4)
    train, test, n_known = split_known(model, tok, rel, cfg.n_train, cfg.n_icl, cfg.seed, require_known=cfg.require_known)
    sec.numbers = {"relation": rel.name, "prompts": len(rel.samples), "answered by the model": n_known}
    if not cfg.require_known:
        sec.notes.append("require_known is off: every prompt is used, whether or not the model answers it.")
    if not train or not test:
        raise DataFormatError(
            f"The model answers too few prompts of {rel.name!r} (train {len(train)}, held-out "
            f"{len(test)}); pick another relation with --relation."
        )
    known = train + test
    lre = train_lre(
        model,
        tok,
        train,
        layer,
        -1,
        relation=rel.name,
        aggregation="first_token",
        max_samples=cfg.n_train,
        seed=cfg.seed,
        progress=True,
    )
    s = subject_activations(model, tok, test, layer)
    logits = spec.logits(lre(s).to(next(model.parameters()).device))
    top3 = logits.topk(3, dim=-1).indices.tolist()
    decoded = [[tok.decode([i]) for i in row] for row in top3]
    faithful = [is_prefix(d[0], p.answer) for d, p in zip(decoded, test)]
    faith = _mean([float(f) for f in faithful])
    sec.numbers.update(
        {
            "subject layer": layer,
            "object layer": lre.object_layer,
            "LRE training prompts": lre.metadata.get("num_prompts", len(train)),
            "held-out subjects": len(test),
            "faithfulness (held out)": faith,
        }
    )
    sec.text(
        f"A linear relational embedding o = W s + b maps the subject's state after block {layer} to the "
        f"object's state at the last block; W is the mean Jacobian over "
        f"{sec.numbers['LRE training prompts']} prompts. Faithfulness: on subjects it was not fitted on, "
        "decoding LRE(s) with the model's own final norm and unembedding gives the model's answer."
    )
    sec.table(
        ["held-out subject", "model's answer", "LRE decoding (top 3)", "faithful"],
        [[p.subject, p.answer, " | ".join(repr(x) for x in d), "yes" if f else "no"] for p, d, f in zip(test, decoded, faithful)],
        "LRE faithfulness on held-out subjects",
    )

    # LRCs from the inverse LRE (the swaps below use them)
    rank = min(default_rank(spec.d_model), spec.d_model)
    concepts = concepts_from_inverse(model, tok, lre.invert(rank), known, relation=rel.name)
    by_object = {c.object: c for c in concepts}
    objects = sorted(by_object)
    if len(objects) < 2:
        raise DataFormatError(f"Only {len(objects)} object(s) among the answered prompts; LRCs need two or more.")
    _concept_matching(ctx, sec, layer, rank)

    # causal swaps on the held-out prompts: each subject's concept swapped for another object's
    editor = ConceptSwapper(model, tok, concepts)
    reqs, answers = [], []
    for i, p in enumerate(q for q in test if q.object_name in by_object):
        target = objects[(objects.index(p.object_name) + 1 + i) % len(objects)]
        if target != p.object_name:
            reqs.append((p.text, p.subject, by_object[p.object_name].name, by_object[target].name))
            answers.append([p.answer, target])
        if len(reqs) == 6:
            break
    kw: dict[str, Any] = dict(layers=layer, strength=cfg.swap_strength, use_projection=True)
    before = editor.swap_and_predict(reqs, strength=0.0, max_new_tokens=3)
    after = editor.swap_and_predict(reqs, max_new_tokens=3, **kw)
    probs = editor.answer_probabilities(reqs, answers, **kw)
    greedy = [is_prefix(a.split()[0] if a.split() else "", ans[1]) for a, ans in zip(after, answers)]
    success = [tgt > orig for orig, tgt in probs]
    sec.numbers["swaps: greedy answer is the target"] = _mean([float(x) for x in greedy])
    sec.numbers["swaps: P(target) > P(original)"] = _mean([float(x) for x in success])
    sec.text(
        f"Causal concept swap on held-out prompts: at the subject's last token after block {layer}, "
        f"h += m (v_target - v_source) with m = {cfg.swap_strength:g} (h . v_source). Two measures: the greedy "
        "answer becomes the target object, and the edited model gives the target a higher probability than the "
        "original answer (first-token probabilities of each whole answer's least likely token)."
    )
    sec.table(
        ["subject", "swap", "unedited", "edited", "P(original)", "P(target)"],
        [[r[1], f"{a[0]} -> {a[1]}", b, c, p[0], p[1]] for r, a, b, c, p in zip(reqs, answers, before, after, probs)],
        "Concept swaps (greedy, 3 tokens)",
    )
    return (
        f"LRE faithfulness {faith:.2f} on {len(test)} held-out subjects; concept matching on held-out subjects "
        f"{sec.numbers['concept matching accuracy (held-out subjects)']:.2f} (majority baseline "
        f"{sec.numbers['concept matching: majority baseline']:.2f}); swaps to the target {sum(greedy)} of {len(reqs)} (greedy)"
    )


# ---------------------------------------------------------------------------------------- concepts
def concepts_section(ctx: TourContext, sec: Section) -> str:
    from ..concepts import guidance_edits, held_out_judge, load_dataset, probe_scorer, train_concept
    from ..concepts.data import prompt_ids
    from ..concepts.plots import plot_accuracy
    from ..steering import SamplingConfig, sample

    cfg, model, tok = ctx.config, ctx.model, ctx.tokenizer
    data = load_dataset(cfg.concept_data)
    if cfg.concept_max_examples:
        data = data[: cfg.concept_max_examples]
    concept = train_concept(model, tok, data, probe="dim", name=cfg.concept_data, seed=cfg.seed, progress=True)
    best = max(range(len(concept.layers)), key=lambda i: concept.val_accuracy[i])
    sec.numbers = {
        "dataset": f"{cfg.concept_data} ({len(data)} completions)",
        "probe": "difference in means",
        "best held-out accuracy": concept.val_accuracy[best],
        "at site": str(concept.sites[best]),
    }
    sec.text(
        "Concept guidance: a probe per layer separates the two labels' completions (label 1 = the concept) from "
        "the model's states while it reads them; held-out accuracy is on prompts the probe never saw. Guidance "
        f"then pushes the states of the {min(cfg.guide_top_k, len(concept.layers) - 1)} best layers along the probe "
        "direction while generating (norm-preserving), at several strengths."
    )
    results = {"dim": {"train": concept.train_accuracy, "val": concept.val_accuracy}}
    sec.figure(
        Figure(
            "concepts-probe-accuracy",
            "Probe accuracy per layer",
            _png_from(lambda p: plot_accuracy(results, p, title=f"{cfg.concept_data}: difference-in-means probe")),
            {"layers": concept.layers, **results},
            "Solid: held-out prompts; dotted: training prompts.",
        )
    )
    ids = prompt_ids(tok, cfg.guide_prompt)
    samp = SamplingConfig(max_new_tokens=cfg.max_new_tokens, temperature=0, freq_penalty=0)
    rows, outs = [], []
    top_k = min(cfg.guide_top_k, len(concept.layers) - 1)  # one layer stays unguided for the independent judge
    for strength in cfg.guide_strengths:
        edits = guidance_edits(model, concept, strength, top_k=top_k)
        outs.append(sample(model, tok, [ids], edits=edits, config=samp)[0])
    # the judge: a probe fitted on held-out prompts the concept never saw, at a layer guidance does not write
    # (and not on the prompt it judges)
    guided = concept.top_sites(top_k)
    others = [e for e in data if e.prompt.strip() != cfg.guide_prompt.strip()]
    judge, _ = held_out_judge(model, tok, concept, others, guided, seed=cfg.seed, progress=False)
    prompts = [cfg.guide_prompt] * len(outs)
    score = judge(prompts, outs)
    own = probe_scorer(model, tok, concept, guided)(prompts, outs)
    for strength, text, sc, o in zip(cfg.guide_strengths, outs, score, own):
        rows.append([f"{strength:g}", text.strip(), sc, o])
    if 0 in cfg.guide_strengths:
        sec.numbers["independent probe score, unguided"] = score[list(cfg.guide_strengths).index(0)]
    sec.numbers["independent probe score at largest strength"] = score[-1]
    sec.numbers["independent probe site"] = str(judge.site)
    sec.numbers["guided sites"] = ", ".join(map(str, guided))
    sec.numbers["own probe score at largest strength"] = own[-1]
    sec.table(
        ["strength", f"greedy completion of {cfg.guide_prompt!r}", f"independent probe P(label 1) ({judge.site})", "own probe"],
        rows,
        "Guided completions (strength 0 = unguided). The effect is judged by an independent probe: fitted on prompts "
        f"the concept never saw, read at {judge.site}, which guidance does not write ({judge.description}). The "
        "concept's own probe is shown for comparison: it reads the very direction guidance pushes along, so it "
        "flatters the method.",
    )
    # per-token monitoring: the concept's probe at the one layer guidance leaves alone reads every token, prompt and
    # completion, from the passes that generate it (no second pass)
    from ..model import generate, intervene
    from ..model.tokens import pad

    # the best-separating layer among those guidance leaves alone
    acc = concept.val_accuracy or concept.train_accuracy
    free = sorted((i for i, x in enumerate(concept.sites) if x not in guided), key=lambda i: (-acc[i], i))
    mon = concept.monitor(concept.sites[free[0]] if free else None, name="concept")
    batch = pad([ids], side="left")
    traces: dict[str, dict[str, Any]] = {}
    for strength in (cfg.guide_strengths[0], cfg.guide_strengths[-1]):
        with intervene(model, guidance_edits(model, concept, strength, top_k=top_k)):
            g = generate(
                model,
                tok,
                {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask},
                max_new_tokens=cfg.max_new_tokens,
                monitors=[mon],
            )
        if g.readings is None:  # generate always returns readings when given monitors
            raise RuntimeError("generate() returned no monitor readings")
        traces[f"strength {strength:g}"] = {
            "tokens": [tok.decode([t]) for t in g.prompt_ids[0] + g.new_ids[0]],
            "reading": g.readings["concept"][0],
            "prompt_tokens": len(g.prompt_ids[0]),
        }
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    for name, tr in traces.items():
        ax.plot(range(len(tr["reading"])), tr["reading"], ".-", label=name)
    first = next(iter(traces.values()))
    ax.axvline(first["prompt_tokens"] - 0.5, color="#999", ls="--", lw=0.8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("token (prompt | completion)")
    ax.set_ylabel("P(label 1)")
    ax.set_title(f"Per-token reading of the concept's probe at {mon.site}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    sec.figure(
        Figure(
            "concepts-monitor",
            "Per-token monitoring during guided generation",
            _png(fig),
            {"site": str(mon.site), "traces": traces},
            "The concept's probe at a layer guidance does not write reads every token from the generating passes "
            "(generate(..., monitors=[concept.monitor(site)])); the dashed line ends the prompt.",
        )
    )
    sec.numbers["monitor site"] = str(mon.site)
    return (
        f"best probe accuracy {concept.val_accuracy[best]:.2f} at {concept.sites[best]}; "
        f"guided at strengths {list(cfg.guide_strengths)}"
    )


# ---------------------------------------------------------------------------------------- readouts
def readouts_section(ctx: TourContext, sec: Section) -> str:
    from ..lens import JacobianLens, LogitLens
    from ..lens.data import chunk_texts, default_corpus
    from ..lens.evaluate import evaluate_lenses
    from ..lens.patchscope import token_identity_precision
    from ..lens.trajectory import prediction_trajectory

    cfg, model, tok = ctx.config, ctx.model, ctx.tokenizer
    n = ctx.spec.n_layers
    jl = JacobianLens.fit(
        model,
        tok,
        default_corpus("train")[: cfg.jacobian_texts],
        samples=cfg.jacobian_samples,
        max_tokens=cfg.jacobian_tokens,
        seed=cfg.seed,
        progress=False,
    )
    held = chunk_texts(tok, default_corpus("test"), 64, max_chunks=cfg.readout_chunks)
    ev = evaluate_lenses(model, held, {"logit": LogitLens.from_model(model), "jacobian": jl}, progress=False)
    kl = {k: ev["lenses"][k]["kl"] for k in ("logit", "jacobian")}
    ti = token_identity_precision(
        model, tok, default_corpus("test"), n_positions=cfg.identity_positions, max_prefix=32, seed=cfg.seed
    )
    better = sum(j < g for j, g in zip(kl["jacobian"], kl["logit"]))
    mid = n // 2
    sec.numbers = {
        "Jacobian lens fitted on": f"{int(jl.tokens[0])} tokens of {cfg.jacobian_texts} corpus entries",
        "held-out tokens for the KL": int(ev["n_tokens"]),
        "layers where the Jacobian lens is closer to the output than the logit lens": f"{better} of {n}",
        f"KL to the output at resid_pre.{mid}, logit lens (bits/byte)": kl["logit"][mid],
        f"KL to the output at resid_pre.{mid}, Jacobian lens (bits/byte)": kl["jacobian"][mid],
        f"token identity at resid_post.{mid}, patchscope": ti.patchscope[mid],
        f"token identity at resid_post.{mid}, logit lens": ti.logit_lens[mid],
        "token-identity positions": ti.n,
    }
    sec.text(
        "Two more ways to read a layer. The Jacobian lens maps a residual through the average Jacobian from its layer "
        "to the last block before the final norm and unembedding; the logit lens uses the identity instead. Here it "
        f"is fitted on only {int(jl.tokens[0])} tokens (one backward pass per random vector), so its estimate is "
        "noisy, above all in the middle layers, whose Jacobians are far from the identity; benchmarks/README.md "
        "has a larger fit. Both are scored by their KL to the "
        "model's own output distribution on held-out text (lower is better). The token-identity Patchscope patches "
        "a state into a few-shot 'repeat the word' prompt and lets the model say what it encodes; its precision is "
        "how often that matches the model's own final next-token prediction, next to the logit lens on the same state."
    )
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.5, 3.4))
    for name, ys in kl.items():
        ax1.plot(range(n), ys, "o-", ms=3, label=f"{name} lens")
    ax1.set_yscale("log")
    ax1.set_xlabel("lens index (resid_pre.i)")
    ax1.set_ylabel("KL to the output (bits/byte)")
    ax1.legend(fontsize=8)
    ax2.plot(ti.layers, ti.patchscope, "o-", ms=3, label="token-identity patchscope")
    ax2.plot(ti.layers, ti.logit_lens, "o-", ms=3, label="logit lens")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_xlabel("layer (resid_post.i)")
    ax2.set_ylabel("precision@1 (model's next token)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    sec.figure(
        Figure(
            "readouts-kl-and-identity",
            "Jacobian vs logit lens, and the token-identity Patchscope",
            _png(fig),
            {"kl_bits_per_byte": kl, "n_tokens": ev["n_tokens"], "token_identity": ti.to_dict()},
            "Left: KL of each lens to the output on held-out text (log scale). Right: precision of decoding the "
            "model's next token from each layer's state.",
        )
    )
    logit = prediction_trajectory(model, tok, cfg.lens_text, target=None)
    jac = prediction_trajectory(model, tok, cfg.lens_text, lens=jl, target=None)
    rows = [
        [
            logit.rows[r],
            f"{logit.top_tokens[r][-1][0]!r} {logit.top_probs[r][-1][0]:.2f}",
            f"{jac.top_tokens[r][-1][0]!r} {jac.top_probs[r][-1][0]:.2f}",
        ]
        for r in range(len(logit.rows))
    ]
    sec.table(["site", "logit lens top 1", "Jacobian lens top 1"], rows, f"Last position of {cfg.lens_text!r}")
    return (
        f"Jacobian lens closer to the output than the logit lens at {better}/{n} layers; token-identity patchscope "
        f"{ti.patchscope[mid]:.2f} vs logit lens {ti.logit_lens[mid]:.2f} at layer {mid}"
    )


# --------------------------------------------------------------------------------------- calibrate
def calibrate_section(ctx: TourContext, sec: Section) -> str:
    import random

    from ..concepts.data import contrast_pairs, load_dataset
    from ..steering import train_steering_vector
    from ..steering.calibrate import ContrastEffect, calibrate, neutral_texts

    cfg, model, tok = ctx.config, ctx.model, ctx.tokenizer
    pairs = contrast_pairs(load_dataset(cfg.concept_data))
    random.Random(cfg.seed).shuffle(pairs)
    judge, fit = pairs[: cfg.calibrate_pairs], pairs[cfg.calibrate_pairs : cfg.calibrate_pairs + cfg.calibrate_fit]
    if not judge or not fit:
        raise DataFormatError(f"{cfg.concept_data} has {len(pairs)} contrast pairs; too few for the calibration.")
    n = ctx.spec.n_layers
    k = min(cfg.calibrate_sites, n)
    layers = sorted({round(i * (n - 1) / max(1, k - 1)) for i in range(k)}) if k > 1 else [n // 2]
    sites = [Site(x) for x in layers]
    vec = train_steering_vector(model, tok, fit, sites)
    effect = ContrastEffect(tok, judge)
    neutral = neutral_texts(cfg.calibrate_neutral)
    res = calibrate(
        model, tok, vec, effect, neutral, sites=sites, strengths=list(cfg.calibrate_strengths), seed=cfg.seed, progress=False
    )
    grid_tokens = (
        len(sites) * len(cfg.calibrate_strengths) * (effect.tokens(range(len(judge))) + sum(len(r) for r in _rows(tok, neutral)))
    )
    c = res.chosen
    sec.numbers = {
        "steering": f"mean-difference vector from {len(fit)} {cfg.concept_data} pairs (label 1 minus label 0)",
        "candidates": f"{len(sites)} sites x {len(cfg.calibrate_strengths)} strengths",
        "budget": f"KL <= {res.max_kl:g} nats/token, perplexity ratio <= {res.max_perplexity_ratio:g}",
        "neutral texts": len(neutral),
        "chosen": "none within the budget" if c is None else f"{c['site']} x{c['strength']:g}",
        "effect of the chosen point (nats)": None if c is None else c["effect"],
        "KL of the chosen point (nats/token)": None if c is None else c["kl"],
        "evaluations (items seen)": f"{len(res.records)} ({sum(r['items'] for r in res.records)} pair scorings)",
        "cost vs the full grid (model tokens)": res.cost_tokens / grid_tokens,
    }
    sec.text(
        "Which layer and which strength? Calibration searches sites x strengths for the largest effect on "
        f"{len(judge)} held-out contrast pairs (how much the steering raises log p(label-1 answer) - log p(label-0 "
        "answer) after the shared prompt) among the settings whose side effects on neutral text stay within budget. "
        "Successive halving scores every candidate on a few pairs and promotes the best third to three times as "
        "many, so the full grid is never paid for."
    )
    sec.figure(
        Figure(
            "calibrate-frontier",
            "Effect vs side effect of every evaluated setting",
            _png_from(res.plot),
            res.to_dict(),
            "Blue: within budget on every pair; red: over it; grey: seen on fewer pairs; star: the choice.",
        )
    )
    rows = [
        [r["site"], f"{r['strength']:g}", r["effect"], r["kl"], r["perplexity_ratio"], "yes" if r["feasible"] else "no"]
        for r in sorted(res.full, key=lambda r: -r["effect"])
    ]
    sec.table(
        ["site", "strength", "effect (nats)", "KL (nats/token)", "perplexity ratio", "within budget"],
        rows,
        "Settings scored on every pair",
    )
    return (
        "no setting within the budget" if c is None else f"chose {c['site']} x{c['strength']:g} (effect {c['effect']:.2f} nats)"
    )


def _rows(tok: Any, texts: list[str]) -> list[list[int]]:
    from ..model.tokens import encode

    return encode(tok, texts)


# ----------------------------------------------------------------------------------------- editors


def editors_section(ctx: TourContext, sec: Section) -> str:
    from ..editors import (
        Editor,
        EditorEdit,
        counterfact_from_relations,
        edit_generate,
        filter_known,
        split_samples,
        train_editor,
    )
    from ..editors.evaluate import score_targets
    from ..editors.inputs import target_ids

    cfg, model, tok = ctx.config, ctx.model, ctx.tokenizer
    samples = counterfact_from_relations(tokenizer=tok, seed=cfg.seed)
    parts = split_samples(samples, (0.8, 0.1, 0.1), seed=cfg.seed)
    path = Path(cfg.editor) if cfg.editor else shipped_editor(ctx.model_name)
    if path is not None:
        editor = Editor.load(path, model)
        sec.numbers["editor"] = f"{editor.kind} at layer {editor.layer} ({'shipped' if not cfg.editor else path})"
        sec.text(
            f"A REMEDI editor trained by scripts/train_tour_editor.py on the training split of the CounterFact-style "
            f"facts built from the 47 relations (seed {cfg.seed}); the facts below come from the test split, "
            f"which it never saw."
        )
    else:
        layer = cfg.editor_layer if cfg.editor_layer is not None else ctx.spec.n_layers // 2
        pool = parts["train"][: 4 * cfg.editor_train_samples]
        train = filter_known(model, tok, pool, top_k=3, progress=True) if cfg.require_known else pool
        train = train[: cfg.editor_train_samples]
        if len(train) < 8:
            raise DataFormatError(
                f"Only {len(train)} known training facts for a quick editor; give a trained one with --editor DIR."
            )
        res = train_editor(model, tok, train, layer, max_epochs=2, batch_size=8, lam_kl=1.0, seed=cfg.seed, progress=True)
        editor = res.editor
        sec.numbers["editor"] = f"linear at layer {layer}, trained here on {len(train)} facts"
        sec.notes.append(
            f"No editor is shipped for {ctx.model_name}: this one was trained in the tour on "
            f"{len(train)} facts for 2 epochs, far less than a real run (scripts/train_tour_editor.py)."
        )
    pool = parts["test"][: 8 * cfg.editor_facts]
    facts = (filter_known(model, tok, pool, top_k=1, progress=False) if cfg.require_known else pool)[: cfg.editor_facts]
    if not facts:
        raise DataFormatError("None of the held-out facts is known to the model; nothing to edit.")
    texts = [f.prompt for f in facts]
    tg = torch.stack([target_ids(tok, [f.target_new for f in facts]), target_ids(tok, [f.target_true for f in facts])], 1)
    lp0, _ = score_targets(model, tok, texts, tg, progress=False)
    method = EditorEdit(editor)
    method.prepare(model, tok, facts)

    def edits_for(idx, part):
        return method.edits(tok, [facts[i] for i in idx], part)

    lp1, _ = score_targets(model, tok, texts, tg, edits_for=edits_for, progress=False)
    flipped = (lp1[:, 0] > lp1[:, 1]).tolist()
    eff = _mean([float(x) for x in flipped])
    gain = float(((lp1[:, 0] - lp1[:, 1]) - (lp0[:, 0] - lp0[:, 1])).mean())
    sec.numbers.update(
        {
            "held-out facts": len(facts),
            "efficacy (P(new) > P(true) after the edit)": eff,
            "before the edit": _mean([float(x) for x in (lp0[:, 0] > lp0[:, 1]).tolist()]),
            "mean gain of log P(new) - log P(true)": gain,
        }
    )
    gen = edit_generate(model, tok, editor, facts[:3], max_new_tokens=cfg.max_new_tokens)
    sec.text(
        "Each fact gets an attribute (a sentence about the entity taken from a counterfactual context, e.g. "
        "'... is located in <new object>'); the editor turns the attribute's states into a vector added to the "
        "entity's last token at its layer. The prompt never contains the attribute."
    )
    sec.table(
        [
            "entity",
            "context (its attribute gives the edit)",
            "prompt",
            "true",
            "new",
            "P(true) before -> after",
            "P(new) before -> after",
            "flipped",
        ],
        [
            [
                f.entity,
                f.context,
                f.prompt,
                f.target_true,
                f.target_new,
                f"{math.exp(a[1]):.3f} -> {math.exp(b[1]):.3f}",
                f"{math.exp(a[0]):.3f} -> {math.exp(b[0]):.3f}",
                "yes" if fl else "no",
            ]
            for f, a, b, fl in zip(facts, lp0.tolist(), lp1.tolist(), flipped)
        ],
        "Held-out facts: first-token probabilities of the new and the true object",
    )
    sec.table(
        ["prompt", "unedited", "edited"],
        [[p, u, e] for p, u, e in zip(gen.prompts, gen.unedited, gen.edited)],
        "Greedy continuations of the first facts",
    )
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 1.2 + 0.38 * len(facts)))
    d0 = (lp0[:, 0] - lp0[:, 1]).tolist()
    d1 = (lp1[:, 0] - lp1[:, 1]).tolist()
    for i, (a, b) in enumerate(zip(d0, d1)):
        ax.annotate("", xy=(b, i), xytext=(a, i), arrowprops=dict(arrowstyle="->", color="C2" if b > 0 else "C3"))
        ax.plot([a], [i], "o", color="#888")
    ax.axvline(0, color="#999", linewidth=0.8)
    ax.set_yticks(range(len(facts)), [f"{f.entity} -> {f.target_new}"[:40] for f in facts], fontsize=7)
    ax.set_xlabel("log P(new) - log P(true)   (right of 0: the edit wins)")
    ax.set_title("REMEDI edits of held-out facts (grey: before; arrow: after)", fontsize=10)
    ax.set_xlim(min(d0 + d1) - 1, max(d0 + d1 + [0.0]) + 1)
    fig.tight_layout()
    sec.figure(
        Figure(
            "editors-held-out-edits",
            "Edits of held-out facts",
            _png(fig),
            {
                "facts": [asdict(f) for f in facts],
                "logp_before": lp0.tolist(),
                "logp_after": lp1.tolist(),
                "columns": ["new", "true"],
            },
            "Log-odds of the new object against the true one, before and after the edit.",
        )
    )
    return f"editor flips {sum(flipped)} of {len(facts)} held-out facts (efficacy {eff:.2f})"


SECTIONS: dict[str, tuple[str, str, Callable[[TourContext, Section], str]]] = {
    "lens": ("Lenses", "What does each layer already predict?", lens_section),
    "steering": (
        "Activation addition",
        "Steer a completion by adding a prompt difference to the residual stream.",
        steering_section,
    ),
    "relations": (
        "Linear relational embeddings and concepts",
        "A relation as an affine map, its inverse as concept directions, and concept swaps.",
        relations_section,
    ),
    "concepts": ("Concept guidance", "Probe a concept layer by layer, then guide generation along it.", concepts_section),
    "editors": ("Trained editors (REMEDI)", "Turn an attribute into an edit of an entity's representation.", editors_section),
    "readouts": (
        "Jacobian lens and Patchscopes",
        "Read a layer through the average Jacobian to the output, or let the model describe a patched state.",
        readouts_section,
    ),
    "calibrate": (
        "Calibrated steering",
        "Choose a steering layer and strength under a budget on side effects.",
        calibrate_section,
    ),
}
