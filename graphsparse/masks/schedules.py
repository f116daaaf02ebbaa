"""When to prune: one-shot, geometric rounds, gradual polynomial (cubic) schedules.

A schedule maps a step (training step, or round index for iterative pruning) to a target
sparsity, and says at which steps the mask is updated. Targets are plain floats in [0, 1) that
:func:`graphsparse.masks.topk_masks` turns into exact counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphsparse.checks import check_float, check_int, check_sparsity

__all__ = ["OneShot", "Geometric", "Polynomial", "geometric_sparsity"]


def geometric_sparsity(rate: float, round_index: int) -> float:
    """Target sparsity after ``round_index`` rounds that each prune ``rate`` of what is left.

    ``s_k = 1 - (1 - p)^k`` in float64 (iterative magnitude pruning, Frankle & Carbin 2019;
    UGS, Chen et al. 2021, prunes p_g of the remaining edges and p_θ of the remaining weights
    each round).

    >>> round(geometric_sparsity(0.2, 3), 6)
    0.488
    """
    p = check_sparsity(rate, "rate")
    k = check_int(round_index, "round_index", low=0)
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
        check_int(self.step, "step", low=0)

    def __call__(self, step: int) -> float:
        return float(self.sparsity) if check_int(step, "step", low=0) >= self.step else 0.0

    def is_update_step(self, step: int) -> bool:
        return check_int(step, "step", low=0) == self.step


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
            check_int(self.rounds, "rounds", low=0)

    def __call__(self, step: int) -> float:
        k = check_int(step, "step", low=0)
        if self.rounds is not None:
            k = min(k, self.rounds)
        return geometric_sparsity(self.rate, k)

    def is_update_step(self, step: int) -> bool:
        k = check_int(step, "step", low=0)
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
        check_int(self.begin_step, "begin_step", low=0)
        check_int(self.end_step, "end_step", low=0)
        if self.end_step <= self.begin_step:
            raise ValueError(f"end_step must be > begin_step, got begin_step={self.begin_step}, "
                             f"end_step={self.end_step}")
        check_int(self.frequency, "frequency", low=1)
        if (self.end_step - self.begin_step) % self.frequency:
            raise ValueError(f"end_step - begin_step ({self.end_step - self.begin_step}) must be a "
                             f"multiple of frequency ({self.frequency})")
        check_float(self.power, "power", low=0.0, open_low=True)

    def __call__(self, step: int) -> float:
        t = check_int(step, "step", low=0)
        if t < self.begin_step:
            return float(self.initial_sparsity)
        if t >= self.end_step:
            return float(self.final_sparsity)
        t = self.begin_step + (t - self.begin_step) // self.frequency * self.frequency
        frac = (t - self.begin_step) / (self.end_step - self.begin_step)
        return float(self.final_sparsity
                     + (self.initial_sparsity - self.final_sparsity) * (1.0 - frac) ** self.power)

    def is_update_step(self, step: int) -> bool:
        t = check_int(step, "step", low=0)
        return self.begin_step <= t <= self.end_step and (t - self.begin_step) % self.frequency == 0
