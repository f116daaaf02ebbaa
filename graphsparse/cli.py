"""The ``graphsparse`` command line: thin — it parses arguments and calls the library."""

from __future__ import annotations

import argparse
import sys


def _demo(args: argparse.Namespace) -> int:
    from graphsparse import demo

    demo.run(out_dir=args.out, seed=args.seed, epochs=args.epochs)
    return 0


def _widths(text: str) -> list[int]:
    try:
        widths = [int(w) for w in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--widths must be comma-separated integers, got {text!r}")
    if len(widths) < 2 or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"--widths needs at least two widths >= 1, got {text!r}")
    return widths


_DEVICE_HELP = "auto (CUDA when available), cpu, cuda or cuda:N"


def _device(args: argparse.Namespace, command: str):
    """``args.device`` resolved (:func:`graphsparse.devices.resolve_device`); a device that is
    not there exits, naming ``--device`` and the available devices."""
    from graphsparse.devices import resolve_device

    try:
        return resolve_device(args.device)
    except ValueError as e:
        raise SystemExit(f"graphsparse {command}: --device: {e}")


def _check_out_folder(out: str, command: str) -> None:
    """``SystemExit`` unless the folder ``--out`` goes into exists and is writable (checked
    before any training, so a typo does not cost the run)."""
    import os
    from pathlib import Path

    folder = Path(out).expanduser().absolute().parent
    if not folder.is_dir():
        raise SystemExit(f"graphsparse {command}: --out {out!r}: folder {str(folder)!r} does not "
                         "exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SystemExit(f"graphsparse {command}: --out {out!r}: folder {str(folder)!r} is not "
                         "writable")


def _mlp(args: argparse.Namespace) -> int:
    import json

    from graphsparse.topology import SET, RigL, SparseMLP, load_embedded, train

    if (args.density is None) == (args.epsilon is None):
        raise SystemExit("graphsparse mlp: give exactly one of --density or --epsilon")
    device = _device(args, "mlp")                   # before anything is written
    _check_out_folder(args.out, "mlp")
    kwargs = {}
    if args.topology == "scale_free":
        kwargs = {"gamma": args.gamma, "side": args.side}
    elif args.topology == "small_world":
        kwargs = {"beta": args.beta}
    try:
        net = SparseMLP.random_graph(args.widths, topology=args.topology, density=args.density,
                                     epsilon=args.epsilon, budget=args.budget, seed=args.seed,
                                     dropout=args.dropout, init=args.init, **kwargs)
    except (ValueError, TypeError) as e:
        raise SystemExit(f"graphsparse mlp: {e}")
    for name, layer in net.generator_config["layers"].items():
        print(f"{name}: {layer['shape'][0]}x{layer['shape'][1]}, {layer['num_edges']} edges, "
              f"density {layer['density']:.4f} ({layer['method']})")
    history = None
    if args.train:
        data = load_embedded(args.train, split_seed=args.seed)
        if data.num_features != args.widths[0]:
            raise SystemExit(f"graphsparse mlp: --widths starts with {args.widths[0]} but "
                             f"{args.train} has {data.num_features} features")
        set_cb = SET(args.zeta, seed=args.seed) if args.set else None
        steps = args.epochs * -(-len(data.y_train) // args.batch_size)
        rigl_cb = (RigL(args.zeta, update_every=args.rigl_every, end_step=max(1, int(0.75 * steps)))
                   if args.rigl else None)
        history = train(net, data, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                        optimizer=args.optimizer, seed=args.seed, set_callback=set_cb,
                        rigl_callback=rigl_cb, device=device)
        print(f"trained on {args.train}: test accuracy {history[-1]['test_acc']:.4f}")
    net.save(args.out, trained_on=args.train, history=history,
             dynamic="set" if args.set else "rigl" if args.rigl else None)
    print(f"saved {args.out}")
    if args.history_json and history is not None:
        print(json.dumps(history))
    return 0


def _stats(args: argparse.Namespace) -> int:
    from graphsparse.topology import report
    from graphsparse.topology.files import graph_from_file

    try:
        graph = graph_from_file(args.file, view=args.view)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"graphsparse stats: {e}")
    result = report(graph, shortest_paths=args.shortest_paths, four_cycles=args.four_cycles,
                    spectral=args.spectral, seed=args.seed)
    print(result.to_json() if args.json else str(result))
    return 0


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphsparse",
                                     description="Study and exploit sparsity through graphs.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the main job on an embedded default (no download)")
    demo.add_argument("--out", default="runs/demo", help="folder for output files")
    demo.add_argument("--seed", type=int, default=0, help="seed for data split, init and scores")
    demo.add_argument("--epochs", type=int, default=15, help="training epochs per run (>= 1)")
    demo.set_defaults(func=_demo)

    mlp = sub.add_parser("mlp", help="generate (and optionally train) a random-graph sparse MLP")
    mlp.add_argument("--widths", type=_widths, required=True, help="e.g. 784,1000,1000,10")
    mlp.add_argument("--topology", default="erdos_renyi",
                     choices=["erdos_renyi", "scale_free", "small_world"])
    mlp.add_argument("--density", type=float, help="overall density in (0, 1]")
    mlp.add_argument("--epsilon", type=float, help="SET's epsilon (> 0), instead of --density")
    mlp.add_argument("--budget", default="uniform", choices=["uniform", "er", "erk", "balanced"])
    mlp.add_argument("--gamma", type=float, default=2.5, help="scale-free exponent (> 1)")
    mlp.add_argument("--side", default="in", choices=["in", "out", "both"],
                     help="scale-free side")
    mlp.add_argument("--beta", type=float, default=0.1, help="small-world rewiring probability")
    mlp.add_argument("--dropout", type=float, default=0.0)
    mlp.add_argument("--init", default="torch", choices=["torch", "he_uniform", "sparse_he_uniform"],
                     help="initial weights (see SparseMLP): PyTorch's default, SET's He-uniform "
                          "with the dense fan-in, or with each neuron's realised fan-in")
    mlp.add_argument("--seed", type=int, default=0)
    mlp.add_argument("--train", choices=["mnist5k", "digits"], help="train on embedded real data")
    mlp.add_argument("--epochs", type=int, default=10)
    mlp.add_argument("--lr", type=float, default=0.05)
    mlp.add_argument("--batch-size", type=int, default=64)
    mlp.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    mlp.add_argument("--device", default="auto", help=_DEVICE_HELP)
    dyn = mlp.add_mutually_exclusive_group()
    dyn.add_argument("--set", action="store_true", help="SET prune-and-regrow every epoch")
    dyn.add_argument("--rigl", action="store_true", help="RigL drop/grow by gradient")
    mlp.add_argument("--zeta", type=float, default=0.3, help="SET/RigL drop fraction in [0, 1)")
    mlp.add_argument("--rigl-every", type=int, default=100, help="RigL update interval (steps)")
    mlp.add_argument("--history-json", action="store_true", help="print the training history")
    mlp.add_argument("--out", required=True, help="model file to write (graphsparse format)")
    mlp.set_defaults(func=_mlp)

    stats = sub.add_parser("stats", help="topology report of a saved model/state_dict/mask file")
    stats.add_argument("file")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.add_argument("--shortest-paths", action="store_true", help="also mean shortest path")
    stats.add_argument("--four-cycles", action="store_true", help="also 4-cycles / clustering")
    stats.add_argument("--spectral", action="store_true", help="also spectral gaps")
    stats.add_argument("--seed", type=int, default=0, help="seed of sampled metrics")
    stats.add_argument("--view", choices=("channel", "kernel"), default="channel",
                       help="Conv2d layers: a channel pair is one edge (channel) or every kept "
                            "kernel entry is an edge (kernel; density = weight density)")
    stats.set_defaults(func=_stats)

    from graphsparse.cli_glt import add_glt_commands

    add_glt_commands(sub)
    meta = sub.add_parser("metaprune", help="metanetwork pruning: zoo, meta-training, comparison")
    meta_sub = meta.add_subparsers(dest="metaprune_command", required=True)
    zoo = meta_sub.add_parser("zoo", help="train (or resume) a zoo of small networks")
    zoo.add_argument("--root", required=True, help="zoo folder (one file per network)")
    zoo.add_argument("--size", type=int, default=36, help="number of networks (default 36)")
    zoo.add_argument("--seed", type=int, default=0, help="seed of the zoo's recipes")
    zoo.add_argument("--kinds", type=_names, default=None,
                     help="comma-separated ARCH:DATASET kinds to cycle, e.g. "
                          "resnet:mnist5k,mlp:mnist5k (default: mlp and cnn on digits and mnist5k)")
    zoo.add_argument("--no-progress", action="store_true")
    zoo.set_defaults(func=_metaprune_zoo)
    mt = meta_sub.add_parser("train", help="meta-train a metanetwork on a zoo (resumable)")
    mt.add_argument("--zoo", required=True, help="zoo folder written by `metaprune zoo`")
    mt.add_argument("--out", required=True, help="metanetwork file to write")
    mt.add_argument("--held-out", type=int, default=12, help="networks kept out of training")
    mt.add_argument("--split-seed", type=int, default=0)
    mt.add_argument("--steps", type=int, default=3000)
    mt.add_argument("--max-minutes", type=float, default=30.0, help="wall-time budget")
    mt.add_argument("--layers", type=int, default=4)
    mt.add_argument("--hidden", type=int, default=32)
    mt.add_argument("--scale", type=float, default=0.1, help="residual output scale")
    mt.add_argument("--weight-update", default="multiplicative",
                    choices=["additive", "multiplicative"],
                    help="weights change by w + scale*d (the paper) or w*(1 + scale*d)")
    mt.add_argument("--lr", type=float, default=1e-3)
    mt.add_argument("--reg", type=float, default=1e-2, help="group-sparsity weight")
    mt.add_argument("--alpha", type=float, default=16.0, help="DepGraph's alpha (>= 1)")
    mt.add_argument("--batch-size", type=int, default=128)
    mt.add_argument("--seed", type=int, default=0)
    mt.add_argument("--device", default="auto", help=_DEVICE_HELP)
    mt.add_argument("--no-progress", action="store_true")
    mt.set_defaults(func=_metaprune_train)
    pr = meta_sub.add_parser("prune", help="prune held-out networks with and without the "
                                           "metanetwork, fine-tune, compare (resumable)")
    pr.add_argument("--zoo", required=True)
    pr.add_argument("--metanet", required=True, help="file written by `metaprune train`")
    pr.add_argument("--out", required=True, help="results file (JSON lines)")
    pr.add_argument("--ratios", type=_floats, default=[0.7, 0.5, 0.3],
                    help="remaining-parameter ratios in (0, 1]")
    pr.add_argument("--arms", type=_names, default=["group_norm", "metanet+group_norm",
                                                    "magnitude", "metanet+magnitude"])
    pr.add_argument("--finetune-epochs", type=int, default=3)
    pr.add_argument("--lr", type=float, default=1e-3)
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--device", default="auto", help=_DEVICE_HELP)
    pr.add_argument("--no-progress", action="store_true")
    pr.set_defaults(func=_metaprune_prune)
    _add_pipeline_command(meta_sub)
    return parser


def _add_pipeline_command(meta_sub) -> None:
    pl = meta_sub.add_parser("pipeline", help="the paper's whole pipeline for one seed: meta-training "
                                              "with checkpoints chosen on validation, fine-tuning "
                                              "after the metanetwork, progressive pruning to MAC "
                                              "speed-ups, fine-tuning (resumable)")
    pl.add_argument("--zoo", required=True, help="zoo folder written by `metaprune zoo`")
    pl.add_argument("--out", required=True, help="results folder")
    pl.add_argument("--seed", type=int, default=0, help="pipeline seed (split, order, fine-tuning)")
    pl.add_argument("--speedups", type=_floats, default=[2.0, 4.0, 8.0], help="MAC speed-ups > 1")
    pl.add_argument("--arms", type=_names, default=["group_norm", "metanet+group_norm",
                                                    "magnitude", "metanet+magnitude"])
    pl.add_argument("--held-out", type=int, default=8)
    pl.add_argument("--val-members", type=int, default=4,
                    help="networks kept out of meta-training to choose its checkpoint")
    pl.add_argument("--after-metanet-epochs", type=int, default=5,
                    help="fine-tuning before pruning (after the metanetwork, or extra in the "
                         "baseline arms)")
    pl.add_argument("--after-prune-epochs", type=int, default=5)
    pl.add_argument("--initial-speedup", type=float, default=None,
                    help="initial progressive pruning of every data model (the paper: 1.32)")
    pl.add_argument("--initial-epochs", type=int, default=0)
    pl.add_argument("--meta-steps", type=int, default=2000)
    pl.add_argument("--meta-minutes", type=float, default=20.0)
    pl.add_argument("--select-every", type=int, default=250)
    pl.add_argument("--select-speedup", type=float, default=4.0)
    pl.add_argument("--select-finetune-epochs", type=int, default=0,
                    help="fine-tuning after the pruning that scores a checkpoint (0: none)")
    pl.add_argument("--reg", type=float, default=1e-2, help="group-sparsity weight")
    pl.add_argument("--weight-update", default="multiplicative", choices=["additive", "multiplicative"])
    pl.add_argument("--no-progress", action="store_true")
    pl.set_defaults(func=_metaprune_pipeline)


def _metaprune_pipeline(args: argparse.Namespace) -> int:
    from graphsparse.metaprune.pipeline import PipelineConfig, run_pipeline
    from graphsparse.metaprune.zoo import load_zoo

    try:
        config = PipelineConfig(
            speedups=tuple(args.speedups), arms=tuple(args.arms), held_out=args.held_out,
            val_members=args.val_members, after_metanet_epochs=args.after_metanet_epochs,
            after_prune_epochs=args.after_prune_epochs, initial_speedup=args.initial_speedup,
            initial_epochs=args.initial_epochs, meta_steps=args.meta_steps,
            meta_minutes=args.meta_minutes, select_every=args.select_every,
            select_speedup=args.select_speedup,
            select_finetune_epochs=args.select_finetune_epochs, reg=args.reg,
            metanet={"num_layers": 4, "hidden": 32, "scale": 0.1, "weight_update": args.weight_update})
        rows = run_pipeline(load_zoo(args.zoo), args.out, seed=args.seed, config=config,
                            progress=not args.no_progress)
    except (ValueError, FileNotFoundError, KeyError) as e:
        raise SystemExit(f"graphsparse metaprune pipeline: {e}")
    print(f"{len(rows)} rows (seed {args.seed}) in {args.out}/results.jsonl; settings "
          f"{config.digest()}")
    return 0


def _metaprune_zoo(args: argparse.Namespace) -> int:
    from graphsparse.metaprune.zoo import default_specs, make_zoo

    try:
        kinds = None if args.kinds is None else [tuple(k.split(":", 1)) for k in args.kinds]
        zoo = make_zoo(args.root, default_specs(args.size, args.seed, kinds=kinds),
                       progress=not args.no_progress)
    except ValueError as e:
        raise SystemExit(f"graphsparse metaprune zoo: {e}")
    for member in zoo:
        print(f"{member.spec.name:34s} test acc {member.test_acc:.4f}")
    print(f"{len(zoo)} networks in {zoo.root}")
    return 0


def _metaprune_train(args: argparse.Namespace) -> int:
    import torch

    from graphsparse.metaprune import MetaNetwork, save_metanet
    from graphsparse.metaprune.compare import mean_polarisation, tasks_of
    from graphsparse.metaprune.train import meta_train
    from graphsparse.metaprune.zoo import load_zoo

    device = _device(args, "metaprune train")
    try:
        zoo = load_zoo(args.zoo)
        train_part, held_out = zoo.split(args.held_out, args.split_seed)
        torch.manual_seed(args.seed)                 # the metanetwork's initial weights
        metanet = MetaNetwork(num_layers=args.layers, hidden=args.hidden, scale=args.scale,
                              weight_update=args.weight_update)
        before = mean_polarisation(held_out, None)
        history = meta_train(metanet, tasks_of(train_part), steps=args.steps, lr=args.lr,
                             reg=args.reg, alpha=args.alpha, batch_size=args.batch_size,
                             seed=args.seed, checkpoint=f"{args.out}.train",
                             max_minutes=args.max_minutes, progress=not args.no_progress,
                             device=device)
        after = mean_polarisation(held_out, metanet)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"graphsparse metaprune train: {e}")
    meta = {"zoo": str(zoo.root), "held_out": [m.spec.name for m in held_out],
            "train": [m.spec.name for m in train_part], "split_seed": args.split_seed,
            "steps_done": len(history), "seed": args.seed,
            "polarisation_held_out": {"before": before, "after": after}}
    save_metanet(args.out, metanet, **meta)
    print(f"meta-trained {len(history)} steps; held-out polarisation (share of hidden groups "
          f"below 0.1 x their layer's largest norm) {before:.4f} -> {after:.4f}; saved {args.out}")
    return 0


def _metaprune_prune(args: argparse.Namespace) -> int:
    from graphsparse.metaprune import load_metanet
    from graphsparse.metaprune.compare import compare_pruning, summary_table
    from graphsparse.metaprune.zoo import load_zoo

    device = _device(args, "metaprune prune")
    try:
        metanet, meta = load_metanet(args.metanet)
        zoo = load_zoo(args.zoo)
        names = meta.get("held_out")
        if not names:
            raise ValueError(f"{args.metanet} does not list its held-out networks")
        members = [zoo[name] for name in names]
        rows = compare_pruning(members, metanet, args.out, ratios=args.ratios, arms=args.arms,
                               finetune_epochs=args.finetune_epochs, lr=args.lr, seed=args.seed,
                               progress=not args.no_progress, device=device)
    except (ValueError, FileNotFoundError, KeyError) as e:
        raise SystemExit(f"graphsparse metaprune prune: {e}")
    print("\n".join(summary_table(rows)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "epochs", None) is not None and args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
