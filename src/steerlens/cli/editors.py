"""``steerlens editors ...``: REMEDI editors -- data, train, edit, eval, inspect."""

from __future__ import annotations

import argparse

from ..errors import DataFormatError
from .common import add_command, add_group, add_model, default_of

__all__ = ["add_parsers"]


def _data_args(p: argparse.ArgumentParser) -> None:
    from ..editors import filter_known

    p.add_argument(
        "--samples",
        help="samples: JSONL from 'editors data' or a CounterFact .json file "
        "(default: built from the shipped relations, filtered to known facts)",
    )
    p.add_argument("--relations", default="", help="comma-separated relation names to build samples from (default: all)")
    p.add_argument(
        "--known-top-k",
        type=int,
        default=default_of(filter_known, "top_k"),
        help="keep facts whose true object's first token is in the model's top k",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the sample build and the train/val/test split")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``editors`` with its sub-commands data, train, edit, eval and inspect."""
    from ..editors import EDITOR_KINDS, edit_generate, evaluate_edits, train_editor

    g = add_group(
        sub,
        "editors",
        "REMEDI editors (an attribute in words becomes an edit of an entity): data, train, edit, eval, inspect",
        "Train, apply, evaluate and inspect REMEDI editors. An editor reads and edits one block's output (resid_post).",
    )
    d = add_command(g, "data", "editors:_data", "build the CounterFact-style samples (and keep the ones the model knows)")
    _data_args(d)
    d.add_argument("--out", required=True, help="output JSONL file")
    d.add_argument("--all", action="store_true", help="keep every sample, known or not")
    add_model(d)

    t = add_command(g, "train", "editors:_train", "train an editor at one layer")
    t.add_argument("--layer", type=int, required=True, help="the block whose output the editor reads and edits")
    t.add_argument("--out", required=True, help="output folder (the editor artifact)")
    t.add_argument(
        "--kind",
        default=default_of(train_editor, "kind"),
        choices=[k for k, c in EDITOR_KINDS.items() if c.trainable],
        help="the editor's form",
    )
    t.add_argument("--rank", type=int, default=None, help="low-rank linear editor of this rank (default: full rank)")
    t.add_argument("--use-entity", action="store_true", help="also read the entity's state")
    t.add_argument("--n-train", type=int, default=2000, help="training samples (the rest of the train split is unused)")
    t.add_argument("--max-epochs", type=int, default=default_of(train_editor, "max_epochs"), help="epochs at most")
    t.add_argument("--batch-size", type=int, default=default_of(train_editor, "batch_size"), help="samples per step")
    t.add_argument("--lr", type=float, default=default_of(train_editor, "lr"), help="AdamW learning rate")
    t.add_argument(
        "--lam-kl", type=float, default=default_of(train_editor, "lam_kl"), help="weight of the KL term on other tokens"
    )
    t.add_argument(
        "--patience",
        type=int,
        default=default_of(train_editor, "patience"),
        help="epochs without validation improvement before stopping",
    )
    _data_args(t)
    add_model(t)

    e = add_command(g, "edit", "editors:_edit", "generate from a prompt with and without an edit")
    e.add_argument("prompt", help="the prompt to continue")
    e.add_argument("--entity", required=True, help="the entity (its first mention in the prompt is edited)")
    e.add_argument("--attribute", required=True, help="the attribute, e.g. 'is a famous chef'")
    e.add_argument("--context", default=None, help="a sentence containing the attribute (default: ENTITY ATTRIBUTE)")
    e.add_argument("--editor", required=True, help="an editor folder (from 'editors train')")
    e.add_argument("--strength", type=float, default=default_of(edit_generate, "strength"), help="strength of the edit direction")
    e.add_argument("--max-new-tokens", type=int, default=default_of(edit_generate, "max_new_tokens"), help="tokens to generate")
    e.add_argument("--sample", action="store_true", help="top-k 5 sampling instead of greedy decoding")
    add_model(e)

    v = add_command(g, "eval", "editors:_eval", "efficacy, paraphrase, neighbourhood, fluency, consistency vs baselines")
    v.add_argument("--editor", required=True, help="an editor folder (from 'editors train')")
    v.add_argument("--n-test", type=int, default=200, help="held-out test facts to score")
    v.add_argument(
        "--n-generation",
        type=int,
        default=default_of(evaluate_edits, "n_generation"),
        help="facts whose generations are scored for fluency and consistency",
    )
    v.add_argument(
        "--max-new-tokens", type=int, default=default_of(evaluate_edits, "max_new_tokens"), help="tokens per generation"
    )
    v.add_argument("--no-generation", action="store_true", help="skip the generation metrics (fluency, consistency)")
    v.add_argument("--out", help="JSON results file")
    _data_args(v)
    add_model(v)

    i = add_command(g, "inspect", "editors:_inspect", "REMEDI as a probe: contextual / decontextual accuracy and MCC")
    i.add_argument("--editor", required=True, help="an editor folder (from 'editors train')")
    i.add_argument("--entity-layers", default="", help="comma-separated blocks to read the entity at (default: a few)")
    i.add_argument("--n-test", type=int, default=200, help="held-out test facts")
    _data_args(i)
    add_model(i)


def _built(args: argparse.Namespace, tok):
    from ..editors import counterfact_from_relations

    names = [x.strip() for x in args.relations.split(",") if x.strip()] or None
    return counterfact_from_relations(names, tokenizer=tok, seed=args.seed)


def _known_ids(args: argparse.Namespace, model, tok, samples) -> set[str]:
    from ..editors.data import known_sample_ids

    ids = known_sample_ids(model, tok, samples, top_k=args.known_top_k, progress=True, cache=True)
    print(
        f"{len(ids)} of {len(samples)} facts are known (true object in the model's top {args.known_top_k}; "
        "remembered per model in $STEERLENS_HOME/known-facts)"
    )
    return ids


def _parts(args: argparse.Namespace, model, tok, known: bool = True):
    """train / validation / test parts: of a ``--samples`` file as given, or of the shipped relations split first
    and then filtered to known facts (as the shipped editor was trained, so its training facts never reach a
    test part)."""
    from ..editors import known_splits, load_samples, split_samples

    if args.samples:
        return split_samples(load_samples(args.samples), (0.8, 0.1, 0.1), seed=args.seed)
    built = _built(args, tok)
    if not known:
        return split_samples(built, (0.8, 0.1, 0.1), seed=args.seed)
    return known_splits(None, tok, built, seed=args.seed, known_ids=_known_ids(args, model, tok, built))


def _data(args: argparse.Namespace) -> int:
    from ..editors import load_samples, save_samples
    from ..loading import load_model

    model, tok = load_model(args.model)
    if args.samples:
        samples = load_samples(args.samples)
    else:
        samples = _built(args, tok)
        if not args.all:
            ids = _known_ids(args, model, tok, samples)
            samples = [s for s in samples if s.id in ids]
    print(f"{len(samples)} samples -> {save_samples(samples, args.out)}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from ..editors import train_editor
    from ..loading import load_model

    model, tok = load_model(args.model)
    parts = _parts(args, model, tok)
    train = parts["train"][: args.n_train]
    if not train or not parts["validation"]:
        raise DataFormatError("Too few samples to train on; give more relations or a larger --known-top-k.")
    opts = {"rank": args.rank, "use_entity": args.use_entity} if args.kind == "linear" else {}
    res = train_editor(
        model,
        tok,
        train,
        args.layer,
        validation=parts["validation"],
        kind=args.kind,
        max_epochs=args.max_epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        lam_kl=args.lam_kl,
        patience=args.patience,
        seed=args.seed,
        checkpoint=args.out,
        **opts,
    )
    path = res.editor.save(args.out, model=model, history=res.to_dict())
    print(
        f"editor ({res.editor.kind}, layer {res.editor.layer}) best epoch {res.best_epoch}"
        f"{' (UNTRAINED: no epoch beat the starting state; it makes no edit)' if res.untrained else ''}, "
        f"{res.seconds:.0f}s, {res.step_seconds:.3f}s/step -> {path}"
    )
    return 0


def _edit(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ..editors import Editor, edit_generate, sample_for
    from ..loading import load_model

    model, tok = load_model(args.model)
    editor = Editor.load(args.editor, model)
    s = sample_for(args.prompt, args.entity, args.attribute, args.context)
    kw = {"do_sample": True, "top_k": 5} if args.sample else {}
    out = edit_generate(model, tok, editor, [s], max_new_tokens=args.max_new_tokens, strength=args.strength, **kw)
    table = Table(title=f"edit at layer {editor.layer}: {s.entity!r} + {s.attribute!r}", show_lines=True)
    table.add_column("unedited")
    table.add_column("edited")
    table.add_row(f"[bold]{args.prompt}[/bold]{out.unedited[0]}", f"[bold]{args.prompt}[/bold]{out.edited[0]}")
    Console().print(table)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from ..editors import (
        Editor,
        EditorEdit,
        Prefix,
        Replace,
        Unedited,
        evaluate_edits,
        make_editor,
        results_table,
        write_results,
    )
    from ..loading import load_model

    model, tok = load_model(args.model)
    editor = Editor.load(args.editor, model)
    test = _parts(args, model, tok)["test"][: args.n_test]
    if not test:
        raise DataFormatError("No test samples; give more relations or a larger --known-top-k.")
    methods = [Unedited(), Prefix(), Replace(), EditorEdit(make_editor("null", model, editor.layer)), EditorEdit(editor)]
    results = evaluate_edits(
        model,
        tok,
        test,
        methods,
        generation=not args.no_generation,
        n_generation=args.n_generation,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
    )
    print(results_table(results))
    if args.out:
        print(f"results: {write_results(results, args.out, editor=editor.config())}")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from ..editors import Editor, inspect, make_editor
    from ..loading import load_model
    from ..model import resolve

    model, tok = load_model(args.model)
    editor = Editor.load(args.editor, model)
    n = resolve(model).n_layers
    layers = [int(x) for x in args.entity_layers.split(",") if x.strip()] or sorted({n // 4, n // 2, 3 * n // 4, n - 1})
    test = _parts(args, model, tok, known=False)["test"][: args.n_test]
    for layer in layers:
        for name, ed in (("remedi", editor), ("identity", make_editor("identity", model, editor.layer))):
            for contextual in (True, False):
                r = inspect(model, tok, ed, test, layer, contextual=contextual, seed=args.seed)
                print(
                    f"{name:9} {r.setting:13} entity layer {layer:>2}: accuracy {r.accuracy:.3f} F1 {r.f1:.3f} "
                    f"MCC {r.mcc:+.3f} | control task accuracy {r.control_accuracy:.3f} MCC {r.control_mcc:+.3f}"
                )
    return 0
