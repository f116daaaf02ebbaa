"""Training time per epoch of a masked MLP: CSR kernels vs masked dense products.

SET's benchmark network (MLP 784-1000-1000-1000-10, Erdős–Rényi ε = 13, SET ζ = 0.3 after each
epoch) on MNIST-5k (4000 training digits, batch 40, SGD momentum 0.9, weight decay 2e-4,
dropout 0.2) trained with ``graphsparse.topology.training.train`` under ``kernel="dense"``
(``torch.where`` masking + dense ``F.linear``) and ``kernel="csr"``
(:func:`graphsparse.masks.csr_linear`), plus the unmasked dense MLP as a reference.

Timing (the project's one method, ``benchmarks/_timing.py``): threads and allocator pinned
(:func:`_timing.pin`), the three arms interleaved by :func:`_timing.compare` (``--warmup``
untimed runs, then ``--repeats`` >= 5 rounds in rotating order), each call one fresh run of
``--epochs`` epochs. An arm's reported sample is the median seconds per epoch of one run (the
``train`` rows' own epoch times, so building the network is not counted); min, median, max and
spread are over those samples, and the speed-up is ``_timing.ratio(dense, csr)`` (the dense
arm's fastest sample over the CSR arm's). Both kernels must give the same loss up to float
rounding (checked). Results go to ``benchmarks/results/kernel_bench.json`` with
:func:`_timing.environment` at the start and the end; ``benchmarks/render_docs.py`` turns them
into docs/benchmarks.md.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/kernel_bench.py   # full: about 3 min
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/kernel_bench.py --smoke --out /tmp/kernel.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import warnings
from pathlib import Path

import torch

from _timing import Timing, compare, environment, header_line, pin, ratio
from graphsparse.fileio import atomic_write
from graphsparse.topology.dynamic import SET
from graphsparse.topology import SparseMLP, load_mnist5k, train

RESULTS = Path(__file__).resolve().parent / "results" / "kernel_bench.json"
WIDTHS = [784, 1000, 1000, 1000, 10]
ARMS = ("dense", "csr", "unmasked")


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


def time_arms(data, epochs: int, repeats: int, warmup: int) -> tuple[dict, dict]:
    """``({arm: Timing of seconds per epoch}, {arm: final losses})``, arms interleaved by
    :func:`_timing.compare`; each call appends its run's epoch time and loss (warm-up runs
    are dropped)."""
    runs: dict[str, list[tuple[float, float]]] = {a: [] for a in ARMS}

    def arm_call(arm: str):
        def call() -> None:
            runs[arm].append(one_run(arm, epochs, data, seed=0))
            print(f"{arm:8s} {runs[arm][-1][0]:.2f} s/epoch, loss {runs[arm][-1][1]:.6f}",
                  flush=True)
        return call

    compare({a: arm_call(a) for a in ARMS}, repeats=repeats, warmup=warmup)
    timed = {a: runs[a][warmup:] for a in ARMS}
    return ({a: Timing(tuple(s for s, _ in timed[a])) for a in ARMS},
            {a: [loss for _, loss in timed[a]] for a in ARMS})


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run (default 2)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds (default 1)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--smoke", action="store_true",
                        help="1 epoch, 2 repeats, no warm-up: checks the script, times nothing")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--note", default="", help="a sentence on the conditions, rendered")
    args = parser.parse_args()
    if args.smoke:
        args.epochs, args.repeats, args.warmup = 1, 2, 0
    if args.epochs < 1 or args.repeats < 1 or args.threads < 1 or args.warmup < 0:
        parser.error("--epochs, --repeats and --threads must be >= 1, --warmup >= 0")
    return args


def main() -> None:
    args = parse_args()
    pin(threads=args.threads)
    start = environment()
    print(header_line(start), flush=True)
    data = load_mnist5k(0, 0.2)
    timings, losses = time_arms(data, args.epochs, args.repeats, args.warmup)
    agree = all(abs(d - c) <= 1e-4 * max(1.0, abs(d))
                for d, c in zip(losses["dense"], losses["csr"]))
    speedup = ratio(timings["dense"], timings["csr"])
    result = {
        "benchmark": "kernel_bench",
        "start": start,
        "config": {"widths": WIDTHS, "epsilon": 13, "zeta": 0.3, "data": "mnist5k 4000 train",
                   "batch_size": 40, "optimizer": "sgd momentum 0.9, weight decay 2e-4",
                   "dropout": 0.2, "loss": "mse_set", "epochs": args.epochs,
                   "repeats": args.repeats, "warmup": args.warmup, "threads": args.threads,
                   "smoke": args.smoke},
        "arms": {a: {**timings[a].to_dict(), "final_loss": losses[a]} for a in ARMS},
        "speedup_csr_vs_dense": speedup,
        "losses_agree": agree,
        "note": args.note,
        "end": environment(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, lambda f: json.dump(result, f, indent=2), binary=False)
    print(f"csr vs masked dense: {speedup:.2f}x (min/min), losses agree: {agree}; "
          f"wrote {args.out}")
    assert agree, "the CSR and dense kernels disagree beyond float rounding"


if __name__ == "__main__":
    main()
