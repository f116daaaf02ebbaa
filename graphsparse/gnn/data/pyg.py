"""Loading the PyG datasets of the registry (Planetoid, Amazon, Coauthor, WebKB, Actor and the
heterophilous sets) through a cache mirror, with their public, provided or random split.

The mirror's processed files are rebuilt when the raw files change
(:mod:`~graphsparse.gnn.data.freshness`); a failed download removes what it created and raises
:class:`~graphsparse.gnn.data.DatasetNotFoundError` (:mod:`~graphsparse.gnn.data.download`).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from unittest import mock

from graphsparse import paths
from graphsparse.gnn.data.dataset import DatasetNotFoundError, FeatureLayout, LoadedDataset, Spec
from graphsparse.gnn.data.download import make_folders, remove_folders, reporting_download
from graphsparse.gnn.data.features import arrange_features
from graphsparse.gnn.data.freshness import fresh_processed
from graphsparse.gnn.data.mirror import (
    link_entries,
    mirror_base,
    mirror_lock,
    missing_message,
    no_download_reason,
    refusing_download,
)
from graphsparse.gnn.data.splits import random_node_split, random_split_name, set_node_split

__all__ = ["load_pyg"]


def _pyg_loader(spec: Spec) -> tuple[type, dict[str, str]]:
    """(the PyG dataset class, its keyword arguments) for ``spec``."""
    from torch_geometric import datasets as pyg_datasets

    loader = {
        "planetoid": pyg_datasets.Planetoid,
        "amazon": pyg_datasets.Amazon,
        "coauthor": pyg_datasets.Coauthor,
        "webkb": pyg_datasets.WebKB,
        "actor": pyg_datasets.Actor,
        "hetero": pyg_datasets.HeterophilousGraphDataset,
    }[spec.family]
    return loader, ({} if spec.family == "actor" else {"name": spec.arg})


def load_pyg(key: str, spec: Spec, root: Path, split_seed: int, split_index: int | None,
             feature_layout: FeatureLayout) -> LoadedDataset:
    """Load the PyG dataset ``key`` (described by ``spec``) from data root ``root``."""
    loader, kwargs = _pyg_loader(spec)
    source = root / spec.dataset_dir
    mirror = mirror_base(root) / spec.dataset_dir
    allowed = paths.downloads_allowed(root)
    reason = no_download_reason(root)
    if not (source / "raw").is_dir() and not allowed:
        raise DatasetNotFoundError(missing_message(key, root, [source / "raw"], reason))
    with mirror_lock(mirror), ExitStack() as stack:
        created = make_folders(source / "raw") if allowed else []
        try:
            link_entries(source, mirror)
        except BaseException:
            remove_folders(created)
            raise
        download = (reporting_download(loader.download, key, root, source, mirror, created)
                    if allowed else refusing_download(key, root, source, mirror, reason))
        stack.enter_context(mock.patch.object(loader, "download", download))
        with fresh_processed(key, source, mirror):
            dataset = loader(str(mirror_base(root) / spec.loader_dir), **kwargs)
    data = dataset[0]

    if spec.split == "public":
        masks = (data.train_mask, data.val_mask, data.test_mask)
        split_name, used_seed, used_index = "planetoid-public", None, None
    elif spec.split == "provided":
        num_splits = data.train_mask.size(1)
        used_index = 0 if split_index is None else split_index
        if not 0 <= used_index < num_splits:
            raise ValueError(
                f"split_index must be an int in 0..{num_splits - 1} for {key!r}, "
                f"got {split_index!r}"
            )
        masks = tuple(m[:, used_index].clone() for m in (data.train_mask, data.val_mask,
                                                          data.test_mask))
        split_name, used_seed = f"provided[{used_index}]", None
    else:
        masks = random_node_split(data.y, seed=split_seed)
        split_name, used_seed, used_index = random_split_name(split_seed), split_seed, None
    set_node_split(data, masks)
    data.x, layout = arrange_features(key, data.x, feature_layout, spec.bag_of_words)
    return LoadedDataset(
        name=key, task="node", target="multiclass", data=data, dataset=dataset,
        split=dict(zip(("train", "valid", "test"), masks)), split_name=split_name,
        split_seed=used_seed, split_index=used_index, num_features=data.num_node_features,
        num_classes=int(dataset.num_classes), metric=spec.metric, evaluator=None,
        feature_layout=layout, root=root,
    )
