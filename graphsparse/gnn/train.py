"""One trainer and one evaluator for node classification, link prediction and graph prediction.

:func:`train_model` trains any model on a :class:`~graphsparse.gnn.data.LoadedDataset` under an
optional edge mask, evaluates it every epoch with the current masks, keeps the weights of the
best-validation epoch and returns a :class:`TrainResult` (validation and test metric at that
epoch, epochs run, seconds spent, optionally the inference time). :func:`evaluate`,
:func:`predict` and :func:`measure_inference` share its data preparation. Methods that find
graph lottery tickets (UGS, TEDDY, baselines) plug into it through :class:`TrainHooks`.

Tasks and protocols
-------------------
``"node"`` — full-batch training on the split's training nodes. Cross entropy for multiclass
    targets (Planetoid public split: accuracy), binary cross entropy on the labelled entries
    for binary targets, MSE for regression. Metric: OGB's ``Evaluator`` for OGB datasets,
    otherwise accuracy or ROC-AUC (of the positive class's probability).
``"link"`` — OGB's ogbl-ddi recipe: each epoch shuffles the training pairs into batches of
    ``batch_size`` (default 65,536); for every batch the encoder runs on the whole
    message-passing graph, the batch's positive pairs and as many negative pairs are scored,
    and the loss is ``BCE(pos, 1) + BCE(neg, 0)`` (means). Negatives are node pairs drawn
    uniformly from a ``torch.Generator`` seeded with ``seed`` (self-pairs and training edges —
    of the unmasked graph, in either direction — are rejected and redrawn). Evaluation scores
    OGB's validation and test pairs (positive and negative) with
    ``ogb.linkproppred.Evaluator`` (ogbl-ddi: Hits@20).
``"graph"`` — mini-batches of ``batch_size`` graphs (default 32), shuffled by the seeded
    generator; binary cross entropy on labelled entries (OGB marks missing labels NaN),
    MSE for regression, cross entropy for multiclass; ``ogb.graphproppred.Evaluator``
    (ogbg-molbace: ROC-AUC). Each collated graph carries ``g_id`` (its index in the dataset) and
    ``e_id`` (its edges' global ids).

Edge masks
----------
An edge mask covers the task's mask graph (:func:`graphsparse.gnn.accounting.mask_graph`): the
message-passing graph of node and link tasks — never the supervision or negative pairs — and,
for graph tasks, the concatenated edges of every graph in dataset order (a global edge-id
vector; each batch uses ``mask[batch.e_id]``). ``edge_mask`` is a ``[E]`` tensor (bool, or
float in ``[0, 1]`` for the soft modes) or a
:class:`~graphsparse.gnn.edge_masks.TrainableEdgeMask`; ``mode`` is that of
:func:`~graphsparse.gnn.edge_masks.edge_mask`:

* ``"remove"``: the kept edges are selected once, before training (a TrainableEdgeMask
  contributes its binary ``kept`` state), and the model only ever sees them — the fast path
  (for GCN models, propagated as one sparse product per layer: :func:`spmm_propagation`).
* ``"weight"``/``"message"``: the mask is attached to every conv for training and evaluation,
  re-read at every forward, so a TrainableEdgeMask's values are trained: they join the
  optimiser and, unless ``clamp_edge_mask=False``, are projected onto ``[0, 1]`` after every
  optimiser step (:meth:`~graphsparse.gnn.edge_masks.TrainableEdgeMask.clamp_`).

Weight masks are attached to the model beforehand with :func:`graphsparse.masks.attach`:
binary masks keep pruned weights exactly zero whatever the optimiser does; trainable masks
(``trainable=True``) are parameters of the model and are trained with it.

Plug-in points for methods (:class:`TrainHooks`)
------------------------------------------------
* ``parameters()`` — extra tensors to optimise (e.g. mask values kept outside the model);
* ``extra_loss(ctx)`` — a term added to the task loss (UGS: ``γ1‖m_g‖₁ + γ2‖m_θ‖₁``; TEDDY:
  ``λ·KL(teacher‖student)`` from ``ctx.out``);
* ``after_backward(ctx)`` — edit gradients (UGS's sub-gradient form of the L1 term);
* ``after_step(ctx)`` — after every optimiser step (TEDDY: projected gradient descent onto the
  L0 ball, zeroing the globally smallest-magnitude weights of the scope);
* ``on_epoch_end(record, model)`` — after every epoch's evaluation; return True to stop.

The :class:`StepContext` a hook receives holds the model, the epoch, the step, the outputs and
targets of the loss, the task loss and the task's inputs; for node tasks ``out`` covers all
nodes (``inputs["index"]`` are the training nodes), so distillation can use every node.
The optimiser is Adam over three named parameter groups (``"model"``, ``"edge_mask"``,
``"hooks"``) with the same ``lr`` and ``weight_decay`` — as in UGS, whose masks are decayed like
the weights; pass ``optimizer=`` to build another from the same groups.

Selection, determinism and timing
---------------------------------
The best epoch is the first with the highest validation metric (lowest for error metrics such
as RMSE); its test metric is reported and, with ``restore_best=True``, its weights (and the
TrainableEdgeMask's state) are loaded back at the end. Training runs inside
``torch.random.fork_rng`` seeded with ``seed`` (dropout), with a separate generator for
shuffling and negative sampling, so the same model, data and seed give bit-identical results
at a fixed thread count, and the caller's RNG state is left as it was. ``TrainResult``
records epochs, total seconds and the seconds spent in training steps and in evaluation;
``time_inference=True`` adds the median time of one inference pass (:func:`measure_inference`).

Example:
    >>> import torch
    >>> from graphsparse.gnn.data import load_dataset
    >>> from graphsparse.gnn.models import build_model
    >>> ds = load_dataset("sbm")
    >>> _ = torch.manual_seed(0)
    >>> model = build_model("gcn", ds.num_features, ds.num_classes, hidden=16)
    >>> result = train_model(model, ds, epochs=5, lr=0.05, weight_decay=5e-4, progress=False)
    >>> result.metric, result.epochs, result.test > 0.5
    ('acc', 5, True)
"""

from __future__ import annotations

import contextlib
import copy
import math
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GCNConv, MessagePassing
from torch_geometric.utils import to_torch_csr_tensor

from graphsparse import masks as M
from graphsparse.gnn.accounting import mask_graph
from graphsparse.gnn.edge_masks import (
    EDGE_MASK_MODES,
    TrainableEdgeMask,
    apply_edge_mask,
    edge_mask as attach_edge_mask,
)

__all__ = [
    "EpochRecord",
    "StepContext",
    "TrainHooks",
    "TrainResult",
    "evaluate",
    "measure_inference",
    "predict",
    "spmm_propagation",
    "train_model",
]

_LOWER_IS_BETTER = frozenset({"rmse", "mae"})
_DEFAULT_BATCH = {"node": None, "link": 64 * 1024, "graph": 32}


# --------------------------------------------------------------------------------------------
# public types
# --------------------------------------------------------------------------------------------

@dataclass
class StepContext:
    """What a hook sees at one optimisation step.

    Attributes:
        model: the model being trained.
        task: ``"node"``, ``"link"`` or ``"graph"``.
        epoch: 1-based epoch.
        step: 0-based step within the epoch (node tasks: always 0).
        out: the outputs the loss was computed from. Node: logits ``[N, C]`` of **all** nodes;
            link: logits ``[2B]`` of the batch's positive then negative pairs; graph: logits
            ``[B, T]`` of the batch's graphs.
        target: node: labels of all nodes (``data.y``); link: ``[2B]`` 1/0; graph: ``[B, T]``.
        loss: the task loss (scalar, before extra terms).
        inputs: node: ``{"x", "edge_index", "index"}`` (``index``: training node ids);
            link: ``{"x", "edge_index", "pairs" [2, 2B], "embeddings" [N, D]}``;
            graph: ``{"batch"}`` (the PyG ``Batch``, with ``g_id`` and ``e_id``).
        edge_mask: the edge mask given to the trainer (None if none).
    """

    model: nn.Module
    task: str
    epoch: int
    step: int
    out: Tensor
    target: Tensor
    loss: Tensor
    inputs: dict[str, Any]
    edge_mask: Any


@dataclass
class EpochRecord:
    """One epoch: mean loss (task loss + extra terms), metrics (None when not evaluated),
    seconds in training steps and in evaluation, and whether it is the best so far."""

    epoch: int
    loss: float
    val: float | None
    test: float | None
    train_seconds: float
    eval_seconds: float
    best: bool


class TrainHooks:
    """Base class of the plug-in points of :func:`train_model`; every method is a no-op.

    Subclass and override what a method needs (see the module documentation). Several hooks
    may be passed; they run in the given order.

    Example (an L1 penalty on trainable weight-mask values, UGS's ``γ2‖m_θ‖₁``):
        >>> from graphsparse import masks as M
        >>> class L1OnMasks(TrainHooks):
        ...     def __init__(self, gamma):
        ...         self.gamma = gamma
        ...     def extra_loss(self, ctx):
        ...         values = M.mask_values_of(ctx.model).values()
        ...         return self.gamma * sum(v.abs().sum() for v in values)
    """

    def parameters(self) -> Iterable[Tensor]:
        """Extra tensors for the optimiser (group ``"hooks"``)."""
        return ()

    def extra_loss(self, ctx: StepContext) -> Tensor | None:
        """A scalar added to the task loss before ``backward``, or None."""
        return None

    def after_backward(self, ctx: StepContext) -> None:
        """Called after ``backward``, before the optimiser step (gradients can be edited)."""

    def after_step(self, ctx: StepContext) -> None:
        """Called after every optimiser step (and the edge-mask projection)."""

    def on_epoch_end(self, record: EpochRecord, model: nn.Module) -> bool | None:
        """Called after every epoch; return True to stop training."""
        return None


@dataclass
class TrainResult:
    """What :func:`train_model` returns.

    Attributes:
        metric: the metric's name (``"acc"``, ``"rocauc"``, ``"hits@20"`` …).
        val, test: the metric at the best epoch.
        best_epoch: 1-based epoch with the best validation metric.
        epochs: epochs run.
        seconds: wall-clock seconds of the whole call.
        train_seconds, eval_seconds: seconds in training steps / in evaluation.
        inference_seconds: median seconds of one inference pass (``time_inference=True``),
            else None.
        seed: the seed used.
        stopped_early: a hook stopped training.
        history: one :class:`EpochRecord` per epoch.
        best_state: ``state_dict`` of the model at the best epoch (tensors cloned; loadable
            with ``load_state_dict``, see :func:`graphsparse.masks.loadable_state_dict`).
        best_edge_mask_state: the TrainableEdgeMask's ``state_dict`` at the best epoch, or None.
    """

    metric: str
    val: float
    test: float
    best_epoch: int
    epochs: int
    seconds: float
    train_seconds: float
    eval_seconds: float
    inference_seconds: float | None
    seed: int
    stopped_early: bool
    history: list[EpochRecord] = field(default_factory=list)
    best_state: dict[str, Tensor] = field(default_factory=dict, repr=False)
    best_edge_mask_state: dict[str, Tensor] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (no tensors): every scalar field plus the history."""
        return {
            "metric": self.metric, "val": self.val, "test": self.test,
            "best_epoch": self.best_epoch, "epochs": self.epochs, "seconds": self.seconds,
            "train_seconds": self.train_seconds, "eval_seconds": self.eval_seconds,
            "inference_seconds": self.inference_seconds, "seed": self.seed,
            "stopped_early": self.stopped_early,
            "history": [asdict(record) for record in self.history],
        }


# --------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------

def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def _check_float(name: str, value: Any, low: float, strict: bool) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) and (value > low if strict else value >= low)
    if not ok:
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {low}, "
                         f"got {value!r}")
    return float(value)


def _check_dataset(dataset: Any) -> None:
    if getattr(dataset, "task", None) not in ("node", "link", "graph") \
            or not hasattr(dataset, "split"):
        raise TypeError("dataset must be a LoadedDataset from graphsparse.gnn.data.load_dataset "
                        f"(task 'node', 'link' or 'graph'), got {type(dataset).__name__}")


def _as_hooks(hooks: Any) -> list[TrainHooks]:
    items = [hooks] if isinstance(hooks, TrainHooks) else list(hooks or ())
    for hook in items:
        if not isinstance(hook, TrainHooks):
            raise TypeError(f"hooks must be TrainHooks instances, got {type(hook).__name__}")
    return items


def _snapshot(model: nn.Module) -> dict[str, Tensor]:
    """A loadable copy of the model's state (masked PyG Linears' derived entries dropped)."""
    return {k: v.detach().clone() for k, v in M.loadable_state_dict(model.state_dict()).items()}


def _model_device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


# --------------------------------------------------------------------------------------------
# losses and metrics
# --------------------------------------------------------------------------------------------

def _task_loss(target_kind: str, out: Tensor, y: Tensor) -> Tensor:
    if target_kind == "multiclass":
        return F.cross_entropy(out, y.view(-1).long())
    y = y.view(out.shape).to(out.dtype)
    labelled = ~torch.isnan(y)
    if target_kind == "binary":
        return F.binary_cross_entropy_with_logits(out[labelled], y[labelled])
    return F.mse_loss(out[labelled], y[labelled])


def _better(metric: str, value: float, best: float | None) -> bool:
    if math.isnan(value):
        return best is None
    if best is None or math.isnan(best):
        return True
    return value < best if metric in _LOWER_IS_BETTER else value > best


def _score(dataset: Any, y: Tensor, out: Tensor) -> float:
    """The dataset's metric of predictions ``out`` (logits) against labels ``y``."""
    y, out = y.detach().cpu(), out.detach().cpu().float()
    if dataset.evaluator is not None:
        if dataset.task == "node":
            from ogb.nodeproppred import Evaluator
        else:
            from ogb.graphproppred import Evaluator
        if dataset.target == "multiclass":
            inputs = {"y_true": y.view(-1, 1), "y_pred": out.argmax(-1, keepdim=True)}
        else:
            inputs = {"y_true": y.view(out.shape), "y_pred": out}
        return float(Evaluator(dataset.evaluator).eval(inputs)[dataset.metric])
    if dataset.metric == "acc":
        return float((out.argmax(-1) == y.view(-1)).float().mean()) if y.numel() else 0.0
    if dataset.metric == "rocauc":
        from sklearn.metrics import roc_auc_score

        score = out.softmax(-1)[:, 1] if out.dim() == 2 and out.size(1) == 2 \
            else torch.sigmoid(out.view(-1))
        return float(roc_auc_score(y.view(-1).numpy(), score.numpy()))
    raise ValueError(f"no evaluator for metric {dataset.metric!r} of dataset {dataset.name!r} "
                     "(supported without OGB: 'acc', 'rocauc')")


# --------------------------------------------------------------------------------------------
# edge masks
# --------------------------------------------------------------------------------------------

def _split_mask(mask: Any, mode: str, num_edges: int,
                device: torch.device) -> tuple[Tensor | None, Any]:
    """(hard mask for remove mode, soft mask for the soft modes) of a trainer's edge mask."""
    if mode not in EDGE_MASK_MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, EDGE_MASK_MODES))}; got "
                         f"{mode!r}")
    if mask is None:
        return None, None
    if isinstance(mask, TrainableEdgeMask):
        size = mask.num_edges
    elif isinstance(mask, Tensor) and mask.dim() == 1:
        size = mask.numel()
    else:
        raise TypeError("edge_mask must be a 1-D tensor over the mask graph's edge ids or a "
                        f"TrainableEdgeMask, got {type(mask).__name__}")
    if size != num_edges:
        raise ValueError(f"edge_mask has {size} entries but the dataset's mask graph has "
                         f"{num_edges} edges (see graphsparse.gnn.accounting.mask_graph)")
    if mode == "remove":
        hard = mask.kept_edges() if isinstance(mask, TrainableEdgeMask) else mask
        return hard.detach().cpu(), None
    return None, mask.to(device)


# --------------------------------------------------------------------------------------------
# tasks: data preparation, one epoch, evaluation, inference
# --------------------------------------------------------------------------------------------

class _Task:
    """Prepared data of one dataset for one model, device and edge mask."""

    def __init__(self, dataset: Any, mask: Any, mode: str, device: torch.device,
                 batch_size: int | None, generator: torch.Generator, spmm: bool = False) -> None:
        self.dataset, self.mode, self.device = dataset, mode, device
        self.generator = generator
        self.batch_size = batch_size or _DEFAULT_BATCH[dataset.task]
        self.graph = mask_graph(dataset)
        hard, self.soft = _split_mask(mask, mode, self.graph.num_edges, device)
        self.mask = mask
        self.keep: Tensor | None = None
        self.kept_edge_index: Tensor | None = None
        self.spmm = spmm and self.soft is None
        if hard is not None:
            # apply_edge_mask checks the hard mask (bool, or float holding only 0 and 1).
            self.kept_edge_index = apply_edge_mask(self.graph.edge_index, hard)[0]
            self.keep = hard != 0

    def graph_input(self, edge_index: Tensor, num_nodes: int) -> Tensor:
        """What the model's convs receive: ``edge_index``, or the transposed adjacency as a
        ``torch.sparse_csr`` tensor when :func:`spmm_propagation` allows it."""
        if not self.spmm or (edge_index[0] == edge_index[1]).any():
            # with input self-loops PyG's sparse gcn_norm would add a second loop per node
            return edge_index
        with torch.sparse.check_sparse_tensor_invariants(enable=False):   # explicit: no warning
            return to_torch_csr_tensor(edge_index.flip(0), size=(num_nodes, num_nodes))

    @contextlib.contextmanager
    def masked(self, model: nn.Module) -> Iterator[None]:
        """Attach the soft mask to the model's convs for the block (node and link tasks)."""
        if self.soft is None:
            yield
            return
        with attach_edge_mask(model, self.soft, self.mode):
            yield

    def edge_parameters(self) -> list[Tensor]:
        if isinstance(self.soft, TrainableEdgeMask):
            return [p for p in self.soft.parameters() if p.requires_grad]
        return []

    def _step(self, model: nn.Module, optimizer: torch.optim.Optimizer,
              hooks: list[TrainHooks], ctx: StepContext, clamp: bool) -> float:
        total = ctx.loss
        for hook in hooks:
            extra = hook.extra_loss(ctx)
            if extra is not None:
                total = total + extra
        total.backward()
        for hook in hooks:
            hook.after_backward(ctx)
        optimizer.step()
        if clamp and isinstance(self.soft, TrainableEdgeMask):
            self.soft.clamp_()
        for hook in hooks:
            hook.after_step(ctx)
        return float(total.detach())


class _NodeTask(_Task):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        data = self.dataset.data
        self.x = data.x.to(self.device) if data.x is not None else None
        self.edge_index = (data.edge_index if self.keep is None
                           else self.kept_edge_index).to(self.device)
        self.y = data.y.to(self.device)
        self.index = {part: torch.nonzero(mask).view(-1).to(self.device)
                      for part, mask in self.dataset.split.items()}
        self.propagate = self.graph_input(self.edge_index, int(data.num_nodes))

    def forward(self, model: nn.Module) -> Tensor:
        return model(self.x, self.propagate)

    def train_epoch(self, model, optimizer, hooks, epoch, clamp) -> float:
        model.train()
        optimizer.zero_grad()
        out = self.forward(model)
        index = self.index["train"]
        loss = _task_loss(self.dataset.target, out[index], self.y[index])
        ctx = StepContext(model, "node", epoch, 0, out, self.y, loss,
                          {"x": self.x, "edge_index": self.edge_index, "index": index},
                          self.mask)
        return self._step(model, optimizer, hooks, ctx, clamp)

    @torch.no_grad()
    def predict(self, model: nn.Module) -> Tensor:
        model.eval()
        return self.forward(model)

    def evaluate(self, model: nn.Module) -> tuple[float, float]:
        out = self.predict(model)
        return tuple(_score(self.dataset, self.y[self.index[part]], out[self.index[part]])
                     for part in ("valid", "test"))

    def inference(self, model: nn.Module) -> None:
        self.predict(model)


class _NegativeSampler:
    """Uniform node pairs, rejecting self-pairs and known edges (either direction)."""

    def __init__(self, known: Tensor, num_nodes: int, generator: torch.Generator) -> None:
        n = num_nodes
        known = known.cpu()
        keys = torch.cat([known[0] * n + known[1], known[1] * n + known[0]])
        self.keys = torch.unique(keys)
        self.n, self.generator = n, generator
        if self.keys.numel() >= n * (n - 1):
            raise ValueError("every node pair is an edge: no negative pairs to sample")

    def __call__(self, count: int) -> Tensor:
        chunks, have = [], 0
        while have < count:
            draw = 2 * (count - have) + 16
            u = torch.randint(self.n, (draw,), generator=self.generator)
            v = torch.randint(self.n, (draw,), generator=self.generator)
            key = u * self.n + v
            ok = u != v
            if self.keys.numel():
                at = torch.searchsorted(self.keys, key).clamp(max=self.keys.numel() - 1)
                ok &= self.keys[at] != key
            u, v = u[ok][: count - have], v[ok][: count - have]
            chunks.append(torch.stack([u, v]))
            have += u.numel()
        return torch.cat(chunks, 1)


class _LinkTask(_Task):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        data, split = self.dataset.data, self.dataset.split
        for part in ("train", "valid", "test"):
            if not isinstance(split.get(part), dict) or "edge" not in split[part]:
                raise ValueError(f"link split part {part!r} must hold an 'edge' tensor [P, 2] "
                                 "(OGB's edge split format)")
        self.x = data.x.to(self.device) if data.x is not None else None
        self.edge_index = (data.edge_index if self.keep is None
                           else self.kept_edge_index).to(self.device)
        self.propagate = self.graph_input(self.edge_index, int(data.num_nodes))
        self.pos_train = split["train"]["edge"].t().contiguous()
        known = torch.cat([data.edge_index.cpu(), self.pos_train], 1)
        self.negatives = _NegativeSampler(known, int(data.num_nodes), self.generator)
        self.pairs = {}
        for part in ("valid", "test"):
            if "edge_neg" not in split[part]:
                raise ValueError(f"link split part {part!r} must hold 'edge_neg' [P', 2]")
            self.pairs[part] = (split[part]["edge"].t().to(self.device),
                                split[part]["edge_neg"].t().to(self.device))

    def train_epoch(self, model, optimizer, hooks, epoch, clamp) -> float:
        model.train()
        order = torch.randperm(self.pos_train.size(1), generator=self.generator)
        losses = []
        for step, chunk in enumerate(order.split(self.batch_size)):
            optimizer.zero_grad()
            h = model(self.x, self.propagate)
            pos = self.pos_train[:, chunk]
            pairs = torch.cat([pos, self.negatives(pos.size(1))], 1).to(self.device)
            out = model.decode(h, pairs)
            n = pos.size(1)
            target = torch.cat([out.new_ones(n), out.new_zeros(pairs.size(1) - n)])
            loss = F.binary_cross_entropy_with_logits(out[:n], target[:n]) \
                + F.binary_cross_entropy_with_logits(out[n:], target[n:])
            ctx = StepContext(model, "link", epoch, step, out, target, loss,
                              {"x": self.x, "edge_index": self.edge_index, "pairs": pairs,
                               "embeddings": h}, self.mask)
            losses.append(self._step(model, optimizer, hooks, ctx, clamp))
        return sum(losses) / max(len(losses), 1)

    @torch.no_grad()
    def predict(self, model: nn.Module) -> Tensor:
        model.eval()
        return model(self.x, self.propagate)

    @torch.no_grad()
    def _scores(self, model: nn.Module, h: Tensor, pairs: Tensor) -> Tensor:
        return torch.cat([model.decode(h, pairs[:, chunk])
                          for chunk in torch.arange(pairs.size(1)).split(self.batch_size)]) \
            if pairs.size(1) else pairs.new_zeros(0, dtype=h.dtype)

    def _part_metric(self, model: nn.Module, h: Tensor, part: str) -> float:
        from ogb.linkproppred import Evaluator

        pos, neg = self.pairs[part]
        inputs = {"y_pred_pos": self._scores(model, h, pos).cpu(),
                  "y_pred_neg": self._scores(model, h, neg).cpu()}
        return float(Evaluator(self.dataset.evaluator).eval(inputs)[self.dataset.metric])

    def evaluate(self, model: nn.Module) -> tuple[float, float]:
        h = self.predict(model)
        return self._part_metric(model, h, "valid"), self._part_metric(model, h, "test")

    def inference(self, model: nn.Module) -> None:
        h = self.predict(model)
        pos, neg = self.pairs["test"]
        self._scores(model, h, pos)
        self._scores(model, h, neg)


class _GraphTask(_Task):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from torch_geometric.loader import DataLoader

        edge_ptr = self.graph.edge_ptr
        graphs = []
        for i in range(len(self.dataset.dataset)):
            g = copy.copy(self.dataset.dataset[i])  # never modify the caller's graphs
            g.g_id = torch.tensor([i])
            g.e_id = torch.arange(int(edge_ptr[i]), int(edge_ptr[i + 1]))
            if self.keep is not None:
                kept = self.keep[g.e_id]
                g.edge_index, g.e_id = g.edge_index[:, kept], g.e_id[kept]
                if g.edge_attr is not None:
                    g.edge_attr = g.edge_attr[kept]
            graphs.append(g)
        index = {part: idx.view(-1).tolist() for part, idx in self.dataset.split.items()}
        self.loaders = {
            "train": DataLoader([graphs[i] for i in index["train"]], self.batch_size,
                                shuffle=True, generator=self.generator),
            "valid": DataLoader([graphs[i] for i in index["valid"]], self.batch_size),
            "test": DataLoader([graphs[i] for i in index["test"]], self.batch_size),
        }
        self.all_graphs = DataLoader(graphs, self.batch_size)

    @contextlib.contextmanager
    def masked(self, model: nn.Module) -> Iterator[None]:
        yield  # graph tasks attach the soft mask per batch (_batch_mask)

    def _forward(self, model: nn.Module, batch: Any) -> Tensor:
        if self.soft is None:
            return model(batch.x, batch.edge_index, batch.edge_attr, batch.batch)
        full = self.soft() if isinstance(self.soft, TrainableEdgeMask) else self.soft
        with attach_edge_mask(model, full[batch.e_id], self.mode):
            return model(batch.x, batch.edge_index, batch.edge_attr, batch.batch)

    def train_epoch(self, model, optimizer, hooks, epoch, clamp) -> float:
        model.train()
        losses = []
        for step, batch in enumerate(self.loaders["train"]):
            batch = batch.to(self.device)
            optimizer.zero_grad()
            out = self._forward(model, batch)
            loss = _task_loss(self.dataset.target, out, batch.y)
            ctx = StepContext(model, "graph", epoch, step, out, batch.y, loss, {"batch": batch},
                              self.mask)
            losses.append(self._step(model, optimizer, hooks, ctx, clamp))
        return sum(losses) / max(len(losses), 1)

    @torch.no_grad()
    def _collect(self, model: nn.Module, loader: Any) -> tuple[Tensor, Tensor]:
        model.eval()
        ys, outs = [], []
        for batch in loader:
            batch = batch.to(self.device)
            outs.append(self._forward(model, batch))
            ys.append(batch.y)
        return torch.cat(ys), torch.cat(outs)

    def predict(self, model: nn.Module) -> Tensor:
        return self._collect(model, self.all_graphs)[1]

    def evaluate(self, model: nn.Module) -> tuple[float, float]:
        return tuple(_score(self.dataset, *self._collect(model, self.loaders[part]))
                     for part in ("valid", "test"))

    def inference(self, model: nn.Module) -> None:
        self._collect(model, self.loaders["test"])


_TASKS = {"node": _NodeTask, "link": _LinkTask, "graph": _GraphTask}


def _param_groups(model: nn.Module, edge_params: list[Tensor],
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


def _make_task(model: nn.Module, dataset: Any, edge_mask: Any, mode: str,
               batch_size: int | None, seed: int) -> _Task:
    _check_dataset(dataset)
    if dataset.task == "link" and not callable(getattr(model, "decode", None)):
        raise TypeError("a link-prediction model needs decode(h, pairs) -> logits [P] (build "
                        "it with build_model(..., task='link'))")
    if batch_size is not None:
        _check_int("batch_size", batch_size, 1)
    generator = torch.Generator().manual_seed(seed)
    return _TASKS[dataset.task](dataset, edge_mask, mode, _model_device(model), batch_size,
                                generator, spmm=spmm_propagation(model))


def spmm_propagation(model: nn.Module) -> bool:
    """Whether node and link tasks feed ``model`` a sparse adjacency instead of ``edge_index``.

    True when every ``MessagePassing`` module of the model is a plain ``GCNConv`` (sum
    aggregation): PyG then propagates with its fused ``message_and_aggregate``, one CSR × dense
    product ``Â H`` per layer, instead of gathering and scattering one message per edge (about
    2× faster per GCN epoch on Cora at width 512 here). Used only when no soft edge mask is
    attached (a soft mask needs the per-message hooks; ``"remove"`` mode and unmasked training
    qualify) and the graph has no input self-loops (PyG's sparse normalisation would add a
    second loop). Values agree with the edge-list path up to float rounding.
    """
    convs = [m for m in model.modules() if isinstance(m, MessagePassing)]
    return bool(convs) and all(type(c) is GCNConv and c.aggr == "add" for c in convs)


def _timed_inference(task: _Task, model: nn.Module, repeats: int) -> float:
    with task.masked(model):
        task.inference(model)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            task.inference(model)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


# --------------------------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------------------------

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
        edge_mask: mask over the mask graph's edges (see the module documentation) or None.
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

    Returns:
        :class:`TrainResult`.

    Raises:
        ValueError: a bad argument (the message names it and its allowed values), or an edge
            mask whose length is not the mask graph's edge count.
        TypeError: a dataset that is not a LoadedDataset, hooks that are not TrainHooks.
    """
    started = time.perf_counter()
    _check_int("epochs", epochs, 1)
    lr = _check_float("lr", lr, 0.0, strict=True)
    weight_decay = _check_float("weight_decay", weight_decay, 0.0, strict=False)
    _check_int("seed", seed, 0)
    _check_int("eval_every", eval_every, 1)
    _check_int("inference_repeats", inference_repeats, 1)
    hook_list = _as_hooks(hooks)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    device = _model_device(model)
    devices = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []

    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        task = _make_task(model, dataset, edge_mask, mode, batch_size, seed)
        groups = _param_groups(model, task.edge_parameters(),
                               [p for hook in hook_list for p in hook.parameters()])
        opt = optimizer(groups) if optimizer is not None \
            else torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)

        from tqdm.auto import tqdm

        bar = tqdm(range(1, epochs + 1), desc=desc or f"train {dataset.name}", unit="epoch",
                   disable=not progress, leave=False)
        history: list[EpochRecord] = []
        best: tuple[float, float, int] | None = None
        best_state: dict[str, Tensor] = {}
        best_mask_state: dict[str, Tensor] | None = None
        stopped = False
        with task.masked(model):
            for epoch in bar:
                t0 = time.perf_counter()
                loss = task.train_epoch(model, opt, hook_list, epoch, clamp_edge_mask)
                t1 = time.perf_counter()
                val = test = None
                is_best = False
                if epoch % eval_every == 0 or epoch == epochs:
                    val, test = task.evaluate(model)
                    if _better(dataset.metric, val, None if best is None else best[0]):
                        is_best = True
                        best = (val, test, epoch)
                        best_state = _snapshot(model)
                        if isinstance(task.soft, TrainableEdgeMask):
                            best_mask_state = {k: v.detach().clone()
                                               for k, v in task.soft.state_dict().items()}
                t2 = time.perf_counter()
                record = EpochRecord(epoch, loss, val, test, t1 - t0, t2 - t1, is_best)
                history.append(record)
                bar.set_postfix(loss=f"{loss:.4f}",
                                val=f"{val:.4f}" if val is not None else "-",
                                best=f"{best[0]:.4f}@{best[2]}" if best else "-")
                if any([hook.on_epoch_end(record, model) for hook in hook_list]):
                    stopped = True
                    break
        bar.close()
        if best is None:  # stopped before the first evaluation
            with task.masked(model):
                val, test = task.evaluate(model)
            best = (val, test, history[-1].epoch)
            best_state = _snapshot(model)
        if restore_best:
            model.load_state_dict(best_state)
            if best_mask_state is not None:
                task.soft.load_state_dict(best_mask_state)
        inference = _timed_inference(task, model, inference_repeats) if time_inference else None

    return TrainResult(
        metric=dataset.metric, val=best[0], test=best[1], best_epoch=best[2],
        epochs=len(history), seconds=time.perf_counter() - started,
        train_seconds=sum(r.train_seconds for r in history),
        eval_seconds=sum(r.eval_seconds for r in history), inference_seconds=inference,
        seed=seed, stopped_early=stopped, history=history, best_state=best_state,
        best_edge_mask_state=best_mask_state)


def evaluate(model: nn.Module, dataset: Any, *, edge_mask: Any = None, mode: str = "remove",
             batch_size: int | None = None) -> dict[str, Any]:
    """Validation and test metric of ``model`` under an edge mask (eval mode, no gradients).

    Args:
        model, dataset, edge_mask, mode, batch_size: as for :func:`train_model`.

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
    task = _make_task(model, dataset, edge_mask, mode, batch_size, 0)
    with task.masked(model):
        val, test = task.evaluate(model)
    return {"metric": dataset.metric, "val": val, "test": test}


def predict(model: nn.Module, dataset: Any, *, edge_mask: Any = None, mode: str = "remove",
            batch_size: int | None = None) -> Tensor:
    """Raw outputs of ``model`` in eval mode under an edge mask (e.g. a TEDDY teacher).

    Returns:
        node task: logits ``[N, C]`` of all nodes; link task: node embeddings ``[N, D]`` (score
        pairs with ``model.decode``); graph task: logits ``[G, T]`` of every graph in dataset
        order (index them with a batch's ``g_id``).
    """
    task = _make_task(model, dataset, edge_mask, mode, batch_size, 0)
    with task.masked(model):
        return task.predict(model)


def measure_inference(model: nn.Module, dataset: Any, *, edge_mask: Any = None,
                      mode: str = "remove", batch_size: int | None = None,
                      repeats: int = 5) -> float:
    """Median wall-clock seconds of one inference pass under an edge mask (after a warm-up).

    One pass is what evaluation needs on the test part: node: a full-graph forward; link: the
    encoder forward plus scoring the test pairs; graph: a forward over the test graphs. Eval
    mode, no gradients; in ``"remove"`` mode the pruned edges are physically gone.
    """
    _check_int("repeats", repeats, 1)
    task = _make_task(model, dataset, edge_mask, mode, batch_size, 0)
    return _timed_inference(task, model, repeats)
