"""The dense run every study needs: the baseline row and TEDDY's teacher, trained once.

:func:`train_dense` trains a copy of the model densely from θ₀ (the whole graph, no masks) and,
given a ``checkpoint_dir``, keeps the trained weights and the run's record there
(``dense-seed<seed>.pt``, safe format, kind ``"dense-run"``, written atomically: temporary
file + rename, see :func:`graphsparse.masks.save_file`), keyed by a digest of θ₀, the dataset
and the training settings: the dense baseline row and every TEDDY level of that seed share one
training, also across a resumed sweep. :func:`dense_outputs` adds the trained model's outputs
(TEDDY's teacher logits) to the same file the first time they are asked for, and reads them back
after. A corrupt file, or one of another θ₀, dataset or setting, is trained again and replaced,
with a warning naming the file and the reason.

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

from graphsparse.devices import model_device
from graphsparse.gnn.edges import count_graph_sparsity, mask_graph
from graphsparse.gnn.methods._common import SearchResult, epoch_hooks, initial_state
from graphsparse.gnn.methods.base import LevelResult, Method, OnEpoch, OnLevel, TrainConfig
from graphsparse.gnn.train import EpochRecord, TrainResult, distributed, predict, train_model
from graphsparse.masks import load_file, named_tensors, save_file
from graphsparse.masks.io import CorruptFileError

__all__ = ["DENSE", "DenseMethod", "dense_outputs", "state_digest", "train_dense"]

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


#: What each field of the cache key stands for (named in the mismatch notice).
_KEY_FIELDS = {"theta0": "initial weights θ₀", "dataset": "dataset or split",
               "train": "training settings (epochs, lr, weight decay, seed)",
               "minibatch": "mini-batch settings", "world_size": "number of processes"}


def _notice(message: str) -> None:
    """A cached dense run is not used: say why (it is trained again)."""
    warnings.warn(message, stacklevel=5)  # the caller of train_dense / dense_outputs


def _read_cache(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The cached dense run at ``path`` if it is this run's, else None after a notice: a
    corrupt file (truncated, checksum mismatch, another kind, entries missing) or another run's
    (another θ₀, dataset or setting: the differing fields are named) is trained again and
    overwritten."""
    try:
        payload, _ = load_file(path, _KIND)
    except CorruptFileError as e:
        _notice(f"the cached dense run {str(path)!r} is unreadable ({e}); training it again")
        return None
    if not all(isinstance(payload.get(k), dict) for k in ("key", "state", "result")):
        _notice(f"the cached dense run {str(path)!r} is unreadable (it lacks its key, state or "
                "result entry); training it again")
        return None
    differ = [_KEY_FIELDS.get(k, k) for k in sorted(set(key) | set(payload["key"]))
              if payload["key"].get(k) != key.get(k)]
    if differ:
        _notice(f"the cached dense run {str(path)!r} is another run's (different "
                f"{'; '.join(differ)}); training it again and replacing it")
        return None
    return payload


def _stored_outputs(payload: dict[str, Any], trained: nn.Module) -> Tensor | None:
    """The cached outputs ``[rows, D]``, on ``trained``'s device as :func:`predict` gives them;
    None when the cache has none (written by the dense baseline, or before they were stored)."""
    outputs = payload.get("outputs")
    if not isinstance(outputs, Tensor) or outputs.dim() != 2:
        return None
    return outputs.to(model_device(trained))


def _write(path: Path | None, payload: dict[str, Any]) -> None:
    """Store the dense run (the writing process only; atomic, see :func:`save_file`)."""
    if path is not None and distributed.is_writer():
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(path, _KIND, payload)


def _dense_run(model: nn.Module, dataset: Any, train_config: TrainConfig,
               on_epoch: OnEpoch | None, checkpoint_dir: str | Path | None,
               outputs: bool) -> tuple[nn.Module, TrainResult, Tensor | None]:
    """``(trained, result, outputs or None)``: the cached run when it is this one, else trained
    (and stored); with ``outputs``, the trained model's :func:`predict` outputs, cached too."""
    key = _cache_key(model, dataset, train_config)
    path = None if checkpoint_dir is None else \
        Path(checkpoint_dir) / f"dense-seed{train_config.seed}.pt"
    trained = copy.deepcopy(model)
    payload = _read_cache(path, key) if path is not None and path.exists() else None
    changed = payload is None
    if payload is not None:
        trained.load_state_dict(payload["state"])
        result = _result_from_dict(payload["result"])
    else:
        with train_config.settings():
            result = train_model(trained, dataset, hooks=epoch_hooks(on_epoch), desc="dense",
                                 **train_config.kwargs())
        state = {} if path is None else \
            {k: v.detach().cpu().clone() for k, v in trained.state_dict().items()}
        payload = {"key": key, "state": state, "result": result.to_dict()}
    logits = _stored_outputs(payload, trained) if outputs else None
    if outputs and logits is None:
        with train_config.settings():
            logits = predict(trained, dataset)
        payload["outputs"] = None if path is None else logits.detach().cpu().clone()
        changed = True
    if changed:
        _write(path, payload)
    return trained, result, logits


def train_dense(model: nn.Module, dataset: Any, train_config: TrainConfig, *,
                on_epoch: OnEpoch | None = None,
                checkpoint_dir: str | Path | None = None) -> tuple[nn.Module, TrainResult]:
    """Train a copy of ``model`` densely (best-validation weights restored).

    Returns:
        ``(trained model, TrainResult)``; from the cache in ``checkpoint_dir`` when it holds
        this run (the TrainResult then has no ``best_state``). A corrupt cache file or another
        run's is trained again and replaced, with a warning.
    """
    trained, result, _ = _dense_run(model, dataset, train_config, on_epoch, checkpoint_dir,
                                    outputs=False)
    return trained, result


def dense_outputs(model: nn.Module, dataset: Any, train_config: TrainConfig, *,
                  on_epoch: OnEpoch | None = None, checkpoint_dir: str | Path | None = None
                  ) -> tuple[nn.Module, TrainResult, Tensor]:
    """:func:`train_dense` plus the trained model's outputs (:func:`~graphsparse.gnn.train.predict`:
    eval mode, the whole graph; node tasks' logits, link tasks' node embeddings, graph tasks'
    per-graph outputs — what TEDDY distils from).

    With a ``checkpoint_dir`` the outputs are stored with the dense run (on the CPU) and read
    back on the next call, e.g. every further TEDDY level and a resumed sweep, instead of being
    computed again; a cache without them (written by :func:`train_dense`, or by a version that
    did not store them) has them added.

    Returns:
        ``(trained model, TrainResult, outputs)``, the outputs on the trained model's device.
    """
    trained, result, logits = _dense_run(model, dataset, train_config, on_epoch,
                                         checkpoint_dir, outputs=True)
    return trained, result, logits


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
