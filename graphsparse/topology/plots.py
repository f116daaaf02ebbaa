"""Plots of network topology (matplotlib, headless Agg backend; files written atomically).

* :func:`plot_degree_distribution` — per-layer degree distributions on log–log axes with the
  fitted discrete power law (:func:`graphsparse.topology.metrics.fit_powerlaw`).
* :func:`plot_metric_over_epochs` — a metric recorded every epoch (e.g. under SET).
* :func:`plot_mask` — spy plot of one layer mask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from graphsparse._plotting import pyplot, save_figure

__all__ = ["plot_degree_distribution", "plot_metric_over_epochs", "plot_mask"]


def plot_degree_distribution(degrees: Mapping[str, Sequence[int] | np.ndarray], path,
                             title: str = "degree distribution", fit: bool = True) -> Path:
    """Empirical complementary CDF P(degree ≥ k) per series on log–log axes, with each series'
    fitted discrete power law (its CCDF ζ(α, k)/ζ(α, x_min) scaled to the tail's share).

    Args:
        degrees: ``{label: integer degrees}`` (e.g. hidden neurons' total degree per layer, or
            initial vs SET-trained).
        path: PNG file to write.
        fit: overlay the discrete power-law fit (Clauset, Shalizi, Newman 2009) of each series.
    """
    from graphsparse.topology.metrics import fit_powerlaw
    from scipy.special import zeta

    if not degrees:
        raise ValueError("degrees is empty: expected {label: degrees}")
    plt = pyplot()
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for label, values in degrees.items():
        x = np.asarray(values, dtype=np.int64)
        x = x[x > 0]
        if x.size == 0:
            continue
        ks, counts = np.unique(x, return_counts=True)
        ccdf = 1.0 - np.concatenate([[0], np.cumsum(counts)[:-1]]) / x.size   # P(K >= k)
        line = ax.loglog(ks, ccdf, "o", ms=3, alpha=0.7, label=label)[0]
        if fit and x.size >= 10:
            f = fit_powerlaw(x, min_tail=min(50, x.size))
            grid = np.arange(f.xmin, ks.max() + 1)
            tail_share = f.n_tail / x.size
            ax.loglog(grid, tail_share * zeta(f.alpha, grid) / zeta(f.alpha, f.xmin), "-",
                      color=line.get_color(), lw=1,
                      label=f"{label}: power law α={f.alpha:.2f}, x_min={f.xmin}")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("degree k")
    ax.set_ylabel("P(degree ≥ k)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    out = save_figure(fig, path)
    plt.close(fig)
    return out


def plot_metric_over_epochs(history: Sequence[Mapping], metric: str, path,
                            title: str | None = None) -> Path:
    """Line plot of ``row[metric]`` against ``row["epoch"]`` for a training history."""
    if not history:
        raise ValueError("history is empty")
    missing = [i for i, r in enumerate(history) if metric not in r]
    if missing:
        raise KeyError(f"metric {metric!r} is missing from history rows {missing[:5]}")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r["epoch"] for r in history], [r[metric] for r in history], "-o", ms=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(title or metric)
    out = save_figure(fig, path)
    plt.close(fig)
    return out


def plot_mask(mask: torch.Tensor | np.ndarray, path, title: str = "layer mask") -> Path:
    """Spy plot of a 2-D ``(out, in)`` mask: a dot per kept connection."""
    m = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D (out, in), got shape {m.shape}")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 6 * m.shape[0] / max(m.shape[1], 1) + 0.5))
    ax.spy(m, markersize=0.5)
    ax.set_xlabel("input unit")
    ax.set_ylabel("output unit")
    ax.set_title(f"{title} ({int(m.sum())} of {m.size} kept)")
    out = save_figure(fig, path)
    plt.close(fig)
    return out
