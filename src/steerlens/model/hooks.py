"""Scoped PyTorch hooks on sites.

Every hook steerlens installs is owned by a :class:`HookGroup`, which removes exactly the handles
it created (never anybody else's), also when the code inside raises. Hook functions never modify
a tensor in place: an edit returns a new tensor that replaces the module's input or output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from ..errors import SiteError
from .architectures import ModelSpec, flat_streams, unstack
from .site import Site

__all__ = ["HookGroup", "hook_group", "SiteFn"]

#: A site function receives the activation ``[batch, pos, d_model]`` and returns a replacement
#: tensor of the same shape, or ``None`` to leave it unchanged.
SiteFn = Callable[[torch.Tensor], "torch.Tensor | None"]


def _hidden_from_input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
    if args:
        return args[0]
    return kwargs["hidden_states"]


class _Dispatch:
    """The one torch hook steerlens keeps on a module (per direction), running its functions in order.

    It is registered *first* among the module's hooks, so edits are visible to every other hook
    (Hugging Face records ``output_hidden_states`` with forward hooks of its own), and it is removed
    as soon as no steerlens function is left on the module.
    """

    def __init__(self, module: nn.Module, where: str) -> None:
        self.module, self.where = module, where
        self.fns: dict[int, SiteFn] = {}
        self._next = 0
        self._handle: RemovableHandle | None = None

    @staticmethod
    def of(module: nn.Module, where: str) -> _Dispatch:
        key = f"_steerlens_dispatch_{where}"
        disp = module.__dict__.get(key)
        if disp is None:
            disp = module.__dict__[key] = _Dispatch(module, where)
        return disp

    def add(self, fn: SiteFn) -> int:
        token = self._next
        self._next += 1
        self.fns[token] = fn
        if self._handle is None:
            if self.where == "input":
                self._handle = self.module.register_forward_pre_hook(self._pre, with_kwargs=True, prepend=True)
            else:
                self._handle = self.module.register_forward_hook(self._post, prepend=True)
        return token

    def discard(self, token: int) -> None:
        self.fns.pop(token, None)
        if not self.fns and self._handle is not None:
            self._handle.remove()
            self._handle = None
            self.module.__dict__.pop(f"_steerlens_dispatch_{self.where}", None)

    def _run(self, hidden: torch.Tensor) -> torch.Tensor | None:
        changed = None
        for fn in list(self.fns.values()):
            new = fn(hidden if changed is None else changed)
            if new is not None:
                changed = new
        return changed

    def _pre(self, mod: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]):
        new = self._run(_hidden_from_input(args, kwargs))
        if new is None:
            return None
        if args:
            return (new, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": new}

    def _post(self, mod: nn.Module, args: tuple[Any, ...], output: Any):
        seq = isinstance(output, (tuple, list))  # GPT-1's block returns a list
        new = self._run(output[0] if seq else output)
        if new is None:
            return None
        if isinstance(output, list):
            return [new, *output[1:]]
        return (new, *output[1:]) if seq else new


class HookGroup:
    """A set of steerlens hooks that are removed together (and only they).

    Functions added at the same site run in the order they were added, across groups, so nested
    interventions compose outer-first. They run before any hook other code put on the module.
    """

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self._removers: list[Callable[[], None]] = []

    def __len__(self) -> int:
        return len(self._removers)

    def add_site(self, site: Site, fn: SiteFn) -> None:
        """Call ``fn`` on the activation at ``site`` at every forward pass; use its result if not ``None``."""
        module, where = self.spec.module_for(site)
        part = self.spec.part(site)
        if part is not None and part.flat:
            fn = self._unflatten(site, fn)
        if part is not None and part.plus:
            fn = self._summed(site, part.plus, fn)
        if part is None and self.spec.stacked_streams:
            fn = self._flat_streams(fn, self.spec.streams, self.spec.stacked_streams)
        if self.spec.prefix_positions:
            fn = self._after_prefix(fn)
        disp = _Dispatch.of(module, where)
        token = disp.add(fn)
        self._removers.append(lambda: disp.discard(token))

    def _summed(self, site: Site, plus: tuple[str, ...], fn: SiteFn) -> SiteFn:
        """Wrap ``fn`` for a site that is the sum of this module's output and earlier modules' outputs:
        ``fn`` sees the sum, and its result minus the earlier outputs becomes this module's output."""
        block = self.spec.blocks[site.layer]
        seen: dict[str, torch.Tensor] = {}
        for path in plus:

            def record(mod: nn.Module, args: tuple[Any, ...], output: Any, path: str = path) -> None:
                out = output[0] if isinstance(output, (tuple, list)) else output
                seen[path] = out.detach().clone()  # the model may add into it in place later

            # appended (not prepended): it sees the module's final output, after any steerlens edit there
            handle = block.get_submodule(path).register_forward_hook(record)
            self._removers.append(handle.remove)

        def wrapped(h: torch.Tensor) -> torch.Tensor | None:
            others = sum(seen[p].reshape(h.shape).to(h.dtype) for p in plus)
            new = fn(h + others)
            return None if new is None else new - others

        return wrapped

    def _after_prefix(self, fn: SiteFn) -> SiteFn:
        """Wrap ``fn`` for a model that prepends positions to the prompt inside its blocks (CPM-Ant): ``fn`` sees the
        token positions only; the prepended ones pass through unchanged."""
        from .positions import call_inputs

        call: dict[str, int] = {}
        self.add_pre(self.spec.base, lambda args, kwargs: call.__setitem__("tokens", call_inputs(args, kwargs)[2]))

        prefix = self.spec.prefix_positions

        def wrapped(h: torch.Tensor) -> torch.Tensor | None:
            skip = h.shape[1] - call["tokens"]
            if skip == 0:  # a pass continued from a cache that already holds the prefix
                return fn(h)
            if skip != prefix:
                raise SiteError(
                    f"The activation has {h.shape[1]} positions for a call of {call['tokens']} tokens; this model prepends "
                    f"{prefix}, so steerlens cannot tell which positions are the tokens."
                )
            new = fn(h[:, skip:])
            return None if new is None else torch.cat([h[:, :skip], new], dim=1)

        return wrapped

    @staticmethod
    def _flat_streams(fn: SiteFn, streams: int, stacked: str) -> SiteFn:
        """Wrap ``fn`` for a residual carried as several stacked streams: it sees ``[batch, tokens, streams * d]``."""

        def wrapped(h: torch.Tensor) -> torch.Tensor | None:
            new = fn(flat_streams(h, stacked))
            return None if new is None else unstack(new, streams, stacked)

        return wrapped

    def _unflatten(self, site: Site, fn: SiteFn) -> SiteFn:
        """Wrap ``fn`` for a module whose output is ``[batch * tokens, d]``: it sees ``[batch, tokens, d]``."""
        shape: dict[str, torch.Size] = {}

        def record(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            shape["bt"] = _hidden_from_input(args, kwargs).shape[:2]

        self.add_pre(self.spec.blocks[site.layer], record)

        def wrapped(h: torch.Tensor) -> torch.Tensor | None:
            b, t = shape["bt"]
            new = fn(h.reshape(b, t, h.shape[-1]))
            return None if new is None else new.reshape(h.shape)

        return wrapped

    def add_pre(self, module: nn.Module, fn: Callable[[tuple[Any, ...], dict[str, Any]], None]) -> None:
        """Observe the (args, kwargs) of any module's forward call, e.g. the decoder body's."""

        def pre_hook(mod: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            fn(args, kwargs)

        # prepend: position bookkeeping must run before any other hook of that module
        handle = module.register_forward_pre_hook(pre_hook, with_kwargs=True, prepend=True)
        self._removers.append(handle.remove)

    def remove(self) -> None:
        """Remove every hook of this group (idempotent)."""
        while self._removers:
            self._removers.pop()()


@contextmanager
def hook_group(spec: ModelSpec) -> Iterator[HookGroup]:
    """Context manager yielding a :class:`HookGroup` whose hooks are removed on exit, error or not."""
    group = HookGroup(spec)
    try:
        yield group
    finally:
        group.remove()
