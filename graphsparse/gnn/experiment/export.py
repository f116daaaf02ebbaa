"""Deployable graph lottery tickets: :func:`export_ticket` and :func:`load_exported`.

An exported ticket is the ticket's trained subnetwork ready for inference: weight masks baked
(pruned entries exactly zero, plain parameter names, no parametrizations), pruned edges
physically removed, and, for a GCN, the propagation prebuilt once as the transposed normalised
adjacency ``Â = D̃^-1/2 (A_kept + I) D̃^-1/2`` in ``torch.sparse_csr`` layout, so inference is one
CSR × dense product per layer and no ``gcn_norm`` per call. Other convs (GraphSAGE, GIN, GAT)
take the kept ``edge_index``. Node and link models are exported; graph-level models are refused
(their kept graph is a collection of graphs, not one propagation).

A neuron-structured ticket (``weight_granularity="neuron"``, :mod:`graphsparse.masks.neurons`)
is physically shrunk: the removed hidden units' weight rows, bias entries, attention entries
and next-layer columns are deleted from the state_dict, and :func:`load_exported` rebuilds the
plain PyG model with the smaller layers (a GAT layer keeps ``heads × max kept per head``
channels, padding heads with fewer kept units by removed, all-zero channels, since PyG's
``GATConv`` needs equal head widths). Its predictions equal the masked ticket's.

The file is a graphsparse file of kind ``"exported-ticket"`` (atomic, checksummed, loadable with
``torch.load(path, weights_only=True)``): the model config, the baked state_dict, the kept
edges, the CSR parts and the ticket's method, sparsities and metrics.

Example:
    >>> import os, tempfile, torch
    >>> from graphsparse.gnn import find_ticket, load_dataset
    >>> from graphsparse.gnn.models import build_model
    >>> ds = load_dataset("sbm")
    >>> _ = torch.manual_seed(0)
    >>> model = build_model("gcn", ds.num_features, ds.num_classes, hidden=16)
    >>> ticket = find_ticket(model, ds, method="random", graph_sparsity=0.5,
    ...                      weight_sparsity=0.5, epochs=2)
    >>> path = export_ticket(ticket, ds, os.path.join(tempfile.mkdtemp(), "t.pt"))
    >>> exported = load_exported(path)
    >>> exported.propagation.layout, exported.predict(ds.data.x).shape
    (torch.sparse_csr, torch.Size([1000, 4]))
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn import GCNConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import to_torch_csr_tensor

from graphsparse.checks import check_edge_index, check_int
from graphsparse.gnn.edges import apply_edge_mask, mask_graph
from graphsparse.gnn.experiment.ticket import Ticket, as_dataset
from graphsparse.gnn.models import model_from_config
from graphsparse.gnn.train import spmm_propagation
from graphsparse.masks import (CorruptFileError, bake, hidden_units, load_file,
                               resize_parameters, save_file)

__all__ = ["EXPORT_KIND", "EXPORT_VERSION", "ExportedTicket", "export_ticket",
           "gcn_propagation", "load_exported"]

#: Kind and version of the exported-ticket file format.
EXPORT_KIND = "exported-ticket"
EXPORT_VERSION = 1
#: Ticket fields recorded in the file's ``meta`` entry.
_META_FIELDS = ("method", "method_config", "metrics", "graph_sparsity", "weight_sparsity",
                "weight_scope", "dataset")
_PAYLOAD_FIELDS = ("config", "state_dict", "edge_index", "num_nodes", "propagation", "meta")


@dataclass
class ExportedTicket:
    """A ticket ready for inference (from :func:`load_exported`).

    Attributes:
        model: the plain model (``build_model`` architecture, baked weights, eval mode). For a
            GCN its ``GCNConv`` layers have ``normalize=False``: they take :attr:`propagation`
            (use :meth:`predict` or ``model(x, exported.graph)``); a raw ``edge_index`` is
            refused with a ``ValueError``.
        edge_index: ``[2, E']`` the kept edges (pruned edges absent).
        propagation: GCN: the normalised transposed adjacency (``torch.sparse_csr``
            ``[N, N]``, row = target); None for other convs.
        num_nodes: ``N``; config: the model config; meta: the ticket's method, method_config,
            metrics, graph/weight sparsity, weight scope and dataset description.

    Example:
        >>> exported = load_exported("ticket-export.pt")            # doctest: +SKIP
        >>> logits = exported.predict(x)                             # doctest: +SKIP
    """

    model: nn.Module
    edge_index: Tensor
    propagation: Tensor | None
    num_nodes: int
    config: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def graph(self) -> Tensor:
        """What the model's convs take: :attr:`propagation` if prebuilt, else the kept edges."""
        return self.edge_index if self.propagation is None else self.propagation

    @torch.no_grad()
    def predict(self, x: Tensor | None = None) -> Tensor:
        """Model outputs on the kept graph (eval mode, no gradients): node task: logits
        ``[N, C]``; link task: node embeddings ``[N, D]`` (``x=None`` for a featureless link
        model, which uses its learnt embedding table)."""
        self.model.eval()
        return self.model(x, self.graph)

    @torch.no_grad()
    def score(self, pairs: Tensor, x: Tensor | None = None) -> Tensor:
        """Link task: logits ``[P]`` of node pairs ``pairs`` ``[2, P]``."""
        if not callable(getattr(self.model, "decode", None)):
            raise TypeError("score() needs a link-prediction model (task='link')")
        return self.model.decode(self.predict(x), pairs)

    def to(self, device: Any) -> ExportedTicket:
        """Move model and graph to ``device`` (in place); returns self."""
        self.model.to(device)
        self.edge_index = self.edge_index.to(device)
        if self.propagation is not None:
            self.propagation = self.propagation.to(device)
        return self


def _plain_gcn(model: nn.Module) -> list[GCNConv] | None:
    """The model's ``GCNConv`` layers if it qualifies for a prebuilt propagation (every
    message-passing layer a plain normalising GCNConv with the same settings), else None."""
    if not spmm_propagation(model):  # the training loop's own rule for the CSR path
        return None
    convs = [m for m in model.modules() if isinstance(m, GCNConv)]
    settings = {(c.improved, c.add_self_loops, c.flow, c.normalize) for c in convs}
    if len(settings) != 1 or not convs[0].normalize or convs[0].flow != "source_to_target":
        return None
    return convs


def gcn_propagation(edge_index: Tensor, num_nodes: int, conv: GCNConv | None = None,
                    dtype: torch.dtype = torch.float32) -> Tensor:
    """``D̃^-1/2 (A + I) D̃^-1/2`` of ``edge_index`` as the CSR ``adj_t`` a ``GCNConv``
    with ``normalize=False`` propagates with (row = target), using PyG's own ``gcn_norm`` with
    ``conv``'s settings (``improved``, ``add_self_loops``; default: a plain ``GCNConv``).

    Example:
        >>> conv = GCNConv(3, 2)
        >>> x, ei = torch.randn(4, 3), torch.tensor([[0, 1, 1, 2, 2], [1, 0, 2, 1, 2]])
        >>> adj = gcn_propagation(ei, 4, conv)
        >>> expected = conv(x, ei)
        >>> conv.normalize = False
        >>> bool(torch.allclose(conv(x, adj), expected, atol=1e-6))
        True
    """
    num_nodes = check_int(num_nodes, "num_nodes", low=1)
    edge_index = check_edge_index(edge_index, num_nodes).cpu()
    improved = bool(conv.improved) if conv is not None else False
    loops = bool(conv.add_self_loops) if conv is not None else True
    # the edge-list normalisation handles input self-loops (add_remaining_self_loops)
    index, weight = gcn_norm(edge_index, None, num_nodes, improved, loops,
                             "source_to_target", dtype)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse CSR tensor support.*")
        return to_torch_csr_tensor(index.flip(0), weight, size=(num_nodes, num_nodes))


def _csr_parts(adj: Tensor) -> dict[str, Any]:
    return {"crow_indices": adj.crow_indices().clone(), "col_indices": adj.col_indices().clone(),
            "values": adj.values().clone(), "size": list(adj.shape)}


def _csr_from(parts: Any, path: Any) -> Tensor:
    try:
        size = tuple(int(s) for s in parts["size"])
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Ss]parse CSR tensor support.*")
            return torch.sparse_csr_tensor(parts["crow_indices"], parts["col_indices"],
                                           parts["values"], size=size, check_invariants=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CorruptFileError(f"{str(path)!r}: an invalid prebuilt propagation: {e}") from e


def _check_graph(ticket: Ticket, dataset: Any) -> None:
    """Raise ValueError unless ``dataset``'s mask graph is the ticket's ``edge_index``."""
    graph = mask_graph(dataset).edge_index.cpu()
    if graph.shape != ticket.edge_index.shape or not torch.equal(graph, ticket.edge_index):
        raise ValueError("the dataset's graph is not the one the ticket's edge mask covers "
                         f"(edge_index {tuple(graph.shape)} vs "
                         f"{tuple(ticket.edge_index.shape)}); pass the dataset the ticket was "
                         "found on")


def _check_exportable(ticket: Any, dataset: Any) -> str:
    """The model's task, after checking the ticket can be exported for ``dataset``."""
    if not isinstance(ticket, Ticket):
        raise TypeError(f"ticket must be a Ticket (find_ticket / load_ticket), got "
                        f"{type(ticket).__name__}")
    if ticket.model_config is None:
        raise ValueError("this ticket was found on a user-built model (no model_config); "
                         "export needs a model from graphsparse.gnn.models.build_model")
    task = ticket.model_config.get("task", "node")
    if task == "graph":
        raise ValueError("export_ticket supports node and link models; graph-level models "
                         "(task='graph') are not exported: their kept graph is a collection "
                         "of graphs — use Ticket.apply(trained=True) with the edge mask")
    if dataset.task != task:
        raise ValueError(f"the ticket's model is for task {task!r} but the dataset's task "
                         f"is {dataset.task!r}")
    _check_graph(ticket, dataset)
    return task


def export_ticket(ticket: Ticket, data: Any, path: str | os.PathLike) -> Path:
    """Write a deployable model of ``ticket`` to ``path`` (kind ``"exported-ticket"``).

    Args:
        ticket: a ticket of a :func:`~graphsparse.gnn.models.build_model` model (node or link
            task).
        data: the dataset the ticket was found on (LoadedDataset or PyG ``Data``); its mask
            graph must be ``ticket.edge_index``.
        path: the file to write (atomically; its folder must exist).

    Returns:
        The path. Read it back with :func:`load_exported`.

    Raises:
        ValueError: a user-built model, a graph-level model, another task or another graph.

    Example:
        >>> path = export_ticket(ticket, dataset, "ticket-export.pt")   # doctest: +SKIP
        >>> load_exported(path).predict(dataset.data.x)                  # doctest: +SKIP
    """
    dataset = as_dataset(data)
    _check_exportable(ticket, dataset)
    model = bake(ticket.apply(trained=True))
    kept = apply_edge_mask(ticket.edge_index, ticket.edge_mask)[0].contiguous()
    num_nodes = int(mask_graph(dataset).num_nodes)
    convs = _plain_gcn(model)
    dtype = next(model.parameters()).dtype
    propagation = None if convs is None \
        else _csr_parts(gcn_propagation(kept, num_nodes, convs[0], dtype))
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    payload = {
        "config": dict(ticket.model_config),
        "state_dict": _shrunk(ticket, model, state),
        "edge_index": kept, "num_nodes": num_nodes, "propagation": propagation,
        "meta": {name: getattr(ticket, name) for name in _META_FIELDS},
    }
    return save_file(path, EXPORT_KIND, payload, version=EXPORT_VERSION)


def _shrunk(ticket: Ticket, model: nn.Module, state: dict[str, Tensor]) -> dict[str, Tensor]:
    """``state`` without the removed hidden units of a neuron-structured ticket (as it is for
    an unstructured one)."""
    if (ticket.method_config or {}).get("weight_granularity") != "neuron":
        return state
    units = hidden_units(model)
    return units.shrink(state, units.kept_units(ticket.weight_masks))


def _payload(path: str | os.PathLike) -> dict[str, Any]:
    payload, version = load_file(path, EXPORT_KIND)
    if version != EXPORT_VERSION:
        raise CorruptFileError(f"{str(path)!r} is an exported ticket of version {version}; "
                               f"this library reads version {EXPORT_VERSION}")
    missing = [k for k in _PAYLOAD_FIELDS if k not in payload]
    if missing:
        raise CorruptFileError(f"{str(path)!r} lacks exported-ticket fields {missing}")
    return payload


def _needs_propagation(conv: nn.Module, inputs: tuple) -> None:
    """An exported GCN's convs take the prebuilt normalised adjacency, never a raw
    ``edge_index`` (which they would propagate unnormalised)."""
    if len(inputs) > 1 and isinstance(inputs[1], Tensor) and inputs[1].layout == torch.strided:
        raise ValueError("this exported GCN propagates with its prebuilt normalised adjacency: "
                         "call ExportedTicket.predict(x), or model(x, exported.graph), not "
                         "model(x, edge_index)")


def load_exported(path: str | os.PathLike) -> ExportedTicket:
    """Read a file written by :func:`export_ticket` (``weights_only``, checksum and kind
    verified): the plain model with the baked weights, the kept edges and, for a GCN, the
    prebuilt propagation.

    Raises:
        FileNotFoundError: no such file. CorruptFileError: a truncated or corrupted file, a
            file of another kind or version.

    Example:
        >>> exported = load_exported("ticket-export.pt")                 # doctest: +SKIP
        >>> exported.predict(x).argmax(1)                                # doctest: +SKIP
    """
    payload = _payload(path)
    try:
        model = model_from_config(payload["config"])
        resize_parameters(model, payload["state_dict"])  # a neuron-structured ticket's widths
        model.load_state_dict(payload["state_dict"])
        num_nodes = check_int(payload["num_nodes"], "num_nodes", low=1)
        edge_index = check_edge_index(payload["edge_index"], num_nodes)
    except (TypeError, ValueError, RuntimeError) as e:
        raise CorruptFileError(f"{str(path)!r}: the exported model cannot be rebuilt: "
                               f"{e}") from e
    propagation = None
    if payload["propagation"] is not None:
        propagation = _csr_from(payload["propagation"], path)
        for conv in (m for m in model.modules() if isinstance(m, GCNConv)):
            conv.normalize = False  # the propagation is already normalised
            conv.register_forward_pre_hook(_needs_propagation)
    return ExportedTicket(model=model.eval(), edge_index=edge_index, propagation=propagation,
                          num_nodes=num_nodes, config=dict(payload["config"]),
                          meta=dict(payload["meta"]))
