"""graphsparse: study and exploit sparsity through graphs.

Subpackages
-----------
masks
    The shared mask toolkit: scoring, selection, budgets, schedules, attaching masks to modules,
    algebra, cost accounting and safe file IO. Used for weight masks and graph-edge masks alike.
topology
    Neural networks as graphs (sparse MLPs, dynamic sparse training, topology statistics).
metaprune
    Metanetwork pruning (network <-> graph, metanetwork, zoo, meta-training), moved out of topology.
gnn
    Sparse GNNs and sparse input graphs (graph lottery tickets).

Modules
-------
checks
    Argument checks shared by the whole library: one wording, one argument order.
fileio
    Atomic file helpers (temporary file + rename) and resumable JSON-lines results files.
"""

__version__ = "0.1.0"
