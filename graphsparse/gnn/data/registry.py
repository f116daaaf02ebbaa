"""The dataset registry: every name :func:`load_dataset` accepts, how each is loaded (PyG, OGB
or the synthetic ``"sbm"``), and :func:`load_dataset` itself (see :mod:`graphsparse.gnn.data`)."""

from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path

from graphsparse import paths
from graphsparse.checks import check_bool, check_choice, check_int
from graphsparse.gnn.data.dataset import FeatureLayout, LoadedDataset, Spec
from graphsparse.gnn.data.download import check_data_root
from graphsparse.gnn.data.features import FEATURE_LAYOUTS, row_normalize
from graphsparse.gnn.data.ogb import load_ogb
from graphsparse.gnn.data.pyg import load_pyg
from graphsparse.gnn.data.synthetic import SBM, load_sbm

__all__ = ["available_datasets", "load_dataset"]


def _pyg(family: str, arg: str, loader_dir: str, sub: str | None, split: str, metric: str,
         bag_of_words: bool) -> Spec:
    """The :class:`Spec` of a PyG dataset whose raw files are in ``<loader_dir>/<sub>/raw``."""
    dataset_dir = loader_dir if sub is None else f"{loader_dir}/{sub}"
    return Spec(family, arg, loader_dir, dataset_dir, split, metric, bag_of_words)


def _ogb(name: str) -> Spec:
    """The :class:`Spec` of OGB dataset ``name`` (extracted into ``ogb/<name with _>``)."""
    return Spec(name.split("-")[0], name, "ogb", f"ogb/{name.replace('-', '_')}", "ogb", "", False)


_SPECS: dict[str, Spec] = {
    "cora": _pyg("planetoid", "Cora", "Planetoid", "Cora", "public", "acc", True),
    "citeseer": _pyg("planetoid", "CiteSeer", "Planetoid", "CiteSeer", "public", "acc", True),
    "pubmed": _pyg("planetoid", "PubMed", "Planetoid", "PubMed", "public", "acc", True),
    "amazon-computers": _pyg("amazon", "Computers", "Amazon", "Computers", "random", "acc", True),
    "amazon-photo": _pyg("amazon", "Photo", "Amazon", "Photo", "random", "acc", True),
    "coauthor-cs": _pyg("coauthor", "CS", "Coauthor", "CS", "random", "acc", True),
    "coauthor-physics": _pyg("coauthor", "Physics", "Coauthor", "Physics", "random", "acc", True),
    "cornell": _pyg("webkb", "Cornell", "WebKB", "cornell", "provided", "acc", True),
    "texas": _pyg("webkb", "Texas", "WebKB", "texas", "provided", "acc", True),
    "wisconsin": _pyg("webkb", "Wisconsin", "WebKB", "wisconsin", "provided", "acc", True),
    "actor": _pyg("actor", "", "Actor", None, "provided", "acc", True),
    # Heterophilous sets (Platonov et al., ICLR 2023): ROC-AUC for the binary ones.
    "roman-empire": _pyg("hetero", "Roman-empire", "HeterophilousGraphDataset", "roman_empire",
                         "provided", "acc", False),
    "amazon-ratings": _pyg("hetero", "Amazon-ratings", "HeterophilousGraphDataset",
                           "amazon_ratings", "provided", "acc", False),
    "minesweeper": _pyg("hetero", "Minesweeper", "HeterophilousGraphDataset", "minesweeper",
                        "provided", "rocauc", False),
    "tolokers": _pyg("hetero", "Tolokers", "HeterophilousGraphDataset", "tolokers", "provided",
                     "rocauc", False),
    "questions": _pyg("hetero", "Questions", "HeterophilousGraphDataset", "questions", "provided",
                      "rocauc", False),
    **{name: _ogb(name) for name in (
        "ogbn-arxiv", "ogbn-products", "ogbn-proteins",
        "ogbl-ddi", "ogbl-collab", "ogbl-ppa",
        "ogbg-molbace", "ogbg-molbbbp", "ogbg-molclintox", "ogbg-molesol", "ogbg-molfreesolv",
        "ogbg-molhiv", "ogbg-mollipo", "ogbg-molmuv", "ogbg-molpcba", "ogbg-molsider",
        "ogbg-moltox21", "ogbg-moltoxcast",
    )},
}


def available_datasets() -> tuple[str, ...]:
    """Names :func:`load_dataset` accepts, sorted (``"sbm"`` is the synthetic default).

    Returns:
        A tuple of canonical, lower-case names.

    Example:
        >>> "cora" in available_datasets() and "ogbl-ddi" in available_datasets()
        True
    """
    return tuple(sorted([*_SPECS, SBM]))


def _canonical_name(name: str) -> str:
    """``name`` lower-cased with ``_`` as ``-`` if it is a registered dataset; raises otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    key = name.strip().lower().replace("_", "-")
    if key != SBM and key not in _SPECS:
        raise ValueError(
            f"unknown dataset name {name!r}; valid names: {', '.join(available_datasets())}"
        )
    return key


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------


def load_dataset(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    split_seed: int = 0,
    split_index: int | None = None,
    feature_layout: FeatureLayout = "auto",
    sbm_nodes: int | None = None,
    sbm_degree: float | None = None,
    normalize_features: bool = False,
) -> LoadedDataset:
    """Load a graph dataset by name from a data root (downloading only where allowed).

    See the module documentation for where files are read and written, the offline rule, the
    OGB quirks handled, the split protocols and the feature layout.

    Args:
        name: a dataset name, case-insensitive, ``_`` and ``-`` interchangeable; one of
            :func:`available_datasets` (e.g. ``"cora"``, ``"coauthor-cs"``, ``"ogbl-ddi"``,
            ``"ogbg-molbace"``, ``"sbm"``).
        root: the data root; default :func:`graphsparse.paths.data_root`. Ignored for ``"sbm"``.
        split_seed: seed (int >= 0) of the random split for datasets without a standard one
            (Amazon, Coauthor, ``sbm``); recorded in the result. Unused (and recorded as None)
            for datasets with a fixed split.
        split_index: which of the 10 provided splits to use for WebKB, Actor and the
            heterophilous sets (0-9, default 0). Passing it for any other dataset is an error.
        feature_layout: ``"auto"`` (sparse CSR for bag-of-words features, otherwise as loaded),
            ``"dense"`` or ``"sparse"`` (CSR; node/link tasks with float features only).
        sbm_nodes: ``"sbm"`` only: number of nodes (int >= 2); default 1000.
        sbm_degree: ``"sbm"`` only: expected average degree, undirected neighbours per node
            (float in ``(0, sbm_nodes - 1)``, small enough that ``p_in <= 1``: at most about
            ``0.325 * sbm_nodes`` with 4 classes; ``edge_index`` then holds about
            ``sbm_nodes * sbm_degree`` entries); default 9.72, the default graph's. The
            homophily ratio ``p_in / p_out = 10`` and the 4 classes are kept (see
            :func:`~graphsparse.gnn.data.synthetic.sbm_probabilities`). Any other size than the
            default is recorded in the result's name, e.g. ``"sbm(nodes=2000000,degree=20)"``;
            2 million nodes at degree 20 build in seconds.
        normalize_features: divide every node's features by their sum
            (:func:`~graphsparse.gnn.data.features.row_normalize`; UGS's and Kipf & Welling's
            preprocessing), node and link tasks with non-negative features only.

    Returns:
        A :class:`LoadedDataset`.

    Raises:
        ValueError: unknown name (the message lists the valid names), a bad ``split_seed``,
            ``split_index``, ``feature_layout``, ``sbm_nodes`` or ``sbm_degree``, or
            ``sbm_nodes``/``sbm_degree`` given for a dataset other than ``"sbm"``.
        TypeError: a ``name`` that is not a str, a ``split_seed``, ``split_index`` or
            ``sbm_nodes`` that is not an int, an ``sbm_degree`` that is not a number.
        DatasetNotFoundError: raw files missing (or a data root that does not exist) and
            downloads not allowed, a failed download (what failed, where to place the files),
            or an OGB folder without its ``RELEASE_v*.txt`` or its split folder.
        DatasetCorruptError: an OGB raw or split file that is truncated, corrupt or
            non-numeric, or raw tables whose row counts disagree (the message names the file
            under the data root).

    Example:
        >>> ds = load_dataset("sbm", split_seed=1)
        >>> ds.task, ds.data.num_nodes, int(ds.split["train"].sum()), ds.split_seed
        ('node', 1000, 80, 1)
        >>> cora = load_dataset("cora")  # doctest: +SKIP
        >>> cora.data.x.layout, cora.num_classes, cora.split_name  # doctest: +SKIP
        (torch.sparse_csr, 7, 'planetoid-public')
        >>> big = load_dataset("sbm", sbm_nodes=20_000, sbm_degree=12)
        >>> big.name, big.data.num_nodes
        ('sbm(nodes=20000,degree=12)', 20000)
    """
    key = _canonical_name(name)
    check_int(split_seed, "split_seed", low=0)
    check_bool(normalize_features, "normalize_features")
    check_choice(feature_layout, "feature_layout", FEATURE_LAYOUTS)
    split_kind = "random" if key == SBM else _SPECS[key].split
    if split_index is not None:
        check_int(split_index, "split_index")
    if split_index is not None and split_kind != "provided":
        provided = sorted(k for k, s in _SPECS.items() if s.split == "provided")
        raise ValueError(
            f"split_index applies only to datasets with provided splits ({', '.join(provided)}); "
            f"{key!r} has a {'random' if split_kind == 'random' else 'single official'} split"
        )
    for arg, value in (("sbm_nodes", sbm_nodes), ("sbm_degree", sbm_degree)):
        if value is not None and key != SBM:
            raise ValueError(f"{arg} applies only to the 'sbm' dataset, got {arg}={value!r} for "
                             f"{key!r}")
    if key == SBM:
        loaded = load_sbm(split_seed, feature_layout, nodes=sbm_nodes, degree=sbm_degree)
    else:
        spec = _SPECS[key]
        data_root = paths.data_root() if root is None else Path(root).expanduser().absolute()
        check_data_root(key, data_root)
        if spec.family in ("ogbn", "ogbl", "ogbg"):
            loaded = load_ogb(key, spec, data_root, feature_layout)
        else:
            loaded = load_pyg(key, spec, data_root, split_seed, split_index, feature_layout)
    return _normalized(loaded) if normalize_features else loaded


def _normalized(loaded: LoadedDataset) -> LoadedDataset:
    """``loaded`` with row-normalised node features (a node or link task with features)."""
    if loaded.data is None or loaded.data.x is None:
        raise ValueError(f"normalize_features applies to node and link datasets with node "
                         f"features; {loaded.name!r} has none")
    data = copy.copy(loaded.data)
    data.x = row_normalize(loaded.data.x)
    return dataclasses.replace(loaded, data=data, normalize_features=True)
