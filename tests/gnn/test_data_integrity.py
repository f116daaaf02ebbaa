"""Data integrity of graphsparse.gnn.data (issue 13, item 4).

* processed files in the cache are rebuilt, with a notice, when the data root's raw files change;
* damaged OGB raw files (truncated, corrupt, inconsistent row counts, missing split) raise
  DatasetCorruptError / DatasetNotFoundError naming the file under the data root;
* a data root that does not exist is refused offline (nothing created) and a failed download
  removes what it created and says what failed.

Each test works on a small hand-made copy of a real dataset (ogbg-molfreesolv, WebKB Cornell,
Planetoid Cora) in ``tmp_path``, with its own cache, the network blocked and ``input()`` refused.
"""

from __future__ import annotations

import gzip
import os
import shutil
import warnings
from pathlib import Path

import pytest
import torch

from graphsparse import paths
from graphsparse.gnn.data import DatasetCorruptError, DatasetNotFoundError, load_dataset

DATA = paths.data_root()
FREESOLV = Path("ogb") / "ogbg_molfreesolv"


@pytest.fixture(autouse=True)
def cache(offline_cache):
    """Own cache, no network, no prompt (``offline_cache`` in conftest.py)."""
    return offline_cache


def _copy(relative: Path | str, root: Path) -> Path:
    """A writable copy of ``DATA/relative`` at ``root/relative`` (skips if the data is absent)."""
    source = DATA / relative
    if not source.is_dir():
        pytest.skip(f"shared data absent: {source} not found (set {paths.ENV_DATA})")
    target = root / relative
    shutil.copytree(source, target, copy_function=shutil.copyfile)
    for directory, _, _ in os.walk(target):
        os.chmod(directory, 0o755)
    return target


def _gz_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt") as handle:
        return handle.read().splitlines()


def _write_gz_lines(path: Path, lines: list[str]) -> None:
    with gzip.open(path, "wt") as handle:
        handle.write("".join(line + "\n" for line in lines))


def _freesolv(tmp_path: Path) -> tuple[Path, Path]:
    """(data root, dataset folder) of a fresh copy of ogbg-molfreesolv."""
    root = tmp_path / "root"
    return root, _copy(FREESOLV, root)


# ------------------------------------------------------------------------------------------
# 1. Stale processed cache
# ------------------------------------------------------------------------------------------


def _notices(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "out of date" in str(w.message)]


def test_replaced_ogb_raw_file_is_reprocessed_with_a_notice(tmp_path, cache):
    root, folder = _freesolv(tmp_path)
    label = load_dataset("ogbg-molfreesolv", root).dataset[0].y.clone()
    labels = folder / "raw" / "graph-label.csv.gz"  # same shape, every label + 1
    _write_gz_lines(labels, [str(float(v) + 1) for v in _gz_lines(labels)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        second = load_dataset("ogbg-molfreesolv", root)
    assert torch.allclose(second.dataset[0].y, label + 1)  # not the stale cached copy
    (notice,) = _notices(caught)
    assert "'ogbg-molfreesolv'" in notice and "raw file raw/graph-label.csv.gz" in notice
    assert str(folder / "raw") in notice

    (manifest,) = cache.rglob(".graphsparse-processed.json")
    assert (manifest.parent / "processed").is_dir()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # unchanged raw files: no notice, no rebuild
        third = load_dataset("ogbg-molfreesolv", root)
    assert torch.allclose(third.dataset[0].y, label + 1)


def test_replaced_pyg_raw_file_is_reprocessed(tmp_path):
    root = tmp_path / "root"
    raw = _copy("WebKB/cornell", root) / "raw"
    before = load_dataset("cornell", root).data.edge_index.shape[1]
    edges = raw / "out1_graph_edges.txt"
    lines = edges.read_text().splitlines()
    edges.write_text("\n".join(lines[:-20]) + "\n")  # 20 fewer edges
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        after = load_dataset("cornell", root).data.edge_index.shape[1]
    assert after < before  # not the stale cached copy
    (notice,) = _notices(caught)
    assert "'cornell'" in notice and "out1_graph_edges.txt" in notice


def test_processed_copy_without_a_record_is_rebuilt(tmp_path, cache):
    """A cache made before the manifest existed (or whose manifest was lost) is not trusted."""
    root, _ = _freesolv(tmp_path)
    load_dataset("ogbg-molfreesolv", root)
    (manifest,) = cache.rglob(".graphsparse-processed.json")
    manifest.unlink()
    with pytest.warns(UserWarning, match="no record of the raw files"):
        assert len(load_dataset("ogbg-molfreesolv", root).dataset) == 642
    assert manifest.is_file()


# ------------------------------------------------------------------------------------------
# 2. Corrupt or inconsistent OGB raw data
# ------------------------------------------------------------------------------------------


def _one_row(path: Path) -> None:
    _write_gz_lines(path, _gz_lines(path)[:1])


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _not_gzip(path: Path) -> None:
    path.write_bytes(b"this is not a gzip file\n" * 4)


def _drop_last_row(path: Path) -> None:
    _write_gz_lines(path, _gz_lines(path)[:-1])


def _extra_row(path: Path) -> None:
    lines = _gz_lines(path)
    _write_gz_lines(path, lines + lines[-1:])


def _text_value(path: Path) -> None:
    lines = _gz_lines(path)
    _write_gz_lines(path, ["x" + lines[0], *lines[1:]])


@pytest.mark.parametrize(("table", "damage", "pattern"), [
    ("node-feat", _one_row, r"node-feat\.csv\.gz has 1 rows but 5600 were expected"),
    ("edge", _truncate, r"edge\.csv\.gz is truncated or corrupt \(EOFError"),
    ("edge-feat", _not_gzip, r"edge-feat\.csv\.gz is truncated or corrupt \(BadGzipFile"),
    ("edge-feat", _extra_row, r"edge-feat\.csv\.gz has \d+ rows but \d+ were expected"),
    ("num-edge-list", _drop_last_row, r"num-edge-list\.csv\.gz has 641 rows but 642"),
    ("graph-label", _drop_last_row, r"graph-label\.csv\.gz has 641 rows but 642"),
    ("graph-label", _extra_row, r"graph-label\.csv\.gz has 643 rows but 642"),
    ("node-feat", _text_value, r"node-feat\.csv\.gz holds non-numeric values"),
])
def test_damaged_ogb_raw_table_names_the_data_root_file(tmp_path, cache, table, damage,
                                                        pattern):
    root, folder = _freesolv(tmp_path)
    damage(folder / "raw" / f"{table}.csv.gz")
    with pytest.raises(DatasetCorruptError, match=pattern) as error:
        load_dataset("ogbg-molfreesolv", root)
    message = str(error.value)
    assert isinstance(error.value, ValueError)
    assert str(folder / "raw" / f"{table}.csv.gz") in message and str(cache) not in message
    assert not list(cache.rglob("geometric_data_processed.pt"))  # nothing processed was kept


def test_damaged_raw_file_in_a_cached_dataset_is_found(tmp_path):
    """Processed once from good files, then a raw file is damaged: the next load reports it."""
    root, folder = _freesolv(tmp_path)
    load_dataset("ogbg-molfreesolv", root)
    _one_row(folder / "raw" / "node-feat.csv.gz")
    with pytest.warns(UserWarning, match="out of date"), \
            pytest.raises(DatasetCorruptError, match="node-feat.csv.gz has 1 rows"):
        load_dataset("ogbg-molfreesolv", root)


def test_missing_split_folder_names_the_data_root_folder(monkeypatch, tmp_path, cache):
    monkeypatch.setenv(paths.ENV_OFFLINE, "1")
    root, folder = _freesolv(tmp_path)
    shutil.rmtree(folder / "split")
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset("ogbg-molfreesolv", root)
    message = str(error.value)
    assert str(folder / "split" / "scaffold") in message and str(cache) not in message
    assert not cache.exists()  # refused before the mirror was made


def test_missing_or_damaged_split_file_names_the_data_root_file(tmp_path, cache):
    root, folder = _freesolv(tmp_path)
    valid = folder / "split" / "scaffold" / "valid.csv.gz"
    valid.unlink()
    with pytest.raises(DatasetNotFoundError, match="valid.csv.gz") as error:
        load_dataset("ogbg-molfreesolv", root)
    assert str(valid) in str(error.value) and str(cache) not in str(error.value)
    shutil.copyfile(DATA / FREESOLV / "split" / "scaffold" / "valid.csv.gz", valid)
    _truncate(valid)
    with pytest.raises(DatasetCorruptError, match="truncated or corrupt") as error:
        load_dataset("ogbg-molfreesolv", root)
    assert str(valid) in str(error.value) and str(cache) not in str(error.value)


# ------------------------------------------------------------------------------------------
# 3. A data root that does not exist; failed downloads
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cora", "ogbg-molfreesolv"])
def test_missing_data_root_offline_is_refused_creating_nothing(monkeypatch, tmp_path, cache,
                                                               name):
    monkeypatch.setenv(paths.ENV_OFFLINE, "1")
    missing = tmp_path / "no" / "such" / "root"
    with pytest.raises(DatasetNotFoundError, match="does not exist") as error:
        load_dataset(name, missing)
    assert str(missing) in str(error.value) and paths.ENV_OFFLINE in str(error.value)
    assert not (tmp_path / "no").exists() and not cache.exists()


def test_data_root_that_is_a_file_is_refused(tmp_path):
    not_a_folder = tmp_path / "root.txt"
    not_a_folder.write_text("")
    with pytest.raises(DatasetNotFoundError, match="is not a folder"):
        load_dataset("cora", not_a_folder)


def test_glt_run_with_missing_data_root_offline(monkeypatch, tmp_path):
    from graphsparse.cli import main

    monkeypatch.setenv(paths.ENV_OFFLINE, "1")
    missing = tmp_path / "nonexistent"
    with pytest.raises(SystemExit) as error:
        main(["glt", "run", "--dataset", "cora", "--data-root", str(missing),
              "--method", "random", "--levels", "1", "--out", str(tmp_path / "out")])
    assert str(missing) in str(error.value.code) and "does not exist" in str(error.value.code)
    assert not missing.exists()


@pytest.mark.parametrize("root_exists", [False, True])
def test_failed_pyg_download_removes_what_it_created(monkeypatch, tmp_path, root_exists):
    import torch_geometric.io.fs as pyg_fs

    fetched = []

    def failing_cp(url, folder, *args, **kwargs):  # the first file arrives, then the link drops
        if fetched:
            raise OSError("simulated network failure")
        fetched.append(url)
        Path(folder, url.rsplit("/", 1)[1]).write_bytes(b"half a file")

    monkeypatch.setattr(pyg_fs, "cp", failing_cp)
    root = tmp_path / "root"
    if root_exists:
        root.mkdir()
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset("cora", root)
    message = str(error.value)
    assert "Downloading the raw files failed (OSError: simulated network failure)" in message
    assert str(root / "Planetoid" / "Cora" / "raw" / "ind.cora.x") in message
    assert isinstance(error.value.__cause__, OSError)
    assert fetched  # the download was attempted
    if root_exists:
        assert list(root.iterdir()) == []  # root kept, Planetoid/Cora/raw and its file removed
    else:
        assert not root.exists()


def test_failed_ogb_download_removes_what_it_created(monkeypatch, tmp_path):
    from ogb.utils import url as ogb_url

    def failing_download_url(url, folder, log=True):
        raise OSError("simulated network failure")

    monkeypatch.setattr(ogb_url, "download_url", failing_download_url)
    root = tmp_path / "root"
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset("ogbg-molfreesolv", root)
    message = str(error.value)
    assert "freesolv.zip failed (OSError: simulated network failure)" in message
    assert str(root / "ogb" / "ogbg_molfreesolv") in message
    assert not root.exists()
