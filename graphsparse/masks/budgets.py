"""How much per layer: layer-wise density budgets (uniform, ER, ERK, balanced).

One signature for all methods: :func:`layer_densities`. The densities it returns are turned into
masks with the library's rounding rule (a layer of n entries at density d keeps
``n - floor((1-d)*n + 1e-9)`` entries), so the total kept count matches the target up to one
entry per layer.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

from graphsparse.checks import check_choice, check_density, check_float

__all__ = ["layer_densities", "erdos_renyi_density"]

_METHODS = ("uniform", "er", "erk", "balanced")


def erdos_renyi_density(shape: Sequence[int], epsilon: float) -> float:
    """SET's Erdős–Rényi connection probability ``p = ε (n_in + n_out) / (n_in · n_out)``.

    Mocanu et al., "Scalable training of artificial neural networks with adaptive sparse
    connectivity inspired by network science", Nat. Commun. 9:2383 (2018), Methods, eq. (1):
    the expected number of connections of a layer is ε(n_in + n_out). ``shape`` is PyTorch's
    ``(n_out, n_in, ...)``; only the first two dims count. The value may exceed 1.

    >>> round(erdos_renyi_density((1000, 784), 20), 5)
    0.04551
    """
    if len(shape) < 2:
        raise ValueError(f"the ER density needs a shape (n_out, n_in, ...), got {tuple(shape)}")
    epsilon = check_float(epsilon, "epsilon", low=0.0)  # finite, >= 0
    n_out, n_in = int(shape[0]), int(shape[1])
    return epsilon * (n_in + n_out) / (n_in * n_out)


def _numel(shape: Sequence[int]) -> int:
    return math.prod(int(s) for s in shape)


def _raw_score(shape: Sequence[int], method: str, power: float) -> float:
    if method == "erk":
        # RigL (Evci et al., ICML 2020, Sec. 3 "Sparsity distribution"): sum(shape)/prod(shape),
        # kernel dimensions included.
        raw = sum(int(s) for s in shape) / _numel(shape)
    else:  # "er": only (n_out, n_in), as SET and Liu et al. 2022
        if len(shape) < 2:
            raw = 1.0
        else:
            raw = (int(shape[0]) + int(shape[1])) / (int(shape[0]) * int(shape[1]))
    return raw ** power


def _solve_proportional(free: dict[str, int], weight: dict[str, float],
                        budget: float) -> dict[str, float]:
    """Densities d_l = min(1, c·weight_l) with Σ d_l·n_l = budget (the capping loop).

    The layer whose density would exceed 1 by the most is made dense, its entries are subtracted
    from the budget, and c is re-solved over the rest; repeat until no layer exceeds 1.
    """
    dense: set[str] = set()
    while True:
        rest = [n for n in free if n not in dense]
        remaining = budget - sum(free[n] for n in dense)
        if not rest:
            return {n: 1.0 for n in free}
        denom = sum(weight[n] * free[n] for n in rest)
        c = remaining / denom
        over = [n for n in rest if c * weight[n] > 1.0]
        if not over:
            out = {n: 1.0 for n in dense}
            out.update({n: c * weight[n] for n in rest})
            return out
        dense.add(max(over, key=lambda n: weight[n]))


def layer_densities(shapes: Mapping[str, Sequence[int]], density: float | None = None,
                    method: str = "uniform", epsilon: float | None = None,
                    overrides: Mapping[str, float] | None = None, power: float = 1.0,
                    strict: bool = False) -> dict[str, float]:
    """Per-layer densities for a target overall density.

    Args:
        shapes: ``{name: shape}`` in PyTorch layout (``(out, in)`` for Linear,
            ``(out, in, kh, kw)`` for Conv2d, ``(E,)`` for an edge mask).
        density: overall fraction of kept entries over all layers, in (0, 1].
        method:
            * ``"uniform"``: every non-overridden layer gets the same density.
            * ``"er"``: with ``epsilon``, SET's ``p = ε(n_in+n_out)/(n_in·n_out)`` per layer
              (Mocanu et al. 2018); with ``density``, ``p ∝ (n_in+n_out)/(n_in·n_out)`` scaled to
              meet the budget (kernel dims ignored, as Liu et al. ICLR 2022 "ER").
            * ``"erk"``: RigL's Erdős–Rényi-Kernel, ``p ∝ (sum(shape)/prod(shape))^power``
              (Evci et al. ICML 2020), kernel dims included.
            * ``"balanced"``: every non-overridden layer keeps the same number of entries
              (Gadhikar et al. ICML 2023).
            Proportional methods run the capping loop: a layer whose density would exceed 1 is
            made dense and the rest re-solved (RigL ``get_sparsities_erdos_renyi``).
        epsilon: SET's ε > 0, only with ``method="er"``; exactly one of density/epsilon is given.
        overrides: ``{name: density}`` fixed layers (e.g. a dense first or last layer); the
            remaining budget is re-solved over the other layers.
        power: exponent on the ER/ERK raw score (RigL ``erk_power_scale``); 1.0 = standard.
        strict: with ``epsilon``, raise instead of capping a layer whose ε gives p > 1.

    Returns:
        ``{name: density}`` in the order of ``shapes``. The total kept count
        ``Σ kept_count(n_l, 1-d_l)`` matches ``density·Σ n_l`` up to one entry per layer.

    Raises:
        ValueError: bad arguments or an infeasible request (the budget would need a density > 1
            somewhere after every layer is dense, or would leave a layer empty).

    >>> d = layer_densities({"fc1": (1000, 784), "fc2": (1000, 1000), "fc3": (1000, 1000),
    ...                      "out": (10, 1000)}, density=0.05, method="erk")
    >>> [round(v, 4) for v in d.values()]
    [0.051, 0.0448, 0.0448, 1.0]
    """
    shapes, sizes = _checked_shapes(shapes)
    check_choice(method, "method", _METHODS)
    if (density is None) == (epsilon is None):
        raise ValueError("give exactly one of density or epsilon")
    power = check_float(power, "power", low=0.0, open_low=True)
    overrides = _checked_overrides(overrides, shapes)
    if epsilon is not None:
        if method != "er":
            raise ValueError(f"epsilon is only for method='er', got method={method!r}")
        if power != 1.0:
            raise ValueError("power applies to density-based budgets; SET's epsilon formula has none")
        return _epsilon_densities(shapes, check_float(epsilon, "epsilon", low=0.0, open_low=True),
                                  overrides, strict)
    return _budget_densities(shapes, sizes, check_density(density), method, power, overrides)


def _checked_shapes(shapes: Mapping[str, Sequence[int]]
                    ) -> tuple[dict[str, tuple[int, ...]], dict[str, int]]:
    """``({name: shape as ints}, {name: numel})``; every dimension must be >= 1."""
    if not isinstance(shapes, Mapping) or not shapes:
        raise ValueError("shapes must be a non-empty mapping {name: shape}")
    sizes = {}
    for name, shape in shapes.items():
        shape = tuple(int(s) for s in shape)
        if not shape or any(s < 1 for s in shape):
            raise ValueError(f"shapes[{name!r}] must have positive dimensions, got {shape}")
        sizes[name] = _numel(shape)
    return {n: tuple(int(s) for s in shp) for n, shp in shapes.items()}, sizes


def _checked_overrides(overrides: Mapping[str, float] | None, shapes: Mapping[str, tuple[int, ...]]
                       ) -> dict[str, float]:
    """``{name: density}`` of the overridden layers, each a density of a layer in ``shapes``."""
    overrides = dict(overrides or {})
    for name, d in overrides.items():
        if name not in shapes:
            raise KeyError(f"overrides names {name!r}, which is not in shapes {list(shapes)}")
        overrides[name] = check_density(d, f"overrides[{name!r}]")
    return overrides


def _epsilon_densities(shapes: dict[str, tuple[int, ...]], eps: float, overrides: dict[str, float],
                       strict: bool) -> dict[str, float]:
    """SET's per-layer ``p = ε(n_in+n_out)/(n_in·n_out)``, capped at 1 (or raising if strict)."""
    out = {}
    for name, shape in shapes.items():
        if name in overrides:
            out[name] = overrides[name]
            continue
        p = erdos_renyi_density(shape, eps) if len(shape) >= 2 else eps
        if p > 1.0:
            msg = (f"layer {name!r} {shape}: epsilon={eps} gives density {p:.4g} > 1")
            if strict:
                raise ValueError(msg + " (strict=True)")
            warnings.warn(msg + "; the layer is made dense", UserWarning, stacklevel=3)
            p = 1.0
        out[name] = p
    return out


def _budget_densities(shapes: dict[str, tuple[int, ...]], sizes: dict[str, int], target: float,
                      method: str, power: float, overrides: dict[str, float]) -> dict[str, float]:
    """Densities meeting the overall ``target`` density: overridden layers fixed, the rest
    solved by ``method`` (with the capping loop for proportional methods)."""
    total = sum(sizes.values())
    budget = target * total - sum(overrides[n] * sizes[n] for n in overrides)
    free = {n: sizes[n] for n in shapes if n not in overrides}
    if not free:
        fixed = sum(overrides[n] * sizes[n] for n in overrides)
        if abs(fixed - target * total) > len(sizes):
            raise ValueError(f"every layer is overridden, giving overall density "
                             f"{fixed / total:.6g}, which does not match density={target}")
        return {n: overrides[n] for n in shapes}
    free_total = sum(free.values())
    if budget <= 0:
        raise ValueError(f"infeasible: overrides already keep more than density={target} allows, "
                         f"leaving no budget for layers {list(free)}")
    if budget > free_total * (1 + 1e-12):
        raise ValueError(f"infeasible: density={target} needs {budget:.0f} kept entries in "
                         f"layers {list(free)}, which hold only {free_total}")
    budget = min(budget, float(free_total))

    if method == "uniform":
        solved = {n: budget / free_total for n in free}
    elif method == "balanced":
        solved = _solve_proportional(free, {n: 1.0 / free[n] for n in free}, budget)
    else:
        solved = _solve_proportional(free, {n: _raw_score(shapes[n], method, power) for n in free},
                                     budget)
    out = {}
    for name in shapes:
        out[name] = overrides[name] if name in overrides else min(1.0, solved[name])
        if out[name] <= 0:
            raise ValueError(f"infeasible: layer {name!r} would get density 0")
    return out
