"""TEDDY (Seo, Yun, Yang, "TEDDY: Trimming Edges with Degree-based Discrimination strategY",
ICLR 2024): one-shot degree-based edge trimming, distillation from the dense model, weight
sparsity by projected gradient descent on the L0 ball.

Pipeline (the authors' ``main_teddy.py`` / ``pruning.py``):

1. **Dense pre-training.** Train the dense model on the full graph from θ₀; its logits of all
   nodes at the best-validation epoch are the teacher (pass ``teacher_logits`` to reuse them
   across levels).
2. **Edge trimming, one shot.** Score every undirected pair with
   :func:`~graphsparse.gnn.scores.teddy_score` (the paper's degree-based score, Eq. 5) and keep
   the ``kept_count(U, s_g)`` highest-scoring non-loop pairs; self-loops are never pruned. The
   score is fixed, so masks at increasing targets are nested, as the reference code forces.
   Pruned edges are physically removed (mode ``"remove"``).
3. **Sparse training with distillation** from θ₀ (TEDDY retrains each level from scratch with
   the same seed): ``L = CE(train nodes) + λ·KL(softmax(z_teacher) ‖ softmax(z))``, the KL summed
   over **all** ``N`` nodes and divided by ``N`` (:class:`Distillation`, the reference
   ``F.kl_div(log_softmax(out), softmax(teacher), size_average=False) / N``).
4. **Projected gradient descent onto the L0 ball** (:class:`L0Projection`): after **every**
   optimiser step the globally smallest-magnitude entries of the weight scope are zeroed so
   that exactly ``kept_count(P, s_θ)`` entries remain (the reference uses ``ceil(P·s_θ)``
   zeros; here the library rounding rule applies, so all methods agree on counts). No
   persistent mask: a zeroed weight can regrow if a step makes it large again. The ticket's
   weight masks are the support selected at the best-validation epoch.

Scope: TEDDY counts every parameter (``weight_scope="all"``, default), biases and attention
vectors included. Tasks: node classification only — the distillation target is the teacher's
node logits; link and graph tasks raise ``ValueError``.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphsparse import masks as M
from graphsparse.gnn.methods._common import (
    EdgeUnits,
    SearchResult,
    check_scope,
    check_targets,
    finish,
    initial_state,
    rewind,
    scope_names,
    select_weights,
)
from graphsparse.gnn.scores import teddy_score
from graphsparse.gnn.train import StepContext, TrainHooks, predict, train_model

__all__ = ["Distillation", "L0Projection", "teddy", "teacher_logits"]


class Distillation(TrainHooks):
    """TEDDY's distillation term ``λ·KL(softmax(z_T) ‖ softmax(z_S))``, summed over all ``N``
    nodes and divided by ``N`` (node tasks).

    Args:
        teacher: teacher logits ``[N, C]`` of every node (e.g. :func:`teacher_logits`).
        lamb: λ >= 0 (TEDDY default 0.1).
    """

    def __init__(self, teacher: Tensor, lamb: float = 0.1) -> None:
        if not isinstance(teacher, Tensor) or teacher.dim() != 2:
            raise ValueError("teacher must be a [N, C] tensor of logits")
        if isinstance(lamb, bool) or not isinstance(lamb, (int, float)) or lamb < 0:
            raise ValueError(f"lamb must be a number >= 0, got {lamb!r}")
        self.target = F.softmax(teacher.detach().float(), dim=-1)
        self.lamb = float(lamb)

    def extra_loss(self, ctx: StepContext) -> Tensor:
        if ctx.task != "node":
            raise ValueError(f"TEDDY's distillation is implemented for node tasks, got task "
                             f"{ctx.task!r}")
        if tuple(ctx.out.shape) != tuple(self.target.shape):
            raise ValueError(f"teacher logits have shape {tuple(self.target.shape)} but the "
                             f"student's are {tuple(ctx.out.shape)}")
        target = self.target.to(ctx.out.device)
        kl = F.kl_div(F.log_softmax(ctx.out, dim=-1), target, reduction="sum")
        return self.lamb * kl / ctx.out.size(0)


class L0Projection(TrainHooks):
    """Projected gradient descent onto the L0 ball: after every optimiser step keep exactly
    ``kept_count(P, sparsity)`` entries of the weight scope — the largest ``|w|``, globally,
    with the library's tie rule — and zero the rest in place.

    Args:
        model: the (unmasked) model being trained; its scope tensors are edited in place.
        sparsity: target in ``[0, 1)``.
        scope: ``"all"`` (TEDDY) or ``"linear"``.

    Attributes:
        last_mask: ``{name: BoolTensor}`` of the latest projection (None before the first).
        steps: number of projections made.
    """

    def __init__(self, model: nn.Module, sparsity: float, scope: str = "all") -> None:
        self.names = scope_names(model, scope)
        self.sparsity = float(sparsity)
        M.kept_count(1, self.sparsity)  # validates the range
        self.last_mask: dict[str, Tensor] | None = None
        self.steps = 0

    @torch.no_grad()
    def project(self, model: nn.Module) -> dict[str, Tensor]:
        """Project ``model``'s scope onto the L0 ball now; returns the kept support."""
        tensors = M.named_tensors(model, lambda name, owner, t: name in self.names)
        mask = select_weights({n: tensors[n].abs() for n in self.names}, self.sparsity)
        for name in self.names:
            tensors[name].mul_(mask[name])
        self.last_mask, self.steps = mask, self.steps + 1
        return mask

    def after_step(self, ctx: StepContext) -> None:
        if self.sparsity > 0:
            self.project(ctx.model)


def teacher_logits(model: nn.Module, dataset: Any, *, epochs: int, lr: float,
                   weight_decay: float, seed: int, progress: bool = False) -> tuple[Tensor, Any]:
    """TEDDY step 1: train a copy of ``model`` densely; return its logits ``[N, C]`` at the
    best-validation epoch and the :class:`~graphsparse.gnn.train.TrainResult`."""
    if dataset.task != "node":
        raise ValueError(f"TEDDY is implemented for node classification (distillation on the "
                         f"teacher's node logits); got task {dataset.task!r}")
    dense = copy.deepcopy(model)
    result = train_model(dense, dataset, epochs=epochs, lr=lr, weight_decay=weight_decay,
                         seed=seed, progress=progress, desc="TEDDY dense")
    return predict(dense, dataset), result


def teddy(model: nn.Module, dataset: Any, *, graph_targets: list[float],
          weight_targets: list[float], weight_scope: str = "all", epochs: int = 200,
          lr: float = 0.01, weight_decay: float = 5e-4, lamb: float = 0.1, seed: int = 0,
          teacher: Tensor | None = None, progress: bool = False,
          hooks: tuple[TrainHooks, ...] = ()) -> SearchResult:
    """Find a ticket with TEDDY (see the module documentation). One-shot: only the last entry
    of ``graph_targets``/``weight_targets`` is used.

    Args:
        model: an unmasked node-classification model (not modified).
        dataset: a LoadedDataset with ``task == "node"`` and an undirected graph.
        graph_targets, weight_targets: sparsity schedules; the last entries are the targets.
        weight_scope: ``"all"`` (TEDDY's count, default) or ``"linear"``.
        epochs: epochs of the dense pre-training and of the sparse training (TEDDY: 200).
        lr, weight_decay: Adam (TEDDY: 0.01 / 5e-4).
        lamb: distillation weight λ (TEDDY default 0.1).
        seed: seeds both training runs.
        teacher: precomputed teacher logits ``[N, C]`` (skips the dense pre-training).
        hooks: extra :class:`TrainHooks` run after the projection (e.g. to inspect steps).

    Returns:
        :class:`~graphsparse.gnn.methods._common.SearchResult`; ``search_epochs`` counts the
        dense pre-training (unless ``teacher`` was given) and the sparse training.
    """
    started = time.perf_counter()
    graph_targets, weight_targets = check_targets(graph_targets, weight_targets)
    scope = check_scope(weight_scope)
    if dataset.task != "node":
        raise ValueError(f"TEDDY is implemented for node classification (distillation on the "
                         f"teacher's node logits); got task {dataset.task!r}")
    units = EdgeUnits(dataset)
    if units.graph.directed:
        raise ValueError("TEDDY's degree score needs an undirected graph (both directions of "
                         "every edge); make it undirected first (torch_geometric.utils."
                         "to_undirected)")
    theta0 = initial_state(model)
    epochs_run = 0
    stages: list[dict[str, Any]] = []
    if teacher is None:
        teacher, dense = teacher_logits(model, dataset, epochs=epochs, lr=lr,
                                        weight_decay=weight_decay, seed=seed,
                                        progress=progress)
        epochs_run += dense.epochs
        stages.append({"stage": "dense", "val": dense.val, "test": dense.test,
                       "best_epoch": dense.best_epoch, "epochs": dense.epochs})
    s_g, s_w = graph_targets[-1], weight_targets[-1]
    scores = teddy_score(units.graph.edge_index, units.graph.num_nodes)
    edge_keep = units.select(scores, s_g)
    student = copy.deepcopy(model)
    rewind(student, theta0)
    projection = L0Projection(student, s_w, scope)
    result = train_model(student, dataset, epochs=epochs, lr=lr, weight_decay=weight_decay,
                         edge_mask=units.expand(edge_keep), mode="remove",
                         hooks=(Distillation(teacher, lamb), projection, *hooks), seed=seed,
                         progress=progress, desc="TEDDY sparse")
    epochs_run += result.epochs
    names = scope_names(student, scope)
    weights = M.named_tensors(student, scope)
    weight_masks = select_weights({n: weights[n].abs() for n in names}, s_w)
    M.attach(student, weight_masks)
    stages.append({"stage": "sparse", "graph_target": s_g, "weight_target": s_w,
                   "edges_kept": units.kept_count(edge_keep),
                   "weights_kept": int(sum(int(m.sum()) for m in weight_masks.values())),
                   "val": result.val, "test": result.test, "best_epoch": result.best_epoch,
                   "epochs": result.epochs, "projections": projection.steps})
    return finish(student, dataset, units, edge_keep, weight_masks, theta0, result, scope,
                  epochs_run, time.perf_counter() - started, stages)
