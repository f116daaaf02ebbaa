"""Baselines on the same trainer, targets and rounding rule as UGS and TEDDY.

Every baseline trains the ticket ``(θ₀ ⊙ m_θ, kept edges physically removed)`` with frozen
binary masks (:func:`~graphsparse.gnn.methods._common.train_ticket`) and reports that run.

* :func:`random_ticket` — random pruning (RP; the UGS repo's ``main_pruning_random.py``): edge
  units and weights (global over the scope) chosen uniformly at random, seeded; one shot.
* :func:`magnitude_ticket` — one-shot magnitude pruning of the weights (Han et al. 2015) after
  a dense training run, rewound to θ₀ (Frankle & Carbin, ICLR 2019); edges pruned by
  ``edge_score`` (default random).
* :func:`imp_ticket` — iterative magnitude pruning with rewinding to θ₀ (Frankle & Carbin
  2019): each round trains the current ticket, prunes the lowest ``|w|`` among the kept
  weights globally to the round's target and rewinds; edges follow the same round targets by
  ``edge_score`` (default random), nested.
* :func:`structural_ticket` — one-shot edge pruning by a structural score
  (:mod:`graphsparse.gnn.edges.scores`: ``"jaccard"``, ``"adamic_adar"``, ``"teddy"``) with random
  weights, so the edge score is the only difference from :func:`random_ticket` (a TEDDY score
  without TEDDY's distillation and PGD is ``edge_score="teddy"``).

Edge scores are computed on the mask graph, per undirected pair; structural scores need an
undirected graph. Random scores use ``seed`` (edges) and ``seed + 1`` (weights); fixed scores
make the masks nested across levels.

``weight_granularity="neuron"`` (every baseline) prunes whole hidden units
(:mod:`graphsparse.masks.neurons`): random draws one uniform score per unit (``seed + 1``),
magnitude and IMP keep the units of largest mean ``|w|`` (IMP within the previous round's units).
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from graphsparse.checks import check_int
from graphsparse.gnn.edges import EDGE_SCORES, edge_scores
from graphsparse.gnn.methods._common import (
    EdgeUnits,
    SearchResult,
    check_granularity,
    check_scope,
    check_targets,
    epoch_hooks,
    finish,
    initial_state,
    RoundCheckpoint,
    select_weights,
    train_ticket,
    weight_names,
    weight_units,
)
from graphsparse.gnn.train import EpochRecord, TrainResult, train_model
from graphsparse.masks import named_tensors, random_scores

__all__ = ["imp_ticket", "magnitude_ticket", "random_ticket", "structural_ticket", "unit_scores"]


def unit_scores(units: EdgeUnits, name: str, seed: int) -> Tensor:
    """Scores ``[U]`` of the mask graph's units by ``name`` (one of ``EDGE_SCORES``)."""
    if name not in EDGE_SCORES:
        raise ValueError(f"unknown edge_score {name!r}; valid scores: "
                         f"{', '.join(map(repr, EDGE_SCORES))}")
    if units.graph.directed and name != "random":
        raise ValueError(f"edge score {name!r} needs an undirected graph (both directions of "
                         "every edge); use edge_score='random' or make the graph undirected")
    if units.graph.directed:
        generator = torch.Generator().manual_seed(seed)
        return torch.rand(units.tied.num_pairs, generator=generator, dtype=torch.float64)
    return edge_scores(name, units.graph.edge_index, units.graph.num_nodes, seed=seed)


def _random_weights(model: nn.Module, names: list[str], sparsity: float,
                    seed: int, hidden: Any = None) -> dict[str, Tensor]:
    tensors = named_tensors(model, lambda n, o, t: n in names)
    if hidden is not None:  # one uniform score per unit
        scores = torch.rand(hidden.count, generator=torch.Generator().manual_seed(seed),
                            dtype=torch.float64)
        return hidden.select_units(scores, sparsity, {n: tuple(tensors[n].shape) for n in names})
    scores = random_scores({n: tensors[n] for n in names}, seed=seed)
    return select_weights(scores, sparsity)


def _one_shot(model: nn.Module, dataset: Any, *, edge_score: str, weights: str,
              graph_targets, weight_targets, weight_scope: str, epochs: int, lr: float,
              weight_decay: float, seed: int, progress: bool, label: str,
              on_epoch: Callable[[EpochRecord], None] | None = None,
              weight_granularity: str = "unstructured") -> SearchResult:
    started = time.perf_counter()
    graph_targets, weight_targets = check_targets(graph_targets, weight_targets)
    scope = check_scope(weight_scope)
    theta0 = initial_state(model)
    units = EdgeUnits(dataset)
    hidden = weight_units(model, weight_granularity)
    names = weight_names(model, scope, hidden)
    s_g, s_w = graph_targets[-1], weight_targets[-1]
    edge_keep = units.select(unit_scores(units, edge_score, seed), s_g)
    epochs_run, stages = 0, []
    if weights == "random":
        weight_masks = _random_weights(model, names, s_w, seed + 1, hidden)
    else:
        dense = copy.deepcopy(model)
        pre = train_model(dense, dataset, epochs=epochs, lr=lr, weight_decay=weight_decay,
                          seed=seed, progress=progress, desc=f"{label} dense",
                          hooks=epoch_hooks(on_epoch))
        epochs_run += pre.epochs
        stages.append({"stage": "dense", "val": pre.val, "test": pre.test,
                       "best_epoch": pre.best_epoch, "epochs": pre.epochs})
        trained = named_tensors(dense, "all")
        weight_masks = select_weights({n: trained[n].abs() for n in names}, s_w, units=hidden)
    final, result = train_ticket(model, dataset, theta0, units.expand(edge_keep), weight_masks,
                                 epochs=epochs, lr=lr, weight_decay=weight_decay, seed=seed,
                                 progress=progress, desc=f"{label} ticket", on_epoch=on_epoch)
    epochs_run += result.epochs
    stages.append({"stage": "ticket", "graph_target": s_g, "weight_target": s_w,
                   "edges_kept": units.kept_count(edge_keep),
                   "weights_kept": int(sum(int(m.sum()) for m in weight_masks.values())),
                   "val": result.val, "test": result.test, "best_epoch": result.best_epoch,
                   "epochs": result.epochs})
    return finish(final, dataset, units, edge_keep, weight_masks, theta0, result, scope,
                  epochs_run, time.perf_counter() - started, stages, hidden)


def random_ticket(model: nn.Module, dataset: Any, *, graph_targets, weight_targets,
                  weight_scope: str = "linear", epochs: int = 200, lr: float = 0.01,
                  weight_decay: float = 5e-4, seed: int = 0,
                  progress: bool = False,
                  on_epoch: Callable[[EpochRecord], None] | None = None,
                  weight_granularity: str = "unstructured") -> SearchResult:
    """Random edges + random weights at the last targets, then train the ticket from θ₀.

    Args:
        model: an unmasked model (not modified). dataset: a LoadedDataset.
        graph_targets, weight_targets: schedules; one shot, the last entries are used.
        weight_scope: ``"linear"`` or ``"all"``. epochs, lr, weight_decay, seed: the ticket's
            training run (``seed`` also draws the edges; ``seed + 1`` the weights).
        weight_granularity: ``"unstructured"`` or ``"neuron"`` (whole hidden units).
    """
    return _one_shot(model, dataset, edge_score="random", weights="random",
                     graph_targets=graph_targets, weight_targets=weight_targets,
                     weight_scope=weight_scope, epochs=epochs, lr=lr, weight_decay=weight_decay,
                     seed=seed, progress=progress, label="random", on_epoch=on_epoch,
                     weight_granularity=weight_granularity)


def structural_ticket(model: nn.Module, dataset: Any, *, edge_score: str = "jaccard",
                      graph_targets, weight_targets, weight_scope: str = "linear",
                      epochs: int = 200, lr: float = 0.01, weight_decay: float = 5e-4,
                      seed: int = 0, progress: bool = False,
                      on_epoch: Callable[[EpochRecord], None] | None = None,
                      weight_granularity: str = "unstructured") -> SearchResult:
    """One-shot structural edge pruning by ``edge_score`` + random weights (``seed + 1``)."""
    return _one_shot(model, dataset, edge_score=edge_score, weights="random",
                     graph_targets=graph_targets, weight_targets=weight_targets,
                     weight_scope=weight_scope, epochs=epochs, lr=lr, weight_decay=weight_decay,
                     seed=seed, progress=progress, label=edge_score, on_epoch=on_epoch,
                     weight_granularity=weight_granularity)


def magnitude_ticket(model: nn.Module, dataset: Any, *, graph_targets, weight_targets,
                     weight_scope: str = "linear", edge_score: str = "random",
                     epochs: int = 200, lr: float = 0.01, weight_decay: float = 5e-4,
                     seed: int = 0, progress: bool = False,
                     on_epoch: Callable[[EpochRecord], None] | None = None,
                     weight_granularity: str = "unstructured") -> SearchResult:
    """One-shot magnitude pruning: train densely, keep the largest ``|w|`` globally at the last
    weight target, rewind to θ₀, prune edges by ``edge_score``, train the ticket."""
    return _one_shot(model, dataset, edge_score=edge_score, weights="magnitude",
                     graph_targets=graph_targets, weight_targets=weight_targets,
                     weight_scope=weight_scope, epochs=epochs, lr=lr, weight_decay=weight_decay,
                     seed=seed, progress=progress, label="magnitude", on_epoch=on_epoch,
                     weight_granularity=weight_granularity)


def imp_ticket(model: nn.Module, dataset: Any, *, graph_targets, weight_targets,
               weight_scope: str = "linear", edge_score: str = "random", epochs: int = 200,
               lr: float = 0.01, weight_decay: float = 5e-4, seed: int = 0,
               rewind_epoch: int = 0, progress: bool = False,
               on_round: Callable[[int, Tensor, dict[str, Tensor]], None] | None = None,
               on_epoch: Callable[[EpochRecord], None] | None = None,
               report_rounds: Sequence[int] = (),
               on_ticket: Callable[[int, SearchResult], None] | None = None,
               checkpoint: str | os.PathLike | None = None,
               weight_granularity: str = "unstructured") -> SearchResult:
    """Iterative magnitude pruning with rewinding to θ₀, one round per target entry.

    Round ``k`` trains the current ticket (frozen masks, kept edges removed), then keeps the
    largest ``|w|`` among the kept weights at ``weight_targets[k]`` (global, ``within`` the
    previous masks) and the top ``edge_score`` units at ``graph_targets[k]`` (within the
    previous units); the final ticket is trained once more from θ₀ and reported.

    ``on_round(k, edge_mask, weight_masks)``, if given, is called after round ``k``'s pruning
    (1-based) with the level-``k`` ticket's masks: ``edge_mask`` ``BoolTensor [E]`` over the
    mask graph's directed edge ids, ``weight_masks`` ``{name: BoolTensor}`` over the scope.
    Round ``k + 1`` (or the final run) trains that ticket from θ₀; for every ``k`` in
    ``report_rounds`` (and the last round) that training is reported as
    ``on_ticket(k, SearchResult)``. With ``checkpoint=PATH`` the state after every round is
    written there (kind ``"imp-checkpoint"``) and a killed search resumes after its last
    completed round with the same result.

    ``rewind_epoch = k > 0`` rewinds to the weights after ``k`` epochs of dense training instead
    of θ₀ and trains every ticket for the remaining ``epochs - k`` epochs (late rewinding,
    Frankle, Dziugaite, Roy, Carbin, "Linear Mode Connectivity and the Lottery Ticket
    Hypothesis", ICML 2020, Sec. 5); the result's ``initial_state`` is then those weights.
    """
    started = time.perf_counter()
    graph_targets, weight_targets = check_targets(graph_targets, weight_targets)
    check_int(epochs, "epochs", low=1)
    rewind_epoch = check_int(rewind_epoch, "rewind_epoch", low=0, high=epochs - 1)
    options = {"graph_targets": graph_targets, "weight_targets": weight_targets,
               "weight_scope": check_scope(weight_scope), "edge_score": edge_score,
               "epochs": epochs, "lr": lr, "weight_decay": weight_decay, "seed": seed,
               "rewind_epoch": rewind_epoch}
    if check_granularity(weight_granularity) != "unstructured":  # old checkpoints lack the key
        options["weight_granularity"] = weight_granularity
    search = _IMPSearch(model, dataset, options)
    search.resume(checkpoint)
    last = len(graph_targets)
    report = set(report_rounds) | {last}

    def train(desc: str) -> tuple[nn.Module, TrainResult]:
        trained, result = train_ticket(model, dataset, search.rewind_state,
                                       search.units.expand(search.edge_keep),
                                       search.weight_masks, epochs=epochs - rewind_epoch, lr=lr,
                                       weight_decay=weight_decay, seed=seed, progress=progress,
                                       desc=desc, on_epoch=on_epoch)
        search.epochs_run += result.epochs
        return trained, result

    def report_ticket(k: int, trained: nn.Module, result: TrainResult) -> SearchResult:
        ticket = search.finish(trained, result, time.perf_counter() - started)
        if on_ticket is not None:
            on_ticket(k, ticket)
        return ticket

    for k in range(search.done + 1, last + 1):
        trained, result = train(f"IMP round {k}")
        if k - 1 in report:  # round k trains the level-(k-1) ticket from θ₀
            report_ticket(k - 1, trained, result)
        search.prune(k, trained, result)
        search.save(checkpoint)
        if on_round is not None:
            on_round(k, search.units.expand(search.edge_keep),
                     {n: m.clone() for n, m in search.weight_masks.items()})
    return report_ticket(last, *train("IMP ticket"))


def _early_weights(model: nn.Module, dataset: Any, options: dict[str, Any]) -> dict[str, Tensor]:
    """The weights after ``options["rewind_epoch"]`` epochs of dense training from θ₀ (the
    late-rewinding point; deterministic in the seed, so a resumed search gets the same)."""
    dense = copy.deepcopy(model)
    train_model(dense, dataset, epochs=options["rewind_epoch"], lr=options["lr"],
                weight_decay=options["weight_decay"], seed=options["seed"], restore_best=False,
                progress=False, desc="IMP rewind point")
    return initial_state(dense)


class _IMPSearch(RoundCheckpoint):
    """An IMP search in progress: θ₀, edge units, current masks and round records."""

    kind, label = "imp-checkpoint", "IMP"

    def __init__(self, model: nn.Module, dataset: Any, options: dict[str, Any]) -> None:
        self.dataset, self.options, self.scope = dataset, options, options["weight_scope"]
        self.theta0 = initial_state(model)
        self.rewind_state = self.theta0 if not options["rewind_epoch"] else \
            _early_weights(model, dataset, options)
        self.units = EdgeUnits(dataset)
        self.hidden = weight_units(model, options.get("weight_granularity", "unstructured"))
        self.names = weight_names(model, self.scope, self.hidden)
        self.scores = unit_scores(self.units, options["edge_score"], options["seed"])
        self.edge_keep = self.units.all_kept()
        tensors = named_tensors(model, "all")
        self.weight_masks = {n: torch.ones_like(tensors[n], dtype=torch.bool)
                             for n in self.names}
        self.epochs_run, self.done, self.rounds = 0, 0, []

    def prune(self, k: int, trained: nn.Module, run: TrainResult) -> None:
        """Round ``k``'s pruning after its training run ``run`` of ``trained``."""
        s_g, s_w = self.options["graph_targets"][k - 1], self.options["weight_targets"][k - 1]
        values = named_tensors(trained, "all")
        self.weight_masks = select_weights({n: values[n].abs() for n in self.names}, s_w,
                                           within=self.weight_masks, units=self.hidden)
        self.edge_keep = self.units.select(self.scores, s_g, within=self.edge_keep)
        self.rounds.append({"round": k, "graph_target": s_g, "weight_target": s_w,
                            "edges_kept": self.units.kept_count(self.edge_keep),
                            "weights_kept": int(sum(int(m.sum())
                                                    for m in self.weight_masks.values())),
                            "val": run.val, "test": run.test, "best_epoch": run.best_epoch,
                            "epochs": run.epochs})
        self.done = k

    def finish(self, trained: nn.Module, result: TrainResult, seconds: float) -> SearchResult:
        """The current masks' ticket, trained as ``trained`` by the run ``result``."""
        return finish(trained, self.dataset, self.units, self.edge_keep, self.weight_masks,
                      self.rewind_state, result, self.scope, self.epochs_run, seconds,
                      list(self.rounds), self.hidden)

    def masks_state(self) -> tuple[Tensor, dict[str, Tensor]]:
        return self.edge_keep.clone(), self.weight_masks

    def restore(self, state: dict[str, Any]) -> None:
        self.edge_keep, self.weight_masks = state["edge_kept"], state["weight_masks"]
