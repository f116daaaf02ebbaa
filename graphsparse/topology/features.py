"""Numeric features of a topology report, grouped by topic, for regression studies
(:mod:`graphsparse.topology.predict`): :func:`report_features` and :data:`FEATURE_GROUPS`."""

from __future__ import annotations

import math

import numpy as np

from graphsparse.topology.report import TopologyReport

__all__ = ["FEATURE_GROUPS", "report_features", "feature_group"]

#: Feature groups in output order; the first four are in every report, the others optional.
FEATURE_GROUPS = ("density", "degree", "paths", "connectivity", "powerlaw", "shortest_paths",
                  "four_cycles", "spectral")


def _log10_plus1(exact: bool, count: int | None, log10_count: float | None) -> float:
    """``log10(1 + count)`` of a path count; when only the log is known (counts above 2**62) the
    +1 is below float precision, and a missing log means a count of 0."""
    if exact:
        return math.log10(1 + count)
    return 0.0 if log10_count is None else float(log10_count)


def _density_features(r: TopologyReport) -> dict[str, float]:
    return {"density": r.density, "effective_sparsity": r.effective_sparsity,
            "effective_edge_fraction": r.effective_edges / max(r.num_edges, 1),
            "log10_edges": math.log10(1 + r.num_edges)}


def _degree_features(r: TopologyReport) -> dict[str, float]:
    """Degree statistics of every layer, as fractions of the possible degree, aggregated over
    layers (so networks of different depth are comparable)."""
    fan_in = [(l.in_degree, l.shape[1]) for l in r.layers]   # fan-in of out neurons, of n_in
    fan_out = [(l.out_degree, l.shape[0]) for l in r.layers]
    densities = [l.density for l in r.layers]
    return {"layer_density_min": min(densities), "layer_density_max": max(densities),
            "in_degree_min": min(s.min / n for s, n in fan_in),
            "in_degree_max": max(s.max / n for s, n in fan_in),
            "in_degree_std": float(np.mean([s.std / n for s, n in fan_in])),
            "out_degree_min": min(s.min / n for s, n in fan_out),
            "out_degree_std": float(np.mean([s.std / n for s, n in fan_out]))}


def _path_features(r: TopologyReport) -> dict[str, float]:
    p = r.paths
    return {"log10_total": _log10_plus1(p.exact, p.total, p.log10_total),
            "log10_min_per_output": _log10_plus1(p.exact, p.min, p.log10_min),
            "log10_max_per_output": _log10_plus1(p.exact, p.max, p.log10_max),
            "outputs_reached_fraction": p.outputs_with_paths / p.num_outputs}


def _connectivity_features(r: TopologyReport) -> dict[str, float]:
    n, d, c = r.num_nodes, r.dead_neurons, r.components
    return {"num_components": c.num_components, "largest_component_fraction": c.largest / n,
            "isolated_fraction": c.isolated / n, "dead_fraction": d.total / n,
            "hidden_dead_fraction": d.hidden / n, "off_path_fraction": d.off_path / n}


def _powerlaw_features(r: TopologyReport) -> dict[str, float] | None:
    w = r.powerlaw
    if not w.fitted:
        return None
    return {"alpha": w.alpha, "ks": w.ks, "tail_fraction": w.n_tail / w.n,
            "at_bound": float(w.at_bound)}


def _shortest_path_features(r: TopologyReport) -> dict[str, float] | None:
    s = r.shortest_paths
    if s is None or s.mean is None:
        return None
    return {"mean": s.mean, "max_distance": s.max_distance}


def _four_cycle_features(r: TopologyReport) -> dict[str, float] | None:
    f = r.four_cycles
    if f is None or f.clustering is None:
        return None
    return {"clustering": f.clustering, "log10_four_cycles": math.log10(1 + f.four_cycles)}


def _spectral_features(r: TopologyReport) -> dict[str, float] | None:
    """Means over the layers whose scores were computed (average degrees >= 3)."""
    layers = [s for s in r.spectral or [] if s.computed]
    if not layers:
        return None
    names = ("delta_r_norm", "delta_s_norm", "gap_ratio")
    return {name: float(np.mean([getattr(s, name) for s in layers])) for name in names}


_GROUP_FEATURES = {
    "density": _density_features, "degree": _degree_features, "paths": _path_features,
    "connectivity": _connectivity_features, "powerlaw": _powerlaw_features,
    "shortest_paths": _shortest_path_features, "four_cycles": _four_cycle_features,
    "spectral": _spectral_features,
}


def report_features(report: TopologyReport) -> dict[str, float]:
    """Flat dict of named numeric features ``"group.feature"`` of a topology report.

    Groups (:data:`FEATURE_GROUPS`; counts are normalised by the number of neurons or the
    possible degree, so networks of different sizes are comparable):

    * ``density``: density, effective sparsity, fraction of edges on an input -> output path,
      ``log10(1 + edges)``;
    * ``degree``: per layer fan-in / fan-out min, max and std divided by the possible degree,
      aggregated over layers (min of minima, max of maxima, mean of stds), min/max layer density;
    * ``paths``: ``log10(1 + count)`` of the input -> output paths (total, per-output min and
      max), fraction of outputs reached;
    * ``connectivity``: number of components, largest-component, isolated, dead, dead-hidden and
      off-path fractions of the neurons;
    * ``powerlaw`` (only when fitted): alpha, KS distance, tail fraction, at-bound flag;
    * ``shortest_paths``, ``four_cycles``, ``spectral`` (only when the report computed them):
      mean / max shortest-path hops; bipartite clustering and ``log10(1 + 4-cycles)``; mean of
      normalised Ramanujan gaps ``Δr``, ``Δs`` and ``μ̂/λ1`` over the layers with scores.

    A group whose metric is missing from the report is left out entirely (never zero-filled).

    Example::

        >>> import numpy as np
        >>> from graphsparse.topology import NetworkGraph, report
        >>> r = report(NetworkGraph.from_masks([np.ones((3, 4), bool), np.ones((2, 3), bool)]))
        >>> f = report_features(r)
        >>> f["density.density"], f["paths.outputs_reached_fraction"]
        (1.0, 1.0)
        >>> sorted({feature_group(name) for name in f})  # power law not fitted: no such group
        ['connectivity', 'degree', 'density', 'paths']
    """
    if not isinstance(report, TopologyReport):
        raise TypeError(f"report must be a TopologyReport (graphsparse.topology.report), "
                        f"got {type(report).__name__}")
    features = {}
    for group, extract in _GROUP_FEATURES.items():
        values = extract(report)
        if values is not None:
            features.update({f"{group}.{name}": float(v) for name, v in values.items()})
    return features


def feature_group(name: str) -> str:
    """The group of a feature name ``"group.feature"``.

    >>> feature_group("paths.log10_total")
    'paths'
    """
    return name.split(".", 1)[0]
