"""UGS: unified GNN sparsification (Chen, Sui, Chen, Zhang, Wang, "A Unified Lottery Ticket
Hypothesis for Graph Neural Networks", ICML 2021).

Two trainable soft masks — ``m_g`` on the edges (a
:class:`~graphsparse.gnn.edge_masks.TrainableEdgeMask` over tied units) and ``m_θ`` on the
weights of the scope (:func:`graphsparse.masks.attach` with ``trainable=True``) — are trained
end to end with the UGS objective (Chen et al. 2021, Sec. 3; equation numbers not verified
against the PDF)

    ``L = L_task({m_g ⊙ A, X}, m_θ ⊙ Θ) + s1·‖m_g‖₁ + s2·‖m_θ‖₁``

(the L1 terms as an extra loss, :class:`UGSPenalty`; autograd gives the reference code's
sub-gradient ``s·sign(m)``). Adam's weight decay acts on the masks too, as in the reference
code. Each round ``k``:

1. rewind the weights to θ₀ bit-exactly and reset the mask values to 1 (pruned entries stay 0);
2. train with the masks (edge mask in ``mode``; default ``"message"``, exact for every conv
   :func:`~graphsparse.gnn.edge_masks.message_rule` supports) and restore the best-validation
   epoch, so the pruning step uses the masks of the best-validation epoch, as UGS does;
3. prune, among the still-kept entries, the lowest ``|m|`` edge units to graph target ``s_g,k``
   and the lowest ``|m|`` weights **globally** to weight target ``s_θ,k``
   (``topk_masks(..., within=previous)``: round ``k`` of the geometric schedule keeps exactly
   ``kept_count(n, 1 - (1-p)^k)``).

After the last round the ticket (θ₀, binary masks, kept edges physically removed) is retrained
with frozen masks — UGS's "fix-mask" run — and that run's best-validation metrics are reported.
With ``checkpoint=PATH`` the state after every round is saved, and a killed search resumes
after its last completed round with the same result.

Differences from the reference code, on purpose: no multiplicative U(-1e-5, 1e-5) noise on the
masks (the toolkit's deterministic tie rule breaks ties instead); the edge mask lives on edge
ids with both directions tied (the reference GCN uses independent dense ``N×N`` entries).
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from graphsparse import masks as M
from graphsparse.gnn.edge_masks import TrainableEdgeMask
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
    train_ticket,
)
from graphsparse.gnn.train import StepContext, TrainHooks, train_model

__all__ = ["UGSPenalty", "UGSRound", "reset_mask_values", "ugs"]


class UGSPenalty(TrainHooks):
    """UGS's L1 terms ``s1·‖m_g‖₁ + s2·‖m_θ‖₁`` as an extra loss (the UGS objective).

    Only kept entries count (pruned entries are exactly 0 in the forward pass and are reset to
    the fixed masks anyway).

    Args:
        edge_mask: the trainable edge mask (``m_g``), or None.
        s1: graph-mask coefficient (>= 0).
        s2: weight-mask coefficient (>= 0); the weight masks are those attached to the model.
    """

    def __init__(self, edge_mask: TrainableEdgeMask | None, s1: float, s2: float) -> None:
        for name, value in (("s1", s1), ("s2", s2)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        self.edge_mask, self.s1, self.s2 = edge_mask, float(s1), float(s2)

    def penalty(self, model: nn.Module) -> Tensor:
        """The scalar ``s1·Σ|m_g| + s2·Σ|m_θ|`` over kept entries."""
        terms = []
        if self.edge_mask is not None and self.s1:
            m = self.edge_mask
            terms.append(self.s1 * (m.values * m.kept).abs().sum())
        if self.s2:
            fixed = M.masks_of(model)
            for name, values in M.mask_values_of(model).items():
                terms.append(self.s2 * (values * fixed[name].to(values.device)).abs().sum())
        return torch.stack(terms).sum() if terms else torch.zeros(())

    def extra_loss(self, ctx: StepContext) -> Tensor:
        return self.penalty(ctx.model)


@torch.no_grad()
def reset_mask_values(model: nn.Module, edge_mask: TrainableEdgeMask | None,
                      value: float = 1.0) -> None:
    """Set every trainable mask value (weights and edges) to ``value`` (UGS's ones init)."""
    for values in M.mask_values_of(model).values():
        values.fill_(value)
    if edge_mask is not None:
        edge_mask.values.fill_(value)


def _read_checkpoint(path: str | os.PathLike, options: dict[str, Any],
                     theta0: dict[str, Tensor], num_units: int) -> dict[str, Any]:
    """A UGS checkpoint's state, after checking that it belongs to this search."""
    state, _ = M.load_file(path, "ugs-checkpoint")
    same_theta = state["theta0"].keys() == theta0.keys() and all(
        torch.equal(state["theta0"][k], v.cpu()) for k, v in theta0.items())
    done = state["done"]
    prefix_ok = all(state["options"][key][:done] == options[key][:done]
                    for key in ("graph_targets", "weight_targets"))
    others_ok = all(state["options"][key] == options[key] for key in options
                    if key not in ("graph_targets", "weight_targets"))
    if not (same_theta and prefix_ok and others_ok and done <= len(options["graph_targets"])
            and state["edge_kept"].numel() == num_units):
        raise ValueError(f"checkpoint {str(path)!r} was written by a different UGS search "
                         "(other model weights, dataset or options); delete it or pass "
                         "another path")
    return state


@dataclass
class UGSRound:
    """One UGS round, as passed to ``on_round`` (tensors are copies).

    Attributes:
        round: 1-based round index.
        graph_target, weight_target: the round's sparsity targets.
        edge_values: ``|m_g|`` per unit ``[U]`` at the best-validation epoch (pre-pruning).
        weight_values: ``{name: |m_θ|}`` at the best-validation epoch.
        edge_kept_before, edge_kept_after: unit masks ``[U]`` before / after pruning.
        weight_masks_before, weight_masks_after: weight masks before / after pruning.
        prunable: ``BoolTensor [U]``, the non-loop units.
        val, test, best_epoch: the round's training run.
    """

    round: int
    graph_target: float
    weight_target: float
    edge_values: Tensor
    weight_values: dict[str, Tensor]
    edge_kept_before: Tensor
    edge_kept_after: Tensor
    weight_masks_before: dict[str, Tensor]
    weight_masks_after: dict[str, Tensor]
    prunable: Tensor
    val: float
    test: float
    best_epoch: int


def ugs(model: nn.Module, dataset: Any, *, graph_targets: Sequence[float],
        weight_targets: Sequence[float], weight_scope: str = "linear", epochs: int = 200,
        retrain_epochs: int | None = None, lr: float = 0.01, weight_decay: float = 5e-4,
        s1: float = 1e-2, s2: float = 1e-2, mode: str = "message", seed: int = 0,
        progress: bool = False,
        on_round: Callable[[UGSRound], None] | None = None,
        checkpoint: str | os.PathLike | None = None) -> SearchResult:
    """Find a graph lottery ticket with UGS (see the module documentation).

    Args:
        model: an unmasked model (not modified; the search works on copies).
        dataset: a LoadedDataset.
        graph_targets, weight_targets: sparsity after each round (same length = rounds), e.g.
            ``[1 - (1 - 0.05)**k for k in 1..K]`` and ``[1 - (1 - 0.2)**k ...]``.
        weight_scope: ``"linear"`` (UGS's count, default) or ``"all"``.
        epochs: epochs of each mask-search round (UGS: 200).
        retrain_epochs: epochs of the final fix-mask run (default ``epochs``).
        lr, weight_decay: Adam (UGS Cora: 0.008 / 8e-5; Citeseer, PubMed: 0.01 / 5e-4).
        s1, s2: L1 coefficients of the graph and weight masks (UGS GCN Cora: 1e-2 / 1e-2).
        mode: soft edge-mask mode during the search, ``"message"`` or ``"weight"``.
        seed: seeds every training run (the same in every round, as UGS).
        on_round: called with a :class:`UGSRound` after each round's pruning.
        checkpoint: a file path. After every round the search state (masks, round records,
            epochs) is written there atomically (safe format, kind ``"ugs-checkpoint"``); a
            later call with the same path, model (θ₀), dataset and options resumes after the
            last completed round and gives the same result as an uninterrupted run. A
            checkpoint of a different search raises ``ValueError``; the file is kept at the end.

    Returns:
        :class:`~graphsparse.gnn.methods._common.SearchResult`; ``search_epochs`` counts every
        round plus the retrain.
    """
    started = time.perf_counter()
    graph_targets, weight_targets = check_targets(graph_targets, weight_targets)
    scope = check_scope(weight_scope)
    if mode not in ("message", "weight"):
        raise ValueError(f"mode must be 'message' or 'weight' (a soft mode the mask trains in); "
                         f"got {mode!r}")
    template = model
    theta0 = initial_state(template)
    units = EdgeUnits(dataset)
    work = copy.deepcopy(template)
    names = scope_names(work, scope)
    M.attach(work, {n: torch.ones_like(t, dtype=torch.bool)
                    for n, t in M.named_tensors(work, scope).items()}, trainable=True)
    device = next((p.device for p in template.parameters()), torch.device("cpu"))
    edge_mask = TrainableEdgeMask(tied=units.tied).to(device)
    penalty = UGSPenalty(edge_mask, s1, s2)
    rounds: list[dict[str, Any]] = []
    epochs_run = 0
    options = {"graph_targets": graph_targets, "weight_targets": weight_targets,
               "weight_scope": scope, "epochs": epochs, "lr": lr, "weight_decay": weight_decay,
               "s1": s1, "s2": s2, "mode": mode, "seed": seed}
    done = 0
    if checkpoint is not None and Path(checkpoint).exists():
        state = _read_checkpoint(checkpoint, options, theta0, units.tied.num_pairs)
        done, rounds, epochs_run = state["done"], state["rounds"], state["epochs_run"]
        edge_mask.set_kept(state["edge_kept"].to(edge_mask.kept.device))
        M.attach(work, state["weight_masks"], trainable=True)
    for k, (s_g, s_w) in enumerate(zip(graph_targets, weight_targets), start=1):
        if k <= done:
            continue
        rewind(work, theta0)
        reset_mask_values(work, edge_mask)
        result = train_model(work, dataset, epochs=epochs, lr=lr, weight_decay=weight_decay,
                             edge_mask=edge_mask, mode=mode, hooks=penalty, seed=seed,
                             progress=progress, desc=f"UGS round {k}")
        epochs_run += result.epochs
        edge_values = edge_mask.values.detach().abs().cpu().clone()
        weight_values = {n: v.detach().abs().clone()
                         for n, v in M.mask_values_of(work).items()}
        before_edges = edge_mask.kept.cpu().clone()
        before_weights = M.masks_of(work)
        after_edges = units.select(edge_values, s_g, within=before_edges)
        after_weights = select_weights({n: weight_values[n] for n in names}, s_w,
                                       within={n: before_weights[n] for n in names})
        edge_mask.set_kept(after_edges.to(edge_mask.kept.device))
        M.attach(work, after_weights, trainable=True)
        rounds.append({"round": k, "graph_target": s_g, "weight_target": s_w,
                       "edges_kept": units.kept_count(after_edges),
                       "weights_kept": int(sum(int(m.sum()) for m in after_weights.values())),
                       "val": result.val, "test": result.test, "best_epoch": result.best_epoch,
                       "epochs": result.epochs})
        if checkpoint is not None:
            M.save_file(checkpoint, "ugs-checkpoint", {
                "options": options, "theta0": {n: v.cpu() for n, v in theta0.items()},
                "done": k, "rounds": rounds, "epochs_run": epochs_run,
                "edge_kept": edge_mask.kept.cpu().clone(), "weight_masks": M.masks_of(work)})
        if on_round is not None:
            on_round(UGSRound(k, s_g, s_w, edge_values, weight_values, before_edges,
                              after_edges.clone(), before_weights,
                              {n: m.clone() for n, m in after_weights.items()},
                              units.prunable.clone(), result.val, result.test,
                              result.best_epoch))
    edge_keep = edge_mask.kept.cpu().clone()
    weight_masks = M.masks_of(work)
    final, result = train_ticket(template, dataset, theta0, units.expand(edge_keep),
                                 weight_masks, epochs=retrain_epochs or epochs, lr=lr,
                                 weight_decay=weight_decay, seed=seed, progress=progress,
                                 desc="UGS retrain")
    epochs_run += result.epochs
    return finish(final, dataset, units, edge_keep, weight_masks, theta0, result, scope,
                  epochs_run, time.perf_counter() - started, rounds)
