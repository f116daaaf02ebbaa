"""Argument checks shared by the mask toolkit: one wording for every bad-input error."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

# Tolerance used by the library-wide rounding rule: a tensor of n entries at sparsity s keeps
# exactly n - floor(s*n + ROUNDING_EPS) entries. The epsilon absorbs float error such as
# 0.3*10 = 2.9999999999999996, so that "30% of 10" prunes 3 entries, not 2.
ROUNDING_EPS = 1e-9


def check_sparsity(value, name: str = "sparsity") -> float:
    """Return ``value`` as a float in [0, 1); raise ``ValueError`` naming ``name`` otherwise."""
    try:
        s = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number in [0, 1), got {value!r}") from None
    if math.isnan(s) or not 0.0 <= s < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return s


def check_density(value, name: str = "density") -> float:
    """Return ``value`` as a float in (0, 1]; raise ``ValueError`` naming ``name`` otherwise."""
    try:
        d = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number in (0, 1], got {value!r}") from None
    if math.isnan(d) or not 0.0 < d <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    return d


def check_tensor_dict(tensors, name: str) -> dict[str, torch.Tensor]:
    """Check that ``tensors`` is a non-empty mapping of str to tensors and return it as a dict."""
    if not isinstance(tensors, Mapping):
        raise TypeError(f"{name} must be a mapping {{name: tensor}}, got {type(tensors).__name__}")
    if len(tensors) == 0:
        raise ValueError(f"{name} is empty: expected at least one {{name: tensor}} entry")
    out = {}
    for key, t in tensors.items():
        if not isinstance(key, str):
            raise TypeError(f"{name} keys must be str, got {key!r}")
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}[{key!r}] must be a torch.Tensor, got {type(t).__name__}")
        out[key] = t
    return out


def check_scores(scores, name: str = "scores") -> dict[str, torch.Tensor]:
    """Check a score dict: non-empty, floating or integer tensors, every entry finite."""
    scores = check_tensor_dict(scores, name)
    for key, t in scores.items():
        if t.dtype == torch.bool or t.is_complex():
            raise TypeError(f"{name}[{key!r}] must be a real-valued tensor, got dtype {t.dtype}")
        if t.is_floating_point() and t.numel() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise ValueError(f"{name}[{key!r}] has {bad} non-finite entries (NaN or inf); "
                             "scores must be finite")
    return scores


def check_mask_dict(masks, name: str = "masks") -> dict[str, torch.Tensor]:
    """Check a mask dict: non-empty mapping of str to ``torch.bool`` tensors."""
    masks = check_tensor_dict(masks, name)
    for key, m in masks.items():
        if m.dtype != torch.bool:
            raise TypeError(f"{name}[{key!r}] must be a torch.bool tensor, got dtype {m.dtype} "
                            "(convert with `.bool()` after checking it holds only 0/1)")
    return masks


def check_same_keys_and_shapes(a: Mapping, b: Mapping, name_a: str, name_b: str) -> None:
    """Raise if the two dicts differ in keys or in the shape of any entry."""
    if set(a.keys()) != set(b.keys()):
        missing = sorted(set(a) - set(b))
        extra = sorted(set(b) - set(a))
        raise KeyError(f"{name_b} must have the same names as {name_a}: "
                       f"missing {missing}, unexpected {extra}")
    for key in a:
        if tuple(a[key].shape) != tuple(b[key].shape):
            raise ValueError(f"shape mismatch for {key!r}: {name_a} has {tuple(a[key].shape)}, "
                             f"{name_b} has {tuple(b[key].shape)}")


def as_generator(seed=None, generator: torch.Generator | None = None) -> torch.Generator:
    """Return a CPU ``torch.Generator`` from exactly one of ``seed`` (int) or ``generator``.

    Every random choice in graphsparse takes one of the two, so the same seed gives the same
    masks bit for bit (at a fixed thread count).
    """
    if generator is not None:
        if seed is not None:
            raise ValueError("pass either seed or generator, not both")
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        return generator
    if seed is None:
        raise ValueError("a seed (int) or a torch.Generator is required: every random choice in "
                         "graphsparse is seeded")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")
    g = torch.Generator()
    g.manual_seed(seed)
    return g
