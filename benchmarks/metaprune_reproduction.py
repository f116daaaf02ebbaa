"""Metanetwork pruning vs plain group-norm pruning vs magnitude pruning on held-out zoo networks.

Liu, Wang, Zhang, "Meta Pruning via Graph Metanetworks" (arXiv 2506.12041) at CPU scale. For every
pipeline seed ``s`` (3 by default), the whole pipeline is repeated:

1. the zoo (``graphsparse metaprune zoo``: 36 MLPs/CNNs on sklearn digits and MNIST-5k, built
   once, cached under ``$GRAPHSPARSE_CACHE/zoo-default``) is split with seed ``s`` (12 held out);
2. a metanetwork (4 blocks x 32, scale 0.1, multiplicative weight update by default; the paper's
   additive form with ``--weight-update additive``) is meta-trained with seed ``s`` on the other 24
   (task loss + DepGraph's polarising group regulariser), for ``--steps`` steps or
   ``--max-minutes``, checkpointed so an interrupted run resumes;
3. every held-out network is pruned in four arms (group norm, metanetwork + group norm, magnitude,
   metanetwork + magnitude) at remaining-parameter ratios 0.7 / 0.5 / 0.3 and fine-tuned for the
   same number of epochs in every arm.

Raw rows go to ``benchmarks/results/metaprune_zoo/results.jsonl`` (one per member x arm x ratio x
seed) and ``metatrain.jsonl`` (one per seed: polarisation of the held-out networks before/after,
steps, minutes); ``benchmarks/render_results.py`` turns them into docs/results.md.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/metaprune_reproduction.py --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from graphsparse.fileio import append_jsonl, read_jsonl
from graphsparse.paths import cache_root
from graphsparse.metaprune import MetaNetwork, load_metanet, save_metanet
from graphsparse.metaprune.compare import compare_pruning, mean_polarisation, tasks_of
from graphsparse.metaprune.train import meta_train
from graphsparse.metaprune.zoo import default_specs, make_zoo

OUT = Path(__file__).resolve().parent / "results" / "metaprune_zoo"


def config(args: argparse.Namespace) -> dict:
    return {"zoo_size": 36, "held_out": 12, "metanet": {"num_layers": 4, "hidden": 32, "scale": 0.1,
                                                     "weight_update": args.weight_update},
            "steps": args.steps, "max_minutes": args.max_minutes, "lr": 1e-3, "reg": args.reg,
            "alpha": 16.0, "batch_size": 128, "ratios": [0.7, 0.5, 0.3], "finetune_epochs": 3,
            "finetune_lr": 1e-3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2", help="pipeline seeds, e.g. 0,1,2")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--max-minutes", type=float, default=30.0,
                        help="meta-training wall-time budget per seed")
    parser.add_argument("--reg", type=float, default=1e-2)
    parser.add_argument("--weight-update", default="multiplicative",
                        choices=["additive", "multiplicative"],
                        help="the metanetwork's weight update (additive = the paper's form)")
    parser.add_argument("--out", type=Path, default=OUT, help="results folder")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = config(args)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    zoo = make_zoo(cache_root() / "zoo-default", default_specs(cfg["zoo_size"], 0),
                   progress=not args.no_progress)
    trained = {r["seed"]: r for r in read_jsonl(out / "metatrain.jsonl") if r["config"] == cfg}
    for seed in (int(s) for s in args.seeds.split(",")):
        train_part, held_out = zoo.split(cfg["held_out"], seed)
        path = out / "metanets" / f"metanet_seed{seed}.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        if seed in trained and path.exists():
            metanet, _ = load_metanet(path)
        else:
            torch.manual_seed(seed)
            metanet = MetaNetwork(**cfg["metanet"])
            start = time.perf_counter()
            history = meta_train(metanet, tasks_of(train_part), steps=cfg["steps"], lr=cfg["lr"],
                                 reg=cfg["reg"], alpha=cfg["alpha"], batch_size=cfg["batch_size"],
                                 seed=seed, checkpoint=f"{path}.train",
                                 max_minutes=cfg["max_minutes"], progress=not args.no_progress)
            row = {"seed": seed, "config": cfg, "steps_done": len(history),
                   "minutes_this_call": (time.perf_counter() - start) / 60,
                   "seconds_per_step": sum(h["seconds"] for h in history) / len(history),
                   "loss_first_50": sum(h["loss"] for h in history[:50]) / min(50, len(history)),
                   "loss_last_50": sum(h["loss"] for h in history[-50:]) / min(50, len(history)),
                   "held_out": [m.spec.name for m in held_out],
                   "polarisation_before": {t: mean_polarisation(held_out, None, t) for t in (0.1, 0.25)},
                   "polarisation_after": {t: mean_polarisation(held_out, metanet, t) for t in (0.1, 0.25)}}
            save_metanet(path, metanet, seed=seed, held_out=row["held_out"])
            append_jsonl(out / "metatrain.jsonl", row)
            print(f"seed {seed}: {len(history)} steps, polarisation {row['polarisation_before']} -> "
                  f"{row['polarisation_after']}", flush=True)
        compare_pruning(held_out, metanet, out / "results.jsonl", ratios=cfg["ratios"],
                        finetune_epochs=cfg["finetune_epochs"], lr=cfg["finetune_lr"], seed=seed,
                        tag={"seed": seed, "config_steps": cfg["steps"], "config_reg": cfg["reg"],
                             "weight_update": cfg["metanet"]["weight_update"]},
                        progress=not args.no_progress)
        print(f"seed {seed}: comparison done", flush=True)


if __name__ == "__main__":
    main()
