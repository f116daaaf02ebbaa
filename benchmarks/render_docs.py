"""Generate docs/benchmarks.md from the raw results in benchmarks/results/*.json.

Each benchmark script writes one JSON file with ``benchmark``, ``date``, ``machine``, ``config``
and ``rows``; this script renders one section per file (configuration in the section header) and
replaces docs/benchmarks.md atomically. Run after any benchmark:

    .venv/bin/python benchmarks/render_docs.py
"""

from __future__ import annotations

import json
from pathlib import Path

from _timing import measured_line
from graphsparse.fileio import atomic_write

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DOC = HERE.parent / "docs" / "benchmarks.md"


def _masks_bench(result: dict) -> list[str]:
    """Global selection at each thread count: min times, speed-ups, checks and the goal."""
    if "parts" not in result:
        return _stale("Global mask selection", "masks_bench.py")
    c = result["config"]
    lines = [
        "## Global mask selection (`benchmarks/masks_bench.py`)",
        "",
        f"Configuration: {c['total']:,} {c['dtype']} scores ({c['distribution']}) split across "
        f"{c['tensors']} tensors; `topk_masks(scores, s, scope=\"global\")` (exact masks, tie "
        "rule) vs `torch.topk` and `torch.kthvalue` on `torch.cat` of the scores (indices or "
        "threshold only, no tie rule), each baseline separately. Arms interleaved with "
        f"`_timing.compare` ({c['warmup']} warm-up round(s), {c['repeats']} rounds in rotating "
        "order); times are mins; \"time vs X\" is graphsparse's min over X's min (`1 / "
        "_timing.ratio`, < 1 means graphsparse is faster); max/min is over each arm's repeats. "
        "Exact: kept count, threshold (= kthvalue = topk) and tie rule all checked."
        + (" **Smoke run: sizes and repeats too small for any claim.**" if c.get("smoke") else ""),
    ]
    for part in result["parts"]:
        lines += ["", f"### {part['threads']} thread(s)", "",
                  measured_line(part["start"], part.get("end")), "", *_masks_table(part["rows"])]
    return lines + ["", *_masks_goals(result)]


def _masks_table(rows: list[dict]) -> list[str]:
    lines = ["| sparsity | kept | exact | graphsparse | torch.topk | torch.kthvalue | time vs topk "
             "| time vs kthvalue | max/min (graphsparse, topk, kthvalue) |",
             "|---:|---:|:---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        arms = r["arms"]
        spreads = ", ".join(f"{arms[a]['max'] / arms[a]['min']:.2f}"
                            for a in ("graphsparse", "topk", "kthvalue"))
        lines.append(f"| {r['sparsity']} | {r['kept']:,} | {'yes' if r['exact'] else '**NO**'} | "
                     f"{_secs(arms['graphsparse']['min'])} | {_secs(arms['topk']['min'])} | "
                     f"{_secs(arms['kthvalue']['min'])} | {1 / r['speedup_vs_topk']:.2f} | "
                     f"{1 / r['speedup_vs_kthvalue']:.2f} | {spreads} |")
    return lines


def _masks_goals(result: dict) -> list[str]:
    """The issue's goals, met or missed, computed from the rows."""
    goal, limit = result["config"]["goal_time_fraction"], result["config"]["goal_max_over_min"]
    rows = [(p["threads"], r) for p in result["parts"] for r in p["rows"]]
    lines = ["Goals (issue \"Honest benchmarks\"):", ""]
    for base, most in goal.items():
        misses = [f"{t} thread(s) at {r['sparsity']} ({1 / r[f'speedup_vs_{base}']:.2f})"
                  for t, r in rows if 1 / r[f"speedup_vs_{base}"] > most]
        lines.append(_goal(f"graphsparse's time ≤ {most}× torch.{base}'s", misses))
    lines.append(_goal("exact masks (count, threshold, tie rule)",
                       [f"{t} thread(s) at {r['sparsity']}" for t, r in rows if not r["exact"]]))
    lines.append(_goal(f"max/min over repeats ≤ {limit} for every arm",
                       [f"{t} thread(s) at {r['sparsity']} ({a})" for t, r in rows
                        for a, x in r["arms"].items() if x["max"] > limit * x["min"]]))
    return lines


def _secs(x: float | None) -> str:
    """Seconds with a readable unit: 0.47 ms, 12 ms, 1.3 s."""
    if x is None:
        return "n/a"
    if x < 1e-2:
        return f"{x * 1e3:.2f} ms"
    if x < 1:
        return f"{x * 1e3:.0f} ms"
    return f"{x:.2f} s" if x < 10 else f"{x:.1f} s"


def _ratio(x: float) -> str:
    return f"{x:.0f}×" if x >= 10 else f"{x:.2g}×"


def _baseline_cells(row: dict, engine: str, warm: bool = False) -> list[str]:
    """Cells of one baseline engine: first-call time, [median time,] speed-up (cold vs first call
    [, warm vs median]); a timeout is a lower bound."""
    status = row.get(f"{engine}_status")
    if status is None:
        return ["not run"] + [""] * (2 if warm else 1)
    if status == "n/a":
        return ["n/a"] + [""] * (2 if warm else 1)
    if status == "timeout":
        return [f"> {_secs(row[f'{engine}_s'])}"] + ([""] if warm else []) + [f"> {row[f'{engine}_speedup']:.0f}×"]
    ratio = _ratio(row[f"{engine}_speedup"])
    if warm and row.get(f"{engine}_speedup_warm"):
        ratio += f" (warm {_ratio(row[f'{engine}_speedup_warm'])})"
    if row.get(f"{engine}_agree") is False:
        ratio += " (values DIFFER)"
    return [_secs(row[f"{engine}_s"])] + ([_secs(row.get(f"{engine}_warm_s"))] if warm else []) + [ratio]


def _topology_header(result: dict, has_igraph: bool) -> list[str]:
    c = result["config"]
    nets = result["nets"]
    net_desc = "; ".join(
        f"`{n['net']['name']}`: {'-'.join(map(str, n['net']['widths']))} at densities "
        f"{', '.join(f'{d:g}' for d in n['net']['densities'])} ({n['net']['num_edges']:,} edges, "
        f"{n['net']['num_nodes']:,} nodes)"
        for n in nets
    )
    versions = ", ".join(f"{k} {v}" for k, v in result["versions"].items() if v)
    return [
        "## Topology metrics vs networkx" + (" and igraph" if has_igraph else "")
        + " (`benchmarks/topology_bench.py`)",
        "",
        f"Configuration: Erdős–Rényi layer masks (`erdos_renyi_mask`, seed {c['seed']}) — {net_desc}. "
        "Each metric is timed with `_timing.compare` (arms interleaved in one process, one warm-up "
        f"round, {c['repeats']} samples per arm, minimum reported): graphsparse *cold* (each call on "
        "a freshly built `NetworkGraph`, so lazily built adjacencies are paid for) and *warm* (one "
        "graph reused); igraph *first call* (each call on a freshly built `igraph.Graph`) and "
        "*cached* (one graph reused: igraph caches properties such as connectedness); networkx on "
        "its graph object, in the interleaved rounds when its first call takes at most "
        f"{c['slow_baseline_s']:g} s, else timed once (stopped after {c['nx_limit_s']:g} s). Fresh "
        "graphs are built before the rounds, untimed; `build` times building each engine's graph "
        "from the masks (networkx once). Shortest paths: mean undirected BFS distance from the "
        f"same {c['sources']} seeded sources. Four cycles: graphsparse counts each layer's 4-cycles "
        "and its Robins–Alexander clustering 4·C4/L3; networkx computes the clustering with its "
        "own `bipartite.robins_alexander_clustering` on each layer's bipartite graph (values "
        f"compared per layer), run only up to {c['nx_four_cycles_max_edges']:,} edges. "
        "**Speed-up = baseline min / graphsparse min**: first call vs cold, and (in "
        "brackets, igraph) cached vs warm; > 1: graphsparse faster. *agree*: every baseline that "
        "ran returned the same value (exact integers; shortest-path mean to 1e-12). igraph is an "
        "optional baseline (`pip install -e \".[bench]\"`), never a dependency of the library.",
        "",
        measured_line(result["start"], result.get("end")) + f" {versions}; whole run "
        f"{result.get('wall_s', 0) / 60:.1f} min.",
        "",
    ]


def _topology_table(n: dict, has_igraph: bool) -> list[str]:
    header = "| metric | value | graphsparse cold | warm | networkx | speed-up vs networkx |"
    sep = "|---|---|---:|---:|---:|---:|"
    if has_igraph:
        header += " igraph first call | igraph cached | speed-up vs igraph |"
        sep += "---:|---:|---:|"
    lines = [f"### `{n['net']['name']}` ({n['net']['num_edges']:,} edges)", "",
             header + " agree |", sep + ":---:|"]
    for r in n["rows"]:
        cells = [f"`{r['metric']}`", r["value"], _secs(r["graphsparse_s"]), _secs(r["graphsparse_warm_s"])]
        cells += _baseline_cells(r, "networkx")
        if has_igraph:
            cells += _baseline_cells(r, "igraph", warm=True)
        agrees = [r.get(f"{e}_agree") for e in ("networkx", "igraph") if r.get(f"{e}_agree") is not None]
        cells.append("n/a" if not agrees else ("yes" if all(agrees) else "**NO**"))
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def _topology_report_table(nets: list[dict]) -> list[str]:
    lines = [
        "Default `report()` (degrees, dead neurons, effective sparsity, paths, components, "
        "power-law fit; cold = fresh graph, warm = one graph reused; minima):",
        "",
        "| net | `from_masks` | `report()` cold | `report()` warm | `from_masks` + `report()` | largest part (cold) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for n in nets:
        rep = n["report"]
        part, secs = max(rep["cold_timings"].items(), key=lambda kv: kv[1])
        lines.append(f"| `{n['net']['name']}` | {_secs(rep['build_s'])} | {_secs(rep['report_cold_s'])} | "
                     f"{_secs(rep['report_warm_s'])} | {_secs(rep['build_plus_report_s'])} | "
                     f"{part} {_secs(secs)} |")
    return lines


def _goal(text: str, misses: list[str], extra: str = "") -> str:
    return f"- {text}: " + ("**met**" if not misses else "**missed** for " + ", ".join(misses)) + extra + "."


REPORT_METRICS = ("degrees", "components", "paths", "dead_neurons", "effective_sparsity")


def _topology_goals(nets: list[dict], has_igraph: bool) -> list[str]:
    """Issue 15's goals (and issue 3's report-time goal), computed from the rows."""
    biggest = max(nets, key=lambda n: n["net"]["num_edges"])
    total = biggest["report"]["build_plus_report_s"]
    lines = ["", "Goals:", "",
             f"- default report on `{biggest['net']['name']}` under 3 s: "
             f"{'**met**' if total < 3 else '**missed**'} ({_secs(total)} including `from_masks`)."]
    slow = [(n["net"]["name"], r) for n in nets for r in n["rows"]
            if r.get("networkx_status") in ("ok", "timeout") and r["networkx_s"] > 0.1]
    under = [f"`{name}` {r['metric']} ({r['networkx_speedup']:.0f}×)" for name, r in slow
             if r["networkx_speedup"] < 100]
    lines.append(_goal(f"≥ 100× networkx wherever networkx takes > 0.1 s ({len(slow)} cells)", under))
    if not has_igraph:
        return lines + ["- igraph: not measured in this run (not installed)."]
    rows = [(n["net"]["name"], r) for n in nets for r in n["rows"] if r.get("igraph_status") == "ok"]
    first = [f"`{name}` {r['metric']} ({r['igraph_speedup']:.2f}×)" for name, r in rows
             if r["metric"] in REPORT_METRICS and r["igraph_speedup"] < 1]
    cached = [f"`{name}` {r['metric']} ({r['igraph_speedup_warm']:.2f}×)" for name, r in rows
              if r["metric"] in ("degrees", "components") and r["igraph_speedup_warm"] < 1]
    lines.append(_goal("every default-report metric ≥ 1× igraph's first call", first))
    lines.append(_goal("degrees and components ≥ 1× igraph's cached call", cached))
    other = [f"`{name}` {r['metric']} ({r['igraph_speedup']:.2f}×)" for name, r in rows
             if r["metric"] not in REPORT_METRICS and r["igraph_speedup"] < 1]
    if other:
        lines.append("  Outside the default report, slower than igraph's first call: " + ", ".join(other) + ".")
    disagree = [f"`{n['net']['name']}` {r['metric']}" for n in nets for r in n["rows"]
                if False in (r.get("networkx_agree"), r.get("igraph_agree"))]
    return lines + [_goal("values equal across libraries", disagree)]


def _topology_bench(result: dict) -> list[str]:
    nets = result["nets"]
    has_igraph = any(r.get("igraph_status") for n in nets for r in n["rows"])
    lines = _topology_header(result, has_igraph)
    for n in nets:
        lines += _topology_table(n, has_igraph)
    return lines + _topology_report_table(nets) + _topology_goals(nets, has_igraph)


GNN_TRAIN_ARMS = {"a_plain_pyg": "(a) plain PyG GCN",
                  "b_masked_remove": "(b) weight masks + edge mask, remove",
                  "c_masked_message": "(c) weight masks + soft edge mask, message",
                  "b50_masked_remove_half_edges": "(b50) as (b), 50% of edges removed"}
GNN_INFER_ARMS = {
    "dense": "dense model, full graph, PyG default (per-edge messages)",
    "dense_spmm": "dense model, full graph, sparse-product (CSR) propagation",
    "ticket_masked_weights_removed_edges": "ticket: masks attached, edges removed, per-edge",
    "dense_weights_removed_edges": "control: dense weights, edges removed, per-edge",
    "ticket_baked_weights_removed_edges": "ticket: masks baked, edges removed, per-edge",
    "ticket_spmm_removed_edges": "ticket: masks attached, edges removed, sparse-product",
    "ticket_baked_spmm_removed_edges": "ticket: masks baked, edges removed, sparse-product"}
GNN_TRAIN_GOAL = 1.10  # issue "Honest benchmarks": masked training (b)/(a) per epoch
GNN_INFER_GOAL = 1.5   # issue 4: ticket inference vs the fastest dense baseline


def _gnn_timing_cells(r: dict) -> str:
    return f"{_secs(r['min'])} | {_secs(r['median'])} | {r['spread']:.0%}"


def _gnn_part_measured(part: dict, result: dict) -> list[str]:
    """A part's own "Measured" line (parts of one file can come from different runs:
    ``--merge``)."""
    if "start" not in part:
        return []
    return [measured_line(part["start"], part.get("end")), ""]


def _gnn_header(result: dict) -> list[str]:
    c = result["config"]
    return [
        "## GNN training overhead and ticket inference (`benchmarks/gnn_bench.py`)", "",
        f"Configuration: {c['model']}, torch_geometric {c['torch_geometric']}"
        + (f". **Reduced run: {c['note']}**" if c.get("note") else "") + ". "
        "Timed with `benchmarks/_timing.py`: threads and allocator pinned, arms interleaved in "
        f"one process, {c['warmup']} warm-up round(s), {c['repeats']} samples per arm in rotating "
        f"order (each the mean of enough calls to last ~{c['sample_s']} s on the slowest arm); "
        "min, median and spread ((max − min) / median) reported, ratios from the minima. "
        "Training: per-epoch time (one full-batch Adam step) of (a) a plain PyG `GCNConv` model "
        "(no graphsparse code), (b) `build_model(\"gcn\")` with weight masks attached "
        f"({c['train_weight_kept']:.0%} of the linear weights kept) and an edge mask in mode "
        f"`\"remove\"`, (c) a soft edge mask in mode `\"message\"` — {c['train_edge_masks']}. "
        "Inference: one eval forward, dense model on the full graph vs the ticket at graph "
        f"sparsity {c['graph_sparsity']:.0%} (undirected edges removed with `apply_edge_mask`) "
        f"and weight sparsity {c['weight_sparsity']:.0%} ({c['ticket_masks']}); MACs speed-up "
        "from `graph_macs`.", "",
        "Last invocation of the script (it may have re-run only some parts; each part below "
        "states when it was measured): " + measured_line(result["start"], result.get("end"))
        + f" Whole run {result.get('wall_s', 0) / 60:.1f} min.", ""]


def _gnn_training(result: dict) -> list[str]:
    lines = []
    for t in result.get("training") or []:
        lines += [f"### Training overhead on {t['dataset']} ({t['num_nodes']:,} nodes, "
                  f"{t['num_edges']:,} directed edges, features `{t['feature_layout']}`)", "",
                  *_gnn_part_measured(t, result),
                  "| arm | min epoch | median epoch | spread | epoch time vs (a) (minima) |",
                  "|---|---:|---:|---:|---:|"]
        for r in t["rows"]:
            lines.append(f"| {GNN_TRAIN_ARMS.get(r['arm'], r['arm'])} | "
                         f"{_gnn_timing_cells(r)} | {r['time_vs_plain']:.3f} |")
        lines.append("")
    return lines


def _gnn_inference_table(t: dict) -> list[str]:
    lines = [f"| arm | min | median | spread | speed-up vs fastest dense (`{t['fastest_dense']}`)"
             " | speed-up vs PyG default | peak live tensors | storage read | "
             "top operators (self CPU share) |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in t["rows"]:
        ops = ", ".join(f"{o['op'].removeprefix('aten::')} {o['share']:.0%}"
                        for o in r["top_ops"][:3])
        lines.append(f"| {GNN_INFER_ARMS.get(r['arm'], r['arm'])} | {_gnn_timing_cells(r)} | "
                     f"{r['speedup_vs_fastest_dense']:.2f}× | {r['speedup_vs_pyg_default']:.2f}× | "
                     f"{r['peak_bytes'] / 2**20:.1f} MiB | {r['storage_bytes'] / 2**20:.1f} MiB | "
                     f"{ops} |")
    return lines


def _gnn_inference(result: dict) -> list[str]:
    lines = []
    for t in result.get("inference") or []:
        lines += [f"### Ticket inference on {t['dataset']} ({t['num_nodes']:,} nodes, "
                  f"{t['num_edges']:,} → {t['kept_directed_edges']:,} directed edges, graph "
                  f"sparsity {t['graph_sparsity']:.1%}, weight sparsity "
                  f"{t['weight_sparsity']:.1%}, features `{t['feature_layout']}`)", "",
                  *_gnn_part_measured(t, result),
                  f"MACs: {t['dense_macs']:,} dense vs {t['masked_macs']:,} masked → analytic "
                  f"speed-up {_ratio(t['macs_speedup'])}.", "", *_gnn_inference_table(t), ""]
    if result.get("inference"):
        lines += ["Speed-ups: the fastest dense arm's min (the dense arm with the lowest min; for "
                  "GCN the sparse-product path) over the arm's min, and, labelled, PyG's default "
                  "per-edge path's min over the arm's. The weight masks do not shrink X·(W⊙M), "
                  "which runs on the dense-stored weight (a CSR weight is slower, see the kernel "
                  "table below), so the measured gain stays below the analytic MACs ratio, which "
                  "counts masked weights as free. Peak live tensors: allocations and frees of one "
                  "profiled forward replayed in time order (`torch.profiler`; kernels' internal "
                  "scratch not seen); storage read: `state_dict` tensors (for attached masks, the "
                  "masks too) plus the graph.", ""]
    return lines


def _gnn_kernels(result: dict) -> list[str]:
    names = {"dense_masked_weight": "dense, masked (the ticket's path)",
             "csr_weight": "CSR (`torch.sparse.mm`, sparse × sparse, densified)"}
    lines = []
    for k in result.get("weight_kernels") or []:
        csr = {r["arm"]: r for r in k["rows"]}["csr_weight"]
        lines += [f"### Sparse weight kernel for the feature transform on {k['dataset']} "
                  f"(X {k['shape'][0]:,}×{k['shape'][1]:,} `{k['feature_layout']}`, "
                  f"{k['feature_nnz']:,} non-zeros; W {k['shape'][1]:,}×{k['hidden']} at "
                  f"{k['weight_sparsity']:.0%} sparsity)", "", *_gnn_part_measured(k, result),
                  "| W stored as | min X·W | median | spread | speed-up vs masked dense W |",
                  "|---|---:|---:|---:|---:|"]
        for r in k["rows"]:
            lines.append(f"| {names[r['arm']]} | {_gnn_timing_cells(r)} | {r['speedup']:.2f}× |")
        verdict = ("pays off" if csr["speedup"] > 1.0 else
                   "does not pay off: the ticket keeps its weights dense and masked")
        lines += ["", f"A CSR weight {verdict} here ({csr['speedup']:.2f}×).", ""]
    return lines


def _gnn_search(result: dict) -> list[str]:
    search = result.get("search")
    if not search:
        return ["Search cost to one level (TEDDY vs random vs UGS): not measured in this run.", ""]
    base = {r["method"]: r for r in search["rows"]}.get("random")
    lines = [f"### Search cost to level {search['level']} on {search['dataset']} "
             f"({search['epochs_per_run']} epochs per training run; each method timed once, "
             "not repeated — a run takes minutes — methods one after the other)", "",
             *_gnn_part_measured(search, result),
             "| method | epochs | seconds | seconds vs random | graph sparsity | "
             "weight sparsity (scope) | test acc |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in search["rows"]:
        rel = f"{r['min'] / base['min']:.1f}×" if base else "n/a"
        lines.append(f"| {r['method']} | {r['search_epochs']:,} | {_secs(r['min'])} | {rel} | "
                     f"{r['graph_sparsity']:.1%} | {r['weight_sparsity']:.1%} "
                     f"({r['weight_scope']}) | {r['test']:.3f} |")
    return lines + [""]


def _gnn_goals(result: dict) -> list[str]:
    lines = ["Goals (issue 4, restated by \"Honest benchmarks\"):", ""]
    for t in result.get("training") or []:
        v = {r["arm"]: r for r in t["rows"]}["b_masked_remove"]["time_vs_plain"]
        lines.append(f"- {t['dataset']} masked training, (b) / (a) per epoch ≤ "
                     f"{GNN_TRAIN_GOAL:.2f}: {'**met**' if v <= GNN_TRAIN_GOAL else '**missed**'} "
                     f"({v:.3f}; minima).")
    for t in result.get("inference") or []:
        rows = {r["arm"]: r for r in t["rows"]}
        for arm in ("ticket_masked_weights_removed_edges", "ticket_spmm_removed_edges",
                    "ticket_baked_spmm_removed_edges"):
            v = rows[arm]["speedup_vs_fastest_dense"]
            lines.append(f"- {t['dataset']} {GNN_INFER_ARMS[arm]} ≥ {GNN_INFER_GOAL}× the "
                         f"fastest dense baseline (`{t['fastest_dense']}`): "
                         f"{'**met**' if v >= GNN_INFER_GOAL else '**missed**'} ({v:.2f}×; "
                         f"{rows[arm]['speedup_vs_pyg_default']:.2f}× vs PyG default, "
                         f"{_ratio(t['macs_speedup'])} analytic MACs).")
    return lines


def _gnn_bench(result: dict) -> list[str]:
    if "start" not in result:  # written before the _timing method: re-run the benchmark
        return ["## GNN training overhead and ticket inference (`benchmarks/gnn_bench.py`)", "",
                "Results predate the project's timing method (`benchmarks/_timing.py`); re-run "
                "`benchmarks/gnn_bench.py`.", ""]
    return (_gnn_header(result) + _gnn_training(result) + _gnn_inference(result)
            + _gnn_kernels(result) + _gnn_search(result) + _gnn_goals(result))


def _stale(title: str, script: str) -> list[str]:
    """A section whose results predate ``_timing`` (no claim is rendered from them)."""
    return [f"## {title} (`benchmarks/{script}`)", "",
            f"The stored results predate the project's timing method; rerun `benchmarks/{script}` "
            "on an idle machine."]


def _kernel_bench(result: dict) -> list[str]:
    if "arms" not in result:
        return _stale("Training masked MLPs on CSR kernels", "kernel_bench.py")
    c, arms = result["config"], result["arms"]
    names = {"dense": "masked, `kernel=\"dense\"` (torch.where + dense matmul)",
             "csr": "masked, `kernel=\"csr\"` (graphsparse.masks.csr_linear)",
             "unmasked": "unmasked dense MLP (reference)"}
    lines = [
        "## Training masked MLPs on CSR kernels (`benchmarks/kernel_bench.py`)",
        "",
        f"Configuration: MLP {'-'.join(map(str, c['widths']))}, Erdős–Rényi ε = {c['epsilon']} "
        f"with SET ζ = {c['zeta']} after each epoch, {c['data']}, batch {c['batch_size']}, "
        f"{c['optimizer']}, dropout {c['dropout']}, loss {c['loss']}. Arms interleaved with "
        f"`_timing.compare` ({c['warmup']} warm-up run(s), {c['repeats']} runs in rotating "
        f"order, {c['epochs']} epoch(s) each); a sample is one run's median seconds per epoch. "
        "Speed-up = masked dense min / CSR min (`_timing.ratio`, > 1 means CSR is faster)."
        + (" **Smoke run: too small for any claim.**" if c.get("smoke") else ""),
        "",
        measured_line(result["start"], result.get("end")),
        "",
        "| arm | min s / epoch | median | spread | final loss |",
        "|---|---:|---:|---:|---:|",
    ]
    for arm, name in names.items():
        t = arms[arm]
        lines.append(f"| {name} | {t['min']:.2f} | {t['median']:.2f} | {t['spread']:.2f} | "
                     f"{t['final_loss'][-1]:.6f} |")
    lines += ["", f"CSR vs masked dense: **{result['speedup_csr_vs_dense']:.2f}×**; losses agree "
              f"up to float rounding: {'yes' if result['losses_agree'] else '**no**'}. Both arms "
              "use torch's fused SGD step; the CSR arm still updates the dense raw weight tensors "
              "(masked entries included) every step, which the mask API keeps so that masks stay "
              "plain parametrizations. " + result.get("note", "")]
    return lines


def _gib(x: float | None) -> str:
    return "—" if x is None else f"{x / 1024 ** 3:.2f}"


def _failure(text: str) -> str:
    """A child's failure in a few words."""
    import re

    wanted = re.search(r"tried to allocate (\d+) bytes", text)
    if wanted:
        return f"out of memory (one tensor of {int(wanted.group(1)) / 1024 ** 3:.1f} GiB)"
    return "skipped (a smaller graph failed)" if text.startswith("skipped") else "failed"


def _scale_parts(env: dict) -> str:
    """One line per part: when it ran and the load average at its start and end."""
    return "; ".join(f"{part} {e['start']['date'][:16].replace('T', ' ')} UTC (load "
                     f"{e['start']['loadavg'][0]:.2f} → {e['end']['loadavg'][0]:.2f})"
                     for part, e in sorted(env.items(), key=lambda kv: kv[1]["start"]["date"]))


def _scale_size_rows(points: dict) -> list[str]:
    lines = ["| directed edges | model | storage (GiB) | mini: process peak RSS (GiB) | mini: "
             "RSS after setup (GiB) | mini: training peak above it (GiB) | mini: sampled edges "
             "/ nodes per step | mini: step (s) | mini: epoch (s, extrap.) | full: peak RSS "
             "(GiB) | full: epoch (s) |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    keys = sorted({(p["nodes"], p["model"]) for p in points.values() if "nodes" in p})
    for nodes, model in keys:
        mini = points.get(f"mini/{model}/{nodes}", {})
        full = points.get(f"full/{model}/{nodes}", {})
        ref = mini or full
        if "failed" in mini or not mini:
            mini_cells = ["failed" if mini else "—"] + ["—"] * 6
        else:
            setup = mini.get("setup_rss_trimmed", mini.get("setup_rss", mini["loaded_rss"]))
            mini_cells = [_gib(mini["peak_rss"]), _gib(setup), _gib(mini.get("batch_peak_bytes")),
                          f"{mini['sampled_edges_per_step']:,.0f} / "
                          f"{mini.get('sampled_nodes_per_step', 0):,.0f}",
                          f"{mini['step_median_s']:.3f}", f"{mini['epoch_s']:,.1f}"]
        full_cells = ([_failure(full["failed"]), "—"] if "failed" in full
                      else [_gib(full.get("peak_rss")), f"{full['epoch_s']:.2f}"]) \
            if full else ["—", "—"]
        lines.append(f"| {ref['edges']:,} | {model} | {_gib(ref['storage_bytes'])} | "
                     + " | ".join(mini_cells + full_cells) + " |")
    return lines


def _scale_sampler_rows(points: dict) -> list[str]:
    lines = ["| directed edges | model | sampled edges / s (median batch) | sampler share of a "
             "step | sampling per batch (min / median / max, ms) |", "|---:|---|---:|---:|---:|"]
    for key, p in sorted(points.items(), key=lambda kv: (kv[1].get("nodes", 0), kv[0])):
        if not key.startswith("mini/") or "failed" in p:
            continue
        t = p["sample"]
        lines.append(f"| {p['edges']:,} | {p['model']} | {p['sampled_edges_per_s']:,.0f} | "
                     f"{100 * p['sampler_share']:.1f}% | {1e3 * t['min']:.1f} / "
                     f"{1e3 * t['median']:.1f} / {1e3 * t['max']:.1f} |")
    return lines


def _scale_multiprocess_rows(runs: dict) -> list[str]:
    epochs: dict[tuple[int, int], list[float]] = {}
    for launch in runs.get("launches", []):
        if "failed" not in launch:
            arm = (launch["world_size"], launch.get("threads", 1))
            epochs.setdefault(arm, []).extend(launch["epoch_seconds"])
    if (1, 1) not in epochs or (2, 1) not in epochs:
        return ["(not measured)"]
    seeds = runs.get("seeds")
    base = min(epochs[(1, 1)])
    lines = ["| processes × threads | epoch (s, min / median, n) | throughput (seeds / s, "
             "fastest epoch) | vs 1 × 1 | vs 1 × 2 |", "|---|---:|---:|---:|---:|"]
    for arm in sorted(epochs):
        times = sorted(epochs[arm])
        best, median = times[0], times[len(times) // 2]
        versus_two = f"{min(epochs[(1, 2)]) / best:.2f}" if (1, 2) in epochs else "—"
        lines.append(f"| {arm[0]} × {arm[1]} | {best:.2f} / {median:.2f} ({len(times)}) | "
                     f"{seeds / best if seeds else 0:,.0f} | {base / best:.2f} | {versus_two} |")
    return lines


def _scale_sampler_compare(compared: dict | None) -> list[str]:
    if not compared or "failed" in compared:
        return []
    backend = compared["backend"]
    ours, theirs = compared["graphsparse"], compared[backend]
    lines = [f"Against PyG's own sampler ({backend}, built from source here), the same random "
             f"batches of seeds on the {compared['edges']:,}-edge graph, interleaved, 50 "
             "repeats:", "",
             "| sampler | per batch (min / median / max, ms) | sampled edges / batch | "
             "sampled edges / s (median) |", "|---|---:|---:|---:|"]
    for name, t in (("graphsparse", ours), (backend, theirs)):
        lines.append(f"| {name} | {1e3 * t['min']:.1f} / {1e3 * t['median']:.1f} / "
                     f"{1e3 * t['max']:.1f} | {t['sampled_edges']:,.0f} | "
                     f"{t['edges_per_s']:,.0f} |")
    lines += ["", f"graphsparse vs {backend}: {theirs['min'] / ours['min']:.2f}× (ratio of "
              "fastest batches; > 1 means graphsparse is faster).", ""]
    return lines


def _scale_bench(result: dict) -> list[str]:
    c = result.get("config", {})
    points = result.get("points", {})
    env = result.get("environment", {})
    machine = next(iter(env.values()), {}).get("start", {})
    lines = [
        "## Scale: full batch vs mini-batch vs processes (`benchmarks/scale_bench.py`)", "",
        f"Configuration: synthetic SBM graphs (average degree 20), 2-layer GCN/GraphSAGE, "
        f"hidden {c.get('hidden')}, mini-batch {c.get('batch')} seed nodes with fan-out "
        f"{c.get('fanout')} (graphsparse's CSR sampler), an epoch = every node a seed once "
        f"(extrapolated from 50 timed steps after 3 warm-up), full batch = 5 timed epochs after "
        f"1 warm-up in a child capped at RLIMIT_AS {_gib(c.get('full_limit_bytes'))} GiB; one "
        f"process per point at 1 thread; peak RSS = the child's ru_maxrss (for mini-batch: the "
        f"timing child, which also holds its 53 drawn batches). Mini-batch memory, measured "
        f"in a separate child: the RSS after loading and building the task "
        f"(the sampler's CSC, the full-graph evaluation's inputs; heap trimmed), and the peak "
        f"above it over 10 training steps (kernel peak mark reset after setup).", "",
        f"Machine: {machine.get('cpu')}, {machine.get('cores')} cores, Python "
        f"{machine.get('python')}, torch {machine.get('torch')}; 1 thread per process, glibc's "
        f"mmap/trim thresholds pinned at 1 GiB (`_timing.pin`). Parts: {_scale_parts(env)}. "
        "The size, sampler and multiprocess parts ran on an otherwise idle machine; memory "
        "(RSS, not timed) and ddi ran beside one other single-threaded job.", "",
        "### Memory and time vs graph size", "", *_scale_size_rows(points), "",
        "### Sampler", "", *_scale_sampler_rows(points), "",
        *_scale_sampler_compare(result.get("sampler_compare")),
        "### Two processes vs one (Amazon Computers)", "",
        "GCN hidden 256, batch 256, fan-out 15,10, an epoch over all 13,752 nodes (training "
        "steps only); torchrun with gloo, DistributedDataParallel, each rank its half of the "
        "seeds; launches rotate through the arms; an epoch lasts as long as its slowest rank. "
        "1 × 2 (one process, two threads) is the fastest single-process baseline here.", "",
        *_scale_multiprocess_rows(result.get("multiprocess", {})), "",
        *_scale_ddi(result.get("ddi"))]
    return lines


def _scale_ddi(ddi: dict | None) -> list[str]:
    if not ddi or "failed" in ddi:
        return []
    epochs = ddi["epoch_seconds"]
    return ["### ogbl-ddi at OGB's configuration, on this CPU", "",
            "GCN hidden 256, 2 layers, dropout 0.5, lr 0.005, edge batch 65,536, learned node "
            f"embeddings, MLP predictor; full-graph message passing, {ddi['threads']} thread.",
            "", "| epochs timed | seconds per epoch (each) | 200 epochs, extrapolated |",
            "|---:|---:|---:|",
            f"| {len(epochs)} | {' / '.join(f'{e:.1f}' for e in epochs)} | "
            f"{ddi['extrapolated_200_epochs_h']:.1f} h (from the fastest epoch) |"]


def _sweep_bench(result: dict) -> list[str]:
    from sweep_bench import table

    return table(result)


RENDERERS = {"scale_bench": _scale_bench, "kernel_bench": _kernel_bench,
             "sweep_bench": _sweep_bench,
             "masks_bench": _masks_bench,
             "topology_bench": _topology_bench, "gnn_bench": _gnn_bench}


#: Public sizes (directed edge entries as PyG stores them, nodes, feature width, training nodes).
OGB_SIZES = {"ogbn-products": (123_718_280, 2_449_029, 100, 196_615),
             "ogbn-papers100M": (3_231_371_744, 111_059_956, 128, 1_207_179)}
SCALE_DOC = HERE.parent / "docs" / "scale.md"
ESTIMATES_START, ESTIMATES_END = "<!-- scale-estimates -->", "<!-- /scale-estimates -->"


def _largest(points: dict, arm: str, model: str) -> dict | None:
    ok = [p for k, p in points.items() if k.startswith(f"{arm}/{model}/") and "failed" not in p]
    return max(ok, key=lambda p: p["edges"]) if ok else None


def _scale_estimates(result: dict) -> list[str]:
    """Memory and time of ogbn-products and ogbn-papers100M on this machine, on paper, from
    the per-edge and per-step costs scale_bench measured (CPU, 1 thread)."""
    points, c = result.get("points", {}), result.get("config", {})
    lines = [ESTIMATES_START, "",
             "*Generated by `benchmarks/render_docs.py` from `benchmarks/results/scale_bench.json`"
             f" (parts: {_scale_parts(result.get('environment', {}))}); estimates on paper, not "
             "runs; CPU, 1 thread per process.*", "",
             "Storage = one int64 `edge_index` (16 B per directed edge) + float32 features. Full "
             "batch: the peak RSS above the loaded graph and the epoch time, per directed edge, of "
             "the largest synthetic graph (average degree 20, hidden 256, 2 layers) that trained "
             "under the 16 GiB cap, scaled linearly in edges. Mini-batch: the RSS after setup "
             "(sampler CSC, evaluation inputs) minus storage, per edge, of the largest graph, "
             "scaled; plus the measured training peak above setup (batch "
             f"{c.get('batch')}, fan-out {c.get('fanout')}; flat in the graph's size); epoch = "
             "median step time × ⌈training nodes / batch⌉ (a step's sampled neighbourhood "
             "saturates near 165k edges here; products' higher degree ≈ 50 does not raise it "
             "past batch × (1 + 15 + 150)).", "",
             "| dataset | model | storage (GiB) | full batch: peak (GiB) | full batch: epoch (s) | "
             "mini-batch: peak (GiB) | mini-batch: epoch (s, training nodes) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for dataset, (edges, nodes, width, train) in OGB_SIZES.items():
        storage = 16 * edges + 4 * width * nodes
        for model in ("gcn", "sage"):
            full, mini = _largest(points, "full", model), _largest(points, "mini", model)
            if mini is None:
                continue
            full_peak = full_epoch = "—"
            if full is not None:
                per_edge = (full["peak_rss"] - full["loaded_rss"]) / full["edges"]
                full_peak = f"{(storage + per_edge * edges) / 1024 ** 3:,.0f}"
                full_epoch = f"{full['epoch_s'] / full['edges'] * edges:,.0f}"
            batch_peak = mini.get("batch_peak_bytes", 0)
            setup_per_edge = (mini.get("setup_rss_trimmed", mini["loaded_rss"])
                              - mini["storage_bytes"]) / mini["edges"]
            mini_peak = (storage + setup_per_edge * edges + batch_peak) / 1024 ** 3
            steps = -(-train // c.get("batch", 1024))
            lines.append(f"| {dataset} | {model} | {storage / 1024 ** 3:,.1f} | {full_peak} | "
                         f"{full_epoch} | {mini_peak:,.1f} | "
                         f"{mini['step_median_s'] * steps:,.0f} ({train:,}) |")
    lines += ["", "Full batch on papers100M does not fit on one machine at all; mini-batch needs "
              "the graph in memory (or memory-mapped) plus one batch, and several processes "
              "divide the epoch time (each rank holds the graph; on one machine they can share it "
              "read-only).", "", ESTIMATES_END]
    return lines


ACCURACY_START, ACCURACY_END = "<!-- scale-accuracy -->", "<!-- /scale-accuracy -->"


def _replace_block(text: str, start_mark: str, end_mark: str, block: str) -> str:
    start = text.index(start_mark)
    end = text.index(end_mark) + len(end_mark) if end_mark in text else start + len(start_mark)
    return text[:start] + block + text[end:]


def write_scale_accuracy() -> None:
    from scale_accuracy import RESULTS as ACCURACY, table

    if not ACCURACY.exists() or not SCALE_DOC.exists():
        return
    text = SCALE_DOC.read_text()
    new = _replace_block(text, ACCURACY_START, ACCURACY_END,
                         "\n".join([ACCURACY_START, "", table(), "", ACCURACY_END]))
    atomic_write(SCALE_DOC, lambda f: f.write(new), binary=False)


def write_scale_estimates() -> None:
    path = RESULTS / "scale_bench.json"
    if not path.exists() or not SCALE_DOC.exists():
        return
    block = "\n".join(_scale_estimates(json.loads(path.read_text())))
    new = _replace_block(SCALE_DOC.read_text(), ESTIMATES_START, ESTIMATES_END, block)
    atomic_write(SCALE_DOC, lambda f: f.write(new), binary=False)
    print(f"wrote {SCALE_DOC}")


GNN_DOC = HERE.parent / "docs" / "gnn.md"


def write_preset_tables() -> None:
    """docs/gnn.md's preset tables, from graphsparse.gnn.experiment.presets."""
    from graphsparse.gnn.experiment.presets import PRESETS, preset_table

    text = GNN_DOC.read_text()
    for name in PRESETS:
        start, end = f"<!-- preset:{name} -->", f"<!-- /preset:{name} -->"
        block = "\n".join([start, "", f"`{name}` (generated from "
                           "`graphsparse.gnn.experiment.presets`):", "", *preset_table(name),
                           "", end])
        text = _replace_block(text, start, end, block)
    atomic_write(GNN_DOC, lambda f: f.write(text), binary=False)
    print(f"wrote {GNN_DOC}")


TICKET_ARMS = {
    "dense_pyg": "dense GCN, PyG default (`GCNConv` normalises the edge list every call)",
    "dense_csr": "dense GCN exported: normalised CSR propagation prebuilt (fastest dense path)",
    "ticket_unstructured": "exported TEDDY ticket, unstructured weights",
    "ticket_neuron": "exported TEDDY ticket, neuron-structured (hidden layer shrunk)",
}


def _ticket_timing_table(arms: dict) -> list[str]:
    lines = ["| arm | min | median | spread | speed-up vs fastest dense (`dense_csr`) | "
             "speed-up vs PyG default |", "|---|---:|---:|---:|---:|---:|"]
    for name, t in arms.items():
        lines.append(f"| {TICKET_ARMS.get(name, name)} | {_secs(t['min'])} | {_secs(t['median'])} | "
                     f"{t['spread']:.2f} | {t['speedup_vs_dense_csr']:.2f}× | "
                     f"{t['speedup_vs_dense_pyg']:.2f}× |")
    return lines


def _ticket_accuracy_table(rows: list[dict]) -> tuple[list[str], dict]:
    """Mean (std) over seeds per dataset and granularity; returns the lines and the means."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["granularity"]), []).append(r)
    lines = ["| dataset | weights | seeds | test accuracy | graph sparsity | weight sparsity | "
             "hidden units kept |", "|---|---|---:|---:|---:|---:|---:|"]
    means = {}
    for (dataset, gran), rs in groups.items():
        tests = [100 * r["test"] for r in rs]
        mean = sum(tests) / len(tests)
        std = (sum((t - mean) ** 2 for t in tests) / max(len(tests) - 1, 1)) ** 0.5
        means[dataset, gran] = (mean, len(tests))
        units = rs[0].get("units_kept")
        spread = f" ± {std:.2f}" if len(tests) > 1 else ""
        lines.append(f"| {dataset} | {gran} | {len(rs)} | {mean:.2f}{spread} | "
                     f"{100 * rs[0]['graph_sparsity']:.1f}% | {100 * rs[0]['weight_sparsity']:.1f}% | "
                     + (f"{units} / {rs[0]['units_total']}" if units is not None else "all") + " |")
    return lines, means


def _ticket_bench() -> list[str]:
    """Issue 15's ticket goal from ``results/ticket_bench/`` (timing.json, accuracy.jsonl)."""
    folder = RESULTS / "ticket_bench"
    timing = json.loads((folder / "timing.json").read_text())
    rows = [json.loads(line) for line in (folder / "accuracy.jsonl").read_text().splitlines() if line]
    lines = ["## Exported tickets vs the fastest dense path (`benchmarks/ticket_bench.py`)", "",
             "Configuration: preset `teddy-paper` (GCN 2 × 512, λ = 10, 200 epochs, lr 0.01, "
             "weight decay 5e-4, row-normalised features, weight scope `all`), TEDDY level 20 of "
             "p_graph 0.05, p_weight 0.1 (graph 64.2%, 87.8% of the weights or of the hidden "
             "units). Inference: one forward on the full graph, seed 0's exported tickets "
             "(`graphsparse glt export`: masks baked, pruned edges removed, neuron tickets' "
             "hidden layer physically shrunk), arms interleaved with `_timing.compare` (2 warm-up "
             f"rounds, {next(iter(next(iter(timing['datasets'].values())).values()))['repeats']} "
             "samples, min reported; speed-ups = baseline min / arm min).", "",
             measured_line(timing["start"], timing.get("end")), ""]
    goals = []
    for dataset, arms in timing["datasets"].items():
        lines += [f"### Inference on {dataset}", "", *_ticket_timing_table(arms), ""]
        ratio = arms["ticket_neuron"]["speedup_vs_dense_csr"]
        goals.append(f"- {dataset}: neuron ticket ≥ 2× the fastest dense path: "
                     f"{'**met**' if ratio >= 2 else '**missed**'} ({ratio:.2f}×; unstructured "
                     f"ticket {arms['ticket_unstructured']['speedup_vs_dense_csr']:.2f}×).")
    table, means = _ticket_accuracy_table(rows)
    lines += ["### Test accuracy (mean ± std over seeds)", "", *table, ""]
    for dataset in ("cora", "coauthor-cs"):
        (u, nu), (n, nn) = means.get((dataset, "unstructured"), (0, 0)), means.get((dataset, "neuron"), (0, 0))
        ok = nu >= 3 and nn >= 3 and n >= u - 1
        goals.append(f"- {dataset}: neuron ticket's test accuracy within 1 point of the "
                     f"unstructured ticket's (3 seeds): {'**met**' if ok else '**missed**'} "
                     f"({n:.2f} vs {u:.2f}, {nn} and {nu} seeds).")
    return lines + ["Goals (issue 15):", "", *goals]


def render() -> str:
    out = ["# Benchmarks", "",
           "Generated by `benchmarks/render_docs.py` from the raw results in `benchmarks/results/`; "
           "do not edit by hand. Every claim is a ratio against a baseline measured in the same "
           "run, because these machines are shared and noisy.", ""]
    for path in sorted(RESULTS.glob("*.json")):
        result = json.loads(path.read_text())
        renderer = RENDERERS.get(result.get("benchmark"))
        if renderer is None:
            raise ValueError(f"{path.name}: no renderer for benchmark {result.get('benchmark')!r}")
        out.extend(renderer(result))
        out.append("")
        if result.get("benchmark") == "gnn_bench" and (RESULTS / "ticket_bench" / "timing.json").exists():
            out.extend(_ticket_bench())
            out.append("")
    return "\n".join(out)


def main() -> None:
    text = render()
    atomic_write(DOC, lambda f: f.write(text), binary=False)
    print(f"wrote {DOC}")
    write_scale_estimates()
    write_scale_accuracy()
    write_preset_tables()


if __name__ == "__main__":
    main()
