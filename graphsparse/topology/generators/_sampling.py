"""Exact sampling primitives behind the layer-mask generators.

Uniform and weighted ``m``-subsets of a layer's positions drawn without replacement (rejection
of repeated draws while that is cheap, one pass over all positions otherwise), per-row distinct
draws, and a ``repeat_interleave`` equivalent that avoids torch's parallel region. Every sampler
takes a ``torch.Generator``, so a seeded generator gives bit-identical results.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = ["repeat_by_counts", "is_member", "first_distinct", "distinct_per_row",
           "uniform_positions", "categorical_sampler", "top_mass", "weighted_positions"]

# Positions are processed in chunks of this many entries wherever a pass over the whole layer
# is needed (Bernoulli draws, Gumbel keys), bounding temporary memory.
_CHUNK = 1 << 22
# A side (the positions kept, or their complement) holding at most 1/_SPARSE_RATIO of the
# layer is sampled by rejection; denser requests use one pass over all positions.
_SPARSE_RATIO = 32
# Largest top-m probability mass for which weighted sampling by rejection is used; above it
# the exact Gumbel-top-k pass over all positions is used (see weighted_positions).
_MAX_STREAM_MASS = 0.5
# Upper bound for integer draws that are reduced modulo a range (bias <= range / 2**62).
_RAND_HIGH = 1 << 62


def repeat_by_counts(values: torch.Tensor, counts: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """``torch.repeat_interleave(values, counts, dim)`` by binary search on the cumulative
    counts (``repeat_interleave`` always enters a parallel region, which stalls on busy
    machines when called many times on small tensors)."""
    ends = torch.cumsum(counts, 0)
    total = int(ends[-1]) if ends.numel() else 0
    return values.index_select(dim, torch.searchsorted(ends, torch.arange(total), right=True))


def is_member(sorted_values: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """``query ∈ sorted_values`` elementwise (binary search; faster than ``torch.isin``)."""
    if sorted_values.numel() == 0:
        return torch.zeros(query.shape, dtype=torch.bool)
    idx = torch.searchsorted(sorted_values, query).clamp_(max=sorted_values.numel() - 1)
    return sorted_values[idx] == query


def first_distinct(draw: Callable[[int], torch.Tensor], k: int, rate: float,
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


def distinct_per_row(limits: torch.Tensor, counts: torch.Tensor, gen: torch.Generator
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
    pending = repeat_by_counts(torch.arange(limits.numel()), sample)
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
        row_of = repeat_by_counts(comp_rows, comp_lim)
        within = torch.arange(row_of.numel()) - repeat_by_counts(torch.cumsum(comp_lim, 0) - comp_lim,
                                                        comp_lim)
        all_keys = starts[row_of] + within
        keep_comp = all_keys[~is_member(torch.sort(keys).values, all_keys)]
        keys = torch.cat([keys[~complement[torch.searchsorted(ends, keys, right=True)]],
                          keep_comp])
    rows = torch.searchsorted(ends, keys, right=True)
    return rows, keys - starts[rows]


def uniform_positions(n: int, m: int, gen: torch.Generator) -> torch.Tensor:
    """Flat ``(n,)`` bool tensor with exactly ``m`` True entries, a uniform ``m``-subset."""
    if m == 0:
        return torch.zeros(n, dtype=torch.bool)
    if m == n:
        return torch.ones(n, dtype=torch.bool)
    q = min(m, n - m)
    if q * _SPARSE_RATIO <= n:
        idx = first_distinct(lambda j: torch.randint(0, n, (j,), generator=gen), q,
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
        idx = first_distinct(draw, s - m, rate=(m + 1) / n, accept=lambda c: flat[c])
        flat[idx] = False
    elif s < m:
        idx = first_distinct(draw, m - s, rate=(n - m + 1) / n, accept=lambda c: ~flat[c])
        flat[idx] = True
    return flat


def categorical_sampler(logp: torch.Tensor | None, size: int, gen: torch.Generator
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


def top_mass(la: torch.Tensor, lb: torch.Tensor, m: int) -> float:
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


def weighted_positions(n_out: int, n_in: int, la: torch.Tensor | None, lb: torch.Tensor | None,
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
    mass = top_mass(la_n, lb_n, m)
    if mass <= _MAX_STREAM_MASS:
        draw_r = categorical_sampler(la, n_out, gen)
        draw_c = categorical_sampler(lb, n_in, gen)
        idx = first_distinct(lambda j: draw_r(j) * n_in + draw_c(j), m, rate=1.0 - mass)
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
