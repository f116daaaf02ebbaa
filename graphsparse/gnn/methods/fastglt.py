"""FastGLT (Yue, Zhang, Yang, Cheng, "Fast Track to Winning Tickets: Repowering One-Shot Pruning
for Graph Neural Networks", AAAI 2025, arXiv 2412.07605): one-shot pruning, then a denoising
phase that prunes and regrows edges and weights (RigL style), then retraining from θ₀.

The steps follow the authors' code (``yanweiyue/FastGLT``, folder ``FastGLT_gcn``; citations
are ``file:line`` there; the paper's equation numbers were not checked against the PDF, so none
are given):

1. **Pre-training** (``pretrain_epochs``, default 30, ``args.py:13``): the dense model and a
   trainable soft edge mask initialised to ones (``net.py:55``) are trained together, the mask
   in ``mode`` (default ``"message"``: the reference multiplies each message by its mask entry,
   ``net.py:9,58-60``).
2. **One-shot pruning** (``pruning.py:110`` → ``fine_tuning_sparsity``, ``pruning.py:287-312``):
   the weights of the scope keep the largest ``|w|``; the edge units keep the largest trained
   ``|m|`` (``edge_score="magnitude"``), or the top units of a structural score
   (``edge_score`` one of :data:`~graphsparse.gnn.edges.EDGE_SCORES`, e.g. ``"teddy"``, so
   FastGLT starts from TEDDY's degree-based trim; ``"random"`` matches the reference's
   ``pretrain_epoch=0`` branch, ``random_sparsify``, ``pruning.py:108``).
3. **Denoising** (``denoise_epochs``, default 400, the reference ``total_epoch``,
   ``args.py:12``): training goes on with the masks enforced — pruned weights and mask values
   held at 0 after every step and their gradients zeroed (``pruning.py:35,42-46,252,261``) —
   and every ``update_interval`` epochs (δ, default 3, ``args.py:36``; ``pruning.py:188``)
   :func:`swap_masks` drops the ``k`` kept entries of lowest ``|w|`` (edges: ``|m|``) and
   regrows the ``k`` pruned entries of highest score (``pruning.py:352-408``), with
   ``k = floor(kept · f(t))``, ``f(t) = α/2 · (1 + cos(π t / T))`` (RigL's cosine decay,
   ``pruning.py:327-328,357-358``; α = ``regrow_fraction``, default 0.3, ``args.py:40``;
   ``T = denoise_epochs``). Grow scores: weights, ``|ḡ|`` (``pruning.py:351``); edges,
   ``|ḡ| + (d_u d_v)^{-3/2}`` with ``d`` the degrees of the current kept graph plus the
   self-loop (:func:`degree_grow_score`; ``pruning.py:348-349`` and ``utils.py``
   ``compute_edge_score_from_edge_index``). ``ḡ`` is the dense gradient averaged over the last
   ``accumulation_epochs`` epochs before the update (default 2, ``args.py:38``;
   ``pruning.py:28-34,321-324``). A regrown weight starts at 0 (``pruning.py:395``), a regrown
   mask entry at the mean of the kept entries (``pruning.py:397``). An L1 term
   ``edge_l1 · ‖m‖₁`` on the mask is added during denoising (reference: ``1e-4 · sign(m)``
   added to the mask's gradient, ``main.py:100``; here as an extra loss, :class:`UGSPenalty`).
   The masks of the best-validation epoch are the ticket's (``main.py:124-133``).
4. **Retraining**: the ticket ``θ₀ ⊙ m_θ`` with the kept edges physically removed is trained
   from θ₀ (``main.py:58,82-83``) for ``epochs`` (reference ``retrain_epoch`` 200,
   ``args.py:14``) and reported.

Exact counts: after the one-shot pruning and after every swap, exactly ``kept_count(U, s_g)``
non-loop edge units and ``kept_count(P, s_θ)`` weights of the scope are kept (a swap drops
``k`` kept entries and regrows ``k`` of the entries pruned before it).

Neuron granularity (``weight_granularity="neuron"``): the one-shot pruning keeps
``kept_count(U, s_θ)`` whole hidden units by mean ``|w|`` after pre-training
(:mod:`graphsparse.masks.neurons`), and **denoising swaps edges only**; the kept units stay
fixed. A removed unit has both its incoming row and its outgoing column at zero, so its dense
gradient is identically zero (``∂L/∂W_j = δ_j·x`` with ``δ_j = 0`` through the zero column,
``∂L/∂W'_{:,j} = δ'·h_j`` with ``h_j = 0``): FastGLT's gradient grow score cannot rank removed
units, and a unit regrown at zero (the reference's regrowth value) would stay dead.

Deviations, on purpose:

* edge units are tied undirected pairs over edge ids, self-loops never pruned (the reference
  prunes each direction and the self-loops of a DGL graph separately); the degree term adds 1
  per node for its self-loop instead of the reference's fill values for isolated nodes;
* weights are selected globally over the scope (the reference gives every layer the same
  sparsity, ``pruning.py:99``), weight and graph targets are separate (one ``remain`` there);
* a swap regrows only among the entries pruned before it (the reference may regrow an entry
  dropped in the same step, which then is no swap at all); ties follow the library's rule
  (no ``U(-1e-4, 1e-4)`` noise on the mask, ``main.py:71``);
* the schedule counts epochs (= optimiser steps in full batch, as the reference) and the swap
  runs after the epoch's optimiser step and evaluation (the reference swaps instead of that
  step); pre-training and denoising are two runs, so Adam's state restarts between them;
* the mask's diversity and log-variance losses (``main.py:93-94``) are left out, as are the
  warm-up (``beta``/``warmup_steps``, defaults 1/0: off, ``args.py:45,47``) and the static
  topology option; soft mask values are kept in ``[0, 1]`` (the library's soft-mask rule);
* the ticket is retrained with frozen binary masks (the reference keeps training the soft
  edge mask, reset to ones, in its retraining).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from graphsparse.checks import check_choice, check_float, check_int
from graphsparse.gnn.edges import EDGE_SCORES, TrainableEdgeMask
from graphsparse.gnn.methods._common import (
    EdgeUnits,
    SearchResult,
    check_scope,
    check_targets,
    epoch_hooks,
    finish,
    initial_state,
    select_weights,
    train_ticket,
    weight_names,
    weight_units,
)
from graphsparse.gnn.methods.baselines import unit_scores
from graphsparse.gnn.methods.ugs import UGSPenalty
from graphsparse.gnn.train import EpochRecord, StepContext, TrainHooks, train_model
from graphsparse.masks import drop_lowest, grow_highest, named_tensors

__all__ = ["FastGLTDenoiser", "cosine_fraction", "degree_grow_score", "fastglt",
           "swap_masks"]

#: Edge scores of the one-shot pruning: the trained mask's magnitude or a structural score.
FASTGLT_EDGE_SCORES = ("magnitude", *EDGE_SCORES)


def cosine_fraction(alpha: float, epoch: int, total: int) -> float:
    """RigL's cosine-decayed swap fraction ``α/2 · (1 + cos(π·epoch/total))``.

    >>> cosine_fraction(0.3, 0, 10), cosine_fraction(0.3, 10, 10)
    (0.3, 0.0)
    """
    return alpha / 2 * (1 + math.cos(math.pi * epoch / total))


def swap_count(kept: Tensor, fraction: float) -> int:
    """Entries a swap moves: ``floor(kept · fraction)``, at most the pruned entries."""
    n_kept = int(kept.sum())
    return min(math.floor(n_kept * fraction), kept.numel() - n_kept)


def swap_masks(kept: Tensor, drop_scores: Tensor, grow_scores: Tensor, count: int) -> Tensor:
    """One prune-and-regrow step: drop the ``count`` kept entries with the lowest
    ``drop_scores`` and regrow the ``count`` entries pruned before the step with the highest
    ``grow_scores`` (ties: the library's rule). The kept count does not change.

    Args:
        kept: ``BoolTensor`` (True = kept).
        drop_scores, grow_scores: scores of ``kept``'s shape (e.g. ``|w|`` and ``|grad|``).
        count: entries to move, at most the kept and the pruned entries.

    >>> kept = torch.tensor([True, True, False, False])
    >>> swap_masks(kept, torch.tensor([0.9, 0.1, 0., 0.]), torch.tensor([0., 0., 0.2, 0.7]),
    ...            1).tolist()
    [True, False, False, True]
    """
    grown = grow_highest(kept, grow_scores, count) & ~kept
    return drop_lowest(kept, drop_scores, count) | grown


def degree_grow_score(units: EdgeUnits, keep: Tensor) -> Tensor:
    """FastGLT's degree term of the edge grow score, ``(d_u · d_v)^{-3/2}`` per unit ``[U]``,
    with ``d`` one (the self-loop) plus each node's kept non-loop units."""
    pairs = units.tied.pairs.cpu()
    real = keep.cpu() & units.prunable
    deg = torch.ones(units.graph.num_nodes, dtype=torch.float64)
    one = torch.ones(int(real.sum()), dtype=torch.float64)
    deg.index_add_(0, pairs[0, real], one).index_add_(0, pairs[1, real], one)
    return (deg[pairs[0]] * deg[pairs[1]]).pow(-1.5)


def _flat(tensors: dict[str, Tensor], names: list[str]) -> Tensor:
    """The tensors ``names`` flattened and concatenated in order, on the CPU."""
    return torch.cat([tensors[n].detach().reshape(-1).cpu() for n in names])


class FastGLTDenoiser(TrainHooks):
    """FastGLT's denoising phase (step 3 of the module documentation) as train hooks.

    Holds the masks of an unmasked model being trained with a :class:`TrainableEdgeMask` whose
    ``kept`` stays all True (so pruned units get their dense gradient): after every step it
    zeroes the pruned weights and mask values, after every backward it accumulates the
    gradients it needs and zeroes those of pruned entries, and at the end of every
    ``interval``-th epoch up to ``total`` it swaps (:func:`swap_masks`).

    Args:
        model: the trained (unmasked) model; its scope tensors ``names`` are edited in place.
        units: the :class:`EdgeUnits`. edge_mask: the soft mask over ``units.tied``.
        edge_keep: ``BoolTensor [U]`` of the one-shot pruning.
        weight_masks: ``{name: BoolTensor}`` of the one-shot pruning over ``names``.
        alpha, interval, accumulation, total: α, δ, accumulated epochs, ``T``.
        on_swap: called after every swap with ``{"epoch", "fraction", "edges_swapped",
            "weights_swapped", "edge_keep" [U], "weight_masks"}`` (copies).
        swap_weights: False keeps the weight masks fixed and swaps edges only (neuron
            granularity, see the module documentation).

    Attributes:
        best: ``(edge_keep [U], weight_keep [P])`` at the best-validation epoch so far.
        swaps, edges_swapped, weights_swapped: swap counts so far.
    """

    def __init__(self, model: nn.Module, units: EdgeUnits, edge_mask: TrainableEdgeMask,
                 edge_keep: Tensor, weight_masks: dict[str, Tensor], names: list[str], *,
                 alpha: float, interval: int, accumulation: int, total: int,
                 on_swap: Callable[[dict[str, Any]], None] | None = None,
                 swap_weights: bool = True) -> None:
        self.units, self.edge_mask, self.names = units, edge_mask, names
        self.swap_weights = swap_weights
        self.tensors = named_tensors(model, lambda name, owner, t: name in names)
        self.alpha, self.interval, self.accumulation, self.total = alpha, interval, \
            accumulation, total
        self.on_swap = on_swap
        self.edge_keep = edge_keep.cpu().clone()
        self.weight_keep = _flat(weight_masks, names)
        self.edge_grad: Tensor | None = None
        self.weight_grad: Tensor | None = None
        self.best = (self.edge_keep.clone(), self.weight_keep.clone())
        self.best_epoch, self.swaps, self.edges_swapped, self.weights_swapped = 0, 0, 0, 0
        self._to_device()
        self.apply()

    def weight_masks(self, flat: Tensor) -> dict[str, Tensor]:
        """A flat weight mask ``[P]`` as ``{name: BoolTensor}`` shaped like the tensors."""
        parts = flat.split([self.tensors[n].numel() for n in self.names])
        return {n: p.reshape(self.tensors[n].shape).clone() for n, p in zip(self.names, parts)}

    def _to_device(self) -> None:
        self._edge_on = self.edge_keep.to(self.edge_mask.values.device)
        self._weights_on = {n: m.to(self.tensors[n].device)
                            for n, m in self.weight_masks(self.weight_keep).items()}

    @torch.no_grad()
    def apply(self) -> None:
        """Zero the pruned weights and mask values in place."""
        self.edge_mask.values.mul_(self._edge_on)
        for name, mask in self._weights_on.items():
            self.tensors[name].mul_(mask)

    def accumulating(self, epoch: int) -> bool:
        """Whether ``epoch``'s gradients count for the next swap (its last ``accumulation``
        epochs, ``pruning.py:321-324``)."""
        return epoch <= self.total and (-epoch) % self.interval < self.accumulation

    @torch.no_grad()
    def after_backward(self, ctx: StepContext) -> None:
        values = self.edge_mask.values
        grads = {n: t.grad if t.grad is not None else torch.zeros_like(t)
                 for n, t in self.tensors.items()}
        if self.accumulating(ctx.epoch):
            edge = (values.grad if values.grad is not None else torch.zeros_like(values))
            edge = edge.detach().cpu() / self.accumulation
            weight = _flat(grads, self.names) / self.accumulation
            self.edge_grad = edge if self.edge_grad is None else self.edge_grad + edge
            self.weight_grad = weight if self.weight_grad is None else self.weight_grad + weight
        else:
            self.edge_grad = self.weight_grad = None
        if values.grad is not None:
            values.grad.mul_(self._edge_on)
        for name, mask in self._weights_on.items():
            if self.tensors[name].grad is not None:
                self.tensors[name].grad.mul_(mask)

    def after_step(self, ctx: StepContext) -> None:
        self.apply()

    def on_epoch_end(self, record: EpochRecord, model: nn.Module) -> None:
        if record.best:
            self.best = (self.edge_keep.clone(), self.weight_keep.clone())
            self.best_epoch = record.epoch
        if record.epoch % self.interval == 0 and record.epoch <= self.total:
            self.swap(record.epoch)

    @torch.no_grad()
    def swap(self, epoch: int) -> None:
        """Epoch ``epoch``'s prune-and-regrow step of the edges and of the weights."""
        fraction = cosine_fraction(self.alpha, epoch, self.total)
        edges, weights = self.edge_keep.clone(), self.weight_keep.clone()
        self._swap_edges(fraction)
        if self.swap_weights:
            self._swap_weights(fraction)
        moved_edges = int((self.edge_keep & ~edges).sum())
        moved_weights = int((self.weight_keep & ~weights).sum())
        if self.units.kept_count(self.edge_keep) != self.units.kept_count(edges) \
                or int(self.weight_keep.sum()) != int(weights.sum()):
            raise RuntimeError("a FastGLT swap changed the kept counts")  # never: swap_masks
        self.swaps += 1
        self.edges_swapped += moved_edges
        self.weights_swapped += moved_weights
        self._to_device()
        self.apply()
        if self.on_swap is not None:
            self.on_swap({"epoch": epoch, "fraction": fraction, "edges_swapped": moved_edges,
                          "weights_swapped": moved_weights, "edge_keep": self.edge_keep.clone(),
                          "weight_masks": self.weight_masks(self.weight_keep)})

    def _swap_edges(self, fraction: float) -> None:
        prunable, values = self.units.prunable, self.edge_mask.values
        kept = self.edge_keep[prunable]
        magnitude = values.detach().abs().cpu()
        grad = self.edge_grad if self.edge_grad is not None else torch.zeros_like(magnitude)
        grow = grad.abs().to(torch.float64) + degree_grow_score(self.units, self.edge_keep)
        new = swap_masks(kept, magnitude[prunable], grow[prunable], swap_count(kept, fraction))
        grown = torch.zeros_like(self.edge_keep)
        grown[prunable] = new & ~kept
        if bool(grown.any()):  # a regrown entry starts at the kept entries' mean
            fill = values.detach()[(self.edge_keep & prunable).to(values.device)].mean()
            values[grown.to(values.device)] = fill
        self.edge_keep[prunable] = new

    def _swap_weights(self, fraction: float) -> None:
        magnitude = _flat(self.tensors, self.names).abs()
        grad = self.weight_grad if self.weight_grad is not None else torch.zeros_like(magnitude)
        self.weight_keep = swap_masks(self.weight_keep, magnitude, grad.abs(),
                                      swap_count(self.weight_keep, fraction))


def _check_options(*, edge_score: Any, mode: Any, epochs: Any, pretrain_epochs: Any,
                   denoise_epochs: Any, regrow_fraction: Any, update_interval: Any,
                   accumulation_epochs: Any, edge_l1: Any, lr: Any, weight_decay: Any,
                   seed: Any) -> None:
    """``ValueError``/``TypeError`` naming the first option out of its range."""
    check_choice(edge_score, "edge_score", FASTGLT_EDGE_SCORES)
    check_choice(mode, "mode", ("message", "weight"))
    for name, value in (("epochs", epochs), ("pretrain_epochs", pretrain_epochs),
                        ("denoise_epochs", denoise_epochs)):
        check_int(value, name, low=1)
    check_float(regrow_fraction, "regrow_fraction", low=0.0, high=1.0)
    check_int(update_interval, "update_interval", low=2)
    check_int(accumulation_epochs, "accumulation_epochs", low=1, high=update_interval - 1)
    check_float(edge_l1, "edge_l1", low=0.0)
    check_float(lr, "lr", low=0.0, open_low=True)
    check_float(weight_decay, "weight_decay", low=0.0)
    check_int(seed, "seed", low=0)


@torch.no_grad()
def _one_shot_masks(work: nn.Module, units: EdgeUnits, edge_mask: TrainableEdgeMask,
                    names: list[str], scores: Tensor | None, s_g: float,
                    s_w: float, hidden: Any = None) -> tuple[Tensor, dict[str, Tensor]]:
    """Step 2: the edge units by ``scores`` (None: the trained ``|m|``) and the largest
    ``|w|`` of the scope, globally, at the targets."""
    edge_keep = units.select(edge_mask.values.abs() if scores is None else scores, s_g)
    tensors = named_tensors(work, lambda name, owner, t: name in names)
    weight_masks = select_weights({n: tensors[n].detach().abs().cpu() for n in names}, s_w,
                                  units=hidden)
    return edge_keep, weight_masks


def _kept(edge_keep: Tensor, weight_masks: dict[str, Tensor], units: EdgeUnits,
          s_g: float, s_w: float) -> dict[str, Any]:
    return {"graph_target": s_g, "weight_target": s_w,
            "edges_kept": units.kept_count(edge_keep),
            "weights_kept": int(sum(int(m.sum()) for m in weight_masks.values()))}


def _run(result: Any) -> dict[str, Any]:
    return {"val": result.val, "test": result.test, "best_epoch": result.best_epoch,
            "epochs": result.epochs}


def fastglt(model: nn.Module, dataset: Any, *, graph_targets, weight_targets,
            weight_scope: str = "linear", edge_score: str = "magnitude", epochs: int = 200,
            pretrain_epochs: int = 30, denoise_epochs: int = 400, regrow_fraction: float = 0.3,
            update_interval: int = 3, accumulation_epochs: int = 2, edge_l1: float = 1e-4,
            mode: str = "message", lr: float = 0.01, weight_decay: float = 5e-4, seed: int = 0,
            progress: bool = False,
            on_swap: Callable[[dict[str, Any]], None] | None = None,
            on_epoch: Callable[[EpochRecord], None] | None = None,
            weight_granularity: str = "unstructured") -> SearchResult:
    """Find a ticket with FastGLT (see the module documentation). One-shot: only the last
    entries of ``graph_targets``/``weight_targets`` are used.

    Args:
        model: an unmasked model (θ₀; not modified). dataset: a LoadedDataset.
        graph_targets, weight_targets: sparsity schedules; the last entries are the targets.
        weight_scope: ``"linear"`` (default) or ``"all"``.
        edge_score: one-shot edge scores, ``"magnitude"`` (the pre-trained mask's ``|m|``,
            FastGLT's own) or a structural score of ``EDGE_SCORES`` (``"teddy"``, ...).
        epochs: epochs of the ticket's retraining (reference ``retrain_epoch`` 200).
        pretrain_epochs: dense pre-training epochs (int >= 1; reference 30).
        denoise_epochs: denoising epochs ``T`` (int >= 1; reference 400).
        regrow_fraction: α in ``[0, 1]`` (reference 0.3); 0 turns the swaps off.
        update_interval: δ, epochs between swaps (int >= 2; reference 3).
        accumulation_epochs: epochs of gradients averaged for a swap (in ``[1, δ - 1]``;
            reference 2).
        edge_l1: L1 coefficient on the edge mask while denoising (>= 0; reference 1e-4).
        mode: soft edge-mask mode while searching, ``"message"`` or ``"weight"``.
        lr, weight_decay, seed: every training run (Adam).
        on_swap: called after every swap (see :class:`FastGLTDenoiser`).
        on_epoch: called with every epoch's :class:`~graphsparse.gnn.train.EpochRecord`.
        weight_granularity: ``"unstructured"`` (default) or ``"neuron"`` (whole hidden units,
            fixed during denoising; see the module documentation).

    Returns:
        :class:`~graphsparse.gnn.methods._common.SearchResult`; ``rounds`` holds the stages
        ``"pretrain"``, ``"denoise"`` and ``"ticket"``; ``search_epochs`` counts all three.
    """
    started = time.perf_counter()
    graph_targets, weight_targets = check_targets(graph_targets, weight_targets)
    scope = check_scope(weight_scope)
    _check_options(edge_score=edge_score, mode=mode, epochs=epochs,
                   pretrain_epochs=pretrain_epochs, denoise_epochs=denoise_epochs,
                   regrow_fraction=regrow_fraction, update_interval=update_interval,
                   accumulation_epochs=accumulation_epochs, edge_l1=edge_l1, lr=lr,
                   weight_decay=weight_decay, seed=seed)
    theta0 = initial_state(model)
    units = EdgeUnits(dataset)
    hidden = weight_units(model, weight_granularity)
    names = weight_names(model, scope, hidden)
    scores = None if edge_score == "magnitude" else unit_scores(units, edge_score, seed)
    s_g, s_w = graph_targets[-1], weight_targets[-1]
    work = copy.deepcopy(model)
    device = next((p.device for p in work.parameters()), torch.device("cpu"))
    edge_mask = TrainableEdgeMask(tied=units.tied).to(device)
    train = {"lr": lr, "weight_decay": weight_decay, "seed": seed, "progress": progress,
             "edge_mask": edge_mask, "mode": mode, "restore_best": False}
    pre = train_model(work, dataset, epochs=pretrain_epochs, hooks=epoch_hooks(on_epoch),
                      desc="FastGLT pretrain", **train)
    stages = [{"stage": "pretrain", **_run(pre)}]
    edge_keep, weight_masks = _one_shot_masks(work, units, edge_mask, names, scores, s_g, s_w,
                                              hidden)
    stages.append({"stage": "one-shot", "edge_score": edge_score,
                   **_kept(edge_keep, weight_masks, units, s_g, s_w)})
    denoiser = FastGLTDenoiser(work, units, edge_mask, edge_keep, weight_masks, names,
                               alpha=regrow_fraction, interval=update_interval,
                               accumulation=accumulation_epochs, total=denoise_epochs,
                               on_swap=on_swap, swap_weights=hidden is None)
    den = train_model(work, dataset, epochs=denoise_epochs, desc="FastGLT denoise",
                      hooks=(UGSPenalty(edge_mask, edge_l1, 0.0), denoiser,
                             *epoch_hooks(on_epoch)), **train)
    edge_keep, weight_masks = denoiser.best[0], denoiser.weight_masks(denoiser.best[1])
    stages.append({"stage": "denoise", **_kept(edge_keep, weight_masks, units, s_g, s_w),
                   **_run(den), "swaps": denoiser.swaps,
                   "edges_swapped": denoiser.edges_swapped,
                   "weights_swapped": denoiser.weights_swapped})
    final, result = train_ticket(model, dataset, theta0, units.expand(edge_keep), weight_masks,
                                 epochs=epochs, lr=lr, weight_decay=weight_decay, seed=seed,
                                 progress=progress, desc="FastGLT ticket", on_epoch=on_epoch)
    stages.append({"stage": "ticket", **_kept(edge_keep, weight_masks, units, s_g, s_w),
                   **_run(result)})
    return finish(final, dataset, units, edge_keep, weight_masks, theta0, result, scope,
                  pre.epochs + den.epochs + result.epochs, time.perf_counter() - started,
                  stages, hidden)
