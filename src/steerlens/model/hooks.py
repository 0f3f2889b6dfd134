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

from .architectures import ModelSpec
from .site import Site

__all__ = ["HookGroup", "hook_group", "SiteFn"]

#: A site function receives the activation ``[batch, pos, d_model]`` and returns a replacement
#: tensor of the same shape, or ``None`` to leave it unchanged.
SiteFn = Callable[[torch.Tensor], "torch.Tensor | None"]


def _hidden_from_input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
    if args:
        return args[0]
    return kwargs["hidden_states"]


class HookGroup:
    """A set of hook handles that are removed together (and only they)."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self._handles: list[RemovableHandle] = []

    def __len__(self) -> int:
        return len(self._handles)

    def add_site(self, site: Site, fn: SiteFn) -> None:
        """Call ``fn`` on the activation at ``site`` at every forward pass; use its result if not ``None``."""
        module, where = self.spec.module_for(site)
        if where == "input":
            def pre_hook(mod: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]):
                new = fn(_hidden_from_input(args, kwargs))
                if new is None:
                    return None
                if args:
                    return (new, *args[1:]), kwargs
                return args, {**kwargs, "hidden_states": new}

            self._handles.append(module.register_forward_pre_hook(pre_hook, with_kwargs=True))
        else:
            def post_hook(mod: nn.Module, args: tuple[Any, ...], output: Any):
                hidden = output[0] if isinstance(output, tuple) else output
                new = fn(hidden)
                if new is None:
                    return None
                return (new, *output[1:]) if isinstance(output, tuple) else new

            self._handles.append(module.register_forward_hook(post_hook))

    def add_pre(self, module: nn.Module, fn: Callable[[tuple[Any, ...], dict[str, Any]], None]) -> None:
        """Observe the (args, kwargs) of any module's forward call, e.g. the decoder body's."""

        def pre_hook(mod: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            fn(args, kwargs)

        # prepend: position bookkeeping must run before any other hook of that module
        self._handles.append(module.register_forward_pre_hook(pre_hook, with_kwargs=True, prepend=True))

    def remove(self) -> None:
        """Remove every handle of this group (idempotent)."""
        while self._handles:
            self._handles.pop().remove()


@contextmanager
def hook_group(spec: ModelSpec) -> Iterator[HookGroup]:
    """Context manager yielding a :class:`HookGroup` whose hooks are removed on exit, error or not."""
    group = HookGroup(spec)
    try:
        yield group
    finally:
        group.remove()
