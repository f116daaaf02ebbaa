"""Scale benchmark (issue 12): memory and time of full-batch vs mini-batch training as the graph
grows, the neighbour sampler's speed and share of a step, and 2 processes vs 1.

Parts (``--part``, default all; every point is saved to ``benchmarks/results/scale_bench.json``
as soon as it is measured, and a rerun skips saved points unless ``--force``):

* ``size``: synthetic SBM graphs (``load_dataset("sbm", sbm_nodes=N, sbm_degree=20)``, about
  ``20·N`` directed edges) from 10^5 to 4·10^7 edges; 2-layer GCN and GraphSAGE, hidden 256.
  Each (graph, model, arm) runs in a fresh child process at 1 thread, so its peak RSS
  (``ru_maxrss``) is its own. Mini-batch: batch 1024 seed nodes, fan-out 15,10, 50 timed training
  steps after 3 warm-up steps (:func:`_timing.time_batches`); an epoch takes every node as a seed
  once, so epoch time is extrapolated as median step time × ⌈N / 1024⌉. Full batch: 5 timed
  epochs after 1 warm-up (loss over every node), in a child capped at ``RLIMIT_AS`` = 16 GiB,
  run up to the first size where it fails. Recorded per point: graph storage (edge_index + x
  bytes), RSS after loading, peak RSS, sampled edges per step, step and epoch times.
* ``sampler`` (measured inside the mini-batch points): the time of drawing a batch (sampling
  plus feature gathering, the loader alone) over 50 batches, as sampled edges per second and as
  a share of a whole training step.
* ``memory``: the memory of mini-batch training beyond its setup, in a separate child per
  point (memory does not depend on load): after building the task, the heap is trimmed and the
  kernel's peak-RSS mark reset (``/proc/self/clear_refs``), 10 training steps run, and the peak
  above that baseline is the per-batch cost.
* ``sampler`` (also): graphsparse's CSR sampler against PyG's own sampler (torch-sparse or
  pyg-lib, when importable) on the 2·10^7-edge graph, the same random seed batches, interleaved
  (50 repeats after 3 warm-up).
* ``ddi``: ogbl-ddi GCN at OGB's example configuration (hidden 256, 2 layers, dropout 0.5, lr
  0.005, edge batch 64·1024), 3 full-graph epochs on CPU at 1 thread, extrapolated to OGB's 200.
* ``multiprocess``: Amazon Computers, GCN hidden 256, batch 256, fan-out 15,10, an epoch over
  every node as a seed: 2 processes × 1 thread (``torchrun``, gloo, DistributedDataParallel,
  each rank its half of the seeds) against 1 process × 1 thread and against the fastest
  single-process baseline on these 2 cores, 1 process × 2 threads; launches rotate through the
  three (3 each), each timing 5 epochs after 1 warm-up; ratios from the fastest epochs.

Timing method: ``benchmarks/_timing.py`` (threads and allocator pinned and printed, load average
recorded at start and end). Render the tables with ``--table`` (docs/benchmarks.md embeds them).

    .venv/bin/python benchmarks/scale_bench.py [--part size|multiprocess] [--force]
    .venv/bin/python benchmarks/scale_bench.py --table
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "scale_bench.json"
DATA = ROOT.parent / "shared" / "data"
#: (nodes, average degree): about 1e5, 1e6, 5e6, 2e7 and 4e7 directed edges.
SIZES = [(5_000, 20), (50_000, 20), (250_000, 20), (1_000_000, 20), (2_000_000, 20)]
MODELS = ("gcn", "sage")
HIDDEN, BATCH, FANOUT = 256, 1024, (15, 10)
FULL_LIMIT = 16 * 1024 ** 3
DDI_EPOCHS = 3
MP = {"dataset": "amazon-computers", "model": "gcn", "batch": 256, "fanout": (15, 10),
      "epochs": 5, "launches": 3}


# ---------------------------------------------------------------------------------------------
# child processes
# ---------------------------------------------------------------------------------------------

def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _current_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _all_nodes_dataset(dataset):
    """The dataset with every node a training seed (an epoch visits every node once)."""
    import dataclasses

    import torch

    split = dict(dataset.split)
    split["train"] = torch.ones(dataset.data.num_nodes, dtype=torch.bool)
    return dataclasses.replace(dataset, split=split)


def _load(nodes: int, degree: float):
    from graphsparse.gnn.data import load_dataset

    return _all_nodes_dataset(load_dataset("sbm", sbm_nodes=nodes, sbm_degree=degree))


def _model(name: str, dataset):
    import torch

    from graphsparse.gnn.models import build_model

    torch.manual_seed(0)
    return build_model(name, dataset.num_features, dataset.num_classes, hidden=HIDDEN,
                       num_layers=2)


def _minibatch_setup(dataset, model_name: str):
    """``(model, task, optimizer, seed order, step)`` of a point's mini-batch training, where
    ``step(batch)`` runs one training step on a drawn batch."""
    import torch

    from graphsparse.gnn.train import MiniBatch
    from graphsparse.gnn.train.minibatch import make_minibatch_task

    model = _model(model_name, dataset)
    task = make_minibatch_task(model, dataset, None, "remove", 0, MiniBatch(BATCH, FANOUT))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    order = torch.randperm(dataset.data.num_nodes, generator=torch.Generator().manual_seed(0))

    def step(batch) -> None:
        optimizer.zero_grad()
        out = task._forward(model, batch)[: batch.batch_size]
        y = dataset.data.y[batch.n_id[: batch.batch_size]]
        torch.nn.functional.cross_entropy(out, y).backward()
        optimizer.step()
    return model, task, order, step


def child_minibatch(point: dict) -> dict:
    from _timing import pin, time_batches

    pin(threads=1)
    dataset = _load(point["nodes"], point["degree"])
    loaded_rss = _current_rss()
    model, task, order, train_step = _minibatch_setup(dataset, point["model"])
    setup_rss = _current_rss()  # + the sampler's CSC and the full-graph evaluation's inputs

    def endless():  # small graphs have fewer than 53 batches per epoch: start another
        while True:
            yield from task._node_loader(order)
    batches = endless()
    drawn: list = []
    sample = time_batches(lambda i: drawn.append(next(batches)), batches=50, warmup=3)
    sampled_edges = sum(b.edge_index.size(1) for b in drawn[3:]) / 50
    sampled_nodes = sum(b.n_id.numel() for b in drawn[3:]) / 50
    cached = iter(drawn)
    model.train()
    compute = time_batches(lambda i: train_step(next(cached)), batches=50, warmup=3)
    steps_per_epoch = math.ceil(dataset.data.num_nodes / BATCH)
    return {"sample": sample.to_dict(), "compute": compute.to_dict(),
            "step_median_s": sample.median + compute.median,
            "epoch_s": (sample.median + compute.median) * steps_per_epoch,
            "sampled_edges_per_step": sampled_edges, "sampled_nodes_per_step": sampled_nodes,
            "setup_rss": setup_rss,
            "sampled_edges_per_s": sampled_edges / sample.median,
            "sampler_share": sample.median / (sample.median + compute.median),
            "loaded_rss": loaded_rss, "peak_rss": _peak_rss()}


def _trim_and_reset_peak() -> int:
    """Hand freed heap back to the OS (``malloc_trim``), reset the kernel's peak-RSS mark
    (``/proc/self/clear_refs`` 5) and return the RSS now."""
    import ctypes

    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    return _current_rss()


def _peak_since_reset() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def child_batch_memory(point: dict) -> dict:
    """The memory of mini-batch training beyond its setup: after building the task (sampler,
    evaluation inputs), trim the heap and reset the peak mark, run 10 training steps, and
    report the peak above that baseline (the step timings come from :func:`child_minibatch`)."""
    import torch

    torch.set_num_threads(1)
    dataset = _load(point["nodes"], point["degree"])
    model, task, order, train_step = _minibatch_setup(dataset, point["model"])
    baseline = _trim_and_reset_peak()
    model.train()
    for step, batch in enumerate(task._node_loader(order)):
        train_step(batch)
        if step == 9:
            break
    return {"setup_rss_trimmed": baseline, "batch_peak_bytes": _peak_since_reset() - baseline}


def child_fullbatch(point: dict) -> dict:
    import torch

    from _timing import pin, time_batches
    from graphsparse.gnn.train.tasks import make_task

    resource.setrlimit(resource.RLIMIT_AS, (FULL_LIMIT, FULL_LIMIT))
    pin(threads=1)
    dataset = _load(point["nodes"], point["degree"])
    loaded_rss = _current_rss()
    model = _model(point["model"], dataset)
    task = make_task(model, dataset, None, "remove", None, 0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    epoch = time_batches(lambda i: task.train_epoch(model, optimizer, [], i + 1, False),
                         batches=5, warmup=1)
    return {"epoch": epoch.to_dict(), "epoch_s": epoch.median, "loaded_rss": loaded_rss,
            "peak_rss": _peak_rss()}


def child_sampler_compare(point: dict) -> dict:
    """graphsparse's CSR sampler vs PyG's own (torch-sparse) on the same graph and seeds,
    interleaved: one call samples a batch of BATCH random seeds with fan-out FANOUT."""
    import torch
    from torch_geometric.data import Data
    from torch_geometric.sampler import NeighborSampler, NodeSamplerInput

    from _timing import compare, pin
    from graphsparse.gnn.sampling import CSRNeighborSampler, sampler_backend

    pin(threads=1)
    data = _load(point["nodes"], point["degree"]).data
    ours = CSRNeighborSampler(data.edge_index, data.num_nodes, list(FANOUT))
    theirs = NeighborSampler(Data(edge_index=data.edge_index, num_nodes=data.num_nodes),
                             list(FANOUT))
    generator = torch.Generator().manual_seed(0)
    sizes: dict[str, list[int]] = {"graphsparse": [], sampler_backend(): []}

    def arm(name, sampler):
        def call():
            seeds = torch.randperm(data.num_nodes, generator=generator)[:BATCH]
            out = sampler.sample_from_nodes(NodeSamplerInput(None, seeds))
            sizes[name].append(out.row.numel())
        return call
    timings = compare({"graphsparse": arm("graphsparse", ours),
                       sampler_backend(): arm(sampler_backend(), theirs)}, repeats=50, warmup=3)
    return {"backend": sampler_backend(), "edges": int(data.num_edges),
            **{name: {**t.to_dict(), "sampled_edges": sum(sizes[name]) / len(sizes[name]),
                      "edges_per_s": sum(sizes[name]) / len(sizes[name]) / t.median}
               for name, t in timings.items()}}


def child_ddi() -> dict:
    """ogbl-ddi GCN at OGB's example configuration (hidden 256, 2 layers, dropout 0.5, lr
    0.005, edge batch 64·1024, MLP predictor of 3 layers, learned node embeddings): DDI_EPOCHS
    training epochs, full graph, evaluation once at the end."""
    import torch

    from _timing import pin
    from graphsparse.gnn.data import load_dataset
    from graphsparse.gnn.models import build_model
    from graphsparse.gnn.train import train_model

    pin(threads=int(os.environ.get("DDI_THREADS", "1")))
    dataset = load_dataset("ogbl-ddi", DATA)
    torch.manual_seed(0)
    model = build_model("gcn", 0, 1, task="link", hidden=256, num_layers=2, dropout=0.5,
                        num_nodes=int(dataset.data.num_nodes))
    result = train_model(model, dataset, epochs=DDI_EPOCHS, lr=0.005, weight_decay=0.0,
                         batch_size=64 * 1024, eval_every=10 ** 6, progress=False)
    epochs = [r.train_seconds for r in result.history]
    return {"epoch_seconds": epochs, "eval_seconds": result.eval_seconds,
            "hits@20_after": result.test, "extrapolated_200_epochs_h": 200 * min(epochs) / 3600,
            "threads": torch.get_num_threads()}


def child_multiprocess() -> dict:
    """Under torchrun: time MP['epochs'] training epochs (no evaluation) after one warm-up."""
    import torch

    from _timing import pin
    from graphsparse.gnn.data import load_dataset
    from graphsparse.gnn.train import MiniBatch, distributed, train_model

    pin(threads=int(os.environ.get("MP_THREADS", "1")))
    distributed.init_from_environment(torch.device("cpu"))
    dataset = _all_nodes_dataset(load_dataset(MP["dataset"], DATA))
    model = _model(MP["model"], dataset)
    result = train_model(model, dataset, epochs=MP["epochs"] + 1, eval_every=10 ** 6,
                         progress=False, minibatch=MiniBatch(MP["batch"], MP["fanout"]))
    seconds = torch.tensor([r.train_seconds for r in result.history[1:]])
    if distributed.active():  # an epoch lasts as long as its slowest rank
        torch.distributed.all_reduce(seconds, op=torch.distributed.ReduceOp.MAX)
    return {"world_size": distributed.world_size(), "threads": torch.get_num_threads(),
            "epoch_seconds": seconds.tolist(), "seeds": dataset.data.num_nodes}


# ---------------------------------------------------------------------------------------------
# the parent: plan, run children, save
# ---------------------------------------------------------------------------------------------

def _save(results: dict) -> None:
    from graphsparse.fileio import atomic_write

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(RESULTS, lambda f: f.write(json.dumps(results, indent=1, sort_keys=True)
                                            + "\n"), binary=False)


def _load_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {
        "benchmark": "scale_bench", "points": {}}


def _run_child(args: list[str], env: dict | None = None, timeout: int = 1800) -> dict:
    run = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(
                             [str(HERE), str(ROOT), os.environ.get("PYTHONPATH", "")])},
                         timeout=timeout)
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    if run.returncode != 0 or not lines:
        tail = (run.stderr or run.stdout).strip().splitlines()[-3:]
        return {"failed": f"exit {run.returncode}: {' | '.join(tail)}"}
    return json.loads(lines[-1])


def _graph_storage(nodes: int, degree: float) -> dict:
    from graphsparse.gnn.data import load_dataset

    data = load_dataset("sbm", sbm_nodes=nodes, sbm_degree=degree).data
    return {"edges": int(data.num_edges),
            "storage_bytes": data.edge_index.numel() * 8 + data.x.numel() * 4}


def run_size(results: dict, force: bool, arms: tuple[str, ...] = ("mini", "full")) -> None:
    full_failed = {model: False for model in MODELS}
    for nodes, degree in SIZES:
        storage = _graph_storage(nodes, degree)
        for model in MODELS:
            for arm in ("mini", "full"):
                key = f"{arm}/{model}/{nodes}"
                if key in results["points"] and (not force or arm not in arms):
                    full_failed[model] |= arm == "full" and "failed" in results["points"][key]
                    continue
                if arm == "full" and full_failed[model]:
                    results["points"][key] = {"failed": "skipped: a smaller graph failed"}
                    continue
                point = {"nodes": nodes, "degree": degree, "model": model}
                started = time.time()
                measured = _run_child([__file__, "--child", arm, json.dumps(point)])
                full_failed[model] |= arm == "full" and "failed" in measured
                results["points"][key] = {**point, **storage, "arm": arm, **measured,
                                          "wall_s": time.time() - started}
                _save(results)
                print(key, json.dumps({k: v for k, v in measured.items()
                                       if not isinstance(v, dict)}), flush=True)


def run_batch_memory(results: dict, force: bool) -> None:
    for nodes, degree in SIZES:
        for model in MODELS:
            key = f"mini/{model}/{nodes}"
            point = results["points"].get(key)
            if point is None or "failed" in point or ("batch_peak_bytes" in point and not force):
                continue
            measured = _run_child([__file__, "--child", "memory",
                                   json.dumps({"nodes": nodes, "degree": degree,
                                               "model": model})])
            point.update(measured)
            _save(results)
            print(key, "memory", measured, flush=True)


def run_multiprocess(results: dict, force: bool) -> None:
    runs = results.setdefault("multiprocess", {"launches": []})
    if runs["launches"] and not force:
        return
    runs["launches"] = []
    for launch in range(MP["launches"]):
        for world, threads in ((1, 1), (2, 1), (1, 2)):
            measured = _run_child(["-m", "torch.distributed.run", "--nproc-per-node",
                                   str(world), "--master-port",
                                   str(29600 + 4 * launch + world + threads),
                                   __file__, "--child", "multiprocess", "{}"],
                                  env={"OMP_NUM_THREADS": str(threads),
                                       "MP_THREADS": str(threads)})
            runs["launches"].append({"launch": launch, "world_size": world,
                                     "threads": threads, **measured})
            runs["seeds"] = measured.get("seeds", runs.get("seeds"))
            _save(results)
            print("multiprocess", world, measured, flush=True)
    runs["config"] = {k: list(v) if isinstance(v, tuple) else v for k, v in MP.items()}


def run_sampler_compare(results: dict, force: bool) -> None:
    """Needs torch-sparse or pyg-lib importable (e.g. PYTHONPATH to a folder with the wheels
    built from source, see docs/scale.md); skipped otherwise."""
    from graphsparse.gnn.sampling import sampler_backend

    if sampler_backend() == "graphsparse" or ("sampler_compare" in results and not force):
        return
    nodes, degree = SIZES[3]
    results["sampler_compare"] = _run_child(
        [__file__, "--child", "sampler", json.dumps({"nodes": nodes, "degree": degree})])
    _save(results)
    print("sampler", results["sampler_compare"], flush=True)


def run_ddi(results: dict, force: bool) -> None:
    if "ddi" in results and not force:
        return
    results["ddi"] = _run_child([__file__, "--child", "ddi", "{}"], timeout=3600)
    _save(results)
    print("ddi", results["ddi"], flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "size", "memory", "sampler", "multiprocess",
                                           "ddi"],
                        default="all")
    parser.add_argument("--force", action="store_true", help="re-measure saved points")
    parser.add_argument("--arms", default="mini,full",
                        help="size part: which arms to (re)measure (comma list of mini, full)")
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, point = args.child
        if kind == "ddi":
            print(json.dumps(child_ddi()))
            return
        if kind == "multiprocess":
            out = child_multiprocess()
            if int(os.environ.get("RANK", "0")) == 0:
                print(json.dumps(out))
            return
        child = {"mini": child_minibatch, "full": child_fullbatch,
                 "sampler": child_sampler_compare, "memory": child_batch_memory}[kind]
        print(json.dumps(child(json.loads(point))))
        return
    if args.table:
        from render_docs import _scale_bench

        print("\n".join(_scale_bench(_load_results())))
        return
    from _timing import environment, header_line, pin

    pin(threads=1)
    results = _load_results()
    start = environment()
    print(header_line(start), flush=True)
    if args.part in ("all", "size"):
        run_size(results, args.force, tuple(args.arms.split(",")))
    if args.part in ("all", "memory"):
        run_batch_memory(results, args.force)
    if args.part in ("all", "sampler"):
        run_sampler_compare(results, args.force)
    if args.part in ("all", "multiprocess"):
        run_multiprocess(results, args.force)
    if args.part in ("all", "ddi"):
        run_ddi(results, args.force)
    results.setdefault("environment", {})[args.part] = {"start": start, "end": environment()}
    results["benchmark"] = "scale_bench"
    results["date"] = start["date"]
    results["machine"] = header_line(start)
    results["config"] = {"sizes": SIZES, "hidden": HIDDEN, "batch": BATCH,
                         "fanout": list(FANOUT), "full_limit_bytes": FULL_LIMIT}
    _save(results)


if __name__ == "__main__":
    main()
