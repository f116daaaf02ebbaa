"""Neighbour sampling for mini-batch GNN training on (pruned) graphs.

:func:`neighbor_sampler` builds a PyG :class:`~torch_geometric.sampler.BaseSampler` over the
*kept* edges of a graph that returns **global** edge ids (so ``batch.e_id`` indexes the caller's
full graph and its edge masks) and plugs into PyG's ``NodeLoader`` / ``LinkLoader``. It is PyG's
own ``NeighborSampler`` when ``pyg-lib`` or ``torch-sparse`` is installed, else graphsparse's
vectorised :class:`CSRNeighborSampler` (same directional semantics); :func:`sampler_backend` says
which. See :mod:`graphsparse.gnn.sampling.neighbor` for the exact semantics.

Randomness: the graphsparse backend draws from its own generator, seeded with ``seed``; PyG's
backends draw from torch's global RNG, which callers seed (``torch.manual_seed``) — this module
never seeds it. PyG's negative sampling (``LinkLoader``) always draws from the global RNG.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch_geometric.typing
from torch import Tensor
from torch_geometric.sampler import BaseSampler

from graphsparse.checks import check_int
from graphsparse.gnn.sampling.neighbor import (
    CSRNeighborSampler,
    _GlobalIdNeighborSampler,
    check_fanouts,
    check_sampler_graph,
)

__all__ = [
    "CSRNeighborSampler",
    "check_fanouts",
    "check_sampler_graph",
    "neighbor_sampler",
    "sampler_backend",
]


def sampler_backend() -> str:
    """Which backend neighbour sampling uses: ``"pyg-lib"``, ``"torch-sparse"`` or
    ``"graphsparse"`` (neither PyG extension installed).

    Example:
        >>> sampler_backend() in ("pyg-lib", "torch-sparse", "graphsparse")
        True
    """
    if torch_geometric.typing.WITH_PYG_LIB:
        return "pyg-lib"
    if torch_geometric.typing.WITH_TORCH_SPARSE:
        return "torch-sparse"
    return "graphsparse"


def neighbor_sampler(edge_index: Tensor, num_nodes: int, num_neighbors: Sequence[int], *,
                     edge_ids: Tensor | None = None, seed: int = 0) -> BaseSampler:
    """A directional neighbour sampler over ``edge_index`` returning global edge ids.

    Args:
        edge_index: ``[2, E]`` source → target edges to sample from (the kept edges).
        num_nodes: number of nodes, int >= 1.
        num_neighbors: one fan-out per hop, each ``-1`` (all in-neighbours) or ``>= 0``.
        edge_ids: ``[E]`` global id of each edge in the full graph (default ``arange(E)``).
        seed: seed (int >= 0) of the graphsparse backend's generator; PyG's backends ignore
            it and draw from torch's global RNG (seed it with ``torch.manual_seed``).

    Returns a :class:`CSRNeighborSampler` when :func:`sampler_backend` is ``"graphsparse"``,
    else PyG's ``NeighborSampler`` wrapped to return global edge ids with
    ``edge_permutation`` ``None``.

    Example:
        >>> from torch_geometric.sampler import NodeSamplerInput
        >>> s = neighbor_sampler(torch.tensor([[1, 2], [0, 0]]), 3, [-1],
        ...                      edge_ids=torch.tensor([5, 9]))
        >>> out = s.sample_from_nodes(NodeSamplerInput(None, torch.tensor([0])))
        >>> sorted(out.edge.tolist()), s.edge_permutation is None
        ([5, 9], True)
    """
    seed = check_int(seed, "seed", low=0)
    if sampler_backend() == "graphsparse":
        return CSRNeighborSampler(edge_index, num_nodes, num_neighbors, edge_ids=edge_ids,
                                  generator=torch.Generator().manual_seed(seed))
    return _GlobalIdNeighborSampler(edge_index, num_nodes, num_neighbors, edge_ids=edge_ids)
