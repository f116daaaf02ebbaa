"""What a ticket search aims at: :class:`Targets`, validated once, and the tickets it yields.

Targets come in two forms (Chen et al., ICML 2021, UGS; Seo et al., ICLR 2024, TEDDY):

* **a grid** ``levels`` with per-level rates ``p_graph`` (default 0.05) and ``p_weight``
  (default 0.2): level ``k`` aims at ``s = 1 - (1 - p)^k`` for edges and weights. Iterative
  methods run one round per level up to ``max(levels)`` and report the ticket after round
  ``k``; one-shot methods prune once per level;
* **direct** ``graph_sparsity`` / ``weight_sparsity`` (a missing one is 0): one-shot methods
  prune once; iterative methods run ``rounds`` rounds (default 20) with targets
  ``1 - (1 - s)^(j/rounds)``, the last exactly ``s``.

A ticket at graph target ``s`` over ``U`` prunable edge units keeps exactly
``kept_count(U, s)`` of them (the library's rounding rule, :func:`graphsparse.masks.kept_count`),
and likewise for the weights of its scope: :meth:`Targets.kept_counts`.

Example:
    >>> targets = Targets.from_arguments(levels=[1, 3])
    >>> [round(p.graph_target, 6) for p in targets.points(iterative=True)]
    [0.05, 0.142625]
    >>> [p.index for p in targets.points(iterative=True)]
    [1, 3]
    >>> len(targets.schedule(iterative=True)[0])
    3
    >>> targets.kept_counts(targets.points(iterative=False)[0], edges=100, weights=10)
    (95, 8)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphsparse.checks import check_fraction, check_int, check_int_list
from graphsparse.masks import geometric_sparsity, kept_count

__all__ = ["DEFAULT_P_GRAPH", "DEFAULT_P_WEIGHT", "DEFAULT_ROUNDS", "DENSE_POINT", "TargetPoint",
           "Targets"]

#: UGS's per-level rates (Chen et al. 2021) and the rounds of an iterative direct search.
DEFAULT_P_GRAPH, DEFAULT_P_WEIGHT, DEFAULT_ROUNDS = 0.05, 0.2, 20

_FORMS = "levels (with p_graph, p_weight) or graph_sparsity and/or weight_sparsity"


@dataclass(frozen=True)
class TargetPoint:
    """One ticket a search reports, with the identity fields of its result row.

    Attributes:
        index: 1-based position in the schedule: the round after which an iterative search
            reports it; for one-shot methods the position among the points.
        level: grid level ``k`` (None for direct targets).
        p_graph, p_weight: the grid's rates (None for direct targets).
        rounds: rounds of an iterative direct search (else None).
        graph_target, weight_target: the sparsities aimed at.
    """

    index: int
    level: int | None
    p_graph: float | None
    p_weight: float | None
    rounds: int | None
    graph_target: float
    weight_target: float

    def identity(self) -> dict[str, Any]:
        """The row fields this point fixes (level, rates, rounds, targets)."""
        return {"level": self.level, "p_graph": self.p_graph, "p_weight": self.p_weight,
                "rounds": self.rounds, "graph_target": self.graph_target,
                "weight_target": self.weight_target}


#: The dense baseline's point: level 0, no rates, targets 0.
DENSE_POINT = TargetPoint(0, 0, None, None, None, 0.0, 0.0)


@dataclass(frozen=True)
class Targets:
    """A grid of levels or direct sparsities; build with :meth:`from_arguments`.

    Attributes:
        levels: sorted distinct grid levels ``>= 1`` (None for direct targets).
        p_graph, p_weight: the grid's per-level rates (None for direct targets).
        graph_sparsity, weight_sparsity: direct targets (None for a grid).
        rounds: rounds of an iterative direct search (None for a grid).
    """

    levels: tuple[int, ...] | None = None
    p_graph: float | None = None
    p_weight: float | None = None
    graph_sparsity: float | None = None
    weight_sparsity: float | None = None
    rounds: int | None = None

    @classmethod
    def from_arguments(cls, *, levels: Any = None, p_graph: Any = None, p_weight: Any = None,
                       graph_sparsity: Any = None, weight_sparsity: Any = None,
                       rounds: Any = None) -> Targets:
        """Validate the arguments as a user gave them (None = not given) and build Targets.

        Raises:
            ValueError: both forms or neither, a rate or target outside ``[0, 1)``, levels
                not ints >= 1, rounds not an int >= 1, rounds with a grid, rates with direct
                targets.
        """
        direct = graph_sparsity is not None or weight_sparsity is not None
        if direct and levels is not None:
            raise ValueError(f"give either {_FORMS}, not both")
        if not direct and levels is None:
            raise ValueError(f"give either {_FORMS} (a missing one is 0)")
        if direct:
            if p_graph is not None or p_weight is not None:
                raise ValueError("p_graph / p_weight go with levels; for direct targets give "
                                 "graph_sparsity / weight_sparsity")
            return cls(
                graph_sparsity=check_fraction(0.0 if graph_sparsity is None else graph_sparsity,
                                              "graph_sparsity"),
                weight_sparsity=check_fraction(
                    0.0 if weight_sparsity is None else weight_sparsity, "weight_sparsity"),
                rounds=check_int(DEFAULT_ROUNDS if rounds is None else rounds, "rounds", low=1))
        if rounds is not None:
            raise ValueError("rounds is implied by levels (one round per level)")
        return cls(levels=tuple(sorted(set(check_int_list(levels, "levels", low=1)))),
                   p_graph=check_fraction(DEFAULT_P_GRAPH if p_graph is None else p_graph,
                                          "p_graph"),
                   p_weight=check_fraction(DEFAULT_P_WEIGHT if p_weight is None else p_weight,
                                           "p_weight"))

    @property
    def is_grid(self) -> bool:
        """True for a grid of levels, False for direct targets."""
        return self.levels is not None

    def schedule(self, iterative: bool) -> tuple[list[float], list[float]]:
        """Per-round graph and weight targets of an iterative search (rounds ``1..K``), or the
        one target pair of a one-shot search at direct targets (grid: every level's pair)."""
        if self.is_grid:
            ks = range(1, max(self.levels) + 1) if iterative else self.levels
            return ([geometric_sparsity(self.p_graph, k) for k in ks],
                    [geometric_sparsity(self.p_weight, k) for k in ks])
        if not iterative:
            return [self.graph_sparsity], [self.weight_sparsity]
        return _direct_schedule(self.graph_sparsity, self.rounds), \
            _direct_schedule(self.weight_sparsity, self.rounds)

    def points(self, iterative: bool) -> list[TargetPoint]:
        """The tickets a search reports, in schedule order."""
        graph, weight = self.schedule(iterative)
        if self.is_grid:
            indexes = self.levels if iterative else range(1, len(self.levels) + 1)
            return [TargetPoint(index, level, self.p_graph, self.p_weight, None,
                                graph[index - 1], weight[index - 1])
                    for index, level in zip(indexes, self.levels)]
        rounds = self.rounds if iterative else None
        return [TargetPoint(len(graph), None, None, None, rounds, graph[-1], weight[-1])]

    def point_schedule(self, point: TargetPoint,
                       iterative: bool) -> tuple[list[float], list[float]]:
        """The targets a method is called with to reach ``point``: rounds ``1..index`` of an
        iterative schedule, or the point's one pair for a one-shot method."""
        if not iterative:
            return [point.graph_target], [point.weight_target]
        graph, weight = self.schedule(iterative=True)
        return graph[:point.index], weight[:point.index]

    def describe(self) -> dict[str, Any]:
        """The schedule as plain values (``level``-style keys for a single grid level)."""
        if self.is_grid:
            levels: Any = self.levels[0] if len(self.levels) == 1 else list(self.levels)
            key = "level" if len(self.levels) == 1 else "levels"
            return {key: levels, "p_graph": self.p_graph, "p_weight": self.p_weight}
        return {"graph_sparsity": self.graph_sparsity,
                "weight_sparsity": self.weight_sparsity, "rounds": self.rounds}

    def tag(self) -> str:
        """A short file-name-safe name of the schedule (checkpoint files)."""
        if self.is_grid:
            return f"pg{self.p_graph:.6g}-pw{self.p_weight:.6g}"
        return f"r{self.rounds}-sg{self.graph_sparsity:.6g}-sw{self.weight_sparsity:.6g}"

    @staticmethod
    def kept_counts(point: TargetPoint, *, edges: int, weights: int) -> tuple[int, int]:
        """Edge units and weights a ticket at ``point`` keeps out of ``edges`` / ``weights``."""
        return kept_count(edges, point.graph_target), kept_count(weights, point.weight_target)


def _direct_schedule(sparsity: float, rounds: int) -> list[float]:
    """``1 - (1 - s)^(j/rounds)`` for ``j = 1..rounds-1``, then exactly ``s``."""
    return [1.0 - (1.0 - sparsity) ** (j / rounds) for j in range(1, rounds)] + [sparsity]
