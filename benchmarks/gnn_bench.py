"""GNN performance (issue 4): masked-training overhead and ticket inference speed on Cora.

Part 1, training overhead: per-epoch time (one full-batch Adam step, forward + backward) of
(a) a plain 2-layer PyG ``GCNConv`` model written here (hidden 512, no graphsparse code),
(b) the same architecture from ``build_model("gcn", ...)`` with weight masks attached
(``graphsparse.masks.attach``, ~50% of the linear weights kept) and an edge mask attached in mode
``"remove"`` (filtered at every conv call), (c) the same with a soft edge mask (uniform [0, 1))
in mode ``"message"`` (for ``GCNConv`` this is the ``"weight"`` rule). All arms use the same
training loop, the same feature layout (the dataset's, sparse CSR for Cora) and the full graph.
Arms run interleaved (a b c a b c ...), ``--epochs-per-block`` epochs per block, medians of the
per-epoch times and of the per-block ratios are reported. Goal: (b)/(a) and (c)/(a) <= 1.15.

Part 2, ticket inference: wall-clock of one eval forward of the dense model on the full graph vs
the ticket (random weight masks at 88% sparsity of the linear weights attached, 64% of the
undirected edges physically removed with ``apply_edge_mask``), plus two controls (dense weights
on the pruned graph; masks baked into plain weights on the pruned graph) — beside the analytic
MACs ratio of ``graph_macs``. The same pair again with GCN propagation by one sparse product per
layer (the adjacency as a ``torch.sparse_csr`` tensor, as the trainer does: ``spmm_propagation``),
compared with the dense model on that path. Each arm is also profiled once
(``torch.profiler``, one forward after a warm-up): peak bytes of tensors alive during the forward
(allocations and frees replayed in time order; kernels' internal scratch not seen), the
storage it reads (``state_dict`` tensors — weights, masks — plus the graph), and the top
operators by self CPU time (the cost breakdown). Goal: measured speed-up >= 1.5x.

Part 2b, weight kernels (``--parts kernels``): does storing the ticket's first-layer weight as
CSR pay off for the feature transform X·(W⊙M) with sparse bag-of-words X? (:func:`weight_kernels`)

Part 3, search cost to one target level (``--parts search``): ``find_ticket`` with
``level=--level`` (geometric grid, p_graph 0.05, p_weight 0.2) for TEDDY (one-shot: dense
pre-training + sparse training), random (one-shot) and UGS (one round per level + the final
retraining), each with ``--search-epochs`` epochs per training run (papers: 200), run one after
the other (not interleaved); epochs and seconds as the ticket's ``metrics`` record them.
``--merge`` keeps the parts not run from the existing JSON.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gnn_bench.py
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gnn_bench.py --blocks 3 --infer-repeats 5  # smoke
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torch_geometric
from torch import nn
from torch.profiler import ProfilerActivity, profile
from torch_geometric.nn import GCNConv
from torch_geometric.utils import to_torch_csr_tensor

from _machine import cpu_model

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


def machine() -> str:
    return (f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"torch {torch.__version__}, torch_geometric {torch_geometric.__version__}, "
            f"{torch.get_num_threads()} threads")


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


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


def timed_block(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def interleaved(arms: dict, blocks: int, per_block: int) -> dict[str, list[float]]:
    """Warm each arm up, then time ``blocks`` rounds of A B C … (``per_block`` calls each);
    returns the per-call seconds of every block, per arm, so ratios pair blocks run together."""
    for fn in arms.values():
        timed_block(fn, 2)
    times = {k: [] for k in arms}
    for _ in range(blocks):
        for k, fn in arms.items():
            times[k].append(timed_block(fn, per_block))
    return times


def training_overhead(ds, args) -> dict:
    data = ds.data
    x, ei, y, tm = data.x, data.edge_index, data.y, data.train_mask
    n = data.num_nodes
    torch.manual_seed(0)
    plain = PlainGCN(ds.num_features, args.hidden, ds.num_classes)

    def ours(kind: str, keep_fraction: float = 1.0):
        torch.manual_seed(0)
        m = build_model("gcn", ds.num_features, ds.num_classes, hidden=args.hidden)
        attach(m, random_weight_masks(m, 0.5, seed=1))
        if kind == "remove":
            keep = (torch.ones(ei.size(1), dtype=torch.bool) if keep_fraction == 1.0
                    else random_edge_keep(ei, n, 1 - keep_fraction, seed=2))
            hooks = edge_mask(m, keep, "remove")
        else:
            g = torch.Generator().manual_seed(2)
            soft = torch.rand(ei.size(1), generator=g)
            hooks = edge_mask(m, soft, "message")
        return m, hooks

    b_model, _hb = ours("remove")
    b50_model, _hb50 = ours("remove", 0.5)
    c_model, _hc = ours("message")
    ws = count_weight_sparsity(b_model, "linear")
    arms = {
        "a_plain_pyg": make_step(plain, x, ei, y, tm),
        "b_masked_remove": make_step(b_model, x, ei, y, tm),
        "c_masked_message": make_step(c_model, x, ei, y, tm),
        "b50_masked_remove_half_edges": make_step(b50_model, x, ei, y, tm),
    }
    times = interleaved(arms, args.blocks, args.epochs_per_block)
    base = times["a_plain_pyg"]
    rows = []
    for k, ts in times.items():
        ratios = [t / b for t, b in zip(ts, base)]
        rows.append({"arm": k, "epoch_s": statistics.median(ts),
                     "ratio_vs_plain": statistics.median(ratios),
                     "ratio_min": min(ratios), "ratio_max": max(ratios)})
        print(f"  {k}: {rows[-1]['epoch_s'] * 1e3:.1f} ms/epoch, ratio {rows[-1]['ratio_vs_plain']:.3f}")
    return {"dataset": ds.name, "feature_layout": str(x.layout), "num_nodes": n,
            "num_edges": ei.size(1), "weight_kept_fraction": 1 - ws.sparsity,
            "rows": rows}


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


def inference(ds, args) -> dict:
    data = ds.data
    x, ei = data.x, data.edge_index
    n = data.num_nodes
    torch.manual_seed(0)
    dense = build_model("gcn", ds.num_features, ds.num_classes, hidden=args.hidden).eval()
    ticket = copy.deepcopy(dense)
    attach(ticket, random_weight_masks(ticket, args.weight_sparsity, seed=1))
    keep = random_edge_keep(ei, n, args.graph_sparsity, seed=2)
    gs = count_graph_sparsity(ei, keep, num_nodes=n)
    ws = count_weight_sparsity(ticket, "linear")
    kept_ei, _ = apply_edge_mask(ei, keep)
    macs = graph_macs(ticket, x, ei, edge_mask=keep)
    baked = bake(copy.deepcopy(ticket)).eval()
    adj = to_torch_csr_tensor(ei.flip(0), size=(n, n))           # row = target, as the trainer
    kept_adj = to_torch_csr_tensor(kept_ei.flip(0), size=(n, n))

    def fwd(model, edges):
        def f():
            with torch.no_grad():
                model(x, edges)
        return f

    arms = {  # name: (model, graph, baseline arm)
        "dense": (dense, ei, "dense"),
        "ticket_masked_weights_removed_edges": (ticket, kept_ei, "dense"),
        "dense_weights_removed_edges": (dense, kept_ei, "dense"),
        "ticket_baked_weights_removed_edges": (baked, kept_ei, "dense"),
        "dense_spmm": (dense, adj, "dense_spmm"),
        "ticket_spmm_removed_edges": (ticket, kept_adj, "dense_spmm"),
        "ticket_baked_spmm_removed_edges": (baked, kept_adj, "dense_spmm"),
    }
    times = interleaved({k: fwd(m, g) for k, (m, g, _) in arms.items()}, args.infer_repeats,
                        args.forwards_per_block)
    rows = []
    for k, (model, graph, baseline) in arms.items():
        sp = [b / t for t, b in zip(times[k], times[baseline])]
        rows.append({"arm": k, "baseline": baseline, "forward_s": statistics.median(times[k]),
                     "speedup_vs_dense": statistics.median(sp),
                     "speedup_min": min(sp), "speedup_max": max(sp),
                     "storage_bytes": storage_bytes(model, graph),
                     **profile_forward(fwd(model, graph))})
        r = rows[-1]
        print(f"  {k}: {r['forward_s'] * 1e3:.2f} ms, speed-up {r['speedup_vs_dense']:.2f}x vs "
              f"{baseline}, peak {r['peak_bytes'] / 2**20:.1f} MiB, top op "
              f"{r['top_ops'][0]['op']} {r['top_ops'][0]['share']:.0%}")
    return {
        "dataset": ds.name, "feature_layout": str(x.layout), "num_nodes": n,
        "num_edges": ei.size(1), "kept_directed_edges": kept_ei.size(1),
        "graph_sparsity": gs.sparsity,
        "graph_sparsity_detail": str(gs),
        "weight_sparsity": ws.sparsity,
        "dense_macs": macs.dense, "masked_macs": macs.masked,
        "macs_speedup": macs.dense / macs.masked, "rows": rows,
        "date": datetime.date.today().isoformat(), "load_average_end": load(),
    }


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
    dense_out = x @ w
    if not torch.allclose(dense_out, torch.sparse.mm(x, w_csr).to_dense(), atol=1e-4):
        raise RuntimeError("sparse and dense feature transforms disagree")
    arms = {"dense_masked_weight": lambda: x @ w,
            "csr_weight": lambda: torch.sparse.mm(x, w_csr).to_dense()}
    times = interleaved(arms, args.kernel_repeats, 1)
    base = times["dense_masked_weight"]
    rows = []
    for k, ts in times.items():
        sp = [b / t for t, b in zip(ts, base)]
        rows.append({"arm": k, "seconds": statistics.median(ts),
                     "speedup": statistics.median(sp), "speedup_min": min(sp),
                     "speedup_max": max(sp)})
        print(f"  {k}: {rows[-1]['seconds'] * 1e3:.1f} ms, {rows[-1]['speedup']:.2f}x")
    return {"dataset": ds.name, "feature_layout": str(x.layout), "shape": list(x.shape),
            "feature_nnz": int(x._nnz()) if x.layout != torch.strided else int(x.count_nonzero()),
            "hidden": args.hidden, "weight_sparsity": args.weight_sparsity, "rows": rows,
            "date": datetime.date.today().isoformat(), "load_average_end": load()}


def search_cost(ds, args) -> dict:
    from graphsparse.gnn import find_ticket
    rows = []
    for method in ("random", "teddy", "ugs"):
        torch.manual_seed(0)
        model = build_model("gcn", ds.num_features, ds.num_classes, hidden=args.hidden)
        t = time.perf_counter()
        ticket = find_ticket(model, ds, method=method, level=args.level, epochs=args.search_epochs)
        wall = time.perf_counter() - t
        m = ticket.metrics
        rows.append({"method": method, "search_epochs": m["search_epochs"],
                     "search_seconds": m["search_seconds"], "wall_s": wall,
                     "test": m["test"], "graph_sparsity": ticket.graph_sparsity["sparsity"],
                     "weight_sparsity": ticket.weight_sparsity["sparsity"],
                     "weight_scope": ticket.weight_scope})
        print(f"  {method}: {m['search_epochs']} epochs, {m['search_seconds']:.1f} s, "
              f"test {m['test']:.3f}")
    return {"dataset": ds.name, "level": args.level, "epochs_per_run": args.search_epochs,
            "load_average": load(), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["Cora"])
    parser.add_argument("--infer-datasets", nargs="+", default=["Cora", "coauthor-cs"])
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--blocks", type=int, default=15, help="interleaved blocks per arm")
    parser.add_argument("--epochs-per-block", type=int, default=5)
    parser.add_argument("--infer-repeats", type=int, default=15)
    parser.add_argument("--forwards-per-block", type=int, default=5)
    parser.add_argument("--graph-sparsity", type=float, default=0.64)
    parser.add_argument("--weight-sparsity", type=float, default=0.88)
    parser.add_argument("--parts", nargs="+", default=["train", "infer", "kernels"],
                        choices=["train", "infer", "kernels", "search"])
    parser.add_argument("--kernel-repeats", type=int, default=5,
                        help="interleaved repeats of the feature-transform kernel comparison")
    parser.add_argument("--merge", action="store_true",
                        help="keep the parts not run from the existing --out JSON")
    parser.add_argument("--level", type=int, default=20)
    parser.add_argument("--search-epochs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--note", default="", help="e.g. why a configuration was reduced")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    t0, load_start = time.perf_counter(), load()

    old = json.loads(args.out.read_text()) if args.merge and args.out.exists() else {}
    training, infer, search = old.get("training", []), old.get("inference", []), old.get("search")
    kernels = old.get("weight_kernels", [])
    if "train" in args.parts:
        training = []
        for name in args.datasets:
            print(f"training overhead on {name}")
            training.append(training_overhead(load_dataset(name), args))
    if "infer" in args.parts:
        infer = []
        for name in args.infer_datasets:
            print(f"ticket inference on {name}")
            infer.append(inference(load_dataset(name), args))
    if "kernels" in args.parts:
        kernels = []
        for name in args.infer_datasets:
            print(f"feature-transform kernels on {name}")
            kernels.append(weight_kernels(load_dataset(name), args))
    if "search" in args.parts:
        print("search cost on Cora")
        search = search_cost(load_dataset("Cora"), args)

    result = {
        "benchmark": "gnn_bench",
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "load_average_start": load_start,
        "load_average_end": load(),
        "wall_s": time.perf_counter() - t0,
        "config": {
            "model": f"2-layer GCN, hidden {args.hidden}, no bias, dropout 0.5",
            "threads": args.threads,
            "blocks": args.blocks, "epochs_per_block": args.epochs_per_block,
            "infer_repeats": args.infer_repeats, "forwards_per_block": args.forwards_per_block,
            "train_weight_kept": 0.5,
            "train_edge_masks": "b: all-True bool mask, remove mode (same graph as a); "
                                "b50: random 50% of undirected pairs kept, remove mode; "
                                "c: uniform [0,1) soft mask, message mode (GCN weight rule)",
            "graph_sparsity": args.graph_sparsity, "weight_sparsity": args.weight_sparsity,
            "ticket_masks": "random (timing does not depend on which entries are kept)",
            "search_cost": (f"level {search['level']}, {search['epochs_per_run']} epochs per "
                            "training run" + (" (reduced from the papers' 200)"
                                              if search["epochs_per_run"] < 200 else "")
                            if search else "not measured (part 3 of issue 4)"),
            "note": args.note,
        },
        "training": training,
        "inference": infer,
        "weight_kernels": kernels,
        "search": search,
    }
    if old and not ("train" in args.parts and "infer" in args.parts):
        # the header fields describe the run that measured train/infer; keep them when merging
        for key in ("date", "machine", "load_average_start", "load_average_end", "wall_s"):
            result[key] = old.get(key, result[key])
        for key, value in old.get("config", {}).items():
            if key not in ("search_cost",):
                result["config"][key] = value
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, lambda f: json.dump(result, f, indent=2), binary=False)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
