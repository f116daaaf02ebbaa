"""Multi-process training on ``torch.distributed``: the process group, shards, agreement checks.

``torchrun --nproc-per-node N -m graphsparse glt run ...`` starts N processes with the
``RANK``/``WORLD_SIZE``/``MASTER_ADDR`` environment; :func:`init_from_environment` joins them into
one process group (gloo on CPU, nccl on CUDA). Training then wraps the model in
``DistributedDataParallel`` (gradients averaged over ranks at every step; the trainable edge
mask and hook parameters, which live outside the model, are averaged by :func:`average_gradients`)
and each rank takes a disjoint shard of every epoch's seeds (:func:`shard`): one seeded
permutation, identical on every rank, cut into ``world_size`` equal parts. Masks, scores and
teacher logits are computed identically on every rank; :func:`check_agreement` verifies that
once per level with an all-reduced checksum. Only rank 0 writes files (:func:`is_writer`).
Without a process group every function is the single-process identity.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterable

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ["RankMismatchError", "average_gradients", "barrier", "check_agreement",
           "from_writer", "init_from_environment",
           "is_writer", "rank", "shard", "unwrap", "world_size", "wrap_model"]


class RankMismatchError(RuntimeError):
    """Ranks computed different masks, scores or teacher outputs (they must agree exactly)."""


def active() -> bool:
    """Whether a process group with more than one process is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if active() else 0


def world_size() -> int:
    """The number of training processes (1 without a process group)."""
    return dist.get_world_size() if active() else 1


def is_writer() -> bool:
    """True on the one process that writes rows and checkpoints (rank 0)."""
    return rank() == 0


def environment_world_size() -> int:
    """``WORLD_SIZE`` as torchrun sets it (1 when not started by torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_from_environment(device: torch.device) -> bool:
    """Join the process group torchrun describes in the environment (once per process).

    Returns True when running with more than one process. The backend is nccl for a CUDA
    ``device`` (each rank then uses ``cuda:LOCAL_RANK``), else gloo.
    """
    if environment_world_size() <= 1 or not dist.is_available():
        return False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        # leave the group cleanly at exit: a gloo group torn down by the interpreter's exit can
        # abort a rank ("terminate called without an active exception"), failing the run
        atexit.register(_leave)
    return active()


def _leave() -> None:
    """Destroy the process group this module created (at interpreter exit)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard(items: Tensor, *, what: str = "seed nodes") -> Tensor:
    """This rank's part of ``items``: disjoint equal-size parts ``items[r::W]`` of the first
    ``W·⌊len/W⌋`` items (at most ``W - 1`` items, different ones each epoch under a shuffled
    order, sit out an epoch so every rank runs the same number of steps)."""
    size = world_size()
    if size == 1:
        return items
    if items.numel() < size:
        raise ValueError(f"world size {size} is larger than the number of {what} "
                         f"({items.numel()}); use at most {items.numel()} processes")
    usable = (items.numel() // size) * size
    return items[:usable][rank()::size]


def barrier() -> None:
    """Wait for every rank (no-op single-process)."""
    if active():
        dist.barrier()


def from_writer(value: object) -> object:
    """Rank 0's ``value`` on every rank (a broadcast Python object; no-op single-process)."""
    if not active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def unwrap(model: nn.Module) -> nn.Module:
    """The user's model inside a ``DistributedDataParallel`` wrapper (else ``model``)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def wrap_model(model: nn.Module) -> nn.Module:
    """The model wrapped in ``DistributedDataParallel`` when running multi-process, else itself."""
    if not active():
        return model
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def average_gradients(params: Iterable[Tensor]) -> None:
    """Average the gradients of parameters outside the DDP model (edge mask, hooks) over ranks."""
    if not active():
        return
    size = world_size()
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        p.grad.div_(size)


def _checksum(tensors: Iterable[Tensor]) -> Tensor:
    """A float64 checksum that changes with any entry: Σ over tensors of Σ (i+1)·value."""
    total = torch.zeros((), dtype=torch.float64)
    for t in tensors:
        flat = t.detach().reshape(-1).to("cpu", torch.float64)
        weights = torch.arange(1, flat.numel() + 1, dtype=torch.float64)
        total += (flat * weights).sum()
    return total


def check_agreement(tensors: Iterable[Tensor], what: str) -> None:
    """Raise :class:`RankMismatchError` unless every rank holds the same ``tensors`` (compared
    through the all-reduced minimum and maximum of one checksum)."""
    if not active():
        return
    value = _checksum(tensors)
    device = torch.device("cuda", torch.cuda.current_device()) \
        if dist.get_backend() == "nccl" else torch.device("cpu")
    low, high = value.clone().to(device), value.clone().to(device)
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    if not torch.equal(low, high):
        raise RankMismatchError(f"ranks disagree on {what} (checksums from {float(low)} to "
                                f"{float(high)}); every rank must compute them identically")
