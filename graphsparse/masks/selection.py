"""How scores become masks: exact top-k selection, structured groups, N:M, drop/grow.

The library-wide rounding rule
------------------------------
A tensor (or, for ``scope="global"``, a set of tensors) of ``n`` entries at sparsity ``s`` keeps
exactly ``kept_count(n, s) = n - floor(s*n + 1e-9)`` entries. Iterative pruning uses the geometric
targets ``s_k = 1 - (1-p)^k`` (see :mod:`graphsparse.masks.schedules`), evaluated in float64, and
selects each round *within* the previous round's mask, so round ``k`` keeps exactly
``kept_count(n, s_k)`` entries as a subset of round ``k-1``, for every method.

Tie rule
--------
Scores are ranked in the *global order*: the tensors in the mapping's order, each flattened in
row-major (C) order. Among equal scores the entry with the **larger** global index is pruned first
(equivalently: the smaller index is kept first). The same rule applies to growth: among equal
scores the smaller index is grown first. Selection is therefore fully deterministic.

Selection is exact and does not sort. On large inputs a deterministic sample gives bounds
``lo <= hi`` around the k-th largest score; one pass per tensor writes ``score > hi`` straight
into the tensor's mask and keeps the indices of the narrow band ``lo <= score <= hi`` (through
one reused scratch buffer, so no full-size temporary besides the masks); the k-th value is found
among the band's values only, and the band entries above it, then the first ties in global
order, are set in the masks. When the bracket misses (rare) or the band is too wide (heavy
ties), or the input is small, the k-th value is located by repeated sampled brackets and the
masks built by one comparison pass per tensor. On 10^8 scores this is faster than
``torch.topk``/``torch.kthvalue`` on the concatenation (see ``benchmarks/masks_bench.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from graphsparse.masks._kth import common_dtype, select_largest
from graphsparse.checks import (
    ROUNDING_EPS,
    as_generator,
    check_int,
    check_mask_dict,
    check_not_meta,
    check_same_keys_and_shapes,
    check_scores,
    check_sparsity,
)

__all__ = [
    "kept_count",
    "topk_masks",
    "group_scores",
    "expand_groups",
    "group_masks",
    "nm_masks",
    "drop_lowest",
    "grow_highest",
    "grow_random",
]



def kept_count(n: int, sparsity: float) -> int:
    """Number of entries kept when ``n`` entries are pruned to ``sparsity``.

    ``n - floor(sparsity*n + 1e-9)``: the library-wide rounding rule.

    >>> kept_count(10, 0.3)
    7
    >>> kept_count(1000, 1 - 0.8**3)   # third geometric round at p = 0.2
    512
    """
    n = check_int(n, "n", low=0)
    s = check_sparsity(sparsity)
    return n - math.floor(s * n + ROUNDING_EPS)


def _excluded_scores(score: torch.Tensor, keep: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor:
    """Flattened scores in ``dtype``; entries outside ``keep`` become -inf (never selected)."""
    flat = score.detach().reshape(-1).to(dtype)
    if keep is None:
        return flat
    return torch.where(keep.reshape(-1), flat, torch.tensor(-math.inf, dtype=dtype))


def _available(name: str, keep: torch.Tensor | None, n: int, k: int, what: str) -> None:
    have = n if keep is None else int(keep.sum())
    if k > have:
        raise ValueError(f"{what} {name!r} has only {have} entries available (kept by `within`) "
                         f"but the target keeps {k}; selection never resurrects pruned entries")


def topk_masks(scores: Mapping[str, torch.Tensor], sparsity, scope: str = "global",
               within: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Turn scores into boolean masks that keep the highest-scoring entries.

    Args:
        scores: ``{name: tensor}`` of finite real scores (any shapes). Higher = more important.
            Any scores work: those of :mod:`graphsparse.masks.scoring` or the caller's own
            (for an edge mask: a 1-D tensor over edge ids).
        sparsity: target fraction of zeros, in [0, 1). A float, or ``{name: float}`` (local scope
            only) for per-tensor targets.
        scope: ``"local"``: each tensor of n entries keeps exactly ``n - floor(s*n + 1e-9)``.
            ``"global"``: all tensors together (N entries) keep exactly ``N - floor(s*N + 1e-9)``,
            ranked in the global order (mapping order, row-major flattening).
        within: optional ``{name: bool mask}`` with the same names and shapes; only entries it keeps
            can be kept again, so iterative rounds never resurrect anything. The target count is
            still relative to the full tensor size.

    Returns:
        ``{name: torch.bool tensor}`` shaped like ``scores[name]`` (True = kept).

    Ties: among equal scores the entry with the larger global index is pruned first.

    >>> import torch
    >>> m = topk_masks({"w": torch.tensor([0.1, 0.5, 0.5, 0.2])}, 0.5)
    >>> m["w"].tolist()
    [False, True, True, False]
    >>> topk_masks({"w": torch.ones(4)}, 0.5)["w"].tolist()   # ties: smaller index kept
    [True, True, False, False]
    """
    scores = check_scores(scores)
    if scope not in ("global", "local"):
        raise ValueError(f"scope must be 'global' or 'local', got {scope!r}")
    if within is not None:
        within = check_mask_dict(within, "within")
        check_same_keys_and_shapes(scores, within, "scores", "within")
    if isinstance(sparsity, Mapping):
        if scope != "local":
            raise ValueError("a per-tensor sparsity dict needs scope='local'; "
                             "scope='global' takes one float over all tensors")
        if set(sparsity) != set(scores):
            raise KeyError(f"sparsity dict must name exactly the scored tensors: missing "
                           f"{sorted(set(scores) - set(sparsity))}, unexpected "
                           f"{sorted(set(sparsity) - set(scores))}")
        targets = {k: check_sparsity(sparsity[k], f"sparsity[{k!r}]") for k in scores}
    else:
        s = check_sparsity(sparsity)
        targets = {k: s for k in scores}

    if scope == "local":
        out = {}
        for name, score in scores.items():
            keep = None if within is None else within[name]
            k = kept_count(score.numel(), targets[name])
            _available(name, keep, score.numel(), k, "tensor")
            chunk = _excluded_scores(score, keep, common_dtype([score]))
            out[name] = select_largest([chunk], k)[0].reshape(score.shape)
        return out

    names = list(scores)
    total = sum(scores[n].numel() for n in names)
    k = kept_count(total, targets[names[0]])
    if within is not None:
        have = sum(int(within[n].sum()) for n in names)
        if k > have:
            raise ValueError(f"`within` keeps only {have} entries over all tensors but the target "
                             f"keeps {k}; selection never resurrects pruned entries")
    dtype = common_dtype([scores[n] for n in names])
    chunks = [_excluded_scores(scores[n], None if within is None else within[n], dtype) for n in names]
    masks = select_largest(chunks, k)
    return {n: m.reshape(scores[n].shape) for n, m in zip(names, masks)}


# ----------------------------------------------------------------------------------------------
# structured groups
# ----------------------------------------------------------------------------------------------

_GROUPS = ("row", "column")
_REDUCE = ("l1", "l2", "sum", "mean", "max")


def _group_dims(t: torch.Tensor, group: str, name: str) -> tuple[int, ...]:
    if group not in _GROUPS:
        raise ValueError(f"group must be one of {_GROUPS}, got {group!r}")
    if group == "row":
        return tuple(range(1, t.dim()))
    if t.dim() < 2:
        raise ValueError(f"group='column' needs tensors with at least 2 dims; {name!r} has shape "
                         f"{tuple(t.shape)}")
    return (0,) + tuple(range(2, t.dim()))


def group_scores(scores: Mapping[str, torch.Tensor], group: str = "row",
                 reduce: str = "l2") -> dict[str, torch.Tensor]:
    """Reduce element scores to one score per group.

    Groups: ``"row"`` = dim 0 (output neurons of a Linear ``(out, in)`` weight, output channels of a
    Conv2d ``(out, in, kh, kw)`` weight; for a 1-D tensor each entry is its own group);
    ``"column"`` = dim 1 (input units / input channels).

    Args:
        scores: ``{name: tensor}``, e.g. weights or magnitude scores.
        group: ``"row"`` or ``"column"``.
        reduce: ``"l1"`` (Σ|x|), ``"l2"`` (sqrt Σx²), ``"sum"``, ``"mean"`` or ``"max"`` over the
            group's entries.

    Returns:
        ``{name: 1-D float tensor}`` of length ``shape[0]`` (rows) or ``shape[1]`` (columns).

    >>> import torch
    >>> group_scores({"w": torch.tensor([[3., 4.], [1., 0.]])}, "row")["w"].tolist()
    [5.0, 1.0]
    """
    scores = check_scores(scores)
    if reduce not in _REDUCE:
        raise ValueError(f"reduce must be one of {_REDUCE}, got {reduce!r}")
    out = {}
    for name, t in scores.items():
        dims = _group_dims(t, group, name)
        x = t.detach().to(torch.float64) if not t.is_floating_point() else t.detach()
        if not dims:
            x = x.abs() if reduce in ("l1", "l2") else x
        elif reduce == "l1":
            x = x.abs().sum(dim=dims)
        elif reduce == "l2":
            x = x.pow(2).sum(dim=dims).sqrt()
        elif reduce == "sum":
            x = x.sum(dim=dims)
        elif reduce == "mean":
            x = x.mean(dim=dims)
        else:
            x = x.amax(dim=dims)
        out[name] = x
    return out


def expand_groups(group_masks: Mapping[str, torch.Tensor], shapes: Mapping[str, Sequence[int]],
                  group: str = "row") -> dict[str, torch.Tensor]:
    """Expand 1-D group masks to element masks of the given shapes (a pruned row is all False).

    >>> import torch
    >>> expand_groups({"w": torch.tensor([True, False])}, {"w": (2, 3)})["w"].int().tolist()
    [[1, 1, 1], [0, 0, 0]]
    """
    group_masks = check_mask_dict(group_masks, "group_masks")
    out = {}
    for name, gm in group_masks.items():
        if name not in shapes:
            raise KeyError(f"shapes has no entry for {name!r}")
        shape = tuple(int(x) for x in shapes[name])
        probe = torch.empty(shape, device="meta")
        dims = _group_dims(probe, group, name)
        axis = 0 if group == "row" else 1
        if gm.dim() != 1 or gm.numel() != shape[axis]:
            raise ValueError(f"group_masks[{name!r}] must be 1-D of length {shape[axis]} for shape "
                             f"{shape} and group={group!r}, got shape {tuple(gm.shape)}")
        view = [1] * len(shape)
        view[axis] = shape[axis]
        out[name] = gm.reshape(view).expand(shape).clone() if dims else gm.clone()
    return out


def group_masks(scores: Mapping[str, torch.Tensor], sparsity, group: str = "row",
                reduce: str = "l2", scope: str = "local",
                within: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Structured selection: prune whole groups (neurons, input units, channels) by group score.

    The exact-count rule applies to *groups*: a tensor with g groups keeps
    ``g - floor(s*g + 1e-9)`` of them (local), or all groups of all tensors together (global).
    With ``within``, a group is available only if ``within`` still keeps at least one of its
    entries, and the result is intersected with ``within`` (nothing is resurrected).

    Returns element masks shaped like ``scores``.

    >>> import torch
    >>> w = torch.tensor([[3., 4.], [1., 0.], [0., 2.]])
    >>> group_masks({"w": w}, 1/3, group="row")["w"].int().tolist()
    [[1, 1], [0, 0], [1, 1]]
    """
    gs = group_scores(scores, group, reduce)
    group_within = None
    if within is not None:
        within = check_mask_dict(within, "within")
        check_same_keys_and_shapes(scores, within, "scores", "within")
        group_within = {name: group_scores({name: w.to(torch.float32)}, group, "max")[name] > 0
                        for name, w in within.items()}
    gm = topk_masks(gs, sparsity, scope=scope, within=group_within)
    masks = expand_groups(gm, {n: tuple(t.shape) for n, t in scores.items()}, group)
    if within is not None:
        masks = {n: m & within[n] for n, m in masks.items()}
    return masks


def nm_masks(scores: Mapping[str, torch.Tensor], n: int, m: int) -> dict[str, torch.Tensor]:
    """N:M semi-structured masks: in every block of ``m`` consecutive entries keep the ``n`` best.

    Blocks run along each row of the tensor viewed as ``(shape[0], -1)`` (the input dimension of
    a Linear weight; input channel × kernel for Conv2d, row-major); a 1-D tensor is one row.
    Every row length must be a multiple of ``m``. Ties: the smaller index is kept first.

    >>> import torch
    >>> nm_masks({"w": torch.tensor([[1., 4., 2., 3.]])}, 2, 4)["w"].int().tolist()
    [[0, 1, 0, 1]]
    """
    scores = check_scores(scores)
    n = check_int(n, "n", low=1)
    m = check_int(m, "m", low=1)
    if n > m:
        raise ValueError(f"n must be <= m, got n={n}, m={m}")
    out = {}
    for name, t in scores.items():
        rows = t.reshape(t.shape[0], -1) if t.dim() > 1 else t.reshape(1, -1)
        if rows.shape[1] % m:
            raise ValueError(f"{name!r}: row length {rows.shape[1]} is not a multiple of m={m}")
        blocks = rows.reshape(-1, m)
        order = torch.sort(blocks, dim=1, descending=True, stable=True).indices[:, :n]
        keep = torch.zeros(blocks.shape, dtype=torch.bool)
        keep.scatter_(1, order, True)
        out[name] = keep.reshape(t.shape)
    return out


# ----------------------------------------------------------------------------------------------
# drop / grow primitives for dynamic sparse training (SET, RigL) and metanetwork pruning
# ----------------------------------------------------------------------------------------------

def _check_pair(mask: torch.Tensor, scores: torch.Tensor, k: int) -> None:
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError("mask must be a torch.bool tensor")
    check_not_meta(mask, "mask")
    check_scores({"scores": check_not_meta(scores, "scores")})
    if tuple(mask.shape) != tuple(scores.shape):
        raise ValueError(f"scores shape {tuple(scores.shape)} must equal mask shape "
                         f"{tuple(mask.shape)}")
    check_int(k, "k", low=0)


def drop_lowest(mask: torch.Tensor, scores: torch.Tensor, k: int) -> torch.Tensor:
    """Remove the ``k`` kept entries of ``mask`` with the lowest ``scores``.

    Only kept entries can be dropped; ties: the larger index is dropped first. Returns a new mask
    with exactly ``mask.sum() - k`` kept entries.

    >>> import torch
    >>> drop_lowest(torch.tensor([True, True, False, True]), torch.tensor([3., 1., 0., 2.]), 1).tolist()
    [True, False, False, True]
    """
    _check_pair(mask, scores, k)
    kept = int(mask.sum())
    if k > kept:
        raise ValueError(f"k={k} exceeds the {kept} kept entries of mask")
    chunk = _excluded_scores(scores, mask, common_dtype([scores]))
    return select_largest([chunk], kept - k)[0].reshape(mask.shape)


def grow_highest(mask: torch.Tensor, scores: torch.Tensor, k: int) -> torch.Tensor:
    """Add the ``k`` empty positions of ``mask`` with the highest ``scores``.

    Never grows into an occupied position; ties: the smaller index is grown first. Returns a new
    mask with exactly ``mask.sum() + k`` kept entries (RigL grows by gradient magnitude).

    >>> import torch
    >>> grow_highest(torch.tensor([True, False, False, False]), torch.tensor([9., 1., 5., 5.]), 1).tolist()
    [True, False, True, False]
    """
    _check_pair(mask, scores, k)
    empty = ~mask
    free = int(empty.sum())
    if k > free:
        raise ValueError(f"k={k} exceeds the {free} empty positions of mask")
    chunk = _excluded_scores(scores, empty, common_dtype([scores]))
    grown = select_largest([chunk], k)[0].reshape(mask.shape)
    return mask | grown


def grow_random(mask: torch.Tensor, k: int, *, seed: int | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Add ``k`` positions chosen uniformly at random among the empty ones (SET regrowth).

    >>> import torch
    >>> m = grow_random(torch.zeros(10, dtype=torch.bool), 3, seed=0)
    >>> int(m.sum())
    3
    """
    gen = as_generator(seed, generator)
    scores = torch.rand(mask.shape, generator=gen, dtype=torch.float64)
    return grow_highest(mask, scores, k)
