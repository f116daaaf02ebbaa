"""The training loop and the evaluation entry points: :func:`train_model`, :func:`evaluate`,
:func:`predict` (see :mod:`graphsparse.gnn.train` for selection, determinism and timing)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from graphsparse.checks import check_float, check_int
from graphsparse.devices import model_device, resolve_device
from graphsparse.gnn.edges import TrainableEdgeMask
from graphsparse.gnn.train import distributed
from graphsparse.gnn.train.hooks import EpochRecord, TrainHooks, TrainResult, as_hooks
from graphsparse.gnn.train.inference import timed_inference
from graphsparse.gnn.train.metrics import better
from graphsparse.gnn.train.minibatch import MiniBatch, make_minibatch_task
from graphsparse.gnn.train.tasks import Task, make_task
from graphsparse.masks import loadable_state_dict

__all__ = ["evaluate", "predict", "train_model", "training_settings"]

# Settings that every train_model/evaluate/predict call inside a `training_settings` block uses.
_SETTINGS: ContextVar[dict[str, Any]] = ContextVar("graphsparse_training_settings", default={})


@contextlib.contextmanager
def training_settings(*, device: str | torch.device | None = None,
                      minibatch: MiniBatch | None = None) -> Iterator[None]:
    """Defaults of ``device`` and ``minibatch`` for every :func:`train_model`, :func:`evaluate`
    and :func:`predict` call in the block (explicit arguments win).

    A method's search runs many trainings (a dense teacher, rounds, the ticket);
    :meth:`graphsparse.gnn.methods.Method.search` enters this block with its ``TrainConfig``'s
    device and mini-batch settings, so every one of them uses the same ones.

    Example:
        >>> from graphsparse.gnn.train.minibatch import MiniBatch
        >>> with training_settings(minibatch=MiniBatch(64, [5, 5])):
        ...     _current("minibatch")
        MiniBatch(batch_size=64, num_neighbors=(5, 5), evaluation='auto')
    """
    if minibatch is not None and not isinstance(minibatch, MiniBatch):
        raise TypeError(f"minibatch must be a MiniBatch, got {type(minibatch).__name__}")
    if device is not None:
        resolve_device(device)  # fail at once on a device that is not there
    token = _SETTINGS.set({"device": device, "minibatch": minibatch})
    try:
        yield
    finally:
        _SETTINGS.reset(token)


def _current(name: str, explicit: Any = None) -> Any:
    """``explicit``, else the enclosing :func:`training_settings` value of ``name``."""
    return explicit if explicit is not None else _SETTINGS.get().get(name)


def train_model(
    model: nn.Module,
    dataset: Any,
    *,
    epochs: int,
    lr: float = 0.01,
    weight_decay: float = 5e-4,
    edge_mask: Tensor | TrainableEdgeMask | None = None,
    mode: str = "remove",
    hooks: TrainHooks | Sequence[TrainHooks] = (),
    seed: int = 0,
    batch_size: int | None = None,
    eval_every: int = 1,
    restore_best: bool = True,
    clamp_edge_mask: bool = True,
    time_inference: bool = False,
    inference_repeats: int = 5,
    optimizer: Callable[[list[dict[str, Any]]], torch.optim.Optimizer] | None = None,
    progress: bool = True,
    desc: str | None = None,
    device: str | torch.device | None = None,
    minibatch: MiniBatch | None = None,
) -> TrainResult:
    """Train ``model`` on ``dataset``, evaluating with the current masks; keep the best epoch.

    Args:
        model: node task: ``model(x, edge_index) -> [N, C]``; link task: ``model(x,
            edge_index) -> [N, D]`` plus ``model.decode(h, pairs [2, P]) -> [P]``; graph task:
            ``model(x, edge_index, edge_attr, batch) -> [G, T]`` — as built by
            :func:`graphsparse.gnn.models.build_model`. Trained in place on its device.
        dataset: a :class:`~graphsparse.gnn.data.LoadedDataset`.
        epochs: number of epochs (int >= 1).
        lr: Adam learning rate (> 0); default 0.01 (Kipf & Welling 2017, TEDDY).
        weight_decay: Adam weight decay (>= 0); default 5e-4 (idem). UGS's Cora setting is
            lr 0.008, weight decay 8e-5.
        edge_mask: mask over the mask graph's edges (see :mod:`graphsparse.gnn.train`) or None.
        mode: ``"remove"``, ``"weight"`` or ``"message"``.
        hooks: one :class:`TrainHooks` or a sequence of them.
        seed: int >= 0; seeds dropout, shuffling and negative sampling.
        batch_size: link: pairs per step (default 65,536); graph: graphs per batch (default 32);
            ignored for node tasks (full batch).
        eval_every: evaluate every this many epochs (and after the last).
        restore_best: load the best epoch's weights (and edge-mask state) at the end.
        clamp_edge_mask: project a trainable soft edge mask onto [0, 1] after every step.
        time_inference: also measure :attr:`TrainResult.inference_seconds` (median of
            ``inference_repeats`` passes after one warm-up).
        inference_repeats: int >= 1.
        optimizer: ``f(param_groups) -> Optimizer`` to replace the default
            ``Adam(param_groups, lr=lr, weight_decay=weight_decay)``; the groups are dicts
            with ``"params"`` and ``"name"`` (``"model"``, ``"edge_mask"``, ``"hooks"``).
        progress: show a tqdm progress bar over epochs.
        desc: the progress bar's label.
        device: move the model there first (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``,
            see :func:`graphsparse.devices.resolve_device`); None keeps the model's device.
            Data, masks and hooks' tensors follow the model.
        minibatch: a :class:`~graphsparse.gnn.train.minibatch.MiniBatch` to train node and link
            tasks on sampled neighbourhoods (required, and sharded over ranks, when running
            under ``torch.distributed``); None trains full batch. Both default to the
            enclosing :func:`training_settings`.

    Returns:
        :class:`TrainResult`.

    Raises:
        ValueError: a bad argument (the message names it and its allowed values), or an edge
            mask whose length is not the mask graph's edge count.
        TypeError: an argument of the wrong type (the message names it), a dataset that is not
            a LoadedDataset, hooks that are not TrainHooks.
    """
    started = time.perf_counter()
    lr, weight_decay, hook_list = _check_arguments(
        model, hooks, epochs=epochs, lr=lr, weight_decay=weight_decay, seed=seed,
        eval_every=eval_every, inference_repeats=inference_repeats)
    device, minibatch = _current("device", device), _current("minibatch", minibatch)
    if minibatch is None and distributed.world_size() > 1:
        raise ValueError("multi-process training shards mini-batches: give a minibatch "
                         "(--batch-size and --num-neighbors)")
    if device is not None:
        model.to(resolve_device(device))
    with torch.random.fork_rng(devices=_cuda_devices(model)):
        torch.manual_seed(seed)
        task = _make_task(model, dataset, edge_mask, mode, batch_size, seed, minibatch)
        groups = param_groups(model, task.edge_parameters(),
                              [p for hook in hook_list for p in hook.parameters()])
        opt = optimizer(groups) if optimizer is not None \
            else torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)
        run = _run_epochs(model, dataset, task, opt, hook_list, epochs=epochs,
                          eval_every=eval_every, clamp=clamp_edge_mask, progress=progress,
                          desc=desc)
        _finish(model, task, run, restore_best)
        inference = timed_inference(task, model, inference_repeats) if time_inference else None
    return _result(dataset.metric, run, started, inference, seed, task.evaluation)


def _make_task(model: nn.Module, dataset: Any, edge_mask: Any, mode: str,
               batch_size: int | None, seed: int, minibatch: MiniBatch | None) -> Task:
    """The full-batch task, or with ``minibatch`` the mini-batch one."""
    if minibatch is None:
        return make_task(model, dataset, edge_mask, mode, batch_size, seed)
    return make_minibatch_task(model, dataset, edge_mask, mode, seed, minibatch)


def _check_arguments(model: Any, hooks: Any, *, epochs: Any, lr: Any, weight_decay: Any,
                     seed: Any, eval_every: Any,
                     inference_repeats: Any) -> tuple[float, float, list[TrainHooks]]:
    """Check :func:`train_model`'s arguments; return ``(lr, weight_decay, hooks as a list)``."""
    check_int(epochs, "epochs", low=1)
    lr = check_float(lr, "lr", low=0.0, open_low=True)
    weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
    check_int(seed, "seed", low=0)
    check_int(eval_every, "eval_every", low=1)
    check_int(inference_repeats, "inference_repeats", low=1)
    hook_list = as_hooks(hooks)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return lr, weight_decay, hook_list


def _cuda_devices(model: nn.Module) -> list[int]:
    """The CUDA device whose RNG :func:`torch.random.fork_rng` must fork (none on CPU)."""
    device = model_device(model)
    return [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []


def param_groups(model: nn.Module, edge_params: list[Tensor],
                 hook_params: list[Tensor]) -> list[dict[str, Any]]:
    """The optimiser's named parameter groups; a tensor appears once, empty groups are dropped."""
    seen: set[int] = set()
    groups = []
    for name, params in (("model", [p for p in model.parameters() if p.requires_grad]),
                         ("edge_mask", edge_params), ("hooks", hook_params)):
        unique = []
        for p in params:
            if id(p) not in seen:
                seen.add(id(p))
                unique.append(p)
        if unique:
            groups.append({"params": unique, "name": name})
    return groups


def snapshot(model: nn.Module) -> dict[str, Tensor]:
    """A loadable copy of the model's state (masked PyG Linears' derived entries dropped)."""
    return {k: v.detach().clone() for k, v in loadable_state_dict(model.state_dict()).items()}


@dataclass
class _Run:
    """What the epoch loop leaves behind: the history, the best ``(val, test, epoch)`` with the
    model's (and a TrainableEdgeMask's) state at that epoch, and whether a hook stopped it."""

    history: list[EpochRecord] = field(default_factory=list)
    best: tuple[float, float, int] | None = None
    best_state: dict[str, Tensor] = field(default_factory=dict)
    best_mask_state: dict[str, Tensor] | None = None
    stopped: bool = False


def _run_epochs(model: nn.Module, dataset: Any, task: Task, opt: torch.optim.Optimizer,
                hooks: list[TrainHooks], *, epochs: int, eval_every: int, clamp: bool,
                progress: bool, desc: str | None) -> _Run:
    """Train for ``epochs`` epochs (fewer if a hook stops), evaluating every ``eval_every``."""
    from tqdm.auto import tqdm

    bar = tqdm(range(1, epochs + 1), desc=desc or f"train {dataset.name}", unit="epoch",
               disable=not progress, leave=False)
    run = _Run()
    trained = distributed.wrap_model(model)
    with task.masked(model):
        for epoch in bar:
            record = _epoch(model, trained, dataset, task, opt, hooks, run, epoch, clamp=clamp,
                            evaluate=epoch % eval_every == 0 or epoch == epochs)
            val, best = record.val, run.best
            bar.set_postfix(loss=f"{record.loss:.4f}",
                            val=f"{val:.4f}" if val is not None else "-",
                            best=f"{best[0]:.4f}@{best[2]}" if best else "-")
            if any([hook.on_epoch_end(record, model) for hook in hooks]):
                run.stopped = True
                break
    bar.close()
    return run


def _epoch(model: nn.Module, trained: nn.Module, dataset: Any, task: Task,
           opt: torch.optim.Optimizer, hooks: list[TrainHooks], run: _Run, epoch: int, *,
           clamp: bool, evaluate: bool) -> EpochRecord:
    """One training epoch of ``trained`` (the model, or its DistributedDataParallel wrapper),
    then (if ``evaluate``) the model's evaluation; updates ``run``'s best."""
    t0 = time.perf_counter()
    loss = task.train_epoch(trained, opt, hooks, epoch, clamp)
    t1 = time.perf_counter()
    val = test = None
    is_best = False
    if evaluate:
        val, test = task.evaluate(model)
        if better(dataset.metric, val, None if run.best is None else run.best[0]):
            is_best = True
            run.best = (val, test, epoch)
            run.best_state = snapshot(model)
            if isinstance(task.soft, TrainableEdgeMask):
                run.best_mask_state = {k: v.detach().clone()
                                       for k, v in task.soft.state_dict().items()}
    t2 = time.perf_counter()
    record = EpochRecord(epoch, loss, val, test, t1 - t0, t2 - t1, is_best)
    run.history.append(record)
    return record


def _finish(model: nn.Module, task: Task, run: _Run, restore_best: bool) -> None:
    """Evaluate once if no epoch was evaluated; load the best state back if asked."""
    if run.best is None:  # stopped before the first evaluation
        with task.masked(model):
            val, test = task.evaluate(model)
        run.best = (val, test, run.history[-1].epoch)
        run.best_state = snapshot(model)
    if restore_best:
        model.load_state_dict(run.best_state)
        if run.best_mask_state is not None:
            task.soft.load_state_dict(run.best_mask_state)


def _result(metric: str, run: _Run, started: float, inference: float | None,
            seed: int, evaluation: str) -> TrainResult:
    """The :class:`TrainResult` of a finished run."""
    best = run.best
    return TrainResult(
        metric=metric, val=best[0], test=best[1], best_epoch=best[2],
        epochs=len(run.history), seconds=time.perf_counter() - started,
        train_seconds=sum(r.train_seconds for r in run.history),
        eval_seconds=sum(r.eval_seconds for r in run.history), inference_seconds=inference,
        seed=seed, stopped_early=run.stopped, evaluation=evaluation, history=run.history,
        best_state=run.best_state,
        best_edge_mask_state=run.best_mask_state)


def evaluate(model: nn.Module, dataset: Any, *, edge_mask: Any = None, mode: str = "remove",
             batch_size: int | None = None,
             minibatch: MiniBatch | None = None) -> dict[str, Any]:
    """Validation and test metric of ``model`` under an edge mask (eval mode, no gradients).

    Args:
        model, dataset, edge_mask, mode, batch_size, minibatch: as for :func:`train_model`
            (with a minibatch, outputs are computed as its ``evaluation`` says).

    Returns:
        ``{"metric": name, "val": float, "test": float}``.

    Example:
        >>> import torch
        >>> from graphsparse.gnn.data import load_dataset
        >>> from graphsparse.gnn.models import build_model
        >>> ds = load_dataset("sbm")
        >>> model = build_model("sage", ds.num_features, ds.num_classes, hidden=8)
        >>> sorted(evaluate(model, ds, edge_mask=torch.ones(ds.data.num_edges) > 0))
        ['metric', 'test', 'val']
    """
    task = _make_task(model, dataset, edge_mask, mode, batch_size, 0,
                      _current("minibatch", minibatch))
    with task.masked(model):
        val, test = task.evaluate(model)
    return {"metric": dataset.metric, "val": val, "test": test}


def predict(model: nn.Module, dataset: Any, *, edge_mask: Any = None, mode: str = "remove",
            batch_size: int | None = None, minibatch: MiniBatch | None = None) -> Tensor:
    """Raw outputs of ``model`` in eval mode under an edge mask (e.g. a TEDDY teacher).

    Returns:
        node task: logits ``[N, C]`` of all nodes; link task: node embeddings ``[N, D]`` (score
        pairs with ``model.decode``); graph task: logits ``[G, T]`` of every graph in dataset
        order (index them with a batch's ``g_id``).
    """
    task = _make_task(model, dataset, edge_mask, mode, batch_size, 0,
                      _current("minibatch", minibatch))
    with task.masked(model):
        return task.predict(model)
