"""``steerlens relations ...``: the relation dataset, LREs and concepts, evaluation, matching and swaps."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import DataFormatError

__all__ = ["add_parsers"]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``relations`` with its sub-commands list, train, eval, match and swap."""
    from ..relations.evaluate import evaluate_relation
    from ..relations.lre import train_lre
    from .common import add_command, add_group, add_model, default_of

    g = add_group(
        sub,
        "relations",
        "linear relational embeddings and concepts: list, train, eval, match, swap",
        "LREs and LRCs on the shipped 47-relation dataset (or a relation JSON file). Layers are block outputs "
        "(resid_post), as everywhere in steerlens.",
    )
    p = add_command(g, "list", "relations:_list", "list the shipped relations")
    p.add_argument(
        "--category", choices=["factual", "commonsense", "linguistic", "bias"], help="only this category (default: all)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    t = add_command(g, "train", "relations:_train", "train an LRE (and its concepts) for one relation")
    t.add_argument("relation", help="relation name (see 'relations list') or a relation JSON file")
    t.add_argument("--subject-layer", type=int, required=True, help="block whose output is the subject activation")
    t.add_argument("--object-layer", type=int, required=True, help="block whose output is the object activation")
    t.add_argument("--out", required=True, help="output folder: lre/ (and concepts/)")
    t.add_argument(
        "--aggregation",
        choices=["mean", "first_token"],
        default=default_of(train_lre, "aggregation"),
        help="how the object activation is read: mean over the answer-predicting tokens, or the first one",
    )
    t.add_argument(
        "--n-train",
        type=int,
        default=20,
        help="prompts used for the LRE, balanced across objects (the command line caps it so a CPU run takes minutes)",
    )
    t.add_argument("--icl", type=int, default=3, help="few-shot demonstrations per prompt")
    t.add_argument("--rank", type=int, default=None, help="inverse-LRE rank for the concepts (default: min(200, d))")
    t.add_argument("--no-concepts", action="store_true", help="train the LRE only")
    add_model(t)

    e = add_command(g, "eval", "relations:_eval", "faithfulness, causality and concept scores on relations")
    e.add_argument("relations", nargs="*", help="relation names (default: all 47)")
    e.add_argument("--subject-layer", type=int, required=True, help="block whose output is the subject activation")
    e.add_argument(
        "--object-layer", type=int, default=default_of(evaluate_relation, "object_layer"), help="block of the object (-1: last)"
    )
    e.add_argument("--n-train", type=int, default=default_of(evaluate_relation, "n_train"), help="LRE training prompts")
    e.add_argument("--max-test", type=int, default=default_of(evaluate_relation, "max_test"), help="test subjects per relation")
    e.add_argument(
        "--max-samples",
        type=int,
        default=None,
        help="cap each relation at a seeded random subset of this many samples (default: all)",
    )
    e.add_argument("--rank", type=int, default=None, help="inverse-LRE rank (default: min(200, d))")
    e.add_argument("--no-baselines", action="store_true", help="skip the mean / logistic / SVM probe baselines")
    e.add_argument(
        "--concept-object-layer",
        type=int,
        default=None,
        help="object block of the LRE behind the concepts, mean-aggregated (default: the --object-layer LRE's)",
    )
    e.add_argument(
        "--measure",
        default=",".join(default_of(evaluate_relation, "measure")),
        help="comma-separated scores to compute (default: all); 'concepts' alone with --concept-object-layer "
        "skips the object-layer LRE",
    )
    e.add_argument("--out", help="folder for results.json (and by_category.png with --plot)")
    e.add_argument("--plot", action="store_true", help="also plot the scores by category")
    add_model(e)

    m = add_command(g, "match", "relations:_match", "score concepts against a subject in a text")
    m.add_argument("text", help="a text that mentions the subject")
    m.add_argument("--subject", required=True, help="the subject substring (its last occurrence is used)")
    m.add_argument("--concepts", required=True, help="a concepts folder (from 'relations train')")
    m.add_argument("--top", type=int, default=5, help="concepts to show")
    add_model(m)

    s = add_command(g, "swap", "relations:_swap", "swap one concept for another at the subject and continue the text")
    s.add_argument("text", help="a text that mentions the subject")
    s.add_argument("--subject", required=True, help="the subject substring (its last occurrence is used)")
    s.add_argument("--concepts", required=True, help="a concepts folder (from 'relations train')")
    s.add_argument("--remove", required=True, help="concept name or object to remove")
    s.add_argument("--add", required=True, help="concept name or object to add")
    s.add_argument("--layers", default="concept", help="'all', 'concept' (the concepts' own layer) or a block number")
    s.add_argument("--strength", type=float, default=None, help="strength of the swap (default: 0.1 with --layers all, else 2.0)")
    s.add_argument("--max-new-tokens", type=int, default=5, help="tokens to generate")
    add_model(s)


def _list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ..relations import load_relation, relation_names

    rows = []
    for name in relation_names(args.category):
        rel = load_relation(name)
        rows.append(
            {
                "name": name,
                "category": rel.category,
                "samples": len(rel.samples),
                "objects": len(rel.objects),
                "template": rel.templates[0],
            }
        )
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    table = Table(title=f"{len(rows)} relations")
    for col in ("name", "category", "samples", "objects", "template"):
        table.add_column(col, justify="right" if col in ("samples", "objects") else "left")
    for r in rows:
        table.add_row(*(str(r[k]) for k in ("name", "category", "samples", "objects", "template")))
    Console().print(table)
    return 0


def _train(args: argparse.Namespace) -> int:
    from ..loading import load_model
    from ..relations import PromptValidator, concepts_from_inverse, load_relation, make_prompts, train_lre
    from ..relations.lrc import default_rank

    rel = load_relation(args.relation)
    model, tok = load_model(args.model)
    prompts = make_prompts(rel, n_demonstrations=args.icl)
    valid = PromptValidator(model, tok).filter(prompts, progress=True)
    print(f"{rel.name}: the model answers {len(valid)} of {len(prompts)} prompts")
    if not valid:
        raise DataFormatError(f"The model answers none of the {len(prompts)} prompts of {rel.name!r}; nothing to train on.")
    lre = train_lre(
        model,
        tok,
        valid,
        args.subject_layer,
        args.object_layer,
        relation=rel.name,
        aggregation=args.aggregation,
        max_samples=args.n_train,
        progress=True,
    )
    out = Path(args.out)
    print(f"{lre} from {lre.metadata['num_prompts']} prompts -> {lre.save(out / 'lre')}")
    if not args.no_concepts:
        if len({p.object_name for p in valid}) < 2:
            print("only one object among the answered prompts: no concepts (use --no-concepts to silence)")
            return 0
        rank = args.rank or default_rank(lre.d_model)
        concepts = concepts_from_inverse(model, tok, lre.invert(rank), valid)
        print(f"{len(concepts)} concepts (inverse rank {rank}) -> {concepts.save(out / 'concepts', model)}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from ..loading import load_model
    from ..relations.evaluate import evaluate_relations, plot_summary, results_table, write_results

    model, tok = load_model(args.model)
    results = evaluate_relations(
        model,
        tok,
        args.relations or None,
        out=args.out,
        subject_layer=args.subject_layer,
        object_layer=args.object_layer,
        n_train=args.n_train,
        max_test=args.max_test,
        rank=args.rank,
        baselines=not args.no_baselines,
        max_samples=args.max_samples,
        concept_object_layer=args.concept_object_layer,
        measure=tuple(x.strip() for x in args.measure.split(",") if x.strip()),
    )
    print(results_table(results))
    if args.out:
        print(f"results: {write_results(results, args.out)}")
        if args.plot:
            print(f"plot: {plot_summary(results, Path(args.out) / 'by_category.png')}")
    return 0


def _concepts(args: argparse.Namespace, model):
    from ..relations import RelationalConcepts

    return RelationalConcepts.load(args.concepts, model=model)


def _match(args: argparse.Namespace) -> int:
    from ..loading import load_model
    from ..relations import ConceptMatcher

    model, tok = load_model(args.model)
    matcher = ConceptMatcher(model, tok, _concepts(args, model))
    scores = matcher.query(args.text, args.subject).scores
    for name, score in sorted(scores.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"{score:10.3f}  {name}")
    return 0


def _resolve_name(concepts, key: str) -> str:
    names = [c.name for c in concepts]
    if key in names:
        return key
    by_object = [c.name for c in concepts if c.object == key]
    if len(by_object) == 1:
        return by_object[0]
    raise DataFormatError(
        f"No single concept named or with object {key!r}; concepts: {', '.join(names[:12])}" + (" ..." if len(names) > 12 else "")
    )


def _swap(args: argparse.Namespace) -> int:
    from ..loading import load_model
    from ..relations import ConceptSwapper

    model, tok = load_model(args.model)
    concepts = _concepts(args, model)
    remove, add = _resolve_name(concepts, args.remove), _resolve_name(concepts, args.add)
    if args.layers == "all":
        layers: int | str = "all"
    elif args.layers == "concept":
        layers = next(c.layer for c in concepts if c.name == remove)
    else:
        try:
            layers = int(args.layers)
        except ValueError:
            raise DataFormatError(f"--layers must be 'all', 'concept' or a layer number, got {args.layers!r}.") from None
    mult = args.strength if args.strength is not None else (0.1 if layers == "all" else 2.0)
    editor = ConceptSwapper(model, tok, concepts)
    req = [(args.text, args.subject, remove, add)]
    before = editor.swap_and_predict(req, strength=0.0, max_new_tokens=args.max_new_tokens)[0]
    after = editor.swap_and_predict(req, strength=mult, layers=layers, max_new_tokens=args.max_new_tokens)[0]
    print(f"{args.text} [{before}]  (unedited)")
    print(f"{args.text} [{after}]  ({remove} -> {add}, layers {layers}, strength {mult})")
    return 0
