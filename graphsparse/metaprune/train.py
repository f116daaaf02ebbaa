"""Meta-training of a :class:`MetaNetwork` on a zoo of trained networks, and group-norm statistics.

Liu, Wang, Zhang, "Meta Pruning via Graph Metanetworks" (arXiv 2506.12041), Sec. 3.2: the
metanetwork ``M_phi`` is trained so that the network it outputs, ``theta' = G^-1(M_phi(G(theta)))``,

* still solves its task — loss term ``L_task(theta')`` (cross-entropy on a minibatch), and
* has polarised group norms — loss term ``reg * R(theta')`` with DepGraph's group-sparsity
  regulariser as MetaPruning uses it (Fang et al. 2023, "DepGraph", Sec. 3.3; Torch-Pruning's
  ``GroupNormPruner.regularize``): ``R = 1/2 Σ_layers Σ_n γ_n ||theta'_n||²`` over the hidden
  neurons/channels ``n`` of each layer, ``γ_n = α^((I_max − I_n) / (I_max − I_min))`` with ``I_n`` the
  group norm and ``I_max``, ``I_min`` the layer's extremes, ``γ`` held constant (no gradient): weak
  groups are pushed to zero harder (paper defaults ``reg = 10``, ``α = 16``),

so that removing the groups with the smallest norms afterwards costs little accuracy.

Groups (:func:`group_norms`) are defined on the network graph (:func:`to_graph`): the group of a
hidden neuron / channel ``n`` is every weight of an edge incident to ``n`` (its fan-in row and its
fan-out column, a conv kernel slice counting as one edge's weights), plus its bias and BatchNorm
affine parameters. This is the coupled group that structured pruning removes with the neuron, the
group of torch-pruning's ``GroupMagnitudeImportance`` up to its per-layer reductions.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.data import Data

from graphsparse.checks import check_float, check_fraction, check_int
from graphsparse.devices import model_device, resolve_device
from graphsparse.masks.io import CorruptFileError, load_file, save_file
from graphsparse.metaprune.convert import graph_to_state_dict, to_graph
from graphsparse.metaprune.layout import NODE_TYPES
from graphsparse.metaprune.model import MetaNetwork
from graphsparse.topology.datasets import Dataset
from graphsparse.topology.training import dataset_to

__all__ = ["MetaTask", "group_norms_of_graph", "group_sparsity", "hidden_nodes", "polarisation", "meta_train",
           "load_train_state", "TRAIN_STATE_VERSION"]

TRAIN_STATE_VERSION = 1
_HIDDEN_TYPES = tuple(NODE_TYPES.index(t) for t in ("linear", "conv", "sum"))


@dataclass
class MetaTask:
    """One zoo network and its data: ``model`` (trained, any module :func:`to_graph` supports),
    ``data`` (its train/test split; ``x`` as the model takes it), ``name`` for logs."""

    name: str
    model: nn.Module
    data: Dataset


def hidden_nodes(graph: Data) -> torch.Tensor:
    """Boolean ``[N]``: nodes that are hidden neurons / channels (not inputs, not outputs)."""
    return torch.isin(graph.node_type, torch.tensor(_HIDDEN_TYPES, device=graph.node_type.device))


def group_norms_of_graph(graph: Data, state: dict[str, torch.Tensor] | None = None, *,
                         squared: bool = False) -> torch.Tensor:
    """L2 norm (``squared``: its square) of every node's parameter group, shape ``[N]``
    (differentiable).

    Group of node ``n``: the weights of all layer edges incident to ``n`` (in and out; identity
    edges of residual connections are not parameters), plus the bias and BatchNorm weight/bias of
    the layer(s) writing ``n``. ``state``: ``graph_to_state_dict(graph)`` if already computed.

    >>> from torch import nn
    >>> from graphsparse.metaprune import to_graph
    >>> net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU(), nn.Linear(2, 1, bias=False))
    >>> with torch.no_grad():
    ...     _ = net[0].weight.copy_(torch.tensor([[3., 0.], [0., 0.]]))
    ...     _ = net[2].weight.copy_(torch.tensor([[4., 1.]]))
    >>> group_norms_of_graph(to_graph(net)).tolist()    # inputs, hidden, output
    [3.0, 0.0, 5.0, 1.0, 4.123105525970459]
    """
    layout = graph.layout
    state = graph_to_state_dict(graph) if state is None else state
    sq = graph.x.new_zeros(graph.num_nodes)
    for layer in layout.layers:
        prefix = f"{layer.name}." if layer.name else ""
        w = state[prefix + "weight"]
        per_edge = w.pow(2).reshape(layer.edge_end - layer.edge_start, -1).sum(1)
        ends = graph.edge_index[:, layer.edge_start:layer.edge_end]
        sq = sq.index_add(0, ends[0], per_edge).index_add(0, ends[1], per_edge)
        extras = [state[prefix + "bias"]] if layer.has_bias else []
        if layer.norm is not None:
            q = f"{layer.norm}."
            extras += [state[q + f] for f in ("weight", "bias") if q + f in state]
        for t in extras:
            idx = torch.arange(layer.out_start, layer.out_start + layer.out_size, device=sq.device)
            sq = sq.index_add(0, idx, t.pow(2))
    return sq if squared else sq.clamp_min(0).sqrt()


def _hidden_groups(graph: Data) -> list[torch.Tensor]:
    """Node indices of each neuron group written by a layer, hidden nodes only, each group once
    (a residual sum written by two layers is one group)."""
    hidden = hidden_nodes(graph)
    ranges = dict.fromkeys((l.out_start, l.out_size) for l in graph.layout.layers)
    groups = []
    for start, size in ranges:
        idx = torch.arange(start, start + size, device=hidden.device)
        idx = idx[hidden[idx]]
        if len(idx):
            groups.append(idx)
    return groups


def group_sparsity(graph: Data, out: Data, state: dict[str, torch.Tensor], alpha: float) -> torch.Tensor:
    """DepGraph's regulariser ``1/2 Σ_layers Σ_n γ_n ||θ_n||²`` on ``out`` (see module docstring);
    ``graph`` gives the node types, ``state = graph_to_state_dict(out)``."""
    sq = group_norms_of_graph(out, state, squared=True)
    total = sq.new_zeros(())
    for idx in _hidden_groups(graph):
        g = sq[idx]
        with torch.no_grad():
            norm = g.clamp_min(0).sqrt()
            spread = norm.max() - norm.min()
            gamma = (alpha ** ((norm.max() - norm) / spread) if float(spread) > 0
                     else torch.ones_like(norm))
        total = total + 0.5 * (gamma * g).sum()
    return total


def polarisation(graph: Data, threshold: float = 0.1) -> float:
    """Share of hidden groups whose norm is below ``threshold`` × the largest norm of its layer.

    A fresh network has almost no such groups; a network whose group norms polarised (a set
    driven towards zero, the rest kept) has many, and structured pruning removes them cheaply.
    ``threshold`` in (0, 1).
    """
    check_fraction(threshold, "threshold", open_low=True)
    with torch.no_grad():
        norms = group_norms_of_graph(graph)
    small = total = 0
    for idx in _hidden_groups(graph):
        g = norms[idx]
        top = float(g.max())
        small += int((g < threshold * top).sum()) if top > 0 else len(g)
        total += len(g)
    if total == 0:
        raise ValueError("graph has no hidden neurons or channels")
    return small / total


def _folded_norms(model: nn.Module, layout, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with every eval-mode BatchNorm rewritten as the same affine map with constant
    statistics: ``γ (x − μ) / √(σ² + ε) + β = a x + b`` with ``a = γ / √(σ² + ε)``,
    ``b = β − μ a``, passed as weight ``a``, bias ``b``, mean 0 and variance ``1 − ε``. torch's
    batch_norm is not differentiable in the running statistics; this form is, exactly."""
    state = dict(state)
    for layer in layout.layers:
        if layer.norm is None:
            continue
        q = f"{layer.norm}."
        bn = model.get_submodule(layer.norm)
        mean, var = state[q + "running_mean"], state[q + "running_var"]
        gamma = state.get(q + "weight", torch.ones_like(mean))
        beta = state.get(q + "bias", torch.zeros_like(mean))
        a = gamma / torch.sqrt(var + bn.eps)
        state[q + "weight"], state[q + "bias"] = a, beta - mean * a
        state[q + "running_mean"] = torch.zeros_like(mean).detach()
        state[q + "running_var"] = torch.full_like(var, 1.0 - bn.eps).detach()
    return state


def _task_loss(task: MetaTask, graph: Data, out: Data, xb: torch.Tensor, yb: torch.Tensor,
               reg: float, alpha: float) -> tuple[torch.Tensor, float, float]:
    state = graph_to_state_dict(out)
    logits = torch.func.functional_call(task.model, _folded_norms(task.model, graph.layout, state),
                                        (xb,), strict=False)
    task_loss = F.cross_entropy(logits, yb)
    r = group_sparsity(graph, out, state, alpha)
    return task_loss + reg * r, float(task_loss.detach()), float(r.detach())


def _str_keys(optimizer_state: dict) -> dict:
    """An optimizer state_dict with its per-parameter keys as strings (the file format's dicts
    have string keys)."""
    return {**optimizer_state, "state": {str(k): v for k, v in optimizer_state["state"].items()}}


def _int_keys(optimizer_state: dict) -> dict:
    return {**optimizer_state, "state": {int(k): v for k, v in optimizer_state["state"].items()}}


def _on_cpu(obj):
    """``obj`` (tensors in nested dicts/lists/tuples) with every tensor copied to the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _on_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_on_cpu(v) for v in obj)
    return obj


def _save_state(path: Path, metanet: MetaNetwork, opt: torch.optim.Optimizer, step: int,
                gen: torch.Generator, history: list[dict], settings: dict) -> None:
    """Write the checkpoint with every tensor on the CPU, so it resumes on any device."""
    save_file(path, "metanet-train", {
        "config": metanet.config(), "settings": settings, "step": step,
        "state_dict": _on_cpu(metanet.state_dict()),
        "optimizer": _str_keys(_on_cpu(opt.state_dict())), "generator": gen.get_state(),
        "history": history},
        TRAIN_STATE_VERSION)


def meta_train(metanet: MetaNetwork, tasks: Sequence[MetaTask], *, steps: int, lr: float = 1e-3,
               reg: float = 1e-2, alpha: float = 16.0, batch_size: int = 128, seed: int = 0,
               checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 25,
               max_minutes: float | None = None, progress: bool = True,
               device: str | torch.device | None = None) -> list[dict]:
    """Train ``metanet`` in place on ``tasks`` (paper Sec. 3.2, loss ``L_task + reg · R``).

    Each step takes the next task of a seeded shuffled cycle, a minibatch of ``batch_size`` of
    its training examples, passes the task network through the metanetwork and steps AdamW on
    ``cross_entropy(theta'(x), y) + reg · R(theta')`` with DepGraph's polarising group regulariser
    ``R`` (module docstring; ``alpha`` ≥ 1 its α, groups of :func:`group_norms_of_graph`). The task networks run in eval mode (BatchNorm uses the running
    statistics the metanetwork outputs) and are never modified.

    Args:
        steps: total optimiser steps (≥ 1). lr: > 0. reg: group-sparsity weight ≥ 0.
        batch_size: ≥ 1. seed: task order and minibatches.
        checkpoint: file for resumable training (graphsparse format, kind ``metanet-train``):
            written atomically every ``checkpoint_every`` steps and at the end; if it exists, training
            resumes from it (its metanetwork config and settings must match, else ``ValueError``).
        max_minutes: stop (after checkpointing) once this much wall time has passed in this call.
        progress: show a tqdm progress bar over steps.
        device: move ``metanet`` there first, in place (``"auto"``, ``"cpu"``, ``"cuda"``,
            ``"cuda:N"`` or a ``torch.device``, see :func:`graphsparse.devices.resolve_device`);
            None keeps the metanetwork's current device. The task networks, their graphs and
            data run on that device too (each task network is moved there for the call and back
            to its own device afterwards; the data is copied). Checkpoints hold CPU tensors
            and are loaded back onto this device, so a run checkpointed on one device resumes
            on another. Task order and minibatches come from a CPU generator: they do not
            depend on the device.

    Raises:
        ValueError: an argument out of range (named), a ``device`` that is not available (the
            message lists the available ones), or a checkpoint of another run.

    Returns the history, one row per step: ``step``, ``task``, ``loss``, ``task_loss``, ``reg``
    (the value of ``R``), ``seconds`` (of this step).
    """
    from tqdm.auto import tqdm

    _check_meta_train_args(tasks, steps, lr, reg, alpha, batch_size, checkpoint_every)
    if device is not None:
        metanet.to(resolve_device(device))
    device = model_device(metanet)
    settings = {"lr": float(lr), "reg": float(reg), "alpha": float(alpha), "batch_size": batch_size, "seed": seed,
                "tasks": [t.name for t in tasks]}
    opt = torch.optim.AdamW(metanet.parameters(), lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    path = Path(checkpoint) if checkpoint is not None else None
    history, start_step = _resume(path, metanet, opt, gen, settings)
    graphs: dict[str, Data] = {}
    modes = {t.name: t.model.training for t in tasks}
    homes = {t.name: model_device(t.model) for t in tasks}
    moved: dict[int, Dataset] = {}      # each dataset copied to the device once
    for t in tasks:
        t.model.eval()
    began = time.perf_counter()
    order: list[int] = []
    try:
        run_tasks = []
        for t in tasks:
            t.model.to(device)
            if id(t.data) not in moved:
                moved[id(t.data)] = dataset_to(t.data, device)
            run_tasks.append(MetaTask(t.name, t.model, moved[id(t.data)]))
        bar = tqdm(range(start_step, steps), desc="meta-training", disable=not progress,
                   initial=start_step, total=steps)
        for step in bar:
            if not order:
                order = torch.randperm(len(tasks), generator=gen).tolist()
            task = run_tasks[order.pop()]
            history.append(_meta_step(metanet, opt, task, graphs, gen, step, batch_size, reg, alpha))
            bar.set_postfix(loss=f"{history[-1]['loss']:.3f}", reg=f"{history[-1]['reg']:.3f}")
            done = step + 1
            out_of_time = max_minutes is not None and time.perf_counter() - began > 60 * max_minutes
            if path is not None and (done % checkpoint_every == 0 or done == steps or out_of_time):
                _save_state(path, metanet, opt, done, gen, history, settings)
            if out_of_time:
                break
    finally:
        for t in tasks:
            t.model.to(homes[t.name])
            t.model.train(modes[t.name])
    metanet.eval()
    return history


def _check_meta_train_args(tasks: Sequence[MetaTask], steps: int, lr: float, reg: float, alpha: float,
                           batch_size: int, checkpoint_every: int) -> None:
    """Raise, naming the argument, if a :func:`meta_train` argument is out of range."""
    check_int(steps, "steps", low=1)
    check_float(lr, "lr", low=0.0, open_low=True)
    check_float(reg, "reg", low=0.0)
    check_int(batch_size, "batch_size", low=1)
    check_int(checkpoint_every, "checkpoint_every", low=1)
    if not tasks:
        raise ValueError("tasks must not be empty")
    check_float(alpha, "alpha", low=1.0)


def _resume(path: Path | None, metanet: MetaNetwork, opt: torch.optim.Optimizer, gen: torch.Generator,
            settings: dict) -> tuple[list[dict], int]:
    """``(history, step)`` of the checkpoint at ``path`` with the metanetwork, optimiser and
    generator restored from it; ``([], 0)`` when there is none. The file holds CPU tensors
    (loaded with ``map_location="cpu"``); ``load_state_dict`` copies them onto the
    metanetwork's device, and the optimiser state follows its parameters' device."""
    if path is None or not path.exists():
        return [], 0
    saved, _ = load_file(path, "metanet-train")
    if saved["config"] != metanet.config() or saved["settings"] != settings:
        raise ValueError(f"{str(path)!r} holds another meta-training run (metanetwork config or "
                         "settings differ); pass another checkpoint path")
    metanet.load_state_dict(saved["state_dict"])
    opt.load_state_dict(_int_keys(saved["optimizer"]))
    gen.set_state(saved["generator"])
    return list(saved["history"]), int(saved["step"])


def _meta_step(metanet: MetaNetwork, opt: torch.optim.Optimizer, task: MetaTask, graphs: dict[str, Data],
               gen: torch.Generator, step: int, batch_size: int, reg: float, alpha: float) -> dict:
    """One optimiser step on a minibatch of ``task``; returns the step's history row."""
    if task.name not in graphs:
        device = task.data.x_train.device
        graphs[task.name] = to_graph(task.model, task.data.x_train[:1]).to(device)
    graph = graphs[task.name]
    idx = torch.randint(len(task.data.y_train), (batch_size,), generator=gen)
    idx = idx.to(task.data.x_train.device)
    t0 = time.perf_counter()
    metanet.train()
    loss, task_loss, r = _task_loss(task, graph, metanet(graph), task.data.x_train[idx],
                                    task.data.y_train[idx], reg, alpha)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {"step": step + 1, "task": task.name, "loss": float(loss.detach()),
            "task_loss": task_loss, "reg": r, "seconds": time.perf_counter() - t0}


def load_train_state(path: str | os.PathLike, device: str | torch.device | None = None
                     ) -> tuple[MetaNetwork, dict]:
    """The metanetwork and ``{"step", "settings", "history"}`` of a meta-training checkpoint.

    Args:
        path: a checkpoint written by :func:`meta_train`.
        device: where the metanetwork goes (:func:`graphsparse.devices.resolve_device`
            spellings); None: the CPU, where the file's tensors are loaded.
    """
    target = resolve_device(device) if device is not None else torch.device("cpu")
    saved, _ = load_file(path, "metanet-train")
    try:
        metanet = MetaNetwork(**saved["config"])
        metanet.load_state_dict(saved["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise CorruptFileError(f"{str(path)!r}: not a meta-training checkpoint: {err}") from err
    return metanet.to(target), {k: saved[k] for k in ("step", "settings", "history")}
