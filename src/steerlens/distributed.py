"""Where this process stands in a ``torch.distributed`` job (launched by ``torchrun``), and the few collectives
steerlens needs. Everything here is a no-op in a single process.

``torchrun --nproc-per-node N`` sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``;
:func:`init_from_env` starts the process group from them (``gloo`` on CPU, ``nccl`` when CUDA is there),
and :func:`world` says which rank this is and how many there are.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from .errors import ConfigError

__all__ = ["world", "group_world", "init_from_env", "barrier", "is_main", "all_reduce_sum"]


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
    return True


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
