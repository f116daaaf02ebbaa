"""Loading the OGB datasets of the registry (``ogbn-*``, ``ogbl-*``, ``ogbg-*``) through a cache
mirror, with their official split, safely and without ogb's prompts.

OGB quirks handled
------------------
* **torch >= 2.6 safe loading.** ogb 1.3.6 calls ``torch.load`` without ``weights_only``, so
  loading its processed file and its legacy numpy split files fails. Safe loading stays on:
  the constructor runs inside ``torch.serialization.safe_globals`` allowing exactly the three
  PyG classes a processed OGB file pickles (``DataEdgeAttr``, ``DataTensorAttr``,
  ``GlobalStorage``); ``get_edge_split`` additionally allows numpy's array reconstruction
  (``numpy.core.multiarray._reconstruct`` by its pickled name, ``ndarray``, ``dtype`` and the
  dtype classes of int64/int32/float64/float32/bool arrays). Nothing is added globally.
* **Interactive version prompt.** ogb asks ``input()`` when ``RELEASE_v<version>.txt`` is missing
  and deletes the dataset folder on "y". graphsparse checks for the release file first and raises
  :class:`~graphsparse.gnn.data.DatasetNotFoundError` if it is absent; as a second guard,
  ``input`` is replaced inside ogb's modules during the call by a function that raises
  ``RuntimeError``. ogb's own ``download`` (which ``rmtree``s the folder it loads from) is never
  run.

Downloads (where :func:`graphsparse.paths.downloads_allowed`): graphsparse fetches the dataset's
zip from the URL in ogb's ``master.csv`` with ogb's own ``download_url``/``extract_zip`` into
``<root>/ogb/`` (extracted beside the target and renamed into place, so a failed download leaves
nothing half-written; the folders created for it are removed again and
:class:`~graphsparse.gnn.data.DatasetNotFoundError` says what failed); ogb's "download more than
1 GB?" prompt is never shown.

Integrity: the dataset folder's files are checked to be present, readable and of matching row
counts (:mod:`~graphsparse.gnn.data.ogb_checks`), and the mirror's processed file is rebuilt
when the raw files change (:mod:`~graphsparse.gnn.data.freshness`).
"""

from __future__ import annotations

import functools
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import torch

from graphsparse import paths
from graphsparse.gnn.data.dataset import (
    DatasetNotFoundError,
    FeatureLayout,
    LoadedDataset,
    Spec,
    Target,
)
from graphsparse.gnn.data.download import download_failed, make_folders, remove_folders
from graphsparse.gnn.data.features import arrange_features, layout_name
from graphsparse.gnn.data.freshness import fresh_processed
from graphsparse.gnn.data.mirror import (
    link_entries,
    mirror_base,
    mirror_lock,
    missing_message,
    no_download_reason,
    refusing_download,
)
from graphsparse.gnn.data.ogb_checks import check_ogb_files, checked_ogb_reads
from graphsparse.gnn.data.splits import index_to_mask, set_node_split

__all__ = ["load_ogb"]

_OGB_TARGETS: dict[str, Target] = {
    "multiclass classification": "multiclass",
    "binary classification": "binary",
    "regression": "regression",
    "link prediction": "link",
}


def _ogb_modules(family: str) -> tuple[Any, Any]:
    """(the ogb task subpackage, its dataset_pyg module) for ``ogbn``/``ogbl``/``ogbg``."""
    import importlib

    package = {"ogbn": "nodeproppred", "ogbl": "linkproppred", "ogbg": "graphproppred"}[family]
    return (importlib.import_module(f"ogb.{package}"),
            importlib.import_module(f"ogb.{package}.dataset_pyg"))


@functools.cache
def _ogb_meta(name: str) -> dict[str, str]:
    """The dataset's column of ogb's ``master.csv`` (url, version, task type, metric, …)."""
    import pandas as pd

    package, _ = _ogb_modules(name.split("-")[0])
    master = pd.read_csv(Path(package.__file__).parent / "master.csv", index_col=0,
                         keep_default_na=False)
    return {str(k): str(v) for k, v in master[name].items()}


def _ogb_processed_globals() -> list[Any]:
    """Exactly the classes a processed OGB file (a pickled ``(Data, slices)``) refers to."""
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage

    return [DataEdgeAttr, DataTensorAttr, GlobalStorage]


def _ogb_numpy_split_globals() -> list[Any]:
    """What ogbl's legacy ``split/*/valid.pt`` files (pickled numpy arrays) refer to.

    numpy 2 pickles ``_reconstruct`` under its old name ``numpy.core.multiarray`` although it
    lives in ``numpy._core``, so it is allowed under that explicit name.
    """
    import numpy as np

    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    dtype_classes = [type(np.dtype(t)) for t in ("int64", "int32", "float64", "float32", "bool")]
    return [(_reconstruct, "numpy.core.multiarray._reconstruct"), np.ndarray, np.dtype,
            *dtype_classes]


@contextmanager
def _ogb_prompts_refused(key: str) -> Iterator[None]:
    """Replace ``input`` inside ogb's modules by a function that raises, for this block only."""
    from ogb.utils import url as ogb_url

    def refuse(prompt: str = "") -> str:
        raise RuntimeError(
            f"ogb asked an interactive question while loading {key!r}: {str(prompt).strip()!r}. "
            "graphsparse never answers ogb's prompts (answering 'y' to the version prompt "
            "deletes the dataset folder); make sure the dataset folder is a complete, current "
            "copy with its RELEASE_v*.txt file"
        )

    with ExitStack() as stack:
        for module in (*(_ogb_modules(f)[1] for f in ("ogbn", "ogbl", "ogbg")), ogb_url):
            stack.enter_context(mock.patch.object(module, "input", refuse, create=True))
        yield


def _download_ogb(key: str, meta: dict[str, str], root: Path, ogb_root: Path,
                  destination: Path) -> None:
    """Fetch and extract OGB's zip for ``key`` into ``destination`` (all or nothing).

    If anything fails, the scratch folder and the folders created for it (``<root>/ogb``, even
    ``root`` itself) are removed and :class:`DatasetNotFoundError` says what failed and where
    to place the dataset folder instead.
    """
    from ogb.utils import url as ogb_url

    created = make_folders(ogb_root)
    try:
        with tempfile.TemporaryDirectory(dir=ogb_root, prefix=".download-") as scratch:
            archive = ogb_url.download_url(meta["url"], scratch)
            ogb_url.extract_zip(archive, scratch)
            extracted = Path(scratch) / meta["download_name"]
            if not extracted.is_dir():
                raise RuntimeError(f"the archive did not contain the folder "
                                   f"{meta['download_name']!r}")
            os.rename(extracted, destination)
    except BaseException as error:
        remove_folders(created)
        if not isinstance(error, Exception):
            raise
        raise download_failed(key, root, [destination], meta["url"], error) from error


def _ogb_source(key: str, meta: dict[str, str], root: Path, dir_name: str) -> Path:
    """The dataset's folder under ``<root>/ogb`` (downloaded first where allowed), checked to
    hold the current ``RELEASE_v*.txt``."""
    ogb_root = root / "ogb"
    # ogb prefers a folder "<dir>_pyg" left by old ogb versions; so do we.
    source = ogb_root / f"{dir_name}_pyg"
    if not source.is_dir():
        source = ogb_root / dir_name
    reason = no_download_reason(root)
    if not source.is_dir():
        if not paths.downloads_allowed(root):
            raise DatasetNotFoundError(missing_message(key, root, [source], reason))
        _download_ogb(key, meta, root, ogb_root, source)
    release = source / f"RELEASE_v{meta['version']}.txt"
    if not release.is_file():
        raise DatasetNotFoundError(
            f"dataset {key!r}: {source} (data root {root}) has no {release.name}, so ogb treats it "
            f"as outdated and would offer to delete it. graphsparse never deletes data: replace "
            f"{source} with a complete copy of the current release (or delete it so that the "
            f"dataset is downloaded again on a networked machine)."
        )
    return source


def load_ogb(key: str, spec: Spec, root: Path, feature_layout: FeatureLayout) -> LoadedDataset:
    """Load the OGB dataset ``key`` (described by ``spec``) from data root ``root``."""
    if spec.family == "ogbg" and feature_layout == "sparse":
        raise ValueError(
            f"feature_layout='sparse' applies to node and link datasets; {key!r} is a graph "
            "dataset (use 'auto' or 'dense')"
        )
    meta = _ogb_meta(key)
    package, dataset_module = _ogb_modules(spec.family)
    loader = getattr(package, {"ogbn": "PygNodePropPredDataset", "ogbl": "PygLinkPropPredDataset",
                               "ogbg": "PygGraphPropPredDataset"}[spec.family])
    dir_name = Path(spec.dataset_dir).name
    source = _ogb_source(key, meta, root, dir_name)
    check_ogb_files(key, meta, spec.family, root, source)
    mirror_root = mirror_base(root) / "ogb"
    mirror = mirror_root / dir_name
    with mirror_lock(mirror), ExitStack() as stack:
        link_entries(source, mirror)
        stack.enter_context(_ogb_prompts_refused(key))
        # A partial OGB folder cannot be repaired by ogb's download, which deletes the folder.
        stack.enter_context(mock.patch.object(
            loader, "download", refusing_download(
                key, root, source, mirror,
                f"The OGB folder {source} is incomplete; replace it with a complete copy.")))
        stack.enter_context(checked_ogb_reads(key, meta, loader, dataset_module, root, source,
                                              mirror))
        with fresh_processed(key, source, mirror), warnings.catch_warnings():
            # ogb's graph reader hands read-only numpy arrays to torch.from_numpy.
            warnings.filterwarnings("ignore", message=".*not writable.*", category=UserWarning)
            with torch.serialization.safe_globals(_ogb_processed_globals()):
                dataset = loader(name=key, root=str(mirror_root))
        if spec.family == "ogbl":
            with torch.serialization.safe_globals(_ogb_numpy_split_globals()):
                split = dataset.get_edge_split()
        else:
            split = dataset.get_idx_split()

    target = _OGB_TARGETS[meta["task type"]]
    if spec.family == "ogbg":
        data = None
        num_features = int(dataset.num_node_features)
        layout = layout_name(dataset[0].x)
    else:
        data = dataset[0]
        if spec.family == "ogbn":
            masks = tuple(index_to_mask(split[part], data.num_nodes)
                          for part in ("train", "valid", "test"))
            set_node_split(data, masks)
            split = dict(zip(("train", "valid", "test"), masks))
        data.x, layout = arrange_features(key, data.x, feature_layout, False)
        num_features = data.num_node_features
    if target == "link":
        num_classes = 1
    elif target == "multiclass":
        num_classes = int(meta["num classes"])
    else:  # binary or regression: one output per task
        num_classes = int(meta["num tasks"])
    return LoadedDataset(
        name=key, task={"ogbn": "node", "ogbl": "link", "ogbg": "graph"}[spec.family],
        target=target, data=data, dataset=dataset, split=split,
        split_name=f"ogb-{meta['split']}", split_seed=None, split_index=None,
        num_features=num_features, num_classes=num_classes, metric=meta["eval metric"],
        evaluator=key, feature_layout=layout, root=root,
    )
