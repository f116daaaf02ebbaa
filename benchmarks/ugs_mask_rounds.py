"""Where UGS's pruning decisions come from: the masks at each round's best-validation epoch.

UGS (Chen et al. 2021) prunes, at the end of every round, the lowest-|m| entries of the graph
and weight masks as they stand at the round's best-validation epoch. This script runs the first
rounds of UGS with ``--preset ugs-paper`` on Cora GCN for several seeds (θ₀ as the sweep builds
it: ``torch.manual_seed(seed)``, then ``build_model``) and records, per round and seed:

* the best-validation epoch that fixed the masks;
* the spread of the kept masks there (min / max over the prunable edge units and over the
  weight-mask entries): how far apart the values that decide the ranking are;
* how many of the pruned edge units touch a test node, against the share of all units that do
  (a deterministic tie rule on an index-ordered dataset could favour or spare test nodes);
* across seeds, the Jaccard overlap of round 1's pruned edge sets and weight sets (every seed
  prunes from the same candidates there), beside the expected overlap of two random sets of the
  same size ``k`` out of ``n`` (``k / (2n - k)``).

Writes ``benchmarks/results/ugs_mask_rounds/results.json`` (temp file, then rename); the UGS
reproduction check in docs/results.md renders it. About 1 minute per seed and round on one core.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ugs_mask_rounds.py --seeds 0,1,2 --rounds 2
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import torch

from graphsparse.fileio import atomic_write
from graphsparse.gnn.data.registry import load_dataset
from graphsparse.gnn.experiment.presets import apply_preset
from graphsparse.gnn.methods._common import EdgeUnits
from graphsparse.gnn.methods.ugs import UGSRound, ugs
from graphsparse.gnn.models.build import build_model
from graphsparse.masks.schedules import geometric_sparsity

from _machine import cores, cpu_model

OUT = Path(__file__).resolve().parent / "results" / "ugs_mask_rounds" / "results.json"


def _jaccard(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a & b).sum().item() / max(1, (a | b).sum().item())


def _pruned(record: UGSRound) -> tuple[torch.Tensor, torch.Tensor]:
    """The round's pruned edge units ``[U]`` and pruned weights (flattened, in name order)."""
    edges = record.prunable & record.edge_kept_before & ~record.edge_kept_after
    weights = torch.cat([(record.weight_masks_before[n] & ~record.weight_masks_after[n])
                         .flatten() for n in sorted(record.weight_masks_after)])
    return edges, weights


def _round_row(record: UGSRound, pruned: torch.Tensor, touches_test: torch.Tensor) -> dict:
    kept = record.prunable & record.edge_kept_before
    edges = record.edge_values[kept]
    weights = torch.cat([record.weight_values[n][record.weight_masks_before[n]]
                         for n in sorted(record.weight_values)])
    return {"round": record.round, "best_epoch": record.best_epoch, "val": record.val,
            "edge_min": edges.min().item(), "edge_max": edges.max().item(),
            "weight_min": weights.min().item(), "weight_max": weights.max().item(),
            "edges_pruned": int(pruned.sum()),
            "pruned_touching_test": int((pruned & touches_test).sum()),
            "units_touching_test_share": touches_test[record.prunable].float().mean().item()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    preset = apply_preset("ugs-paper", dataset="cora", model="gcn", methods=["ugs"],
                          levels=[args.rounds], seeds=seeds)
    dataset = load_dataset("cora", args.data_root, **preset["dataset_options"])
    units = EdgeUnits(dataset)
    test = dataset.data.test_mask
    touches_test = test[units.tied.pairs[0]] | test[units.tied.pairs[1]]
    ks = range(1, args.rounds + 1)
    graph_targets = [geometric_sparsity(preset["p_graph"], k) for k in ks]
    weight_targets = [geometric_sparsity(preset["p_weight"], k) for k in ks]
    options = preset["method_options"]["ugs"]
    rows, pruned = [], {}
    for seed in seeds:
        torch.manual_seed(seed)
        model = build_model("gcn", dataset.num_features, dataset.num_classes,
                            hidden=preset["hidden"], num_layers=preset["num_layers"],
                            **preset["model_options"])

        def on_round(record: UGSRound, seed: int = seed) -> None:
            pruned[(seed, record.round)] = _pruned(record)
            rows.append({"seed": seed, **_round_row(record, pruned[(seed, record.round)][0],
                                                    touches_test)})
            print(f"[{time.strftime('%H:%M:%S')}] seed {seed} round {record.round}: best epoch "
                  f"{record.best_epoch}", flush=True)

        ugs(model, dataset, graph_targets=graph_targets, weight_targets=weight_targets,
            epochs=preset["epochs"], lr=preset["lr"], weight_decay=preset["weight_decay"],
            s1=options["s1"], s2=options["s2"], seed=seed, on_round=on_round, retrain_epochs=1)
    overlaps = []
    for a, b in itertools.combinations(seeds, 2):
        (ea, wa), (eb, wb) = pruned[(a, 1)], pruned[(b, 1)]
        overlaps.append({"seeds": [a, b], "edges": _jaccard(ea, eb), "weights": _jaccard(wa, wb),
                         "edges_random": _random_jaccard(int(ea.sum()), units.count),
                         "weights_random": _random_jaccard(int(wa.sum()), wa.numel())})
    result = {
        "config": {**{k: preset[k] for k in ("hidden", "num_layers", "epochs", "lr",
                                             "weight_decay", "p_graph", "p_weight")},
                   "s1": options["s1"], "s2": options["s2"], "seeds": seeds,
                   "rounds": args.rounds, "preset": "ugs-paper"},
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{cpu_model()}, {cores()} cores, torch {torch.__version__}, 1 thread",
        "rounds": rows, "overlaps": overlaps}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(OUT, lambda f: json.dump(result, f, indent=1), binary=False)
    print(f"wrote {OUT}")


def _random_jaccard(k: int, n: int) -> float:
    """Expected Jaccard overlap of two independent random ``k``-subsets of ``n`` items,
    ``k² / n`` shared over ``2k - k² / n`` in the union: ``k / (2n - k)``."""
    return k / (2 * n - k)


if __name__ == "__main__":
    main()
