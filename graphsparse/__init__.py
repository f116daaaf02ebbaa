"""graphsparse: study and exploit sparsity through graphs.

Subpackages
-----------
masks
    The shared mask toolkit: scoring, selection, budgets, schedules, attaching masks to modules,
    algebra, cost accounting and safe file IO. Used for weight masks and graph-edge masks alike.
topology
    Neural networks as graphs (sparse MLPs, dynamic sparse training, topology statistics).
gnn
    Sparse GNNs and sparse input graphs (graph lottery tickets).
"""

__version__ = "0.1.0"
