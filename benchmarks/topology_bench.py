"""Topology metrics of two seeded Erdős–Rényi networks: graphsparse vs networkx (and igraph).

Nets (masks from :func:`graphsparse.topology.erdos_renyi_mask`, one ``torch.Generator`` per net
seeded with ``--seed``, PyTorch ``(out, in)`` layout, as in ``shared/notes/ecosystem.md`` B.1):

* ``mlp_d10``: MLP 784-1000-1000-1000-10, the three hidden matrices at 10 % density, the
  10×1000 output matrix at ``--mlp-output-density`` (default 1.0: dense, as SET and B.1 do);
* ``wide_d05``: 4096-4096-4096-4096-4096, the four 4096×4096 matrices at 5 % (~3.35M edges).

For each net and metric, in the same process: graphsparse *cold* (first call on a freshly built
``NetworkGraph``, so lazily cached adjacencies are paid for) and *warm* (median of ``--repeats``
further calls), then networkx (and igraph when importable) computing the same quantity, and a
check that the values agree. Speed-up = baseline first-call seconds / graphsparse cold seconds
(igraph caches graph properties, e.g. connectedness, so its repeated calls can be much faster
than its first; the warm medians are recorded too).

Baselines (graph built once per engine from the dense masks via ``np.nonzero``; ``build`` times
exactly that):

* ``degrees``: in- and out-degree arrays and their histograms;
* ``components``: sizes of the weakly connected components;
* ``paths``: number of input -> output paths per output, Python DP over the topological order;
* ``dead_neurons``: the degree-based and reachability-based counts of
  :class:`graphsparse.topology.metrics.DeadNeurons`; reachability with a temporary super-source
  (``nx.descendants``) and super-sink (``nx.ancestors``), removed afterwards;
* ``effective_sparsity``: edges on an input -> output path = edges of the subgraph induced by
  the neurons that are both reachable from an input and reach an output (reachability included);
* ``shortest_paths``: mean undirected BFS distance from the same 100 seeded sources as
  ``mean_shortest_path(sources=100, seed)`` (networkx: ``single_source_shortest_path_length`` on
  ``to_undirected(as_view=True)``; igraph: ``distances(mode="all")``);
* ``four_cycles``: per-layer 4-cycles and Robins–Alexander clustering 4·C4/L3; networkx:
  ``bipartite.robins_alexander_clustering`` of each layer's undirected bipartite graph (its own
  function for this quantity; values compared per layer to 1e-12), run only on nets with at
  most ``--nx-four-cycles-max-edges`` edges (else n/a); igraph: n/a.

networkx runs under a per-metric wall-clock limit (``--nx-limit``, SIGALRM: networkx is pure
Python, so the alarm interrupts it); a metric over the limit is recorded as a lower bound.
A baseline whose first run takes more than 2 s is run once, otherwise ``--repeats`` times
(first call and median recorded). The whole default ``report()`` is timed cold (fresh graph) and warm.

Results go to ``benchmarks/results/topology_bench.json`` (atomic write); ``benchmarks/
render_docs.py`` turns them into docs/benchmarks.md.

    .venv/bin/python benchmarks/topology_bench.py                       # full run, several minutes
    .venv/bin/python benchmarks/topology_bench.py --wide-width 512 --repeats 1 --out /tmp/t.json
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gc
import json
import math
import signal
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import networkx as nx
import numpy as np
import scipy
import torch
from _timing import compare, environment, header_line, pin

from graphsparse.fileio import atomic_write
from graphsparse.topology import NetworkGraph, erdos_renyi_mask, report
from graphsparse.topology import metrics

try:  # optional, GPL: never a dependency of graphsparse; only used when already importable
    import igraph as ig
except ImportError:  # pragma: no cover - depends on the environment
    ig = None

RESULTS = Path(__file__).resolve().parent / "results" / "topology_bench.json"
METRICS = ("build", "degrees", "components", "paths", "dead_neurons", "effective_sparsity",
           "shortest_paths", "four_cycles")
SLOW_S = 2.0  # a baseline whose first run takes longer is run once


# ----------------------------------------------------------------------------------- utilities
class Timeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise :class:`Timeout` after ``seconds`` of wall time (SIGALRM, between bytecodes)."""
    def handler(signum, frame):
        raise Timeout

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run_baseline(fn: Callable[[], Any], repeats: int, limit: float | None) -> dict[str, Any]:
    """Time ``fn`` under ``limit``: the first call (``seconds``, compared with graphsparse's cold
    call: igraph caches properties such as connectedness, so its later calls can be much faster)
    and the median of all calls (``warm_seconds``); once if slow (> SLOW_S) else ``repeats`` times."""
    times, value = [], None
    for i in range(repeats):
        gc.collect()
        try:
            with time_limit(limit) if limit else contextlib.nullcontext():
                t, value = timed(fn)
        except Timeout:
            return {"status": "timeout", "seconds": limit, "warm_seconds": None, "runs": 1, "value": None}
        times.append(t)
        if t > SLOW_S:
            break
    return {"status": "ok", "seconds": times[0], "warm_seconds": statistics.median(times), "runs": len(times),
            "value": value}


# ----------------------------------------------------------------------------------------- nets
def make_nets(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    w = args.wide_width
    nets = {
        "mlp_d10": {"widths": [784, 1000, 1000, 1000, 10],
                    "densities": [args.mlp_density] * 3 + [args.mlp_output_density]},
        "wide_d05": {"widths": [w] * 5, "densities": [args.wide_density] * 4},
    }
    return {k: v for k, v in nets.items() if k in args.nets}


def generate(spec: dict[str, Any], seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    widths, dens = spec["widths"], spec["densities"]
    return {f"fc{l}": erdos_renyi_mask((widths[l], widths[l - 1]), density=dens[l - 1], generator=gen).mask
            for l in range(1, len(widths))}


def edge_arrays(masks: list[np.ndarray], offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global (source, target) ids from the dense ``(out, in)`` masks (``np.nonzero``)."""
    src, dst = [], []
    for l, m in enumerate(masks):
        rows, cols = np.nonzero(m)
        src.append(cols + offsets[l])
        dst.append(rows + offsets[l + 1])
    return np.concatenate(src), np.concatenate(dst)


# ------------------------------------------------------------------------------- graphsparse side
def gs_metrics(sources: np.ndarray, seed: int) -> dict[str, Callable[[NetworkGraph], Any]]:
    def degrees(g):
        din, dout = metrics.in_degree(g), metrics.out_degree(g)
        return din, dout, metrics.degree_histogram(din), metrics.degree_histogram(dout)

    def comps(g):
        return metrics.components(g).sizes

    def spl(g):
        return metrics.mean_shortest_path(g, sources=len(sources), seed=seed)

    return {"degrees": degrees, "components": comps, "paths": metrics.path_counts,
            "dead_neurons": metrics.dead_neurons, "effective_sparsity": metrics.effective_sparsity,
            "shortest_paths": spl, "four_cycles": metrics.four_cycles}


# ---------------------------------------------------------------------------------- networkx side
def nx_build(masks, offsets):
    src, dst = edge_arrays(masks, offsets)
    G = nx.DiGraph()
    G.add_nodes_from(range(int(offsets[-1])))
    G.add_edges_from(zip(src.tolist(), dst.tolist()))
    return G


def nx_reach(G, inputs, outputs):
    """(nodes reachable from an input, nodes reaching an output); inputs/outputs included."""
    src, snk = -1, -2
    try:
        G.add_edges_from((src, i) for i in inputs)
        fwd = nx.descendants(G, src)
        G.remove_node(src)
        G.add_edges_from((o, snk) for o in outputs)
        bwd = nx.ancestors(G, snk)
        G.remove_node(snk)
    finally:
        for v in (src, snk):
            if v in G:
                G.remove_node(v)
    return fwd, bwd


def nx_metrics(G, offsets, sources):
    n = int(offsets[-1])
    inputs = range(int(offsets[0]), int(offsets[1]))
    outputs = range(int(offsets[-2]), int(offsets[-1]))
    hidden = range(int(offsets[1]), int(offsets[-2]))

    def degrees():
        din = np.array([d for _, d in G.in_degree()], dtype=np.int64)
        dout = np.array([d for _, d in G.out_degree()], dtype=np.int64)
        hin, hout = collections.Counter(din.tolist()), collections.Counter(dout.tolist())
        return din, dout, hin, hout

    def comps():
        return sorted((len(c) for c in nx.weakly_connected_components(G)), reverse=True)

    def paths():
        count = {}
        for v in nx.topological_sort(G):
            pred = G.pred[v]
            count[v] = sum(count[u] for u in pred) if pred else int(v < offsets[1])
        return [count[o] for o in outputs]

    def dead():
        fwd, bwd = nx_reach(G, inputs, outputs)
        din, dout = G.in_degree, G.out_degree
        h_in = sum(1 for v in hidden if din[v] == 0)
        h_out = sum(1 for v in hidden if dout[v] == 0)
        h = sum(1 for v in hidden if din[v] == 0 or dout[v] == 0)
        i_no = sum(1 for v in inputs if dout[v] == 0)
        o_no = sum(1 for v in outputs if din[v] == 0)
        unreach = (n - len(inputs)) - sum(1 for v in fwd if v >= offsets[1])
        not_reaching = (n - len(outputs)) - sum(1 for v in bwd if v < offsets[-2])
        off_path = n - len(fwd & bwd)
        return dict(total=h + i_no + o_no, hidden=h, hidden_no_in=h_in, hidden_no_out=h_out,
                    inputs_no_out=i_no, outputs_no_in=o_no, unreachable_from_input=unreach,
                    not_reaching_output=not_reaching, off_path=off_path)

    def effective():
        fwd, bwd = nx_reach(G, inputs, outputs)
        return G.subgraph(fwd & bwd).number_of_edges()

    def spl():
        U = G.to_undirected(as_view=True)
        total, pairs = 0, 0
        for s in sources.tolist():
            d = nx.single_source_shortest_path_length(U, s)
            total += sum(d.values())
            pairs += len(d) - 1
        return total / pairs, pairs

    def four_cycles():
        # networkx's own function for the same quantity: the Robins–Alexander clustering
        # 4·C4 / L3 of each layer's undirected bipartite graph (one value per block)
        levels = range(len(offsets) - 2)
        return [nx.bipartite.robins_alexander_clustering(
            G.subgraph(range(int(offsets[l]), int(offsets[l + 2]))).to_undirected(as_view=True))
            for l in levels]

    return {"degrees": degrees, "components": comps, "paths": paths, "dead_neurons": dead,
            "effective_sparsity": effective, "shortest_paths": spl, "four_cycles": four_cycles}


# ------------------------------------------------------------------------------------ igraph side
def ig_build(masks, offsets):
    src, dst = edge_arrays(masks, offsets)
    g = ig.Graph(n=int(offsets[-1]), directed=True)
    g.add_edges(np.ascontiguousarray(np.stack([src, dst], axis=1)))
    return g


def ig_reach(g, inputs, outputs):
    n = g.vcount()
    g.add_vertices(2)
    try:
        g.add_edges([(n, i) for i in inputs] + [(o, n + 1) for o in outputs])
        fwd = set(g.subcomponent(n, mode="out")) - {n, n + 1}
        bwd = set(g.subcomponent(n + 1, mode="in")) - {n, n + 1}
    finally:
        g.delete_vertices([n, n + 1])
    return fwd, bwd


def ig_metrics(offsets, sources):
    """igraph's computations, each a function of an ``igraph.Graph`` (so a fresh graph can be
    passed for igraph's first call and a reused one for its cached calls)."""
    inputs = range(int(offsets[0]), int(offsets[1]))
    outputs = range(int(offsets[-2]), int(offsets[-1]))

    def degrees(g):
        din, dout = np.array(g.indegree(), dtype=np.int64), np.array(g.outdegree(), dtype=np.int64)
        return din, dout, np.bincount(din), np.bincount(dout)

    def comps(g):
        return sorted(g.connected_components(mode="weak").sizes(), reverse=True)

    def paths(g):
        adj_in = g.get_adjlist(mode="in")
        count = [0] * g.vcount()
        for v in g.topological_sorting(mode="out"):
            pred = adj_in[v]
            count[v] = sum(count[u] for u in pred) if pred else int(v < offsets[1])
        return [count[o] for o in outputs]

    def dead(g):
        fwd, bwd = ig_reach(g, inputs, outputs)
        din, dout = np.array(g.indegree(), dtype=np.int64), np.array(g.outdegree(), dtype=np.int64)
        lo, hi = int(offsets[1]), int(offsets[-2])
        h_in, h_out = din[lo:hi] == 0, dout[lo:hi] == 0
        i_no, o_no = int((dout[:lo] == 0).sum()), int((din[hi:] == 0).sum())
        n = g.vcount()
        return dict(total=int((h_in | h_out).sum()) + i_no + o_no, hidden=int((h_in | h_out).sum()),
                    hidden_no_in=int(h_in.sum()), hidden_no_out=int(h_out.sum()), inputs_no_out=i_no,
                    outputs_no_in=o_no, unreachable_from_input=(n - lo) - sum(1 for v in fwd if v >= lo),
                    not_reaching_output=hi - sum(1 for v in bwd if v < hi), off_path=n - len(fwd & bwd))

    def effective(g):
        fwd, bwd = ig_reach(g, inputs, outputs)
        return g.induced_subgraph(sorted(fwd & bwd)).ecount()

    def spl(g):
        d = np.array(g.distances(source=sources.tolist(), mode="all"), dtype=np.float64)
        ok = np.isfinite(d) & (d > 0)
        return float(d[ok].sum()) / int(ok.sum()), int(ok.sum())

    return {"degrees": degrees, "components": comps, "paths": paths, "dead_neurons": dead,
            "effective_sparsity": effective, "shortest_paths": spl}


# ------------------------------------------------------------------------------------ agreement
def agree(metric: str, ours: Any, theirs: Any) -> bool:
    if metric == "build":
        return ours == theirs
    if metric == "degrees":
        din, dout, hin, hout = theirs
        if isinstance(hin, collections.Counter):
            hin = np.bincount(np.fromiter(hin.elements(), dtype=np.int64), minlength=1)
            hout = np.bincount(np.fromiter(hout.elements(), dtype=np.int64), minlength=1)
        return all(np.array_equal(a, b) for a, b in zip(ours, (din, dout, hin, hout)))
    if metric == "components":
        return list(map(int, ours)) == list(theirs)
    if metric == "paths":
        if ours.exact:
            return [int(c) for c in ours.counts] == list(theirs)
        logs = np.array([math.log(c) if c else -math.inf for c in theirs])
        return bool(np.allclose(ours.log_counts, logs, rtol=1e-9, atol=0))
    if metric == "dead_neurons":
        return all(getattr(ours, k) == v for k, v in theirs.items())
    if metric == "effective_sparsity":
        return ours.effective_edges == theirs
    if metric == "shortest_paths":
        mean, pairs = theirs
        return ours.num_pairs == pairs and math.isclose(ours.mean, mean, rel_tol=1e-12)
    if metric == "four_cycles":
        return all(math.isclose(per.clustering or 0.0, ra, rel_tol=1e-12, abs_tol=0)
                   for per, ra in zip(ours.per_layer, theirs, strict=True))
    raise KeyError(metric)


def summary(metric: str, ours: Any) -> str:
    """Short human-readable value of graphsparse's result (for the docs table)."""
    if metric == "build":
        return f"{ours[0]:,} nodes, {ours[1]:,} edges"
    if metric == "degrees":
        return f"max in {int(ours[0].max())}, max out {int(ours[1].max())}"
    if metric == "components":
        return f"{len(ours):,} (largest {int(ours[0]):,})"
    if metric == "paths":
        return f"{ours.total:.4e} paths" if ours.exact else f"10^{ours.log10_total:.3f} paths"
    if metric == "dead_neurons":
        return f"{ours.total} dead, {ours.off_path} off-path"
    if metric == "effective_sparsity":
        return f"{ours.effective_sparsity:.6f} ({ours.effective_edges:,} effective edges)"
    if metric == "shortest_paths":
        return f"mean {ours.mean:.6f} over {ours.num_pairs:,} pairs"
    if metric == "four_cycles":
        return f"{ours.four_cycles:,} squares"
    return ""


# ----------------------------------------------------------------------------------------- main
def first_call_arm(build: Callable[[], Any], fn: Callable[[Any], Any], count: int) -> Callable[[], Any]:
    """An arm timing ``fn``'s first call on a fresh object: ``count`` objects are built now
    (untimed), and each call of the arm uses the next one."""
    fresh = [build() for _ in range(count)]
    return lambda: fn(fresh.pop())


def single_or_arm(fn: Callable[[], Any], limit: float | None) -> tuple[dict[str, Any] | None, Any]:
    """Probe a baseline once under ``limit``: ``(record, value)`` where ``record`` is that single
    call's timing if it was slow (> SLOW_S) or timed out, and None if it is fast enough to be
    timed as an interleaved arm."""
    res = run_baseline(fn, 1, limit)
    value = res.pop("value")
    if res["status"] == "ok" and res["seconds"] <= SLOW_S:
        return None, value
    return {**res, "min": res["seconds"], "samples": [res["seconds"]] if res["seconds"] else []}, value


def timed_metric(arms: dict[str, Callable[[], Any]], args: argparse.Namespace) -> dict[str, dict]:
    """``_timing.compare`` of the arms (interleaved, one warm-up round, ``--repeats`` samples)."""
    gc.collect()
    return {name: t.to_dict() for name, t in compare(arms, repeats=args.repeats, warmup=1).items()}


def metric_row(name: str, metric: str, value: Any, timings: dict[str, dict],
               agreed: dict[str, bool]) -> dict[str, Any]:
    """One table row: minima of every arm (``graphsparse_s`` cold, ``graphsparse_warm_s``,
    ``<engine>_s`` first call, ``<engine>_warm_s`` cached) and the speed-ups (baseline min /
    graphsparse min: first call vs cold, cached vs warm)."""
    row = {"net": name, "metric": metric, "value": summary(metric, value), "timings": timings,
           "graphsparse_s": timings["graphsparse_cold"]["min"],
           "graphsparse_warm_s": timings["graphsparse_warm"]["min"]}
    for engine in ("networkx", "igraph"):
        first = timings.get(f"{engine}_first")
        if first is None:
            continue
        cached = timings.get(f"{engine}_cached")
        row[f"{engine}_status"] = first.get("status", "ok")
        row[f"{engine}_s"] = first["min"]
        row[f"{engine}_runs"] = len(first["samples"])
        row[f"{engine}_agree"] = agreed.get(engine)
        row[f"{engine}_speedup"] = first["min"] / row["graphsparse_s"] if first["min"] else None
        if cached is not None:
            row[f"{engine}_warm_s"] = cached["min"]
            row[f"{engine}_speedup_warm"] = cached["min"] / row["graphsparse_warm_s"]
    return row


def bench_metric(metric: str, ours: Callable[[Any], Any], theirs: dict[str, Callable[[Any], Any]],
                 graphs: dict[str, tuple[Callable[[], Any], Any]], args: argparse.Namespace,
                 ) -> tuple[dict[str, dict], Any, dict[str, bool]]:
    """Time one metric: graphsparse cold (fresh graph per call) and warm (one graph reused),
    igraph first call (fresh) and cached (reused), networkx (one graph; a slow one timed once),
    all fast arms interleaved. ``graphs[engine] = (build, reused graph)``."""
    count = args.repeats + 1
    build_ours, g_ours = graphs["graphsparse"]
    value = ours(g_ours)
    arms = {"graphsparse_cold": first_call_arm(build_ours, ours, count),
            "graphsparse_warm": lambda: ours(g_ours)}
    singles, agreed = {}, {}
    for engine, fn in theirs.items():
        build, g = graphs[engine]
        if engine == "networkx":
            single, other = single_or_arm(lambda: fn(g), args.nx_limit)
            if single is not None:
                singles["networkx_first"] = single
            else:
                arms["networkx_first"] = lambda fn=fn, g=g: fn(g)
        else:
            other = fn(g)
            arms[f"{engine}_first"] = first_call_arm(build, fn, count)
            arms[f"{engine}_cached"] = lambda fn=fn, g=g: fn(g)
        if other is not None:
            agreed[engine] = bool(agree(metric, value, other))
    return {**timed_metric(arms, args), **singles}, value, agreed


def bench_build(masks_t, masks_np, offsets, args) -> tuple[dict[str, dict], Any, dict[str, bool], Any]:
    """Time building each engine's graph from the layer masks; returns the networkx graph too
    (built once: it takes seconds)."""
    fresh = lambda: NetworkGraph.from_masks(masks_t)  # noqa: E731
    g = fresh()
    value = (g.num_nodes, metrics.num_edges(g))
    arms = {"graphsparse_cold": fresh, "graphsparse_warm": fresh}
    singles, agreed, G = {}, {}, None
    if ig is not None and not args.no_igraph:
        gi = ig_build(masks_np, offsets)
        agreed["igraph"] = (gi.vcount(), gi.ecount()) == value
        arms["igraph_first"] = lambda: ig_build(masks_np, offsets)
    if not args.no_networkx:
        res = run_baseline(lambda: nx_build(masks_np, offsets), 1, args.nx_limit)
        G = res.pop("value")
        singles["networkx_first"] = {**res, "min": res["seconds"], "samples": [res["seconds"]]}
        if G is not None:
            agreed["networkx"] = (G.number_of_nodes(), G.number_of_edges()) == value
    return {**timed_metric(arms, args), **singles}, value, agreed, G


def bench_report(fresh: Callable[[], NetworkGraph], args) -> dict[str, Any]:
    """The whole default ``report()``: cold (fresh graph), warm (reused), and build + report."""
    g = fresh()
    rep = report(fresh())
    arms = {"report_cold": first_call_arm(fresh, report, args.repeats + 1),
            "report_warm": lambda: report(g), "build_plus_report": lambda: report(fresh())}
    t = timed_metric(arms, args)
    return {"report_cold_s": t["report_cold"]["min"], "report_warm_s": t["report_warm"]["min"],
            "build_plus_report_s": t["build_plus_report"]["min"], "timings": t,
            "cold_timings": {k: round(v, 6) for k, v in rep.timings.items()}}


def bench_net(name: str, spec: dict[str, Any], args: argparse.Namespace, log: Callable[[str], None]) -> dict:
    masks_t = generate(spec, args.seed)
    masks_np = [m.numpy() for m in masks_t.values()]
    sizes = [masks_np[0].shape[1]] + [m.shape[0] for m in masks_np]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n_edges = int(sum(int(m.sum()) for m in masks_np))
    sources = np.sort(np.random.default_rng(args.seed).choice(int(offsets[-1]), size=args.sources, replace=False))
    log(f"== {name}: widths {spec['widths']}, densities {spec['densities']}, {n_edges:,} edges")
    fresh = lambda: NetworkGraph.from_masks(masks_t)  # noqa: E731

    timings, value, agreed, G = bench_build(masks_t, masks_np, offsets, args)
    rows = [metric_row(name, "build", value, timings, agreed)]
    graphs = {"graphsparse": (fresh, fresh())}
    theirs_all: dict[str, dict] = {}
    if G is not None:
        graphs["networkx"] = (None, G)
        theirs_all["networkx"] = nx_metrics(G, offsets, sources)
    if ig is not None and not args.no_igraph:
        graphs["igraph"] = (lambda: ig_build(masks_np, offsets), ig_build(masks_np, offsets))
        theirs_all["igraph"] = ig_metrics(offsets, sources)
    for metric, ours in gs_metrics(sources, args.seed).items():
        theirs = {e: (lambda g, f=fns[metric]: f()) if e == "networkx" else fns[metric]
                  for e, fns in theirs_all.items() if metric in fns}
        if metric == "four_cycles" and n_edges > args.nx_four_cycles_max_edges:
            theirs.pop("networkx", None)
        timings, value, agreed = bench_metric(metric, ours, theirs, graphs, args)
        rows.append(metric_row(name, metric, value, timings, agreed))
        log("  " + "  ".join(f"{arm} {t['min']:.4f}" for arm, t in timings.items())
            + f"  {metric} agree={agreed}")
    rep_row = bench_report(fresh, args)
    rep_row["build_s"] = rows[0]["graphsparse_s"]
    log(f"  report() cold {rep_row['report_cold_s']:.4f} s, warm {rep_row['report_warm_s']:.4f} s, "
        f"from_masks + report {rep_row['build_plus_report_s']:.4f} s")
    return {"net": {"name": name, "widths": spec["widths"], "densities": spec["densities"],
                    "num_nodes": int(offsets[-1]), "num_edges": n_edges},
            "rows": rows, "report": rep_row}


def write_atomic(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: json.dump(result, f, indent=2), binary=False)


def versions() -> dict[str, Any]:
    """Versions of the libraries compared (``_timing.environment`` records the machine)."""
    return {"numpy": np.__version__, "scipy": scipy.__version__, "networkx": nx.__version__,
            "igraph": ig.__version__ if ig is not None else None}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="+", default=["mlp_d10", "wide_d05"], choices=["mlp_d10", "wide_d05"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mlp-density", type=float, default=0.10)
    parser.add_argument("--mlp-output-density", type=float, default=1.0)
    parser.add_argument("--wide-width", type=int, default=4096)
    parser.add_argument("--wide-density", type=float, default=0.05)
    parser.add_argument("--sources", type=int, default=100, help="BFS sources of the sampled shortest paths")
    parser.add_argument("--repeats", type=int, default=5, help="timed samples per arm (>= 5 for a result)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--nx-limit", type=float, default=150.0, help="seconds per baseline metric")
    parser.add_argument("--nx-four-cycles-max-edges", type=int, default=1_000_000)
    parser.add_argument("--no-networkx", action="store_true")
    parser.add_argument("--no-igraph", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.repeats < 1 or args.sources < 1 or args.threads < 1:
        parser.error("need --repeats >= 1, --sources >= 1 and --threads >= 1")
    return args


def main() -> None:
    args = parse_args()
    pin(threads=args.threads)
    start = time.perf_counter()
    log = lambda msg: print(f"[{time.perf_counter() - start:7.1f}s] {msg}", flush=True)  # noqa: E731
    env_start = environment()
    log(header_line(env_start) + "; " + ", ".join(f"{k} {v}" for k, v in versions().items() if v))
    result = {
        "benchmark": "topology_bench", "start": env_start, "versions": versions(),
        "config": {
            "seed": args.seed, "repeats": args.repeats, "sources": args.sources, "threads": args.threads,
            "nx_limit_s": args.nx_limit, "nx_four_cycles_max_edges": args.nx_four_cycles_max_edges,
            "slow_baseline_s": SLOW_S, "igraph": ig is not None and not args.no_igraph,
            "networkx": not args.no_networkx,
            "masks": "graphsparse.topology.erdos_renyi_mask, one torch.Generator per net seeded with seed",
            "speedup": "baseline first-call min / graphsparse cold min",
            "speedup_warm": "baseline cached-call min / graphsparse warm min",
        },
        "nets": [],
    }
    for name, spec in make_nets(args).items():
        result["nets"].append(bench_net(name, spec, args, log))
        result["end"] = environment()
        result["wall_s"] = time.perf_counter() - start
        write_atomic(args.out, result)
        log(f"wrote {args.out}")
    bad = [(n["net"]["name"], r["metric"], e) for n in result["nets"] for r in n["rows"]
           for e in ("networkx", "igraph") if r.get(f"{e}_agree") is False]
    assert not bad, f"values disagree: {bad}"


if __name__ == "__main__":
    main()
