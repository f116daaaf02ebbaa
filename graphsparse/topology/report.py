"""One-call topology report of a :class:`~graphsparse.topology.NetworkGraph`.

:func:`report` runs the default metrics (sizes, density, per-layer degrees, dead neurons,
effective sparsity, input -> output path counts, components, power-law fit of the hidden
neurons' degree) and, on request, the costly ones (shortest paths, 4-cycles, spectral scores),
timing each. The result is a :class:`TopologyReport` dataclass: ``str(r)`` renders a text table,
``r.to_dict()`` / ``r.to_json()`` serialise it. Top-level JSON keys: ``num_nodes``, ``num_edges``,
``density``, ``num_identity_edges``, ``sizes``, ``level_names``, ``dead_neurons``,
``effective_sparsity``, ``effective_edges``, ``num_components``, ``components``, ``layers``,
``paths``, ``powerlaw``, ``shortest_paths``, ``four_cycles``, ``spectral``, ``timings``, ``seed``,
``view`` (``"channel"`` or ``"kernel"``: how Conv2d weights became edges, see
:meth:`~graphsparse.topology.NetworkGraph.kernel_view`) and ``conv_layers`` (layers whose edges
stand for several weights: Conv2d, or a Linear reading a flattened map).
See :mod:`graphsparse.topology.metrics` for every definition and the graph each metric uses.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from graphsparse.topology import metrics
from graphsparse.topology.metrics._common import Result, check_graph, jsonable

if TYPE_CHECKING:
    from graphsparse.topology.graph import NetworkGraph

__all__ = ["TopologyReport", "PowerLawSummary", "report"]


@dataclass(frozen=True)
class PowerLawSummary(Result):
    """Power-law fit of the hidden neurons' total degree (fields of
    :class:`~graphsparse.topology.metrics.PowerLawFit`); when ``fitted`` is False (no hidden level,
    fewer than ``min_tail`` hidden neurons with positive degree, or a single distinct degree) the
    fit fields are None and ``reason`` says why."""

    fitted: bool
    reason: str | None
    alpha: float | None = None
    at_bound: bool | None = None
    xmin: int | None = None
    ks: float | None = None
    n_tail: int | None = None
    n: int | None = None
    comparisons: list[metrics.LikelihoodRatio] | None = None


@dataclass(frozen=True)
class TopologyReport(Result):
    """Typed result of :func:`report` (see the module docstring for the JSON layout).

    ``layers`` has one :class:`~graphsparse.topology.metrics.LayerStats` per weight layer;
    ``shortest_paths``, ``four_cycles`` and ``spectral`` are None unless requested; ``timings``
    maps each metric to the seconds it took.
    """

    num_nodes: int
    num_edges: int
    density: float
    num_identity_edges: int
    sizes: list[int]
    level_names: list[str]
    dead_neurons: metrics.DeadNeurons
    effective_sparsity: float
    effective_edges: int
    num_components: int
    components: metrics.Components
    layers: list[metrics.LayerStats]
    paths: metrics.PathCounts
    powerlaw: PowerLawSummary
    shortest_paths: metrics.ShortestPaths | None
    four_cycles: metrics.FourCycles | None
    spectral: list[metrics.LayerSpectrum] | None
    timings: dict[str, float]
    seed: int
    view: str
    conv_layers: int

    def to_json(self, indent: int | None = 2) -> str:
        """The report as a JSON string (``to_dict()`` serialised; NaN/inf become null)."""
        return json.dumps(jsonable(self), indent=indent)

    def __str__(self) -> str:
        return _render(self)


def report(
    graph: NetworkGraph,
    *,
    shortest_paths: bool = False,
    four_cycles: bool = False,
    spectral: bool = False,
    seed: int = 0,
    shortest_path_sources: int | None = 100,
    powerlaw_min_tail: int = metrics.powerlaw.MIN_TAIL,
    powerlaw_compare: bool = True,
) -> TopologyReport:
    """Topology report of ``graph`` (default metrics always; costly ones opt-in).

    Args:
        graph: a :class:`~graphsparse.topology.NetworkGraph`.
        shortest_paths: add the mean undirected shortest-path length (BFS from
            ``shortest_path_sources`` seeded random sources; exact when that is None or at least
            the number of nodes).
        four_cycles: add 4-cycle counts and Robins–Alexander clustering per layer.
        spectral: add Ramanujan spectral scores per layer.
        seed: seed of the shortest-path source sample and of ARPACK's start vector.
        shortest_path_sources: number of BFS sources (None = all, exact).
        powerlaw_min_tail: minimum tail size of the power-law fit.
        powerlaw_compare: add likelihood-ratio tests vs exponential and log-normal to the fit.

    Example::

        >>> r = report(NetworkGraph.from_masks([np.ones((3, 4), bool), np.ones((2, 3), bool)]))
        >>> r.num_edges, r.dead_neurons.total, r.paths.total
        (18, 0, 24)
        >>> str(r).splitlines()[0]  # print(r) shows the text table
        'Network topology report'
        >>> json.loads(r.to_json())["layers"][0]["in_degree"]
        {'mean': 4.0, 'min': 4, 'max': 4, 'std': 0.0}
    """
    check_graph(graph)
    timings: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        start = time.perf_counter()
        value = fn()
        timings[name] = time.perf_counter() - start
        return value

    layers = timed("degrees", lambda: metrics.layer_stats(graph))
    reach = timed("reachability", lambda: metrics.reachability(graph))
    dead = timed("dead_neurons", lambda: metrics.dead_neurons(graph, reach))
    eff = timed("effective_sparsity", lambda: metrics.effective_sparsity(graph, reach))
    paths = timed("paths", lambda: metrics.path_counts(graph))
    comps = timed("components", lambda: metrics.components(graph))
    power = timed("powerlaw", lambda: _powerlaw(graph, powerlaw_min_tail, powerlaw_compare))
    spl = timed("shortest_paths", lambda: metrics.mean_shortest_path(graph, sources=shortest_path_sources, seed=seed)) \
        if shortest_paths else None
    cycles = timed("four_cycles", lambda: metrics.four_cycles(graph)) if four_cycles else None
    spec = timed("spectral", lambda: metrics.spectral(graph, seed=seed)) if spectral else None
    n_edges = eff.num_edges
    return TopologyReport(
        num_nodes=graph.num_nodes,
        num_edges=n_edges,
        density=n_edges / eff.possible,
        num_identity_edges=sum(b.nnz for b in graph.blocks if not b.is_weight),
        sizes=list(graph.sizes),
        level_names=list(graph.level_names),
        dead_neurons=dead,
        effective_sparsity=eff.effective_sparsity,
        effective_edges=eff.effective_edges,
        num_components=comps.num_components,
        components=comps,
        layers=layers,
        paths=paths,
        powerlaw=power,
        shortest_paths=spl,
        four_cycles=cycles,
        spectral=spec,
        timings=timings,
        seed=seed,
        view=graph.view,
        conv_layers=sum(b.edge_count is not None for b in graph.weight_blocks),
    )


def _powerlaw(graph: NetworkGraph, min_tail: int, compare: bool) -> PowerLawSummary:
    if graph.num_levels < 3:
        return PowerLawSummary(False, "no hidden level")
    deg = metrics.total_degree(graph)[graph.offsets[1] : graph.offsets[-2]]
    positive = deg[deg > 0]
    if positive.size < min_tail:
        return PowerLawSummary(False, f"{positive.size} hidden neurons with positive degree (< min_tail={min_tail})")
    if np.unique(positive).size < 2:
        return PowerLawSummary(False, "all hidden neurons have the same degree")
    fit = metrics.fit_powerlaw(deg, min_tail=min_tail, compare=compare)
    return PowerLawSummary(True, None, fit.alpha, fit.at_bound, fit.xmin, fit.ks, fit.n_tail, fit.n, fit.comparisons)


# ------------------------------------------------------------------------------------ rendering
VIEW_TEXT = {"channel": "channel: a Conv2d channel pair with any kept kernel entry is one edge",
             "kernel": "kernel entries: every kept Conv2d kernel entry is an edge between its channels"}


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{digits}g}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]


def _render(r: TopologyReport) -> str:
    out = [
        "Network topology report",
        f"  levels      {' -> '.join(f'{n}({_fmt(s)})' for n, s in zip(r.level_names, r.sizes))}",
        f"  nodes       {_fmt(r.num_nodes)}",
        *([f"  view        {VIEW_TEXT[r.view]} ({r.conv_layers} such layers)"] if r.conv_layers else []),
        f"  edges       {_fmt(r.num_edges)} (density {_fmt(r.density)})"
        + (f", plus {_fmt(r.num_identity_edges)} identity residual edges" if r.num_identity_edges else ""),
        f"  effective sparsity  {_fmt(r.effective_sparsity)} ({_fmt(r.effective_edges)} edges on input->output paths)",
        f"  components  {_fmt(r.num_components)} (largest {_fmt(r.components.largest)}, "
        f"isolated {_fmt(r.components.isolated)})",
    ]
    d = r.dead_neurons
    out += [
        f"  dead neurons {_fmt(d.total)}: hidden {_fmt(d.hidden)} (no in {_fmt(d.hidden_no_in)}, no out "
        f"{_fmt(d.hidden_no_out)}), inputs without out-edges {_fmt(d.inputs_no_out)}, outputs without in-edges "
        f"{_fmt(d.outputs_no_in)}",
        f"               unreachable from input {_fmt(d.unreachable_from_input)}, not reaching output "
        f"{_fmt(d.not_reaching_output)}, on no input->output path {_fmt(d.off_path)}",
        "",
        "Layers (in_degree = fan-in of out neurons, out_degree = fan-out of in neurons; mean/min/max)",
    ]
    rows = [
        [
            l.name, f"{l.src}->{l.dst}", "x".join(str(s) for s in l.shape), _fmt(l.num_edges), _fmt(l.density),
            f"{_fmt(l.in_degree.mean, 3)}/{_fmt(l.in_degree.min)}/{_fmt(l.in_degree.max)}",
            f"{_fmt(l.out_degree.mean, 3)}/{_fmt(l.out_degree.min)}/{_fmt(l.out_degree.max)}",
        ]
        for l in r.layers
    ]
    out += ["  " + s for s in _table(["name", "levels", "shape", "edges", "density", "in_degree", "out_degree"], rows)]
    p = r.paths
    out += ["", f"Input->output paths ({'exact' if p.exact else 'log-space, float64'})"]
    if p.exact:
        out.append(f"  total {_fmt(p.total)}; per output min {_fmt(p.min)}, mean {_fmt(p.mean)}, max {_fmt(p.max)}")
    else:
        out.append(
            f"  total 10^{_fmt(p.log10_total)}; per output min 10^{_fmt(p.log10_min)}, max 10^{_fmt(p.log10_max)}"
        )
    out.append(f"  outputs reached by a path {_fmt(p.outputs_with_paths)} of {_fmt(p.num_outputs)}")
    w = r.powerlaw
    out += ["", "Power-law fit of hidden neurons' total degree (discrete MLE, x_min by KS; Clauset et al. 2009)"]
    if w.fitted:
        alpha = f"{_fmt(w.alpha)} (search bound: the tail decays faster than a power law)" if w.at_bound \
            else _fmt(w.alpha)
        out.append(f"  alpha {alpha}, x_min {_fmt(w.xmin)}, KS {_fmt(w.ks)}, tail {_fmt(w.n_tail)} of {_fmt(w.n)}")
        for c in w.comparisons or []:
            verdict = "power law" if c.R > 0 else c.alternative
            out.append(
                f"  vs {c.alternative}: R {_fmt(c.R)}, normalised {_fmt(c.normalized_R)}, p {_fmt(c.p_value)} "
                f"(favours {verdict})"
            )
    else:
        out.append(f"  not fitted: {w.reason}")
    if r.shortest_paths is not None:
        s = r.shortest_paths
        how = "exact, all sources" if s.exact else f"sampled, {s.num_sources} BFS sources, seed {s.seed}"
        out += ["", f"Mean shortest path (undirected, hops; {how})",
                f"  mean {_fmt(s.mean)}, max seen {_fmt(s.max_distance)}, pairs {_fmt(s.num_pairs)}"]
    if r.four_cycles is not None:
        f = r.four_cycles
        out += ["", "Bipartite clustering per layer (4-cycles, Robins-Alexander coefficient)"]
        rows = [[b.name, _fmt(b.four_cycles), _fmt(b.three_paths), _fmt(b.clustering)] for b in f.per_layer]
        rows.append(["total", _fmt(f.four_cycles), _fmt(f.three_paths), _fmt(f.clustering)])
        out += ["  " + s for s in _table(["name", "4-cycles", "3-paths", "clustering"], rows)]
    if r.spectral is not None:
        out += ["", "Spectral scores per layer (unrolled unweighted mask; Hoang et al. 2023)"]
        rows = [
            [s.name, "x".join(map(str, s.shape)), _fmt(s.avg_degree_left, 3), _fmt(s.avg_degree_right, 3),
             _fmt(s.lambda1), _fmt(s.mu_hat), _fmt(s.delta_s), _fmt(s.delta_r), _fmt(s.delta_r_norm)]
            for s in r.spectral
        ]
        out += ["  " + s for s in _table(["name", "shape", "d_left", "d_right", "lambda1", "mu_hat", "delta_s",
                                          "delta_r", "delta_r_norm"], rows)]
    out += ["", "Timings (s): " + ", ".join(f"{k} {v:.3f}" for k, v in r.timings.items())]
    return "\n".join(out)
