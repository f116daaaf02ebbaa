"""Node splits: the seeded, class-stratified :func:`random_node_split` (Shchur et al., 2018) for
datasets without a standard split, and helpers that store a split on a graph (see
:mod:`graphsparse.gnn.data`, "Splits")."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data

from graphsparse.checks import check_int

__all__ = [
    "TRAIN_PER_CLASS",
    "VAL_PER_CLASS",
    "index_to_mask",
    "random_node_split",
    "random_split_name",
    "set_node_split",
]

#: Training nodes per class of a random split.
TRAIN_PER_CLASS = 20
#: Validation nodes per class of a random split.
VAL_PER_CLASS = 30


def random_split_name(seed: int) -> str:
    """The ``split_name`` of a random split drawn with ``seed``."""
    return (f"random(seed={seed}; {TRAIN_PER_CLASS} train / {VAL_PER_CLASS} val per class; "
            "rest test)")


def index_to_mask(index: Tensor, size: int) -> Tensor:
    """A bool mask of length ``size``, True at ``index``."""
    mask = torch.zeros(size, dtype=torch.bool)
    mask[index] = True
    return mask


def set_node_split(data: Data, masks: tuple[Tensor, Tensor, Tensor]) -> None:
    """Store ``(train, valid, test)`` masks as ``data.train_mask``, ``val_mask``, ``test_mask``."""
    data.train_mask, data.val_mask, data.test_mask = masks


def random_node_split(
    y: Tensor,
    *,
    train_per_class: int = TRAIN_PER_CLASS,
    val_per_class: int = VAL_PER_CLASS,
    seed: int = 0,
) -> tuple[Tensor, Tensor, Tensor]:
    """A seeded, class-stratified node split: ``train_per_class`` + ``val_per_class`` per class.

    The protocol of Shchur et al. (*Pitfalls of GNN Evaluation*, 2018) for datasets without a
    standard split: nodes are put in one random order (``torch.randperm`` with a
    ``torch.Generator`` seeded by ``seed``); within each class the first ``train_per_class``
    nodes in that order are training nodes, the next ``val_per_class`` validation nodes, and all
    others test nodes. A class with fewer nodes fills training first, then validation. The same
    ``y`` and ``seed`` give the same split on every platform.

    Args:
        y: int labels, shape [N], values >= 0.
        train_per_class: training nodes per class (int >= 0).
        val_per_class: validation nodes per class (int >= 0).
        seed: int >= 0.

    Returns:
        ``(train_mask, val_mask, test_mask)``, disjoint bool tensors of shape [N] that cover
        every node.

    Example:
        >>> y = torch.tensor([0, 1] * 60)
        >>> train, val, test = random_node_split(y, seed=0)
        >>> int(train.sum()), int(val.sum()), int(test.sum())
        (40, 60, 20)
    """
    if y.dim() != 1 or y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(
            f"y must be a 1-D integer tensor of class ids, got {y.dtype} {tuple(y.shape)}"
        )
    if y.numel() and int(y.min()) < 0:
        raise ValueError("y must hold class ids >= 0")
    for arg, value in (("train_per_class", train_per_class), ("val_per_class", val_per_class),
                       ("seed", seed)):
        check_int(value, arg, low=0)
    n = y.numel()
    generator = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=generator)
    labels = y[perm].long()
    order = torch.argsort(labels, stable=True)  # groups classes, keeps the random order inside
    sorted_labels = labels[order]
    counts = torch.bincount(sorted_labels)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty(n, dtype=torch.long)
    rank[perm[order]] = torch.arange(n) - starts[sorted_labels]
    train = rank < train_per_class
    val = (rank >= train_per_class) & (rank < train_per_class + val_per_class)
    return train, val, ~(train | val)
