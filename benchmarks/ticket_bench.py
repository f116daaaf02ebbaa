"""Exported tickets against the fastest dense path (issue 15's performance goal).

Tickets: TEDDY (preset ``teddy-paper``: GCN 2 × 512, λ = 10, 200 epochs, lr 0.01, wd 5e-4,
row-normalised features, weight scope ``all``) at level 20 of the grid p_graph 0.05,
p_weight 0.1 (graph 64.2%, 1 - 0.9^20 = 87.8% of the weights, or at neuron granularity of the
hidden units), unstructured and neuron-structured, seeds 0-2, on Cora, Coauthor-CS and Amazon
Computers. Part ``accuracy`` appends one row per (dataset, granularity, seed) to
``results/ticket_bench/accuracy.jsonl`` (resumable: finished rows are skipped) and exports
seed 0's tickets to ``--cache`` (not the repository: they hold trained weights).

Part ``timing`` (needs seed 0's exported tickets): one inference on the full graph, arms
interleaved in this process (``_timing.compare``: warm-up, >= 5 repeats, min/median/spread,
threads and allocator pinned and printed):

* ``dense_pyg``: the dense model as PyG runs it by default (``GCNConv`` normalising the edge
  list at every call);
* ``dense_csr``: the fastest dense path: the same dense model exported (propagation prebuilt
  once as the normalised CSR adjacency, one CSR × dense product per layer);
* ``ticket_unstructured``, ``ticket_neuron``: the exported tickets (masks baked, pruned edges
  removed, neuron tickets with their hidden layers physically shrunk).

Speed-ups are ``dense_csr.min / arm.min`` (against the fastest dense path) and, labelled,
against ``dense_pyg``. Goal: the neuron ticket >= 2x ``dense_csr`` on every dataset, and its
test accuracy within 1 point of the unstructured ticket's on Cora and Coauthor-CS (3 seeds).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ticket_bench.py --parts accuracy
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ticket_bench.py --parts timing  # idle machine
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from _timing import compare, environment, header_line, pin, ratio
from graphsparse.fileio import append_jsonl, atomic_write, read_jsonl
from graphsparse.gnn import export_ticket, find_ticket, load_dataset, load_exported
from graphsparse.gnn.experiment.presets import apply_preset
from graphsparse.gnn.models import build_model

RESULTS = Path(__file__).resolve().parent / "results" / "ticket_bench"
DATASETS = ("cora", "coauthor-cs", "amazon-computers")
GRANULARITIES = ("unstructured", "neuron")
LEVEL, P_GRAPH, P_WEIGHT = 20, 0.05, 0.1


def settings(dataset: str) -> dict:
    """The teddy-paper preset's values for ``dataset`` (GCN); the synthetic ``sbm`` (a smoke
    test) keeps its features, which have negative entries."""
    cfg = apply_preset("teddy-paper", dataset=dataset, model="gcn", methods=["teddy"])
    return {**cfg, "dataset_options": {}} if dataset == "sbm" else cfg


def dense_model(ds, cfg: dict, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model("gcn", ds.num_features, ds.num_classes, hidden=cfg["hidden"],
                       num_layers=cfg["num_layers"], **cfg["model_options"])


def find(ds, cfg: dict, seed: int, method: str, granularity: str, **targets):
    """``method``'s ticket of the preset's dense model (the preset's options for it)."""
    return find_ticket(dense_model(ds, cfg, seed), ds, method=method,
                       weight_scope=cfg["weight_scope"], epochs=cfg["epochs"], lr=cfg["lr"],
                       weight_decay=cfg["weight_decay"], seed=seed,
                       weight_granularity=granularity, **targets,
                       **cfg["method_options"].get(method, {}))


def accuracy(args) -> None:
    path = args.results / "accuracy.jsonl"
    done = {(r["dataset"], r["granularity"], r["seed"]) for r in read_jsonl(path)} \
        if path.exists() else set()
    for dataset in args.datasets:
        cfg = settings(dataset)
        ds = load_dataset(dataset, args.data_root, **cfg["dataset_options"])
        for seed in args.seeds:
            for granularity in GRANULARITIES:
                if (dataset, granularity, seed) in done:
                    continue
                started = time.perf_counter()
                ticket = find(ds, cfg, seed, "teddy", granularity, level=LEVEL,
                              p_graph=P_GRAPH, p_weight=P_WEIGHT)
                if seed == 0:
                    export_ticket(ticket, ds, args.cache / f"{dataset}-{granularity}.pt")
                weights = ticket.weight_sparsity
                row = {"dataset": dataset, "granularity": granularity, "seed": seed,
                       "level": LEVEL, "test": ticket.metrics["test"],
                       "val": ticket.metrics["val"],
                       "graph_sparsity": ticket.graph_sparsity["sparsity"],
                       "weight_sparsity": weights["sparsity"],
                       "units_kept": weights.get("units_kept"),
                       "units_total": weights.get("units_total"),
                       "seconds": time.perf_counter() - started,
                       "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
                append_jsonl(path, row)
                print(json.dumps(row), flush=True)


def timing(args) -> None:
    pinned = pin(threads=args.threads)
    start = environment()
    print(header_line(start), flush=True)
    out = {"pinned": pinned, "start": start, "datasets": {}}
    for dataset in args.datasets:
        cfg = settings(dataset)
        ds = load_dataset(dataset, args.data_root, **cfg["dataset_options"])
        dense_file = args.cache / f"{dataset}-dense.pt"
        if not dense_file.exists():  # the dense model exported: sparsity 0, no training
            cfg1 = {**cfg, "epochs": 1}
            export_ticket(find(ds, cfg1, 0, "random", "unstructured", graph_sparsity=0.0,
                               weight_sparsity=0.0), ds, dense_file)
        exported = {name: load_exported(args.cache / f"{dataset}-{name}.pt")
                    for name in ("dense", *GRANULARITIES)}
        x, edge_index = ds.data.x, ds.data.edge_index
        plain = dense_model(ds, cfg, 0).eval()

        def run(model_call):
            def call():
                with torch.no_grad():
                    model_call()
            return call

        arms = {"dense_pyg": run(lambda: plain(x, edge_index)),
                **{("dense_csr" if name == "dense" else f"ticket_{name}"):
                   run(lambda e=e: e.predict(x)) for name, e in exported.items()}}
        timings = compare(arms, repeats=args.repeats, warmup=2)
        result = {name: t.to_dict() for name, t in timings.items()}
        for name, t in timings.items():
            result[name]["speedup_vs_dense_csr"] = ratio(timings["dense_csr"], t)
            result[name]["speedup_vs_dense_pyg"] = ratio(timings["dense_pyg"], t)
            print(f"{dataset} {name}: min {t.min * 1e3:.2f} ms, median {t.median * 1e3:.2f} "
                  f"ms, {result[name]['speedup_vs_dense_csr']:.2f}x vs dense_csr, "
                  f"{result[name]['speedup_vs_dense_pyg']:.2f}x vs dense_pyg", flush=True)
        out["datasets"][dataset] = result
    out["end"] = environment()
    atomic_write(args.results / "timing.json", lambda f: json.dump(out, f, indent=1), binary=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="accuracy,timing")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--cache", type=Path, default=Path(os.path.expanduser(
        "~/.cache/graphsparse/ticket_bench")))
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="folder of accuracy.jsonl and timing.json")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    args.datasets = args.datasets.split(",")
    args.seeds = [int(s) for s in args.seeds.split(",")]
    unknown = set(args.datasets) - set(DATASETS) - {"sbm"}
    if unknown:
        parser.error(f"--datasets: unknown {sorted(unknown)}; valid: {DATASETS}")
    args.cache.mkdir(parents=True, exist_ok=True)
    args.results.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    if "accuracy" in parts:
        accuracy(args)
    if "timing" in parts:
        timing(args)


if __name__ == "__main__":
    main()
