"""Random-graph generators of bipartite layer masks for sparse MLPs.

Every generator returns a :class:`GeneratedMask`: a ``torch.bool`` mask in PyTorch's
``(n_out, n_in)`` layout (row ``r`` = output neuron ``r``, column ``c`` = input neuron ``c``)
together with the realised edge count and density. All of them

* hit an **exact** edge count (the library's rounding rule: a layer of ``n = n_out·n_in``
  positions at density ``d`` keeps ``kept_count(n, 1 - d) = n - floor((1-d)·n + 1e-9)`` edges;
  pass ``num_edges=`` to ask for a count directly),
* never produce multi-edges (a mask cannot hold one),
* take exactly one of ``seed`` (int) or ``generator`` (``torch.Generator``): the same seed gives
  bit-identical masks.

Degree names follow the topology report: the **in-degree** of an output neuron is its fan-in
(row sum of the mask), the **out-degree** of an input neuron its fan-out (column sum).

Generators
----------
:func:`erdos_renyi_mask`
    Uniform random ``m``-subset of the positions, by density or by SET's ε (Mocanu et al. 2018).
:func:`scale_free_mask`
    Chung–Lu power-law weights (Chung & Lu 2002) on the in-, out- or both sides, edges drawn
    without replacement with probability ∝ ``w_out[r]·w_in[c]``.
:func:`small_world_mask`
    Watts–Strogatz (1998) on the bipartite layer: ring lattice between layer positions scaled to
    the widths, then rewiring with probability β.
:func:`ws_flex_graph`, :func:`relational_graph_mask`, :func:`ws_flex_mask`
    graph2nn's WS-flex relational graph (You et al. 2020) and its block expansion to a layer.
:func:`biregular_mask`
    Random (bi)regular bipartite layer (expander-like): configuration model + switchings.
:func:`mlp_masks`, :func:`ws_flex_mlp_masks`
    Masks for a whole MLP (``{layer_name: mask}``) with a per-layer report; the per-layer
    densities come from :func:`graphsparse.masks.layer_densities`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import torch

from graphsparse.masks import as_generator, erdos_renyi_density, kept_count, layer_densities
from graphsparse.masks._checks import check_density

__all__ = [
    "GeneratedMask",
    "RelationalGraph",
    "MLPMasks",
    "mlp_shapes",
    "erdos_renyi_mask",
    "scale_free_mask",
    "small_world_mask",
    "ws_flex_graph",
    "relational_graph_mask",
    "ws_flex_mask",
    "biregular_mask",
    "mlp_masks",
    "ws_flex_mlp_masks",
]

# Positions are processed in chunks of this many entries wherever a pass over the whole layer
# is needed (Bernoulli draws, Gumbel keys), bounding temporary memory.
_CHUNK = 1 << 22
# A side (the positions kept, or their complement) holding at most 1/_SPARSE_RATIO of the
# layer is sampled by rejection; denser requests use one pass over all positions.
_SPARSE_RATIO = 32
# Largest top-m probability mass for which weighted sampling by rejection is used; above it
# the exact Gumbel-top-k pass over all positions is used (see _weighted_positions).
_MAX_STREAM_MASS = 0.5
# Upper bound for integer draws that are reduced modulo a range (bias <= range / 2**62).
_RAND_HIGH = 1 << 62
# Switching rounds allowed when repairing a configuration-model layer (each round fixes a
# constant fraction of the duplicates; see biregular_mask).
_MAX_SWITCH_ROUNDS = 10_000
# Random partner edges offered to each repeated edge per switching round.
_SWITCH_PARTNERS = 4


# ----------------------------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class RelationalGraph:
    """An undirected relational graph (graph2nn, You et al. ICML 2020) and its statistics.

    Attributes:
        adjacency: ``(n, n)`` symmetric ``torch.bool`` adjacency, no self-loops.
        params: the generator's parameters (e.g. ``{"generator": "ws_flex", "k": 8, "p": 0.2}``).
        clustering: average clustering coefficient C (``networkx.average_clustering``).
        path_length: average shortest-path length L in hops
            (``networkx.average_shortest_path_length``); ``math.inf`` if disconnected.

    >>> g = ws_flex_graph(16, 4.0, 0.0, seed=0)
    >>> g.n, g.num_edges, round(g.clustering, 3)
    (16, 32, 0.5)
    """

    adjacency: torch.Tensor
    params: dict
    clustering: float
    path_length: float

    @property
    def n(self) -> int:
        """Number of relational-graph nodes."""
        return int(self.adjacency.shape[0])

    @property
    def num_edges(self) -> int:
        """Number of undirected edges (self-loops excluded)."""
        return int(self.adjacency.sum()) // 2

    @property
    def average_degree(self) -> float:
        """Realised average degree ``2·num_edges / n``."""
        return 2.0 * self.num_edges / self.n

    def to_networkx(self) -> nx.Graph:
        """The graph as a ``networkx.Graph`` on nodes ``0..n-1``."""
        g = nx.Graph()
        g.add_nodes_from(range(self.n))
        rows, cols = torch.triu(self.adjacency, diagonal=1).nonzero(as_tuple=True)
        g.add_edges_from(zip(rows.tolist(), cols.tolist()))
        return g

    def __repr__(self) -> str:
        return (f"RelationalGraph(n={self.n}, num_edges={self.num_edges}, "
                f"clustering={self.clustering:.4g}, path_length={self.path_length:.4g})")

    def summary(self) -> dict:
        """JSON-friendly summary (no adjacency)."""
        return {"n": self.n, "num_edges": self.num_edges, "average_degree": self.average_degree,
                "clustering": self.clustering, "path_length": self.path_length,
                "params": dict(self.params)}


@dataclass(frozen=True, eq=False)
class GeneratedMask:
    """A generated layer mask with its realised size.

    Attributes:
        mask: ``(n_out, n_in)`` ``torch.bool`` tensor, True = connection present.
        method: generator name (``"erdos_renyi"``, ``"scale_free"``, ...).
        params: the generator's parameters, JSON-friendly.
        requested_density: the density asked for (``None`` when the method fixes the count
            itself, e.g. WS-flex or degrees).
        relational: the relational graph for graph2nn masks, else ``None``.
        num_edges: realised number of edges (computed from ``mask``).
        density: realised density ``num_edges / (n_out·n_in)``, a fraction in [0, 1].

    >>> g = erdos_renyi_mask((4, 5), density=0.5, seed=0)
    >>> g.num_edges, g.density, tuple(g.mask.shape)
    (10, 0.5, (4, 5))
    """

    mask: torch.Tensor
    method: str
    params: dict
    requested_density: float | None = None
    relational: RelationalGraph | None = None
    num_edges: int = field(init=False)
    density: float = field(init=False)

    def __post_init__(self):
        if self.mask.dtype != torch.bool or self.mask.dim() != 2:
            raise TypeError(f"mask must be a 2-D torch.bool tensor, got {self.mask.dtype} "
                            f"of shape {tuple(self.mask.shape)}")
        edges = int(torch.count_nonzero(self.mask))
        object.__setattr__(self, "num_edges", edges)
        object.__setattr__(self, "density", edges / self.mask.numel())

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_out, n_in)``."""
        return tuple(self.mask.shape)

    def summary(self) -> dict:
        """JSON-friendly per-layer report (no mask)."""
        out = {"method": self.method, "shape": list(self.shape), "num_edges": self.num_edges,
               "density": self.density, "requested_density": self.requested_density,
               "params": dict(self.params)}
        if self.relational is not None:
            out["relational_graph"] = self.relational.summary()
        return out

    def __repr__(self) -> str:
        return (f"GeneratedMask(method={self.method!r}, shape={self.shape}, "
                f"num_edges={self.num_edges}, density={self.density:.6g})")


@dataclass(frozen=True, eq=False)
class MLPMasks:
    """Masks for a whole MLP: ``{layer_name: GeneratedMask}`` in forward order.

    ``masks`` gives the plain ``{name: torch.bool tensor}`` dict used by
    :mod:`graphsparse.masks`; ``report()`` the per-layer realised densities.

    >>> res = mlp_masks(mlp_shapes([8, 6, 4]), density=0.5, seed=0)
    >>> {k: v["num_edges"] for k, v in res.report().items()}
    {'fc1': 24, 'fc2': 12}
    """

    layers: dict[str, GeneratedMask]

    @property
    def masks(self) -> dict[str, torch.Tensor]:
        """``{name: (n_out, n_in) torch.bool mask}``."""
        return {name: g.mask for name, g in self.layers.items()}

    @property
    def num_edges(self) -> int:
        """Total number of edges over all layers."""
        return sum(g.num_edges for g in self.layers.values())

    @property
    def density(self) -> float:
        """Overall realised density: total edges / Σ n_out·n_in."""
        return self.num_edges / sum(g.mask.numel() for g in self.layers.values())

    def report(self) -> dict[str, dict]:
        """``{name: GeneratedMask.summary()}``: shape, edges, realised and requested density."""
        return {name: g.summary() for name, g in self.layers.items()}


# ----------------------------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------------------------

def _check_int(value, name: str, low: int, high: int | None = None) -> int:
    rng = f"[{low}, {high}]" if high is not None else f">= {low}"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer {rng}, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer in {rng}, got {value}")
    return value


def _check_shape(shape) -> tuple[int, int]:
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence) or len(shape) != 2:
        raise ValueError(f"shape must be a pair (n_out, n_in) of layer widths, got {shape!r}")
    n_out = _check_int(shape[0], "shape[0] (n_out, the output width)", 1)
    n_in = _check_int(shape[1], "shape[1] (n_in, the input width)", 1)
    return n_out, n_in


def _check_real(value, name: str, low: float, high: float, low_open: bool, high_open: bool
                ) -> float:
    rng = ("(" if low_open else "[") + f"{low}, {high}" + (")" if high_open else "]")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number in {rng}, got {value!r}") from None
    too_low = x <= low if low_open else x < low
    too_high = x >= high if high_open else x > high
    if math.isnan(x) or too_low or too_high:
        raise ValueError(f"{name} must be in {rng}, got {value!r}")
    return x


def _edge_count(n_out: int, n_in: int, density, num_edges) -> tuple[int, float]:
    """Exact edge count from exactly one of density / num_edges, and the requested density."""
    n = n_out * n_in
    if (density is None) == (num_edges is None):
        raise ValueError("give exactly one of density or num_edges")
    if num_edges is not None:
        m = _check_int(num_edges, "num_edges", 0, n)
        return m, m / n
    d = check_density(density)
    return kept_count(n, 1.0 - d), d


# ----------------------------------------------------------------------------------------------
# exact sampling primitives
# ----------------------------------------------------------------------------------------------

def _repeat(values: torch.Tensor, counts: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """``torch.repeat_interleave(values, counts, dim)`` by binary search on the cumulative
    counts (``repeat_interleave`` always enters a parallel region, which stalls on busy
    machines when called many times on small tensors)."""
    ends = torch.cumsum(counts, 0)
    total = int(ends[-1]) if ends.numel() else 0
    return values.index_select(dim, torch.searchsorted(ends, torch.arange(total), right=True))


def _member(sorted_values: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """``query ∈ sorted_values`` elementwise (binary search; faster than ``torch.isin``)."""
    if sorted_values.numel() == 0:
        return torch.zeros(query.shape, dtype=torch.bool)
    idx = torch.searchsorted(sorted_values, query).clamp_(max=sorted_values.numel() - 1)
    return sorted_values[idx] == query


def _first_distinct(draw: Callable[[int], torch.Tensor], k: int, rate: float,
                    accept: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """The first ``k`` distinct accepted values of an i.i.d. stream, in stream order.

    ``draw(j)`` returns the next ``j`` stream values (int64). Values for which ``accept`` is
    False are skipped. For a uniform stream this is a uniform ``k``-subset of the accepted
    values; for a weighted stream it is successive sampling without replacement (each new value
    is drawn ∝ its weight among those not yet taken), the same law as Efraimidis–Spirakis keys.
    ``rate`` is a lower bound on the fraction of draws that yield a new value; it only sizes
    the batches.
    """
    chosen = torch.empty(0, dtype=torch.int64)
    while chosen.numel() < k:
        need = k - chosen.numel()
        batch = draw(int(math.ceil(1.25 * need / rate)) + 64)
        if accept is not None:
            batch = batch[accept(batch)]
        cand = torch.cat([chosen, batch])
        uniq, inv = torch.unique(cand, return_inverse=True)
        first = torch.full((uniq.numel(),), cand.numel(), dtype=torch.int64)
        first.scatter_reduce_(0, inv, torch.arange(cand.numel()), reduce="amin")
        chosen = cand[first.sort().values[:k]]
    return chosen


def _distinct_per_row(limits: torch.Tensor, counts: torch.Tensor, gen: torch.Generator
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """For every row ``i``, a uniform ``counts[i]``-subset of ``range(limits[i])``.

    Returns ``(rows, values)`` (int64, one entry per chosen value). Rows asking for more than
    half of their range sample the complement instead, so every draw is accepted with
    probability >= 1/2; the result is exactly uniform per row (the rejection rule treats all
    values of a row symmetrically).
    """
    limits = limits.to(torch.int64)
    counts = counts.to(torch.int64)
    complement = 2 * counts > limits
    sample = torch.where(complement, limits - counts, counts)
    ends = torch.cumsum(limits, 0)
    starts = ends - limits
    pending = _repeat(torch.arange(limits.numel()), sample)
    keys = torch.empty(0, dtype=torch.int64)
    while pending.numel():
        vals = torch.randint(0, _RAND_HIGH, (pending.numel(),), generator=gen) % limits[pending]
        new = starts[pending] + vals
        cand = torch.cat([keys, new])
        uniq, inv = torch.unique(cand, return_inverse=True)
        first = torch.full((uniq.numel(),), cand.numel(), dtype=torch.int64)
        first.scatter_reduce_(0, inv, torch.arange(cand.numel()), reduce="amin")
        pos = torch.arange(keys.numel(), cand.numel())
        ok = first[inv[keys.numel():]] == pos
        keys = torch.cat([keys, new[ok]])
        pending = pending[~ok]
    if bool(complement.any()):
        comp_rows = complement.nonzero().flatten()
        comp_lim = limits[comp_rows]
        row_of = _repeat(comp_rows, comp_lim)
        within = torch.arange(row_of.numel()) - _repeat(torch.cumsum(comp_lim, 0) - comp_lim,
                                                        comp_lim)
        all_keys = starts[row_of] + within
        keep_comp = all_keys[~_member(torch.sort(keys).values, all_keys)]
        keys = torch.cat([keys[~complement[torch.searchsorted(ends, keys, right=True)]],
                          keep_comp])
    rows = torch.searchsorted(ends, keys, right=True)
    return rows, keys - starts[rows]


def _uniform_positions(n: int, m: int, gen: torch.Generator) -> torch.Tensor:
    """Flat ``(n,)`` bool tensor with exactly ``m`` True entries, a uniform ``m``-subset."""
    if m == 0:
        return torch.zeros(n, dtype=torch.bool)
    if m == n:
        return torch.ones(n, dtype=torch.bool)
    q = min(m, n - m)
    if q * _SPARSE_RATIO <= n:
        idx = _first_distinct(lambda j: torch.randint(0, n, (j,), generator=gen), q,
                              rate=1.0 - q / n)
        flat = torch.zeros(n, dtype=torch.bool)
        flat[idx] = True
        return flat if q == m else ~flat
    # Dense: i.i.d. Bernoulli(m/n) draws give a uniform s-subset given its size s; removing a
    # uniform (s-m)-subset of it, or adding a uniform (m-s)-subset of its complement, gives a
    # uniform m-subset. |s - m| is O(sqrt(n)), and both sides hold >= 1/_SPARSE_RATIO of n.
    flat = torch.empty(n, dtype=torch.bool)
    p = m / n
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        flat[start:stop] = torch.rand(stop - start, generator=gen, dtype=torch.float64) < p
    s = int(torch.count_nonzero(flat))

    def draw(j: int) -> torch.Tensor:
        return torch.randint(0, n, (j,), generator=gen)

    if s > m:
        idx = _first_distinct(draw, s - m, rate=(m + 1) / n, accept=lambda c: flat[c])
        flat[idx] = False
    elif s < m:
        idx = _first_distinct(draw, m - s, rate=(n - m + 1) / n, accept=lambda c: ~flat[c])
        flat[idx] = True
    return flat


def _categorical(logp: torch.Tensor | None, size: int, gen: torch.Generator
                 ) -> Callable[[int], torch.Tensor]:
    """Sampler of i.i.d. indices with log-probabilities ``logp`` (uniform when None)."""
    if logp is None:
        return lambda j: torch.randint(0, size, (j,), generator=gen)
    cdf = torch.cumsum(torch.exp(logp - logp.max()), 0)
    total = float(cdf[-1])

    def draw(j: int) -> torch.Tensor:
        u = torch.rand(j, generator=gen, dtype=torch.float64) * total
        return torch.searchsorted(cdf, u, right=True).clamp_(max=size - 1)

    return draw


def _top_mass(la: torch.Tensor, lb: torch.Tensor, m: int) -> float:
    """Upper bound on the total probability of the ``m`` most likely cells of ``p_a ⊗ p_b``.

    ``la``, ``lb`` are normalised log-probabilities. Bisects the threshold ``t`` on
    ``la[r] + lb[c]`` (to 1e-6 in log space) towards the largest value with at least ``m`` cells
    above it and returns the mass of those cells (>= the top-m mass; exact when exactly ``m``
    cells are above it).
    """
    lb_sorted = torch.sort(lb).values
    suffix = torch.flip(torch.cumsum(torch.flip(torch.exp(lb_sorted), [0]), 0), [0])
    suffix = torch.cat([suffix, suffix.new_zeros(1)])
    pa = torch.exp(la)
    n_in = lb.numel()

    def count_mass(t: float) -> tuple[int, float]:
        idx = torch.searchsorted(lb_sorted, t - la)
        return int((n_in - idx).sum()), float((pa * suffix[idx]).sum())

    lo = float(la.min() + lb_sorted[0])
    hi = float(la.max() + lb_sorted[-1])
    if count_mass(hi)[0] >= m:
        return count_mass(hi)[1]
    while hi - lo > 1e-6:
        mid = 0.5 * (lo + hi)
        count, mass = count_mass(mid)
        if count == m:
            return mass
        if count > m:
            lo = mid
        else:
            hi = mid
    return count_mass(lo)[1]


def _weighted_positions(n_out: int, n_in: int, la: torch.Tensor | None, lb: torch.Tensor | None,
                        m: int, gen: torch.Generator) -> torch.Tensor:
    """Flat ``(n_out·n_in,)`` bool tensor with exactly ``m`` positions drawn without replacement
    with probability ∝ ``exp(la[r] + lb[c])`` (successive sampling).

    When the ``m`` most likely cells hold at most half of the probability, positions are drawn
    i.i.d. from the product distribution and duplicates are rejected (< 2 draws per edge);
    otherwise the equivalent Gumbel-top-k pass (Efraimidis & Spirakis 2006) ranks all positions
    by ``log w + Gumbel`` and keeps the ``m`` largest. Both give the same distribution.
    """
    n = n_out * n_in
    if m in (0, n):
        return torch.full((n,), m == n, dtype=torch.bool)
    la_n = (la - torch.logsumexp(la, 0)) if la is not None else torch.full(
        (n_out,), -math.log(n_out), dtype=torch.float64)
    lb_n = (lb - torch.logsumexp(lb, 0)) if lb is not None else torch.full(
        (n_in,), -math.log(n_in), dtype=torch.float64)
    mass = _top_mass(la_n, lb_n, m)
    if mass <= _MAX_STREAM_MASS:
        draw_r = _categorical(la, n_out, gen)
        draw_c = _categorical(lb, n_in, gen)
        idx = _first_distinct(lambda j: draw_r(j) * n_in + draw_c(j), m, rate=1.0 - mass)
        flat = torch.zeros(n, dtype=torch.bool)
        flat[idx] = True
        return flat
    dtype = torch.float64 if n <= (1 << 24) else torch.float32
    keys = torch.empty(n, dtype=dtype)
    rows_per_chunk = max(1, _CHUNK // n_in)
    for r0 in range(0, n_out, rows_per_chunk):
        r1 = min(n_out, r0 + rows_per_chunk)
        e = torch.empty((r1 - r0, n_in), dtype=torch.float64).exponential_(generator=gen)
        block = la_n[r0:r1, None] + lb_n[None, :] - torch.log(e)
        keys[r0 * n_in:r1 * n_in] = block.flatten().to(dtype)
    if m <= n - m:
        flat = torch.zeros(n, dtype=torch.bool)
        flat[torch.topk(keys, m, sorted=False).indices] = True
        return flat
    flat = torch.ones(n, dtype=torch.bool)
    flat[torch.topk(keys, n - m, largest=False, sorted=False).indices] = False
    return flat


# ----------------------------------------------------------------------------------------------
# layer generators
# ----------------------------------------------------------------------------------------------

def erdos_renyi_mask(shape: Sequence[int], density: float | None = None, *,
                     epsilon: float | None = None, num_edges: int | None = None,
                     strict: bool = False, seed: int | None = None,
                     generator: torch.Generator | None = None) -> GeneratedMask:
    """Erdős–Rényi G(n_out, n_in, m) bipartite layer: a uniform random set of exactly m edges.

    SET (Mocanu et al., "Scalable training of artificial neural networks with adaptive sparse
    connectivity inspired by network science", Nat. Commun. 9:2383, 2018, Methods eq. 1) sets the
    connection probability ``p = ε·(n_in + n_out) / (n_in·n_out)`` (expected edges
    ``ε·(n_in + n_out)``). SET's code draws each entry independently (Keras) or draws pairs with
    replacement (SciPy), so its edge count is random; here exactly
    ``m = n - floor((1 - p)·n + 1e-9)`` of the ``n = n_out·n_in`` positions are chosen uniformly
    without replacement (``graphsparse.masks.kept_count``), so every ``m``-subset is equally
    likely. A layer where ε gives ``p > 1`` is made dense with a ``UserWarning`` (SET keeps its
    output layer dense); ``strict=True`` raises ``ValueError`` instead.

    Args:
        shape: ``(n_out, n_in)`` layer widths (neurons), both >= 1.
        density: fraction of kept positions in (0, 1]. Exactly one of density, epsilon,
            num_edges.
        epsilon: SET's ε > 0 (edges per neuron, dimensionless; SET uses 20, its tutorials 13).
        num_edges: exact edge count in [0, n_out·n_in].
        strict: with epsilon, raise instead of capping ``p > 1`` to a dense layer.
        seed, generator: exactly one; the same seed gives the same mask bit for bit.

    Returns:
        :class:`GeneratedMask` with a ``(n_out, n_in)`` bool mask.

    Sampling: a side (kept positions or their complement) of at most 1/32 of the layer is drawn
    by rejection of repeated indices; denser layers by i.i.d. Bernoulli(m/n) draws whose count
    is then corrected by removing/adding a uniform random subset. Both are exactly uniform.

    >>> g = erdos_renyi_mask((1000, 784), epsilon=20, seed=0)
    >>> g.num_edges, round(g.density, 5)
    (35680, 0.04551)
    """
    n_out, n_in = _check_shape(shape)
    gen = as_generator(seed, generator)
    given = sum(x is not None for x in (density, epsilon, num_edges))
    if given != 1:
        raise ValueError("give exactly one of density, epsilon or num_edges")
    params: dict = {}
    if epsilon is not None:
        eps = _check_real(epsilon, "epsilon", 0.0, math.inf, True, True)
        p = erdos_renyi_density((n_out, n_in), eps)
        params["epsilon"] = eps
        if p > 1.0:
            msg = (f"epsilon={eps} gives connection probability p={p:.4g} > 1 for shape "
                   f"{(n_out, n_in)} (p = ε(n_in+n_out)/(n_in·n_out))")
            if strict:
                raise ValueError(msg + "; strict=True forbids making the layer dense")
            warnings.warn(msg + "; the layer is made dense", UserWarning, stacklevel=2)
            p = 1.0
        m, requested = kept_count(n_out * n_in, 1.0 - p), p
    else:
        m, requested = _edge_count(n_out, n_in, density, num_edges)
    mask = _uniform_positions(n_out * n_in, m, gen).reshape(n_out, n_in)
    return GeneratedMask(mask, "erdos_renyi", params, requested)


def _power_law_logweights(size: int, gamma: float, gen: torch.Generator) -> torch.Tensor:
    """Chung–Lu log-weights ``log w_i = -log(i) / (γ - 1)``, ``i = 1..size``, randomly permuted
    over the neurons (so the hubs are not always the first neurons)."""
    logw = -torch.log(torch.arange(1, size + 1, dtype=torch.float64)) / (gamma - 1.0)
    return logw[torch.randperm(size, generator=gen)]


def scale_free_mask(shape: Sequence[int], density: float | None = None, *, gamma: float = 2.5,
                    side: str = "in", num_edges: int | None = None, seed: int | None = None,
                    generator: torch.Generator | None = None) -> GeneratedMask:
    """Scale-free bipartite layer: Chung–Lu power-law weights, exact edge count.

    Chung & Lu, "Connected components in random graphs with given expected degree sequences",
    Annals of Combinatorics 6:125–145 (2002): with weights ``w_i ∝ i^{-1/(γ-1)}`` (i = 1..N)
    and edge probability ∝ ``w_u·w_v`` the expected degrees follow a power law
    ``P(k) ∝ k^{-γ}``. Here the neurons of each power-law side get the weights
    ``w_i = i^{-1/(γ-1)}`` in a random order; the other side is uniform. Exactly ``m`` distinct
    positions are drawn **without replacement** with probability ∝ ``w_out[r]·w_in[c]``
    (successive sampling: each edge is drawn ∝ its weight among the empty positions; the same
    law as Efraimidis–Spirakis keys). Barabási & Albert (Science 286:509, 1999) explain such
    degree distributions by preferential attachment; Chung–Lu is used here because it gives an
    exact edge count and a controllable exponent directly.

    Bias: a neuron's expected degree is ``≈ m·w_i / Σw`` only while it is far from saturated;
    without replacement a hub can hold at most ``n_in`` (or ``n_out``) edges, and as its row
    fills the remaining draws move to other neurons, so degrees of hubs whose expected degree
    approaches the opposite width fall below the power law (the usual Chung–Lu cut-off
    ``p_ij = min(1, ·)``). The lowest degrees are Poisson-like around their expectation, so fit
    the exponent above a lower cut-off ``x_min`` (Clauset, Shalizi & Newman 2009).

    Args:
        shape: ``(n_out, n_in)`` layer widths, both >= 1.
        density: fraction of kept positions in (0, 1]; or give ``num_edges``.
        gamma: power-law exponent γ > 1 of the degree distribution (2 < γ < 3 is typical).
        side: which degrees follow the power law: ``"in"`` — in-degrees (fan-in of the output
            neurons, row sums); ``"out"`` — out-degrees (fan-out of the input neurons, column
            sums); ``"both"``.
        num_edges: exact edge count in [0, n_out·n_in].
        seed, generator: exactly one.

    Returns:
        :class:`GeneratedMask` with a ``(n_out, n_in)`` bool mask.

    Cost: when the ``m`` most likely positions hold at most half of the probability (typical
    sparse layers) about ``m`` to ``2m`` i.i.d. draws; otherwise one exact Gumbel-top-k pass
    over all ``n_out·n_in`` positions (O(n) memory). A 10,000 × 10,000 layer with 200,000 edges
    takes about half a second on 2 CPU cores (most of it allocating the 10^8-entry mask).

    >>> g = scale_free_mask((300, 200), density=0.05, gamma=2.5, side="in", seed=0)
    >>> g.num_edges
    3000
    >>> deg = g.mask.sum(1)
    >>> bool(deg.max() > 5 * deg.float().mean())
    True
    """
    n_out, n_in = _check_shape(shape)
    g = _check_real(gamma, "gamma (power-law exponent)", 1.0, math.inf, True, True)
    if side not in ("in", "out", "both"):
        raise ValueError(f"side must be 'in', 'out' or 'both', got {side!r}")
    gen = as_generator(seed, generator)
    m, requested = _edge_count(n_out, n_in, density, num_edges)
    la = _power_law_logweights(n_out, g, gen) if side in ("in", "both") else None
    lb = _power_law_logweights(n_in, g, gen) if side in ("out", "both") else None
    mask = _weighted_positions(n_out, n_in, la, lb, m, gen).reshape(n_out, n_in)
    return GeneratedMask(mask, "scale_free", {"gamma": g, "side": side}, requested)


def small_world_mask(shape: Sequence[int], density: float | None = None, *, beta: float = 0.1,
                     num_edges: int | None = None, seed: int | None = None,
                     generator: torch.Generator | None = None) -> GeneratedMask:
    """Watts–Strogatz small-world bipartite layer with an exact edge count.

    Watts & Strogatz, "Collective dynamics of 'small-world' networks", Nature 393:440–442
    (1998): start from a ring lattice and rewire each edge with probability β. The bipartite
    analogue used here places output neuron ``r`` at ring position ``(r + ½)/n_out`` and input
    neuron ``c`` at ``(c + ½)/n_in``; output ``r`` is joined to the ``d_r`` input neurons
    nearest to it on the ring (a contiguous circular window), with the ``m`` edges spread as
    evenly as possible (``d_r ∈ {⌊m/n_out⌋, ⌈m/n_out⌉}``), so each input neuron's out-degree is
    also nearly constant. Then each lattice edge is independently chosen with probability β and
    its input end moved to an input neuron not yet connected to ``r`` (as ``networkx``'s WS
    keeps the source and redraws the target); the new ends of a row are a uniform random subset
    of the row's non-lattice positions. If a row has fewer free positions than chosen edges,
    the surplus (a random subset of them) stays in place, as networkx skips a rewiring when the
    node is saturated. In-degrees (row sums) are unchanged by rewiring.

    Args:
        shape: ``(n_out, n_in)`` layer widths, both >= 1.
        density: fraction of kept positions in (0, 1]; or give ``num_edges``.
        beta: rewiring probability β in [0, 1] (0 = lattice, 1 = random rows).
        num_edges: exact edge count in [0, n_out·n_in].
        seed, generator: exactly one.

    Returns:
        :class:`GeneratedMask` with a ``(n_out, n_in)`` bool mask.

    >>> g = small_world_mask((4, 4), num_edges=12, beta=0.0, seed=0)
    >>> g.mask.int().tolist()
    [[1, 1, 0, 1], [1, 1, 1, 0], [0, 1, 1, 1], [1, 0, 1, 1]]
    """
    n_out, n_in = _check_shape(shape)
    b = _check_real(beta, "beta (rewiring probability)", 0.0, 1.0, False, False)
    gen = as_generator(seed, generator)
    m, requested = _edge_count(n_out, n_in, density, num_edges)
    base, rem = divmod(m, n_out)
    r = torch.arange(n_out, dtype=torch.int64)
    deg = base + (torch.div((r + 1) * rem, n_out, rounding_mode="floor")
                  - torch.div(r * rem, n_out, rounding_mode="floor"))
    centre = (r.double() + 0.5) * n_in / n_out - 0.5
    start = torch.floor(centre - (deg.double() - 1.0) / 2.0 + 0.5).to(torch.int64) % n_in
    rows = _repeat(r, deg)
    within = torch.arange(m) - _repeat(torch.cumsum(deg, 0) - deg, deg)
    cols = (start[rows] + within) % n_in
    moved = torch.rand(m, generator=gen, dtype=torch.float64) < b
    # A row can move at most its number of free (non-lattice) positions; keep a random surplus.
    # Random order within each row (rows stay contiguous); rank the chosen edges in that order.
    order = torch.argsort(torch.rand(m, generator=gen, dtype=torch.float64))
    order = order[torch.argsort(rows[order], stable=True)]
    chosen = moved[order].to(torch.int64)
    before = torch.cumsum(chosen, 0) - chosen
    row_first = torch.cumsum(deg, 0) - deg
    rank = before - before[row_first[rows[order]]]
    free = n_in - deg
    moved[order] = moved[order] & (rank < free[rows[order]])
    t = torch.bincount(rows[moved], minlength=n_out)
    new_rows, offsets = _distinct_per_row(free, t, gen)
    new_cols = (start[new_rows] + deg[new_rows] + offsets) % n_in
    flat = torch.zeros(n_out * n_in, dtype=torch.bool)
    flat[rows[~moved] * n_in + cols[~moved]] = True
    flat[new_rows * n_in + new_cols] = True
    return GeneratedMask(flat.reshape(n_out, n_in), "small_world", {"beta": b}, requested)


# ----------------------------------------------------------------------------------------------
# graph2nn relational graphs
# ----------------------------------------------------------------------------------------------

def _relational_stats(adj: torch.Tensor) -> tuple[float, float]:
    g = nx.from_numpy_array(adj.numpy().astype(np.uint8))
    c = float(nx.average_clustering(g))
    path = float(nx.average_shortest_path_length(g)) if nx.is_connected(g) else math.inf
    return c, path


def _ws_flex_once(n: int, k: float, p: float, gen: torch.Generator) -> torch.Tensor:
    edge_num = int(round(k * n / 2))
    divide, remain = divmod(edge_num, n)
    count = [divide + 1 if i < remain else divide for i in range(n)]
    adj = np.zeros((n, n), dtype=bool)
    lattice = [(i, (i + j) % n) for i in range(n) for j in range(1, count[i] + 1)]
    src = np.array([e[0] for e in lattice], dtype=np.int64)
    dst = np.array([e[1] for e in lattice], dtype=np.int64)
    adj[src, dst] = True
    adj[dst, src] = True
    draws = torch.rand((2, len(lattice)), generator=gen, dtype=torch.float64).numpy()
    for e, (u, v) in enumerate(lattice):
        if draws[0, e] >= p:
            continue
        allowed = np.flatnonzero(~adj[u])
        allowed = allowed[allowed != u]
        if allowed.size == 0:
            continue
        w = int(allowed[min(int(draws[1, e] * allowed.size), allowed.size - 1)])
        adj[u, v] = adj[v, u] = False
        adj[u, w] = adj[w, u] = True
    return torch.from_numpy(adj)


def ws_flex_graph(n: int, k: float, p: float, *, seed: int | None = None,
                  generator: torch.Generator | None = None, connected: bool = True,
                  tries: int = 100) -> RelationalGraph:
    """graph2nn's WS-flex relational graph: Watts–Strogatz with a real-valued average degree.

    You, Leskovec, He & Xie, "Graph Structure of Neural Networks", ICML 2020 (the WS-flex
    generator of its relational-graph design space), as implemented in
    ``facebookresearch/graph2nn`` ``pycls/models/relation_graph.py::ws_graph``:
    ``E = round(k·n/2)`` edges; node ``i`` (of ``n`` on a ring) gets ``⌊E/n⌋ + 1`` lattice edges
    to its next neighbours if ``i < E mod n`` else ``⌊E/n⌋``; then, node by node, each of its
    lattice edges ``(u, v)`` is rewired with probability ``p`` to ``(u, w)``, ``w`` uniform
    among the nodes not adjacent to ``u`` (skipped if ``u`` is adjacent to all). The edge count
    stays exactly ``E``, so the realised average degree is ``2E/n``. With ``connected=True``
    (graph2nn's ``connected_ws_graph``) up to ``tries`` graphs are drawn until one is connected.

    The graph's clustering C and average path length L (the two statistics graph2nn relates to
    accuracy) are computed with networkx — fine for relational graphs (graph2nn uses n = 64).

    Args:
        n: number of nodes, >= 3.
        k: average degree, a real number in [2, n−1] (``k = n−1`` is the complete graph;
            graph2nn's ``sparsity`` is ``k/n``).
        p: rewiring probability in [0, 1].
        seed, generator: exactly one.
        connected: redraw until connected.
        tries: maximum draws when ``connected`` (>= 1).

    Returns:
        :class:`RelationalGraph` with ``(n, n)`` adjacency, C and L.

    Raises:
        ValueError: bad arguments. RuntimeError: no connected graph in ``tries`` draws.

    >>> g = ws_flex_graph(64, 8.32, 0.2, seed=1)
    >>> g.num_edges, g.average_degree
    (266, 8.3125)
    """
    n = _check_int(n, "n (relational-graph nodes)", 3)
    kk = _check_real(k, f"k (average degree) for n={n}", 2.0, n - 1.0, False, False)
    pp = _check_real(p, "p (rewiring probability)", 0.0, 1.0, False, False)
    tries = _check_int(tries, "tries", 1)
    gen = as_generator(seed, generator)
    for _ in range(tries if connected else 1):
        adj = _ws_flex_once(n, kk, pp, gen)
        c, path = _relational_stats(adj)
        if not connected or math.isfinite(path):
            return RelationalGraph(adj, {"generator": "ws_flex", "n": n, "k": kk, "p": pp},
                                   c, path)
    raise RuntimeError(f"no connected WS-flex graph with n={n}, k={kk}, p={pp} in {tries} tries; "
                       "raise k, lower p, raise tries or pass connected=False")


def _node_sizes(width: int, n: int, assignment_seed: int) -> np.ndarray:
    """graph2nn ``compute_size``: split ``width`` neurons over ``n`` nodes as evenly as
    possible (sizes ⌈width/n⌉ for the first ``width mod n``), then permute the sizes with
    ``numpy.random.RandomState(assignment_seed)`` (graph2nn uses ``np.random.seed(1)``)."""
    divide, remain = divmod(width, n)
    out = np.full(n, divide, dtype=np.int64)
    out[:remain] += 1
    return np.random.RandomState(assignment_seed).permutation(out)


def relational_graph_mask(graph: RelationalGraph | nx.Graph, shape: Sequence[int], *,
                          assignment_seed: int = 1) -> GeneratedMask:
    """Expand a relational graph to a layer mask, as graph2nn's ``TalkLinear`` does.

    You et al. ICML 2020 (a layer = one round of message exchange on the relational graph);
    graph2nn ``relation_graph.compute_densemask``: each of the ``n``
    nodes owns a contiguous block of output neurons and a contiguous block of input neurons
    (block sizes ⌊width/n⌋ or ⌈width/n⌉, the order of the sizes permuted by
    ``RandomState(assignment_seed)``, seed 1 as in graph2nn); output neuron ``o`` and input
    neuron ``i`` are connected iff their nodes are adjacent **or equal** (self-loops are added,
    a node keeps its own message). Because the blocks depend only on ``(width, n,
    assignment_seed)``, the blocks of a layer's outputs coincide with the next layer's inputs,
    so one relational graph reused in every layer means the same message exchange in every
    round. The edge count is ``Σ_{(a,b) ∈ A+I} s_out[a]·s_in[b]`` (deterministic given the
    graph).

    Args:
        graph: a :class:`RelationalGraph`, or an undirected ``networkx.Graph`` (nodes taken in
            ``graph.nodes`` order; self-loops and directions ignored).
        shape: ``(n_out, n_in)``; both widths must be >= the number of nodes (graph2nn
            silently shrinks the graph instead; here that is an error).
        assignment_seed: seed of the neuron-to-node block permutation (int >= 0).

    Returns:
        :class:`GeneratedMask` (``requested_density=None``; ``relational`` set).

    >>> g = ws_flex_graph(4, 2.0, 0.0, seed=0)          # a 4-cycle
    >>> relational_graph_mask(g, (4, 4)).mask.int().tolist()
    [[1, 1, 0, 1], [1, 1, 1, 0], [0, 1, 1, 1], [1, 0, 1, 1]]
    """
    n_out, n_in = _check_shape(shape)
    assignment_seed = _check_int(assignment_seed, "assignment_seed", 0, 2**32 - 1)
    if isinstance(graph, nx.Graph):
        if graph.number_of_nodes() < 1:
            raise ValueError("graph has no nodes")
        und = nx.Graph(graph)
        und.remove_edges_from(list(nx.selfloop_edges(und)))
        adj = torch.from_numpy(nx.to_numpy_array(und, nodelist=list(und.nodes)) > 0)
        c, path = _relational_stats(adj)
        graph = RelationalGraph(adj, {"generator": "networkx"}, c, path)
    elif not isinstance(graph, RelationalGraph):
        raise TypeError(f"graph must be a RelationalGraph or networkx.Graph, "
                        f"got {type(graph).__name__}")
    n = graph.n
    if n > min(n_out, n_in):
        raise ValueError(f"the relational graph has n={n} nodes but shape {(n_out, n_in)} has "
                         f"a width below n; every width must be >= n")
    block = graph.adjacency | torch.eye(n, dtype=torch.bool)
    s_out = torch.from_numpy(_node_sizes(n_out, n, assignment_seed))
    s_in = torch.from_numpy(_node_sizes(n_in, n, assignment_seed))
    mask = _repeat(_repeat(block, s_out, dim=0), s_in, dim=1)
    params = dict(graph.params, assignment_seed=assignment_seed)
    return GeneratedMask(mask, "relational_graph", params, None, graph)


def ws_flex_mask(shape: Sequence[int], n: int, k: float, p: float, *, seed: int | None = None,
                 generator: torch.Generator | None = None, connected: bool = True,
                 assignment_seed: int = 1) -> GeneratedMask:
    """A graph2nn WS-flex layer: :func:`ws_flex_graph` then :func:`relational_graph_mask`.

    You et al., "Graph Structure of Neural Networks", ICML 2020. The realised density is about
    ``(k̄ + 1)/n`` (``k̄ = 2E/n``, plus the self-loop), exact value reported; the relational
    graph's clustering C and path length L are in ``result.relational``.

    Args:
        shape: ``(n_out, n_in)``, both >= n.
        n, k, p: WS-flex nodes (>= 3), real average degree in [2, n−1], rewiring probability.
        seed, generator: exactly one (drives the graph; the block assignment uses
            ``assignment_seed``).
        connected: redraw the graph until connected (graph2nn).
        assignment_seed: seed of the neuron-to-node blocks (graph2nn: 1).

    Returns:
        :class:`GeneratedMask` with a ``(n_out, n_in)`` bool mask and ``relational`` set.

    >>> g = ws_flex_mask((512, 512), 64, 8.32, 0.2, seed=0)
    >>> g.num_edges == 64 * (2 * g.relational.num_edges + 64), round(g.relational.average_degree, 4)
    (True, 8.3125)
    """
    graph = ws_flex_graph(n, k, p, seed=seed, generator=generator, connected=connected)
    return relational_graph_mask(graph, shape, assignment_seed=assignment_seed)


# ----------------------------------------------------------------------------------------------
# random biregular
# ----------------------------------------------------------------------------------------------

def _switch_repair(rows: torch.Tensor, cols: torch.Tensor, n_in: int, gen: torch.Generator
                   ) -> torch.Tensor:
    """Remove repeated (row, col) pairs by degree-preserving switchings; returns new cols.

    Each round offers every surplus copy ``(r1, c1)`` ``_SWITCH_PARTNERS`` uniformly random
    partner edges ``(r2, c2)`` and takes the first for which the switch to
    ``(r1, c2), (r2, c1)`` is valid: distinct rows and columns, both new positions empty, and no
    edge or new position claimed by two switchings of the round. A switch never creates a
    repeat, so the number of repeats falls every round.
    """
    m = rows.numel()
    cols = cols.clone()
    for _ in range(_MAX_SWITCH_ROUNDS):
        sorted_flat, order = torch.sort(rows * n_in + cols, stable=True)
        repeat = torch.zeros(m, dtype=torch.bool)
        repeat[1:] = sorted_flat[1:] == sorted_flat[:-1]
        bad = order[repeat]
        if bad.numel() == 0:
            return cols
        parts = torch.randint(0, m, (bad.numel(), _SWITCH_PARTNERS), generator=gen)
        r1, c1 = rows[bad, None], cols[bad, None]
        r2, c2 = rows[parts], cols[parts]
        valid = (r1 != r2) & (c1 != c2) & ~_member(sorted_flat, r1 * n_in + c2) \
            & ~_member(sorted_flat, r2 * n_in + c1)
        ok = valid.any(1)
        part = parts.gather(1, valid.to(torch.int8).argmax(1, keepdim=True)).squeeze(1)
        r1, c1, r2, c2 = r1.squeeze(1), c1.squeeze(1), rows[part], cols[part]
        new1, new2 = r1 * n_in + c2, r2 * n_in + c1
        ids = torch.arange(bad.numel())
        owner = torch.full((m,), bad.numel(), dtype=torch.int64)
        owner.scatter_reduce_(0, torch.cat([bad[ok], part[ok]]), torch.cat([ids[ok], ids[ok]]),
                              reduce="amin")
        ok &= (owner[bad] == ids) & (owner[part] == ids)
        uniq, counts = torch.unique(torch.cat([new1[ok], new2[ok]]), return_counts=True)
        clash = uniq[counts > 1]
        ok &= ~_member(clash, new1) & ~_member(clash, new2)
        cols[bad[ok]] = c2[ok]
        cols[part[ok]] = c1[ok]
    raise RuntimeError("switching repair did not converge; please report the shape and degrees")


def biregular_mask(shape: Sequence[int], in_degree: int, out_degree: int | None = None, *,
                   seed: int | None = None, generator: torch.Generator | None = None
                   ) -> GeneratedMask:
    """Random (d_in, d_out)-biregular bipartite layer (expander-like), exact degrees.

    Every output neuron has in-degree (fan-in, row sum) ``d_in`` and every input neuron
    out-degree (fan-out, column sum) ``d_out``; this needs ``n_out·d_in = n_in·d_out`` (the
    edge count). Random biregular bipartite graphs are near-Ramanujan expanders with high
    probability (Brito, Dumitriu & Harris, "Spectral gap in random bipartite biregular graphs
    and applications", Combin. Probab. Comput. 31:229–267, 2022: second eigenvalue
    → ``√(d_in−1) + √(d_out−1)``, the bound behind the Ramanujan metrics of Hoang et al.
    ICLR 2023); X-Nets / deep expander networks (Prabhu et al. ECCV 2018) use such layers.

    Method: the bipartite configuration model (Bollobás 1980) — ``d_in`` stubs per output
    neuron matched to a random permutation of ``d_out`` stubs per input neuron — then repeated
    edges are removed by degree-preserving switchings with random partner edges (the
    switchings of McKay & Wormald, "Uniform generation of random regular graphs of moderate
    degree", J. Algorithms 11:52–67, 1990, without their rejection steps). Layers with
    ``d_in > n_in/2`` are built as the complement of a ``(n_in−d_in, n_out−d_out)``-biregular
    layer. Bias: the configuration model conditioned on being simple is exactly uniform; the
    switching repair is not. Its bias grows with the number of repeated pairs it has to remove —
    about ``(d_in−1)(d_out−1)/2`` for small degrees, about ``density·m/2`` in general — so the
    result is close to uniform for ``d ≪ n`` and only "uniform-ish" for dense layers.

    Args:
        shape: ``(n_out, n_in)`` layer widths, both >= 1.
        in_degree: ``d_in`` in [1, n_in].
        out_degree: ``d_out`` in [1, n_out]; default ``n_out·d_in / n_in`` (must be an integer).
        seed, generator: exactly one.

    Returns:
        :class:`GeneratedMask` with ``n_out·d_in`` edges.

    >>> g = biregular_mask((6, 4), in_degree=2, seed=0)
    >>> g.mask.sum(1).tolist(), g.mask.sum(0).tolist()
    ([2, 2, 2, 2, 2, 2], [3, 3, 3, 3])
    """
    n_out, n_in = _check_shape(shape)
    d_in = _check_int(in_degree, f"in_degree (fan-in of each of the n_out={n_out} outputs)",
                      1, n_in)
    if out_degree is None:
        if (n_out * d_in) % n_in:
            raise ValueError(f"in_degree={d_in} with shape {(n_out, n_in)} needs out_degree = "
                             f"n_out·in_degree/n_in = {n_out * d_in / n_in:g}, not an integer; "
                             "choose in_degree so that n_in divides n_out·in_degree")
        d_out = n_out * d_in // n_in
    else:
        d_out = _check_int(out_degree, f"out_degree (fan-out of each of the n_in={n_in} inputs)",
                           1, n_out)
    if n_out * d_in != n_in * d_out:
        raise ValueError(f"infeasible degrees: n_out·in_degree = {n_out}·{d_in} = {n_out * d_in} "
                         f"must equal n_in·out_degree = {n_in}·{d_out} = {n_in * d_out}")
    gen = as_generator(seed, generator)
    complement = 2 * d_in > n_in
    a, b = (n_in - d_in, n_out - d_out) if complement else (d_in, d_out)
    flat = torch.zeros(n_out * n_in, dtype=torch.bool)
    if a > 0:
        m = n_out * a
        rows = torch.repeat_interleave(torch.arange(n_out), a)
        cols = torch.repeat_interleave(torch.arange(n_in), b)[torch.randperm(m, generator=gen)]
        cols = _switch_repair(rows, cols, n_in, gen)
        flat[rows * n_in + cols] = True
    mask = (~flat if complement else flat).reshape(n_out, n_in)
    return GeneratedMask(mask, "biregular", {"in_degree": d_in, "out_degree": d_out},
                         d_in / n_in)


# ----------------------------------------------------------------------------------------------
# whole MLPs
# ----------------------------------------------------------------------------------------------

_LAYER_GENERATORS = {
    "erdos_renyi": erdos_renyi_mask,
    "scale_free": scale_free_mask,
    "small_world": small_world_mask,
}


def mlp_shapes(widths: Sequence[int], prefix: str = "fc") -> dict[str, tuple[int, int]]:
    """``{f"{prefix}{l}": (widths[l], widths[l-1])}`` for an MLP with the given widths.

    Shapes are PyTorch ``(out, in)``; names count from 1.

    >>> mlp_shapes([784, 1000, 10])
    {'fc1': (1000, 784), 'fc2': (10, 1000)}
    """
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence) or len(widths) < 2:
        raise ValueError(f"widths must be a sequence of at least 2 layer widths, got {widths!r}")
    w = [_check_int(x, f"widths[{i}]", 1) for i, x in enumerate(widths)]
    return {f"{prefix}{l}": (w[l], w[l - 1]) for l in range(1, len(w))}


def mlp_masks(shapes: Mapping[str, Sequence[int]], *, topology: str = "erdos_renyi",
              density: float | None = None, epsilon: float | None = None,
              budget: str = "uniform", overrides: Mapping[str, float] | None = None,
              power: float = 1.0, strict: bool = False, seed: int | None = None,
              generator: torch.Generator | None = None, **topology_kwargs) -> MLPMasks:
    """Masks for every layer of an MLP: a layer budget, then one generator per layer.

    The per-layer densities come from :func:`graphsparse.masks.layer_densities` (uniform, ER —
    SET's ε or a density-scaled ER, Mocanu et al. 2018 eq. 1 — RigL's ERK, Evci et al. ICML 2020,
    or balanced, Gadhikar et al. ICML 2023; with its capping loop and overrides); each layer is
    then sampled with the chosen ``topology`` at exactly ``kept_count(n_l, 1 − d_l)`` edges.
    Layers are drawn in the order of ``shapes`` from one random stream.

    Args:
        shapes: ``{name: (n_out, n_in)}`` in forward order (see :func:`mlp_shapes`).
        topology: ``"erdos_renyi"``, ``"scale_free"`` or ``"small_world"``.
        density: overall density in (0, 1] (exactly one of density / epsilon).
        epsilon: SET's ε > 0 (forces ``budget="er"``); a layer with p > 1 is made dense with a
            warning, or raises with ``strict=True``.
        budget: ``layer_densities`` method: ``"uniform"``, ``"er"``, ``"erk"``, ``"balanced"``.
        overrides: ``{name: density}`` fixed layers (e.g. ``{"fc4": 1.0}`` for a dense head).
        power: ER/ERK score exponent (RigL ``erk_power_scale``).
        strict: see ``epsilon``.
        seed, generator: exactly one.
        **topology_kwargs: passed to the generator (``gamma``/``side`` for scale-free, ``beta``
            for small-world).

    Returns:
        :class:`MLPMasks`; ``.masks`` is ``{name: bool mask}``, ``.report()`` the realised
        per-layer densities.

    >>> res = mlp_masks(mlp_shapes([784, 1000, 1000, 10]), epsilon=20, seed=0)
    >>> [round(v["density"], 4) for v in res.report().values()]
    [0.0455, 0.04, 1.0]
    """
    if topology not in _LAYER_GENERATORS:
        raise ValueError(f"topology must be one of {tuple(_LAYER_GENERATORS)}, got {topology!r}")
    if not isinstance(shapes, Mapping) or not shapes:
        raise ValueError("shapes must be a non-empty mapping {name: (n_out, n_in)}")
    checked = {name: _check_shape(shape) for name, shape in shapes.items()}
    if epsilon is not None and budget not in ("uniform", "er"):
        raise ValueError(f"epsilon implies budget='er' (SET), got budget={budget!r}")
    method = "er" if epsilon is not None else budget
    densities = layer_densities(checked, density=density, method=method, epsilon=epsilon,
                                overrides=overrides, power=power, strict=strict)
    gen = as_generator(seed, generator)
    make = _LAYER_GENERATORS[topology]
    layers = {}
    for name, shape in checked.items():
        m = kept_count(shape[0] * shape[1], 1.0 - densities[name])
        g = make(shape, num_edges=m, generator=gen, **topology_kwargs)
        params = dict(g.params, budget=method)
        if epsilon is not None:
            params["epsilon"] = float(epsilon)
        layers[name] = GeneratedMask(g.mask, g.method, params, densities[name])
    return MLPMasks(layers)


def ws_flex_mlp_masks(shapes: Mapping[str, Sequence[int]], n: int, k: float, p: float, *,
                      seed: int | None = None, generator: torch.Generator | None = None,
                      shared_graph: bool = True, dense: Sequence[str] = (),
                      connected: bool = True, assignment_seed: int = 1) -> MLPMasks:
    """graph2nn relational-graph MLP: one WS-flex graph expanded to every masked layer.

    You et al., "Graph Structure of Neural Networks", ICML 2020: the relational graph defines
    the message exchange of every layer (``cfg.RGRAPH.KEEP_GRAPH``: the same graph in each
    layer); graph2nn's MLP keeps its stem (input → first width) and head (→ classes) dense — name
    them in ``dense``. Neuron blocks depend only on the width, so consecutive layers agree on
    which neurons form a node (see :func:`relational_graph_mask`).

    Args:
        shapes: ``{name: (n_out, n_in)}``; every non-dense width must be >= n.
        n, k, p: WS-flex nodes, real average degree in [2, n−1], rewiring probability.
        seed, generator: exactly one.
        shared_graph: one graph for all layers (True, graph2nn) or a fresh graph per layer.
        dense: names of layers given an all-True mask.
        connected: redraw graphs until connected.
        assignment_seed: seed of the neuron-to-node blocks.

    Returns:
        :class:`MLPMasks`; each layer's ``relational`` holds C and L.

    >>> res = ws_flex_mlp_masks(mlp_shapes([3072, 512, 512, 10]), 64, 8.32, 0.2,
    ...                         dense=("fc1", "fc3"), seed=0)
    >>> [round(v["density"], 3) for v in res.report().values()]
    [1.0, 0.146, 1.0]
    """
    if not isinstance(shapes, Mapping) or not shapes:
        raise ValueError("shapes must be a non-empty mapping {name: (n_out, n_in)}")
    checked = {name: _check_shape(shape) for name, shape in shapes.items()}
    unknown = [d for d in dense if d not in checked]
    if unknown:
        raise KeyError(f"dense names {unknown}, which are not in shapes {list(checked)}")
    gen = as_generator(seed, generator)
    graph = None
    layers = {}
    for name, shape in checked.items():
        if name in dense:
            layers[name] = GeneratedMask(torch.ones(shape, dtype=torch.bool), "dense", {}, 1.0)
            continue
        if graph is None or not shared_graph:
            graph = ws_flex_graph(n, k, p, generator=gen, connected=connected)
        layers[name] = relational_graph_mask(graph, shape, assignment_seed=assignment_seed)
    return MLPMasks(layers)
