"""One entry point for every ticket-finding method: :meth:`Method.search`.

``method.search(model, dataset, targets, *, scope, train_config, method_options, on_level,
on_epoch=None, checkpoint_dir=None)`` finds the tickets at every point of ``targets``
(:class:`~graphsparse.gnn.experiment.targets.Targets`) and hands each one to ``on_level`` as soon
as it is trained, as a :class:`LevelResult`. A method owns everything its search needs:
TEDDY its teacher (the seed's dense run and its outputs,
:func:`~graphsparse.gnn.methods.dense.dense_outputs`, cached in ``checkpoint_dir``), UGS and IMP their round bookkeeping and checkpoints (a killed search
resumes after its last completed round), so a caller only turns results into rows.

* one-shot methods (:class:`OneShotMethod`) prune once per point;
* iterative methods (:class:`IterativeMethod`: UGS, IMP) run one search of ``K`` rounds and
  report the ticket after round ``k`` for every point at index ``k``.

A method object is also callable as the plain function it wraps, e.g.
``METHODS["ugs"](model, dataset, graph_targets=[...], weight_targets=[...])``.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from graphsparse.checks import check_choice
from graphsparse.gnn.accounting import WEIGHT_SCOPES
from graphsparse.gnn.methods._common import SearchResult
from graphsparse.gnn.train import EpochRecord, MiniBatch, training_settings

__all__ = ["IterativeMethod", "LevelResult", "Method", "OneShotMethod", "TrainConfig"]

# Arguments the entry point passes to every method function itself (not method options).
SHARED_ARGUMENTS = frozenset({"model", "dataset", "graph_targets", "weight_targets",
                              "weight_scope", "epochs", "lr", "weight_decay", "seed", "progress",
                              "on_epoch", "report_rounds", "on_ticket", "checkpoint"})


@dataclass(frozen=True)
class TrainConfig:
    """The settings of every training run of a search (Adam; ``seed`` seeds each run).

    ``device`` and ``minibatch`` (a :class:`~graphsparse.gnn.train.minibatch.MiniBatch`, None
    for full batch) reach every training run of the search through
    :func:`~graphsparse.gnn.train.training_settings`.
    """

    epochs: int = 200
    lr: float = 0.01
    weight_decay: float = 5e-4
    seed: int = 0
    progress: bool = False
    device: Any = None
    minibatch: MiniBatch | None = None

    def kwargs(self) -> dict[str, Any]:
        """As keyword arguments of the method functions."""
        return {"epochs": self.epochs, "lr": self.lr, "weight_decay": self.weight_decay,
                "seed": self.seed, "progress": self.progress}

    def settings(self) -> contextlib.AbstractContextManager:
        """The block in which every training run uses this config's device and mini-batches."""
        return training_settings(device=self.device, minibatch=self.minibatch)


@dataclass
class LevelResult:
    """One ticket of a search: the target point it answers and the method's result."""

    point: Any  # graphsparse.gnn.experiment.targets.TargetPoint
    result: SearchResult


OnLevel = Callable[[LevelResult], None]
OnEpoch = Callable[[EpochRecord], None]


class Method:
    """A ticket-finding method behind :meth:`search` (see the module documentation).

    Args:
        name: the registry name (``"ugs"``, ``"teddy"``, ...).
        function: the method's function, called as ``function(model, dataset,
            graph_targets=[...], weight_targets=[...], weight_scope=..., epochs=..., lr=...,
            weight_decay=..., seed=..., progress=..., on_epoch=..., **options)``.
        default_scope: the weight scope the method counts by default.
        fixed: options the registry fixes (e.g. a structural method's ``edge_score``).
    """

    iterative = False
    #: True when the method reads the seed's cached dense run (TEDDY's teacher): a distributed
    #: sweep starts its cells after the seed's dense cell.
    uses_dense_run = False

    def __init__(self, name: str, function: Callable[..., SearchResult], default_scope: str,
                 **fixed: Any) -> None:
        self.name, self.function, self.fixed = name, function, fixed
        self.default_scope = check_choice(default_scope, "default_scope", WEIGHT_SCOPES)
        self.__name__ = function.__name__
        self.__doc__ = function.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> SearchResult:
        return self.function(*args, **{**self.fixed, **kwargs})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def option_names(self) -> set[str]:
        """The method options :meth:`search` accepts in ``method_options``."""
        return set(inspect.signature(self.function).parameters) - SHARED_ARGUMENTS \
            - set(self.fixed)

    def check_options(self, options: dict[str, Any] | None) -> dict[str, Any]:
        """``options`` if the method takes each of them; ``ValueError`` listing them otherwise."""
        options = dict(options or {})
        accepted = self.option_names()
        unknown = sorted(set(options) - accepted)
        if unknown:
            raise ValueError(f"method {self.name!r} does not take option(s) {unknown}; its "
                             f"options: {sorted(accepted)}")
        return options

    def scope(self, scope: str | None) -> str:
        """``scope``, or the method's default when None."""
        return self.default_scope if scope is None else check_choice(scope, "weight_scope",
                                                                     WEIGHT_SCOPES)

    def search(self, model: nn.Module, dataset: Any, targets: Any, *, scope: str | None = None,
               train_config: TrainConfig = TrainConfig(),
               method_options: dict[str, Any] | None = None, on_level: OnLevel | None = None,
               on_epoch: OnEpoch | None = None,
               checkpoint_dir: str | Path | None = None) -> list[LevelResult]:
        """Find the ticket of every point of ``targets``.

        Args:
            model: an unmasked model (θ₀; never modified).
            dataset: a LoadedDataset.
            targets: :class:`~graphsparse.gnn.experiment.targets.Targets`.
            scope: the weight scope (None: the method's default).
            train_config: :class:`TrainConfig` of every training run.
            method_options: the method's own options (e.g. TEDDY ``lamb``, UGS ``s1``/``s2``).
            on_level: called with each :class:`LevelResult` as soon as it is trained.
            on_epoch: called with the :class:`~graphsparse.gnn.train.EpochRecord` of every
                epoch of every training run (progress).
            checkpoint_dir: a folder for resumable state (UGS/IMP rounds, TEDDY's teacher);
                None keeps everything in memory.

        Returns:
            The :class:`LevelResult` of every point, in schedule order.
        """
        options = {**self.fixed, **self.check_options(method_options)}
        results: list[LevelResult] = []
        for point in targets.points(iterative=False):
            graph, weight = targets.point_schedule(point, iterative=False)
            with train_config.settings():
                result = self.run_point(model, dataset, graph, weight, self.scope(scope),
                                        train_config, options, on_epoch, checkpoint_dir)
            results.append(LevelResult(point, result))
            if on_level is not None:
                on_level(results[-1])
        return results

    def run_point(self, model: nn.Module, dataset: Any, graph_targets: list[float],
                  weight_targets: list[float], scope: str, train_config: TrainConfig,
                  options: dict[str, Any], on_epoch: OnEpoch | None,
                  checkpoint_dir: str | Path | None) -> SearchResult:
        """One call of the method's function (one-shot methods: one ticket)."""
        return self.function(model, dataset, graph_targets=graph_targets,
                             weight_targets=weight_targets, weight_scope=scope,
                             on_epoch=on_epoch, **train_config.kwargs(), **options)


class OneShotMethod(Method):
    """A method that prunes once per target point (random, magnitude, structural, TEDDY)."""


class IterativeMethod(Method):
    """A method that runs rounds (UGS, IMP): one search of ``K`` rounds reports every point.

    Its function takes ``report_rounds`` (the rounds whose ticket to train and report),
    ``on_ticket(round, SearchResult)`` and ``checkpoint`` (a file for resumable state).
    """

    iterative = True

    def search(self, model: nn.Module, dataset: Any, targets: Any, *, scope: str | None = None,
               train_config: TrainConfig = TrainConfig(),
               method_options: dict[str, Any] | None = None, on_level: OnLevel | None = None,
               on_epoch: OnEpoch | None = None,
               checkpoint_dir: str | Path | None = None) -> list[LevelResult]:
        options = {**self.fixed, **self.check_options(method_options)}
        points = {point.index: point for point in targets.points(iterative=True)}
        graph, weight = targets.point_schedule(points[max(points)], iterative=True)
        results: list[LevelResult] = []

        def on_ticket(round_index: int, result: SearchResult) -> None:
            results.append(LevelResult(points[round_index], result))
            if on_level is not None:
                on_level(results[-1])

        checkpoint = None
        if checkpoint_dir is not None:
            Path(checkpoint_dir).mkdir(parents=True, exist_ok=True)
            checkpoint = Path(checkpoint_dir) / (f"{self.name}-{targets.tag()}-seed"
                                                 f"{train_config.seed}.pt")
        with train_config.settings():
            self.function(model, dataset, graph_targets=graph, weight_targets=weight,
                          weight_scope=self.scope(scope), on_epoch=on_epoch,
                          report_rounds=sorted(points), on_ticket=on_ticket,
                          checkpoint=checkpoint, **train_config.kwargs(), **options)
        return results
