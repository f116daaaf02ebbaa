"""The dense run every study needs: the baseline row and TEDDY's teacher, trained once.

:func:`train_dense` trains a copy of the model densely from θ₀ (the whole graph, no masks) and,
given a ``checkpoint_dir``, keeps the trained weights and the run's record there
(``dense-seed<seed>.pt``, safe format, kind ``"dense-run"``), keyed by a digest of θ₀, the
dataset and the training settings: the dense baseline row and every TEDDY level of that seed
share one training, also across a resumed sweep. A cache entry of another θ₀, dataset or
setting is retrained and replaced.

:data:`DENSE` is the ``"dense"`` method of a sweep: its one result is the dense model at level
0, scope ``"all"``.
"""

from __future__ import annotations

import copy
import hashlib
import warnings
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from graphsparse.gnn.edges import count_graph_sparsity, mask_graph
from graphsparse.gnn.methods._common import SearchResult, epoch_hooks, initial_state
from graphsparse.gnn.methods.base import LevelResult, Method, OnEpoch, OnLevel, TrainConfig
from graphsparse.gnn.train import EpochRecord, TrainResult, distributed, train_model
from graphsparse.masks import load_file, named_tensors, save_file
from graphsparse.masks.io import CorruptFileError

__all__ = ["DENSE", "DenseMethod", "state_digest", "train_dense"]

_KIND = "dense-run"


def state_digest(state: dict[str, Tensor]) -> str:
    """SHA-256 of a state_dict's names, dtypes, shapes and bytes (θ₀'s identity)."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _cache_key(model: nn.Module, dataset: Any, train_config: TrainConfig) -> dict[str, Any]:
    described = dataset.describe()
    return {"theta0": state_digest(initial_state(model)),
            "dataset": [described[k] for k in ("name", "task", "split_name", "split_seed",
                                                 "split_index", "num_features", "num_classes")],
            "train": [train_config.epochs, train_config.lr, train_config.weight_decay,
                      train_config.seed],
            **_batching_key(train_config)}


def _batching_key(train_config: TrainConfig) -> dict[str, Any]:
    """Mini-batch settings and world size (absent for single-process full batch, so caches
    written before mini-batch training existed stay valid)."""
    key: dict[str, Any] = {}
    if train_config.minibatch is not None:
        key["minibatch"] = train_config.minibatch.config()
    if distributed.world_size() > 1:
        key["world_size"] = distributed.world_size()
    return key


def _result_from_dict(record: dict[str, Any]) -> TrainResult:
    names = {f.name for f in fields(TrainResult)} - {"history", "best_state",
                                                      "best_edge_mask_state"}
    return TrainResult(**{k: record[k] for k in names},
                       history=[EpochRecord(**r) for r in record["history"]])


def _read_cache(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The cached dense run at ``path`` if it is this run's; a corrupt file (truncated,
    checksum mismatch, another kind) is retrained and overwritten, with a notice."""
    try:
        payload, _ = load_file(path, _KIND)
    except CorruptFileError as e:
        warnings.warn(f"the cached dense run {str(path)!r} is unreadable ({e}); training it "
                      "again", stacklevel=3)
        return None
    return payload if payload["key"] == key else None


def train_dense(model: nn.Module, dataset: Any, train_config: TrainConfig, *,
                on_epoch: OnEpoch | None = None,
                checkpoint_dir: str | Path | None = None) -> tuple[nn.Module, TrainResult]:
    """Train a copy of ``model`` densely (best-validation weights restored).

    Returns:
        ``(trained model, TrainResult)``; from the cache in ``checkpoint_dir`` when it holds
        this run (the TrainResult then has no ``best_state``).
    """
    key = _cache_key(model, dataset, train_config)
    path = None if checkpoint_dir is None else \
        Path(checkpoint_dir) / f"dense-seed{train_config.seed}.pt"
    trained = copy.deepcopy(model)
    if path is not None and path.exists():
        cached = _read_cache(path, key)
        if cached is not None:
            trained.load_state_dict(cached["state"])
            return trained, _result_from_dict(cached["result"])
    with train_config.settings():
        result = train_model(trained, dataset, hooks=epoch_hooks(on_epoch), desc="dense",
                             **train_config.kwargs())
    if path is not None and distributed.is_writer():
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().clone() for k, v in trained.state_dict().items()}
        save_file(path, _KIND, {"key": key, "state": state, "result": result.to_dict()})
    return trained, result


class DenseMethod(Method):
    """The dense baseline as a method: one result, the dense model at level 0."""

    def __init__(self) -> None:
        super().__init__("dense", train_dense, "all")

    def option_names(self) -> set[str]:
        return set()

    def search(self, model: nn.Module, dataset: Any, targets: Any = None, *,
               scope: str | None = None, train_config: TrainConfig = TrainConfig(),
               method_options: dict[str, Any] | None = None, on_level: OnLevel | None = None,
               on_epoch: OnEpoch | None = None,
               checkpoint_dir: str | Path | None = None) -> list[LevelResult]:
        """Train densely (cached per seed in ``checkpoint_dir``); ``targets`` is ignored and
        the one point is level 0 with targets 0."""
        from graphsparse.gnn.experiment.targets import DENSE_POINT  # experiment imports methods

        self.check_options(method_options)
        theta0 = initial_state(model)
        trained, result = train_dense(model, dataset, train_config, on_epoch=on_epoch,
                                      checkpoint_dir=checkpoint_dir)
        total = sum(t.numel() for t in named_tensors(model, "all").values())
        search = SearchResult(
            edge_mask=None, weight_masks={}, initial_state=theta0,
            trained_state={k: v.detach().clone() for k, v in trained.state_dict().items()},
            train=result, graph_sparsity=count_graph_sparsity(mask_graph(dataset)).to_dict(),
            weight_sparsity={"scope": "all", "numel": total, "kept": total, "sparsity": 0.0},
            weight_scope="all", search_epochs=result.epochs, search_seconds=result.seconds)
        level = LevelResult(DENSE_POINT, search)
        if on_level is not None:
            on_level(level)
        return [level]


#: The ``"dense"`` method of a sweep.
DENSE = DenseMethod()
