"""Argument checks for the whole library: one wording, one argument order.

Every check takes ``(value, name, ...)`` — the value first, then the argument's name as the
user typed it — returns the value in canonical form and raises before anything is computed
or written: ``TypeError`` for a value of the wrong kind, ``ValueError`` for one out of range;
the message names the argument and the allowed range. Nothing is ever clipped.

Example:
    >>> check_int(3, "epochs", low=1)
    3
    >>> check_fraction(0.25, "p_graph")
    0.25
    >>> check_int(0, "epochs", low=1)
    Traceback (most recent call last):
    ...
    ValueError: epochs must be an int >= 1, got 0
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from itertools import chain
from typing import Any

import torch
from torch import nn

__all__ = [
    "ROUNDING_EPS",
    "as_generator",
    "check_binary_mask",
    "check_bool",
    "check_choice",
    "check_density",
    "check_edge_index",
    "check_float",
    "check_fraction",
    "check_int",
    "check_int_list",
    "check_known",
    "check_mask_dict",
    "check_not_meta",
    "check_same_keys_and_shapes",
    "check_scores",
    "check_sparsity",
    "check_tensor_dict",
    "refuses_meta",
]

# Tolerance used by the library-wide rounding rule: a tensor of n entries at sparsity s keeps
# exactly n - floor(s*n + ROUNDING_EPS) entries. The epsilon absorbs float error such as
# 0.3*10 = 2.9999999999999996, so that "30% of 10" prunes 3 entries, not 2.
ROUNDING_EPS = 1e-9


def _int_range(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"in [{low}, {high}]"
    if low is not None:
        return f">= {low}"
    return f"<= {high}" if high is not None else ""


def check_int(value: Any, name: str, *, low: int | None = None,
              high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]`` (either bound optional); bools are refused.

    >>> check_int(2, "num_layers", low=1, high=8)
    2
    """
    text = f"an int {_int_range(low, high)}".rstrip()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {text}, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {text}, got {value!r}")
    return value


def check_int_list(values: Any, name: str, *, low: int | None = None) -> list[int]:
    """A non-empty list/tuple/range of ints ``>= low``, as a list in the given order.

    >>> check_int_list(range(1, 4), "levels", low=1)
    [1, 2, 3]
    """
    items = list(values) if isinstance(values, (list, tuple, range)) else None
    if not items:
        raise ValueError(f"{name} must be a non-empty list of ints {_int_range(low, None)}, "
                         f"got {values!r}")
    for item in items:
        if isinstance(item, bool) or not isinstance(item, numbers.Integral) \
                or (low is not None and item < low):
            raise ValueError(f"{name} must be a non-empty list of ints "
                             f"{_int_range(low, None)}, got {values!r}")
    return [int(item) for item in items]


def _float_range(low: float | None, high: float | None, open_low: bool, open_high: bool) -> str:
    if low is not None and high is not None:
        return ("(" if open_low else "[") + f"{low:g}, {high:g}" + (")" if open_high else "]")
    if low is not None:
        return f"{'>' if open_low else '>='} {low:g}"
    if high is not None:
        return f"{'<' if open_high else '<='} {high:g}"
    return ""


def check_float(value: Any, name: str, *, low: float | None = None, high: float | None = None,
                open_low: bool = False, open_high: bool = False) -> float:
    """``value`` as a finite float within the bounds (each optional, closed unless ``open_*``).

    >>> check_float(1e-3, "lr", low=0.0, open_low=True)
    0.001
    """
    allowed = _float_range(low, high, open_low, open_high)
    text = f"a finite number {allowed}".rstrip() if low is None or high is None \
        else f"a number in {allowed}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {text}, got {value!r}")
    number = float(value)
    below = low is not None and (number <= low if open_low else number < low)
    above = high is not None and (number >= high if open_high else number > high)
    if not math.isfinite(number) or below or above:
        raise ValueError(f"{name} must be {text}, got {value!r}")
    return number


def check_fraction(value: Any, name: str, *, open_low: bool = False,
                   open_high: bool = True) -> float:
    """``value`` as a float in ``[0, 1)`` (default; the bounds' openness is adjustable).

    >>> check_fraction(0.2, "p_weight")
    0.2
    """
    return check_float(value, name, low=0.0, high=1.0, open_low=open_low, open_high=open_high)


def check_sparsity(value: Any, name: str = "sparsity") -> float:
    """A sparsity: a float in ``[0, 1)``."""
    return check_fraction(value, name)


def check_density(value: Any, name: str = "density") -> float:
    """A density: a float in ``(0, 1]``."""
    return check_fraction(value, name, open_low=True, open_high=False)


def check_bool(value: Any, name: str) -> bool:
    """``value`` if it is ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_choice(value: Any, name: str, allowed: Iterable[Any]) -> Any:
    """``value`` if it is one of ``allowed``.

    >>> check_choice("weight", "mode", ("remove", "weight", "message"))
    'weight'
    """
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def check_known(value: Any, kind: str, known: Iterable[str]) -> str:
    """``value`` if it names a registered ``kind`` (a method, model, dataset, score, ...).

    >>> check_known("gcn", "model", ("gcn", "gin"))
    'gcn'
    """
    known = tuple(known)
    if value not in known:
        raise ValueError(f"unknown {kind} {value!r}; valid {kind}s: "
                         f"{', '.join(map(repr, known))}")
    return value


def check_edge_index(edge_index: Any, num_nodes: int | None = None,
                     name: str = "edge_index") -> torch.Tensor:
    """A dense ``[2, E]`` integer tensor of edge ids with data (not on the meta device); with
    ``num_nodes``, every index in ``[0, num_nodes)`` (without, no value is read).

    >>> check_edge_index(torch.tensor([[0, 1], [1, 0]]), 2).shape
    torch.Size([2, 2])
    """
    if not isinstance(edge_index, torch.Tensor) or edge_index.layout != torch.strided:
        raise TypeError(f"{name} must be a dense [2, E] integer tensor of edge ids (COO); got "
                        f"{type(edge_index).__name__}"
                        + ("" if not isinstance(edge_index, torch.Tensor)
                           else f" with layout {edge_index.layout}")
                        + " — sparse adjacency inputs carry no edge ids")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"{name} must have shape [2, E], got {tuple(edge_index.shape)}")
    check_not_meta(edge_index, name)
    dtype = edge_index.dtype
    if dtype.is_floating_point or dtype.is_complex or dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor, got dtype {edge_index.dtype}")
    if num_nodes is not None and edge_index.numel():
        low, high = int(edge_index.min()), int(edge_index.max())
        if low < 0 or high >= num_nodes:
            raise ValueError(f"{name} entries must lie in [0, {num_nodes}) (num_nodes "
                             f"{num_nodes}), got min {low}, max {high}")
    return edge_index


def check_tensor_dict(tensors: Any, name: str) -> dict[str, torch.Tensor]:
    """A non-empty mapping of str to tensors, as a dict."""
    if not isinstance(tensors, Mapping):
        raise TypeError(f"{name} must be a mapping {{name: tensor}}, got {type(tensors).__name__}")
    if len(tensors) == 0:
        raise ValueError(f"{name} is empty: expected at least one {{name: tensor}} entry")
    out = {}
    for key, tensor in tensors.items():
        if not isinstance(key, str):
            raise TypeError(f"{name} keys must be str, got {key!r}")
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"{name}[{key!r}] must be a torch.Tensor, got "
                            f"{type(tensor).__name__}")
        out[key] = tensor
    return out


def _all_finite(tensor: torch.Tensor) -> bool:
    """Whether every entry of a floating tensor is finite, from its min and max in one pass
    (a NaN or an infinity makes one of them non-finite; about 40× less time than
    ``isfinite(...).all()`` on 2M floats here)."""
    low, high = torch.aminmax(tensor.detach())
    return bool(torch.isfinite(low) & torch.isfinite(high))


def check_scores(scores: Any, name: str = "scores") -> dict[str, torch.Tensor]:
    """A score dict: non-empty, real-valued tensors with data (not on the meta device), every
    entry finite."""
    scores = check_not_meta(check_tensor_dict(scores, name), name)
    for key, tensor in scores.items():
        if tensor.dtype == torch.bool or tensor.is_complex():
            raise TypeError(f"{name}[{key!r}] must be a real-valued tensor, got dtype "
                            f"{tensor.dtype}")
        if tensor.is_floating_point() and tensor.numel() and not _all_finite(tensor):
            bad = int((~torch.isfinite(tensor)).sum())  # counted only on failure
            raise ValueError(f"{name}[{key!r}] has {bad} non-finite entries (NaN or inf); "
                             "scores must be finite")
    return scores


def check_mask_dict(masks: Any, name: str = "masks") -> dict[str, torch.Tensor]:
    """A mask dict: non-empty mapping of str to ``torch.bool`` tensors with data (not on the meta
    device)."""
    masks = check_not_meta(check_tensor_dict(masks, name), name)
    for key, mask in masks.items():
        if mask.dtype != torch.bool:
            raise TypeError(f"{name}[{key!r}] must be a torch.bool tensor, got dtype {mask.dtype} "
                            "(convert with `.bool()` after checking it holds only 0/1)")
    return masks


def check_binary_mask(mask: Any, name: str) -> torch.Tensor:
    """A mask whose kept entries can be counted, as ``torch.bool`` (True = kept): ``torch.bool``,
    or real values that are all exactly 0 or 1. A soft mask (a value strictly between 0 and 1,
    or any other value) or a NaN entry has no kept count and raises ``ValueError``; nothing is
    rounded or thresholded.

    >>> check_binary_mask(torch.tensor([1.0, 0.0]), "edge_mask").tolist()
    [True, False]
    >>> check_binary_mask(torch.tensor([1.0, 0.5]), "edge_mask")
    Traceback (most recent call last):
    ...
    ValueError: edge_mask must be binary to count kept entries (bool, or values in {0, 1}); ...
    """
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (bool, or values in {{0, 1}}), got "
                        f"{type(mask).__name__}")
    check_not_meta(mask, name)
    if mask.dtype == torch.bool:
        return mask
    if mask.is_complex():
        raise TypeError(f"{name} must be bool or real-valued, got dtype {mask.dtype}")
    values = mask.detach()
    odd = (values != 0) & (values != 1)
    if bool(odd.any()):
        raise ValueError(f"{name} must be binary to count kept entries (bool, or values in "
                         f"{{0, 1}}); {int(odd.sum())} entries are not, e.g. "
                         f"{values[odd][0].item()!r} — threshold a soft mask first "
                         "(e.g. mask > 0.5)")
    return values != 0


_META_HINT = "materialise it first, e.g. model.to_empty(device='cpu') and load weights"


def check_not_meta(value: Any, name: str) -> Any:
    """``value`` if it holds data: a tensor not on torch's meta device, a module none of whose
    parameters and buffers is, or a mapping none of whose tensor values is (anything else is
    returned unchanged). A meta tensor (e.g. of a model built under ``with
    torch.device("meta")``) has a shape but no values to count, score or save: ``ValueError``.

    >>> check_not_meta(torch.zeros(2), "scores").tolist()
    [0.0, 0.0]
    >>> check_not_meta(torch.empty(2, device="meta"), "scores")
    Traceback (most recent call last):
    ...
    ValueError: scores is on the meta device (no data); materialise it first, e.g. ...
    """
    if isinstance(value, torch.Tensor):
        if value.is_meta:
            raise ValueError(f"{name} is on the meta device (no data); {_META_HINT}")
    elif isinstance(value, nn.Module):
        for part, tensor in chain(value.named_parameters(), value.named_buffers()):
            if tensor.is_meta:
                raise ValueError(f"{name} has tensors on the meta device (no data), e.g. "
                                 f"{part!r}; {_META_HINT}")
    elif isinstance(value, Mapping):
        for key, tensor in value.items():
            if isinstance(tensor, torch.Tensor) and tensor.is_meta:
                raise ValueError(f"{name}[{key!r}] is on the meta device (no data); "
                                 f"{_META_HINT}")
    return value


def refuses_meta(*names: str) -> Callable[[Callable], Callable]:
    """Decorator (a precondition, networkx style): before the function runs, each argument
    named in ``names`` is checked with :func:`check_not_meta` under its own name. For public
    functions that read the values of a model or tensor they are given.

    >>> @refuses_meta("model")
    ... def count(model):
    ...     return sum(int(p.count_nonzero()) for p in model.parameters())
    >>> with torch.device("meta"):
    ...     lin = torch.nn.Linear(2, 2)
    >>> count(lin)
    Traceback (most recent call last):
    ...
    ValueError: model has tensors on the meta device (no data), e.g. 'weight'; materialise ...
    """
    def decorate(function: Callable) -> Callable:
        signature = inspect.signature(function)
        unknown = [n for n in names if n not in signature.parameters]
        if unknown:
            raise TypeError(f"refuses_meta names {unknown}, which {function.__qualname__} does "
                            "not take")

        @functools.wraps(function)
        def checked(*args: Any, **kwargs: Any) -> Any:
            try:
                arguments = signature.bind(*args, **kwargs).arguments
            except TypeError:  # wrong call: the function's own error
                arguments = {}
            for n in names:
                if n in arguments:
                    check_not_meta(arguments[n], n)
            return function(*args, **kwargs)

        return checked

    return decorate


def check_same_keys_and_shapes(first: Mapping, second: Mapping, first_name: str,
                               second_name: str) -> None:
    """Raise if the two dicts differ in keys or in the shape of any entry."""
    if set(first.keys()) != set(second.keys()):
        missing = sorted(set(first) - set(second))
        extra = sorted(set(second) - set(first))
        raise KeyError(f"{second_name} must have the same names as {first_name}: "
                       f"missing {missing}, unexpected {extra}")
    for key in first:
        if tuple(first[key].shape) != tuple(second[key].shape):
            raise ValueError(f"shape mismatch for {key!r}: {first_name} has "
                             f"{tuple(first[key].shape)}, {second_name} has "
                             f"{tuple(second[key].shape)}")


def as_generator(seed: Any = None, generator: torch.Generator | None = None) -> torch.Generator:
    """A CPU ``torch.Generator`` from exactly one of ``seed`` (int) or ``generator``.

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
    return torch.Generator().manual_seed(seed)
