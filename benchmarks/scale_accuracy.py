"""Mini-batch vs full-batch accuracy (issue 12), as one resumable plan of sweeps.

Same model and budget in both arms: GCN, 2 layers, hidden 256, 100 epochs, lr 0.01, weight
decay 5e-4, seeds 0-2, the datasets' random splits (split seed 0: 20 training nodes per class).
The mini-batch arm trains on sampled neighbourhoods (batch 128 seed nodes, fan-out 15,10,
graphsparse's CSR sampler) and evaluates on the full graph; the full-batch arm is the library's
default path. On Coauthor-CS both arms also find TEDDY and random tickets at levels 10 and 20
(p_graph 0.05, p_weight 0.1, TEDDY's grid); on Amazon Computers random at level 10 rides
along (the sweep needs a method; its dense rows are the comparison).

Each step is a :func:`graphsparse.gnn.experiment.sweep.run_sweep` call into a folder under
``benchmarks/results/scale_accuracy/``; killing and restarting loses at most the run in
progress. ``--table`` prints the comparison as markdown (docs/scale.md embeds it).

    OMP_NUM_THREADS=1 nohup .venv/bin/python benchmarks/scale_accuracy.py --no-progress &
    .venv/bin/python benchmarks/scale_accuracy.py --table
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from graphsparse.gnn.experiment.sweep import read_rows, run_sweep

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "scale_accuracy"
DATA = ROOT.parent / "shared" / "data"
COMMON = {"model": "gcn", "hidden": 256, "num_layers": 2, "epochs": 100, "lr": 0.01,
          "weight_decay": 5e-4, "seeds": [0, 1, 2], "p_graph": 0.05, "p_weight": 0.1}
MINI = {"batch_size": 128, "num_neighbors": [15, 10], "evaluation": "full-graph"}
STEPS = [
    ("coauthor-cs-full", {"dataset": "coauthor-cs", "methods": ["teddy", "random"],
                          "levels": [10, 20]}),
    ("coauthor-cs-mini", {"dataset": "coauthor-cs", "methods": ["teddy", "random"],
                          "levels": [10, 20], **MINI}),
    ("amazon-computers-full", {"dataset": "amazon-computers", "methods": ["random"],
                               "levels": [10]}),
    ("amazon-computers-mini", {"dataset": "amazon-computers", "methods": ["random"],
                               "levels": [10], **MINI}),
]


def run(progress: bool) -> None:
    for name, settings in STEPS:
        started = time.time()
        rows = run_sweep(RESULTS / name, data_root=DATA, device="cpu", progress=progress,
                         **COMMON, **settings)
        print(f"{name}: {len(rows)} rows ({time.time() - started:.0f} s)", flush=True)


def _summary(rows: list[dict], method: str, level: int) -> tuple[float, float, int] | None:
    tests = [100 * r["test"] for r in rows if r["method"] == method and r["level"] == level]
    if not tests:
        return None
    spread = statistics.stdev(tests) if len(tests) > 1 else 0.0
    return statistics.mean(tests), spread, len(tests)


def table() -> str:
    lines = ["| dataset | method | level | full batch (test %, mean ± sd, n) | "
             "mini-batch (test %) | mini − full |", "|---|---|---:|---:|---:|---:|"]
    for dataset, arms in (("coauthor-cs", [("dense", 0), ("teddy", 10), ("teddy", 20),
                                           ("random", 10), ("random", 20)]),
                          ("amazon-computers", [("dense", 0), ("random", 10)])):
        full = read_rows(RESULTS / f"{dataset}-full")
        mini = read_rows(RESULTS / f"{dataset}-mini")
        for method, level in arms:
            a, b = _summary(full, method, level), _summary(mini, method, level)
            if a is None or b is None:
                continue
            lines.append(f"| {dataset} | {method} | {level} | {a[0]:.2f} ± {a[1]:.2f} ({a[2]}) "
                         f"| {b[0]:.2f} ± {b[1]:.2f} ({b[2]}) | {b[0] - a[0]:+.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--table", action="store_true", help="print the markdown table only")
    args = parser.parse_args()
    if args.table:
        print(table())
        return
    run(progress=not args.no_progress)
    print(table())


if __name__ == "__main__":
    main()
