"""Where this process stands in a ``torch.distributed`` job (launched by ``torchrun``), and the few collectives
steerlens needs. Everything here is a no-op in a single process.

``torchrun --nproc-per-node N`` sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``;
:func:`init_from_env` starts the process group from them (``gloo`` on CPU, ``nccl`` when CUDA is there),
and :func:`world` says which rank this is and how many there are.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Sequence
from typing import TypeVar

import torch
import torch.distributed as dist

from .errors import ConfigError

T = TypeVar("T")

__all__ = [
    "world",
    "group_world",
    "init_from_env",
    "shutdown",
    "barrier",
    "is_main",
    "all_reduce_sum",
    "shard_model",
    "is_sharded",
    "share",
]


def world() -> tuple[int, int]:
    """``(rank, world_size)``: from the initialised process group, else from ``RANK``/``WORLD_SIZE``, else ``(0, 1)``."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    try:
        rank, size = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError as exc:
        raise ConfigError(
            f"RANK and WORLD_SIZE must be integers, got {os.environ.get('RANK')!r} and {os.environ.get('WORLD_SIZE')!r}."
        ) from exc
    if not 0 <= rank < size:
        raise ConfigError(f"RANK={rank} is not in [0, WORLD_SIZE={size}).")
    return rank, size


def group_world() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised process group, else ``(0, 1)``.

    Training code shares work only inside a process group (its results are summed with collectives), so a
    script launched by ``torchrun`` that never started one trains as N independent single processes instead
    of silently training on 1/N of the data: call :func:`init_from_env` first.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(backend: str | None = None) -> bool:
    """Start the process group when launched by ``torchrun`` with more than one process; ``True`` if one is running.

    ``backend`` defaults to ``nccl`` when CUDA is available, else ``gloo``.
    """
    if not dist.is_available():
        return False
    if dist.is_initialized():
        return True
    _, size = world()
    if size <= 1:
        return False
    dist.init_process_group(backend or ("nccl" if torch.cuda.is_available() else "gloo"))
    # A process that exits with its process group alive can abort in the backend's teardown ("terminate called
    # without an active exception", SIGABRT, seen with gloo about once in 30 runs), and torchrun then reports the
    # whole job failed. Destroying the group at exit avoids that; scripts can call shutdown() themselves earlier.
    atexit.register(_destroy)
    return True


def shutdown() -> None:
    """End the process group cleanly: wait for every rank, then destroy it (no-op without a process group).

    Call it at the end of a ``torchrun`` script, after the last collective. Without it, :func:`init_from_env`
    still destroys the group when the interpreter exits, but without the barrier.
    """
    barrier()
    _destroy()


def _destroy() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op without a process group)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def is_main() -> bool:
    """Whether this is rank 0 (the one that logs, shows progress and writes shared files)."""
    return world()[0] == 0


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """``t`` summed over ranks, in place (no-op without a process group)."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def shard_model(model: torch.nn.Module) -> torch.nn.Module:
    """Shard a frozen model's decoder blocks over the ranks with PyTorch FSDP (``fully_shard``), in place.

    For a model too large for one device: each rank keeps 1/N of every block's weights and gathers a block's
    full weights only while that block runs. The embeddings, final norm and unembedding stay whole on every
    rank (lenses and fingerprints read them directly). The weights are frozen. Every steerlens function then
    works on the model as before -- hooks see each block's full activations -- with one rule: **every rank must
    run the same number of forward passes**, since each pass gathers weights from all of them. steerlens'
    training loops (tuned lens, editors, LREs) keep their ranks in step for a sharded model; forward passes
    that read only some sites run the whole model (no early stop), so all ranks stay in step.

    Needs an initialised process group (:func:`init_from_env`); returns ``model``.
    """
    from .model.architectures import resolve

    if not (dist.is_available() and dist.is_initialized()):
        raise ConfigError("shard_model needs a process group: launch with torchrun and call init_from_env() first.")
    try:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard
    except ImportError as exc:  # pragma: no cover - torch < 2.6
        raise ConfigError(f"shard_model needs PyTorch's FSDP2 (torch.distributed.fsdp.fully_shard): {exc}") from exc
    if is_sharded(model):
        return model
    spec = resolve(model)
    device = next(model.parameters()).device
    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    for p in model.parameters():
        p.requires_grad_(False)
    for block in spec.blocks:
        fully_shard(block, mesh=mesh, reshard_after_forward=True)
    model.__dict__["_steerlens_sharded"] = True
    return model


def is_sharded(model: torch.nn.Module) -> bool:
    """Whether :func:`shard_model` sharded this model's blocks (then ranks must run forward passes in step)."""
    return bool(model.__dict__.get("_steerlens_sharded", False))


def share(items: Sequence[T], model: torch.nn.Module | None = None, what: str = "items") -> list[T]:
    """This rank's share of ``items`` (every ``world_size``-th, from its rank) inside a process group, else all.

    With a model sharded by :func:`shard_model`, every rank must run as many forward passes as the others, so
    the items must split evenly: otherwise a :class:`~steerlens.errors.ConfigError` says how to fix it.
    """
    rank, size = group_world()
    if size > 1 and model is not None and is_sharded(model) and len(items) % size:
        raise ConfigError(
            f"{len(items)} {what} do not split evenly over {size} ranks, and the model is sharded (shard_model): every "
            f"rank must run the same number of forward passes. Use a multiple of {size}."
        )
    return list(items)[rank::size]
