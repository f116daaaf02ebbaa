"""Graph lottery tickets: :func:`find_ticket`, the one Python entry point, and :class:`Ticket`.

A ticket is a sparse subgraph of the input graph plus a sparse subnetwork of the GNN, with the
initial weights θ₀ it trains from (Chen et al., ICML 2021, the graph lottery ticket
hypothesis). :func:`find_ticket` runs one method of :mod:`graphsparse.gnn.methods` on a
model — one from :func:`~graphsparse.gnn.models.build_model` or any PyG model called as
``model(x, edge_index)`` — and a dataset — a :class:`~graphsparse.gnn.data.LoadedDataset` or a
plain PyG ``Data`` with ``x``, ``edge_index``, ``y`` and ``train_mask``/``val_mask``/
``test_mask`` (node classification). The model passed is not modified.

Targets come in two forms:

* ``graph_sparsity=s_g, weight_sparsity=s_θ`` — reach these directly. One-shot methods prune
  once; iterative methods (UGS, IMP) run ``rounds`` rounds (default 20) with targets
  ``1 - (1 - s)^(j/rounds)``, the last exactly ``s``;
* ``level=k, p_graph=p_g, p_weight=p_θ`` — the UGS/TEDDY grid ``s = 1 - (1 - p)^k`` (UGS:
  p_g 0.05, p_θ 0.2; TEDDY: p_θ 0.1); iterative methods run ``k`` rounds of ``p``.

Either way a ticket at graph target ``s`` keeps exactly ``kept_count(U, s)`` non-loop edge units
(undirected pairs) and ``kept_count(P, s_θ)`` weights of its scope, whatever the method.

Example:
    >>> import torch
    >>> from torch_geometric.nn import GCN
    >>> from graphsparse.gnn.data import synthetic_sbm
    >>> data = synthetic_sbm(num_nodes=200, num_classes=2, seed=0)
    >>> _ = torch.manual_seed(0)
    >>> model = GCN(data.num_features, 16, num_layers=2, out_channels=2)
    >>> ticket = find_ticket(model, data, method="random", graph_sparsity=0.5,
    ...                      weight_sparsity=0.8, epochs=5)
    >>> from graphsparse.masks import kept_count
    >>> ticket.graph_sparsity["kept"] == kept_count(ticket.graph_sparsity["total"], 0.5)
    True
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from graphsparse.checks import check_int
from graphsparse.gnn.data import LoadedDataset
from graphsparse.gnn.edges import mask_graph
from graphsparse.gnn.experiment.targets import Targets
from graphsparse.gnn.methods import ITERATIVE, TrainConfig, get_method, initial_state
from graphsparse.gnn.models import model_from_config
from graphsparse.gnn.train import MiniBatch, TrainResult, train_model
from graphsparse.masks import CorruptFileError, attach, load_file, masks_of, save_file

__all__ = ["TICKET_VERSION", "Ticket", "as_dataset", "find_ticket", "load_ticket",
           "method_config", "ticket_from_result"]

#: Version of the ticket file format (kind ``"ticket"``).
TICKET_VERSION = 1

def as_dataset(data: Any) -> LoadedDataset:
    """A LoadedDataset as is, or a PyG ``Data`` wrapped as a node-classification dataset.

    The ``Data`` needs ``x`` ``[N, F]``, ``edge_index`` ``[2, E]``, integer labels ``y`` ``[N]``
    and bool ``train_mask``/``val_mask``/``test_mask`` ``[N]``; the metric is accuracy.
    """
    if isinstance(data, LoadedDataset):
        return data
    if not isinstance(data, Data):
        raise TypeError(f"data must be a LoadedDataset (graphsparse.gnn.load_dataset) or a "
                        f"torch_geometric.data.Data, got {type(data).__name__}")
    missing = [k for k in ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask")
               if getattr(data, k, None) is None]
    if missing:
        raise ValueError(f"a Data object for node classification needs {', '.join(missing)}")
    y = data.y.view(-1)
    if y.dtype.is_floating_point or y.numel() != data.num_nodes:
        raise ValueError("data.y must hold one integer class label per node")
    split = {}
    for part, key in (("train", "train_mask"), ("valid", "val_mask"), ("test", "test_mask")):
        mask = getattr(data, key)
        if mask.dtype != torch.bool or mask.shape != (data.num_nodes,):
            raise ValueError(f"data.{key} must be a bool tensor of shape [{data.num_nodes}]")
        split[part] = mask
    return LoadedDataset(
        name="data", task="node", target="multiclass", data=data, dataset=None, split=split,
        split_name="provided (Data masks)", split_seed=None, split_index=None,
        num_features=data.num_node_features, num_classes=int(y.max()) + 1, metric="acc",
        evaluator=None, feature_layout="sparse_csr" if data.x.layout != torch.strided
        else "dense", root=None)


@dataclass
class Ticket:
    """A graph lottery ticket.

    Attributes:
        edge_mask: ``BoolTensor [E]`` over the edge ids of ``edge_index`` (True = kept).
        edge_index: ``[2, E]``: the graph the mask covers (the dataset's mask graph).
        weight_masks: ``{name: BoolTensor}`` by unmasked parameter name, over ``weight_scope``.
        initial_state: θ₀, the model's ``state_dict`` before the search.
        trained_state: the ticket's trained weights (pruned entries zero), plain names.
        model_config: the model's ``config`` (models from ``build_model``), else None.
        method: method name; method_config: every option of the search (targets, schedule,
            epochs, lr, weight decay, seed, method options).
        metrics: ``metric``, ``val``, ``test``, ``best_epoch`` of the reported run,
            ``search_epochs``, ``search_seconds`` and per-round records ``rounds``.
        graph_sparsity: kept/total/sparsity over undirected edges without self-loops (scope
            stated, every count); weight_sparsity: kept/numel/sparsity over ``weight_scope``.
        weight_scope: ``"linear"`` (UGS) or ``"all"`` (TEDDY).
        dataset: ``LoadedDataset.describe()`` of the dataset searched.
    """

    edge_mask: Tensor
    edge_index: Tensor
    weight_masks: dict[str, Tensor]
    initial_state: dict[str, Tensor]
    trained_state: dict[str, Tensor]
    model_config: dict[str, Any] | None
    method: str
    method_config: dict[str, Any]
    metrics: dict[str, Any]
    graph_sparsity: dict[str, Any]
    weight_sparsity: dict[str, Any]
    weight_scope: str
    dataset: dict[str, Any] = field(default_factory=dict)

    _FIELDS = ("edge_mask", "edge_index", "weight_masks", "initial_state", "trained_state",
               "model_config", "method", "method_config", "metrics", "graph_sparsity",
               "weight_sparsity", "weight_scope", "dataset")

    def save(self, path: str | os.PathLike) -> Path:
        """Write the ticket atomically in the safe format (kind ``"ticket"``, loadable with
        ``weights_only=True``, checksummed). Returns the path."""
        payload = {name: getattr(self, name) for name in self._FIELDS}
        return save_file(path, "ticket", payload, version=TICKET_VERSION)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Ticket:
        """Read a ticket written by :meth:`save` (``weights_only=True``; the checksum and the
        kind are verified, see :func:`graphsparse.masks.load_file`)."""
        payload, version = load_file(path, "ticket")
        if version != TICKET_VERSION:
            raise CorruptFileError(f"{str(path)!r} is a ticket of version {version}; this "
                                     f"library reads version {TICKET_VERSION}")
        missing = [k for k in cls._FIELDS if k not in payload]
        if missing:
            raise CorruptFileError(f"{str(path)!r} lacks ticket fields {missing}")
        return cls(**{k: payload[k] for k in cls._FIELDS})

    def build_model(self) -> nn.Module:
        """A fresh model of the ticket's architecture (from ``model_config``), unmasked."""
        if self.model_config is None:
            raise ValueError("this ticket was found on a user-built model (no config); pass an "
                             "instance of the same architecture to apply() / retrain()")
        return model_from_config(self.model_config)

    def apply(self, model: nn.Module | None = None, *, trained: bool = False) -> nn.Module:
        """Load θ₀ (or the trained weights) into ``model`` and attach the weight masks.

        Args:
            model: an unmasked model of the ticket's architecture, modified in place; None
                builds one from ``model_config``.
            trained: load ``trained_state`` instead of θ₀.

        Returns:
            The masked model. Use :attr:`edge_mask` (mode ``"remove"``) for its graph.
        """
        model = self.build_model() if model is None else model
        if masks_of(model):
            raise ValueError("the model already carries weight masks; pass an unmasked model")
        state = self.trained_state if trained else self.initial_state
        expected, given = set(state), set(model.state_dict())
        if expected != given:
            raise ValueError(f"the model's state_dict does not match the ticket's: missing "
                             f"{sorted(expected - given)[:5]}, unexpected "
                             f"{sorted(given - expected)[:5]}")
        model.load_state_dict(state)
        attach(model, self.weight_masks)
        return model

    def retrain(self, data: Any, model: nn.Module | None = None, *, epochs: int = 200,
                lr: float = 0.01, weight_decay: float = 5e-4, seed: int = 0,
                progress: bool = False) -> tuple[nn.Module, TrainResult]:
        """Train the ticket from θ₀ with frozen masks, pruned edges physically removed.

        Args:
            data: the dataset the ticket was found on (LoadedDataset or ``Data``); its mask
                graph must be the ticket's ``edge_index``.
            model: an unmasked model of the architecture (modified in place), or None to build
                one from ``model_config``.
            epochs, lr, weight_decay, seed: as for :func:`~graphsparse.gnn.train.train_model`.

        Returns:
            ``(model, TrainResult)``.
        """
        dataset = as_dataset(data)
        graph = mask_graph(dataset).edge_index.cpu()
        if graph.shape != self.edge_index.shape or not torch.equal(graph, self.edge_index):
            raise ValueError("the dataset's graph is not the one the ticket's edge mask covers "
                             f"(edge_index {tuple(graph.shape)} vs "
                             f"{tuple(self.edge_index.shape)})")
        model = self.apply(model)
        result = train_model(model, dataset, epochs=epochs, lr=lr, weight_decay=weight_decay,
                             edge_mask=self.edge_mask, mode="remove", seed=seed,
                             progress=progress, desc="ticket retrain")
        return model, result

    def export(self, path: str | os.PathLike, data_or_dataset: Any) -> Path:
        """Write a deployable model of the ticket (baked weights, kept edges, GCN propagation
        prebuilt): :func:`graphsparse.gnn.experiment.export.export_ticket`. Returns the path."""
        from graphsparse.gnn.experiment.export import export_ticket

        return export_ticket(self, data_or_dataset, path)


def load_ticket(path: str | os.PathLike) -> Ticket:
    """:meth:`Ticket.load`."""
    return Ticket.load(path)


def method_config(method: str, targets: Targets, point: Any, iterative: bool, scope: str,
                  train: dict[str, Any], seed: int, options: dict[str, Any],
                  minibatch: MiniBatch | None = None) -> dict[str, Any]:
    """A ticket's ``method_config``: the method, its schedule at ``point``, the weight scope,
    the training settings (``epochs``, ``lr``, ``weight_decay``), the seed, the mini-batch
    settings and the method options that are plain values (Python objects are left out)."""
    graph_targets, weight_targets = targets.point_schedule(point, iterative)
    schedule = targets.describe()
    if not iterative:
        schedule.pop("rounds", None)
    return {"method": method, **schedule, "graph_targets": graph_targets,
            "weight_targets": weight_targets, "weight_scope": scope, **train, "seed": seed,
            **({} if minibatch is None else {"minibatch": minibatch.config()}),
            **{k: v for k, v in options.items()
               if isinstance(v, (str, int, float, bool, type(None)))}}


def find_ticket(model: nn.Module, data: Any, *, method: str = "ugs",
                graph_sparsity: float | None = None, weight_sparsity: float | None = None,
                level: int | None = None, p_graph: float | None = None,
                p_weight: float | None = None, rounds: int | None = None,
                weight_scope: str | None = None, epochs: int = 200, lr: float = 0.01,
                weight_decay: float = 5e-4, seed: int = 0, progress: bool = False,
                device: Any = None, minibatch: MiniBatch | None = None,
                **options: Any) -> Ticket:
    """Find a graph lottery ticket of ``model`` on ``data`` with ``method``.

    Args:
        model: an unmasked model, ``model(x, edge_index) -> logits [N, C]`` for node tasks (a
            :func:`~graphsparse.gnn.models.build_model` model or any PyG model); not modified.
        data: a :class:`~graphsparse.gnn.data.LoadedDataset` or a PyG ``Data`` with
            train/val/test masks (see :func:`as_dataset`).
        method: one of :data:`graphsparse.gnn.methods.METHODS` (``"ugs"``, ``"teddy"``,
            ``"random"``, ``"magnitude"``, ``"imp"``, ``"jaccard"``, ``"adamic_adar"``).
        graph_sparsity, weight_sparsity: direct targets in ``[0, 1)`` (a missing one is 0).
        level, p_graph, p_weight: the geometric grid instead (defaults p 0.05 / 0.2).
        rounds: rounds of an iterative method for direct targets (default 20).
        weight_scope: ``"linear"`` or ``"all"``; default per method
            (:data:`~graphsparse.gnn.methods.DEFAULT_SCOPES`: TEDDY ``"all"``, others
            ``"linear"``).
        epochs: epochs of each training run of the method.
        lr, weight_decay, seed: Adam and the seed of every run.
        progress: show progress bars.
        device: where every run trains (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``;
            None: the model's device).
        minibatch: a :class:`~graphsparse.gnn.train.MiniBatch` to train every run on sampled
            neighbourhoods (node and link tasks); None: full batch.
        **options: method options, e.g. UGS ``s1``, ``s2``, ``mode``, ``retrain_epochs``,
            ``on_round``; TEDDY ``lamb``, ``teacher``; IMP/magnitude ``edge_score``; every
            method ``weight_granularity`` (``"unstructured"``, default, or ``"neuron"``: whole
            hidden units, :mod:`graphsparse.masks.neurons`; recorded in ``method_config``,
            and :meth:`Ticket.export` then shrinks the layers).

    Returns:
        :class:`Ticket`.

    Raises:
        ValueError: unknown method (valid ones listed), targets out of range or in both forms,
            an option the method does not take.
    """
    chosen = get_method(method)
    if method == "dense":
        raise ValueError("method 'dense' is a sweep's baseline, not a ticket; use train_model")
    dataset = as_dataset(data)
    scope = chosen.scope(weight_scope)
    if level is not None:
        check_int(level, "level", low=1)
    if rounds is not None and level is None and not chosen.iterative:
        raise ValueError(f"rounds applies to iterative methods ({sorted(ITERATIVE)}), not "
                         f"{method!r}")
    targets = Targets.from_arguments(levels=None if level is None else [level],
                                     p_graph=p_graph, p_weight=p_weight,
                                     graph_sparsity=graph_sparsity,
                                     weight_sparsity=weight_sparsity, rounds=rounds)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    initial_state(model)  # rejects a model that already carries masks, before any training
    [found] = chosen.search(model, dataset, targets, scope=scope,
                            train_config=TrainConfig(epochs, lr, weight_decay, seed, progress,
                                                     device, minibatch),
                            method_options=options)
    config = method_config(method, targets, found.point, chosen.iterative, scope,
                           {"epochs": epochs, "lr": lr, "weight_decay": weight_decay}, seed,
                           options, minibatch)
    return ticket_from_result(found.result, dataset, getattr(model, "config", None), method,
                              config, scope)


def ticket_from_result(result: Any, dataset: LoadedDataset, model_config: Any, method: str,
                       method_config: dict[str, Any], scope: str) -> Ticket:
    """The :class:`Ticket` of a method's ``SearchResult`` (tensors moved to the CPU)."""
    train = result.train
    metrics = {"metric": train.metric, "val": train.val, "test": train.test,
               "best_epoch": train.best_epoch, "search_epochs": result.search_epochs,
               "search_seconds": result.search_seconds, "rounds": result.rounds}
    return Ticket(
        edge_mask=result.edge_mask.cpu(), edge_index=mask_graph(dataset).edge_index.cpu(),
        weight_masks={k: v.cpu() for k, v in result.weight_masks.items()},
        initial_state={k: v.cpu() for k, v in result.initial_state.items()},
        trained_state={k: v.cpu() for k, v in result.trained_state.items()},
        model_config=dict(model_config) if isinstance(model_config, dict) else None,
        method=method,
        method_config=method_config, metrics=metrics, graph_sparsity=result.graph_sparsity,
        weight_sparsity=result.weight_sparsity, weight_scope=scope,
        dataset=dataset.describe())
