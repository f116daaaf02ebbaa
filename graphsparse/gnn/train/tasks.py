"""The three tasks: data preparation, one training epoch, evaluation and inference.

A task holds one dataset's data prepared for one model, device and edge mask (see
:mod:`graphsparse.gnn.train` for the protocols and the edge-mask modes): :class:`NodeTask`
(full batch), :class:`LinkTask` (OGB's ogbl-ddi recipe with a :class:`NegativeSampler`),
:class:`GraphTask` (mini-batches of graphs). :func:`make_task` builds the right one (mini-batch
tasks: :mod:`graphsparse.gnn.train.minibatch`);
:func:`spmm_propagation` decides whether node and link tasks feed a GCN a sparse adjacency.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GCNConv, MessagePassing
from torch_geometric.utils import to_torch_csr_tensor

from graphsparse.checks import check_choice, check_int
from graphsparse.devices import model_device
from graphsparse.gnn.edges import (
    EDGE_MASK_MODES,
    TrainableEdgeMask,
    apply_edge_mask,
    edge_mask as attach_edge_mask,
    mask_graph,
)
from graphsparse.gnn.train import distributed
from graphsparse.gnn.train.hooks import StepContext, TrainHooks
from graphsparse.gnn.train.metrics import score, task_loss

__all__ = [
    "GraphTask",
    "LinkTask",
    "NegativeSampler",
    "NodeTask",
    "Task",
    "make_task",
    "spmm_propagation",
]

#: Default ``batch_size`` per task (node tasks are full batch).
DEFAULT_BATCH = {"node": None, "link": 64 * 1024, "graph": 32}


def check_dataset(dataset: Any) -> None:
    """Raise ``TypeError`` unless ``dataset`` is a LoadedDataset (duck-typed)."""
    if getattr(dataset, "task", None) not in ("node", "link", "graph") \
            or not hasattr(dataset, "split"):
        raise TypeError("dataset must be a LoadedDataset from graphsparse.gnn.data.load_dataset "
                        f"(task 'node', 'link' or 'graph'), got {type(dataset).__name__}")


def split_mask(mask: Any, mode: str, num_edges: int,
               device: torch.device) -> tuple[Tensor | None, Any]:
    """(hard mask for remove mode, soft mask for the soft modes) of a trainer's edge mask."""
    check_choice(mode, "mode", EDGE_MASK_MODES)
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
                         f"{num_edges} edges (see graphsparse.gnn.edges.mask_graph)")
    if mode == "remove":
        hard = mask.kept_edges() if isinstance(mask, TrainableEdgeMask) else mask
        return hard.detach().cpu(), None
    return None, mask.to(device)


class Task:
    """Prepared data of one dataset for one model, device and edge mask."""

    def __init__(self, dataset: Any, mask: Any, mode: str, device: torch.device,
                 batch_size: int | None, generator: torch.Generator, spmm: bool = False) -> None:
        self.dataset, self.mode, self.device = dataset, mode, device
        self.generator = generator
        self.batch_size = batch_size or DEFAULT_BATCH[dataset.task]
        self.graph = mask_graph(dataset)
        hard, self.soft = split_mask(mask, mode, self.graph.num_edges, device)
        self.mask = mask
        self.keep: Tensor | None = None
        self.kept_edge_index: Tensor | None = None
        self.spmm = spmm and self.soft is None
        #: how validation and test outputs are computed (recorded in rows)
        self.evaluation = "full-batch"
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
        distributed.average_gradients(self.edge_parameters()
                                      + [p for hook in hooks for p in hook.parameters()])
        ctx.model = distributed.unwrap(ctx.model)
        for hook in hooks:
            hook.after_backward(ctx)
        optimizer.step()
        if clamp and isinstance(self.soft, TrainableEdgeMask):
            self.soft.clamp_()
        for hook in hooks:
            hook.after_step(ctx)
        return float(total.detach())


class NodeTask(Task):
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
        loss = task_loss(self.dataset.target, out[index], self.y[index])
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
        return tuple(score(self.dataset, self.y[self.index[part]], out[self.index[part]])
                     for part in ("valid", "test"))

    def inference(self, model: nn.Module) -> None:
        self.predict(model)


class NegativeSampler:
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


def link_loss(out: Tensor, num_positive: int) -> Tensor:
    """``BCE(positives, 1) + BCE(negatives, 0)`` (means) of pair logits ``out`` holding the
    ``num_positive`` positive pairs first, then the negatives."""
    return F.binary_cross_entropy_with_logits(out[:num_positive],
                                              out.new_ones(num_positive)) \
        + F.binary_cross_entropy_with_logits(out[num_positive:],
                                             out.new_zeros(out.numel() - num_positive))


class LinkTask(Task):
    #: whether the task draws its own negative pairs (a mini-batch task takes PyG's instead)
    own_negatives = True

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
        if self.own_negatives:
            known = torch.cat([data.edge_index.cpu(), self.pos_train], 1)
            self.negatives = NegativeSampler(known, int(data.num_nodes), self.generator)
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
            out = distributed.unwrap(model).decode(h, pairs)
            n = pos.size(1)
            target = torch.cat([out.new_ones(n), out.new_zeros(pairs.size(1) - n)])
            loss = link_loss(out, n)
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


class GraphTask(Task):
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
            loss = task_loss(self.dataset.target, out, batch.y)
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
        return tuple(score(self.dataset, *self._collect(model, self.loaders[part]))
                     for part in ("valid", "test"))

    def inference(self, model: nn.Module) -> None:
        self._collect(model, self.loaders["test"])


TASKS = {"node": NodeTask, "link": LinkTask, "graph": GraphTask}


def check_task_inputs(model: nn.Module, dataset: Any, batch_size: int | None) -> None:
    """The checks every task makes of its model, dataset and batch size."""
    check_dataset(dataset)
    if dataset.task == "link" and not callable(getattr(model, "decode", None)):
        raise TypeError("a link-prediction model needs decode(h, pairs) -> logits [P] (build "
                        "it with build_model(..., task='link'))")
    if batch_size is not None:
        check_int(batch_size, "batch_size", low=1)


def make_task(model: nn.Module, dataset: Any, edge_mask: Any, mode: str,
              batch_size: int | None, seed: int) -> Task:
    """The full-batch task of ``dataset`` prepared for ``model``'s device under
    ``edge_mask``/``mode``; shuffling and negative sampling draw from a generator seeded with
    ``seed`` (mini-batch tasks: :func:`graphsparse.gnn.train.minibatch.make_minibatch_task`)."""
    check_task_inputs(model, dataset, batch_size)
    generator = torch.Generator().manual_seed(seed)
    return TASKS[dataset.task](dataset, edge_mask, mode, model_device(model), batch_size,
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
