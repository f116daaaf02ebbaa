"""The seeded stochastic-block-model graph that demos and fast tests use: :func:`synthetic_sbm`
and the ``"sbm"`` dataset of :func:`~graphsparse.gnn.data.load_dataset` (:func:`load_sbm`).

Sizes: ``load_dataset("sbm")`` is the 1000-node default graph; ``load_dataset("sbm",
sbm_nodes=N, sbm_degree=D)`` builds an N-node graph of expected average degree D (undirected
neighbours per node, so ``edge_index`` holds about N·D directed entries) with the default's 4
classes and homophily ratio ``p_in / p_out = 10`` (:func:`sbm_probabilities`). Its
:attr:`~graphsparse.gnn.data.LoadedDataset.name` records the size, ``"sbm(nodes=N,degree=D)"``
(:func:`sbm_name`; parsed back by :func:`sbm_params`), so every identity built from the name
(a sweep's ``config.json``, the dense-teacher cache key) tells sizes apart; the default graph
keeps the name ``"sbm"``.

Cost: O(edges) time and memory, no Python loop over nodes. ``load_dataset("sbm",
sbm_nodes=2_000_000, sbm_degree=20)`` (4·10^7 directed entries) builds in 6-9 s on two cores,
peak RSS 1.45 GB: 0.93 GB the result (``edge_index`` 0.64 GB, ``x`` 0.26 GB), 0.36 GB the
interpreter with torch.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import torch
from torch import Tensor
from torch_geometric.data import Data

from graphsparse.checks import check_float, check_int
from graphsparse.gnn.data.dataset import FeatureLayout, LoadedDataset
from graphsparse.gnn.data.features import arrange_features
from graphsparse.gnn.data.splits import random_node_split, random_split_name, set_node_split

__all__ = [
    "SBM",
    "SBM_CLASSES",
    "SBM_DEGREE",
    "SBM_HOMOPHILY",
    "SBM_NODES",
    "load_sbm",
    "sbm_name",
    "sbm_params",
    "sbm_probabilities",
    "synthetic_sbm",
]

#: The name of the synthetic dataset.
SBM = "sbm"
#: Nodes of the default ``"sbm"`` graph.
SBM_NODES = 1000
#: Classes of every ``"sbm"`` graph (fewer only when there are fewer nodes).
SBM_CLASSES = 4
#: Homophily ratio ``p_in / p_out`` of every ``"sbm"`` graph (the default's 0.03 / 0.003).
SBM_HOMOPHILY = 10.0
#: Expected average degree of the default graph: ``(249 * 0.03 + 750 * 0.003)`` = 9.72;
#: :func:`sbm_probabilities` maps ``(SBM_NODES, SBM_DEGREE)`` back to exactly (0.03, 0.003).
SBM_DEGREE = 9.72

# Most Bernoulli draws per chunk of _bernoulli_chunks (32 MiB of float64): bounds the memory of
# large graphs; never reached by small ones (the default graph's blocks draw ~2000), whose random
# stream it therefore leaves as it was.
_MAX_BATCH = 1 << 22


def _bernoulli_chunks(total: int, p: float, generator: torch.Generator) -> Iterator[Tensor]:
    """Sorted positions in ``[0, total)``, each included independently with probability ``p``,
    as ascending chunks of at most ``_MAX_BATCH`` draws each.

    Geometric skipping: the gaps between successive successes are Geometric(p), drawn by
    inversion as ``floor(log(1 - u) / log(1 - p))`` — O(expected successes) work and memory.
    """
    if total == 0 or p == 0.0:
        return
    if p == 1.0:
        yield torch.arange(total)
        return
    log_q = torch.log1p(torch.tensor(-p, dtype=torch.float64))
    expected = total * p
    batch = min(int(expected + 6.0 * expected ** 0.5) + 16, _MAX_BATCH)
    start = 0
    while start < total:
        u = torch.rand(batch, generator=generator, dtype=torch.float64)
        gaps = u.neg_().log1p_().div_(log_q).floor_().long()  # floor(log(1 - u) / log q)
        del u
        gaps += 1
        positions = torch.cumsum(gaps, 0, out=gaps)
        positions += start - 1
        start = int(positions[-1]) + 1
        yield positions[positions < total]


def _block_edges(rows: Tensor, cols: Tensor, p: float, same: bool, num_nodes: int,
                 generator: torch.Generator) -> Iterator[Tensor]:
    """The edges between the nodes ``rows`` and ``cols`` (each pair with probability ``p``) as
    chunks of keys ``u * num_nodes + v`` (u, v global ids); ``same``: the block of one class,
    where each unordered pair is kept once (``i < j``) and self-pairs never."""
    width = cols.numel()
    for positions in _bernoulli_chunks(rows.numel() * width, p, generator):
        i = torch.div(positions, width, rounding_mode="floor")
        j = positions.sub_(i, alpha=width)
        if same:
            keep = i < j
            i, j = i[keep], j[keep]
        keys = rows[i]
        yield keys.mul_(num_nodes).add_(cols[j])


def _undirected_edge_index(chunks: list[Tensor], num_nodes: int) -> Tensor:
    """The coalesced ``[2, 2M]`` edge index holding both directions of the M edges whose keys
    ``u * num_nodes + v`` are in ``chunks`` (each unordered pair at most once, no self-loops).
    Empties ``chunks``.

    Equal to ``torch_geometric.utils.to_undirected`` of the same edges (row-major order), but
    built inside the output: both directions' keys are written into its second row and sorted
    there in place by numpy (no permutation returned; the keys are distinct, so the order is
    unique), then split into rows and columns. At 4·10^7 entries PyG's coalesce (a sort with
    permutation, then deduplication) took 14 s and most of a 4 GB peak; this takes ~1 s and no
    memory beyond the output.
    """
    m = sum(chunk.numel() for chunk in chunks)
    edge_index = torch.empty(2, 2 * m, dtype=torch.long)
    scratch, both = edge_index[0, :m], edge_index[1]
    forward, reverse = both[:m], both[m:]
    if chunks:
        torch.cat(chunks, out=forward)
    chunks.clear()
    torch.div(forward, num_nodes, rounding_mode="floor", out=reverse)  # u
    torch.sub(forward, reverse, alpha=num_nodes, out=scratch)  # v
    reverse.add_(scratch, alpha=num_nodes)  # v * num_nodes + u
    both.numpy().sort()
    torch.div(both, num_nodes, rounding_mode="floor", out=edge_index[0])
    both.sub_(edge_index[0], alpha=num_nodes)
    return edge_index


def synthetic_sbm(
    num_nodes: int = 1000,
    num_classes: int = 4,
    p_in: float = 0.03,
    p_out: float = 0.003,
    feature_dim: int = 32,
    seed: int = 0,
    *,
    feature_noise: float = 4.0,
) -> Data:
    """A seeded stochastic-block-model graph with class-dependent, noisy features.

    Classes are balanced (``randperm(num_nodes) % num_classes``). Each unordered pair of distinct
    nodes is an edge with probability ``p_in`` (same class) or ``p_out`` (different classes);
    sampling is O(edges) per block pair and both directions are coalesced by one in-place sort,
    so large sparse graphs are cheap (see the module documentation). Class ``c`` has a
    centroid ``mu_c ~ N(0, I)`` in ``feature_dim`` dimensions and node features are
    ``mu_y + feature_noise * N(0, I)``: informative, but noisy enough that neighbourhood
    aggregation helps. With the defaults (expected degree ~9.7, edge homophily ~0.77) a
    nearest-centroid classifier on raw features reaches ~60 % and on mean-aggregated features
    ~90 % (chance 25 %). Everything is drawn from one ``torch.Generator`` seeded with ``seed``,
    so the same arguments give identical tensors.

    Args:
        num_nodes: N (int >= 2).
        num_classes: K (int, 1 <= K <= N).
        p_in: within-class edge probability, in [0, 1].
        p_out: between-class edge probability, in [0, 1].
        feature_dim: F (int >= 1).
        seed: int >= 0.
        feature_noise: standard deviation of the feature noise (float >= 0).

    Returns:
        ``Data`` with ``x`` float32 [N, F], ``y`` int64 [N], ``edge_index`` int64 [2, 2M]
        (undirected: both directions of each of the M edges, coalesced, no self-loops), and
        ``train_mask``/``val_mask``/``test_mask`` bool [N] from :func:`random_node_split` with
        the same ``seed``.

    Example:
        >>> g = synthetic_sbm(num_nodes=200, num_classes=2, seed=3)
        >>> g.x.shape, bool((g.edge_index[0] != g.edge_index[1]).all())
        (torch.Size([200, 32]), True)
    """
    for arg, value, low in (("num_nodes", num_nodes, 2), ("num_classes", num_classes, 1),
                            ("feature_dim", feature_dim, 1), ("seed", seed, 0)):
        check_int(value, arg, low=low)
    if num_classes > num_nodes:
        raise ValueError(f"num_classes must be <= num_nodes ({num_nodes}), got {num_classes}")
    for arg, value in (("p_in", p_in), ("p_out", p_out)):
        check_float(value, arg, low=0.0, high=1.0)
    check_float(feature_noise, "feature_noise", low=0.0)

    generator = torch.Generator().manual_seed(seed)
    y = torch.randperm(num_nodes, generator=generator) % num_classes
    members = [torch.nonzero(y == c).flatten() for c in range(num_classes)]
    # Block pairs a <= b partition the unordered node pairs, so every edge is drawn once.
    keys = [chunk for a in range(num_classes) for b in range(a, num_classes)
            for chunk in _block_edges(members[a], members[b], float(p_in if a == b else p_out),
                                      a == b, num_nodes, generator)]
    edge_index = _undirected_edge_index(keys, num_nodes)
    centroids = torch.randn(num_classes, feature_dim, generator=generator)
    x = torch.randn(num_nodes, feature_dim, generator=generator)
    x *= float(feature_noise)
    for c, nodes in enumerate(members):  # x = centroids[y] + noise * N(0, I), no [N, F] temporary
        x.index_add_(0, nodes, centroids[c].expand(nodes.numel(), -1))
    train, val, test = random_node_split(y, seed=seed)
    return Data(x=x, y=y, edge_index=edge_index, train_mask=train, val_mask=val, test_mask=test)


def _class_sizes(num_nodes: int, num_classes: int) -> list[int]:
    """Class sizes of :func:`synthetic_sbm` (``randperm % K``: the first ``N mod K`` classes
    have one node more)."""
    return [(num_nodes - c + num_classes - 1) // num_classes for c in range(num_classes)]


def sbm_probabilities(num_nodes: int, degree: float, *, num_classes: int = SBM_CLASSES,
                      homophily: float = SBM_HOMOPHILY) -> tuple[float, float]:
    """``(p_in, p_out)`` of :func:`synthetic_sbm` for an expected average degree ``degree`` at
    the homophily ratio ``p_in / p_out = homophily``.

    With the balanced class sizes ``n_c`` of :func:`synthetic_sbm` and ``S = sum(n_c ** 2)``,
    the expected number of undirected neighbours of a node, averaged over nodes, is
    ``(p_in * (S - N) + p_out * (N**2 - S)) / N``; solving for ``p_in = homophily * p_out``
    gives ``p_out = degree * N / (homophily * (S - N) + N**2 - S)``. The default graph is
    ``sbm_probabilities(1000, 9.72) == (0.03, 0.003)``, exactly.

    Args:
        num_nodes: N (int >= 2).
        degree: expected average degree D, undirected neighbours per node (a float in
            ``(0, N - 1)``; ``edge_index`` then has about N·D entries). It must also keep both
            probabilities <= 1: at most about ``N / num_classes + N / homophily`` for
            ``homophily >= 1``.
        num_classes: K (int, 1 <= K <= N).
        homophily: ``p_in / p_out`` (float > 0).

    Returns:
        ``(p_in, p_out)``, floats in ``[0, 1]`` (``p_in`` capped at 1 when no class has two
        nodes, so that it draws no edge).

    Example:
        >>> sbm_probabilities(1000, 9.72)
        (0.03, 0.003)
    """
    return _probabilities(num_nodes, degree, num_classes, homophily, "num_nodes", "degree")


def _probabilities(num_nodes: int, degree: float, num_classes: int, homophily: float,
                   nodes_name: str, degree_name: str) -> tuple[float, float]:
    """:func:`sbm_probabilities`, naming the arguments as the caller's user typed them."""
    check_int(num_nodes, nodes_name, low=2)
    check_int(num_classes, "num_classes", low=1, high=num_nodes)
    check_float(homophily, "homophily", low=0.0, open_low=True)
    check_float(degree, degree_name, low=0.0, high=float(num_nodes - 1), open_low=True,
                open_high=True)
    squares = sum(n * n for n in _class_sizes(num_nodes, num_classes))
    within, between = squares - num_nodes, num_nodes * num_nodes - squares  # ordered pairs
    p_out = degree * num_nodes / (homophily * within + between)
    # Without within-class pairs (every class a single node) p_in draws nothing: cap it at 1.
    p_in = homophily * p_out if within else min(homophily * p_out, 1.0)
    if max(p_out, p_in) > 1.0:
        highest = (homophily * within + between) / (num_nodes * max(homophily if within else 1.0,
                                                                    1.0))
        raise ValueError(
            f"{degree_name} must be <= {highest:g} for {nodes_name}={num_nodes} "
            f"({num_classes} classes, p_in / p_out = {homophily:g}): a larger degree needs an "
            f"edge probability above 1; got {degree!r}")
    return p_in, p_out


def _number(value: float) -> str:
    """``value``'s shortest round-trip text, without a trailing ``.0``."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def sbm_name(num_nodes: int = SBM_NODES, degree: float = SBM_DEGREE) -> str:
    """The :attr:`LoadedDataset.name` of the ``"sbm"`` graph of this size: ``"sbm"`` for the
    default size, else ``"sbm(nodes=N,degree=D)"`` (D in its shortest round-trip form).

    Example:
        >>> sbm_name(), sbm_name(2_000_000, 20.0), sbm_name(5000, 7.5)
        ('sbm', 'sbm(nodes=2000000,degree=20)', 'sbm(nodes=5000,degree=7.5)')
    """
    if (num_nodes, float(degree)) == (SBM_NODES, SBM_DEGREE):
        return SBM
    return f"{SBM}(nodes={int(num_nodes)},degree={_number(degree)})"


_NAME = re.compile(r"sbm\(nodes=(\d+),degree=([^,()]+)\)")


def sbm_params(name: str) -> dict[str, int | float]:
    """The size of the ``"sbm"`` graph named ``name`` (:func:`sbm_name`'s inverse).

    Example:
        >>> sbm_params("sbm"), sbm_params("sbm(nodes=2000000,degree=20)")
        ({'nodes': 1000, 'degree': 9.72}, {'nodes': 2000000, 'degree': 20.0})
    """
    if name == SBM:
        return {"nodes": SBM_NODES, "degree": SBM_DEGREE}
    match = _NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise ValueError(f"{name!r} is not the name of an sbm graph ('sbm' or "
                         "'sbm(nodes=N,degree=D)')")
    return {"nodes": int(match.group(1)), "degree": float(match.group(2))}


def load_sbm(split_seed: int, feature_layout: FeatureLayout, *, nodes: int | None = None,
             degree: float | None = None) -> LoadedDataset:
    """The ``"sbm"`` dataset, split with ``split_seed`` (see the module documentation).

    ``nodes`` and ``degree`` (:func:`~graphsparse.gnn.data.load_dataset`'s ``sbm_nodes`` and
    ``sbm_degree``) default to :data:`SBM_NODES` and :data:`SBM_DEGREE`; at that size the graph
    is :func:`synthetic_sbm` with its defaults and the name is ``"sbm"``. Otherwise the graph
    has ``nodes`` nodes, ``min(4, nodes)`` classes and the probabilities of
    :func:`sbm_probabilities` (homophily ratio 10, seed 0), and the name is
    :func:`sbm_name` ``(nodes, degree)``, e.g. ``"sbm(nodes=2000000,degree=20)"``.
    """
    num_nodes = SBM_NODES if nodes is None else check_int(nodes, "sbm_nodes", low=2)
    if degree is None:
        degree_name, degree = f"sbm_degree (default {SBM_DEGREE})", SBM_DEGREE
    else:
        degree_name = "sbm_degree"
    num_classes = min(SBM_CLASSES, num_nodes)
    p_in, p_out = _probabilities(num_nodes, degree, num_classes, SBM_HOMOPHILY, "sbm_nodes",
                                 degree_name)
    data = synthetic_sbm(num_nodes, num_classes, p_in, p_out)
    masks = random_node_split(data.y, seed=split_seed)
    set_node_split(data, masks)
    data.x, layout = arrange_features(SBM, data.x, feature_layout, False)
    return LoadedDataset(
        name=sbm_name(num_nodes, degree), task="node", target="multiclass", data=data,
        dataset=None, split=dict(zip(("train", "valid", "test"), masks)),
        split_name=random_split_name(split_seed), split_seed=split_seed, split_index=None,
        num_features=data.num_node_features, num_classes=int(data.y.max()) + 1, metric="acc",
        evaluator=None, feature_layout=layout, root=None,
    )
