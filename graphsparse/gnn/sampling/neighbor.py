"""A vectorised CSR (CSC) neighbour sampler that plugs into PyG's loaders.

PyG's ``NeighborSampler`` samples through ``pyg-lib`` or ``torch-sparse``; where neither is
installed it cannot sample at all. :class:`CSRNeighborSampler` implements PyG's
:class:`~torch_geometric.sampler.BaseSampler` in plain torch, so PyG's
``torch_geometric.loader.NodeLoader`` and ``LinkLoader`` drive it unchanged: feature gathering
(``filter_data``), ``n_id``/``e_id`` and negative sampling stay PyG's.

Semantics (PyG's *directional* sampling, the same as ``pyg-lib``'s ``neighbor_sample`` with
``csc=True, directed=True, disjoint=False, return_edge_id=True``):

* messages flow source → target (``edge_index[0]`` → ``edge_index[1]``), so a node's
  neighbourhood is its **in-edges**;
* ``node`` starts with the seeds in the given order; hop ``i`` with fan-out ``k`` takes, for
  every node added by the previous hop (hop 0: the seeds), all its in-edges when ``k == -1`` or
  its in-degree is ``<= k``, else ``k`` distinct in-edges uniformly at random (Floyd's
  algorithm, as ``pyg-lib``). With ``replace=True`` a node with in-edges gets exactly ``k``
  draws with replacement, even when its in-degree is ``<= k`` (as ``pyg-lib``);
* sources not yet in ``node`` are appended in order of first appearance; ``row``/``col`` are
  local indices into ``node`` (``col`` the target), grouped by target in frontier order;
* ``edge`` holds **global** edge ids: the sampler is built on the kept edges of a (pruned) graph
  with ``edge_ids`` naming each kept edge's id in the caller's full graph, and
  :attr:`~CSRNeighborSampler.edge_permutation` is ``None``, so PyG's ``filter_data`` gathers
  edge attributes of the full ``Data`` by global id and ``batch.e_id`` is global. A removed edge
  is never sampled and a fan-out counts kept neighbours only.

Randomness: every draw comes from the sampler's own ``generator`` (same seed, same batches, for
any thread count). PyG's negative sampling in ``LinkLoader`` draws from torch's *global* RNG:
seed it with ``torch.manual_seed``. In ``DataLoader`` worker processes the generator is reseeded
once per worker from its own seed and the worker's seed (``get_worker_info().seed``), so
workers do not repeat each other's draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils import data as torch_data
from torch_geometric.sampler import (
    BaseSampler,
    EdgeSamplerInput,
    NegativeSampling,
    NeighborSampler,
    NodeSamplerInput,
    SamplerOutput,
)
from torch_geometric.sampler.neighbor_sampler import edge_sample, node_sample

from graphsparse.checks import check_bool, check_edge_index, check_int

__all__ = ["CSRNeighborSampler", "check_fanouts", "check_sampler_graph"]


def check_fanouts(num_neighbors: Any, name: str = "num_neighbors") -> list[int]:
    """A non-empty list of fan-outs, each ``-1`` (all in-neighbours) or an int ``>= 0``.

    Example:
        >>> check_fanouts((15, -1))
        [15, -1]
        >>> check_fanouts([-2])
        Traceback (most recent call last):
        ...
        ValueError: num_neighbors[0] must be an int >= -1, got -2
    """
    if isinstance(num_neighbors, (str, bytes)) or not isinstance(num_neighbors, Sequence):
        raise TypeError(f"{name} must be a non-empty list of fan-outs (one per hop, each -1 or "
                        f">= 0), got {num_neighbors!r}")
    if len(num_neighbors) == 0:
        raise ValueError(f"{name} must be a non-empty list of fan-outs (one per hop, each -1 "
                         f"or >= 0), got {num_neighbors!r}")
    return [check_int(k, f"{name}[{i}]", low=-1) for i, k in enumerate(num_neighbors)]


def check_sampler_graph(edge_index: Any, num_nodes: Any, edge_ids: Any = None
                        ) -> tuple[Tensor, int, Tensor]:
    """``(edge_index, num_nodes, edge_ids)`` checked, as plain int64 tensors.

    ``edge_ids`` defaults to ``arange(E)``; it must be a 1-D integer tensor of ``E``
    non-negative ids.

    Example:
        >>> ei, n, ids = check_sampler_graph(torch.tensor([[0, 1], [1, 2]]), 3)
        >>> n, ids.tolist()
        (3, [0, 1])
    """
    num_nodes = check_int(num_nodes, "num_nodes", low=1)
    edge_index = check_edge_index(edge_index, num_nodes)
    edge_index = edge_index.as_subclass(Tensor).detach().cpu().long().contiguous()
    num_edges = edge_index.size(1)
    if edge_ids is None:
        return edge_index, num_nodes, torch.arange(num_edges)
    if not isinstance(edge_ids, Tensor):
        raise TypeError(f"edge_ids must be an int64 tensor of shape [E] = [{num_edges}], got "
                        f"{type(edge_ids).__name__}")
    dtype = edge_ids.dtype
    if dtype.is_floating_point or dtype.is_complex or dtype == torch.bool:
        raise TypeError(f"edge_ids must be an int64 tensor, got dtype {dtype}")
    if tuple(edge_ids.shape) != (num_edges,):
        raise ValueError(f"edge_ids must have shape [E] = [{num_edges}] (one global id per "
                         f"column of edge_index), got {tuple(edge_ids.shape)}")
    edge_ids = edge_ids.as_subclass(Tensor).detach().cpu().long().contiguous()
    if num_edges and int(edge_ids.min()) < 0:
        raise ValueError(f"edge_ids must be >= 0, got min {int(edge_ids.min())}")
    return edge_index, num_nodes, edge_ids


def _segments(counts: Tensor) -> tuple[Tensor, Tensor]:
    """For per-segment ``counts``: the segment of every slot and the slot's rank within it."""
    seg = torch.repeat_interleave(counts)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(seg.numel()) - starts.index_select(0, seg)
    return seg, rank


class CSRNeighborSampler(BaseSampler):
    """PyG-compatible neighbour sampler over a CSC of the kept edges (see the module doc).

    Args:
        edge_index: ``[2, E]`` integer tensor, source → target, of the edges to sample from.
        num_nodes: number of nodes ``N`` of the graph, int >= 1.
        num_neighbors: one fan-out per hop (message-passing layer), each ``-1`` (all) or
            ``>= 0``.
        edge_ids: ``[E]`` global id of each edge in the caller's full graph (default
            ``arange(E)``); returned in ``SamplerOutput.edge`` and thus in ``batch.e_id``.
        generator: the random stream of the sampler (default ``Generator().manual_seed(0)``).
        replace: draw ``k`` in-edges with replacement instead of ``k`` distinct ones.

    Attributes: ``colptr`` ``[N+1]``, ``row`` ``[E]`` (sources) and ``eid`` ``[E]`` (global ids)
    of the CSC, edges grouped by target in their given order; ``num_nodes``,
    ``num_neighbors``, ``generator``, ``replace``.

    Example:
        >>> from torch_geometric.sampler import NodeSamplerInput
        >>> ei = torch.tensor([[1, 2, 3, 0], [0, 0, 0, 3]])  # in-edges of 0: 1, 2, 3
        >>> s = CSRNeighborSampler(ei, 4, [-1, -1], edge_ids=torch.tensor([10, 11, 12, 13]))
        >>> out = s.sample_from_nodes(NodeSamplerInput(None, torch.tensor([0])))
        >>> out.node.tolist(), out.edge.tolist(), out.num_sampled_nodes, out.num_sampled_edges
        ([0, 1, 2, 3], [10, 11, 12, 13], [1, 3, 0], [3, 1])
        >>> out.row.tolist(), out.col.tolist()
        ([1, 2, 3, 0], [0, 0, 0, 3])
    """

    def __init__(self, edge_index: Tensor, num_nodes: int, num_neighbors: Sequence[int], *,
                 edge_ids: Tensor | None = None, generator: torch.Generator | None = None,
                 replace: bool = False) -> None:
        edge_index, num_nodes, edge_ids = check_sampler_graph(edge_index, num_nodes, edge_ids)
        self.num_neighbors = check_fanouts(num_neighbors)
        self.replace = check_bool(replace, "replace")
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        elif not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got "
                            f"{type(generator).__name__}")
        elif generator.device.type != "cpu":
            raise ValueError(f"generator must be a CPU torch.Generator, got device "
                             f"{generator.device}")
        self.generator = generator
        self.num_nodes = num_nodes

        src, dst = edge_index[0], edge_index[1]
        if dst.numel() > 1 and not bool((dst[1:] >= dst[:-1]).all()):
            order = torch.sort(dst, stable=True).indices
            src, dst, edge_ids = src[order], dst[order], edge_ids[order]
        del edge_index
        self.colptr = torch.zeros(num_nodes + 1, dtype=torch.long)
        torch.cumsum(torch.bincount(dst, minlength=num_nodes), 0, out=self.colptr[1:])
        self.row = src.contiguous()
        self.eid = edge_ids.contiguous()
        # Reusable global -> local map (-1: not sampled); only touched entries are reset.
        self._local = torch.full((num_nodes,), -1, dtype=torch.long)
        self._worker_seed: int | None = None

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(num_nodes={self.num_nodes}, "
                f"num_edges={self.row.numel()}, num_neighbors={self.num_neighbors}, "
                f"replace={self.replace})")

    @property
    def edge_permutation(self) -> None:
        """``None``: ``SamplerOutput.edge`` already holds global edge ids."""
        return None

    def sample_from_nodes(self, inputs: NodeSamplerInput, **kwargs: Any) -> SamplerOutput:
        """Sample around ``inputs.node`` (PyG's ``node_sample``; ``metadata`` = (input_id,
        time)).

        Example:
            >>> from torch_geometric.sampler import NodeSamplerInput
            >>> s = CSRNeighborSampler(torch.tensor([[1, 2], [0, 0]]), 3, [1])
            >>> out = s.sample_from_nodes(NodeSamplerInput(torch.tensor([7]), torch.tensor([0])))
            >>> out.node.numel(), out.edge.numel(), out.metadata[0].tolist()
            (2, 1, [7])
        """
        return node_sample(inputs, self._sample)

    def sample_from_edges(self, inputs: EdgeSamplerInput,
                          neg_sampling: NegativeSampling | None = None) -> SamplerOutput:
        """Sample around the endpoints of ``inputs`` (PyG's ``edge_sample``).

        Negatives (``neg_sampling``) are PyG's and draw from torch's global RNG: seed it with
        ``torch.manual_seed`` for reproducible negatives.

        Example:
            >>> from torch_geometric.sampler import EdgeSamplerInput
            >>> s = CSRNeighborSampler(torch.tensor([[1, 2], [0, 0]]), 3, [-1])
            >>> out = s.sample_from_edges(EdgeSamplerInput(None, torch.tensor([1]),
            ...                                            torch.tensor([0])))
            >>> out.node.tolist(), out.metadata[1].tolist()  # seeds are sorted, unique
            ([0, 1, 2], [[1], [0]])
        """
        return edge_sample(inputs, self._sample, self.num_nodes, False, None, neg_sampling)

    # Sampling ###################################################################################

    def _check_seed(self, seed: Any) -> Tensor:
        if not isinstance(seed, Tensor) or seed.dim() != 1 or seed.dtype.is_floating_point \
                or seed.dtype.is_complex or seed.dtype == torch.bool:
            raise TypeError(f"seed must be a 1-D integer tensor of node ids, got "
                            f"{seed!r:.80}")
        seed = seed.as_subclass(Tensor).cpu().long()
        if seed.numel() and (int(seed.min()) < 0 or int(seed.max()) >= self.num_nodes):
            raise ValueError(f"seed node ids must lie in [0, {self.num_nodes}) (num_nodes "
                             f"{self.num_nodes}), got min {int(seed.min())}, max "
                             f"{int(seed.max())}")
        return seed

    def _reseed_for_worker(self) -> None:
        info = torch_data.get_worker_info()
        if info is not None and info.seed != self._worker_seed:
            self._worker_seed = info.seed
            mixed = (self.generator.initial_seed() * 0x9E3779B97F4A7C15 + info.seed) % (2 ** 63)
            self.generator.manual_seed(mixed)

    def _pick(self, deg: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """For frontier nodes of in-degree ``deg`` and fan-out ``k``: the frontier position of
        every picked in-edge and its offset within the node's CSC slice, grouped by node."""
        if k <= 0:
            return _segments(deg if k < 0 else torch.zeros_like(deg))
        sampled = deg > 0 if self.replace else deg > k
        seg, offset = _segments(torch.where(sampled, k, 0 if self.replace else deg))
        d = torch.masked_select(deg, sampled)
        if d.numel() == 0:
            return seg, offset
        rand = torch.rand(d.numel(), k, dtype=torch.float64, generator=self.generator)
        if self.replace:  # k independent uniform draws from range(d); every slot is drawn
            picks = torch.minimum((rand * d.unsqueeze(1)).long(), (d - 1).unsqueeze(1))
            return seg, picks.view(-1)
        picks = torch.empty(d.numel(), k, dtype=torch.long)
        for i in range(k):  # Floyd's algorithm: a uniformly random k-subset of range(d)
            j = d - (k - i)
            t = torch.minimum((rand[:, i] * (j + 1)).long(), j)
            if i:
                t = torch.where((picks[:, :i] == t.unsqueeze(1)).any(1), j, t)
            picks[:, i] = t
        offset.masked_scatter_(sampled.index_select(0, seg), picks)
        return seg, offset

    def _sample(self, seed: Tensor, seed_time: Tensor | None = None, **kwargs: Any
                ) -> SamplerOutput:
        """One directional neighbour sample around ``seed`` (unique node ids), see the module
        documentation; ``SamplerOutput.edge`` holds global edge ids.

        Example:
            >>> s = CSRNeighborSampler(torch.tensor([[1, 2, 0], [0, 0, 1]]), 3, [-1, 0])
            >>> out = s._sample(torch.tensor([0]))
            >>> out.node.tolist(), out.num_sampled_nodes, out.num_sampled_edges
            ([0, 1, 2], [1, 2, 0], [2, 0])
        """
        if seed_time is not None:
            raise ValueError("CSRNeighborSampler does not support temporal sampling (got "
                             "seed_time); pass no time attribute / input_time")
        seed = self._check_seed(seed)
        self._reseed_for_worker()
        local = self._local
        n_seed = seed.numel()
        local.index_copy_(0, seed, torch.arange(n_seed))
        if n_seed and not bool((local.index_select(0, seed) == torch.arange(n_seed)).all()):
            local.index_fill_(0, seed, -1)
            raise ValueError("seed node ids must be unique (PyG's non-disjoint sampling); got "
                             "duplicates")
        nodes, rows, cols, edges = [seed], [], [], []
        num_sampled_nodes, num_sampled_edges = [n_seed], []
        frontier, begin, total = seed, 0, n_seed
        pending: Tensor | None = None
        try:
            for k in self.num_neighbors:
                start = self.colptr.index_select(0, frontier)
                deg = self.colptr.index_select(0, frontier + 1) - start
                seg, offset = self._pick(deg, k)
                pos = start.index_select(0, seg) + offset
                src = self.row.index_select(0, pos)
                src_local = local.index_select(0, src)
                new = src_local < 0
                cand = pending = torch.masked_select(src, new)
                if cand.numel():
                    # First appearance of each new source, in edge order.
                    order = torch.arange(cand.numel())
                    local.index_fill_(0, cand, cand.numel())
                    local.scatter_reduce_(0, cand, order, "amin")
                    fresh = torch.masked_select(cand, local.index_select(0, cand) == order)
                    local.index_copy_(0, fresh, torch.arange(total, total + fresh.numel()))
                    src_local.masked_scatter_(new, local.index_select(0, cand))
                else:
                    fresh = cand
                nodes.append(fresh)
                pending = None
                rows.append(src_local)
                cols.append(seg + begin)
                edges.append(self.eid.index_select(0, pos))
                num_sampled_nodes.append(fresh.numel())
                num_sampled_edges.append(pos.numel())
                begin, total, frontier = total, total + fresh.numel(), fresh
        finally:  # reset only the touched entries of the reusable map
            for part in nodes if pending is None else nodes + [pending]:
                local.index_fill_(0, part, -1)
        return SamplerOutput(
            node=torch.cat(nodes),
            row=torch.cat(rows),
            col=torch.cat(cols),
            edge=torch.cat(edges),
            batch=None,
            num_sampled_nodes=num_sampled_nodes,
            num_sampled_edges=num_sampled_edges,
        )


class _GlobalIdNeighborSampler(NeighborSampler):
    """PyG's own ``NeighborSampler`` (``pyg-lib``/``torch-sparse``) returning global edge ids.

    Built on ``Data(edge_index=edge_index, num_nodes=num_nodes)`` of the kept edges; its output
    ``edge`` (a position in PyG's CSC) is mapped to ``edge_ids[perm[edge]]`` and
    :attr:`edge_permutation` is ``None``, so batches carry global ``e_id`` exactly as with
    :class:`CSRNeighborSampler`. PyG's backends draw from torch's global RNG (seed it with
    ``torch.manual_seed``).
    """

    def __init__(self, edge_index: Tensor, num_nodes: int, num_neighbors: Sequence[int], *,
                 edge_ids: Tensor | None = None) -> None:
        from torch_geometric.data import Data

        edge_index, num_nodes, edge_ids = check_sampler_graph(edge_index, num_nodes, edge_ids)
        super().__init__(Data(edge_index=edge_index, num_nodes=num_nodes),
                         check_fanouts(num_neighbors))
        self.edge_ids = edge_ids

    def _global(self, out: SamplerOutput) -> SamplerOutput:
        if out.edge is not None:
            edge = out.edge.long()
            out.edge = self.edge_ids[self.perm[edge] if self.perm is not None else edge]
        return out

    def sample_from_nodes(self, inputs: NodeSamplerInput, **kwargs: Any) -> SamplerOutput:
        """PyG's node sampling, with global ids in ``edge``."""
        return self._global(super().sample_from_nodes(inputs))

    def sample_from_edges(self, inputs: EdgeSamplerInput,
                          neg_sampling: NegativeSampling | None = None) -> SamplerOutput:
        """PyG's edge sampling, with global ids in ``edge``."""
        return self._global(super().sample_from_edges(inputs, neg_sampling))

    @property
    def edge_permutation(self) -> None:
        """``None``: ``edge`` already holds global edge ids."""
        return None
