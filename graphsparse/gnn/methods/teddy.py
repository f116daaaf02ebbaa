"""TEDDY (Seo, Yun, Yang, "TEDDY: Trimming Edges with Degree-based Discrimination strategY",
ICLR 2024): one-shot degree-based edge trimming, distillation from the dense model, weight
sparsity by projected gradient descent on the L0 ball.

Pipeline (the authors' ``main_teddy.py`` / ``pruning.py``):

1. **Dense pre-training.** Train the dense model on the full graph from θ₀; at its
   best-validation epoch it is the teacher (:func:`make_teacher`): node tasks, its logits of all
   nodes; link tasks, a :class:`LinkTeacher` (its node embeddings and pair decoder). Pass
   ``teacher`` to reuse it across levels.
2. **Edge trimming, one shot.** Score every undirected pair with
   :func:`~graphsparse.gnn.edges.scores.teddy_score` (the paper's degree-based score, Eq. 5) and
   keep the ``kept_count(U, s_g)`` highest-scoring non-loop pairs; self-loops are never pruned.
   The score is fixed, so masks at increasing targets are nested, as the reference code forces.
   Pruned edges are physically removed (mode ``"remove"``).
3. **Sparse training with distillation** from θ₀ (TEDDY retrains each level from scratch with
   the same seed): ``L = L_task + λ·L_dist`` (:class:`Distillation`). Node tasks, as the
   reference: ``L_dist = KL(softmax(z_teacher) ‖ softmax(z))`` summed over **all** ``N`` nodes
   and divided by ``N`` (``F.kl_div(log_softmax(out), softmax(teacher), size_average=False) /
   N``). Link tasks (an extension: the paper and its code distil node classifiers only): the
   outputs are per-pair logits of a binary decision, so ``L_dist`` is the binary KL
   :func:`binary_kl` ``KL(Bernoulli(σ(t)) ‖ Bernoulli(σ(s)))`` averaged over the step's scored
   pairs (positives and sampled negatives), teacher logit ``t``, student logit ``s`` — the node
   KL on the two-class distribution ``(1 − σ, σ)``, with the same λ, mean over outputs and
   temperature 1.
4. **Projected gradient descent onto the L0 ball** (:class:`L0Projection`): after **every**
   optimiser step the globally smallest-magnitude entries of the weight scope are zeroed so
   that exactly ``kept_count(P, s_θ)`` entries remain (the reference uses ``ceil(P·s_θ)``
   zeros; here the library rounding rule applies, so all methods agree on counts). No
   persistent mask: a zeroed weight can regrow if a step makes it large again. The ticket's
   weight masks are the support selected at the best-validation epoch.

Neuron granularity (``weight_granularity="neuron"``): the L0 projection keeps
``kept_count(U, s_θ)`` whole hidden units after every step — the units of largest mean ``|w|``
over their entries (:mod:`graphsparse.masks.neurons`) — and zeroes every slice of the others
(rows, biases, attention entries, next-layer columns); the ticket's masks are the units kept at
the best-validation epoch.

Scope: TEDDY counts every parameter (``weight_scope="all"``, default), biases and attention
vectors included. Tasks: node classification, link prediction and graph prediction (binary or
multiclass targets; the degree score runs on the disjoint union of the dataset's graphs, so every
edge is scored within its own graph and the kept edges are chosen globally, as UGS's graph-task
masks).

The distillation loss is TEDDY's (Seo et al., ICLR 2024, arXiv 2402.01261: ``L_task +
λ·KL(teacher ‖ student)``, λ = ``--lamb``, default 0.1), taken from the reference
``main_teddy.py`` (notes: ``shared/notes/glt.md`` §2.1 step 4); the paper's equation number was
not checked against the PDF.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphsparse.gnn.edges import teddy_score
from graphsparse.gnn.methods._common import (
    EdgeUnits,
    SearchResult,
    check_scope,
    check_targets,
    epoch_hooks,
    finish,
    initial_state,
    rewind,
    select_weights,
    weight_names,
    weight_units,
)
from graphsparse.gnn.methods.base import OneShotMethod, TrainConfig
from graphsparse.gnn.methods.dense import dense_outputs
from graphsparse.gnn.train import (
    EpochRecord,
    StepContext,
    TrainHooks,
    distributed,
    predict,
    train_model,
)
from graphsparse.masks import attach, kept_count, named_tensors

__all__ = ["Distillation", "GraphTeacher", "L0Projection", "LinkTeacher", "binary_kl",
           "make_teacher", "teddy", "teacher_logits"]

_TASKS = ("node", "link", "graph")


def binary_kl(teacher: Tensor, student: Tensor) -> Tensor:
    """``KL(Bernoulli(σ(t)) ‖ Bernoulli(σ(s)))`` per entry, in nats, from logits.

    With ``p = σ(t)``: ``p·(log σ(t) − log σ(s)) + (1 − p)·(log σ(−t) − log σ(−s))``, computed
    with ``logsigmoid`` (stable for large ``|logit|``) and clamped at 0 against rounding. It is
    the softmax KL of TEDDY's node distillation on the two-class logits ``(0, t)`` and ``(0, s)``.

    Args:
        teacher: teacher logits ``t``, any shape.
        student: student logits ``s``, the same shape (gradients flow to it).

    Returns:
        ``[...]`` the divergence of each entry (>= 0, 0 where ``s == t``).

    Example:
        >>> t = torch.tensor([0.0, 2.0])
        >>> binary_kl(t, t).tolist()
        [0.0, 0.0]
        >>> round(float(binary_kl(torch.tensor(0.0), torch.tensor(2.0))), 4)
        0.4338
    """
    if not isinstance(teacher, Tensor) or not isinstance(student, Tensor) \
            or teacher.shape != student.shape:
        raise ValueError(f"teacher and student must be logit tensors of one shape, got "
                         f"{tuple(getattr(teacher, 'shape', ()))} and "
                         f"{tuple(getattr(student, 'shape', ()))}")
    p = torch.sigmoid(teacher)
    kl = p * (F.logsigmoid(teacher) - F.logsigmoid(student)) \
        + (1 - p) * (F.logsigmoid(-teacher) - F.logsigmoid(-student))
    return kl.clamp_min(0.0)


class LinkTeacher:
    """A trained dense link model as TEDDY's teacher: its node embeddings (eval mode, full
    graph) and its pair decoder, frozen.

    Args:
        model: the trained link model (``decode(h, pairs)``); copied, eval mode, no gradients.
        embeddings: ``[N, D]`` its node embeddings (:func:`~graphsparse.gnn.train.predict`).
    """

    def __init__(self, model: nn.Module, embeddings: Tensor) -> None:
        if not callable(getattr(model, "decode", None)):
            raise ValueError("model must be a link model with decode(h, pairs) (build it with "
                             "build_model(..., task='link'))")
        if not isinstance(embeddings, Tensor) or embeddings.dim() != 2:
            raise ValueError("embeddings must be a [N, D] tensor of node embeddings")
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.embeddings = embeddings.detach()

    @torch.no_grad()
    def logits(self, pairs: Tensor) -> Tensor:
        """Teacher logits ``[P]`` of node pairs ``pairs`` ``[2, P]`` (on ``pairs``' device)."""
        self.model.to(pairs.device)
        self.embeddings = self.embeddings.to(pairs.device)
        return self.model.decode(self.embeddings, pairs)


class GraphTeacher:
    """A trained dense graph-prediction model's outputs as TEDDY's teacher.

    Args:
        logits: ``[G, T]`` the teacher's outputs for every graph of the dataset, in dataset order
            (:func:`~graphsparse.gnn.train.predict`); a batch looks its graphs up by ``g_id``.
        target: the dataset's target kind, ``"binary"`` (``T`` independent binary logits,
            distilled with :func:`binary_kl`) or ``"multiclass"`` (``T`` class logits, softmax
            KL); regression targets have no distribution to distil and raise.
    """

    def __init__(self, logits: Tensor, target: str) -> None:
        if target not in ("binary", "multiclass"):
            raise ValueError(f"TEDDY distils binary or multiclass graph targets, got {target!r} "
                             "(a regression output has no distribution to match)")
        if not isinstance(logits, Tensor) or logits.dim() != 2:
            raise ValueError("logits must be a [G, T] tensor of per-graph outputs")
        self.logits, self.target = logits.detach(), target


class Distillation(TrainHooks):
    """TEDDY's distillation term ``λ·L_dist`` (see the module documentation).

    Node tasks: ``KL(softmax(z_T) ‖ softmax(z_S))`` summed over all ``N`` nodes, divided by
    ``N``. Link tasks: :func:`binary_kl` of the teacher's and the student's logits of the step's
    scored pairs ``ctx.inputs["pairs"]`` (``[2, P]``), averaged over the ``P`` pairs. Graph
    tasks (an extension, like link tasks): the batch's graphs, looked up by ``g_id`` — binary
    targets: :func:`binary_kl` averaged over the ``B × T`` outputs; multiclass: the softmax KL
    summed over the ``B`` graphs, divided by ``B``.

    Args:
        teacher: node tasks: teacher logits ``[N, C]`` of every node; link tasks: a
            :class:`LinkTeacher`; graph tasks: a :class:`GraphTeacher` (all from
            :func:`make_teacher`).
        lamb: λ >= 0 (TEDDY default 0.1).

    Attributes:
        task: ``"node"``, ``"link"`` or ``"graph"``, from the teacher's type.
    """

    def __init__(self, teacher: Tensor | LinkTeacher | GraphTeacher, lamb: float = 0.1) -> None:
        if isinstance(teacher, LinkTeacher):
            self.task, self.teacher = "link", teacher
        elif isinstance(teacher, GraphTeacher):
            self.task, self.teacher = "graph", teacher
        elif isinstance(teacher, Tensor) and teacher.dim() == 2:
            self.task = "node"
            self.target = F.softmax(teacher.detach().float(), dim=-1)
        else:
            raise ValueError("teacher must be a [N, C] tensor of node logits (node tasks), a "
                             "LinkTeacher (link tasks) or a GraphTeacher (graph tasks), got "
                             f"{type(teacher).__name__}")
        if isinstance(lamb, bool) or not isinstance(lamb, (int, float)) or lamb < 0:
            raise ValueError(f"lamb must be a number >= 0, got {lamb!r}")
        self.lamb = float(lamb)

    def extra_loss(self, ctx: StepContext) -> Tensor:
        if ctx.task != self.task:
            raise ValueError(f"the distillation teacher is for {self.task} tasks but the step's "
                             f"task is {ctx.task!r}")
        dist = {"node": self._node, "link": self._link, "graph": self._graph}[self.task](ctx)
        return self.lamb * dist

    def _node(self, ctx: StepContext) -> Tensor:
        """Σ over nodes of the softmax KL, divided by ``N`` (a mini-batch: over its seed nodes
        ``ctx.inputs["seeds"]``, divided by their number)."""
        seeds = ctx.inputs.get("seeds")
        target = self.target if seeds is None else self.target[seeds.to(self.target.device)]
        if tuple(ctx.out.shape) != tuple(target.shape):
            raise ValueError(f"teacher logits have shape {tuple(target.shape)} but the "
                             f"student's are {tuple(ctx.out.shape)}")
        target = target.to(ctx.out.device)
        kl = F.kl_div(F.log_softmax(ctx.out, dim=-1), target, reduction="sum")
        return kl / ctx.out.size(0)

    def _link(self, ctx: StepContext) -> Tensor:
        """Mean over the step's scored pairs of the binary KL."""
        teacher = self.teacher.logits(ctx.inputs["pairs"]).to(ctx.out.dtype)
        return binary_kl(teacher, ctx.out).mean()

    def _graph(self, ctx: StepContext) -> Tensor:
        """The batch's graphs: mean binary KL over outputs, or softmax KL summed over graphs
        divided by the batch size."""
        ids = ctx.inputs["batch"].g_id.view(-1)
        teacher = self.teacher.logits.to(ctx.out.device)[ids].to(ctx.out.dtype)
        if tuple(teacher.shape) != tuple(ctx.out.shape):
            raise ValueError(f"teacher outputs of the batch have shape {tuple(teacher.shape)} "
                             f"but the student's are {tuple(ctx.out.shape)}")
        if self.teacher.target == "binary":
            return binary_kl(teacher, ctx.out).mean()
        kl = F.kl_div(F.log_softmax(ctx.out, dim=-1), F.softmax(teacher, dim=-1),
                      reduction="sum")
        return kl / ctx.out.size(0)


class L0Projection(TrainHooks):
    """Projected gradient descent onto the L0 ball: after every optimiser step keep exactly
    ``kept_count(P, sparsity)`` entries of the weight scope — the largest ``|w|``, globally,
    with the library's tie rule — and zero the rest in place.

    Args:
        model: the (unmasked) model being trained; its scope tensors are edited in place.
        sparsity: target in ``[0, 1)``.
        scope: ``"all"`` (TEDDY) or ``"linear"``.
        units: the model's :class:`~graphsparse.masks.HiddenUnits` to keep whole units
            (neuron granularity; the scope then also covers the units' tensors), or None.

    Attributes:
        last_mask: ``{name: BoolTensor}`` of the latest projection (None before the first).
        steps: number of projections made.
    """

    def __init__(self, model: nn.Module, sparsity: float, scope: str = "all",
                 units: Any = None) -> None:
        self.units = units
        self.names = weight_names(model, scope, units)
        self.sparsity = float(sparsity)
        kept_count(1, self.sparsity)  # validates the range
        self.last_mask: dict[str, Tensor] | None = None
        self.steps = 0

    @torch.no_grad()
    def project(self, model: nn.Module) -> dict[str, Tensor]:
        """Project ``model``'s scope onto the L0 ball now; returns the kept support."""
        tensors = named_tensors(model, lambda name, owner, t: name in self.names)
        mask = select_weights({n: tensors[n].abs() for n in self.names}, self.sparsity,
                              units=self.units)
        for name in self.names:
            tensors[name].mul_(mask[name])
        self.last_mask, self.steps = mask, self.steps + 1
        return mask

    def after_step(self, ctx: StepContext) -> None:
        if self.sparsity > 0:
            self.project(ctx.model)


def _check_task(dataset: Any) -> None:
    if getattr(dataset, "task", None) not in _TASKS:
        raise ValueError(f"TEDDY is implemented for node, link and graph tasks "
                         f"(distillation on the teacher's outputs); got dataset task "
                         f"{getattr(dataset, 'task', None)!r}")


def make_teacher(trained: nn.Module, dataset: Any,
                 outputs: Tensor | None = None) -> Tensor | LinkTeacher | GraphTeacher:
    """The distillation teacher of a trained dense model: node tasks, its logits ``[N, C]`` of
    every node; link tasks, a :class:`LinkTeacher` (embeddings ``[N, D]`` + decoder); graph
    tasks, a :class:`GraphTeacher` (outputs ``[G, T]`` of every graph).

    ``outputs``: the model's :func:`~graphsparse.gnn.train.predict` outputs when already at
    hand (e.g. cached with the dense run, :func:`~graphsparse.gnn.methods.dense.dense_outputs`);
    computed when None."""
    _check_task(dataset)
    if outputs is None:
        outputs = predict(trained, dataset)
    distributed.check_agreement([outputs], "TEDDY's teacher outputs")
    if dataset.task == "graph":
        return GraphTeacher(outputs, dataset.target)
    return outputs if dataset.task == "node" else LinkTeacher(trained, outputs)


def teacher_logits(model: nn.Module, dataset: Any, *, epochs: int, lr: float,
                   weight_decay: float, seed: int, progress: bool = False,
                   on_epoch: Callable[[EpochRecord], None] | None = None
                   ) -> tuple[Tensor | LinkTeacher | GraphTeacher, Any]:
    """TEDDY step 1: train a copy of ``model`` densely; return its teacher at the
    best-validation epoch (:func:`make_teacher`) and the
    :class:`~graphsparse.gnn.train.TrainResult`."""
    _check_task(dataset)
    dense = copy.deepcopy(model)
    result = train_model(dense, dataset, epochs=epochs, lr=lr, weight_decay=weight_decay,
                         seed=seed, progress=progress, desc="TEDDY dense",
                         hooks=epoch_hooks(on_epoch))
    return make_teacher(dense, dataset), result


def teddy(model: nn.Module, dataset: Any, *, graph_targets: list[float],
          weight_targets: list[float], weight_scope: str = "all", epochs: int = 200,
          lr: float = 0.01, weight_decay: float = 5e-4, lamb: float = 0.1, seed: int = 0,
          teacher: Tensor | LinkTeacher | GraphTeacher | None = None, progress: bool = False,
          hooks: tuple[TrainHooks, ...] = (),
          on_epoch: Callable[[EpochRecord], None] | None = None,
          weight_granularity: str = "unstructured") -> SearchResult:
    """Find a ticket with TEDDY (see the module documentation). One-shot: only the last entry
    of ``graph_targets``/``weight_targets`` is used.

    Args:
        model: an unmasked node-classification, link-prediction or graph-prediction model (not
            modified).
        dataset: a LoadedDataset with ``task`` ``"node"``, ``"link"`` or ``"graph"`` and
            undirected (message-passing) graphs.
        graph_targets, weight_targets: sparsity schedules; the last entries are the targets.
        weight_scope: ``"all"`` (TEDDY's count, default) or ``"linear"``.
        epochs: epochs of the dense pre-training and of the sparse training (TEDDY: 200).
        lr, weight_decay: Adam (TEDDY: 0.01 / 5e-4).
        lamb: distillation weight λ (TEDDY default 0.1).
        seed: seeds both training runs.
        teacher: a precomputed teacher (:func:`make_teacher`: logits ``[N, C]`` for node
            tasks, a :class:`LinkTeacher` for link tasks, a :class:`GraphTeacher` for graph
            tasks; skips the dense pre-training).
        hooks: extra :class:`TrainHooks` run after the projection (e.g. to inspect steps).
        on_epoch: called with every epoch's :class:`~graphsparse.gnn.train.EpochRecord`.
        weight_granularity: ``"unstructured"`` (default) or ``"neuron"`` (whole hidden units,
            see the module documentation).

    Returns:
        :class:`~graphsparse.gnn.methods._common.SearchResult`; ``search_epochs`` counts the
        dense pre-training (unless ``teacher`` was given) and the sparse training.
    """
    started = time.perf_counter()
    graph_targets, weight_targets = check_targets(graph_targets, weight_targets)
    scope = check_scope(weight_scope)
    hidden = weight_units(model, weight_granularity)
    _check_task(dataset)
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
                                        progress=progress, on_epoch=on_epoch)
        epochs_run += dense.epochs
        stages.append({"stage": "dense", "val": dense.val, "test": dense.test,
                       "best_epoch": dense.best_epoch, "epochs": dense.epochs})
    distillation = Distillation(teacher, lamb)
    if distillation.task != dataset.task:
        raise ValueError(f"teacher is a {distillation.task}-task teacher but the dataset's task "
                         f"is {dataset.task!r}")
    s_g, s_w = graph_targets[-1], weight_targets[-1]
    scores = teddy_score(units.graph.edge_index, units.graph.num_nodes)
    edge_keep = units.select(scores, s_g)
    student = copy.deepcopy(model)
    rewind(student, theta0)
    projection = L0Projection(student, s_w, scope, hidden)
    result = train_model(student, dataset, epochs=epochs, lr=lr, weight_decay=weight_decay,
                         edge_mask=units.expand(edge_keep), mode="remove",
                         hooks=(distillation, projection, *hooks, *epoch_hooks(on_epoch)),
                         seed=seed,
                         progress=progress, desc="TEDDY sparse")
    epochs_run += result.epochs
    names = weight_names(student, scope, hidden)
    weights = named_tensors(student, "all")
    weight_masks = select_weights({n: weights[n].abs() for n in names}, s_w, units=hidden)
    attach(student, weight_masks)
    stages.append({"stage": "sparse", "graph_target": s_g, "weight_target": s_w,
                   "edges_kept": units.kept_count(edge_keep),
                   "weights_kept": int(sum(int(m.sum()) for m in weight_masks.values())),
                   "val": result.val, "test": result.test, "best_epoch": result.best_epoch,
                   "epochs": result.epochs, "projections": projection.steps})
    return finish(student, dataset, units, edge_keep, weight_masks, theta0, result, scope,
                  epochs_run, time.perf_counter() - started, stages, hidden)


class TeddyMethod(OneShotMethod):
    """TEDDY behind :meth:`~graphsparse.gnn.methods.base.Method.search`: its teacher is the
    seed's dense run (:func:`~graphsparse.gnn.methods.dense.dense_outputs`: trained once and
    cached in ``checkpoint_dir`` with its outputs, so further levels and a resumed sweep neither
    train nor evaluate it again), whose epochs and seconds count in every level's search."""

    uses_dense_run = True

    def run_point(self, model: nn.Module, dataset: Any, graph_targets: list[float],
                  weight_targets: list[float], scope: str, train_config: TrainConfig,
                  options: dict[str, Any], on_epoch: Callable[[EpochRecord], None] | None,
                  checkpoint_dir: Any) -> SearchResult:
        if "teacher" in options:
            return super().run_point(model, dataset, graph_targets, weight_targets, scope,
                                     train_config, options, on_epoch, checkpoint_dir)
        _check_task(dataset)
        trained, dense, outputs = dense_outputs(model, dataset, train_config, on_epoch=on_epoch,
                                                checkpoint_dir=checkpoint_dir)
        teacher = make_teacher(trained, dataset, outputs)
        result = super().run_point(model, dataset, graph_targets, weight_targets, scope,
                                   train_config, {**options, "teacher": teacher},
                                   on_epoch, checkpoint_dir)
        result.search_epochs += dense.epochs
        result.search_seconds += dense.seconds
        return result
