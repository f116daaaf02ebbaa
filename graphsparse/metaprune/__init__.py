"""Metanetwork pruning (Liu, Wang, Zhang, "Meta Pruning via Graph Metanetworks", arXiv 2506.12041).

* :func:`to_graph` / :func:`from_graph` (``convert.py``) — bijective network <-> PyG graph map
  built on :func:`graphsparse.topology.trace_model`; :func:`graph_to_state_dict` for the
  differentiable inverse; the graph's feature layout (:class:`GraphLayout`, ``layout.py``).
* :class:`MetaNetwork`, :func:`apply_metanet`, :func:`save_metanet`, :func:`load_metanet`
  (``model.py``) — the edge-updating message-passing metanetwork and its safe file format.
* :func:`make_zoo`, :func:`load_zoo`, :func:`default_specs` (``zoo.py``) — a seeded, cached zoo
  of small trained MLPs/CNNs on sklearn digits and MNIST-5k.
* :func:`meta_train`, :func:`group_norms_of_graph`, :func:`polarisation` (``train.py``) —
  meta-training with the task loss and DepGraph's polarising group regulariser.
* :func:`prune_structured`, :func:`prune_unstructured`, :func:`fine_tune` (``prune.py``) —
  group-norm channel removal (torch-pruning) and magnitude masks.
* :func:`compare_pruning` (``compare.py``) — the resumable with/without-metanetwork comparison.
* :func:`prune_to_speedup` (``progressive.py``) — the paper's progressive group-norm pruner to a
  MAC speed-up.
* :func:`run_pipeline`, :class:`PipelineConfig` (``pipeline.py``) — the paper's whole pipeline per
  seed: checkpoint chosen on validation, fine-tuning after the metanetwork, equal budgets.
"""

from graphsparse.metaprune.convert import from_graph, graph_to_state_dict, to_graph
from graphsparse.metaprune.layout import (
    EDGE_DIM,
    EDGE_TYPES,
    NODE_DIM,
    NODE_TYPES,
    GraphLayout,
    GraphMismatchError,
    LayerLayout,
)
from graphsparse.metaprune.compare import ARMS, compare_pruning, summary_table, tasks_of
from graphsparse.metaprune.model import MetaNetwork, apply_metanet, load_metanet, save_metanet
from graphsparse.metaprune.prune import (
    PruneResult,
    fine_tune,
    group_norms,
    prune_structured,
    prune_unstructured,
)
from graphsparse.metaprune.progressive import prune_to_speedup
from graphsparse.metaprune.pipeline import (
    PipelineConfig,
    check_equal_budgets,
    magnitude_to_speedup,
    run_pipeline,
)
from graphsparse.metaprune.train import (
    MetaTask,
    group_norms_of_graph,
    load_train_state,
    meta_train,
    polarisation,
)
from graphsparse.metaprune.zoo import (
    Zoo,
    ZooMember,
    ZooSpec,
    build_network,
    default_specs,
    load_zoo,
    make_zoo,
    zoo_data,
)

__all__ = [
    "to_graph",
    "from_graph",
    "graph_to_state_dict",
    "GraphLayout",
    "LayerLayout",
    "GraphMismatchError",
    "NODE_DIM",
    "EDGE_DIM",
    "NODE_TYPES",
    "EDGE_TYPES",
    "MetaNetwork",
    "apply_metanet",
    "save_metanet",
    "load_metanet",
    "ZooSpec",
    "ZooMember",
    "Zoo",
    "default_specs",
    "build_network",
    "zoo_data",
    "make_zoo",
    "load_zoo",
    "MetaTask",
    "meta_train",
    "load_train_state",
    "group_norms_of_graph",
    "polarisation",
    "PruneResult",
    "prune_structured",
    "prune_unstructured",
    "fine_tune",
    "group_norms",
    "ARMS",
    "compare_pruning",
    "summary_table",
    "tasks_of",
    "prune_to_speedup",
    "magnitude_to_speedup",
    "PipelineConfig",
    "run_pipeline",
    "check_equal_budgets",
]
