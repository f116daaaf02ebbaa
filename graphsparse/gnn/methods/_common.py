"""Pieces shared by every ticket-finding method: targets, edge units, rewinding, the result.

Edge units. Every method prunes the **non-loop units** of
:func:`~graphsparse.gnn.edges.tie_directions` over the dataset's mask graph
(:func:`~graphsparse.gnn.edges.mask_graph`): undirected pairs for undirected graphs (both
directions kept or pruned together), single directed edges for directed ones. Self-loops are
never pruned. So a graph target ``s`` keeps exactly ``kept_count(U, s)`` units, where ``U`` is
the number of non-loop units — the count :func:`~graphsparse.gnn.edges.count_graph_sparsity`
reports as its primary count.

Weights. The scope (``"linear"``: UGS, ``"all"``: TEDDY) is that of
:func:`graphsparse.masks.named_tensors`; a weight target ``s`` keeps exactly
``kept_count(P, s)`` entries of the scope's ``P`` entries, selected globally.

Weight granularity (``weight_granularity``, :data:`GRANULARITIES`). ``"unstructured"``
selects entries as above. ``"neuron"`` selects whole hidden units
(:mod:`graphsparse.masks.neurons`): each method scores entries as it always does, a unit scores
the mean ``|score|`` of its scored entries, ``kept_count(U, s)`` of the ``U`` hidden units are
kept (library tie rule, nested across rounds), and a removed unit loses its incoming row(s),
bias entry, attention entries and the next layer's column(s). Its bias and attention entries
are masked whatever the scope: at neuron granularity the masks cover the scope's tensors plus
every tensor holding a unit slice (:func:`weight_names`), and the realised parameter sparsity
(``weight_sparsity``) is counted over those tensors, with ``units_kept``/``units_total``.

Iterative rounds select within the previous round's masks (``topk_masks(..., within=...)``), so
round ``k`` of a geometric schedule keeps exactly ``kept_count(n, 1 - (1-p)^k)`` entries.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from graphsparse.gnn.accounting import WEIGHT_SCOPES, count_weight_sparsity
from graphsparse.gnn.edges import TiedEdges, count_graph_sparsity, mask_graph, tie_directions
from graphsparse.gnn.train import EpochRecord, TrainHooks, TrainResult, distributed, train_model
from graphsparse.gnn.train.hooks import as_hooks
from graphsparse.checks import check_choice
from graphsparse.masks import (
    HiddenUnits,
    attach,
    bake,
    hidden_units,
    load_file,
    masks_of,
    named_tensors,
    save_file,
    topk_masks,
)

__all__ = [
    "EdgeUnits",
    "GRANULARITIES",
    "RoundCheckpoint",
    "SearchResult",
    "check_granularity",
    "check_scope",
    "check_targets",
    "epoch_hooks",
    "finish",
    "initial_state",
    "plain_state",
    "read_checkpoint",
    "rewind",
    "scope_names",
    "select_weights",
    "train_ticket",
    "weight_names",
    "weight_units",
]

#: Weight granularities every method supports (see the module documentation).
GRANULARITIES = ("unstructured", "neuron")


@dataclass
class SearchResult:
    """What a method returns (:func:`graphsparse.gnn.find_ticket` wraps it in a ``Ticket``).

    Attributes:
        edge_mask: ``BoolTensor [E]`` over the mask graph's directed edge ids (True = kept);
            None for the dense model (every edge kept).
        weight_masks: ``{name: BoolTensor}`` over the weight scope, unmasked parameter names.
        initial_state: θ₀, the model's ``state_dict`` before the search (plain names).
        trained_state: the ticket's trained weights (plain names, pruned entries zero).
        train: the :class:`~graphsparse.gnn.train.TrainResult` whose metrics are reported.
        graph_sparsity: :meth:`~graphsparse.gnn.edges.GraphSparsity.to_dict` of the mask.
        weight_sparsity: ``SparsityReport.to_dict()`` over ``weight_scope``.
        weight_scope: ``"linear"`` or ``"all"``.
        search_epochs: epochs of every training run of the search, the final one included.
        search_seconds: wall-clock seconds of the search.
        rounds: one JSON-serialisable dict per round or stage (targets, kept counts, metrics).
    """

    edge_mask: Tensor | None
    weight_masks: dict[str, Tensor]
    initial_state: dict[str, Tensor]
    trained_state: dict[str, Tensor]
    train: TrainResult
    graph_sparsity: dict[str, Any]
    weight_sparsity: dict[str, Any]
    weight_scope: str
    search_epochs: int
    search_seconds: float
    rounds: list[dict[str, Any]] = field(default_factory=list)


class EpochCallback(TrainHooks):
    """Hands every :class:`~graphsparse.gnn.train.EpochRecord` to a callable (progress)."""

    def __init__(self, on_epoch: Callable[[EpochRecord], None]) -> None:
        self.on_epoch = on_epoch

    def on_epoch_end(self, record: EpochRecord, model: nn.Module) -> None:
        self.on_epoch(record)


def epoch_hooks(on_epoch: Callable[[EpochRecord], None] | None) -> tuple[TrainHooks, ...]:
    """``(EpochCallback(on_epoch),)``, or ``()`` when ``on_epoch`` is None."""
    return () if on_epoch is None else (EpochCallback(on_epoch),)


def check_scope(scope: Any) -> str:
    """``scope`` if it is one of :data:`~graphsparse.gnn.accounting.WEIGHT_SCOPES`."""
    if scope not in WEIGHT_SCOPES:
        raise ValueError(f"weight_scope must be one of {', '.join(map(repr, WEIGHT_SCOPES))}; "
                         f"got {scope!r}")
    return scope


def check_targets(graph_targets: Sequence[float],
                  weight_targets: Sequence[float]) -> tuple[list[float], list[float]]:
    """Per-round targets: same non-zero length, each in ``[0, 1)``, non-decreasing."""
    out = []
    for name, targets in (("graph_targets", graph_targets), ("weight_targets", weight_targets)):
        values = []
        for t in targets:
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 <= t < 1.0:
                raise ValueError(f"{name} must hold sparsities in [0, 1), got {list(targets)}")
            values.append(float(t))
        if any(b < a for a, b in zip(values, values[1:])):
            raise ValueError(f"{name} must be non-decreasing (pruning never regrows), got "
                             f"{list(targets)}")
        out.append(values)
    if not out[0] or len(out[0]) != len(out[1]):
        raise ValueError("graph_targets and weight_targets must have the same length >= 1 "
                         f"(one entry per round), got {len(out[0])} and {len(out[1])}")
    return out[0], out[1]


class EdgeUnits:
    """The prunable edge units of a dataset's mask graph (see the module documentation).

    ``per_direction=True`` makes every direction of an undirected graph its own unit (UGS's
    dense ``N×N`` mask); ``graph`` is then marked directed, so graph sparsity counts directed
    edges.

    Attributes:
        graph: the :class:`~graphsparse.gnn.edges.MaskGraph`.
        tied: :class:`~graphsparse.gnn.edges.TiedEdges` over ``graph.edge_index``.
        prunable: ``BoolTensor [U]``, the non-loop units.
    """

    def __init__(self, dataset: Any, *, per_direction: bool = False) -> None:
        self.graph = mask_graph(dataset)
        if per_direction and not self.graph.directed:
            # one unit per direction; graph sparsity then counts directed edges
            self.graph = dataclasses.replace(self.graph, directed=True)
        self.tied: TiedEdges = tie_directions(self.graph.edge_index, self.graph.num_nodes,
                                              directed=self.graph.directed)
        self.prunable = ~self.tied.is_loop.cpu()

    @property
    def count(self) -> int:
        """Number of prunable units (the graph-sparsity denominator)."""
        return int(self.prunable.sum())

    def all_kept(self) -> Tensor:
        """``BoolTensor [U]``, every unit kept."""
        return torch.ones(self.tied.num_pairs, dtype=torch.bool)

    def select(self, scores: Tensor, sparsity: float, within: Tensor | None = None) -> Tensor:
        """Keep the top-scoring prunable units at ``sparsity`` (exact count, library tie rule);
        self-loop units are always kept.

        Args:
            scores: ``[U]`` unit scores (higher = kept first); entries of loop units ignored.
            sparsity: target in ``[0, 1)`` over the prunable units.
            within: ``BoolTensor [U]``: only these units may stay kept (iterative rounds).

        Returns:
            ``BoolTensor [U]`` with exactly ``kept_count(count, sparsity)`` prunable units kept.
        """
        keep = self.all_kept()
        if self.count == 0:
            return keep
        sub = {"edges": scores.detach().cpu()[self.prunable].to(torch.float64)}
        inside = None if within is None else {"edges": within.cpu()[self.prunable]}
        keep[self.prunable] = topk_masks(sub, sparsity, within=inside)["edges"]
        return keep

    def kept_count(self, keep: Tensor) -> int:
        """Prunable units kept by a unit mask ``[U]``."""
        return int((keep.cpu() & self.prunable).sum())

    def expand(self, keep: Tensor) -> Tensor:
        """A unit mask ``[U]`` as a mask over the directed edge ids ``[E]``."""
        return self.tied.expand(keep.cpu())


def scope_names(model: nn.Module, scope: str) -> list[str]:
    """The (unmasked) names of the tensors in the weight scope, in the toolkit's global order."""
    names = list(named_tensors(model, check_scope(scope)))
    if not names:
        raise ValueError(f"the model has no tensors in weight scope {scope!r}")
    return names


def check_granularity(value: Any) -> str:
    """``value`` if it is one of :data:`GRANULARITIES` (``ValueError`` naming them)."""
    return check_choice(value, "weight_granularity", GRANULARITIES)


def weight_units(model: nn.Module, granularity: str) -> HiddenUnits | None:
    """The model's hidden units at ``"neuron"`` granularity, None at ``"unstructured"``."""
    return hidden_units(model) if check_granularity(granularity) == "neuron" else None


def weight_names(model: nn.Module, scope: str, units: HiddenUnits | None = None) -> list[str]:
    """The tensors a method masks: the scope's (:func:`scope_names`), plus at neuron
    granularity every tensor holding a unit slice (biases, attention vectors), in the
    toolkit's global order."""
    names = scope_names(model, scope)
    if units is None:
        return names
    extra = set(names) | set(units.tensor_names())
    return [n for n in named_tensors(model, "all") if n in extra]


def select_weights(scores: dict[str, Tensor], sparsity: float,
                   within: dict[str, Tensor] | None = None,
                   units: HiddenUnits | None = None,
                   shapes: dict[str, Any] | None = None) -> dict[str, Tensor]:
    """Global top-k weight masks at ``sparsity`` (exact count), optionally within masks; with
    ``units`` (neuron granularity) ``kept_count(U, sparsity)`` whole hidden units are kept
    (:meth:`~graphsparse.masks.HiddenUnits.select`), masks over ``shapes`` (default: the
    scores' tensors)."""
    scores = {k: v.detach() for k, v in scores.items()}
    if units is not None:
        return units.select(scores, sparsity, within=within, shapes=shapes)
    return topk_masks(scores, sparsity, scope="global", within=within)


def initial_state(model: nn.Module) -> dict[str, Tensor]:
    """θ₀: a clone of the unmasked model's ``state_dict`` (plain names)."""
    if masks_of(model):
        raise ValueError("the model already carries weight masks; pass an unmasked model (bake "
                         "it with graphsparse.masks.bake or use a fresh one)")
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@torch.no_grad()
def rewind(model: nn.Module, theta0: dict[str, Tensor]) -> None:
    """Copy θ₀ into ``model`` bit-exactly (in place), masked or not.

    For a tensor carrying a mask the raw tensor (``parametrizations.<t>.original``) receives
    θ₀'s value; masks and mask values are left alone. Every key of θ₀ must name a parameter or
    buffer of the unmasked model.
    """
    for name, value in theta0.items():
        prefix, _, tname = name.rpartition(".")
        try:
            owner = model.get_submodule(prefix) if prefix else model
        except AttributeError:
            raise KeyError(f"θ₀ entry {name!r} matches no tensor of the model") from None
        if parametrize.is_parametrized(owner, tname):
            target = owner.parametrizations[tname].original
        else:
            target = getattr(owner, tname, None)
        if not isinstance(target, Tensor):
            raise KeyError(f"θ₀ entry {name!r} matches no tensor of the model")
        target.copy_(value)


def plain_state(model: nn.Module) -> dict[str, Tensor]:
    """The model's weights with masks baked in, under plain names (a copy; ``model`` untouched)."""
    baked = bake(copy.deepcopy(model))
    return {k: v.detach().clone() for k, v in baked.state_dict().items()}


def train_ticket(template: nn.Module, dataset: Any, theta0: dict[str, Tensor],
                 edge_mask: Tensor, weight_masks: dict[str, Tensor], *, epochs: int, lr: float,
                 weight_decay: float, seed: int, progress: bool = False,
                 hooks: Any = (), desc: str | None = None,
                 on_epoch: Callable[[EpochRecord], None] | None = None
                 ) -> tuple[nn.Module, TrainResult]:
    """Train the ticket ``(θ₀ ⊙ m_θ, kept edges)`` with frozen binary masks.

    Args:
        template: an unmasked model of the architecture (copied, never modified).
        dataset: a LoadedDataset.
        theta0: initial weights (plain names).
        edge_mask: ``BoolTensor [E]`` over the mask graph (edges physically removed).
        weight_masks: ``{name: BoolTensor}`` attached as binary masks.
        on_epoch: called with every epoch's record (after ``hooks``).

    Returns:
        ``(model, TrainResult)``: the trained masked model (best-validation weights) and the run.
    """
    model = copy.deepcopy(template)
    rewind(model, theta0)
    if weight_masks:
        attach(model, weight_masks)
    result = train_model(model, dataset, epochs=epochs, lr=lr, weight_decay=weight_decay,
                         edge_mask=edge_mask, mode="remove",
                         hooks=(*as_hooks(hooks), *epoch_hooks(on_epoch)), seed=seed,
                         progress=progress, desc=desc)
    return model, result


def read_checkpoint(path: Any, kind: str, label: str, options: dict[str, Any],
                    theta0: dict[str, Tensor], num_units: int) -> dict[str, Any]:
    """An iterative search's checkpoint (kind ``kind``), after checking that it belongs to
    this search: same θ₀, same options, the same targets for its completed rounds, the same
    number of edge units. ``ValueError`` naming ``label`` otherwise."""
    state, _ = load_file(path, kind)
    check_world_size(path, state)
    same_theta = state["theta0"].keys() == theta0.keys() and all(
        torch.equal(state["theta0"][k], v.cpu()) for k, v in theta0.items())
    done = state["done"]
    prefix_ok = all(state["options"][key][:done] == options[key][:done]
                    for key in ("graph_targets", "weight_targets"))
    others_ok = all(state["options"].get(key) == options[key] for key in options
                    if key not in ("graph_targets", "weight_targets"))
    if not (same_theta and prefix_ok and others_ok and done <= len(options["graph_targets"])
            and state["edge_kept"].numel() == num_units):
        raise ValueError(f"checkpoint {str(path)!r} was written by a different {label} search "
                         "(other model weights, dataset or options); delete it or pass "
                         "another path")
    return state


def check_world_size(path: Any, state: dict[str, Any]) -> None:
    """``ValueError`` when the checkpoint ``state`` (read from ``path``) was written by another
    number of training processes (mini-batch shards, hence the search, depend on it); files
    without the field count as 1."""
    stored, now = int(state.get("world_size", 1)), distributed.world_size()
    if stored != now:
        raise ValueError(f"checkpoint {str(path)!r} was written with world size {stored} but "
                         f"this run has world size {now}; resume with {stored} processes or "
                         "use another output directory")


class RoundCheckpoint:
    """Checkpointing of an iterative search (UGS, IMP): after every round the state — options,
    θ₀, completed rounds and their records, epochs, masks — is written atomically (safe format,
    kind :attr:`kind`); a later search with the same θ₀, dataset and options resumes after the
    last completed round (:func:`read_checkpoint` refuses another search's file).

    A subclass sets ``options``, ``theta0``, ``units``, ``done``, ``rounds``, ``epochs_run`` and
    implements :meth:`masks_state` and :meth:`restore`.
    """

    kind = "search-checkpoint"
    label = "iterative"

    def masks_state(self) -> tuple[Tensor, dict[str, Tensor]]:
        """The kept unit mask ``[U]`` and the weight masks to write."""
        raise NotImplementedError

    def extra_state(self) -> dict[str, Any]:
        """Further fields a method writes (default none)."""
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        """Take the masks (and extra fields) of a checkpoint's ``state``."""
        raise NotImplementedError

    def resume(self, checkpoint: Any) -> None:
        """Continue after the last completed round of ``checkpoint`` (if the file exists).
        A checkpoint written under another number of training processes is refused."""
        if checkpoint is None or not Path(checkpoint).exists():
            return
        state = read_checkpoint(checkpoint, self.kind, self.label, self.options, self.theta0,
                                self.units.tied.num_pairs)
        self.done, self.rounds, self.epochs_run = state["done"], state["rounds"], \
            state["epochs_run"]
        self.restore(state)

    def save(self, checkpoint: Any) -> None:
        """Write the state after the completed rounds atomically (if ``checkpoint``)."""
        if checkpoint is None or not distributed.is_writer():
            return
        edge_kept, weight_masks = self.masks_state()
        save_file(checkpoint, self.kind, {"world_size": distributed.world_size(),
            "options": self.options, "theta0": {n: v.cpu() for n, v in self.theta0.items()},
            "done": self.done, "rounds": self.rounds, "epochs_run": self.epochs_run,
            "edge_kept": edge_kept, "weight_masks": weight_masks, **self.extra_state()})


def _weight_report(model: nn.Module, scope: str, weight_masks: dict[str, Tensor],
                   hidden: HiddenUnits | None) -> dict[str, Any]:
    if hidden is None:
        return count_weight_sparsity(model, scope).to_dict()
    names = set(scope_names(model, scope)) | set(weight_masks)
    report = count_weight_sparsity(model, lambda name, owner, t: name in names).to_dict()
    return {**report, "scope": scope, "granularity": "neuron", **hidden.counts(weight_masks)}


def finish(model: nn.Module, dataset: Any, units: EdgeUnits, edge_keep: Tensor,
           weight_masks: dict[str, Tensor], theta0: dict[str, Tensor], result: TrainResult,
           scope: str, search_epochs: int, seconds: float,
           rounds: list[dict[str, Any]], hidden: HiddenUnits | None = None) -> SearchResult:
    """Assemble a :class:`SearchResult` from a trained masked ``model`` and its masks; with
    ``hidden`` (neuron granularity) the weight sparsity counts the scope plus the unit tensors
    and reports ``units_kept``/``units_total``."""
    edge_mask = units.expand(edge_keep)
    report = _weight_report(model, scope, weight_masks, hidden)
    return SearchResult(
        edge_mask=edge_mask, weight_masks={k: v.clone() for k, v in weight_masks.items()},
        initial_state=theta0, trained_state=plain_state(model), train=result,
        graph_sparsity=count_graph_sparsity(units.graph, edge_mask).to_dict(),
        weight_sparsity={k: v for k, v in report.items() if k != "tensors"},
        weight_scope=scope, search_epochs=search_epochs, search_seconds=seconds,
        rounds=rounds)
