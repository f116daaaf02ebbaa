"""AdaGLT (Zhang, Wang, Huang, Yue, ..., Liang, "Graph Lottery Ticket Automated", ICLR 2024):
learnable thresholds with straight-through binary masks for edges and weights, driven to
sparsity by ``exp(−θ)`` penalties, with layer-adaptive (nested) edge masks.

The steps follow the authors' code (``bingreeky/AdaGLT``, commit 9c6d74e, folder ``Ada_gcn``;
citations are ``file:line`` there). The paper's equation numbers were not checked against the
PDF, so none are given.

1. **Edge explainer.** Every edge ``(u, v)`` is scored by an MLP on the concatenated input
   features, ``Linear(2F, 2048) → ReLU → Linear(2048, 1)`` (``net.py:51-56,60-64``; raw input
   features, ``net.py:93``). The scores are standardised over the edges to mean 0, standard
   deviation 0.1 (``net.py:132-134`` then ``net.py:158-162``; the two affine maps compose to
   this one).
2. **Edge thresholds and masks.** Each layer ``l`` has a learnable threshold per node
   ``θ_l ∈ R^N`` (``net.py:49-50``), used through ``T(θ) = coef·(θ³ + 20θ)`` (``net.py:165``)
   and initialised at the real root of ``θ³ + 20θ + 0.2/coef = 0``, so ``T(θ₀) = −0.2``
   (``utils.py`` ``initalize_thres``). The layer's mask is the hard step of
   ``sigmoid((z − T(θ_l))/τ)`` with τ = 0.1 in the forward pass and that sigmoid's gradient in
   the backward pass (straight-through, ``net.py:157,166-169``; :func:`threshold_mask`);
   self-loops are always kept (``net.py:168``). **Layer-adaptive:** layer ``l``'s mask is
   multiplied by layer ``l − 1``'s, so a deeper layer keeps a subset of a shallower one's edges
   (``net.py:95,104,170``).
3. **Weight thresholds.** Each weight tensor gets a learnable threshold per row, initialised at
   0 (``layers.py:147,167``); its mask is ``step(|w| − θ_row)`` (``layers.py:172-175``), with
   the long-tailed straight-through estimator of Dynamic Sparse Training (:func:`binary_step`,
   ``layers.py:36-51``).
4. **Objective.** ``L_task + e1·Σ_l Σ_n exp(−θ_l[n]) / L + e2·Σ exp(−θ_w)``
   (``main.py:62-73``; e1 = 5e-5, e2 = 1e-3, coef = 0.1, ``args.py:28-30``): the penalties
   push every threshold up, i.e. towards sparsity. One Adam (lr, weight decay) trains weights,
   explainer and thresholds together (``main.py:43-44``) for ``search_epochs`` (reference
   ``total_epoch`` 400, ``args.py:9``).
5. **Ticket.** The ticket ``θ₀ ⊙ m_θ`` with the kept edges physically removed is trained with
   frozen masks for ``epochs`` (reference ``retain_epoch`` 300, ``args.py:11``).

**One edge mask for all layers.** The library's ticket has one edge mask used by every layer.
During the search the convs get AdaGLT's nested per-layer masks (a forward pre-hook tells the
mask which conv calls it); the ticket's mask is the **deepest layer's nested mask**, whose
margin is ``min_l (z − T_l)`` (the edges every layer of the search keeps). This keeps the
layer-adaptive search intact and gives a mask every layer of the ticket can use.

**Exact counts.** A threshold does not land on a count, so the learned margins — edges:
``min_l (z − T_l)`` per non-loop unit; weights: ``|w| − θ_row`` — are ranked and exactly
``kept_count(U, s_g)`` units / ``kept_count(P, s_θ)`` entries (global over the scope) with the
largest margins are kept (:meth:`~graphsparse.gnn.methods._common.EdgeUnits.select`,
:func:`exact_count_from_margins`; ties: the smaller index is kept, the library rule). The
search stage's record gives how many entries the thresholds alone kept (margin > 0).

**Neuron granularity** (``weight_granularity="neuron"``): after the same threshold search each
hidden unit (:mod:`graphsparse.masks.neurons`) scores the **mean margin** ``|w| − θ_row`` of
its scope entries (> 0: the thresholds keep its entries on average) and exactly
``kept_count(U, s_θ)`` units of largest mean margin are kept (library tie rule); the record's
``units_kept_by_threshold`` counts units of positive mean margin.

Deviations, on purpose:

* sparse edge ids, never an ``N×N`` matrix (the reference builds dense adjacencies,
  ``net.py:23,98,163``); both directions form one unit, scored symmetrically as the mean of the
  explainer on ``(x_u‖x_v)`` and ``(x_v‖x_u)``, with threshold ``(T(θ_l[u]) + T(θ_l[v]))/2``
  (the reference masks each direction, entry ``(i, j)`` against ``θ_l[j]``); the statistics
  of the standardisation exclude self-loops; the explainer's output is not also used as an
  edge weight (the reference multiplies the adjacency by its ≈1 ± 0.01 scores,
  ``net.py:98,109``), so the explainer learns through the straight-through mask only;
* the masks come from the search's best-validation epoch and are projected to the exact
  counts (the reference keeps the best-validation epoch whose sparsity lies within ±2 points
  of the target, ``main.py:94,113-117`` and ``utils.py`` ``judge_spar``);
* the ticket restarts from θ₀ (a lottery ticket; the reference builds a freshly initialised
  net, its rewinding commented out, ``main.py:152-157``) and uses one edge mask (above);
* weight thresholds cover every tensor of the scope, one per first-dimension row (a 1-D tensor
  has one); the reference masks its bias-free linear layers only;
* an axis whose target is 0 is not searched (as the reference's ``--spar_adj``/``--spar_wei``
  off); ``pretrain_epoch`` (default 0, ``args.py:10``) is not offered; the initial threshold
  is solved exactly (the reference's bisection on ``[−10, 10]`` fails for coef < 1.7e-4);
* node and link tasks, full batch only (the per-layer masks need every conv call).
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch_geometric.nn import MessagePassing

from graphsparse.checks import check_float, check_int
from graphsparse.gnn.edges import TrainableEdgeMask
from graphsparse.gnn.methods._common import (
    EdgeUnits,
    SearchResult,
    check_scope,
    check_targets,
    epoch_hooks,
    finish,
    initial_state,
    scope_names,
    select_weights,
    train_ticket,
    weight_names,
    weight_units,
)
from graphsparse.gnn.train import EpochRecord, StepContext, TrainHooks, train_model
from graphsparse.masks import named_tensors

__all__ = ["AdaGLTEdgeMask", "AdaGLTPenalty", "RowThresholdMask", "adaglt", "binary_step",
           "exact_count_from_margins", "initial_threshold", "standardize_scores",
           "threshold_mask", "threshold_transform"]

#: Standard deviation of the standardised edge scores (``net.py:162``).
SCORE_STD = 0.1


def threshold_transform(theta: Tensor, coef: float) -> Tensor:
    """``T(θ) = coef·(θ³ + 20θ)``, increasing in θ for ``coef > 0`` (``net.py:165``)."""
    return coef * (theta ** 3 + 20 * theta)


def initial_threshold(coef: float) -> float:
    """The real root of ``θ³ + 20θ + 0.2/coef = 0``, so that ``T(θ₀) = −0.2`` (Cardano's
    formula, polished by Newton steps)."""
    coef = check_float(coef, "threshold_coef", low=0.0, open_low=True)
    p, q = 20.0, 0.2 / coef
    root = math.sqrt((q / 2) ** 2 + (p / 3) ** 3)
    x = math.cbrt(-q / 2 + root) + math.cbrt(-q / 2 - root)
    for _ in range(3):
        x -= (x ** 3 + p * x + q) / (3 * x ** 2 + p)
    return x


def threshold_mask(scores: Tensor, threshold: Tensor, temperature: float) -> Tensor:
    """Straight-through threshold: forward ``1[score > threshold]`` (exactly 0/1), backward the
    gradient of ``sigmoid((score − threshold)/temperature)`` (``net.py:166-169``)."""
    soft = torch.sigmoid((scores - threshold) / temperature)
    hard = (scores > threshold).to(soft.dtype)
    return hard + (soft - soft.detach())


class _BinaryStep(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        a = x.abs()
        slope = torch.where(a <= 0.4, 2 - 4 * a, torch.where(a <= 1, 0.4, 0.0))
        return grad * slope.to(grad.dtype)


def binary_step(x: Tensor) -> Tensor:
    """``1[x > 0]`` with Dynamic Sparse Training's estimator as gradient (``layers.py:36-51``):
    ``2 − 4|x|`` for ``|x| ≤ 0.4``, ``0.4`` for ``0.4 < |x| ≤ 1``, ``0`` beyond."""
    return _BinaryStep.apply(x)


def standardize_scores(scores: Tensor, prunable: Tensor, std: float = SCORE_STD) -> Tensor:
    """``(s − mean)/sd · std`` with mean and (unbiased) sd over the ``prunable`` entries; all
    zeros when fewer than two are prunable or they are all equal."""
    part = scores[prunable]
    if part.numel() < 2:
        return torch.zeros_like(scores)
    sd = part.std()
    if not bool(sd > 0):
        return torch.zeros_like(scores)
    return (scores - part.mean()) / sd * std


def exact_count_from_margins(margins: Mapping[str, Tensor], sparsity: float,
                             units: Any = None, shapes: Mapping[str, Any] | None = None
                             ) -> tuple[dict[str, Tensor], int]:
    """Keep exactly ``kept_count(P, sparsity)`` of the ``P`` entries of ``margins`` — those with
    the largest margin, globally (library tie rule: the smaller global index is kept first).

    Returns ``(masks, above)``: ``{name: BoolTensor}`` and the number of entries with margin
    ``> 0`` (what the thresholds alone keep). With ``units`` (neuron granularity) exactly
    ``kept_count(U, sparsity)`` units of largest mean margin are kept, masks over ``shapes``,
    and the count is of units with mean margin ``> 0``."""
    scores = {n: m.detach().to(torch.float64) for n, m in margins.items()}
    if units is not None:
        unit_margins = units.unit_scores(scores, absolute=False)
        return (units.select_units(unit_margins, sparsity, shapes or scores),
                int((unit_margins > 0).sum()))
    above = sum(int((m > 0).sum()) for m in scores.values())
    return select_weights(scores, sparsity), above


class AdaGLTEdgeMask(TrainableEdgeMask):
    """AdaGLT's explainer-driven, layer-adaptive edge mask over tied edge units.

    Called by a conv (through :func:`~graphsparse.gnn.edges.edge_mask`, mode ``"message"``) it
    returns that layer's nested straight-through mask over directed edges; ``layer`` (set by
    :func:`layer_indices` before each conv) selects the layer, and layer 0 recomputes the
    explainer scores once per model forward. ``values`` of the base class is unused (frozen).

    Args:
        units: the dataset's :class:`~graphsparse.gnn.methods._common.EdgeUnits`.
        features: ``[N, F]`` node features of the mask graph (the explainer's input).
        num_layers: number of convs ``L``; one threshold vector ``[N]`` each.
        hidden: explainer width (reference 2048). coef: threshold transform coefficient.
        temperature: τ of the straight-through sigmoid. seed: seeds the explainer's init.
    """

    def __init__(self, units: EdgeUnits, features: Tensor, num_layers: int, *, hidden: int,
                 coef: float, temperature: float, seed: int) -> None:
        super().__init__(tied=units.tied)
        self.values.requires_grad_(False)
        if features.dim() != 2 or features.size(0) != units.graph.num_nodes:
            raise ValueError(f"features must be [N, F] with N = {units.graph.num_nodes} nodes, "
                             f"got shape {tuple(features.shape)}")
        self.coef, self.temperature = float(coef), float(temperature)
        self.features = features.detach()
        self.register_buffer("pairs", units.tied.pairs.clone())
        self.register_buffer("prunable", units.prunable.clone())
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.hidden = nn.Linear(2 * features.size(1), hidden)
            self.out = nn.Linear(hidden, 1)
        self.thresholds = nn.Parameter(torch.full((num_layers, units.graph.num_nodes),
                                                  initial_threshold(coef)))
        self.layer: int | None = None
        self._cache: tuple[Tensor, Tensor | None] | None = None

    def scores(self) -> Tensor:
        """Raw explainer scores ``[U]``, symmetric: the mean over both orders of
        ``out(relu(hidden(x_u ‖ x_v)))``, computed from per-node projections (no ``[U, 2F]``)."""
        x = self.features = self.features.to(self.thresholds.device)
        x = x.to(self.thresholds.dtype)
        f = x.size(1)
        weight = self.hidden.weight
        # bag-of-words features stay CSR: a sparse product is several times cheaper here
        project = torch.sparse.mm if x.layout == torch.sparse_csr else torch.matmul
        first, second = project(x, weight[:, :f].T), project(x, weight[:, f:].T)
        u, v = self.pairs

        def order(a: Tensor, b: Tensor) -> Tensor:
            return self.out(torch.relu(first[a] + second[b] + self.hidden.bias)).squeeze(-1)
        return (order(u, v) + order(v, u)) / 2

    def unit_thresholds(self) -> Tensor:
        """``[L, U]``: each unit's threshold per layer, the mean of its endpoints' ``T(θ_l)``."""
        t = threshold_transform(self.thresholds, self.coef)
        return (t[:, self.pairs[0]] + t[:, self.pairs[1]]) / 2

    @torch.no_grad()
    def margins(self) -> Tensor:
        """``[L, U]`` margins ``z − T_l`` of every layer (before nesting)."""
        return standardize_scores(self.scores(), self.prunable) - self.unit_thresholds()

    def forward(self) -> Tensor:
        if self.layer is None:
            raise RuntimeError("AdaGLTEdgeMask is evaluated per conv: use it inside "
                               "layer_indices(...) with full-batch training")
        if self.layer == 0 or self._cache is None:
            self._cache = (standardize_scores(self.scores(), self.prunable), None)
        z, previous = self._cache
        mask = threshold_mask(z, self.unit_thresholds()[self.layer], self.temperature)
        if previous is not None:
            mask = mask * previous
        mask = torch.where(self.prunable, mask, torch.ones_like(mask))
        self._cache = (z, mask)
        return mask[self.edge_to_pair]

    def gather(self, edge_ids: Tensor) -> Tensor:
        raise ValueError("adaglt's layer-adaptive edge masks need full-batch training (every "
                         "conv sees the whole graph); train without a minibatch")


@contextlib.contextmanager
def layer_indices(convs: list[nn.Module], mask: AdaGLTEdgeMask | None) -> Iterator[None]:
    """For the block, tell ``mask`` which conv (0-based, model order) is about to run."""
    if mask is None:
        yield
        return

    def setter(index: int) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any) -> None:
            mask.layer = index
        return hook
    handles = [conv.register_forward_pre_hook(setter(i), prepend=True)
               for i, conv in enumerate(convs)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
        mask.layer, mask._cache = None, None


class RowThresholdMask(nn.Module):
    """Parametrization ``w ↦ w ⊙ step(|w| − θ_row)`` with a learnable threshold per
    first-dimension row (one for a tensor of < 2 dims), initialised at 0 (``layers.py:167``)."""

    def __init__(self, tensor: Tensor) -> None:
        super().__init__()
        rows = tensor.size(0) if tensor.dim() >= 2 else 1
        self.threshold = nn.Parameter(torch.zeros(rows, dtype=tensor.dtype,
                                                  device=tensor.device))

    def _row(self, w: Tensor) -> Tensor:
        return self.threshold.view((-1,) + (1,) * (w.dim() - 1)) if w.dim() >= 2 \
            else self.threshold.reshape(())

    def margins(self, w: Tensor) -> Tensor:
        """``|w| − θ_row`` per entry."""
        return w.abs() - self._row(w)

    def forward(self, w: Tensor) -> Tensor:
        return w * binary_step(self.margins(w))


def attach_thresholds(model: nn.Module, names: list[str]) -> dict[str, RowThresholdMask]:
    """Register a :class:`RowThresholdMask` on each named tensor of ``model`` (in place)."""
    out = {}
    for name in names:
        prefix, _, tname = name.rpartition(".")
        owner = model.get_submodule(prefix) if prefix else model
        out[name] = RowThresholdMask(getattr(owner, tname))
        parametrize.register_parametrization(owner, tname, out[name])
    return out


class AdaGLTPenalty(TrainHooks):
    """AdaGLT's sparsity terms ``e1·Σ_l Σ_n exp(−θ_l[n]) / L + e2·Σ exp(−θ_w)``
    (``main.py:62-73``) as an extra loss.

    Args:
        edge_mask: the :class:`AdaGLTEdgeMask` (its thresholds ``[L, N]``), or None.
        weight_masks: the :class:`RowThresholdMask` of every weight tensor.
        edge_reg: e1 (>= 0). weight_reg: e2 (>= 0).
    """

    def __init__(self, edge_mask: AdaGLTEdgeMask | None, weight_masks: list[RowThresholdMask],
                 edge_reg: float, weight_reg: float) -> None:
        self.edge_mask, self.weight_masks = edge_mask, list(weight_masks)
        self.edge_reg = check_float(edge_reg, "edge_reg", low=0.0)
        self.weight_reg = check_float(weight_reg, "weight_reg", low=0.0)

    def penalty(self) -> Tensor | None:
        """The scalar penalty, or None when no term applies."""
        terms = []
        if self.edge_mask is not None and self.edge_reg:
            theta = self.edge_mask.thresholds
            terms.append(self.edge_reg * torch.exp(-theta).sum() / theta.size(0))
        if self.weight_masks and self.weight_reg:
            terms.append(self.weight_reg * sum(torch.exp(-m.threshold).sum()
                                               for m in self.weight_masks))
        return torch.stack(terms).sum() if terms else None

    def extra_loss(self, ctx: StepContext) -> Tensor | None:
        return self.penalty()


def _features(dataset: Any) -> Tensor:
    x = getattr(dataset.data, "x", None)
    if not isinstance(x, Tensor):
        raise ValueError("adaglt's edge explainer needs node features (dataset.data.x)")
    if x.layout not in (torch.strided, torch.sparse_csr):
        x = x.to_dense()
    return x if x.is_floating_point() else x.to(torch.get_default_dtype())


def _check_options(dataset: Any, **options: Any) -> None:
    """``ValueError``/``TypeError`` naming the first option out of its range."""
    if getattr(dataset, "task", None) not in ("node", "link"):
        raise ValueError(f"adaglt supports node and link tasks, got task "
                         f"{getattr(dataset, 'task', None)!r}")
    for name in ("epochs", "search_epochs", "explainer_hidden"):
        check_int(options[name], name, low=1)
    for name in ("temperature", "threshold_coef", "lr"):
        check_float(options[name], name, low=0.0, open_low=True)
    for name in ("edge_reg", "weight_reg", "weight_decay"):
        check_float(options[name], name, low=0.0)
    check_int(options["seed"], "seed", low=0)


def _run(result: Any) -> dict[str, Any]:
    return {"val": result.val, "test": result.test, "best_epoch": result.best_epoch,
            "epochs": result.epochs}


def _search(model: nn.Module, dataset: Any, units: EdgeUnits, names: list[str], s_g: float,
            s_w: float, options: dict[str, Any], progress: bool,
            on_epoch: Callable[[EpochRecord], None] | None, hidden: Any = None
            ) -> tuple[Tensor, dict[str, Tensor], dict[str, Any], int]:
    """Steps 1-4 on a copy of ``model``; the exact-count masks and the stage's record."""
    work = copy.deepcopy(model)
    device = next((p.device for p in work.parameters()), torch.device("cpu"))
    convs = [m for m in work.modules() if isinstance(m, MessagePassing)]
    if not convs:
        raise ValueError("adaglt needs a model with MessagePassing convs")
    edge_mask = None
    if s_g > 0:
        edge_mask = AdaGLTEdgeMask(units, _features(dataset), len(convs),
                                   hidden=options["explainer_hidden"],
                                   coef=options["threshold_coef"],
                                   temperature=options["temperature"],
                                   seed=options["seed"]).to(device)
    rows = attach_thresholds(work, names) if s_w > 0 else {}
    penalty = AdaGLTPenalty(edge_mask, list(rows.values()), options["edge_reg"],
                            options["weight_reg"])
    with layer_indices(convs, edge_mask):
        result = train_model(work, dataset, epochs=options["search_epochs"], lr=options["lr"],
                             weight_decay=options["weight_decay"], edge_mask=edge_mask,
                             mode="message", hooks=(penalty, *epoch_hooks(on_epoch)),
                             seed=options["seed"], clamp_edge_mask=False, progress=progress,
                             desc="AdaGLT search")
    record: dict[str, Any] = {"stage": "search", **_run(result)}
    edge_keep = units.all_kept()
    if edge_mask is not None:
        nested = edge_mask.margins().cpu().to(torch.float64).cummin(0).values
        record["edges_kept_by_threshold_per_layer"] = [
            units.kept_count(layer > 0) for layer in nested]
        record["edges_kept_by_threshold"] = record["edges_kept_by_threshold_per_layer"][-1]
        edge_keep = units.select(nested[-1], s_g)
    if rows:
        with torch.no_grad():
            margins = {}
            for name in names:
                prefix, _, tname = name.rpartition(".")
                owner = work.get_submodule(prefix) if prefix else work
                raw = owner.parametrizations[tname].original
                margins[name] = rows[name].margins(raw).cpu()
        masked = _all_weights(model, weight_names(model, options["weight_scope"], hidden))
        weight_masks, kept = exact_count_from_margins(
            margins, s_w, hidden, {n: m.shape for n, m in masked.items()})
        record["units_kept_by_threshold" if hidden else "weights_kept_by_threshold"] = kept
    else:
        weight_masks = _all_weights(model, weight_names(model, options["weight_scope"], hidden))
    return edge_keep, weight_masks, record, result.epochs


def _all_weights(model: nn.Module, names: list[str]) -> dict[str, Tensor]:
    tensors = named_tensors(model, lambda name, owner, t: name in names)
    return {n: torch.ones(tensors[n].shape, dtype=torch.bool) for n in names}


def adaglt(model: nn.Module, dataset: Any, *, graph_targets, weight_targets,
           weight_scope: str = "linear", epochs: int = 200, search_epochs: int = 400,
           temperature: float = 0.1, edge_reg: float = 5e-5, weight_reg: float = 1e-3,
           threshold_coef: float = 0.1, explainer_hidden: int = 2048, lr: float = 0.01,
           weight_decay: float = 5e-4, seed: int = 0, progress: bool = False,
           on_epoch: Callable[[EpochRecord], None] | None = None,
           weight_granularity: str = "unstructured") -> SearchResult:
    """Find a ticket with AdaGLT (see the module documentation). One-shot: only the last
    entries of ``graph_targets``/``weight_targets`` are used.

    Args:
        model: an unmasked model (θ₀; not modified). dataset: a LoadedDataset (node or link
            task, full batch).
        graph_targets, weight_targets: sparsity schedules; the last entries are the targets
            (an axis whose target is 0 is not searched).
        weight_scope: ``"linear"`` (default) or ``"all"``.
        epochs: epochs of the ticket's training (int >= 1; reference ``retain_epoch`` 300).
        search_epochs: epochs of the threshold search (int >= 1; reference 400).
        temperature: τ > 0 of the edge straight-through sigmoid (reference 0.1).
        edge_reg, weight_reg: e1, e2 >= 0 (reference 5e-5, 1e-3).
        threshold_coef: coef > 0 of ``T(θ) = coef·(θ³ + 20θ)`` (reference 0.1).
        explainer_hidden: explainer width, int >= 1 (reference 2048).
        lr, weight_decay, seed: every training run (Adam); ``seed`` also seeds the explainer.
        on_epoch: called with every epoch's :class:`~graphsparse.gnn.train.EpochRecord`.
        weight_granularity: ``"unstructured"`` (default) or ``"neuron"`` (module doc).

    Returns:
        :class:`~graphsparse.gnn.methods._common.SearchResult`; ``rounds`` holds the stages
        ``"search"`` (absent when both targets are 0) and ``"ticket"``.
    """
    started = time.perf_counter()
    graph_targets, weight_targets = check_targets(graph_targets, weight_targets)
    scope = check_scope(weight_scope)
    options = {"epochs": epochs, "search_epochs": search_epochs, "temperature": temperature,
               "edge_reg": edge_reg, "weight_reg": weight_reg, "threshold_coef": threshold_coef,
               "explainer_hidden": explainer_hidden, "lr": lr, "weight_decay": weight_decay,
               "seed": seed}
    _check_options(dataset, **options)
    theta0 = initial_state(model)
    units = EdgeUnits(dataset)
    hidden = weight_units(model, weight_granularity)
    names = scope_names(model, scope)
    s_g, s_w = graph_targets[-1], weight_targets[-1]
    stages, epochs_run = [], 0
    edge_keep = units.all_kept()
    weight_masks = _all_weights(model, weight_names(model, scope, hidden))
    if s_g > 0 or s_w > 0:
        edge_keep, weight_masks, record, epochs_run = _search(
            model, dataset, units, names, s_g, s_w, {**options, "weight_scope": scope},
            progress, on_epoch, hidden)
        stages.append(record)
    kept = {"graph_target": s_g, "weight_target": s_w,
            "edges_kept": units.kept_count(edge_keep),
            "weights_kept": int(sum(int(m.sum()) for m in weight_masks.values()))}
    if stages:
        stages[0].update(kept)
    final, result = train_ticket(model, dataset, theta0, units.expand(edge_keep), weight_masks,
                                 epochs=epochs, lr=lr, weight_decay=weight_decay, seed=seed,
                                 progress=progress, desc="AdaGLT ticket", on_epoch=on_epoch)
    stages.append({"stage": "ticket", **kept, **_run(result)})
    return finish(final, dataset, units, edge_keep, weight_masks, theta0, result, scope,
                  epochs_run + result.epochs, time.perf_counter() - started, stages, hidden)
