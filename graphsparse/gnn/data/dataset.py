"""What a dataset is: :class:`LoadedDataset` (what :func:`~graphsparse.gnn.data.load_dataset`
returns), :class:`DatasetNotFoundError` (the offline rule's error, missing raw files, a failed
download), :class:`DatasetCorruptError` (raw files that cannot be read or do not agree) and
:class:`Spec` (how one dataset of the registry is loaded)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch_geometric.data import Data

__all__ = ["DatasetCorruptError", "DatasetNotFoundError", "FeatureLayout", "LoadedDataset", "Spec",
           "Target", "Task"]

Task = Literal["node", "link", "graph"]
Target = Literal["multiclass", "binary", "regression", "link"]
FeatureLayout = Literal["auto", "dense", "sparse"]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's raw files are not under the data root and may not be downloaded.

    Raised by :func:`~graphsparse.gnn.data.load_dataset`; the message names the dataset, the
    data root, each expected path and the rule that forbade the download. Also raised when a
    data root that does not exist may not be downloaded into, and when a download fails (the
    message then says what failed and where to place the raw files).
    """


class DatasetCorruptError(ValueError):
    """A dataset's raw files are present but unreadable (truncated or corrupt) or do not agree.

    Raised by :func:`~graphsparse.gnn.data.load_dataset` for the OGB datasets when a raw table
    (``raw/*.csv.gz``, ``split/*``) cannot be decompressed or parsed, holds non-numeric values,
    or has a row count that does not match the others (node features vs the node counts, edges
    and edge features vs the edge counts, labels vs the graphs or nodes). The message names the
    file by its path under the *data root* (never the cache mirror's symlink) and says what to
    replace. A :class:`ValueError` (bad input data, like :class:`json.JSONDecodeError` and
    pandas' parser errors), so callers that report bad input values report it too.
    """


@dataclass(frozen=True)
class LoadedDataset:
    """What :func:`~graphsparse.gnn.data.load_dataset` returns.

    Attributes:
        name: canonical dataset name (one of
            :func:`~graphsparse.gnn.data.available_datasets`).
        task: ``"node"`` (node classification), ``"link"`` (link prediction) or ``"graph"``
            (graph property prediction).
        target: the prediction target: ``"multiclass"`` (one label per node/graph, cross
            entropy), ``"binary"`` (``num_classes`` independent binary tasks, logits; OGB marks
            missing labels as NaN), ``"regression"`` or ``"link"`` (one score per node pair).
        data: node/link tasks: the graph (``x`` [N, F] or None, ``edge_index`` [2, E], ``y``).
            For node tasks ``data.train_mask``/``val_mask``/``test_mask`` are the chosen split
            as bool [N] masks. Graph tasks: None (use ``dataset``).
        dataset: the loader's PyG dataset object (None for ``sbm``). For graph tasks index it
            with ``split`` entries.
        split: keys ``"train"``, ``"valid"``, ``"test"``. Node tasks: bool masks [N]. Graph
            tasks: int64 graph indices. Link tasks: OGB's edge split, each value a dict such as
            ``{"edge": [E, 2], "edge_neg": [E', 2]}`` (int64 node ids).
        split_name: how the split was made, e.g. ``"planetoid-public"``, ``"ogb-scaffold"``,
            ``"provided[0]"``, ``"random(seed=0; 20 train / 30 val per class; rest test)"``.
        split_seed: the seed of a random split, None if the split is fixed.
        split_index: which provided split was used, None if the dataset has one split.
        num_features: node feature columns (0 when nodes have no features, e.g. ogbl-ddi).
        num_classes: output width a prediction head needs: classes (multiclass), tasks (binary,
            regression), 1 for link prediction.
        metric: OGB's metric name: ``"acc"``, ``"rocauc"``, ``"hits@20"``, ``"rmse"`` …
        evaluator: the name to pass to OGB's ``Evaluator`` (OGB datasets), None otherwise (the
            metric is computed directly).
        feature_layout: ``"dense"``, ``"sparse_csr"`` or ``"none"`` (no node features); for
            graph tasks the layout of the loader's per-graph ``x``.
        root: the data root the raw files came from (None for ``sbm``).
        normalize_features: whether node features were row-normalised
            (:func:`~graphsparse.gnn.data.features.row_normalize`).
    """

    name: str
    task: Task
    target: Target
    data: Data | None
    dataset: Any
    split: dict[str, Any]
    split_name: str
    split_seed: int | None
    split_index: int | None
    num_features: int
    num_classes: int
    metric: str
    evaluator: str | None
    feature_layout: str
    root: Path | None
    normalize_features: bool = False

    def describe(self) -> dict[str, Any]:
        """A JSON-serialisable summary: every scalar field plus the split sizes.

        Returns:
            A dict with keys name, task, target, split_name, split_seed, split_index,
            num_features, num_classes, metric, evaluator, feature_layout, root,
            normalize_features and split_sizes
            (number of nodes / graphs / positive edges per split part).

        Example:
            >>> from graphsparse.gnn.data import load_dataset
            >>> load_dataset("sbm").describe()["split_sizes"]
            {'train': 80, 'valid': 120, 'test': 800}
        """
        sizes: dict[str, int] = {}
        for part, value in self.split.items():
            if isinstance(value, dict):
                positives = value.get("edge")
                sizes[part] = int(positives.shape[0]) if positives is not None else 0
            elif value.dtype == torch.bool:
                sizes[part] = int(value.sum())
            else:
                sizes[part] = int(value.numel())
        return {
            "name": self.name,
            "task": self.task,
            "target": self.target,
            "split_name": self.split_name,
            "split_seed": self.split_seed,
            "split_index": self.split_index,
            "num_features": self.num_features,
            "num_classes": self.num_classes,
            "metric": self.metric,
            "evaluator": self.evaluator,
            "feature_layout": self.feature_layout,
            "root": None if self.root is None else str(self.root),
            "normalize_features": self.normalize_features,
            "split_sizes": sizes,
        }


@dataclass(frozen=True)
class Spec:
    """How to load one dataset.

    ``family`` selects the loader; ``arg`` is the name the loader takes; ``loader_dir`` is the
    loader's ``root`` relative to the data root and ``dataset_dir`` the folder holding ``raw/``
    (or, for OGB, the extracted dataset); ``split`` is ``"public"``, ``"provided"``,
    ``"random"`` or ``"ogb"``; ``metric`` is empty for OGB sets, which take theirs (and their
    task type and sizes) from ogb's ``master.csv``.
    """

    family: str
    arg: str
    loader_dir: str
    dataset_dir: str
    split: str
    metric: str
    bag_of_words: bool
