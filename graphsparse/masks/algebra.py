"""Mask algebra and comparison: and / or / difference, IoU, Hamming distance, kept fraction.

Every function takes two mask sets ``{name: torch.bool tensor}`` with the same names and shapes
(a single tensor is accepted too and treated as ``{"": tensor}``), so tickets can be compared
across rounds, seeds and methods — for weight masks and edge masks alike.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from graphsparse.checks import check_mask_dict, check_same_keys_and_shapes

__all__ = ["mask_and", "mask_or", "mask_difference", "iou", "hamming", "kept_fraction"]

Masks = Mapping[str, torch.Tensor] | torch.Tensor


def _pair(a: Masks, b: Masks) -> tuple[dict, dict, bool]:
    single = isinstance(a, torch.Tensor)
    if single != isinstance(b, torch.Tensor):
        raise TypeError("a and b must both be mask dicts or both be tensors")
    if single:
        a, b = {"": a}, {"": b}
    a = check_mask_dict(a, "a")
    b = check_mask_dict(b, "b")
    check_same_keys_and_shapes(a, b, "a", "b")
    return a, b, single


def _combine(a: Masks, b: Masks, op) -> Masks:
    a, b, single = _pair(a, b)
    out = {n: op(a[n], b[n]) for n in a}
    return out[""] if single else out


def mask_and(a: Masks, b: Masks) -> Masks:
    """Entries kept by both.

    >>> import torch
    >>> mask_and(torch.tensor([True, True]), torch.tensor([True, False])).tolist()
    [True, False]
    """
    return _combine(a, b, torch.logical_and)


def mask_or(a: Masks, b: Masks) -> Masks:
    """Entries kept by either."""
    return _combine(a, b, torch.logical_or)


def mask_difference(a: Masks, b: Masks) -> Masks:
    """Entries kept by ``a`` but not by ``b`` (``a ∧ ¬b``)."""
    return _combine(a, b, lambda x, y: x & ~y)


def _count(masks: dict, fn) -> int:
    return sum(int(fn(m).sum()) for m in masks.values())


def iou(a: Masks, b: Masks) -> float:
    """Jaccard index ``|a ∧ b| / |a ∨ b|`` over all entries (1.0 when both are empty).

    >>> import torch
    >>> iou(torch.tensor([True, True, False]), torch.tensor([True, False, True]))
    0.3333333333333333
    """
    a, b, _ = _pair(a, b)
    inter = sum(int((a[n] & b[n]).sum()) for n in a)
    union = sum(int((a[n] | b[n]).sum()) for n in a)
    return 1.0 if union == 0 else inter / union


def hamming(a: Masks, b: Masks, normalized: bool = False) -> float | int:
    """Number of entries where ``a`` and ``b`` differ (or that fraction of all entries).

    >>> import torch
    >>> hamming(torch.tensor([True, True, False]), torch.tensor([True, False, True]))
    2
    """
    a, b, _ = _pair(a, b)
    diff = sum(int((a[n] ^ b[n]).sum()) for n in a)
    if normalized:
        total = sum(m.numel() for m in a.values())
        return diff / total if total else 0.0
    return diff


def kept_fraction(a: Masks, by: Masks) -> float:
    """Fraction of ``a``'s kept entries that ``by`` also keeps: ``|a ∧ by| / |a|``.

    E.g. how much of round k's ticket survives in round k+1, or how much of one seed's ticket
    another seed finds. Raises if ``a`` keeps nothing.

    >>> import torch
    >>> kept_fraction(torch.tensor([True, True, False]), by=torch.tensor([True, False, True]))
    0.5
    """
    a, by, _ = _pair(a, by)
    kept = sum(int(m.sum()) for m in a.values())
    if kept == 0:
        raise ValueError("a keeps no entries: the kept fraction is undefined")
    return sum(int((a[n] & by[n]).sum()) for n in a) / kept
