"""Training time per epoch of a masked MLP: CSR kernels vs masked dense products.

SET's benchmark network (MLP 784-1000-1000-1000-10, Erdős–Rényi ε = 13, SET ζ = 0.3 after each
epoch) on MNIST-5k (4000 training digits, batch 40, SGD momentum 0.9, weight decay 2e-4,
dropout 0.2) trained with ``graphsparse.topology.training.train`` under ``kernel="dense"``
(``torch.where`` masking + dense ``F.linear``) and ``kernel="csr"``
(:func:`graphsparse.masks.csr_linear`), plus the unmasked dense MLP as a reference. The arms run
interleaved, ``--repeats`` times, ``--epochs`` epochs each, on ``--threads`` threads; the ratio is
taken per repeat and the median reported. Both kernels must give the same loss up to float
rounding (checked). Results go to ``benchmarks/results/kernel_bench.json``;
``benchmarks/render_docs.py`` turns them into docs/benchmarks.md.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/kernel_bench.py
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/kernel_bench.py --epochs 1 --repeats 1  # smoke
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import warnings
from pathlib import Path

import torch

from _machine import cpu_model

from graphsparse.fileio import atomic_write
from graphsparse.topology.dynamic import SET
from graphsparse.topology import SparseMLP, load_mnist5k, train

RESULTS = Path(__file__).resolve().parent / "results" / "kernel_bench.json"
WIDTHS = [784, 1000, 1000, 1000, 10]


def one_run(arm: str, epochs: int, data, seed: int) -> tuple[float, float]:
    """(median seconds per epoch, final training loss) of one run of ``arm``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # the 10-way output layer is made dense (p > 1)
        if arm == "unmasked":
            torch.manual_seed(seed)
            net = SparseMLP(WIDTHS, dropout=0.2, init="he_uniform")
        else:
            net = SparseMLP.random_graph(WIDTHS, epsilon=13, seed=seed, dropout=0.2,
                                         init="he_uniform")
    callback = None if arm == "unmasked" else SET(0.3, init_std=0.1, seed=seed + 1000)
    rows = train(net, data, epochs=epochs, lr=0.05, batch_size=40, optimizer="sgd",
                 momentum=0.9, weight_decay=2e-4, loss="mse_set", seed=seed,
                 set_callback=callback, eval_train=False,
                 kernel="csr" if arm == "csr" else "dense", progress=False)
    return statistics.median(r["seconds"] for r in rows), rows[-1]["loss"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--note", default="", help="a sentence on the conditions, rendered")
    args = parser.parse_args()
    if args.epochs < 1 or args.repeats < 1 or args.threads < 1:
        parser.error("--epochs, --repeats and --threads must be >= 1")
    torch.set_num_threads(args.threads)
    data = load_mnist5k(0, 0.2)
    arms = ("dense", "csr", "unmasked")
    seconds = {a: [] for a in arms}
    losses = {a: [] for a in arms}
    for rep in range(args.repeats):
        for arm in arms:
            s, loss = one_run(arm, args.epochs, data, seed=0)
            seconds[arm].append(s)
            losses[arm].append(loss)
            print(f"repeat {rep}: {arm:8s} {s:.2f} s/epoch, final loss {loss:.6f}", flush=True)
    ratios = [d / c for d, c in zip(seconds["dense"], seconds["csr"])]
    agree = all(abs(d - c) <= 1e-4 * max(1.0, abs(d))
                for d, c in zip(losses["dense"], losses["csr"]))
    result = {
        "benchmark": "kernel_bench",
        "date": datetime.date.today().isoformat(),
        "machine": f"{cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__}, "
                   f"{torch.get_num_threads()} threads",
        "config": {"widths": WIDTHS, "epsilon": 13, "zeta": 0.3, "data": "mnist5k 4000 train",
                   "batch_size": 40, "optimizer": "sgd momentum 0.9, weight decay 2e-4",
                   "dropout": 0.2, "loss": "mse_set", "epochs": args.epochs,
                   "repeats": args.repeats, "threads": args.threads},
        "rows": [{"arm": a, "seconds_per_epoch": statistics.median(seconds[a]),
                  "all_seconds": seconds[a], "final_loss": losses[a]} for a in arms],
        "speedup_csr_vs_dense_median": statistics.median(ratios),
        "speedup_csr_vs_dense_min": min(ratios),
        "losses_agree": agree,
        "note": args.note,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, lambda f: json.dump(result, f, indent=2), binary=False)
    print(f"csr vs masked dense: {result['speedup_csr_vs_dense_median']:.2f}x (median), "
          f"losses agree: {agree}; wrote {args.out}")
    assert agree, "the CSR and dense kernels disagree beyond float rounding"


if __name__ == "__main__":
    main()
