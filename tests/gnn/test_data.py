"""Tests of graphsparse.gnn.data and graphsparse.paths.

Real datasets (Cora, ogbl-ddi, ogbg-molbace) are read from the data root of graphsparse.paths
(``$GRAPHSPARSE_DATA`` or the repository's ``../shared/data``) with the network blocked and
``input()`` patched to raise; the figures asserted are the verified ones of
``shared/data/MANIFEST.md``. Every test gets its own empty cache (``GRAPHSPARSE_CACHE``).
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from graphsparse import paths
from graphsparse.gnn import (
    DatasetNotFoundError,
    available_datasets,
    load_dataset,
    random_node_split,
    synthetic_sbm,
)

DATA = paths.data_root()


def _need(*relative: str) -> None:
    for rel in relative:
        if not (DATA / rel).exists():
            pytest.skip(f"shared data absent: {DATA / rel} not found (set {paths.ENV_DATA})")


def _snapshot(root: Path) -> dict[str, tuple[bool, int, int]]:
    """Every path under ``root`` (links not followed) with (is_dir, size, mtime_ns)."""
    state = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            state[os.path.relpath(path, root)] = (name in dirnames, info.st_size, info.st_mtime_ns)
    return state


@pytest.fixture(autouse=True)
def isolated(offline_cache):
    """Own cache, no network, no prompt (``offline_cache`` in conftest.py)."""
    return offline_cache


@pytest.fixture
def unchanged_data_root():
    """Assert that nothing under the shared data root is created, removed or modified."""
    before = _snapshot(DATA)
    yield
    assert _snapshot(DATA) == before


# ------------------------------------------------------------------------------------------
# Real datasets from the shared data root, offline
# ------------------------------------------------------------------------------------------


def test_cora_offline(isolated, unchanged_data_root):
    _need("Planetoid/Cora/raw")
    ds = load_dataset("cora")
    data = ds.data
    assert (ds.task, ds.target, ds.metric, ds.evaluator) == ("node", "multiclass", "acc", None)
    assert data.num_nodes == 2708 and data.edge_index.shape == (2, 10556)
    assert (ds.num_features, ds.num_classes) == (1433, 7)
    assert ds.describe()["split_sizes"] == {"train": 140, "valid": 500, "test": 1000}
    assert ds.split_name == "planetoid-public" and ds.split_seed is None
    assert torch.equal(data.train_mask, ds.split["train"])
    # Bag-of-words features come back sparse, equal to the loader's dense matrix.
    assert ds.feature_layout == "sparse_csr" and data.x.layout == torch.sparse_csr
    assert torch.equal(data.x.to_dense(), ds.dataset[0].x)
    # Processed files went to the cache mirror; a second load reads them from there.
    assert list(isolated.rglob("processed/data.pt"))
    again = load_dataset("cora", feature_layout="dense")
    assert again.data.x.layout == torch.strided and again.feature_layout == "dense"


def test_ogbl_ddi_offline(isolated, unchanged_data_root):
    _need("ogb/ogbl_ddi/RELEASE_v1.txt")
    from torch_geometric.data.data import DataEdgeAttr

    safe_before = set(torch.serialization.get_safe_globals())
    ds = load_dataset("ogbl-ddi")
    safe_after = set(torch.serialization.get_safe_globals())
    assert safe_after == safe_before and DataEdgeAttr not in safe_after  # allowlist was scoped
    assert (ds.task, ds.target, ds.metric, ds.evaluator) == ("link", "link", "hits@20", "ogbl-ddi")
    assert ds.data.num_nodes == 4267 and ds.data.edge_index.shape == (2, 2_135_822)
    assert ds.num_features == 0 and ds.feature_layout == "none"
    split = ds.split
    assert split["train"]["edge"].shape == (1_067_911, 2)
    assert split["valid"]["edge"].shape == (133_489, 2)
    assert split["valid"]["edge_neg"].shape == (101_882, 2)
    assert split["test"]["edge"].shape == (133_489, 2)
    assert split["test"]["edge_neg"].shape == (95_599, 2)
    assert isinstance(split["valid"]["edge"], torch.Tensor)
    assert ds.split_name == "ogb-target"
    assert list(isolated.rglob("ogbl_ddi/processed/geometric_data_processed.pt"))
    assert load_dataset("ogbl-ddi").data.edge_index.shape == (2, 2_135_822)  # from the cache


def test_ogbg_molbace_offline(isolated, unchanged_data_root):
    _need("ogb/ogbg_molbace/RELEASE_v1.txt")
    ds = load_dataset("ogbg-molbace")
    assert (ds.task, ds.target, ds.metric, ds.evaluator) == (
        "graph", "binary", "rocauc", "ogbg-molbace")
    assert ds.data is None and len(ds.dataset) == 1513
    assert ds.describe()["split_sizes"] == {"train": 1210, "valid": 151, "test": 152}
    assert ds.split_name == "ogb-scaffold"
    assert (ds.num_features, ds.num_classes) == (9, 1)
    graph = ds.dataset[0]
    assert graph.x.dtype == torch.long and graph.x.shape[1] == 9 and graph.edge_attr.shape[1] == 3
    labels = ds.dataset.y.float()
    assert abs(labels.mean().item() - 0.457) < 0.001
    train_set = ds.dataset[ds.split["train"]]
    assert len(train_set) == 1210


def test_ogb_folder_without_release_file_is_refused_not_deleted(tmp_path):
    _need("ogb/ogbg_molbace/RELEASE_v1.txt")
    root = tmp_path / "root"
    folder = root / "ogb" / "ogbg_molbace"
    folder.mkdir(parents=True)
    for entry in ("raw", "split", "mapping"):
        (folder / entry).symlink_to(DATA / "ogb" / "ogbg_molbace" / entry)
    before = _snapshot(root)
    with pytest.raises(DatasetNotFoundError, match="RELEASE_v1.txt"):
        load_dataset("ogbg-molbace", root)  # downloads allowed: still no prompt, no rmtree
    assert _snapshot(root) == before


# ------------------------------------------------------------------------------------------
# Missing raw files and the offline rule
# ------------------------------------------------------------------------------------------


def test_missing_raw_files_fail_fast_offline(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.ENV_OFFLINE, "1")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset("cora", empty)
    message = str(error.value)
    assert "'cora'" in message and str(empty) in message
    assert str(empty / "Planetoid" / "Cora" / "raw") in message
    with pytest.raises(DatasetNotFoundError, match="ogbl_ddi") as error:
        load_dataset("ogbl-ddi", empty)
    assert str(empty) in str(error.value)
    assert list(empty.iterdir()) == []  # nothing created in the data root


def test_partial_raw_folder_names_each_missing_file(monkeypatch, tmp_path):
    _need("Planetoid/Cora/raw")
    monkeypatch.setenv(paths.ENV_OFFLINE, "true")
    raw = tmp_path / "root" / "Planetoid" / "Cora" / "raw"
    raw.mkdir(parents=True)
    for source in (DATA / "Planetoid" / "Cora" / "raw").iterdir():
        if source.name != "ind.cora.graph":
            (raw / source.name).symlink_to(source)
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset("cora", tmp_path / "root")
    message = str(error.value)
    assert str(raw / "ind.cora.graph") in message and "ind.cora.x" not in message


def test_shared_root_never_downloads(unchanged_data_root):
    """MANIFEST §8: PubMed is not in the shared folder; loading it must not reach for the network."""
    assert not paths.downloads_allowed(paths.shared_data_dir())
    if DATA != paths.shared_data_dir() or (DATA / "Planetoid" / "PubMed" / "raw").exists():
        pytest.skip("needs the shared folder as data root, without PubMed")
    with pytest.raises(DatasetNotFoundError, match="shared folder"):
        load_dataset("pubmed")  # GRAPHSPARSE_OFFLINE unset: the shared root alone forbids it


def test_pyg_download_lands_in_data_root_and_processed_in_cache(monkeypatch, tmp_path, isolated):
    _need("Planetoid/Cora/raw")
    import torch_geometric.io.fs as pyg_fs

    def fake_cp(url, folder, *args, **kwargs):  # the loader's download, served from disk
        shutil.copy(DATA / "Planetoid" / "Cora" / "raw" / url.rsplit("/", 1)[1], folder)

    monkeypatch.setattr(pyg_fs, "cp", fake_cp)
    root = tmp_path / "root"
    ds = load_dataset("cora", root)
    assert ds.data.num_nodes == 2708
    assert len(list((root / "Planetoid" / "Cora" / "raw").iterdir())) == 8
    assert not list(root.rglob("processed"))
    assert list(isolated.rglob("processed/data.pt"))


def test_ogb_download_lands_in_data_root_and_processed_in_cache(monkeypatch, tmp_path):
    _need("ogb/ogbg_molbace/RELEASE_v1.txt")
    from ogb.utils import url as ogb_url

    def fake_download_url(url, folder, log=True):  # an OGB zip built from the shared copy
        assert url.endswith("/bace.zip")
        archive = Path(folder) / "bace.zip"
        with zipfile.ZipFile(archive, "w") as handle:
            source = DATA / "ogb" / "ogbg_molbace"
            for path in source.rglob("*"):
                if path.is_file():
                    handle.write(path, Path("bace") / path.relative_to(source))
        return str(archive)

    monkeypatch.setattr(ogb_url, "download_url", fake_download_url)
    root = tmp_path / "root"
    ds = load_dataset("ogbg-molbace", root)
    assert len(ds.dataset) == 1513
    assert (root / "ogb" / "ogbg_molbace" / "RELEASE_v1.txt").is_file()
    assert sorted(p.name for p in (root / "ogb").iterdir()) == ["ogbg_molbace"]  # no leftovers
    assert not list(root.rglob("processed"))


# ------------------------------------------------------------------------------------------
# Argument errors
# ------------------------------------------------------------------------------------------


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="unknown dataset name 'kora'") as error:
        load_dataset("kora")
    for name in ("cora", "ogbl-ddi", "ogbg-molbace", "sbm", "coauthor-cs"):
        assert name in str(error.value)
    assert set(available_datasets()) >= {"cora", "ogbl-ddi", "ogbg-molbace", "sbm", "tolokers"}


def test_bad_arguments():
    with pytest.raises(ValueError, match="feature_layout"):
        load_dataset("sbm", feature_layout="coo")
    with pytest.raises(ValueError, match="split_seed"):
        load_dataset("sbm", split_seed=-1)
    with pytest.raises(ValueError, match="split_index applies only"):
        load_dataset("sbm", split_index=1)


def test_provided_splits_are_selected_by_index():
    _need("WebKB/cornell/raw")
    first, fourth = load_dataset("Cornell"), load_dataset("cornell", split_index=3)
    assert (first.split_index, fourth.split_index) == (0, 3)
    assert first.describe()["split_sizes"] == {"train": 87, "valid": 59, "test": 37}
    assert not torch.equal(first.split["train"], fourth.split["train"])
    assert first.data.train_mask.dim() == 1
    with pytest.raises(ValueError, match=r"split_index must be an int in 0\.\.9"):
        load_dataset("cornell", split_index=10)
    with pytest.raises(ValueError, match="split_index applies only"):
        load_dataset("cora", split_index=0)


# ------------------------------------------------------------------------------------------
# Synthetic SBM and random splits
# ------------------------------------------------------------------------------------------


def _assert_same_graph(a, b):
    for key in ("x", "y", "edge_index", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(a[key], b[key]), key


def test_sbm_is_deterministic():
    _assert_same_graph(synthetic_sbm(seed=7), synthetic_sbm(seed=7))
    a, b = synthetic_sbm(seed=7), synthetic_sbm(seed=8)
    assert not torch.equal(a.x, b.x) and not torch.equal(a.y, b.y)
    assert a.edge_index.shape != b.edge_index.shape or not torch.equal(a.edge_index, b.edge_index)
    loaded = load_dataset("sbm", split_seed=3)
    assert loaded.split_seed == 3 and "seed=3" in loaded.split_name
    assert not torch.equal(loaded.split["train"], load_dataset("sbm").split["train"])
    _assert_same_graph(load_dataset("sbm").data, synthetic_sbm())


def test_sbm_structure_and_edge_count():
    from torch_geometric.utils import is_undirected

    g = synthetic_sbm()
    ei = g.edge_index
    assert ei.dtype == torch.long and g.x.dtype == torch.float32 and g.x.shape == (1000, 32)
    assert is_undirected(ei) and bool((ei[0] != ei[1]).all())
    assert torch.unique(ei, dim=1).shape == ei.shape  # no duplicate edges
    # Expected undirected edges: 4·C(250,2)·0.03 + 6·250²·0.003 = 4860 (sd ≈ 67).
    assert abs(ei.shape[1] // 2 - 4860) < 5 * 67
    complete = synthetic_sbm(num_nodes=10, num_classes=3, p_in=1.0, p_out=1.0)
    assert complete.edge_index.shape[1] == 10 * 9
    assert synthetic_sbm(num_nodes=10, p_in=0.0, p_out=0.0).edge_index.shape[1] == 0


def test_sbm_is_homophilous_with_informative_features():
    g = synthetic_sbm()
    src, dst = g.edge_index
    homophily = (g.y[src] == g.y[dst]).float().mean().item()
    assert 0.7 < homophily < 0.85  # expected 7.5 / (7.5 + 2.25) = 0.77

    def nearest_centroid_accuracy(x):
        centroids = torch.stack([x[g.train_mask & (g.y == c)].mean(0) for c in range(4)])
        predicted = torch.cdist(x, centroids).argmin(1)
        return (predicted == g.y)[g.test_mask].float().mean().item()

    degree = torch.bincount(src, minlength=g.num_nodes).clamp(min=1).unsqueeze(1)
    aggregated = torch.zeros_like(g.x).index_add_(0, src, g.x[dst]) / degree
    raw_accuracy = nearest_centroid_accuracy(g.x)
    assert 0.4 < raw_accuracy < 0.8  # informative (chance 0.25) but noisy
    assert nearest_centroid_accuracy(aggregated) > raw_accuracy + 0.15  # the graph helps


def test_random_node_split():
    y = torch.tensor([0] * 100 + [1] * 60 + [2] * 40)
    train, val, test = random_node_split(y, seed=5)
    assert not (train & val).any() and not (train & test).any() and not (val & test).any()
    assert bool((train | val | test).all())
    assert [int(train[y == c].sum()) for c in range(3)] == [20, 20, 20]
    assert [int(val[y == c].sum()) for c in range(3)] == [30, 30, 20]  # class 2 has 40 nodes
    again = random_node_split(y, seed=5)
    assert all(torch.equal(a, b) for a, b in zip((train, val, test), again))
    assert not torch.equal(train, random_node_split(y, seed=6)[0])
    small = random_node_split(torch.tensor([0] * 25), seed=0)
    assert [int(m.sum()) for m in small] == [20, 5, 0]
    with pytest.raises(ValueError, match="train_per_class"):
        random_node_split(y, train_per_class=-1)


# ------------------------------------------------------------------------------------------
# graphsparse.paths
# ------------------------------------------------------------------------------------------


def test_paths_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.ENV_DATA, str(tmp_path / "d"))
    monkeypatch.setenv(paths.ENV_CACHE, str(tmp_path / "c"))
    assert paths.data_root() == tmp_path / "d" and paths.cache_root() == tmp_path / "c"
    monkeypatch.delenv(paths.ENV_DATA)
    monkeypatch.delenv(paths.ENV_CACHE)
    shared = paths.shared_data_dir()
    expected = shared if shared.is_dir() else Path.home() / ".graphsparse" / "data"
    assert paths.data_root() == expected
    assert paths.cache_root() == Path.home() / ".cache" / "graphsparse"
    for value, offline in (("1", True), ("Yes", True), ("0", False), ("", False)):
        monkeypatch.setenv(paths.ENV_OFFLINE, value)
        assert paths.is_offline() is offline
        assert paths.downloads_allowed(tmp_path) is not offline
    monkeypatch.setenv(paths.ENV_OFFLINE, "maybe")
    with pytest.raises(ValueError, match="GRAPHSPARSE_OFFLINE='maybe'"):
        paths.is_offline()


def test_normalize_features_divides_rows_by_their_sums_in_both_layouts(isolated,
                                                                      unchanged_data_root):
    """Row normalisation (UGS's preprocess_features) by hand, dense and CSR, and through the
    loader; negative features are refused."""
    from graphsparse.gnn.data.features import row_normalize

    x = torch.tensor([[1.0, 0.0, 3.0], [0.0, 0.0, 0.0], [2.0, 2.0, 0.0]])
    expected = torch.tensor([[0.25, 0.0, 0.75], [0.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
    assert torch.equal(row_normalize(x), expected)
    assert torch.equal(row_normalize(x.to_sparse_csr()).to_dense(), expected)
    with pytest.raises(ValueError, match="non-negative"):
        row_normalize(-x)
    with pytest.raises(ValueError, match="normalize_features needs non-negative"):
        load_dataset("sbm", normalize_features=True)  # Gaussian features
    with pytest.raises(TypeError, match="normalize_features"):
        load_dataset("sbm", normalize_features="yes")
    _need("Planetoid/Cora/raw")
    plain, normalized = load_dataset("cora"), load_dataset("cora", normalize_features=True)
    assert normalized.normalize_features and not plain.normalize_features
    assert normalized.data.x.layout == torch.sparse_csr
    dense = plain.data.x.to_dense()
    assert torch.allclose(normalized.data.x.to_dense(), dense / dense.sum(1, keepdim=True))
