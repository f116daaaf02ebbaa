"""Topology -> accuracy study: predict sparse MLPs' MNIST-5k accuracy from their graph alone.

Follows Stier, Darji & Granitzer, "Experiments on Properties of Hidden Structures of Sparse
Neural Networks" (arXiv:2107.12917, 2021), who predict sparse networks' performance from
structural properties (R² up to 0.81), here on a zoo of sparse MLPs:

* families: static random graphs — Erdős–Rényi with a uniform budget (``er``) and RigL's ERK
  budget (``erk``), scale-free (``scale_free``), small-world (``small_world``) — plus SET-trained
  (``set``: ER start, ζ = 0.3 prune/regrow after every epoch but the last) and magnitude-pruned
  (``magnitude``: dense training for half the epochs, global magnitude pruning to the density,
  then the other half); every network trains for the same number of epochs; initial weights
  U(±√(6/fan_in)) with each neuron's fan-in under its mask (``init="sparse_he_uniform"``, Evci
  et al. 2022; the dense network of ``magnitude`` gets the dense fan-in);
* data: MNIST-5k (4000 train / 1000 test, stratified, split seed 0); 10% of the training set
  (seeded) is held out as validation; SGD with momentum, cross-entropy;
* after training, the final mask's :func:`graphsparse.topology.report` (with shortest paths,
  4-cycles and spectral scores) becomes :func:`graphsparse.topology.predict.report_features`.

One JSON line per trained network (features, validation and test accuracy) is appended to
``zoo.jsonl`` in ``--out-dir`` as it finishes; networks already there are skipped, so a killed run
resumes. Then :func:`graphsparse.topology.predict.predict_accuracy` fits linear, ridge and random
forest regressors per feature group (shuffled 5-fold and GroupKFold held out by family) for both
targets, written to ``prediction.json`` in ``--out-dir`` with the random forest's cross-validated
predictions on all features (for the predicted-vs-true plot of ``render_results.py``).

    .venv/bin/python benchmarks/topology_predict_study.py            # full study
    .venv/bin/python benchmarks/topology_predict_study.py --smoke    # tiny check, to /tmp
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
import warnings
from collections import Counter
from pathlib import Path

import torch

from graphsparse.fileio import append_jsonl, atomic_write, read_jsonl
from graphsparse.masks import attach, magnitude_scores, topk_masks
from graphsparse.topology import SET, NetworkGraph, SparseMLP, load_mnist5k, report, train
from graphsparse.topology.predict import (cross_validated_predictions, predict_accuracy,
                                          report_features)
from graphsparse.topology.training import evaluate

RESULTS = Path(__file__).resolve().parent / "results" / "topology_predict"
SMOKE_RESULTS = Path("/tmp/topology_predict_smoke")
FAMILIES = ("er", "erk", "scale_free", "small_world", "set", "magnitude")
STATIC = {"er": ("erdos_renyi", "uniform"), "erk": ("erdos_renyi", "erk"),
          "scale_free": ("scale_free", "uniform"), "small_world": ("small_world", "uniform"),
          "set": ("erdos_renyi", "uniform")}
TARGETS = ("test_acc", "val_acc")


def config(smoke: bool) -> dict:
    """The study's configuration (stored in every row; a results file holds one)."""
    full = {"widths": [784, 256, 256, 10], "densities": [0.01, 0.02, 0.05, 0.1, 0.2, 0.4],
            "seeds": [0, 1, 2], "families": list(FAMILIES), "epochs": 10, "batch_size": 64,
            "lr": 0.05, "momentum": 0.9, "init": "sparse_he_uniform", "loss": "cross_entropy", "zeta": 0.3,
            "val_fraction": 0.1, "data": "mnist5k", "split_seed": 0, "test_fraction": 0.2,
            "folds": 5, "n_estimators": 200}
    if smoke:
        full.update(widths=[784, 64, 64, 10], densities=[0.05, 0.2], seeds=[0], epochs=2,
                    folds=2, n_estimators=50)
    return full


def network_key(family: str, density: float, seed: int) -> str:
    return f"{family}-d{density:g}-s{seed}"


def with_validation(data, fraction: float, seed: int):
    """``data`` whose test split is a seeded ``fraction`` of the training set (for train()'s
    per-epoch accuracy), and the real test tensors."""
    order = torch.randperm(len(data.y_train), generator=torch.Generator().manual_seed(seed))
    n_val = int(round(fraction * len(order)))
    val, fit = order[:n_val], order[n_val:]
    split = dataclasses.replace(data, x_train=data.x_train[fit], y_train=data.y_train[fit],
                                x_test=data.x_train[val], y_test=data.y_train[val])
    return split, (data.x_test, data.y_test)


def build_network(family: str, density: float, seed: int, cfg: dict) -> SparseMLP:
    """A fresh MLP: dense for ``magnitude`` (pruned later), else a seeded random graph."""
    if family == "magnitude":
        torch.manual_seed(seed)
        return SparseMLP(cfg["widths"], init=cfg["init"])
    topology, budget = STATIC[family]
    return SparseMLP.random_graph(cfg["widths"], topology=topology, density=density,
                                  budget=budget, seed=seed, init=cfg["init"])


def magnitude_prune(net: SparseMLP, density: float) -> None:
    """Global magnitude pruning of every Linear weight to ``density`` (masks attached)."""
    attach(net, topk_masks(magnitude_scores(net), 1.0 - density, scope="global"))


def train_network(family: str, density: float, seed: int, cfg: dict,
                  data) -> tuple[SparseMLP, list[dict]]:
    """Build and train one network of the zoo; returns it and its training history."""
    net = build_network(family, density, seed, cfg)

    def fit(epochs: int, callback=None) -> list[dict]:
        return train(net, data, epochs=epochs, lr=cfg["lr"], batch_size=cfg["batch_size"],
                     momentum=cfg["momentum"], loss=cfg["loss"], seed=seed,
                     set_callback=callback, eval_train=False, progress=False)

    if family == "magnitude":
        half = max(cfg["epochs"] // 2, 1)
        history = fit(half)
        magnitude_prune(net, density)
        history += fit(max(cfg["epochs"] - half, 1))
    elif family == "set":
        history = fit(cfg["epochs"], SET(cfg["zeta"], seed=seed + 1000))
    else:
        history = fit(cfg["epochs"])
    return net, history


def zoo_row(family: str, density: float, seed: int, cfg: dict, data, test) -> dict:
    """Train one network, report its final topology; the row appended to zoo.jsonl."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # budget capping warnings of tiny layers
        net, history = train_network(family, density, seed, cfg, data)
    trained = time.perf_counter()
    topo = report(NetworkGraph.from_model(net), shortest_paths=True, four_cycles=True,
                  spectral=True, seed=seed)
    return {"key": network_key(family, density, seed), "family": family, "density": density,
            "seed": seed, "config": cfg, "features": report_features(topo),
            "realised_density": topo.density, "val_acc": history[-1]["test_acc"],
            "test_acc": evaluate(net, *test), "train_seconds": trained - start,
            "report_seconds": time.perf_counter() - trained}


def done_keys(path: Path, cfg: dict) -> set[str]:
    rows = read_jsonl(path)
    if any(r["config"] != cfg for r in rows):
        raise SystemExit(f"{path} holds networks of another configuration; use another --out-dir")
    return {r["key"] for r in rows}


def build_zoo(path: Path, cfg: dict) -> None:
    """Train every missing network of the zoo, appending one row each to ``path``."""
    todo = [(f, d, s) for s in cfg["seeds"] for d in cfg["densities"] for f in cfg["families"]
            if network_key(f, d, s) not in done_keys(path, cfg)]
    print(f"{len(done_keys(path, cfg))} networks already in {path}; {len(todo)} to train",
          flush=True)
    if not todo:
        return
    data, test = with_validation(load_mnist5k(cfg["split_seed"], cfg["test_fraction"]),
                                 cfg["val_fraction"], cfg["split_seed"])
    for family, density, seed in todo:
        row = zoo_row(family, density, seed, cfg, data, test)
        append_jsonl(path, row)
        print(f"{row['key']}: test {row['test_acc']:.4f} val {row['val_acc']:.4f} "
              f"(train {row['train_seconds']:.1f} s, report {row['report_seconds']:.1f} s)",
              flush=True)


def fit_predictors(rows: list[dict], cfg: dict) -> dict:
    """Cross-validated R² of every target from the zoo's features (see predict_accuracy)."""
    out = {"config": cfg, "num_networks": len(rows),
           "families": dict(Counter(r["family"] for r in rows)), "targets": {}}
    for target in TARGETS:
        zoo = [(r["features"], r[target], r["family"]) for r in rows]
        result = predict_accuracy(zoo, folds=cfg["folds"], seed=0,
                                  n_estimators=cfg["n_estimators"])
        out["targets"][target] = result.to_dict()
        out["targets"][target]["predictions"] = {
            split: cross_validated_predictions(zoo, split=split, folds=cfg["folds"], seed=0,
                                               n_estimators=cfg["n_estimators"])[1].tolist()
            for split in result.settings["splits"]}
        out["targets"][target]["true"] = [r[target] for r in rows]
        out["targets"][target]["family"] = [r["family"] for r in rows]
        print(f"\n[{target}] {result.table()}")
        print("top features (permutation R² drop): " + ", ".join(
            f"{i.feature} {i.permutation_mean:.3f}" for i in result.importances[:5]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny zoo (12 networks), to /tmp")
    parser.add_argument("--out-dir", type=Path, default=None,
                        help=f"default {RESULTS} ({SMOKE_RESULTS} with --smoke)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fit-only", action="store_true", help="fit on the rows already there")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = config(args.smoke)
    out_dir = args.out_dir or (SMOKE_RESULTS if args.smoke else RESULTS)
    out_dir.mkdir(parents=True, exist_ok=True)
    zoo_path = out_dir / "zoo.jsonl"
    start = time.perf_counter()
    if not args.fit_only:
        build_zoo(zoo_path, cfg)
    rows = read_jsonl(zoo_path)
    done_keys(zoo_path, cfg)
    result = fit_predictors(rows, cfg)
    text = json.dumps(result, indent=1, sort_keys=True)
    atomic_write(out_dir / "prediction.json", lambda f: f.write(text), binary=False)
    print(f"\nwrote {out_dir / 'prediction.json'} ({len(rows)} networks, "
          f"{time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
