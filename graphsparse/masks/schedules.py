"""When to prune: one-shot, geometric rounds, gradual polynomial (cubic) schedules.

A schedule maps a step (training step, or round index for iterative pruning) to a target
sparsity, and says at which steps the mask is updated. Targets are plain floats in [0, 1) that
:func:`graphsparse.masks.topk_masks` turns into exact counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from graphsparse.checks import check_sparsity

__all__ = ["OneShot", "Geometric", "Polynomial", "geometric_sparsity"]


def _check_step(step, name: str = "step") -> int:
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"{name} must be a non-negative int, got {step!r}")
    return step


def geometric_sparsity(rate: float, round_index: int) -> float:
    """Target sparsity after ``round_index`` rounds that each prune ``rate`` of what is left.

    ``s_k = 1 - (1 - p)^k`` in float64 (iterative magnitude pruning, Frankle & Carbin 2019;
    UGS, Chen et al. 2021, prunes p_g of the remaining edges and p_θ of the remaining weights
    each round).

    >>> round(geometric_sparsity(0.2, 3), 6)
    0.488
    """
    p = check_sparsity(rate, "rate")
    k = _check_step(round_index, "round_index")
    return 1.0 - (1.0 - p) ** k


@dataclass(frozen=True)
class OneShot:
    """Prune once, to ``sparsity``, at ``step``; zero before, ``sparsity`` from then on.

    >>> s = OneShot(0.9, step=10)
    >>> s(9), s(10), s.is_update_step(10)
    (0.0, 0.9, True)
    """

    sparsity: float
    step: int = 0

    def __post_init__(self):
        check_sparsity(self.sparsity)
        _check_step(self.step)

    def __call__(self, step: int) -> float:
        return float(self.sparsity) if _check_step(step) >= self.step else 0.0

    def is_update_step(self, step: int) -> bool:
        return _check_step(step) == self.step


@dataclass(frozen=True)
class Geometric:
    """Iterative rounds: round ``k`` (0 = dense) targets ``1 - (1 - rate)^k``; every round updates.

    ``rounds`` optionally caps the number of rounds (later steps stay at the last target).

    >>> g = Geometric(0.2)
    >>> [round(g(k), 4) for k in range(4)]
    [0.0, 0.2, 0.36, 0.488]
    """

    rate: float
    rounds: int | None = None

    def __post_init__(self):
        check_sparsity(self.rate, "rate")
        if self.rounds is not None:
            _check_step(self.rounds, "rounds")

    def __call__(self, step: int) -> float:
        k = _check_step(step)
        if self.rounds is not None:
            k = min(k, self.rounds)
        return geometric_sparsity(self.rate, k)

    def is_update_step(self, step: int) -> bool:
        k = _check_step(step)
        return k >= 1 and (self.rounds is None or k <= self.rounds)


@dataclass(frozen=True)
class Polynomial:
    """Gradual pruning (Zhu & Gupta, "To prune, or not to prune", 2017, eq. 1).

    ``s_t = s_f + (s_i - s_f) (1 - (t - t_0) / (n Δt))^power`` for
    ``t ∈ {t_0, t_0 + Δt, …, t_0 + n Δt}`` with ``t_0 = begin_step``, ``t_0 + nΔt = end_step`` and
    ``Δt = frequency``; ``power = 3`` is the paper's cubic schedule. Between updates the last
    target holds (the step is rounded down to the update grid); before ``begin_step`` the target is
    ``initial_sparsity``, after ``end_step`` it is ``final_sparsity``.

    >>> c = Polynomial(0.9, begin_step=0, end_step=100, frequency=10)
    >>> c(0), round(c(50), 6), c(100), c(55) == c(50)
    (0.0, 0.7875, 0.9, True)
    """

    final_sparsity: float
    begin_step: int
    end_step: int
    frequency: int = 1
    initial_sparsity: float = 0.0
    power: float = 3.0

    def __post_init__(self):
        check_sparsity(self.final_sparsity, "final_sparsity")
        check_sparsity(self.initial_sparsity, "initial_sparsity")
        _check_step(self.begin_step, "begin_step")
        _check_step(self.end_step, "end_step")
        if self.end_step <= self.begin_step:
            raise ValueError(f"end_step must be > begin_step, got begin_step={self.begin_step}, "
                             f"end_step={self.end_step}")
        if isinstance(self.frequency, bool) or not isinstance(self.frequency, int) or self.frequency < 1:
            raise ValueError(f"frequency must be a positive int, got {self.frequency!r}")
        if (self.end_step - self.begin_step) % self.frequency:
            raise ValueError(f"end_step - begin_step ({self.end_step - self.begin_step}) must be a "
                             f"multiple of frequency ({self.frequency})")
        if not (math.isfinite(self.power) and self.power > 0):
            raise ValueError(f"power must be positive and finite, got {self.power!r}")

    def __call__(self, step: int) -> float:
        t = _check_step(step)
        if t < self.begin_step:
            return float(self.initial_sparsity)
        if t >= self.end_step:
            return float(self.final_sparsity)
        t = self.begin_step + (t - self.begin_step) // self.frequency * self.frequency
        frac = (t - self.begin_step) / (self.end_step - self.begin_step)
        return float(self.final_sparsity
                     + (self.initial_sparsity - self.final_sparsity) * (1.0 - frac) ** self.power)

    def is_update_step(self, step: int) -> bool:
        t = _check_step(step)
        return self.begin_step <= t <= self.end_step and (t - self.begin_step) % self.frequency == 0
