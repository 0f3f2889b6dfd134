"""Shared pieces of the command line: the help formatter, commands, library defaults and dataclass options.

Every command is a leaf of a tree of real sub-commands (``steerlens steer train``); its options carry
help and show their default. Defaults come from the library (a function's signature or a config
dataclass), never typed twice, so the command line and the Python API cannot drift apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "Formatter",
    "add_command",
    "add_group",
    "default_of",
    "add_model",
    "model_sites",
    "add_dataclass",
    "dataclass_values",
]


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions keep their line breaks; every option's help ends with its default (when it has one)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or default is None
            or default is argparse.SUPPRESS
            or isinstance(default, bool)
            or not (action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE))
        ):
            return text
        shown = ",".join(str(x) for x in default) if isinstance(default, (list, tuple)) else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})"


def add_group(
    sub: argparse._SubParsersAction, name: str, help: str, description: str | None = None
) -> argparse._SubParsersAction:
    """A command that only holds sub-commands (``steerlens steer`` -> ``compare``, ``train``, ``sweep``)."""
    p = sub.add_parser(name, help=help, description=description or help, formatter_class=Formatter)
    p.set_defaults(run=None, parser=p)
    return p.add_subparsers(title="commands", metavar="COMMAND")


def add_command(
    sub: argparse._SubParsersAction, name: str, run: str, help: str, description: str | None = None
) -> argparse.ArgumentParser:
    """A leaf command; ``run`` is ``"module:function"`` under ``steerlens.cli``, imported only when it runs."""
    p = sub.add_parser(name, help=help, description=description or help, formatter_class=Formatter)
    p.set_defaults(run=run, parser=p)
    return p


def default_of(fn: Callable[..., Any], name: str) -> Any:
    """The default of parameter ``name`` in ``fn``'s signature (the library's value, so the CLI shows the same)."""
    param = inspect.signature(fn).parameters[name]
    if param.default is inspect.Parameter.empty:
        raise TypeError(f"{fn.__qualname__}() has no default for {name!r}.")
    return param.default


def add_model(p: argparse.ArgumentParser) -> None:
    """The ``--model`` option every command that runs a model has."""
    from ..loading import DEFAULT_MODEL

    p.add_argument(
        "--model", default=DEFAULT_MODEL, help="an embedded model name ('steerlens models' lists them) or a local HF model folder"
    )


def parse_floats(text: str) -> list[float]:
    """Comma-separated numbers, e.g. ``'2,4,8'``."""
    from ..errors import SteeringError

    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise SteeringError(f"Cannot read numbers from {text!r}; use e.g. '2,4,8'.") from exc


def model_sites(text: str, model: Any) -> list[Any]:
    """The sites a command-line site option names on ``model`` (see :func:`steerlens.model.parse_sites`)."""
    from ..model.architectures import resolve
    from ..model.site import parse_sites

    return parse_sites(text, resolve(model).n_layers)


def _parse_type(tp: Any) -> tuple[Callable[[str], Any] | None, Sequence[str] | None, bool]:
    """(converter, choices, is_flag) for a dataclass field's annotation."""
    origin = typing.get_origin(tp)
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        if len(args) == 1:
            return _parse_type(args[0])
        if all(typing.get_origin(a) is typing.Literal for a in args):
            return str, [str(v) for a in args for v in typing.get_args(a)], False
        raise TypeError(f"Cannot make a command-line option of type {tp!r}.")
    if origin is typing.Literal:
        values = typing.get_args(tp)
        return type(values[0]), list(values), False
    if tp is bool:
        return None, None, True
    if tp in (int, float, str):
        return tp, None, False
    raise TypeError(f"Cannot make a command-line option of type {tp!r}.")


def add_dataclass(
    p: argparse.ArgumentParser,
    cls: type,
    helps: Mapping[str, str],
    *,
    skip: Sequence[str] = (),
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """One option per field of the config dataclass ``cls`` (``--field-name``), typed, with its default.

    ``helps`` gives every option's help (a field without one is an error, so no option goes undocumented);
    ``defaults`` overrides a field's default for this command. Booleans become ``--flag`` / ``--no-flag``.
    """
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or f.name.startswith("_"):
            continue
        if f.name not in helps:
            raise TypeError(f"No help text for option --{f.name.replace('_', '-')} ({cls.__name__}.{f.name}).")
        if defaults and f.name in defaults:
            default = defaults[f.name]
        elif f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        conv, choices, flag = _parse_type(hints[f.name])
        opt = "--" + f.name.replace("_", "-")
        if flag:
            p.add_argument(
                opt,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=helps[f.name] + (" (default: on)" if default else " (default: off)"),
            )
        else:
            assert conv is not None  # only flags have no converter
            p.add_argument(opt, dest=f.name, type=conv, choices=choices, default=default, help=helps[f.name])


def dataclass_values(args: argparse.Namespace, cls: type, **extra: Any) -> Any:
    """An instance of ``cls`` from the options :func:`add_dataclass` added (fields not on the command line keep
    their defaults); ``extra`` sets further fields."""
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in vars(args).items() if k in names}
    return cls(**{**values, **extra})
