"""Result rows of a sweep: one JSON object per ticket, built from a method's result.

A row is the ticket's identity (:data:`KEY_FIELDS` plus dataset, split and model) and what the
method measured, taken as it is from the
:class:`~graphsparse.gnn.methods._common.SearchResult` (the method counted edges and weights
once) plus what only a finished ticket shows: inference time, isolated nodes, homophily.

Row fields (units): ``dataset``, ``split_seed``, ``model``, ``method``, ``level`` (int; 0 = dense;
None for direct targets), ``p_graph``, ``p_weight`` (None for dense/direct), ``rounds`` (UGS/IMP
rounds for direct targets, else None), ``graph_target``, ``weight_target``, ``graph_sparsity``,
``weight_sparsity`` (realised fractions in [0, 1]), ``edges_kept``/``edges_total`` (undirected
non-loop edges), ``weights_kept``/``weights_total`` (entries of ``weight_scope``),
``weight_scope`` (neuron-structured tickets add ``weight_granularity``, ``units_kept``,
``units_total``: hidden units, :mod:`graphsparse.masks.neurons`), ``seed``, ``metric``
(name), ``val``, ``test`` (metric at the best-validation epoch, a fraction for
accuracy/ROC-AUC/Hits), ``best_epoch``, ``search_epochs``,
``search_seconds`` (s), ``inference_seconds`` (s, median of 3 full inference passes with pruned
edges physically removed and dense weight kernels), ``spmm`` (True: the model's GCN layers
propagated by sparse products wherever no soft edge mask was attached,
:func:`graphsparse.gnn.train.spmm_propagation`; rows without the key predate that path and used
per-edge messages, equal up to float rounding), ``isolated_nodes`` (nodes without a kept
non-loop edge; node tasks, else None), ``homophily`` (edge homophily of the kept non-loop edges;
node tasks, else None), ``device`` (where the ticket was trained, e.g. ``"cpu"``,
``"cuda:0"``; not part of the sweep's identity), ``evaluation`` (``"full-batch"``, or for
mini-batch training ``"full-graph"`` or ``"sampled"``: how validation/test outputs were
computed), ``machine`` (:func:`graphsparse.devices.machine_label`: CPU model, cores, torch
threads, GPU), ``finished`` (UTC time the row was made, ISO 8601). A row without a key added later
holds its :data:`ROW_DEFAULTS` value.
"""

from __future__ import annotations

import datetime
from typing import Any

import torch
from torch import Tensor, nn

from graphsparse.devices import machine_label
from graphsparse.gnn.edges import MaskGraph
from graphsparse.gnn.methods import LevelResult
from graphsparse.gnn.train import measure_inference, spmm_propagation

__all__ = ["KEY_FIELDS", "ROW_DEFAULTS", "TIMING_FIELDS", "graph_stats", "make_row",
           "row_key", "with_defaults"]

#: Fields that legitimately differ between an interrupted and an uninterrupted sweep.
TIMING_FIELDS = ("search_seconds", "inference_seconds", "machine", "finished")
#: The fields that identify a row within a sweep folder.
KEY_FIELDS = ("method", "p_graph", "p_weight", "level", "rounds", "graph_target",
              "weight_target", "seed")


#: The value of every row field added after the first sweeps were stored.
ROW_DEFAULTS: dict[str, Any] = {"device": "cpu", "evaluation": "full-batch", "machine": None,
                                "finished": None}


def with_defaults(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with every field of :data:`ROW_DEFAULTS` it lacks set to its default."""
    return {**ROW_DEFAULTS, **row}


def row_key(row: dict[str, Any]) -> tuple:
    """The identity of a row: (method, p_graph, p_weight, level, rounds, graph_target,
    weight_target, seed).

    >>> row_key({"method": "ugs", "level": 3, "seed": 0})
    ('ugs', None, None, 3, None, None, None, 0)
    """
    return tuple(row.get(k) for k in KEY_FIELDS)


def graph_stats(dataset: Any, graph: MaskGraph, edge_mask: Tensor | None) -> dict[str, Any]:
    """Isolated nodes and edge homophily of the kept non-loop edges (node classification with
    one label per node; else None)."""
    data = dataset.data
    if dataset.task != "node" or dataset.target != "multiclass" or data is None \
            or data.y is None or data.y.numel() != data.num_nodes:
        return {"isolated_nodes": None, "homophily": None}
    edge_index = graph.edge_index.cpu()
    keep = edge_index[0] != edge_index[1]
    if edge_mask is not None:
        keep &= edge_mask.cpu().bool()
    edge_index = edge_index[:, keep]
    touched = torch.zeros(graph.num_nodes, dtype=torch.bool)
    touched[edge_index.reshape(-1)] = True
    labels = data.y.view(-1).cpu()
    same = (labels[edge_index[0]] == labels[edge_index[1]]).double()
    homophily = float(same.mean()) if same.numel() else None
    return {"isolated_nodes": int((~touched).sum()), "homophily": homophily}


def unit_fields(weights: dict[str, Any]) -> dict[str, Any]:
    """``weight_granularity``, ``units_kept`` and ``units_total`` of a neuron-structured
    ticket's weight report; nothing for an unstructured one (its rows keep their fields).

    >>> unit_fields({"granularity": "neuron", "units_kept": 3, "units_total": 8})
    {'weight_granularity': 'neuron', 'units_kept': 3, 'units_total': 8}
    >>> unit_fields({"kept": 5})
    {}
    """
    if weights.get("granularity") != "neuron":
        return {}
    return {"weight_granularity": "neuron", "units_kept": weights["units_kept"],
            "units_total": weights["units_total"]}


def make_row(identity: dict[str, Any], level: LevelResult, *, dataset: Any, graph: MaskGraph,
             template: nn.Module, device: str = "cpu") -> dict[str, Any]:
    """The row of one ticket: ``identity`` (dataset, split, model, method, point, seed) plus
    the method's counts and metrics and the ticket's inference time and graph statistics."""
    result = level.result
    edges, weights, train = result.graph_sparsity, result.weight_sparsity, result.train
    inference = measure_inference(template, dataset, edge_mask=result.edge_mask, repeats=3)
    return {**identity, "graph_sparsity": edges["sparsity"], "edges_kept": edges["kept"],
            "edges_total": edges["total"],
            "weight_sparsity": 1.0 - weights["kept"] / weights["numel"],
            "weights_kept": weights["kept"], "weights_total": weights["numel"],
            "weight_scope": result.weight_scope, **unit_fields(weights),
            "metric": train.metric, "val": train.val,
            "test": train.test, "best_epoch": train.best_epoch,
            "search_epochs": result.search_epochs, "search_seconds": result.search_seconds,
            "inference_seconds": inference, "spmm": spmm_propagation(template),
            **graph_stats(dataset, graph, result.edge_mask), "device": device,
            "evaluation": train.evaluation, "machine": machine_label(device),
            "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds")}
