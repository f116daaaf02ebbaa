"""Discrete power-law fit of degree sequences (Clauset, Shalizi & Newman, "Power-law
distributions in empirical data", SIAM Review 51(4), 2009 — "CSN" below).

Model: ``p(x) = x^(−α) / ζ(α, x_min)`` for integers ``x >= x_min``, with the Hurwitz zeta function
``ζ(α, q) = Σ_{k>=0} (k+q)^(−α)`` (``scipy.special.zeta(alpha, xmin)``).

* ``α`` for a given ``x_min``: the exact discrete maximum-likelihood estimate — the root of CSN
  eq. (3.5), ``ζ'(α, x_min)/ζ(α, x_min) = −(1/n) Σ ln x_i``, found by maximising the (concave)
  log-likelihood ``−n ln ζ(α, x_min) − α Σ ln x_i`` with a golden-section search on
  ``α ∈ (1, α_max]``, vectorised over all candidate ``x_min``; ``α_max = min(50, 700/ln x_min)``
  keeps ``ζ`` above float64 underflow. A fit at ``α_max`` (``at_bound=True``) means the tail
  decays faster than any power law in range, as the binomial degrees of an Erdős–Rényi layer do.
* ``x_min``: the candidate (an observed value with at least ``min_tail`` observations at or above
  it, and at least two distinct values in the tail) minimising the Kolmogorov–Smirnov distance
  ``D = max_{x >= x_min} |S(x) − P(x)|`` between the empirical and fitted CDFs of the tail
  (CSN §3.3). ``D`` is evaluated exactly over all integers ``>= x_min``: both CDFs are monotone
  step functions, so it suffices to check each observed value ``u`` and ``u − 1``.
* Optional comparison with alternative distributions fitted to the same tail by maximum
  likelihood, with Vuong's normalised log-likelihood ratio test (CSN §5.1): discrete exponential
  (geometric) ``p(x) = (1 − e^(−λ)) e^(−λ(x − x_min))``, and discrete log-normal
  ``p(x) ∝ Φ((ln(x+½) − μ)/σ) − Φ((ln(x−½) − μ)/σ)`` (the log-normal mass of ``[x − ½, x + ½)``,
  normalised over ``x >= x_min``), fitted by bounded Nelder–Mead over
  ``μ ∈ [ln(x_min − ½) − 50, ln x_max + 50]``, ``σ ∈ [10⁻³, 50]`` (on power-law data the
  log-normal MLE drifts towards ``μ → −∞, σ → ∞``, where it mimics a power law; the bounds stop
  the drift with ``R ≈ 0``). ``R > 0`` favours the power law; ``p_value`` is the probability of
  ``|R|`` this large if both fit equally well (small = the sign is significant).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import optimize, special

from graphsparse.checks import check_int
from graphsparse.topology.metrics._common import Result, check_graph
from graphsparse.topology.metrics.degree import total_degree

if TYPE_CHECKING:
    from graphsparse.topology.graph import NetworkGraph

__all__ = ["MIN_TAIL", "LikelihoodRatio", "PowerLawFit", "fit_powerlaw", "degree_powerlaw"]

#: Default minimum number of observations in the fitted tail.
MIN_TAIL = 50
_ALPHA_RANGE = (1.0 + 1e-6, 50.0)
_GOLDEN_STEPS = 90  # interval shrinks by 0.618 per step: 49 · 0.618^90 < 1e-17
_LOGNORMAL_SPAN = 50.0  # log-normal MLE over μ ∈ [ln(x_min−½) − 50, ln(x_max) + 50], σ ∈ [1e-3, 50]


@dataclass(frozen=True)
class LikelihoodRatio(Result):
    """Vuong's test of the power law against ``alternative`` on the fitted tail (CSN §5.1).

    ``R = Σ ln p_powerlaw(x_i) − ln p_alternative(x_i)`` (nats; > 0 favours the power law),
    ``normalized_R = R / (σ √n)`` with ``σ`` the standard deviation of the per-observation
    differences, ``p_value = erfc(|normalized_R| / √2)``. ``parameters`` are the alternative's
    MLE parameters (``lambda`` for exponential; ``mu``, ``sigma`` of ``ln x`` for log-normal).
    """

    alternative: str
    R: float
    normalized_R: float
    p_value: float
    parameters: dict[str, float]


@dataclass(frozen=True)
class PowerLawFit(Result):
    """Result of :func:`fit_powerlaw`: exponent ``alpha`` (unitless, > 1), ``xmin`` (the lower
    bound of the power-law tail, same unit as the data: a degree), ``ks`` (KS distance of the tail,
    in [0, 1]), ``n_tail`` observations ``>= xmin`` out of ``n`` positive values (``n_zero`` zeros
    were dropped: a power law has no mass at 0), ``at_bound`` (``alpha`` reached the upper end of
    the search, see the module docstring), optional ``comparisons``."""

    alpha: float
    at_bound: bool
    xmin: int
    ks: float
    n_tail: int
    n: int
    n_zero: int
    comparisons: list[LikelihoodRatio] | None


def _validate(data: np.ndarray | list) -> np.ndarray:
    x = np.asarray(data)
    if x.ndim != 1:
        raise ValueError(f"data must be a 1-D sequence of non-negative integers, got shape {x.shape}")
    if x.dtype == bool or not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"data must hold non-negative integers, got dtype {x.dtype}")
    if not np.issubdtype(x.dtype, np.integer):
        if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
            raise ValueError("data must hold non-negative integers (a discrete power law); got non-integer values")
    if x.size and x.min() < 0:
        raise ValueError(f"data must hold non-negative integers; got the value {x.min()}")
    return x.astype(np.int64)


def _alpha_max(xmin: np.ndarray) -> np.ndarray:
    """Upper end of the α search: 50, lowered so that ``xmin^(−α)`` stays above ``e^(−700)``."""
    return np.minimum(_ALPHA_RANGE[1], 700.0 / np.log(np.maximum(np.asarray(xmin, dtype=np.float64), 2.0)))


def _mle_alpha(xmin: np.ndarray, n: np.ndarray, sum_log: np.ndarray) -> np.ndarray:
    """Vectorised golden-section maximisation of ``−n ln ζ(α, xmin) − α Σ ln x`` over α."""
    xmin, n, sum_log = (np.asarray(v, dtype=np.float64) for v in (xmin, n, sum_log))

    def loglik(alpha: np.ndarray) -> np.ndarray:
        return -n * np.log(special.zeta(alpha, xmin)) - alpha * sum_log

    lo = np.full(xmin.shape, _ALPHA_RANGE[0])
    hi = _alpha_max(xmin)
    ratio = (math.sqrt(5) - 1) / 2
    a = hi - ratio * (hi - lo)
    b = lo + ratio * (hi - lo)
    fa, fb = loglik(a), loglik(b)
    for _ in range(_GOLDEN_STEPS):
        left = fa >= fb  # maximum in [lo, b]
        hi = np.where(left, b, hi)
        lo = np.where(left, lo, a)
        new = np.where(left, hi - ratio * (hi - lo), lo + ratio * (hi - lo))
        fnew = loglik(new)
        a, b, fa, fb = (
            np.where(left, new, b),
            np.where(left, a, new),
            np.where(left, fnew, fb),
            np.where(left, fa, fnew),
        )
    return (lo + hi) / 2


def _ks_distance(values: np.ndarray, counts: np.ndarray, xmin: int, alpha: float) -> float:
    """Exact KS distance over the integers ``>= xmin`` between the tail's empirical CDF and the
    fitted discrete power-law CDF ``P(x) = 1 − ζ(α, x+1)/ζ(α, xmin)``."""
    emp = np.cumsum(counts) / counts.sum()
    z0 = special.zeta(alpha, xmin)
    at = 1.0 - special.zeta(alpha, values + 1.0) / z0
    before = values - 1.0
    ok = before >= xmin
    at_before = 1.0 - special.zeta(alpha, before[ok] + 1.0) / z0
    emp_before = np.concatenate([[0.0], emp[:-1]])[ok]
    d = np.abs(emp - at).max()
    if ok.any():
        d = max(d, np.abs(emp_before - at_before).max())
    return float(d)


def fit_powerlaw(
    data: np.ndarray | list,
    *,
    xmin: int | None = None,
    min_tail: int = MIN_TAIL,
    compare: bool = False,
) -> PowerLawFit:
    """Fit a discrete power law to non-negative integer data (e.g. degrees) by maximum
    likelihood, choosing ``x_min`` by minimal KS distance (CSN 2009; see the module docstring).

    Args:
        data: 1-D non-negative integers; zeros are dropped (counted in ``n_zero``).
        xmin: fix the lower bound of the tail instead of searching for it (a positive integer).
        min_tail: minimum number of observations ``>= x_min`` for a candidate ``x_min``.
        compare: also run likelihood-ratio tests against the discrete exponential and log-normal.

    Raises:
        ValueError: bad data (non-integers, negatives, not 1-D), fewer than ``min_tail`` positive
            values, ``xmin`` not a positive integer, or no candidate with at least two distinct
            values in its tail.

    Example::

        >>> rng = np.random.default_rng(0)
        >>> x = np.floor(0.5 * (1 - rng.random(20000)) ** (-1 / 1.5) + 0.5).astype(int)  # γ ≈ 2.5
        >>> round(fit_powerlaw(x).alpha, 1)
        2.5
    """
    x = _validate(data)
    check_int(min_tail, "min_tail", low=1)
    n_zero = int((x == 0).sum())
    x = x[x > 0]
    if x.size < min_tail:
        raise ValueError(f"data has {x.size} positive values; the fit needs at least min_tail={min_tail}")
    values, counts = np.unique(x, return_counts=True)
    logs = np.log(values)
    n_tail = np.cumsum(counts[::-1])[::-1]
    sum_log = np.cumsum((counts * logs)[::-1])[::-1]
    if xmin is None:
        starts = np.flatnonzero((n_tail >= min_tail) & (np.arange(len(values)) < len(values) - 1))
        if starts.size == 0:
            raise ValueError(
                f"data: no x_min candidate has at least min_tail={min_tail} observations and two "
                "distinct values in its tail"
            )
        xmins = values[starts]
    else:
        check_int(xmin, "xmin", low=1)
        start = int(np.searchsorted(values, xmin))
        if start >= len(values) or n_tail[start] < min_tail:
            raise ValueError(f"xmin={xmin} leaves fewer than min_tail={min_tail} observations in the tail")
        if start == len(values) - 1:
            raise ValueError(f"xmin={xmin}: the tail holds a single distinct value; the exponent is undefined")
        starts, xmins = np.array([start]), np.array([xmin])
    alphas = _mle_alpha(xmins, n_tail[starts], sum_log[starts])
    ks = np.array([
        _ks_distance(values[s:].astype(np.float64), counts[s:], int(xm), float(al))
        for s, xm, al in zip(starts, xmins, alphas)
    ])
    best = int(np.argmin(ks))
    s, best_xmin, alpha = int(starts[best]), int(xmins[best]), float(alphas[best])
    at_bound = bool(alpha >= float(_alpha_max(best_xmin)) - 1e-6)
    comparisons = None
    if compare:
        comparisons = _compare(values[s:], counts[s:], best_xmin, alpha)
    return PowerLawFit(
        alpha, at_bound, best_xmin, float(ks[best]), int(n_tail[s]), int(x.size), n_zero, comparisons
    )


def _log_interval_normal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``log(Φ(b) − Φ(a))`` for ``a < b``, accurate in both tails."""
    upper = a > 0  # use the upper tail: Φ(b) − Φ(a) = Φ(−a) − Φ(−b)
    hi = np.where(upper, special.log_ndtr(-a), special.log_ndtr(b))
    lo = np.where(upper, special.log_ndtr(-b), special.log_ndtr(a))
    return hi + np.log1p(-np.exp(lo - hi))


def _vuong(name: str, diff: np.ndarray, counts: np.ndarray, params: dict[str, float]) -> LikelihoodRatio:
    n = counts.sum()
    r = float((counts * diff).sum())
    sigma = math.sqrt(float((counts * (diff - r / n) ** 2).sum() / n))
    if sigma == 0:
        return LikelihoodRatio(name, r, 0.0, 1.0, params)
    norm = r / (sigma * math.sqrt(n))
    return LikelihoodRatio(name, r, norm, float(special.erfc(abs(norm) / math.sqrt(2))), params)


def _compare(values: np.ndarray, counts: np.ndarray, xmin: int, alpha: float) -> list[LikelihoodRatio]:
    """Likelihood-ratio tests of the fitted power-law tail against exponential and log-normal."""
    v = values.astype(np.float64)
    n = counts.sum()
    log_pl = -alpha * np.log(v) - math.log(special.zeta(alpha, xmin))
    out = []
    mean_excess = float((counts * (v - xmin)).sum() / n)
    lam = math.log1p(1.0 / mean_excess)
    log_exp = math.log(-math.expm1(-lam)) - lam * (v - xmin)
    out.append(_vuong("exponential", log_pl - log_exp, counts, {"lambda": lam}))

    lo_edge, hi_edge, z_edge = np.log(v - 0.5), np.log(v + 0.5), math.log(xmin - 0.5)

    def log_lognormal(theta: np.ndarray) -> np.ndarray:
        mu, sigma = theta[0], math.exp(theta[1])
        norm = special.log_ndtr(-(z_edge - mu) / sigma)
        return _log_interval_normal((lo_edge - mu) / sigma, (hi_edge - mu) / sigma) - norm

    logs = np.log(v)
    mu0 = float((counts * logs).sum() / n)
    sd0 = math.sqrt(float((counts * (logs - mu0) ** 2).sum() / n)) or 1.0
    top = math.log(float(v[-1]))
    res = optimize.minimize(
        lambda th: -float((counts * log_lognormal(th)).sum()),
        np.array([mu0, math.log(sd0)]),
        method="Nelder-Mead",
        bounds=[(z_edge - _LOGNORMAL_SPAN, top + _LOGNORMAL_SPAN), (math.log(1e-3), math.log(_LOGNORMAL_SPAN))],
    )
    params = {"mu": float(res.x[0]), "sigma": float(math.exp(res.x[1]))}
    out.append(_vuong("lognormal", log_pl - log_lognormal(res.x), counts, params))
    return out


def degree_powerlaw(graph: NetworkGraph, *, min_tail: int = MIN_TAIL, compare: bool = False) -> PowerLawFit:
    """Power-law fit (:func:`fit_powerlaw`) of the hidden neurons' total degree (in + out over all
    blocks; SET's "scale-free" claim is about hidden neurons, Mocanu et al., Nat. Commun. 2018).

    Raises ``ValueError`` when the graph has no hidden level or too few hidden neurons with a
    positive degree (fewer than ``min_tail``).

    Example::

        >>> rng = np.random.default_rng(0)
        >>> g = NetworkGraph.from_masks([rng.random((400, 30)) < 0.2, rng.random((10, 400)) < 0.2])
        >>> fit = degree_powerlaw(g)
        >>> fit.n, fit.alpha > 1, 0 <= fit.ks <= 1
        (400, True, True)
    """
    check_graph(graph)
    if graph.num_levels < 3:
        raise ValueError("graph has no hidden level (needs at least 3 levels) for a hidden-degree power-law fit")
    deg = total_degree(graph)[graph.offsets[1] : graph.offsets[-2]]
    return fit_powerlaw(deg, min_tail=min_tail, compare=compare)
