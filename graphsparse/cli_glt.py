"""The ``graphsparse glt`` commands (``run``, ``tune``, ``report``): thin — they parse
arguments and call :mod:`graphsparse.gnn.experiment`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from graphsparse.cli import _names


def _int_list(text: str) -> list[int]:
    """``"1-20"``, ``"0,1,2"`` or a mix (``"1-5,10,20"``) as sorted distinct ints >= 0."""
    values: set[int] = set()
    try:
        for part in text.split(","):
            low, dash, high = part.strip().partition("-")
            first, last = int(low), int(high) if dash else int(low)
            if first < 0 or last < first:
                raise ValueError
            values.update(range(first, last + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected ints >= 0 or ranges such as 1-20, "
                                         f"comma-separated (e.g. 1-5,10,20); got {text!r}")
    return sorted(values)


def _levels(text: str) -> list[int]:
    levels = _int_list(text)
    if levels[0] < 1:
        raise argparse.ArgumentTypeError(f"--levels must be >= 1 (level 0, the dense model, is "
                                         f"always recorded); got {text!r}")
    return levels


def _method_option(text: str) -> tuple[str, str, Any]:
    """``METHOD.NAME=VALUE`` -> (method, name, value); the value read as JSON, else text."""
    key, equals, value = text.partition("=")
    method, dot, name = key.partition(".")
    if not (equals and dot and method and name):
        raise argparse.ArgumentTypeError(f"expected METHOD.NAME=VALUE (e.g. teddy.lamb=10), "
                                         f"got {text!r}")
    try:
        return method, name, json.loads(value)
    except json.JSONDecodeError:
        return method, name, value


def _preset_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The preset's settings under the flags given explicitly (``apply_preset``)."""
    from graphsparse.gnn.experiment.presets import apply_preset

    explicit = {key: getattr(args, key) for key in ("epochs", "lr", "weight_decay", "hidden",
                                                     "num_layers", "weight_scope", "p_graph",
                                                     "p_weight", "graph_sparsity",
                                                     "weight_sparsity")
                if getattr(args, key) is not None}
    model_options = {key: getattr(args, key) for key in ("dropout", "bias", "weight_init",
                                                         "gcn_degree")
                     if getattr(args, key) is not None}
    method_options: dict[str, dict[str, Any]] = {}
    for method, name, value in args.option:
        method_options.setdefault(method, {})[name] = value
    kwargs = apply_preset(args.preset, dataset=args.dataset, model=args.model,
                          methods=args.method, model_options=model_options,
                          method_options=method_options,
                          dataset_options=_dataset_options(args), **explicit)
    kwargs.pop("graph_sparsity", None)
    kwargs.pop("weight_sparsity", None)
    return kwargs


def _fanouts(text: str) -> list[int]:
    """``--num-neighbors 15,10``: one fan-out per layer, each -1 (all) or >= 0."""
    try:
        fanouts = [int(v) for v in text.split(",")]
    except ValueError:
        fanouts = []
    if not fanouts or min(fanouts) < -1:
        raise argparse.ArgumentTypeError(f"--num-neighbors must be comma-separated fan-outs, "
                                         f"one per layer, each -1 (all) or >= 0; got {text!r}")
    return fanouts


def _dataset_options(args: argparse.Namespace) -> dict:
    options = {"sbm_nodes": args.sbm_nodes, "sbm_degree": args.sbm_degree,
               "normalize_features": args.normalize_features}
    return {k: v for k, v in options.items() if v is not None}


def _glt_tune(args: argparse.Namespace) -> int:
    from graphsparse.fileio import FolderLockedError
    from graphsparse.gnn.experiment.tune import PRESET_FILE, tune

    try:
        best = tune(args.out, dataset=args.dataset, method=args.method, level=args.level,
                    model=args.model, trials=args.trials, seed=args.seed, epochs=args.epochs,
                    hidden=args.hidden, num_layers=args.num_layers, p_graph=args.p_graph,
                    p_weight=args.p_weight, preset=args.preset, data_root=args.data_root)
    except (ValueError, OSError, FolderLockedError) as e:
        raise SystemExit(f"graphsparse glt tune: {e}")
    print(json.dumps(best, indent=2, sort_keys=True))
    print(f"best settings in {args.out}/{PRESET_FILE}; use `graphsparse glt run --preset "
          f"{args.out}/{PRESET_FILE} ...`")
    return 0


def _glt_run(args: argparse.Namespace) -> int:
    from torch.distributed import DistBackendError

    from graphsparse.fileio import FolderLockedError
    from graphsparse.gnn.experiment.sweep import run_sweep
    from graphsparse.gnn.train import distributed

    try:
        rows = run_sweep(args.out, data_root=args.data_root, seeds=args.seeds,
                         **_preset_arguments(args), split_seed=args.split_seed,
                         progress=not args.no_progress, levels=args.levels,
                         graph_sparsity=args.graph_sparsity,
                         weight_sparsity=args.weight_sparsity, rounds=args.rounds,
                         device=args.device, batch_size=args.batch_size,
                         num_neighbors=args.num_neighbors, evaluation=args.evaluation,
                         threads=args.threads, save_tickets=args.save_tickets,
                         workers=args.workers, scheduler=args.scheduler,
                         weight_granularity=args.weight_granularity)
    except ValueError as e:
        raise SystemExit(f"graphsparse glt run{_rank_label()}: {e}")
    except OSError as e:  # DatasetNotFoundError, a failed download, an unwritable --out
        raise SystemExit(f"graphsparse glt run{_rank_label()}: {type(e).__name__}: {e}")
    except FolderLockedError as e:
        raise SystemExit(f"graphsparse glt run: {e}")
    except (DistBackendError, RuntimeError) as e:
        if distributed.environment_world_size() <= 1:
            raise
        # a collective failed: another rank died (torchrun stops the others)
        raise SystemExit(f"graphsparse glt run{_rank_label()}: a training process failed; "
                         f"stopping (rows written so far are complete; rerun the same command "
                         f"to resume): {type(e).__name__}: {e}")
    if distributed.is_writer():
        print(f"{len(rows)} rows in {args.out}/results.jsonl; summarise with "
              f"`graphsparse glt report {args.out}`")
    return 0


def _glt_export(args: argparse.Namespace) -> int:
    from graphsparse.gnn.experiment.saved import export_from_run

    try:
        path = export_from_run(args.dir, method=args.method, seed=args.seed, level=args.level,
                               out=args.out, data_root=args.data_root)
    except (ValueError, TypeError, OSError) as e:
        raise SystemExit(f"graphsparse glt export: {type(e).__name__}: {e}")
    print(f"exported ticket: {path} (load with graphsparse.gnn.load_exported)")
    return 0


def _rank_label() -> str:
    """`` (rank R of W)`` under torchrun, else empty."""
    from graphsparse.gnn.train import distributed

    size = distributed.environment_world_size()
    return f" (rank {distributed.rank()} of {size})" if size > 1 else ""


def _glt_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from graphsparse.gnn.experiment.report import plot, summarise

    try:
        summary = summarise(args.dir, epsilon=args.epsilon)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"graphsparse glt report: {e}")
    print(summary)
    if summary.metric is not None:
        path = plot(args.dir, Path(args.dir) / "accuracy_vs_sparsity.png", summary=summary)
        print(f"plot: {path}")
    return 0


def add_glt_commands(sub: Any) -> None:
    """Add ``glt run``, ``glt tune``, ``glt report`` and ``glt export`` to the ``graphsparse``
    subcommands."""
    glt = sub.add_parser("glt", help="graph lottery tickets: resumable sweeps and reports")
    glt_sub = glt.add_subparsers(dest="glt_command", required=True)
    run = glt_sub.add_parser("run", help="run or resume a sweep (one JSON row per ticket)")
    run.add_argument("--dataset", required=True, help="dataset name, e.g. cora, sbm, ogbl-ddi")
    run.add_argument("--data-root", help="data root (default $GRAPHSPARSE_DATA)")
    run.add_argument("--model", default="gcn", help="gcn, gin, gat or sage")
    run.add_argument("--method", type=_names, required=True,
                     help="method or comma list: ugs, teddy, random, magnitude, imp, jaccard, "
                          "adamic_adar")
    run.add_argument("--levels", type=_levels, help="grid levels, e.g. 1-20 or 1,5,10")
    run.add_argument("--p-graph", type=float, help="edges pruned per level (default 0.05)")
    run.add_argument("--p-weight", type=float, help="weights pruned per level (default 0.2)")
    run.add_argument("--graph-sparsity", type=float, help="direct graph target in [0, 1)")
    run.add_argument("--weight-sparsity", type=float, help="direct weight target in [0, 1)")
    run.add_argument("--rounds", type=int,
                     help="UGS/IMP rounds to reach direct targets (default 20)")
    run.add_argument("--seeds", type=_int_list, default=[0], help="e.g. 0,1,2 or 0-4")
    run.add_argument("--out", required=True, help="sweep folder (config.json, results.jsonl)")
    run.add_argument("--preset", help="ugs-paper, teddy-paper or a JSON file of settings "
                     "(docs/gnn.md); explicit flags override its values")
    run.add_argument("--epochs", type=int, help="epochs per training run (default 200)")
    run.add_argument("--lr", type=float, help="Adam learning rate (default 0.01)")
    run.add_argument("--weight-decay", type=float, help="Adam weight decay (default 5e-4)")
    run.add_argument("--hidden", type=int, help="model width (default 512)")
    run.add_argument("--num-layers", type=int, help="model depth (default 2)")
    run.add_argument("--dropout", type=float, help="dropout in [0, 1) (default per model)")
    run.add_argument("--weight-init", choices=["pyg", "torch"],
                     help="initial weights: each layer's PyG default (pyg, default) or "
                          "nn.Linear's for every linear map (torch, as UGS's reference GCN)")
    run.add_argument("--gcn-degree", choices=["in", "out"],
                     help="GCN normalisation degrees: in-edges (in, PyG's, default) or out-edges "
                          "(out, UGS's dense reference code; differs for untied edge masks)")
    run.add_argument("--bias", action=argparse.BooleanOptionalAction,
                     help="bias in the convolutions (default: none for node tasks)")
    run.add_argument("--normalize-features", action=argparse.BooleanOptionalAction,
                     help="divide each node's features by their sum, as UGS's and Kipf & "
                          "Welling's code (default: as loaded)")
    run.add_argument("--option", type=_method_option, action="append", default=[],
                     metavar="METHOD.NAME=VALUE",
                     help="a method option, repeatable: teddy.lamb=10, ugs.s1=1e-2, ugs.s2, "
                          "ugs.mask_lr, ugs.retrain_epochs, ugs.mode, imp.edge_score, "
                          "imp.rewind_epoch, magnitude.edge_score")
    run.add_argument("--weight-scope", choices=["linear", "all"],
                     help="weight-sparsity scope (default: each method's own)")
    run.add_argument("--weight-granularity", choices=["unstructured", "neuron"],
                     default="unstructured",
                     help="prune single weights (unstructured, default) or whole hidden units "
                          "(neuron: a unit's incoming row, bias and outgoing column together)")
    run.add_argument("--split-seed", type=int, default=0, help="seed of random splits")
    run.add_argument("--no-progress", action="store_true",
                     help="no progress bar, status line or ogb processing bars")
    run.add_argument("--device", default="auto",
                     help="auto (CUDA when available), cpu, cuda or cuda:N")
    run.add_argument("--batch-size", type=int,
                     help="mini-batch training: seed nodes (node tasks) or positive edges "
                          "(link tasks) per step; needs --num-neighbors")
    run.add_argument("--num-neighbors", type=_fanouts,
                     help="fan-out per layer for neighbour sampling, e.g. 15,10 (-1 = all)")
    run.add_argument("--evaluation", default="auto", choices=["auto", "full-graph", "sampled"],
                     help="mini-batch evaluation: the whole graph at once or sampled batches")
    run.add_argument("--threads", type=int, default=1,
                     help="torch threads per cell, in-process and on Dask workers (default 1)")
    run.add_argument("--workers", type=int,
                     help="run the cells on a local Dask cluster of N single-threaded worker "
                          "processes (this process stays the only writer)")
    run.add_argument("--scheduler",
                     help="run the cells on a running Dask cluster, e.g. tcp://HOST:PORT "
                          "(workers must share the data root and --out)")
    run.add_argument("--sbm-nodes", type=int, help="--dataset sbm: number of nodes")
    run.add_argument("--sbm-degree", type=float,
                     help="--dataset sbm: expected average degree")
    run.add_argument("--save-tickets", action="store_true",
                     help="also save every ticket (masks, weights) in OUT/tickets/ for "
                          "`glt export`")
    run.set_defaults(func=_glt_run)
    tune = glt_sub.add_parser("tune", help="search a method's settings on validation (Optuna)")
    tune.add_argument("--dataset", required=True)
    tune.add_argument("--data-root", help="data root (default $GRAPHSPARSE_DATA)")
    tune.add_argument("--model", default="gcn")
    tune.add_argument("--method", required=True, help="one method, e.g. teddy or ugs")
    tune.add_argument("--level", type=int, required=True, help="grid level to tune at")
    tune.add_argument("--trials", type=int, default=40, help="trials in all (resumable)")
    tune.add_argument("--seed", type=int, default=0, help="sampler and training seed")
    tune.add_argument("--preset", help="base settings: ugs-paper, teddy-paper or a JSON file; "
                                       "the settings not searched stay fixed")
    tune.add_argument("--epochs", type=int, help="default: the preset's, else 200")
    tune.add_argument("--hidden", type=int, help="default: the preset's, else 512")
    tune.add_argument("--num-layers", type=int, help="default: the preset's, else 2")
    tune.add_argument("--p-graph", type=float, help="default: the preset's, else 0.05")
    tune.add_argument("--p-weight", type=float, help="default: the preset's, else 0.2")
    tune.add_argument("--out", required=True,
                      help="folder: study.db, tune.json, preset.json (for glt run --preset)")
    tune.set_defaults(func=_glt_tune)
    rep = glt_sub.add_parser("report", help="summary table and accuracy-vs-sparsity plot")
    rep.add_argument("dir", help="a sweep folder written by `graphsparse glt run`")
    rep.add_argument("--epsilon", type=float, default=0.01,
                     help="extreme-ticket tolerance in metric units (0.01 = 1 percentage point)")
    rep.set_defaults(func=_glt_report)
    export = glt_sub.add_parser("export", help="a saved ticket of a sweep as a deployable "
                                                "model (masks baked, edges removed)")
    export.add_argument("dir", help="a sweep folder run with --save-tickets")
    export.add_argument("--method", required=True)
    export.add_argument("--level", type=int, required=True)
    export.add_argument("--seed", type=int, default=0)
    export.add_argument("--out", required=True, help="the exported file (.pt)")
    export.add_argument("--data-root", help="data root (default $GRAPHSPARSE_DATA)")
    export.set_defaults(func=_glt_export)
