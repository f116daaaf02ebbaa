"""Integrity checks of an OGB dataset folder: files present, readable and of matching sizes.

ogb reads its raw tables without checking them: a truncated ``edge.csv.gz`` surfaces as a bare
``EOFError``, a ``node-feat.csv.gz`` with too few rows is sliced into too-small per-graph feature
matrices without any error, and a missing file is reported under the cache mirror's symlink path.
graphsparse adds three checks (CSV datasets, i.e. every OGB dataset of the registry):

* **Before loading** (:func:`check_ogb_files`): the raw tables ogb needs (``edge``,
  ``num-node-list``, ``num-edge-list``, ``node-feat``/``edge-feat`` where the dataset has them,
  ``node-label``/``graph-label``) and the official split's files exist, else
  :class:`~graphsparse.gnn.data.DatasetNotFoundError` names each missing path (or the missing
  ``split/<name>`` folder) under the data root, before anything is written.
* **While reading** (:func:`checked_ogb_reads`): ogb's ``pd.read_csv`` and ``torch.load`` are
  wrapped, for this block only, inside ogb's modules. A file that cannot be decompressed or
  parsed (``EOFError``, ``gzip.BadGzipFile``, ``zlib.error``, pandas' parser errors, a
  truncated ``.pt`` file) or a table with non-numeric values raises
  :class:`~graphsparse.gnn.data.DatasetCorruptError` naming the file's *data-root* path; a
  missing file raises :class:`~graphsparse.gnn.data.DatasetNotFoundError` naming it.
* **Before the processed file is saved**: the row counts must agree — ``num-edge-list`` has one
  row per graph like ``num-node-list``; ``node-feat``, ``node-label`` and the additional node
  files one row per node (the sum of ``num-node-list``); ``edge``, ``edge-feat`` and the
  additional edge files one row per edge (the sum of ``num-edge-list``); ``graph-label`` one row
  per graph. Otherwise :class:`~graphsparse.gnn.data.DatasetCorruptError` names the file, the
  count found and the count expected, and no processed file is written.
"""

from __future__ import annotations

import csv
import gzip
import pickle
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from graphsparse.gnn.data.dataset import DatasetCorruptError, DatasetNotFoundError
from graphsparse.gnn.data.mirror import missing_message

__all__ = ["check_ogb_files", "checked_ogb_reads"]

# What reading a damaged file raises: truncated or non-gzip data, bad CSV, bad pickles/zips.
_CSV_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, ValueError, csv.Error)
_TORCH_ERRORS = (EOFError, RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile)


def _incomplete(source: Path) -> str:
    """The 'reason' sentence of a missing-file message for an OGB folder."""
    return f"The OGB folder {source} is incomplete; replace it with a complete copy."


def _plain_csv(meta: dict[str, str]) -> bool:
    """Whether the dataset is stored as homogeneous CSV tables (every OGB set of the registry)."""
    return meta["binary"] != "True" and meta.get("is hetero", "False") != "True"


def _required_raw(meta: dict[str, str], family: str) -> list[str]:
    """The raw tables ogb reads for a homogeneous CSV dataset (names under ``raw/``)."""
    names = ["edge", "num-node-list", "num-edge-list"]
    names += [table for table, flag in (("node-feat", "has_node_attr"),
                                        ("edge-feat", "has_edge_attr")) if meta[flag] == "True"]
    names += {"ogbn": ["node-label"], "ogbg": ["graph-label"], "ogbl": []}[family]
    return [f"raw/{name}.csv.gz" for name in names]


def _split_files(family: str) -> list[str]:
    """The files of an official split folder (a ``split_dict.pt`` replaces them all)."""
    suffix = ".pt" if family == "ogbl" else ".csv.gz"
    return [f"{part}{suffix}" for part in ("train", "valid", "test")]


def check_ogb_files(key: str, meta: dict[str, str], family: str, root: Path,
                    source: Path) -> None:
    """Raise :class:`DatasetNotFoundError` unless ``source`` holds the files ogb will read.

    ``source`` is the dataset's folder under the data root ``root``. Checked: the raw tables of
    :func:`_required_raw` (homogeneous CSV datasets only) and the official split folder
    ``split/<meta['split']>`` with its train/valid/test files (or ``split_dict.pt``). The
    message names each missing path under the data root, or the split folder if it is absent.
    """
    expected = [source / name for name in _required_raw(meta, family)] if _plain_csv(meta) else []
    missing = [path for path in expected if not path.is_file()]
    split = source / "split" / meta["split"]
    if not split.is_dir():
        missing.append(split)
    elif not (split / "split_dict.pt").is_file() and _plain_csv(meta):
        missing += [split / name for name in _split_files(family)
                    if not (split / name).is_file()]
    if missing:
        raise DatasetNotFoundError(missing_message(key, root, missing, _incomplete(source)))


class _Tables:
    """What ogb read from one dataset folder: row counts per raw table, and read errors."""

    def __init__(self, key: str, meta: dict[str, str], root: Path, source: Path, mirror: Path):
        self.key, self.meta, self.root, self.source, self.mirror = key, meta, root, source, mirror
        self.rows: dict[str, int] = {}
        self.totals: dict[str, int] = {}

    def data_path(self, path: Any) -> Path | None:
        """The data-root path of a mirror path outside ``processed/``, else None."""
        try:
            relative = Path(path).relative_to(self.mirror)
        except (TypeError, ValueError):
            return None
        return None if relative.parts[:1] == ("processed",) else self.source / relative

    def missing(self, real: Path) -> DatasetNotFoundError:
        """The error for data-root file ``real`` being absent."""
        return DatasetNotFoundError(missing_message(self.key, self.root, [real],
                                                    _incomplete(self.source)))

    def corrupt(self, real: Path, problem: str) -> DatasetCorruptError:
        """The error for data-root file ``real`` having ``problem`` (a phrase after its path)."""
        return DatasetCorruptError(
            f"dataset {self.key!r}: {real} {problem}. Replace it with an intact copy (the whole "
            f"folder {self.source} should come from one release of the dataset; data root "
            f"{self.root})."
        )

    def read_csv(self, read: Callable[..., Any], path: Any, *args: Any, **kwargs: Any) -> Any:
        """``read(path, ...)`` (pandas' read_csv) with errors naming the data-root file."""
        real = self.data_path(path)
        if real is None:
            return read(path, *args, **kwargs)
        try:
            frame = read(path, *args, **kwargs)
        except FileNotFoundError:
            raise self.missing(real) from None
        except _CSV_ERRORS as error:
            raise self.corrupt(real, f"is truncated or corrupt ({type(error).__name__}: "
                                     f"{error})") from error
        self._record(real, frame)
        return frame

    def _record(self, real: Path, frame: Any) -> None:
        """Check ``frame`` is numeric and remember its row count (and total, for count lists)."""
        import pandas as pd

        if not _plain_csv(self.meta) or self.meta["task type"] == "subtoken prediction":
            return
        if not all(pd.api.types.is_numeric_dtype(dtype) for dtype in frame.dtypes):
            raise self.corrupt(real, "holds non-numeric values (a damaged or foreign file)")
        if real.parent == self.source / "raw":
            table = real.name.removesuffix(".csv.gz")
            self.rows[table] = len(frame)
            if table in ("num-node-list", "num-edge-list") and len(frame):
                if (frame[0] < 0).any():
                    raise self.corrupt(real, "holds negative counts")
                self.totals[table] = int(frame[0].sum())

    def load(self, load: Callable[..., Any], path: Any, *args: Any, **kwargs: Any) -> Any:
        """``load(path, ...)`` (torch.load) with errors naming the data-root file."""
        real = self.data_path(path)
        if real is None:
            return load(path, *args, **kwargs)
        try:
            return load(path, *args, **kwargs)
        except FileNotFoundError:
            raise self.missing(real) from None
        except _TORCH_ERRORS as error:
            raise self.corrupt(real, f"could not be read; it may be truncated or corrupt "
                                     f"({type(error).__name__}: {error})") from error

    def check_counts(self) -> None:
        """Raise :class:`DatasetCorruptError` if the recorded tables' row counts disagree."""
        rows, totals = self.rows, self.totals
        if "num-node-list" not in rows or "num-edge-list" not in rows:
            return
        graphs = rows["num-node-list"]
        nodes, edges = totals.get("num-node-list", 0), totals.get("num-edge-list", 0)
        per_node = f"one per node: the sum of num-node-list.csv.gz over {graphs} graph(s)"
        per_edge = f"one per edge: the sum of num-edge-list.csv.gz over {graphs} graph(s)"
        expected = {"num-edge-list": (graphs, "one per graph, as in num-node-list.csv.gz"),
                    "edge": (edges, per_edge), "edge-feat": (edges, per_edge),
                    "node-feat": (nodes, per_node), "node-label": (nodes, per_node),
                    "graph-label": (graphs, "one per graph, as in num-node-list.csv.gz")}
        for extra, count, why in (("additional node files", nodes, per_node),
                                  ("additional edge files", edges, per_edge)):
            if self.meta.get(extra, "None") != "None":
                expected.update({name: (count, why) for name in self.meta[extra].split(",")})
        for table, (want, why) in expected.items():
            if table in rows and rows[table] != want:
                raise self.corrupt(self.source / "raw" / f"{table}.csv.gz",
                                   f"has {rows[table]} rows but {want} were expected ({why}); "
                                   "the raw files do not belong together")


class _Proxy:
    """A stand-in for a module (pandas or torch) inside ogb: one function replaced, the rest
    delegated."""

    def __init__(self, module: Any, name: str, replacement: Callable[..., Any]):
        self._module, self._name, self._replacement = module, name, replacement

    def __getattr__(self, attribute: str) -> Any:
        if attribute == self._name:
            original = getattr(self._module, attribute)
            return lambda *args, **kwargs: self._replacement(original, *args, **kwargs)
        return getattr(self._module, attribute)


def _checking_process(process: Callable[[Any], None], tables: _Tables) -> Callable[[Any], None]:
    """A replacement ``process`` method: if ogb fails, a row-count mismatch is reported instead."""

    def process_checked(self: Any) -> None:
        try:
            process(self)
        except (DatasetCorruptError, DatasetNotFoundError):
            raise
        except Exception as error:  # e.g. an IndexError from too few label rows
            try:
                tables.check_counts()
            except DatasetCorruptError as mismatch:
                raise mismatch from error
            raise

    return process_checked


def _checking_collate(collate: Callable[..., Any], tables: _Tables) -> Callable[..., Any]:
    """A replacement ``collate``: checks the row counts before ogb saves the processed file."""

    def collate_checked(data_list: Any) -> Any:
        tables.check_counts()
        return collate(data_list)

    return staticmethod(collate_checked)


@contextmanager
def checked_ogb_reads(key: str, meta: dict[str, str], loader: type, dataset_module: Any,
                      root: Path, source: Path, mirror: Path) -> Iterator[None]:
    """For this block, make ogb's reads of ``mirror`` (a mirror of ``source``) checked.

    The ``pd``/``torch`` globals of ogb's raw reader (``ogb.io.read_graph_raw``) and of
    ``dataset_module`` (the loader's ``dataset_pyg`` module) are replaced; ``loader`` is the ogb
    dataset class whose ``process`` and ``collate`` are wrapped. Must run under the mirror lock
    (the patches are module and class attributes, shared by all threads).
    """
    import pandas
    import torch
    from ogb.io import read_graph_raw

    modules = (read_graph_raw, dataset_module)

    tables = _Tables(key, meta, root, source, mirror)
    with ExitStack() as stack:
        for module in modules:
            if hasattr(module, "pd"):
                stack.enter_context(mock.patch.object(
                    module, "pd", _Proxy(pandas, "read_csv", tables.read_csv)))
            if hasattr(module, "torch"):
                stack.enter_context(mock.patch.object(
                    module, "torch", _Proxy(torch, "load", tables.load)))
        stack.enter_context(mock.patch.object(
            loader, "process", _checking_process(loader.process, tables)))
        stack.enter_context(mock.patch.object(
            loader, "collate", _checking_collate(loader.collate, tables)))
        yield
