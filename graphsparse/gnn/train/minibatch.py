"""Mini-batch training with neighbour sampling for node and link tasks: :class:`MiniBatch` and
the tasks that use it.

Batches come from PyG's own loader classes (``NodeLoader`` for node classification,
``LinkLoader`` with PyG's binary negative sampling for link prediction) driven by
:func:`graphsparse.gnn.sampling.neighbor_sampler` (PyG's sampler when ``pyg-lib`` or
``torch-sparse`` is installed, else graphsparse's CSR sampler), so ``n_id``, ``e_id``, feature
gathering and negatives are PyG's.

Edge masks act on global edge ids:

* the sampler draws only from the *kept* edges (``mode="remove"``: the mask's True entries; a
  :class:`~graphsparse.gnn.edges.TrainableEdgeMask`: its ``kept`` units; a float mask: its
  non-zero entries), so a removed edge is never sampled and a fan-out counts kept neighbours;
* a soft mask is gathered at the batch's ``e_id`` and attached to the convs for that batch with
  the same hooks as full-batch training, so modes ``weight`` and ``message`` keep their exact
  semantics, and a trainable mask receives gradient exactly at the sampled ids.

Each epoch shuffles the training seeds (nodes, or positive edges) with the task's seeded
generator; under ``torch.distributed`` every rank draws the same permutation and takes its own
shard (:func:`graphsparse.gnn.train.distributed.shard`). PyG's negative sampling draws from
torch's global RNG, which :func:`~graphsparse.gnn.train.train_model` seeds with ``seed``.

Evaluation (``MiniBatch.evaluation``): ``"full-graph"`` runs the model once over all nodes and
every kept edge without gradients (exact; memory grows with edges × width except for GCN, which
propagates with one sparse product per layer); ``"sampled"`` computes every node's output from
sampled neighbourhoods with the training fan-outs, batch by batch, seeded (memory bounded by the
batch); ``"auto"`` picks full-graph when its estimated message memory (kept edges × widest layer
× 4 bytes) is under :data:`FULL_GRAPH_BYTES`, else sampled. The row records which one ran.

GCN: PyG's ``GCNConv`` would normalise by degrees counted in the sampled subgraph; a plain
GCN without a soft mask instead propagates with the kept graph's degrees and the
neighbour-sampling estimator (:mod:`graphsparse.gnn.train.sampled_gcn`), so at fan-out ``-1``
its seed outputs equal full batch, as SAGE's, GIN's and GAT's do. Under a soft mask (UGS's
search) GCN keeps PyG's sampled normalisation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.nn import MessagePassing

from graphsparse.checks import check_choice, check_int
from graphsparse.gnn.edges import TrainableEdgeMask, edge_mask as attach_edge_mask
from graphsparse.gnn.sampling import check_fanouts
from graphsparse.gnn.train import distributed
from graphsparse.gnn.train.hooks import StepContext
from graphsparse.gnn.train.metrics import task_loss
from graphsparse.gnn.train.sampled_gcn import GlobalGCNNorm
from graphsparse.devices import model_device
from graphsparse.gnn.train.tasks import (
    LinkTask,
    NodeTask,
    Task,
    check_task_inputs,
    link_loss,
    spmm_propagation,
)

__all__ = ["EVALUATIONS", "FULL_GRAPH_BYTES", "MiniBatch", "MiniBatchLinkTask",
           "MiniBatchNodeTask", "gather_rows", "make_minibatch_task"]

#: The evaluation choices of :class:`MiniBatch`.
EVALUATIONS = ("auto", "full-graph", "sampled")
#: ``"auto"`` evaluation runs full-graph below this estimated message memory (bytes).
FULL_GRAPH_BYTES = 2 * 1024 ** 3


@dataclass(frozen=True)
class MiniBatch:
    """Mini-batch training settings.

    Args:
        batch_size: seed nodes (node tasks) or positive edges (link tasks) per step, int >= 1.
        num_neighbors: one fan-out per message-passing layer, each ``-1`` (all kept in-neighbours)
            or an int >= 0.
        evaluation: ``"auto"``, ``"full-graph"`` or ``"sampled"`` (see the module documentation).

    Example:
        >>> MiniBatch(256, [10, 10]).config()
        {'batch_size': 256, 'num_neighbors': [10, 10], 'evaluation': 'auto'}
    """

    batch_size: int
    num_neighbors: tuple[int, ...]
    evaluation: str = "auto"

    def __post_init__(self) -> None:
        check_int(self.batch_size, "batch_size", low=1)
        object.__setattr__(self, "num_neighbors", tuple(check_fanouts(self.num_neighbors)))
        check_choice(self.evaluation, "evaluation", EVALUATIONS)

    def config(self) -> dict[str, Any]:
        """The settings as JSON values (part of a sweep's configuration identity)."""
        return {"batch_size": self.batch_size, "num_neighbors": list(self.num_neighbors),
                "evaluation": self.evaluation}

    def check_model(self, model: nn.Module) -> None:
        """``ValueError`` unless there is one fan-out per message-passing layer of ``model``."""
        layers = sum(isinstance(m, MessagePassing) for m in model.modules())
        if len(self.num_neighbors) != layers:
            raise ValueError(f"num_neighbors has {len(self.num_neighbors)} fan-outs but the "
                             f"model has {layers} message-passing layers; give one per layer")


def gather_rows(x: Tensor, index: Tensor) -> Tensor:
    """Rows ``index`` of ``x`` (dense, or sparse CSR kept sparse), without copying ``x``.

    >>> gather_rows(torch.eye(3).to_sparse_csr(), torch.tensor([2, 0])).to_dense()
    tensor([[0., 0., 1.],
            [1., 0., 0.]])
    """
    if x.layout != torch.sparse_csr:
        return x[index]
    crow, col, values = x.crow_indices(), x.col_indices(), x.values()
    starts, lengths = crow[index], crow[index + 1] - crow[index]
    new_crow = torch.zeros(index.numel() + 1, dtype=crow.dtype)
    torch.cumsum(lengths, 0, out=new_crow[1:])
    total = int(new_crow[-1])
    offsets = torch.arange(total, dtype=crow.dtype) \
        - torch.repeat_interleave(new_crow[:-1], lengths)
    positions = torch.repeat_interleave(starts, lengths) + offsets
    with torch.sparse.check_sparse_tensor_invariants(enable=False):  # explicit: no warning
        return torch.sparse_csr_tensor(new_crow, col[positions], values[positions],
                                       size=(index.numel(), x.size(1)))


class _Sampled:
    """What both mini-batch tasks share: the kept-edge sampler, per-batch masks, seed shards and
    sampled inference over all nodes."""

    minibatch: MiniBatch

    def _setup_sampling(self, model: nn.Module, minibatch: MiniBatch, seed: int) -> None:
        from graphsparse.gnn.sampling import neighbor_sampler

        minibatch.check_model(model)
        self.minibatch = minibatch
        edge_index = self.graph.edge_index.cpu()
        kept = self._sampled_edges()
        self.num_nodes = int(self.graph.num_nodes)
        edge_ids = torch.nonzero(kept).view(-1) if kept is not None else None
        graph = edge_index if edge_ids is None else edge_index[:, edge_ids]
        self.sampler = neighbor_sampler(graph, self.num_nodes, list(minibatch.num_neighbors),
                                        edge_ids=edge_ids, seed=seed)
        self.eval_seed = seed
        data = self.dataset.data
        self.features = data.x
        # The loader's graph: structure only; features are gathered by n_id (sparse stays sparse).
        self.loader_data = Data(edge_index=edge_index, num_nodes=self.num_nodes)
        self.evaluation = self._choose_evaluation(model, kept)
        self.gcn_norm = GlobalGCNNorm(graph, self.num_nodes) \
            if self.soft is None and GlobalGCNNorm.applies(model, graph) else None

    def _sampled_edges(self) -> Tensor | None:
        """The edges the sampler may draw (None: all)."""
        if self.keep is not None:
            return self.keep.cpu()
        if isinstance(self.soft, TrainableEdgeMask):
            return self.soft.kept_edges().detach().cpu()
        if self.soft is not None:
            return (self.soft.detach() != 0).cpu()
        return None

    def _choose_evaluation(self, model: nn.Module, kept: Tensor | None) -> str:
        choice = self.minibatch.evaluation
        if choice != "auto":
            return choice
        if spmm_propagation(model) and self.soft is None:
            return "full-graph"
        edges = int(kept.sum()) if kept is not None else self.graph.num_edges
        widest = max((p.size(0) for p in model.parameters() if p.dim() == 2), default=1)
        return "full-graph" if edges * widest * 4 <= FULL_GRAPH_BYTES else "sampled"

    def _batch_inputs(self, batch: Any) -> tuple[Tensor, Tensor]:
        """(features, edge_index) of a sampled batch on the task's device."""
        x = gather_rows(self.features, batch.n_id) if self.features is not None else None
        x = x.to(self.device) if x is not None else batch.n_id.to(self.device)
        return x, batch.edge_index.to(self.device)

    @contextlib.contextmanager
    def masked(self, model: nn.Module) -> Iterator[None]:
        yield  # a soft mask attaches per batch (_batch_mask) or for full-graph evaluation

    @contextlib.contextmanager
    def _batch_mask(self, model: nn.Module, e_id: Tensor) -> Iterator[None]:
        """Attach the soft mask gathered at the batch's global edge ids for the block."""
        if self.soft is None:
            yield
            return
        e_id = e_id.to(self.device)
        values = self.soft.gather(e_id) if isinstance(self.soft, TrainableEdgeMask) \
            else self.soft[e_id]
        with attach_edge_mask(model, values, self.mode):
            yield

    def _forward(self, model: nn.Module, batch: Any) -> Tensor:
        x, edge_index = self._batch_inputs(batch)
        if self.gcn_norm is not None:  # GCN with the kept graph's degrees (sampled_gcn)
            edge_index, weights = self.gcn_norm.batch_weights(batch.n_id, batch.edge_index)
            with GlobalGCNNorm.attached(model, weights.to(self.device)):
                return model(x, edge_index.to(self.device))
        with self._batch_mask(model, batch.e_id):
            return model(x, edge_index)

    def _node_loader(self, seeds: Tensor) -> Any:
        from torch_geometric.loader import NodeLoader

        return NodeLoader(self.loader_data, node_sampler=self.sampler, input_nodes=seeds,
                          batch_size=self.minibatch.batch_size, shuffle=False)

    @contextlib.contextmanager
    def _evaluation_draws(self) -> Iterator[None]:
        """The sampler draws from ``eval_seed`` in the block, and its training state is put
        back afterwards (PyG's backends draw from the global RNG, forked by the trainer)."""
        generator = getattr(self.sampler, "generator", None)
        if not isinstance(generator, torch.Generator):
            yield
            return
        state = generator.get_state()
        generator.manual_seed(self.eval_seed)
        try:
            yield
        finally:
            generator.set_state(state)

    @torch.no_grad()
    def predict(self, model: nn.Module) -> Tensor:
        """Every node's output: the full-batch task's forward (``"full-graph"``, with a soft
        mask attached over the whole graph) or :meth:`sampled_outputs`."""
        if self.evaluation == "full-graph":
            with Task.masked(self, model):
                return super().predict(model)
        return self.sampled_outputs(model, torch.arange(self.num_nodes))

    @torch.no_grad()
    def sampled_outputs(self, model: nn.Module, nodes: Tensor) -> Tensor:
        """Outputs of ``nodes`` from sampled neighbourhoods, batch by batch (eval mode)."""
        model.eval()
        with self._evaluation_draws():
            return torch.cat([self._forward(model, batch)[: batch.batch_size]
                              for batch in self._node_loader(nodes)])


class MiniBatchNodeTask(_Sampled, NodeTask):
    """Node classification on sampled mini-batches (see the module documentation)."""

    def __init__(self, *args: Any, model: nn.Module, minibatch: MiniBatch, seed: int,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup_sampling(model, minibatch, seed)
        self.train_nodes = self.index["train"].cpu()
        distributed.shard(self.train_nodes, what="training nodes")  # fails early if too many ranks

    def train_epoch(self, model, optimizer, hooks, epoch, clamp) -> float:
        model.train()
        order = self.train_nodes[torch.randperm(self.train_nodes.numel(),
                                                generator=self.generator)]
        losses = []
        for step, batch in enumerate(self._node_loader(distributed.shard(order))):
            optimizer.zero_grad()
            seeds = batch.n_id[: batch.batch_size]
            out = self._forward(model, batch)[: batch.batch_size]
            y = self.y[seeds.to(self.device)]
            loss = task_loss(self.dataset.target, out, y)
            ctx = StepContext(model, "node", epoch, step, out, y, loss,
                              {"edge_index": batch.edge_index, "index": None,
                               "seeds": seeds, "n_id": batch.n_id, "e_id": batch.e_id},
                              self.mask)
            losses.append(self._step(model, optimizer, hooks, ctx, clamp))
        return sum(losses) / max(len(losses), 1)


class MiniBatchLinkTask(_Sampled, LinkTask):
    """Link prediction on sampled mini-batches of positive edges with PyG's binary negatives."""

    own_negatives = False

    def __init__(self, *args: Any, model: nn.Module, minibatch: MiniBatch, seed: int,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup_sampling(model, minibatch, seed)
        distributed.shard(torch.arange(self.pos_train.size(1)), what="training edges")

    def _edge_loader(self, pairs: Tensor) -> Any:
        from torch_geometric.loader import LinkLoader
        from torch_geometric.sampler import NegativeSampling

        return LinkLoader(self.loader_data, link_sampler=self.sampler, edge_label_index=pairs,
                          neg_sampling=NegativeSampling("binary", amount=1),
                          batch_size=self.minibatch.batch_size, shuffle=False)

    def train_epoch(self, model, optimizer, hooks, epoch, clamp) -> float:
        model.train()
        order = torch.randperm(self.pos_train.size(1), generator=self.generator)
        pairs = self.pos_train[:, distributed.shard(order, what="training edges")]
        losses = []
        for step, batch in enumerate(self._edge_loader(pairs)):
            optimizer.zero_grad()
            h = self._forward(model, batch)
            label_index = batch.edge_label_index.to(self.device)
            out = distributed.unwrap(model).decode(h, label_index)
            target = batch.edge_label.to(out.dtype).to(self.device)
            loss = link_loss(out, int((target > 0).sum()))  # PyG puts the positives first
            global_pairs = batch.n_id.to(self.device)[label_index]
            ctx = StepContext(model, "link", epoch, step, out, target, loss,
                              {"edge_index": batch.edge_index, "pairs": global_pairs,
                               "n_id": batch.n_id, "e_id": batch.e_id, "embeddings": h},
                              self.mask)
            losses.append(self._step(model, optimizer, hooks, ctx, clamp))
        return sum(losses) / max(len(losses), 1)


def make_minibatch_task(model: nn.Module, dataset: Any, edge_mask: Any, mode: str, seed: int,
                        minibatch: MiniBatch) -> Task:
    """The mini-batch task of a node or link ``dataset`` for ``model``'s device under
    ``edge_mask``/``mode``: the sampler, the seed order and the evaluation draw from generators
    seeded with ``seed``."""
    check_task_inputs(model, dataset, None)
    if not isinstance(minibatch, MiniBatch):
        raise TypeError(f"minibatch must be a MiniBatch, got {type(minibatch).__name__}")
    if dataset.task == "graph":
        raise ValueError("minibatch (neighbour sampling) applies to node and link tasks; "
                         f"{dataset.name} is a graph task, batched by graphs (batch_size)")
    task_class = MiniBatchNodeTask if dataset.task == "node" else MiniBatchLinkTask
    generator = torch.Generator().manual_seed(seed)
    return task_class(dataset, edge_mask, mode, model_device(model), None, generator,
                      spmm=spmm_propagation(model), model=model, minibatch=minibatch, seed=seed)
