"""Neural networks as graphs: the network graph, forward-order tracing, topology metrics, report.

Public API (one concept per module):

* :class:`NetworkGraph`, :class:`Block` (``graph/``) — a layered network as per-layer scipy CSR
  blocks, built from a model, a list of masks or a DAG; exports to scipy, networkx and PyG.
* :func:`trace_model` (``trace/``) — forward-order tracing of Linear/Conv2d layers (torch.fx).
* :mod:`graphsparse.topology.metrics` — vectorised metrics of a :class:`NetworkGraph`.
* :func:`report` (``report.py``) — all default metrics in one typed, printable, JSON-able result.
* generators (``generators/``) — exact-count random bipartite layer masks: Erdős–Rényi (SET's ε),
  scale-free (Chung–Lu), small-world (WS, graph2nn's WS-flex), biregular; whole-MLP masks with a
  layer budget from :mod:`graphsparse.masks`.
* :class:`SparseMLP` (``sparse_mlp.py``), embedded data (``datasets.py``), :func:`train`
  (``training.py``) and the dynamic sparse training callbacks :class:`SET` and :class:`RigL`
  (``dynamic.py``).

Metanetwork pruning (network <-> graph, metanetwork, pruning) is :mod:`graphsparse.metaprune`.
"""

from graphsparse.topology import metrics, predict
from graphsparse.topology.datasets import Dataset, load_digits, load_embedded, load_mnist5k
from graphsparse.topology.dynamic import SET, LayerUpdate, RigL, cosine_drop_fraction, set_prune
from graphsparse.topology.generators import (
    GeneratedMask,
    MLPMasks,
    RelationalGraph,
    biregular_mask,
    erdos_renyi_mask,
    mlp_masks,
    mlp_shapes,
    relational_graph_mask,
    scale_free_mask,
    small_world_mask,
    ws_flex_graph,
    ws_flex_mask,
    ws_flex_mlp_masks,
)
from graphsparse.topology.graph import Block, NetworkGraph
from graphsparse.topology.report import TopologyReport, report
from graphsparse.topology.sparse_mlp import SparseMLP
from graphsparse.topology.trace import TracedModel, UnsupportedLayerError, trace_model
from graphsparse.topology.training import evaluate, train

__all__ = [
    # network graph
    "NetworkGraph",
    "Block",
    # tracing
    "trace_model",
    "TracedModel",
    "UnsupportedLayerError",
    # metrics and report
    "metrics",
    "predict",
    "report",
    "TopologyReport",
    # generators
    "GeneratedMask",
    "MLPMasks",
    "RelationalGraph",
    "biregular_mask",
    "erdos_renyi_mask",
    "mlp_masks",
    "mlp_shapes",
    "relational_graph_mask",
    "scale_free_mask",
    "small_world_mask",
    "ws_flex_graph",
    "ws_flex_mask",
    "ws_flex_mlp_masks",
    # sparse MLPs, data, training, dynamic sparse training
    "SparseMLP",
    "Dataset",
    "load_mnist5k",
    "load_digits",
    "load_embedded",
    "train",
    "evaluate",
    "SET",
    "RigL",
    "LayerUpdate",
    "set_prune",
    "cosine_drop_fraction",
]
