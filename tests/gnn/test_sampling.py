"""Tests of graphsparse.gnn.sampling: the CSR neighbour sampler against a brute-force reference.

Small random directed graphs (coalesced, with self-loops, isolated nodes and nodes without
in-edges) are pruned by passing only the kept edges with their global ids; every output is
checked edge by edge against the full graph, hop by hop against PyG's directional semantics, and
inside PyG's own ``NodeLoader`` / ``LinkLoader``.
"""

from __future__ import annotations

import itertools
import math
import time
import types
import warnings
from collections import Counter

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.loader import LinkLoader, NodeLoader
from torch_geometric.sampler import EdgeSamplerInput, NegativeSampling, NodeSamplerInput
from torch_geometric.utils import coalesce

from graphsparse.gnn.sampling import (
    CSRNeighborSampler,
    neighbor,
    neighbor_sampler,
    sampler_backend,
)
from graphsparse.gnn.sampling.neighbor import _GlobalIdNeighborSampler


def random_graph(seed: int, num_nodes: int = 40, num_edges: int = 260, keep: float = 0.7):
    """(full edge_index in random column order, kept global ids, num_nodes).

    Nodes ``num_nodes - 4 ..`` are isolated; node 0 has no in-edges; node 1 has many.
    """
    g = torch.Generator().manual_seed(seed)
    active = num_nodes - 4
    src = torch.randint(active, (num_edges,), generator=g)
    dst = torch.randint(1, active, (num_edges,), generator=g)
    dst[: num_edges // 6] = 1  # a high in-degree node
    ei = coalesce(torch.stack([src, dst]), num_nodes=num_nodes)
    ei = ei[:, torch.randperm(ei.size(1), generator=g)]
    kept = torch.nonzero(torch.rand(ei.size(1), generator=g) < keep).view(-1)
    return ei, kept, num_nodes


def in_edges(full_ei: torch.Tensor, kept: torch.Tensor) -> dict[int, set[int]]:
    """Target -> set of kept global edge ids pointing to it."""
    out: dict[int, set[int]] = {}
    for e in kept.tolist():
        out.setdefault(int(full_ei[1, e]), set()).add(e)
    return out


def check_output(out, seed, fanouts, full_ei, kept, *, replace=False):
    """Every property of PyG's directional sampling, checked against brute force."""
    node, row, col, edge = out.node, out.row, out.col, out.edge
    assert out.batch is None
    assert node.dtype == row.dtype == col.dtype == edge.dtype == torch.long
    assert node[: seed.numel()].tolist() == seed.tolist()
    assert node.unique().numel() == node.numel()
    # Every sampled edge is a kept edge of the full graph, with the right endpoints.
    assert set(edge.tolist()) <= set(kept.tolist())
    assert torch.equal(full_ei[:, edge], torch.stack([node[row], node[col]]))
    if out.num_sampled_nodes is None:  # torch-sparse reports no per-hop counts
        return
    assert len(out.num_sampled_nodes) == len(fanouts) + 1
    assert len(out.num_sampled_edges) == len(fanouts)
    assert out.num_sampled_nodes[0] == seed.numel()
    assert sum(out.num_sampled_nodes) == node.numel()
    assert sum(out.num_sampled_edges) == edge.numel() == row.numel() == col.numel()

    incoming = in_edges(full_ei, kept)
    node_cuts = [0] + list(itertools.accumulate(out.num_sampled_nodes))
    edge_cuts = [0] + list(itertools.accumulate(out.num_sampled_edges))
    for hop, k in enumerate(fanouts):
        lo, hi = edge_cuts[hop], edge_cuts[hop + 1]
        f_lo, f_hi = node_cuts[hop], node_cuts[hop + 1]
        h_row, h_col, h_edge = row[lo:hi], col[lo:hi], edge[lo:hi]
        # Targets are exactly the previous hop's nodes.
        assert bool(((h_col >= f_lo) & (h_col < f_hi)).all())
        for local in range(f_lo, f_hi):
            target = int(node[local])
            picked = h_edge[h_col == local].tolist()
            available = incoming.get(target, set())
            assert set(picked) <= available
            if k == -1:
                assert sorted(picked) == sorted(available)
            elif replace:
                assert len(picked) == (k if available else 0)
            else:
                assert len(picked) == min(k, len(available))
                assert len(set(picked)) == len(picked)
        # Nodes added at this hop: the new sources, in order of first appearance.
        known = set(node[:f_hi].tolist())
        fresh: list[int] = []
        for s in node[h_row].tolist():
            if s not in known:
                known.add(s)
                fresh.append(s)
        assert node[node_cuts[hop + 1]: node_cuts[hop + 2]].tolist() == fresh
        assert bool((h_row < node_cuts[hop + 2]).all())


def sample(sampler, seed):
    return sampler.sample_from_nodes(NodeSamplerInput(None, seed))


# Brute-force semantics #########################################################################


@pytest.mark.parametrize("graph_seed", range(6))
@pytest.mark.parametrize("fanouts", [[3, 2], [-1, -1], [1, 0, 2], [0], [5, -1, 2]])
def test_matches_directional_semantics(graph_seed, fanouts):
    full, kept, n = random_graph(graph_seed)
    sampler = CSRNeighborSampler(full[:, kept], n, fanouts, edge_ids=kept,
                                 generator=torch.Generator().manual_seed(graph_seed))
    g = torch.Generator().manual_seed(100 + graph_seed)
    for size in (1, 5, n):
        seed = torch.randperm(n, generator=g)[:size]
        for _ in range(3):
            check_output(sample(sampler, seed), seed, fanouts, full, kept)
    assert bool((sampler._local == -1).all())  # the reusable map is left clean


@pytest.mark.parametrize("graph_seed", range(3))
def test_replace_draws_k_with_replacement(graph_seed):
    full, kept, n = random_graph(graph_seed)
    sampler = CSRNeighborSampler(full[:, kept], n, [4, -1, 2], edge_ids=kept, replace=True)
    seed = torch.arange(n)
    out = sample(sampler, seed)
    check_output(out, seed, [4, -1, 2], full, kept, replace=True)
    assert out.edge[: out.num_sampled_edges[0]].unique().numel() < out.num_sampled_edges[0]


def test_removed_edges_never_sampled_and_sorted_input_is_fine():
    full, kept, n = random_graph(7)
    order = torch.argsort(full[1, kept], stable=True)  # already grouped by target
    sorted_ids = kept[order]
    sampler = CSRNeighborSampler(full[:, sorted_ids], n, [-1, -1], edge_ids=sorted_ids)
    seed = torch.arange(n)
    out = sample(sampler, seed)
    check_output(out, seed, [-1, -1], full, sorted_ids)
    assert sorted(out.edge[: out.num_sampled_edges[0]].tolist()) == sorted(kept.tolist())


def test_csc_layout_is_lean_and_stable():
    ei = torch.tensor([[3, 0, 2, 1, 4], [1, 2, 1, 0, 1]])
    s = CSRNeighborSampler(ei, 5, [1], edge_ids=torch.tensor([30, 31, 32, 33, 34]))
    assert s.colptr.tolist() == [0, 1, 4, 5, 5, 5]
    assert s.row.tolist() == [1, 3, 2, 4, 0]
    assert s.eid.tolist() == [33, 30, 32, 34, 31]
    assert s.colptr.dtype == s.row.dtype == s.eid.dtype == torch.long
    assert s.edge_permutation is None


def test_empty_graph_and_empty_seed():
    s = CSRNeighborSampler(torch.empty(2, 0, dtype=torch.long), 3, [2, -1])
    out = sample(s, torch.tensor([2, 0]))
    assert out.node.tolist() == [2, 0] and out.edge.numel() == 0
    assert out.num_sampled_nodes == [2, 0, 0] and out.num_sampled_edges == [0, 0]
    out = sample(s, torch.empty(0, dtype=torch.long))
    assert out.node.numel() == 0 and out.num_sampled_nodes == [0, 0, 0]


# Randomness ####################################################################################


def dense_graph(n=60, deg=25, seed=0):
    g = torch.Generator().manual_seed(seed)
    dst = torch.arange(n).repeat_interleave(deg)
    src = torch.stack([torch.randperm(n, generator=g)[:deg] for _ in range(n)]).view(-1)
    return torch.stack([src, dst]), n


def outputs_equal(a, b):
    return all(torch.equal(getattr(a, f), getattr(b, f)) for f in ("node", "row", "col", "edge")) \
        and a.num_sampled_nodes == b.num_sampled_nodes \
        and a.num_sampled_edges == b.num_sampled_edges


def test_same_seed_same_batches_different_seed_different():
    ei, n = dense_graph()
    seed = torch.tensor([0, 5, 9])

    def run(s):
        sampler = CSRNeighborSampler(ei, n, [5, 3], generator=torch.Generator().manual_seed(s))
        return [sample(sampler, seed) for _ in range(3)]

    first, again, other = run(1), run(1), run(2)
    assert all(outputs_equal(a, b) for a, b in zip(first, again))
    assert not outputs_equal(first[0], other[0])
    assert not outputs_equal(first[0], first[1])  # the stream advances between batches
    default = CSRNeighborSampler(ei, n, [5, 3])  # generator=None: seed 0
    assert outputs_equal(sample(default, seed), run(0)[0])


def test_neighbor_sampler_seeds_the_graphsparse_backend():
    ei, n = dense_graph()
    if sampler_backend() != "graphsparse":
        pytest.skip("PyG's backend draws from torch's global RNG")
    a = neighbor_sampler(ei, n, [4, 2], seed=3)
    b = neighbor_sampler(ei, n, [4, 2], seed=3)
    assert isinstance(a, CSRNeighborSampler)
    assert a.generator.initial_seed() == 3
    seed = torch.tensor([1, 2])
    assert outputs_equal(sample(a, seed), sample(b, seed))


def test_marginal_frequencies_are_k_over_degree():
    deg, k, draws = 20, 5, 2000
    ei = torch.stack([torch.arange(1, deg + 1), torch.zeros(deg, dtype=torch.long)])
    for replace in (False, True):
        s = CSRNeighborSampler(ei, deg + 1, [k], replace=replace,
                               generator=torch.Generator().manual_seed(11))
        counts = torch.zeros(deg)
        for _ in range(draws):
            counts += torch.bincount(sample(s, torch.tensor([0])).edge, minlength=deg)
        freq = counts / draws
        sd = math.sqrt(k / deg * (1 - k / deg) / draws)
        assert counts.sum() == k * draws
        assert bool(((freq - k / deg).abs() < 6 * sd).all()), freq


def test_subsets_are_uniform():
    """Floyd's algorithm: each of the C(4, 2) = 6 subsets with probability 1/6."""
    ei = torch.tensor([[1, 2, 3, 4], [0, 0, 0, 0]])
    s = CSRNeighborSampler(ei, 5, [2], generator=torch.Generator().manual_seed(5))
    draws = 3000
    seen = Counter(tuple(sorted(sample(s, torch.tensor([0])).edge.tolist()))
                   for _ in range(draws))
    assert set(seen) == set(itertools.combinations(range(4), 2))
    sd = math.sqrt(1 / 6 * 5 / 6 / draws)
    assert all(abs(c / draws - 1 / 6) < 6 * sd for c in seen.values()), seen


def test_worker_processes_get_distinct_streams(monkeypatch):
    ei, n = dense_graph()
    seed = torch.tensor([3, 4])
    outs = {}
    for worker_seed in (10, 11, 10):
        info = types.SimpleNamespace(id=worker_seed - 10, seed=worker_seed)
        monkeypatch.setattr(neighbor.torch_data, "get_worker_info", lambda info=info: info)
        s = CSRNeighborSampler(ei, n, [5], generator=torch.Generator().manual_seed(0))
        outs.setdefault(worker_seed, []).append(sample(s, seed))
    assert outputs_equal(*outs[10])
    assert not outputs_equal(outs[10][0], outs[11][0])


# PyG loaders ###################################################################################


def loader_data(full, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Data(x=torch.randn(n, 3, generator=g), edge_index=full,
                edge_attr=torch.arange(full.size(1), dtype=torch.float).view(-1, 1),
                num_nodes=n)


def check_batch_edges(batch, data, kept):
    assert set(batch.e_id.tolist()) <= set(kept.tolist())
    assert torch.equal(batch.x, data.x[batch.n_id])
    assert torch.equal(batch.edge_attr, data.edge_attr[batch.e_id])  # gathered by global id
    assert torch.equal(data.edge_index[:, batch.e_id], batch.n_id[batch.edge_index])


def test_node_loader():
    full, kept, n = random_graph(3)
    data = loader_data(full, n)
    sampler = CSRNeighborSampler(full[:, kept], n, [3, 2], edge_ids=kept)
    input_nodes = torch.tensor([5, 1, 0, 9, 36, 12, 7, 3, 22, 30, 2])
    loader = NodeLoader(data, node_sampler=sampler, input_nodes=input_nodes, batch_size=4)
    seen = []
    for batch in loader:
        check_batch_edges(batch, data, kept)
        assert batch.n_id[: batch.batch_size].tolist() \
            == input_nodes[batch.input_id].tolist()
        assert batch.num_sampled_nodes[0] == batch.batch_size
        seen += batch.input_id.tolist()
    assert seen == list(range(input_nodes.numel()))


def test_link_loader_binary_negatives():
    full, kept, n = random_graph(4)
    data = loader_data(full, n)
    positives = full[:, kept[:10]]

    def batches():
        sampler = CSRNeighborSampler(full[:, kept], n, [2, 2], edge_ids=kept)
        torch.manual_seed(0)  # PyG's negatives draw from the global RNG
        return list(LinkLoader(data, link_sampler=sampler, edge_label_index=positives,
                               neg_sampling=NegativeSampling("binary"), batch_size=4))

    first, again = batches(), batches()
    for batch, same in zip(first, again):
        assert torch.equal(batch.n_id, same.n_id)
        assert torch.equal(batch.edge_label_index, same.edge_label_index)
        check_batch_edges(batch, data, kept)
        num_pos = batch.input_id.numel()
        assert batch.edge_label.tolist() == [1.0] * num_pos + [0.0] * num_pos
        # edge_label_index is local to n_id: positives first, then negatives.
        pairs = batch.n_id[batch.edge_label_index]
        assert torch.equal(pairs[:, :num_pos], positives[:, batch.input_id])
        assert batch.edge_label_index.size(1) == 2 * num_pos
    assert sum(b.input_id.numel() for b in first) == positives.size(1)


def test_sample_from_edges_seeds_are_sorted_unique_endpoints():
    full, kept, n = random_graph(5)
    sampler = CSRNeighborSampler(full[:, kept], n, [2])
    row, col = torch.tensor([7, 3, 7]), torch.tensor([3, 9, 1])
    out = sampler.sample_from_edges(EdgeSamplerInput(None, row, col))
    seeds = torch.cat([row, col]).unique()
    assert out.node[: seeds.numel()].tolist() == seeds.tolist()
    assert torch.equal(out.node[out.metadata[1]], torch.stack([row, col]))


# PyG's backend, wrapped to global ids ##########################################################


def fake_pyg_sample(sampler):
    """A stand-in for pyg-lib: all in-edges of the seeds, as positions in PyG's CSC."""
    def _sample(seed, seed_time=None, **kwargs):
        node, row, col, edge = seed.tolist(), [], [], []
        for t_local, t in enumerate(seed.tolist()):
            for pos in range(int(sampler.colptr[t]), int(sampler.colptr[t + 1])):
                src = int(sampler.row[pos])
                if src not in node:
                    node.append(src)
                row.append(node.index(src))
                col.append(t_local)
                edge.append(pos)
        as_long = lambda v: torch.tensor(v, dtype=torch.long)  # noqa: E731
        return neighbor.SamplerOutput(node=as_long(node), row=as_long(row), col=as_long(col),
                                      edge=as_long(edge),
                                      num_sampled_nodes=[seed.numel(), len(node) - seed.numel()],
                                      num_sampled_edges=[len(edge)])
    return _sample


def test_pyg_wrapper_maps_csc_positions_to_global_ids():
    full, kept, n = random_graph(6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyG warns when pyg-lib is missing
        sampler = _GlobalIdNeighborSampler(full[:, kept], n, [-1], edge_ids=kept)
    assert sampler.perm is not None and sampler.edge_permutation is None
    sampler._sample = fake_pyg_sample(sampler)
    seed = torch.tensor([1, 4, 0])
    out = sampler.sample_from_nodes(NodeSamplerInput(None, seed))
    check_output(out, seed, [-1], full, kept)
    data = loader_data(full, n)
    for batch in NodeLoader(data, node_sampler=sampler, input_nodes=seed, batch_size=2):
        check_batch_edges(batch, data, kept)


@pytest.mark.skipif(sampler_backend() == "graphsparse",
                    reason="needs pyg-lib or torch-sparse (PyG's own sampler)")
def test_pyg_backend_returns_global_edge_ids():
    full, kept, n = random_graph(2)
    data = loader_data(full, n)
    sampler = neighbor_sampler(full[:, kept], n, [3, -1], edge_ids=kept, seed=0)
    assert not isinstance(sampler, CSRNeighborSampler) and sampler.edge_permutation is None
    torch.manual_seed(0)
    seed = torch.tensor([1, 4, 0, 9])
    check_output(sampler.sample_from_nodes(NodeSamplerInput(None, seed)), seed, [3, -1],
                 full, kept)
    for batch in NodeLoader(data, node_sampler=sampler, input_nodes=seed, batch_size=2):
        check_batch_edges(batch, data, kept)


# Bad input #####################################################################################


@pytest.mark.parametrize("fanouts, error, words", [
    ([3, -2], ValueError, "num_neighbors[1] must be an int >= -1"),
    ([], ValueError, "num_neighbors must be a non-empty list"),
    ([2, 1.5], TypeError, "num_neighbors[1] must be an int"),
    ([True], TypeError, "num_neighbors[0]"),
    (3, TypeError, "num_neighbors must be a non-empty list"),
])
def test_bad_fanouts(fanouts, error, words):
    ei = torch.tensor([[0], [1]])
    with pytest.raises(error) as info:
        CSRNeighborSampler(ei, 2, fanouts)
    assert words in str(info.value)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"edge_index": torch.tensor([[0, 1], [1, 5]])}, ValueError, "edge_index entries must lie"),
    ({"edge_index": torch.tensor([[0.0], [1.0]])}, TypeError, "edge_index must be an integer"),
    ({"edge_index": torch.tensor([0, 1])}, ValueError, "edge_index must have shape [2, E]"),
    ({"num_nodes": 0}, ValueError, "num_nodes must be an int >= 1"),
    ({"num_nodes": 2.0}, TypeError, "num_nodes must be an int"),
    ({"edge_ids": torch.tensor([0, 1])}, ValueError, "edge_ids must have shape [E] = [1]"),
    ({"edge_ids": torch.tensor([-1])}, ValueError, "edge_ids must be >= 0"),
    ({"edge_ids": torch.tensor([0.5])}, TypeError, "edge_ids must be an int64 tensor"),
    ({"generator": 3}, TypeError, "generator must be a torch.Generator"),
    ({"replace": 1}, TypeError, "replace must be True or False"),
])
def test_bad_graph(kwargs, error, words):
    args = {"edge_index": torch.tensor([[0], [1]]), "num_nodes": 2, "num_neighbors": [1],
            **kwargs}
    with pytest.raises(error) as info:
        CSRNeighborSampler(args.pop("edge_index"), args.pop("num_nodes"),
                           args.pop("num_neighbors"), **args)
    assert words in str(info.value)


def test_bad_seeds():
    s = CSRNeighborSampler(torch.tensor([[0, 1], [1, 2]]), 3, [1])
    with pytest.raises(ValueError, match="must be unique"):
        sample(s, torch.tensor([1, 2, 1]))
    assert bool((s._local == -1).all())
    with pytest.raises(ValueError, match=r"seed node ids must lie in \[0, 3\)"):
        sample(s, torch.tensor([3]))
    with pytest.raises(TypeError, match="seed must be a 1-D integer tensor"):
        s._sample(torch.tensor([0.0]))
    with pytest.raises(ValueError, match="temporal"):
        s._sample(torch.tensor([0]), torch.tensor([1]))
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        neighbor_sampler(torch.tensor([[0], [1]]), 2, [1], seed=-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        neighbor_sampler(torch.tensor([[0], [1]]), 2, [1], seed=1.5)


# Speed (reported, not asserted) ################################################################


def test_report_throughput(capsys):
    """Sampled edges per second (CPU time, one thread): 1e6 nodes, 2e7 edges, batch 1024,
    fan-out [15, 10]."""
    g = torch.Generator().manual_seed(0)
    n, e = 1_000_000, 20_000_000
    dst = torch.repeat_interleave(torch.arange(n),
                                  torch.bincount(torch.randint(n, (e,), generator=g),
                                                 minlength=n))
    ei = torch.stack([torch.randint(n, (e,), generator=g), dst])
    del dst
    start = time.process_time()
    sampler = CSRNeighborSampler(ei, n, [15, 10])
    build = time.process_time() - start
    del ei
    seeds = torch.randperm(n, generator=g)
    sample(sampler, seeds[:1024])  # warm-up
    edges, start = 0, time.process_time()
    batches = 20
    for b in range(1, batches + 1):
        edges += sample(sampler, seeds[b * 1024:(b + 1) * 1024]).edge.numel()
    spent = time.process_time() - start
    with capsys.disabled():
        print(f"\nCSRNeighborSampler: {edges / spent:.3g} sampled edges/s "
              f"({edges // batches} edges, {1000 * spent / batches:.1f} ms per batch of 1024, "
              f"fan-out [15, 10], N=1e6, E=2e7, {torch.get_num_threads()} thread(s); "
              f"build {build:.2f} s)")
    assert edges > 0
