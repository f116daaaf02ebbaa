"""Metanetwork pruning with the paper's whole pipeline on a zoo of residual CNNs and MLPs.

Liu, Wang, Zhang, "Meta Pruning via Graph Metanetworks" (arXiv 2506.12041) at CPU scale
(graphsparse.metaprune.pipeline): 24 data models on MNIST-5k (12 residual CNNs with BatchNorm of
several widths/depths, 12 MLPs), for each pipeline seed 8 held out, 4 for choosing the
metanetwork checkpoint on validation, 12 for meta-training (≤ 20 minutes); every held-out network
in four arms (group norm, metanetwork + group norm, magnitude, metanetwork + magnitude) at MAC
speed-ups 2×, 4×, 8×, with 5 fine-tuning epochs before pruning (after the metanetwork, or extra
in the baseline arms) and 5 after: equal budgets in every arm.

Ablations (each a separate settings digest in the same results file, rendered as its own
table): ``--after-metanet-epochs 0`` (no fine-tuning after the metanetwork), ``--weight-update
additive`` (the paper's update), ``--reg`` (regulariser strength); and a change of the
checkpoint score, ``--select-finetune-epochs 1`` (one fine-tuning epoch after the pruning that
scores a checkpoint, on the rest of the training split).

Resumable at every step (zoo members, meta-training checkpoints and their validation scores, the
fine-tuned networks before pruning, one row per network × arm × speed-up). Rows go to
``benchmarks/results/metaprune_pipeline/results.jsonl``; ``benchmarks/render_results.py`` turns
them into docs/results.md.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/metaprune_pipeline.py --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from graphsparse.metaprune.pipeline import PipelineConfig, run_pipeline
from graphsparse.metaprune.zoo import default_specs, make_zoo
from graphsparse.paths import cache_root

OUT = Path(__file__).resolve().parent / "results" / "metaprune_pipeline"
KINDS = (("resnet", "mnist5k"), ("mlp", "mnist5k"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2", help="pipeline seeds, e.g. 0,1,2")
    parser.add_argument("--zoo-size", type=int, default=24)
    parser.add_argument("--meta-minutes", type=float, default=20.0)
    parser.add_argument("--meta-steps", type=int, default=3000)
    parser.add_argument("--initial-speedup", type=float, default=None,
                        help="initial pruning of the data models (the paper: 1.32 for ResNet-56)")
    parser.add_argument("--initial-epochs", type=int, default=0)
    parser.add_argument("--after-metanet-epochs", type=int, default=5,
                        help="ablation: 0 = no fine-tuning after the metanetwork (the baseline "
                             "arms then get no extra epochs either: budgets stay equal)")
    parser.add_argument("--after-prune-epochs", type=int, default=5)
    parser.add_argument("--weight-update", default="multiplicative",
                        choices=["additive", "multiplicative"],
                        help="ablation: the metanetwork's update (additive = the paper's form)")
    parser.add_argument("--reg", type=float, default=1e-2, help="ablation: regulariser strength")
    parser.add_argument("--select-finetune-epochs", type=int, default=0,
                        help="fine-tuning epochs after the pruning that scores a checkpoint")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    zoo = make_zoo(cache_root() / "zoo-pipeline", default_specs(args.zoo_size, 0, kinds=KINDS),
                   progress=False)
    print(f"[{time.strftime('%H:%M:%S')}] zoo: {len(zoo)} networks "
          f"({time.perf_counter() - start:.0f} s)", flush=True)
    config = PipelineConfig(speedups=(2.0, 4.0, 8.0), held_out=8, val_members=4,
                            after_metanet_epochs=args.after_metanet_epochs,
                            after_prune_epochs=args.after_prune_epochs, reg=args.reg,
                            metanet={"num_layers": 4, "hidden": 32, "scale": 0.1,
                                     "weight_update": args.weight_update},
                            initial_speedup=args.initial_speedup, initial_epochs=args.initial_epochs,
                            meta_steps=args.meta_steps, meta_minutes=args.meta_minutes,
                            select_every=250, select_speedup=4.0,
                            select_finetune_epochs=args.select_finetune_epochs)
    for seed in (int(s) for s in args.seeds.split(",")):
        rows = run_pipeline(zoo, args.out, seed=seed, config=config)
        print(f"[{time.strftime('%H:%M:%S')}] seed {seed}: {len(rows)} rows", flush=True)


if __name__ == "__main__":
    main()
