"""Random bipartite layer masks with an exact edge count: Erdős–Rényi, scale-free, small-world,
biregular.

Each generator returns a :class:`GeneratedMask` (see :mod:`graphsparse.topology.generators` for
the conventions shared by all generators: ``(n_out, n_in)`` layout, exact counts, seeding).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from graphsparse.checks import as_generator, check_choice, check_density, check_float, check_int
from graphsparse.masks import erdos_renyi_density, kept_count

from ._sampling import (
    distinct_per_row,
    is_member,
    repeat_by_counts,
    uniform_positions,
    weighted_positions,
)

if TYPE_CHECKING:
    from .relational import RelationalGraph

__all__ = ["GeneratedMask", "erdos_renyi_mask", "scale_free_mask", "small_world_mask",
           "biregular_mask"]

# Switching rounds allowed when repairing a configuration-model layer (each round fixes a
# constant fraction of the duplicates; see biregular_mask).
_MAX_SWITCH_ROUNDS = 10_000
# Random partner edges offered to each repeated edge per switching round.
_SWITCH_PARTNERS = 4


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


def check_layer_shape(shape) -> tuple[int, int]:
    """``(n_out, n_in)`` from a pair of layer widths, each an int >= 1."""
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence) or len(shape) != 2:
        raise ValueError(f"shape must be a pair (n_out, n_in) of layer widths, got {shape!r}")
    n_out = check_int(shape[0], "shape[0] (n_out, the output width)", low=1)
    n_in = check_int(shape[1], "shape[1] (n_in, the input width)", low=1)
    return n_out, n_in


def edge_count(n_out: int, n_in: int, density, num_edges) -> tuple[int, float]:
    """Exact edge count from exactly one of density / num_edges, and the requested density."""
    n = n_out * n_in
    if (density is None) == (num_edges is None):
        raise ValueError("give exactly one of density or num_edges")
    if num_edges is not None:
        m = check_int(num_edges, "num_edges", low=0, high=n)
        return m, m / n
    d = check_density(density)
    return kept_count(n, 1.0 - d), d


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
    n_out, n_in = check_layer_shape(shape)
    gen = as_generator(seed, generator)
    given = sum(x is not None for x in (density, epsilon, num_edges))
    if given != 1:
        raise ValueError("give exactly one of density, epsilon or num_edges")
    params: dict = {}
    if epsilon is not None:
        eps = check_float(epsilon, "epsilon", low=0.0, open_low=True)
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
        m, requested = edge_count(n_out, n_in, density, num_edges)
    mask = uniform_positions(n_out * n_in, m, gen).reshape(n_out, n_in)
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
    n_out, n_in = check_layer_shape(shape)
    g = check_float(gamma, "gamma (power-law exponent)", low=1.0, open_low=True)
    check_choice(side, "side", ("in", "out", "both"))
    gen = as_generator(seed, generator)
    m, requested = edge_count(n_out, n_in, density, num_edges)
    la = _power_law_logweights(n_out, g, gen) if side in ("in", "both") else None
    lb = _power_law_logweights(n_in, g, gen) if side in ("out", "both") else None
    mask = weighted_positions(n_out, n_in, la, lb, m, gen).reshape(n_out, n_in)
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
    n_out, n_in = check_layer_shape(shape)
    b = check_float(beta, "beta (rewiring probability)", low=0.0, high=1.0)
    gen = as_generator(seed, generator)
    m, requested = edge_count(n_out, n_in, density, num_edges)
    base, rem = divmod(m, n_out)
    r = torch.arange(n_out, dtype=torch.int64)
    deg = base + (torch.div((r + 1) * rem, n_out, rounding_mode="floor")
                  - torch.div(r * rem, n_out, rounding_mode="floor"))
    centre = (r.double() + 0.5) * n_in / n_out - 0.5
    start = torch.floor(centre - (deg.double() - 1.0) / 2.0 + 0.5).to(torch.int64) % n_in
    rows = repeat_by_counts(r, deg)
    within = torch.arange(m) - repeat_by_counts(torch.cumsum(deg, 0) - deg, deg)
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
    new_rows, offsets = distinct_per_row(free, t, gen)
    new_cols = (start[new_rows] + deg[new_rows] + offsets) % n_in
    flat = torch.zeros(n_out * n_in, dtype=torch.bool)
    flat[rows[~moved] * n_in + cols[~moved]] = True
    flat[new_rows * n_in + new_cols] = True
    return GeneratedMask(flat.reshape(n_out, n_in), "small_world", {"beta": b}, requested)


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
        valid = (r1 != r2) & (c1 != c2) & ~is_member(sorted_flat, r1 * n_in + c2) \
            & ~is_member(sorted_flat, r2 * n_in + c1)
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
        ok &= ~is_member(clash, new1) & ~is_member(clash, new2)
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
    n_out, n_in = check_layer_shape(shape)
    d_in = check_int(in_degree, f"in_degree (fan-in of each of the n_out={n_out} outputs)",
                     low=1, high=n_in)
    if out_degree is None:
        if (n_out * d_in) % n_in:
            raise ValueError(f"in_degree={d_in} with shape {(n_out, n_in)} needs out_degree = "
                             f"n_out·in_degree/n_in = {n_out * d_in / n_in:g}, not an integer; "
                             "choose in_degree so that n_in divides n_out·in_degree")
        d_out = n_out * d_in // n_in
    else:
        d_out = check_int(out_degree, f"out_degree (fan-out of each of the n_in={n_in} inputs)",
                          low=1, high=n_out)
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
