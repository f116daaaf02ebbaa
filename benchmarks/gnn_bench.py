"""GNN performance (issue 4): masked-training overhead and ticket inference speed on Cora.

Every timing goes through ``benchmarks/_timing.py`` (the project's one method): threads and the
allocator pinned first (``pin``), arms interleaved in one process (``compare``: ``--warmup``
untimed rounds, ``--repeats`` >= 5 samples in rotating order, each sample the mean of enough
calls to last ~``--sample-s`` on the slowest arm), min / median / max / spread recorded,
speed-ups ``baseline.min / arm.min`` (``ratio``), and the ``environment()`` (date, machine,
threads, allocator, load average) recorded at the start and end of the run and of every part.

Part 1, training overhead: per-epoch time (one full-batch Adam step, forward + backward) of
(a) a plain 2-layer PyG ``GCNConv`` model written here (hidden 512, no graphsparse code),
(b) the same architecture from ``build_model("gcn", ...)`` with weight masks attached
(``graphsparse.masks.attach``, ~50% of the linear weights kept) and an all-True edge mask attached
in mode ``"remove"`` (filtered at every conv call), (c) the same with a soft edge mask (uniform
[0, 1)) in mode ``"message"`` (for ``GCNConv`` the ``"weight"`` rule), (b50) as (b) with half
of the undirected edges removed. Same training loop and feature layout (the dataset's, sparse
CSR for Cora) in every arm. Reported: min per-epoch time of each arm over (a)'s. Goal (issue
"Honest benchmarks"): (b)/(a) <= 1.10.

Part 2, ticket inference: one eval forward of the dense model vs the ticket (random weight masks
at 88% sparsity of the linear weights, 64% of the undirected edges removed with
``apply_edge_mask``) on two propagation paths: PyG's default per-edge messages (``GCNConv``
normalising the edge list at every call) and one sparse product per layer (the adjacency as a
``torch.sparse_csr`` tensor, as the trainer does). Arms: the dense model on both paths; the
ticket with masks attached or baked on both paths; dense weights on the pruned graph (control).
Speed-ups are against the fastest dense arm (for GCN: the sparse-product path) and, labelled,
against PyG's default path; beside them the analytic MACs ratio of ``graph_macs``. Each arm is
also profiled once (``torch.profiler``, one forward after a warm-up): peak bytes of tensors
alive during the forward (allocations and frees replayed in time order; kernels' internal
scratch not seen), the storage it reads (``state_dict`` tensors plus the graph) and the top
operators by self CPU time. Goal: ticket >= 1.5x the fastest dense baseline.

Part 2b, weight kernels (``--parts kernels``): does storing the ticket's first-layer weight as
CSR pay off for the feature transform X·(W⊙M) with sparse bag-of-words X? (:func:`weight_kernels`)

Part 3, search cost to one target level (``--parts search``): ``find_ticket`` with
``level=--level`` for random (one-shot), TEDDY (one-shot: dense pre-training + sparse training)
and UGS (one round per level + the final retraining), ``--search-epochs`` epochs per training
run (papers: 200); each method timed once (runs are minutes long), one after the other.
``--merge`` keeps the parts not run from the existing JSON.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gnn_bench.py  # ~3-4 min on one idle core
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gnn_bench.py --quick --out /tmp/gnn.json  # smoke
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torch_geometric
from torch import nn
from torch.profiler import ProfilerActivity, profile
from torch_geometric.nn import GCNConv
from torch_geometric.utils import to_torch_csr_tensor

from _timing import Timing, compare, environment, header_line, pin, ratio
from graphsparse.fileio import atomic_write
from graphsparse.gnn import (
    apply_edge_mask,
    build_model,
    count_graph_sparsity,
    count_weight_sparsity,
    edge_mask,
    graph_macs,
    load_dataset,
    tie_directions,
)
from graphsparse.masks import attach, bake, random_scores, topk_masks

RESULTS = Path(__file__).resolve().parent / "results" / "gnn_bench.json"


class PlainGCN(nn.Module):
    """Arm (a): two PyG GCNConv layers, ReLU, dropout 0.5, no bias — no graphsparse code."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.conv1 = GCNConv(in_dim, hidden, bias=False)
        self.conv2 = GCNConv(hidden, out_dim, bias=False)

    def forward(self, x, edge_index):
        x = F.relu(self.conv1(x, edge_index))
        x = F.dropout(x, 0.5, self.training)
        return self.conv2(x, edge_index)


def random_weight_masks(model: nn.Module, sparsity: float, seed: int) -> dict:
    return topk_masks(random_scores(model, seed=seed, scope="linear"), sparsity,
                      scope="global")


def random_edge_keep(edge_index: torch.Tensor, num_nodes: int, sparsity: float,
                     seed: int) -> torch.Tensor:
    """Bool [E]: keep a random (1 - sparsity) share of the undirected pairs, both directions."""
    tied = tie_directions(edge_index, num_nodes)
    g = torch.Generator().manual_seed(seed)
    n = tied.num_pairs
    keep_pairs = torch.zeros(n, dtype=torch.bool)
    keep_pairs[torch.randperm(n, generator=g)[: round(n * (1 - sparsity))]] = True
    return tied.expand(keep_pairs)


def make_step(model, x, edge_index, y, train_mask):
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)

    def step():
        model.train()
        opt.zero_grad(set_to_none=True)
        out = model(x, edge_index)
        loss = F.cross_entropy(out[train_mask], y[train_mask])
        loss.backward()
        opt.step()
    return step


def calls_per_sample(arms: dict, target_s: float) -> int:
    """Calls averaged into one sample so that a sample of the slowest arm lasts about
    ``target_s`` (1 to 50): every arm called once untimed, then once timed."""
    slowest = 0.0
    for call in arms.values():
        call()
        start = time.perf_counter()
        call()
        slowest = max(slowest, time.perf_counter() - start)
    return max(1, min(50, math.ceil(target_s / max(slowest, 1e-6))))


def timed(arms: dict, args) -> dict[str, Timing]:
    """``_timing.compare`` of ``arms``: ``args.warmup`` rounds, ``args.repeats`` samples, each
    the mean of enough calls to last ~``args.sample_s`` on the slowest arm."""
    inner = calls_per_sample(arms, args.sample_s)
    return compare(arms, repeats=args.repeats, warmup=args.warmup, inner=inner)


def masked_gcn(ds, hidden: int, edge_kind: str, keep_fraction: float = 1.0):
    """Arms (b), (b50), (c): ``build_model("gcn")`` with 50% random weight masks attached and an
    edge mask (``"remove"``: bool, ``keep_fraction`` of the undirected pairs; ``"message"``:
    uniform [0, 1) soft mask). Returns the model and the edge-mask hooks (keep them alive)."""
    edge_index, n = ds.data.edge_index, ds.data.num_nodes
    torch.manual_seed(0)
    model = build_model("gcn", ds.num_features, ds.num_classes, hidden=hidden)
    attach(model, random_weight_masks(model, 0.5, seed=1))
    if edge_kind == "remove":
        keep = (torch.ones(edge_index.size(1), dtype=torch.bool) if keep_fraction == 1.0
                else random_edge_keep(edge_index, n, 1 - keep_fraction, seed=2))
        return model, edge_mask(model, keep, "remove")
    soft = torch.rand(edge_index.size(1), generator=torch.Generator().manual_seed(2))
    return model, edge_mask(model, soft, "message")


def training_overhead(ds, args) -> dict:
    """Part 1: per-epoch time of arms (a), (b), (c), (b50); ratios are per-epoch time over
    (a)'s, both minima."""
    data = ds.data
    x, ei, y, tm = data.x, data.edge_index, data.y, data.train_mask
    torch.manual_seed(0)
    plain = PlainGCN(ds.num_features, args.hidden, ds.num_classes)
    models = {"b_masked_remove": masked_gcn(ds, args.hidden, "remove"),
              "c_masked_message": masked_gcn(ds, args.hidden, "message"),
              "b50_masked_remove_half_edges": masked_gcn(ds, args.hidden, "remove", 0.5)}
    arms = {"a_plain_pyg": make_step(plain, x, ei, y, tm),
            **{name: make_step(model, x, ei, y, tm) for name, (model, _) in models.items()}}
    timings = timed(arms, args)
    rows = []
    for name, t in timings.items():
        rows.append({"arm": name, **t.to_dict(),
                     "time_vs_plain": ratio(t, timings["a_plain_pyg"])})
        print(f"  {name}: {t}; (x)/(a) {rows[-1]['time_vs_plain']:.3f}", flush=True)
    kept = 1 - count_weight_sparsity(models["b_masked_remove"][0], "linear").sparsity
    return {"dataset": ds.name, "feature_layout": str(x.layout), "num_nodes": data.num_nodes,
            "num_edges": ei.size(1), "weight_kept_fraction": kept, "rows": rows}


def profile_forward(fn, top: int = 5) -> dict:
    """One profiled call of ``fn`` (after a warm-up call): peak live tensor bytes, total self
    CPU time (ms) and the ``top`` operators by self CPU time with their share."""
    fn()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = prof.events()
    deltas = []  # (time µs, bytes): op allocations at the op's end, unattributed frees as they come
    for e in events:
        if e.name == "[memory]":
            deltas.append((e.time_range.start, e.cpu_memory_usage))
        elif e.self_cpu_memory_usage:
            deltas.append((e.time_range.end, e.self_cpu_memory_usage))
    live = peak = 0
    for _, delta in sorted(deltas, key=lambda d: d[0]):
        live += delta
        peak = max(peak, live)
    per_op: dict[str, float] = {}
    for e in events:
        if e.name != "[memory]":
            per_op[e.name] = per_op.get(e.name, 0.0) + e.self_cpu_time_total
    total = sum(per_op.values())
    ops = sorted(per_op.items(), key=lambda kv: -kv[1])[:top]
    return {"peak_bytes": peak, "profiled_ms": total / 1e3,
            "top_ops": [{"op": k, "ms": v / 1e3, "share": v / total} for k, v in ops]}


def storage_bytes(model: nn.Module, graph: torch.Tensor) -> int:
    """Bytes of the model's state_dict tensors (weights, masks) plus the graph it propagates on
    (``edge_index``, or a CSR adjacency's index and value arrays)."""
    tensors = list(model.state_dict().values())
    if graph.layout == torch.sparse_csr:
        tensors += [graph.crow_indices(), graph.col_indices(), graph.values()]
    else:
        tensors.append(graph)
    return sum(t.numel() * t.element_size() for t in tensors)


#: Inference arms: name -> (model key, graph key, dense baseline?). Models: the dense model,
#: the ticket with attached masks, the ticket with masks baked; graphs: the full edge list,
#: the pruned edge list, and both as normalised-by-the-layer CSR adjacencies.
INFERENCE_ARMS = {
    "dense": ("dense", "edges", True),
    "dense_spmm": ("dense", "adj", True),
    "ticket_masked_weights_removed_edges": ("ticket", "kept_edges", False),
    "dense_weights_removed_edges": ("dense", "kept_edges", False),
    "ticket_baked_weights_removed_edges": ("baked", "kept_edges", False),
    "ticket_spmm_removed_edges": ("ticket", "kept_adj", False),
    "ticket_baked_spmm_removed_edges": ("baked", "kept_adj", False),
}
PYG_DEFAULT = "dense"  # PyG's default path: GCNConv normalising the edge list at every call


def forward(model: nn.Module, x: torch.Tensor, graph: torch.Tensor):
    def call():
        with torch.no_grad():
            model(x, graph)
    return call


def ticket_setup(ds, args) -> tuple[dict, dict, dict]:
    """The dense model, the ticket (random masks, attached and baked) and the graphs of part 2;
    returns ``(models, graphs, facts)``."""
    x, ei, n = ds.data.x, ds.data.edge_index, ds.data.num_nodes
    torch.manual_seed(0)
    dense = build_model("gcn", ds.num_features, ds.num_classes, hidden=args.hidden).eval()
    ticket = copy.deepcopy(dense)
    attach(ticket, random_weight_masks(ticket, args.weight_sparsity, seed=1))
    keep = random_edge_keep(ei, n, args.graph_sparsity, seed=2)
    kept_ei, _ = apply_edge_mask(ei, keep)
    macs = graph_macs(ticket, x, ei, edge_mask=keep)
    graph_sparsity = count_graph_sparsity(ei, keep, num_nodes=n)
    models = {"dense": dense, "ticket": ticket, "baked": bake(copy.deepcopy(ticket)).eval()}
    graphs = {"edges": ei, "kept_edges": kept_ei,  # CSR rows = targets, as the trainer builds it
              "adj": to_torch_csr_tensor(ei.flip(0), size=(n, n)),
              "kept_adj": to_torch_csr_tensor(kept_ei.flip(0), size=(n, n))}
    facts = {"dataset": ds.name, "feature_layout": str(x.layout), "num_nodes": n,
             "num_edges": ei.size(1), "kept_directed_edges": kept_ei.size(1),
             "graph_sparsity": graph_sparsity.sparsity,
             "graph_sparsity_detail": str(graph_sparsity),
             "weight_sparsity": count_weight_sparsity(ticket, "linear").sparsity,
             "dense_macs": macs.dense, "masked_macs": macs.masked,
             "macs_speedup": macs.dense / macs.masked}
    return models, graphs, facts


def inference(ds, args) -> dict:
    """Part 2: one eval forward per arm; speed-ups against the fastest dense arm (the dense arm
    with the lowest min) and, labelled, against PyG's default per-edge path."""
    models, graphs, facts = ticket_setup(ds, args)
    x = ds.data.x
    calls = {name: forward(models[m], x, graphs[g]) for name, (m, g, _) in INFERENCE_ARMS.items()}
    timings = timed(calls, args)
    fastest = min((name for name, (_, _, dense) in INFERENCE_ARMS.items() if dense),
                  key=lambda name: timings[name].min)
    rows = []
    for name, (m, g, _) in INFERENCE_ARMS.items():
        t = timings[name]
        rows.append({"arm": name, **t.to_dict(),
                     "speedup_vs_fastest_dense": ratio(timings[fastest], t),
                     "speedup_vs_pyg_default": ratio(timings[PYG_DEFAULT], t),
                     "storage_bytes": storage_bytes(models[m], graphs[g]),
                     **profile_forward(calls[name])})
        r = rows[-1]
        print(f"  {name}: {t}; {r['speedup_vs_fastest_dense']:.2f}x vs {fastest}, "
              f"{r['speedup_vs_pyg_default']:.2f}x vs {PYG_DEFAULT}, top op "
              f"{r['top_ops'][0]['op']} {r['top_ops'][0]['share']:.0%}", flush=True)
    return {**facts, "fastest_dense": fastest, "pyg_default": PYG_DEFAULT, "rows": rows}


def weight_kernels(ds, args) -> dict:
    """Does a sparse weight kernel pay off for the first layer's feature transform X·(W⊙M)?

    X is the dataset's feature matrix (sparse CSR for bag-of-words data), W⊙M a random
    ``in_dim × hidden`` weight at ``--weight-sparsity``. Arms, interleaved: the masked weight
    stored dense (``X @ W``, what the ticket runs) vs the weight as CSR (``torch.sparse.mm(X,
    W_csr)``, a sparse × sparse product, densified for the next layer). Results are compared
    for equality first.
    """
    x = ds.data.x
    g = torch.Generator().manual_seed(0)
    w = torch.randn(x.size(1), args.hidden, generator=g)
    w = w * (torch.rand(w.shape, generator=g) >= args.weight_sparsity)
    w_csr = w.to_sparse_csr()
    if not torch.allclose(x @ w, torch.sparse.mm(x, w_csr).to_dense(), atol=1e-4):
        raise RuntimeError("sparse and dense feature transforms disagree")
    arms = {"dense_masked_weight": lambda: x @ w,
            "csr_weight": lambda: torch.sparse.mm(x, w_csr).to_dense()}
    timings = timed(arms, args)
    rows = []
    for name, t in timings.items():
        rows.append({"arm": name, **t.to_dict(),
                     "speedup": ratio(timings["dense_masked_weight"], t)})
        print(f"  {name}: {t}; {rows[-1]['speedup']:.2f}x", flush=True)
    return {"dataset": ds.name, "feature_layout": str(x.layout), "shape": list(x.shape),
            "feature_nnz": int(x._nnz()) if x.layout != torch.strided else int(x.count_nonzero()),
            "hidden": args.hidden, "weight_sparsity": args.weight_sparsity, "rows": rows}


def search_cost(ds, args) -> dict:
    """Part 3: ``find_ticket`` to ``--level`` per method, each timed once (one run is minutes
    long: ``_timing.compare`` with ``repeats=1``, no warm-up), one after the other."""
    from graphsparse.gnn import find_ticket
    rows = []
    for method in ("random", "teddy", "ugs"):
        torch.manual_seed(0)
        model = build_model("gcn", ds.num_features, ds.num_classes, hidden=args.hidden)
        found = []

        def run(model=model, method=method, found=found):
            found.append(find_ticket(model, ds, method=method, level=args.level,
                                     epochs=args.search_epochs))
        t = compare({method: run}, repeats=1, warmup=0)[method]
        ticket = found[0]
        m = ticket.metrics
        rows.append({"method": method, **t.to_dict(), "search_epochs": m["search_epochs"],
                     "search_seconds": m["search_seconds"], "test": m["test"],
                     "graph_sparsity": ticket.graph_sparsity["sparsity"],
                     "weight_sparsity": ticket.weight_sparsity["sparsity"],
                     "weight_scope": ticket.weight_scope})
        print(f"  {method}: {m['search_epochs']} epochs, {t.min:.1f} s, test {m['test']:.3f}",
              flush=True)
    return {"dataset": ds.name, "level": args.level, "epochs_per_run": args.search_epochs,
            "timed_once": True, "rows": rows}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["Cora"])
    parser.add_argument("--infer-datasets", nargs="+", default=["Cora", "coauthor-cs"])
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=9,
                        help="interleaved samples per arm (>= 5 for reported figures)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds of every arm")
    parser.add_argument("--sample-s", type=float, default=0.5,
                        help="target seconds of one sample of the slowest arm (sets inner)")
    parser.add_argument("--graph-sparsity", type=float, default=0.64)
    parser.add_argument("--weight-sparsity", type=float, default=0.88)
    parser.add_argument("--parts", nargs="+", default=["train", "infer", "kernels"],
                        choices=["train", "infer", "kernels", "search"])
    parser.add_argument("--merge", action="store_true",
                        help="keep the parts not run from the existing --out JSON")
    parser.add_argument("--level", type=int, default=20)
    parser.add_argument("--search-epochs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: Cora only, 5 samples, 1 warm-up, short samples")
    parser.add_argument("--note", default="", help="e.g. why a configuration was reduced")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.infer_datasets, args.repeats, args.warmup, args.sample_s = ["Cora"], 5, 1, 0.2
        args.search_epochs = min(args.search_epochs, 10)
        args.note = args.note or "smoke run (--quick)"
    return args


PARTS = {"train": ("training", "datasets", training_overhead, "training overhead"),
         "infer": ("inference", "infer_datasets", inference, "ticket inference"),
         "kernels": ("weight_kernels", "infer_datasets", weight_kernels,
                     "feature-transform kernels")}


def run_parts(args, old: dict) -> dict:
    """The parts asked for (each with the environment at its start and end); the others from
    ``old``."""
    results = {key: old.get(key) or [] for key, *_ in PARTS.values()}
    results["search"] = old.get("search")
    for part, (key, datasets, measure, title) in PARTS.items():
        if part in args.parts:
            results[key] = []
            for name in getattr(args, datasets):
                print(f"{title} on {name}", flush=True)
                start = environment()
                results[key].append({**measure(load_dataset(name), args), "start": start,
                                     "end": environment()})
    if "search" in args.parts:
        print("search cost on Cora", flush=True)
        start = environment()
        results["search"] = {**search_cost(load_dataset("Cora"), args), "start": start,
                             "end": environment()}
    return results


def config(args) -> dict:
    return {
        "model": f"2-layer GCN, hidden {args.hidden}, no bias, dropout 0.5",
        "torch_geometric": torch_geometric.__version__,
        "threads": args.threads, "repeats": args.repeats, "warmup": args.warmup,
        "sample_s": args.sample_s,
        "train_weight_kept": 0.5,
        "train_edge_masks": "b: all-True bool mask, remove mode (same graph as a); "
                            "b50: random 50% of undirected pairs kept, remove mode; "
                            "c: uniform [0,1) soft mask, message mode (GCN weight rule)",
        "graph_sparsity": args.graph_sparsity, "weight_sparsity": args.weight_sparsity,
        "ticket_masks": "random (timing does not depend on which entries are kept)",
        "level": args.level, "search_epochs": args.search_epochs,
        "note": args.note,
    }


def main() -> None:
    args = parse_args()
    pinned = pin(threads=args.threads)
    start = environment()
    print(header_line(start), flush=True)
    t0 = time.perf_counter()
    old = json.loads(args.out.read_text()) if args.merge and args.out.exists() else {}
    results = run_parts(args, old)
    settings = config(args)
    if old.get("config") and not set(args.parts) & set(PARTS):  # search only: keep the timed
        settings = {**old["config"], "level": args.level,     # parts' settings
                    "search_epochs": args.search_epochs}
    result = {"benchmark": "gnn_bench", "method": "_timing", "pinned": pinned, "start": start,
              "end": environment(), "wall_s": time.perf_counter() - t0, "config": settings,
              **results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, lambda f: json.dump(result, f, indent=2), binary=False)
    print(f"wrote {args.out} ({result['wall_s'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
