"""Sparse GNNs and sparse input graphs (graph lottery tickets).

Data: :func:`load_dataset` loads a named dataset (PyG / OGB loaders, or the synthetic ``"sbm"``)
from the data root of :mod:`graphsparse.paths`; see :mod:`graphsparse.gnn.data`.
"""

from graphsparse.gnn.data import (
    DatasetNotFoundError,
    LoadedDataset,
    available_datasets,
    load_dataset,
    random_node_split,
    synthetic_sbm,
)

__all__ = [
    "DatasetNotFoundError",
    "LoadedDataset",
    "available_datasets",
    "load_dataset",
    "random_node_split",
    "synthetic_sbm",
]
