"""UGS: unified GNN sparsification (Chen, Sui, Chen, Zhang, Wang, "A Unified Lottery Ticket
Hypothesis for Graph Neural Networks", ICML 2021).

Two trainable soft masks — ``m_g`` on the edges (a
:class:`~graphsparse.gnn.edges.TrainableEdgeMask` over edge units) and ``m_θ`` on the
weights of the scope (:func:`graphsparse.masks.attach` with ``trainable=True``) — are trained
end to end with the UGS objective (Chen et al. 2021, Sec. 3; equation numbers not verified
against the PDF)

    ``L = L_task({m_g ⊙ A, X}, m_θ ⊙ Θ) + s1·‖m_g‖₁ + s2·‖m_θ‖₁``

(the L1 terms as an extra loss, :class:`UGSPenalty`; autograd gives the reference code's
sub-gradient ``s·sign(m)``). Adam's weight decay acts on the masks too, as in the reference
code. Each round ``k``:

1. rewind the weights to θ₀ bit-exactly and reset the mask values to 1 (pruned entries stay 0);
2. train with the masks (edge mask in ``mode``; default ``"message"``, exact for every conv
   :func:`~graphsparse.gnn.edges.message_rule` supports) and restore the best-validation
   epoch, so the pruning step uses the masks of the best-validation epoch, as UGS does;
3. prune, among the still-kept entries, the lowest ``|m|`` edge units to graph target ``s_g,k``
   and the lowest ``|m|`` weights **globally** to weight target ``s_θ,k``
   (``topk_masks(..., within=previous)``: round ``k`` of the geometric schedule keeps exactly
   ``kept_count(n, 1 - (1-p)^k)``).

After the last round the ticket (θ₀, binary masks, kept edges physically removed) is retrained
with frozen masks — UGS's "fix-mask" run — and that run's best-validation metrics are reported.
With ``checkpoint=PATH`` the state after every round is saved, and a killed search resumes
after its last completed round with the same result.

Two details of the reference code are options, off by default:

* ``init_noise``: the reference code (``pruning.py``, ``soft_mask_init(..., "all_one")`` ->
  ``add_trainable_mask_noise(c=1e-5)``) multiplies every mask value by ``1 + U(-c, c)`` at the
  start of each round, drawn from the round's seed; here the factor is ``1 - U(0, 2c)`` (the
  same spread, kept inside ``[0, 1]``; :func:`reset_mask_values`). Without it the toolkit's
  deterministic tie rule breaks ties (masks that get no task gradient decay identically and tie
  exactly: on Cora, 936 of 5,278 edge units and 52,801 of 737,280 weights at UGS's
  best-validation epoch of round 1);
* ``weight_granularity="neuron"``: each round keeps ``kept_count(U, s_θ,k)`` whole hidden
  units (:mod:`graphsparse.masks.neurons`), nested, scored by the mean ``|m|`` of the unit's
  trainable weight-mask values (its slices of the scope's tensors); a removed unit's bias and
  attention entries outside the scope carry frozen binary masks (no mask values, no L1 term);
* ``tie_directions=False``: one edge-mask entry per direction, as the reference GCN's dense
  ``N×N`` ``adj_mask1_train`` (``net.py``), and graph sparsity over directed edges (the
  reference code's count, ``print_sparsity``); by default both directions of an undirected edge
  share one entry and the count is over undirected edges. The reference normalises such an
  asymmetric mask by out-degrees (``utils.torch_normalize_adj``); build the GCN with
  ``gcn_degree="out"`` (:class:`~graphsparse.gnn.models.convs.OutDegreeGCNConv`) for its exact
  operator — PyG's ``GCNConv`` normalises by in-degrees, the same only while directions are tied.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from graphsparse.checks import check_bool, check_choice, check_float
from graphsparse.gnn.edges import TrainableEdgeMask
from graphsparse.gnn.methods._common import (
    EdgeUnits,
    check_granularity,
    SearchResult,
    check_scope,
    check_targets,
    epoch_hooks,
    finish,
    initial_state,
    RoundCheckpoint,
    rewind,
    scope_names,
    select_weights,
    weight_names,
    weight_units,
    train_ticket,
)
from graphsparse.gnn.train import EpochRecord, StepContext, TrainHooks, train_model
from graphsparse.masks import attach, mask_values_of, masks_of, named_tensors

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
        self.edge_mask = edge_mask
        self.s1 = check_float(s1, "s1", low=0.0)
        self.s2 = check_float(s2, "s2", low=0.0)

    def penalty(self, model: nn.Module) -> Tensor:
        """The scalar ``s1·Σ|m_g| + s2·Σ|m_θ|`` over kept entries."""
        terms = []
        if self.edge_mask is not None and self.s1:
            m = self.edge_mask
            terms.append(self.s1 * (m.values * m.kept).abs().sum())
        if self.s2:
            fixed = masks_of(model)
            for name, values in mask_values_of(model).items():
                terms.append(self.s2 * (values * fixed[name].to(values.device)).abs().sum())
        return torch.stack(terms).sum() if terms else torch.zeros(())

    def extra_loss(self, ctx: StepContext) -> Tensor:
        return self.penalty(ctx.model)


@torch.no_grad()
def reset_mask_values(model: nn.Module, edge_mask: TrainableEdgeMask | None,
                      value: float = 1.0, *, noise: float = 0.0,
                      generator: torch.Generator | None = None) -> None:
    """Set every trainable mask value (weights and edges) to ``value`` (UGS's ones init).

    With ``noise = c > 0`` each value becomes ``value · (1 - U(0, 2c))``, drawn from
    ``generator``, edge mask first, then the weight masks in the toolkit's order: UGS's
    ``all_one`` init (``1 + U(-c, c)``, ``c = 1e-5``) shifted down by ``c`` so that the values
    stay in ``[0, 1]``, where the library's soft masks live; the spread, which is what breaks
    ties, is the reference's.
    """
    noise = check_float(noise, "noise", low=0.0, high=1.0)
    tensors = ([edge_mask.values] if edge_mask is not None else []) \
        + list(mask_values_of(model).values())
    for values in tensors:
        values.fill_(value)
        if noise > 0:
            draw = torch.rand(values.shape, generator=generator, dtype=values.dtype)
            values.mul_(1 - 2 * noise * draw.to(values.device))


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


class _UGSSearch(RoundCheckpoint):
    """A UGS search in progress: θ₀, the masked working copy, masks, round records."""

    kind, label = "ugs-checkpoint", "UGS"

    def __init__(self, model: nn.Module, dataset: Any, options: dict[str, Any],
                 retrain_epochs: int | None, progress: bool,
                 on_epoch: Callable[[EpochRecord], None] | None) -> None:
        self.template, self.dataset, self.options = model, dataset, options
        self.retrain_epochs = retrain_epochs or options["epochs"]
        self.progress, self.on_epoch = progress, on_epoch
        self.theta0 = initial_state(model)
        self.units = EdgeUnits(dataset, per_direction=not options["tie_directions"])
        self.work = copy.deepcopy(model)
        self.names = scope_names(self.work, options["weight_scope"])
        self.hidden = weight_units(self.work, options.get("weight_granularity", "unstructured"))
        self.extra = [n for n in weight_names(self.work, options["weight_scope"], self.hidden)
                      if n not in self.names]  # unit tensors outside the scope: binary masks
        tensors = named_tensors(self.work, "all")
        self.attach_masks({n: torch.ones_like(tensors[n], dtype=torch.bool)
                           for n in self.names + self.extra})
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        self.edge_mask = TrainableEdgeMask(tied=self.units.tied).to(device)
        self.penalty = UGSPenalty(self.edge_mask, options["s1"], options["s2"])
        self.rounds: list[dict[str, Any]] = []
        self.epochs_run, self.done, self.reported = 0, 0, []

    def attach_masks(self, masks: dict[str, Tensor]) -> None:
        """Trainable masks on the scope's tensors, binary ones on the other unit tensors."""
        attach(self.work, {n: masks[n] for n in self.names}, trainable=True)
        if self.extra:
            attach(self.work, {n: masks[n] for n in self.extra})

    def masks_state(self) -> tuple[Tensor, dict[str, Tensor]]:
        return self.edge_mask.kept.cpu().clone(), masks_of(self.work)

    def extra_state(self) -> dict[str, Any]:
        return {"reported": self.reported}

    def restore(self, state: dict[str, Any]) -> None:
        self.reported = list(state.get("reported", []))
        self.edge_mask.set_kept(state["edge_kept"].to(self.edge_mask.kept.device))
        self.attach_masks(state["weight_masks"])

    def optimizer(self) -> Callable[[list[dict[str, Any]]], torch.optim.Optimizer] | None:
        """None (one Adam for weights and masks, as UGS's code), or with ``mask_lr`` an Adam
        whose mask group (edge mask and weight-mask values) has learning rate ``mask_lr``."""
        mask_lr = self.options.get("mask_lr")
        if mask_lr is None:
            return None
        lr, weight_decay = self.options["lr"], self.options["weight_decay"]
        mask_ids = {id(v) for v in mask_values_of(self.work).values()}

        def build(groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
            params = [p for group in groups for p in group["params"]]
            masks = [p for group in groups if group["name"] == "edge_mask"
                     for p in group["params"]] + [p for p in params if id(p) in mask_ids]
            taken = {id(p) for p in masks}
            split = [{"params": [p for p in params if id(p) not in taken], "lr": lr},
                     {"params": masks, "lr": mask_lr}]
            return torch.optim.Adam([g for g in split if g["params"]], lr=lr,
                                    weight_decay=weight_decay)
        return build

    def run_round(self, k: int) -> UGSRound:
        """Round ``k``: rewind, train with the masks, prune to the round's targets."""
        options = self.options
        s_g, s_w = options["graph_targets"][k - 1], options["weight_targets"][k - 1]
        rewind(self.work, self.theta0)
        noise = torch.Generator().manual_seed(options["seed"])  # the same draw every round
        reset_mask_values(self.work, self.edge_mask, noise=options["init_noise"],
                          generator=noise)
        result = train_model(self.work, self.dataset, epochs=options["epochs"], lr=options["lr"],
                             weight_decay=options["weight_decay"], edge_mask=self.edge_mask,
                             mode=options["mode"], optimizer=self.optimizer(),
                             hooks=(self.penalty, *epoch_hooks(self.on_epoch)),
                             seed=options["seed"], progress=self.progress,
                             desc=f"UGS round {k}")
        self.epochs_run += result.epochs
        edge_values = self.edge_mask.values.detach().abs().cpu().clone()
        weight_values = {n: v.detach().abs().clone()
                         for n, v in mask_values_of(self.work).items()}
        before_edges = self.edge_mask.kept.cpu().clone()
        before_weights = masks_of(self.work)
        after_edges = self.units.select(edge_values, s_g, within=before_edges)
        masked = self.names + self.extra
        after_weights = select_weights({n: weight_values[n] for n in self.names}, s_w,
                                       within={n: before_weights[n] for n in masked},
                                       units=self.hidden,
                                       shapes={n: before_weights[n].shape for n in masked})
        self.edge_mask.set_kept(after_edges.to(self.edge_mask.kept.device))
        self.attach_masks(after_weights)
        self.rounds.append({"round": k, "graph_target": s_g, "weight_target": s_w,
                            "edges_kept": self.units.kept_count(after_edges),
                            "weights_kept": int(sum(int(m.sum())
                                                    for m in after_weights.values())),
                            "val": result.val, "test": result.test,
                            "best_epoch": result.best_epoch, "epochs": result.epochs})
        self.done = k
        return UGSRound(k, s_g, s_w, edge_values, weight_values, before_edges,
                        after_edges.clone(), before_weights,
                        {n: m.clone() for n, m in after_weights.items()},
                        self.units.prunable.clone(), result.val, result.test,
                        result.best_epoch)

    def ticket(self, started: float) -> SearchResult:
        """The current masks' ticket, trained from θ₀ with frozen masks (UGS's fix-mask run)."""
        options = self.options
        edge_keep = self.edge_mask.kept.cpu().clone()
        weight_masks = masks_of(self.work)
        final, result = train_ticket(self.template, self.dataset, self.theta0,
                                     self.units.expand(edge_keep), weight_masks,
                                     epochs=self.retrain_epochs, lr=options["lr"],
                                     weight_decay=options["weight_decay"], seed=options["seed"],
                                     progress=self.progress, desc="UGS retrain",
                                     on_epoch=self.on_epoch)
        return finish(final, self.dataset, self.units, edge_keep, weight_masks, self.theta0,
                      result, options["weight_scope"], self.epochs_run + result.epochs,
                      time.perf_counter() - started, list(self.rounds), self.hidden)


def ugs(model: nn.Module, dataset: Any, *, graph_targets: Sequence[float],
        weight_targets: Sequence[float], weight_scope: str = "linear", epochs: int = 200,
        retrain_epochs: int | None = None, lr: float = 0.01, weight_decay: float = 5e-4,
        s1: float = 1e-2, s2: float = 1e-2, mask_lr: float | None = None,
        mode: str = "message", tie_directions: bool = True, init_noise: float = 0.0,
        seed: int = 0, progress: bool = False,
        on_round: Callable[[UGSRound], None] | None = None,
        checkpoint: str | os.PathLike | None = None,
        on_epoch: Callable[[EpochRecord], None] | None = None,
        report_rounds: Sequence[int] = (),
        on_ticket: Callable[[int, SearchResult], None] | None = None,
        weight_granularity: str = "unstructured") -> SearchResult:
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
        mask_lr: Adam learning rate of the masks (edge mask and weight-mask values); None
            (default) uses ``lr``, as UGS's code, whose masks share the weights' optimiser.
        mode: soft edge-mask mode during the search, ``"message"`` or ``"weight"``.
        tie_directions: one mask entry per undirected edge (default) or, if False, per
            direction (the reference code's dense mask; graph sparsity counts directed edges).
        init_noise: ``c`` of the reference code's ``1 + U(-c, c)`` factor on the mask values
            at the start of each round (its ``all_one`` init: 1e-5), applied as
            ``1 - U(0, 2c)``; default 0.
        seed: seeds every training run (the same in every round, as UGS).
        on_round: called with a :class:`UGSRound` after each round's pruning.
        checkpoint: a file path. After every round the search state (masks, round records,
            epochs, reported rounds) is written there atomically (safe format, kind
            ``"ugs-checkpoint"``); a later call with the same path, model (θ₀), dataset and
            options resumes after the last completed round and gives the same result as an
            uninterrupted run. A checkpoint of a different search raises ``ValueError``; the
            file is kept at the end.
        on_epoch: called with every epoch's :class:`~graphsparse.gnn.train.EpochRecord`.
        report_rounds: rounds ``k < K`` whose ticket is also trained (fix-mask run from θ₀)
            and handed to ``on_ticket`` right after the round; the last round always is.
        on_ticket: called as ``on_ticket(k, SearchResult)``.
        weight_granularity: ``"unstructured"`` (default) or ``"neuron"`` (whole hidden units;
            see the module documentation).

    Returns:
        :class:`~graphsparse.gnn.methods._common.SearchResult` of the last round;
        ``search_epochs`` counts every round plus the retrain.
    """
    started = time.perf_counter()
    graph_targets, weight_targets = check_targets(graph_targets, weight_targets)
    check_choice(mode, "mode", ("message", "weight"))
    options = {"graph_targets": graph_targets, "weight_targets": weight_targets,
               "weight_scope": check_scope(weight_scope), "epochs": epochs, "lr": lr,
               "weight_decay": weight_decay, "s1": s1, "s2": s2, "mode": mode, "seed": seed,
               "tie_directions": check_bool(tie_directions, "tie_directions"),
               "init_noise": check_float(init_noise, "init_noise", low=0.0, high=1.0),
               "mask_lr": None if mask_lr is None else check_float(mask_lr, "mask_lr", low=0.0,
                                                                    open_low=True)}
    if check_granularity(weight_granularity) != "unstructured":  # old checkpoints lack the key
        options["weight_granularity"] = weight_granularity
    search = _UGSSearch(model, dataset, options, retrain_epochs, progress, on_epoch)
    search.resume(checkpoint)
    last = len(graph_targets)
    report = set(report_rounds) | {last}

    def report_ticket() -> SearchResult:
        # the ticket is handed out before the round is marked reported: a kill in between
        # trains it again on resume (the sweep drops the duplicate row), never loses it
        result = search.ticket(started)
        if on_ticket is not None:
            on_ticket(search.done, result)
        if search.done not in search.reported:
            search.reported.append(search.done)
            search.save(checkpoint)
        return result

    if 0 < search.done < last and search.done in report \
            and search.done not in search.reported:
        report_ticket()  # a kill between the round's checkpoint and its ticket
    for k in range(search.done + 1, last + 1):
        record = search.run_round(k)
        search.save(checkpoint)
        if on_round is not None:
            on_round(record)
        if k in report and k < last:
            report_ticket()
    return report_ticket()
