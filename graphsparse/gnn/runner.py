"""Resumable graph-lottery-ticket sweeps: :func:`run_sweep` (``graphsparse glt run``).

A sweep trains, for every seed, the dense baseline (``method="dense"``, level 0) and for every
method, schedule ``(p_graph, p_weight)`` and level ``k`` a ticket at graph sparsity
``1 - (1 - p_graph)^k`` and weight sparsity ``1 - (1 - p_weight)^k`` (or at direct targets
``graph_sparsity`` / ``weight_sparsity``). Files in ``out_dir``:

* ``config.json`` — what every row shares: dataset, split, model (name, depth, width, full
  config), epochs, lr, weight decay, weight scope. Written atomically on the first run; a later
  run whose config differs is refused (:class:`ConfigMismatchError`) before anything is written.
* ``results.jsonl`` — one JSON object per finished (method, p_graph, p_weight, level, seed),
  appended as soon as it finishes with a single ``O_APPEND`` write of the complete line,
  followed by ``fsync``. Rows already present are skipped on restart, so a killed sweep
  resumes and produces the same rows except the timing fields (:data:`TIMING_FIELDS`).
* ``checkpoints/`` — UGS's per-round checkpoints (resume mid-search).

Iterative methods (:data:`~graphsparse.gnn.methods.ITERATIVE`: UGS, IMP) run **one** search of
``K = max(levels)`` rounds per (seed, schedule) and report level ``k`` as the ticket after
round ``k``, trained from θ₀ with frozen masks (UGS's fix-mask run), so
``search_epochs``/``search_seconds`` are cumulative over rounds ``1..k`` plus that run —
exactly what the method called with ``k`` rounds reports.

* UGS: after each round its checkpoint is copied to ``checkpoints/<key>.round<k>.pt``; the level
  ``k`` row is ``ugs(..., targets[:k], checkpoint=<that copy>)``, which runs no round and only
  the fix-mask training. A killed search resumes after its last completed round; lost rows of
  earlier levels are rebuilt from their round copies.
* IMP: round ``k + 1`` trains the level-``k`` ticket (θ₀, frozen masks), so the per-round records
  give every level; ``imp_ticket``'s ``on_round`` hands over each level's edge mask.
  IMP has no checkpoint: a search with a missing level reruns from round 1 (deterministic), and
  its rows are appended when the search ends. ``search_seconds`` of level ``k < K`` is the
  search's wall time apportioned by epochs (IMP records no per-round time).

One-shot methods (TEDDY, random, magnitude, Jaccard, Adamic–Adar) run once per level. TEDDY's
teacher is the seed's dense run (the same training TEDDY's step 1 does), computed once per seed;
its epochs and seconds are added to every TEDDY row.

Row fields (units): ``dataset``, ``split_seed``, ``model``, ``method``, ``level`` (int; 0 = dense;
None for direct targets), ``p_graph``, ``p_weight`` (None for dense/direct), ``rounds`` (UGS/IMP
rounds for direct targets, else None), ``graph_target``, ``weight_target``, ``graph_sparsity``,
``weight_sparsity`` (realised fractions in [0, 1]), ``edges_kept``/``edges_total`` (undirected
non-loop edges), ``weights_kept``/``weights_total`` (entries of ``weight_scope``),
``weight_scope``, ``seed``, ``metric`` (name), ``val``, ``test`` (metric at the best-validation
epoch, a fraction for accuracy/ROC-AUC/Hits), ``best_epoch``, ``search_epochs``,
``search_seconds`` (s), ``inference_seconds`` (s, median of 3 full inference passes with pruned
edges physically removed and dense weight kernels), ``spmm`` (True: the model's GCN layers
propagated by sparse products wherever no soft edge mask was attached,
:func:`graphsparse.gnn.train.spmm_propagation`; rows without the key predate that path and used
per-edge messages, equal up to float rounding), ``isolated_nodes`` (nodes without a kept
non-loop edge; node tasks, else None), ``homophily`` (edge homophily of the kept non-loop edges;
node tasks, else None).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from graphsparse import masks as M
from graphsparse.gnn.accounting import graph_sparsity as count_graph_sparsity
from graphsparse.gnn.accounting import mask_graph
from graphsparse.gnn.data import LoadedDataset, load_dataset
from graphsparse.gnn.methods import (
    DEFAULT_SCOPES,
    ITERATIVE,
    METHODS,
    check_scope,
    imp_ticket,
    make_teacher,
    ugs,
)
from graphsparse.gnn.models import MODEL_NAMES, build_model
from graphsparse.masks.io import append_jsonl, atomic_write, read_jsonl
from graphsparse.gnn.train import TrainResult, measure_inference, spmm_propagation, train_model

__all__ = ["CONFIG_FILE", "ConfigMismatchError", "RESULTS_FILE", "TIMING_FIELDS", "read_rows",
           "row_key", "run_sweep"]

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.jsonl"
#: Fields that legitimately differ between an interrupted and an uninterrupted sweep.
TIMING_FIELDS = ("search_seconds", "inference_seconds")
_KEY_FIELDS = ("method", "p_graph", "p_weight", "level", "rounds", "graph_target",
               "weight_target", "seed")


class ConfigMismatchError(ValueError):
    """``out_dir`` holds a sweep with another configuration (the message lists the fields)."""


def row_key(row: dict[str, Any]) -> tuple:
    """The identity of a row: (method, p_graph, p_weight, level, rounds, graph_target,
    weight_target, seed)."""
    return tuple(row.get(k) for k in _KEY_FIELDS)


def read_rows(out_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of ``out_dir/results.jsonl`` in file order (``[]`` if there is none).

    Raises:
        ValueError: a line is not a complete JSON object (e.g. a hand-truncated file); the
            message names the line.
    """
    return read_jsonl(Path(out_dir) / RESULTS_FILE)


def _check_config(out_dir: Path, config: dict[str, Any]) -> None:
    """Write ``config.json`` (first run) or refuse a different one (nothing is written)."""
    path = out_dir / CONFIG_FILE
    normalised = json.loads(json.dumps(config, sort_keys=True))
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ConfigMismatchError(f"{str(path)!r} is not valid JSON ({e}); use another "
                                      "--out directory") from None
        if stored != normalised:
            keys = sorted(set(stored) | set(normalised))
            diff = [f"{k}: {stored.get(k)!r} in the directory vs {normalised.get(k)!r} now"
                    for k in keys if stored.get(k) != normalised.get(k)]
            raise ConfigMismatchError(f"{str(out_dir)!r} holds a sweep with another "
                                      f"configuration ({'; '.join(diff)}); use another output "
                                      "directory or the same settings")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(json.dumps(normalised, indent=2, sort_keys=True) + "\n"),
                 binary=False)


def _ints(name: str, values: Any, low: int) -> list[int]:
    out = list(values) if isinstance(values, (list, tuple, range)) else None
    if not out or any(isinstance(v, bool) or not isinstance(v, int) or v < low for v in out):
        raise ValueError(f"{name} must be a non-empty list of ints >= {low}, got {values!r}")
    return sorted(set(out))


def _fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def _graph_stats(dataset: LoadedDataset, edge_mask: Tensor | None) -> dict[str, Any]:
    """Isolated nodes and edge homophily of the kept non-loop edges (node classification with
    one label per node; else None)."""
    data = dataset.data
    if dataset.task != "node" or dataset.target != "multiclass" or data is None \
            or data.y is None or data.y.numel() != data.num_nodes:
        return {"isolated_nodes": None, "homophily": None}
    graph = mask_graph(dataset)
    ei = graph.edge_index.cpu()
    keep = ei[0] != ei[1]
    if edge_mask is not None:
        keep &= edge_mask.cpu().bool()
    ei = ei[:, keep]
    touched = torch.zeros(graph.num_nodes, dtype=torch.bool)
    touched[ei.reshape(-1)] = True
    y = dataset.data.y.view(-1).cpu()
    same = (y[ei[0]] == y[ei[1]]).double()
    homophily = float(same.mean()) if same.numel() else None
    return {"isolated_nodes": int((~touched).sum()), "homophily": homophily}


class _Sweep:
    """State shared by the runs of one :func:`run_sweep` call."""

    def __init__(self, out_dir: Path, dataset: LoadedDataset, config: dict[str, Any],
                 model_kwargs: dict[str, Any], weight_scope: str | None, epochs: int, lr: float,
                 weight_decay: float, on_row: Callable[[dict[str, Any]], None] | None,
                 bar: Any) -> None:
        self.out_dir, self.dataset, self.config = out_dir, dataset, config
        self.model_kwargs, self.weight_scope = model_kwargs, weight_scope
        self.epochs, self.lr, self.weight_decay = epochs, lr, weight_decay
        self.on_row, self.bar = on_row, bar
        self.done = {row_key(r) for r in read_rows(out_dir)}
        self.graph = mask_graph(dataset)
        self._dense: dict[int, tuple[TrainResult, Any]] = {}

    # -- helpers --------------------------------------------------------------------------
    def model(self, seed: int) -> nn.Module:
        """The seed's initial model θ₀ (``torch.manual_seed(seed)`` then ``build_model``)."""
        torch.manual_seed(seed)
        return build_model(self.config["model"], self.dataset.num_features,
                           self.dataset.num_classes, task=self.dataset.task, **self.model_kwargs)

    def scope(self, method: str) -> str:
        return DEFAULT_SCOPES[method] if self.weight_scope is None else self.weight_scope

    def train_kwargs(self, seed: int) -> dict[str, Any]:
        return {"epochs": self.epochs, "lr": self.lr, "weight_decay": self.weight_decay,
                "seed": seed, "progress": False}

    def write(self, row: dict[str, Any]) -> None:
        append_jsonl(self.out_dir / RESULTS_FILE, row)
        self.done.add(row_key(row))
        self.bar.update(1)
        if self.on_row is not None:
            self.on_row(row)

    def base(self, method: str, seed: int, level: int | None, p_graph: float | None,
             p_weight: float | None, rounds: int | None, graph_target: float,
             weight_target: float) -> dict[str, Any]:
        return {"dataset": self.config["dataset"], "split_seed": self.config["split_seed"],
                "model": self.config["model"], "method": method, "level": level,
                "p_graph": p_graph, "p_weight": p_weight, "rounds": rounds,
                "graph_target": graph_target, "weight_target": weight_target, "seed": seed}

    def finish_row(self, base: dict[str, Any], *, edge_mask: Tensor | None,
                   weights_kept: int, weights_total: int, scope: str, metric: str,
                   val: float, test: float, best_epoch: int, search_epochs: int,
                   search_seconds: float, template: nn.Module) -> dict[str, Any]:
        counts = count_graph_sparsity(self.graph, edge_mask)
        inference = measure_inference(template, self.dataset, edge_mask=edge_mask, repeats=3)
        return {**base, "graph_sparsity": counts.sparsity, "edges_kept": counts.kept,
                "edges_total": counts.total,
                "weight_sparsity": 1.0 - weights_kept / weights_total,
                "weights_kept": weights_kept, "weights_total": weights_total,
                "weight_scope": scope, "metric": metric, "val": val, "test": test,
                "best_epoch": best_epoch, "search_epochs": search_epochs,
                "search_seconds": search_seconds, "inference_seconds": inference,
                "spmm": spmm_propagation(template),
                **_graph_stats(self.dataset, edge_mask)}

    def from_search(self, base: dict[str, Any], result: Any, template: nn.Module,
                    extra_epochs: int = 0, extra_seconds: float = 0.0) -> dict[str, Any]:
        ws = result.weight_sparsity
        return self.finish_row(base, edge_mask=result.edge_mask, weights_kept=ws["kept"],
                               weights_total=ws["numel"], scope=result.weight_scope,
                               metric=result.train.metric, val=result.train.val,
                               test=result.train.test, best_epoch=result.train.best_epoch,
                               search_epochs=result.search_epochs + extra_epochs,
                               search_seconds=result.search_seconds + extra_seconds,
                               template=template)

    def dense(self, seed: int) -> tuple[TrainResult, Any]:
        """The seed's dense run and TEDDY's teacher from it (cached; node tasks: logits of every
        node, link tasks: a LinkTeacher, graph tasks: a GraphTeacher; None for a regression
        target, which TEDDY cannot distil)."""
        if seed not in self._dense:
            model = self.model(seed)
            result = train_model(model, self.dataset, desc="dense", **self.train_kwargs(seed))
            distillable = self.dataset.task != "graph" \
                or self.dataset.target in ("binary", "multiclass")
            teacher = make_teacher(model, self.dataset) if distillable else None
            self._dense[seed] = (result, teacher)
        return self._dense[seed]

    # -- runs -----------------------------------------------------------------------------
    def run_dense(self, seed: int) -> None:
        base = self.base("dense", seed, 0, None, None, None, 0.0, 0.0)
        if row_key(base) in self.done:
            return
        result, _ = self.dense(seed)
        template = self.model(seed)
        total = sum(t.numel() for t in M.named_tensors(template, "all").values())
        self.write(self.finish_row(base, edge_mask=None, weights_kept=total,
                                   weights_total=total, scope="all", metric=result.metric,
                                   val=result.val, test=result.test,
                                   best_epoch=result.best_epoch, search_epochs=result.epochs,
                                   search_seconds=result.seconds, template=template))

    def run_one_shot(self, method: str, seed: int, base: dict[str, Any]) -> None:
        if row_key(base) in self.done:
            return
        template = self.model(seed)
        kwargs: dict[str, Any] = {}
        extra_epochs, extra_seconds = 0, 0.0
        if method == "teddy":
            dense, teacher = self.dense(seed)
            kwargs["teacher"] = teacher
            extra_epochs, extra_seconds = dense.epochs, dense.seconds
        result = METHODS[method](template, self.dataset, graph_targets=[base["graph_target"]],
                                 weight_targets=[base["weight_target"]],
                                 weight_scope=self.scope(method), **self.train_kwargs(seed),
                                 **kwargs)
        self.write(self.from_search(base, result, template, extra_epochs, extra_seconds))

    def run_ugs(self, seed: int, graph_targets: list[float], weight_targets: list[float],
                bases: dict[int, dict[str, Any]], tag: str) -> None:
        """One UGS search over ``len(graph_targets)`` rounds; ``bases[k]`` = row of round k.

        After round ``k`` the UGS checkpoint is copied to ``<tag>.round<k>.pt`` and the
        cumulative wall time of rounds ``1..k`` (s, without the level rows' own fix-mask runs)
        goes to ``<tag>.round<k>.json``; a round copy without its time (a kill in between)
        is timed from the fix-mask run's seconds per epoch.
        """
        missing = sorted(k for k, b in bases.items() if row_key(b) not in self.done)
        if not missing:
            return
        folder = self.out_dir / "checkpoints"
        folder.mkdir(exist_ok=True)
        main = folder / f"{tag}.pt"

        def copy_path(k: int, suffix: str = "pt") -> Path:
            return folder / f"{tag}.round{k}.{suffix}"

        def round_seconds(k: int) -> float | None:
            path = copy_path(k, "json")
            return json.loads(path.read_text())["seconds"] if path.exists() else None

        template = self.model(seed)
        common = {"weight_scope": self.scope("ugs"), **self.train_kwargs(seed)}

        def level_row(k: int) -> float:
            started = time.perf_counter()
            result = ugs(template, self.dataset, graph_targets=graph_targets[:k],
                         weight_targets=weight_targets[:k], checkpoint=copy_path(k), **common)
            before = round_seconds(k)
            if before is None:
                before = result.search_seconds / result.train.epochs * (
                    result.search_epochs - result.train.epochs)
            self.write(self.from_search(bases[k], result, template, extra_seconds=before))
            return time.perf_counter() - started

        done = 0
        if main.exists():  # a kill between UGS's checkpoint write and the round copy
            done = M.load_file(main, "ugs-checkpoint")[0]["done"]
            if done and not copy_path(done).exists():
                self._copy(main, copy_path(done))
        for k in list(missing):
            if copy_path(k).exists():
                level_row(k)
                missing.remove(k)
        if not missing:
            return
        last = missing[-1]
        base_seconds = (round_seconds(done) or 0.0) if done else 0.0
        started = time.perf_counter()
        nested = 0.0

        def on_round(record: Any) -> None:
            nonlocal nested
            seconds = base_seconds + time.perf_counter() - started - nested
            atomic_write(copy_path(record.round, "json"),
                         lambda f: f.write(json.dumps({"seconds": seconds})), binary=False)
            self._copy(main, copy_path(record.round))
            if record.round in missing and record.round != last:
                nested += level_row(record.round)

        result = ugs(template, self.dataset, graph_targets=graph_targets[:last],
                     weight_targets=weight_targets[:last], checkpoint=main, on_round=on_round,
                     **common)
        self.write(self.from_search(bases[last], result, template,
                                    extra_seconds=base_seconds - nested))

    @staticmethod
    def _copy(src: Path, dst: Path) -> None:
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)

    def run_imp(self, seed: int, graph_targets: list[float], weight_targets: list[float],
                bases: dict[int, dict[str, Any]]) -> None:
        """One IMP search; level k from round k+1's training (the final run for the last)."""
        missing = sorted(k for k, b in bases.items() if row_key(b) not in self.done)
        if not missing:
            return
        last = missing[-1]
        template = self.model(seed)
        scope = self.scope("imp")
        edge_masks: dict[int, Tensor] = {}

        def keep_edges(k: int, edge_mask: Tensor, weight_masks: dict[str, Tensor]) -> None:
            edge_masks[k] = edge_mask

        result = imp_ticket(template, self.dataset, graph_targets=graph_targets[:last],
                            weight_targets=weight_targets[:last], weight_scope=scope,
                            on_round=keep_edges, **self.train_kwargs(seed))
        total = sum(t.numel() for t in M.named_tensors(template, scope).values())
        rounds = result.rounds
        per_second = result.search_seconds / max(1, result.search_epochs)
        for k in missing:
            if k == last:
                metric, val, test, best = (result.train.metric, result.train.val,
                                           result.train.test, result.train.best_epoch)
                epochs = result.search_epochs
            else:
                nxt = rounds[k]  # round k+1 trains the level-k ticket from θ₀
                metric, val, test, best = result.train.metric, nxt["val"], nxt["test"], \
                    nxt["best_epoch"]
                epochs = sum(r["epochs"] for r in rounds[:k + 1])
            self.write(self.finish_row(bases[k], edge_mask=edge_masks[k],
                                       weights_kept=rounds[k - 1]["weights_kept"],
                                       weights_total=total, scope=scope, metric=metric,
                                       val=val, test=test, best_epoch=best,
                                       search_epochs=epochs,
                                       search_seconds=(result.search_seconds if k == last
                                                       else per_second * epochs),
                                       template=template))


def _slug(value: float | None) -> str:
    return "none" if value is None else f"{value:.6g}"


def run_sweep(out_dir: str | os.PathLike, *, dataset: str, data_root: str | os.PathLike | None
              = None, model: str = "gcn", methods: Sequence[str],
              levels: Sequence[int] | None = None, p_graph: float = 0.05,
              p_weight: float = 0.2, graph_sparsity: float | None = None,
              weight_sparsity: float | None = None, rounds: int = 20,
              seeds: Sequence[int] = (0,), epochs: int = 200, lr: float = 0.01,
              weight_decay: float = 5e-4, hidden: int = 512, num_layers: int = 2,
              weight_scope: str | None = None, split_seed: int = 0,
              model_options: dict[str, Any] | None = None, dense: bool = True,
              progress: bool = True,
              on_row: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Run (or resume) a sweep in ``out_dir`` (see the module documentation).

    Args:
        out_dir: the sweep's folder (created); holds ``config.json``, ``results.jsonl`` and
            ``checkpoints/``.
        dataset: a name of :func:`~graphsparse.gnn.data.available_datasets`.
        data_root: the data root (default :func:`graphsparse.paths.data_root`).
        model: ``"gcn"``, ``"gin"``, ``"gat"`` or ``"sage"``.
        methods: names of :data:`~graphsparse.gnn.methods.METHODS`.
        levels: grid levels ``k >= 1`` (targets ``1 - (1 - p)^k``); or instead
        graph_sparsity, weight_sparsity: direct targets in ``[0, 1)`` (a missing one is 0);
            iterative methods reach them in ``rounds`` rounds (``1 - (1 - s)^(j/rounds)``).
        p_graph, p_weight: per-level pruning rates in ``[0, 1)`` (UGS: 0.05 / 0.2).
        seeds: model-initialisation and training seeds (ints >= 0).
        epochs, lr, weight_decay: every training run (Adam).
        hidden, num_layers: width (total) and depth of the model.
        weight_scope: ``"linear"``, ``"all"`` or None (each method's default scope).
        split_seed: seed of the random split for datasets without a fixed one.
        model_options: further :func:`~graphsparse.gnn.models.build_model` options.
        dense: also record the dense baseline (level 0) per seed.
        progress: show a tqdm bar over the rows.
        on_row: called with each row after it is appended (e.g. to stop a sweep early).

    Returns:
        Every row of ``results.jsonl`` after the sweep, in file order.

    Raises:
        ValueError: unknown dataset/model/method (valid names listed), targets or levels out of
            range, both or neither target form.
        ConfigMismatchError: ``out_dir`` holds a sweep with another configuration.
        DatasetNotFoundError: the data root lacks the dataset's raw files.
    """
    from tqdm.auto import tqdm

    methods = list(methods)
    if not methods:
        raise ValueError("methods must name at least one method")
    for name in methods:
        if name not in METHODS:
            raise ValueError(f"unknown method {name!r}; valid methods: "
                             f"{', '.join(map(repr, METHODS))}")
    if model not in MODEL_NAMES:
        raise ValueError(f"unknown model {model!r}; valid models: "
                         f"{', '.join(map(repr, MODEL_NAMES))}")
    if weight_scope is not None:
        check_scope(weight_scope)
    seeds = _ints("seeds", seeds, 0)
    direct = graph_sparsity is not None or weight_sparsity is not None
    if direct == (levels is not None):
        raise ValueError("give either levels (with p_graph, p_weight) or graph_sparsity / "
                         "weight_sparsity, not both and not neither")
    if direct:
        s_g = _fraction("graph_sparsity", 0.0 if graph_sparsity is None else graph_sparsity)
        s_w = _fraction("weight_sparsity", 0.0 if weight_sparsity is None else weight_sparsity)
        rounds = _ints("rounds", [rounds], 1)[0]
    else:
        levels = _ints("levels", levels, 1)
        p_graph, p_weight = _fraction("p_graph", p_graph), _fraction("p_weight", p_weight)
    for name, value, low in (("epochs", epochs, 1), ("hidden", hidden, 1),
                             ("num_layers", num_layers, 1)):
        _ints(name, [value], low)
    ds = load_dataset(dataset, data_root, split_seed=split_seed)
    model_kwargs = {"hidden": hidden, "num_layers": num_layers, **(model_options or {})}
    if ds.num_features == 0 and "num_nodes" not in model_kwargs:
        # a featureless graph (ogbl-ddi) learns one input embedding per node
        model_kwargs["num_nodes"] = int(ds.data.num_nodes)
    probe = build_model(model, ds.num_features, ds.num_classes, task=ds.task, **model_kwargs)
    described = ds.describe()
    config = {"dataset": ds.name, "task": ds.task, "split_name": ds.split_name,
              "split_seed": ds.split_seed, "split_index": ds.split_index,
              "split_sizes": described["split_sizes"], "metric": ds.metric, "model": model,
              "num_layers": num_layers, "hidden": hidden, "model_config": probe.config,
              "epochs": epochs, "lr": float(lr), "weight_decay": float(weight_decay),
              "weight_scope": weight_scope if weight_scope is not None
              else "per-method default " + json.dumps(DEFAULT_SCOPES, sort_keys=True)}
    out_dir = Path(out_dir)
    _check_config(out_dir, config)

    def targets(p: float, ks: Sequence[int]) -> list[float]:
        return [M.geometric_sparsity(p, k) for k in ks]

    plan: list[tuple[str, int, Any]] = []  # (kind, seed, payload) in execution order
    count = 0
    for seed in seeds:
        if dense:
            plan.append(("dense", seed, None))
            count += 1
        for method in methods:
            if direct and method in ITERATIVE:
                gts = [1.0 - (1.0 - s_g) ** (j / rounds) for j in range(1, rounds)] + [s_g]
                wts = [1.0 - (1.0 - s_w) ** (j / rounds) for j in range(1, rounds)] + [s_w]
                bases = {rounds: (None, None, None, rounds)}
            elif direct:
                gts, wts, bases = [s_g], [s_w], {1: (None, None, None, None)}
            else:
                top = max(levels)
                gts = targets(p_graph, range(1, top + 1))
                wts = targets(p_weight, range(1, top + 1))
                bases = {k: (k, p_graph, p_weight, None) for k in levels}
            rows = {}
            for k, (level, pg, pw, rounds_) in bases.items():
                rows[k] = {"level": level, "p_graph": pg, "p_weight": pw,
                           "rounds": rounds_ if method in ITERATIVE else None,
                           "graph_target": gts[k - 1], "weight_target": wts[k - 1]}
            plan.append((method, seed, (gts, wts, rows)))
            count += len(rows)

    bar = tqdm(total=count, desc=f"glt {ds.name}", unit="row", disable=not progress)
    try:
        sweep = _Sweep(out_dir, ds, config, model_kwargs, weight_scope, epochs, lr,
                       weight_decay, on_row, bar)
        bar.update(sum(1 for kind, seed, payload in plan for b in _plan_bases(sweep, kind, seed,
                                                                              payload)
                       if row_key(b) in sweep.done))
        for kind, seed, payload in plan:
            if kind == "dense":
                sweep.run_dense(seed)
                continue
            gts, wts, _ = payload
            bases = dict(_plan_bases(sweep, kind, seed, payload, keyed=True))
            if kind == "ugs":
                first = bases[min(bases)]
                tag = (f"ugs-pg{_slug(first['p_graph'])}-pw{_slug(first['p_weight'])}-seed{seed}"
                       if first["rounds"] is None else  # the grid's rounds are shared by levels
                       f"ugs-r{first['rounds']}-sg{_slug(gts[-1])}-sw{_slug(wts[-1])}-seed{seed}")
                sweep.run_ugs(seed, gts, wts, bases, tag)
            elif kind == "imp":
                sweep.run_imp(seed, gts, wts, bases)
            else:
                for base in bases.values():
                    sweep.run_one_shot(kind, seed, base)
    finally:
        bar.close()
    return read_rows(out_dir)


def _plan_bases(sweep: _Sweep, kind: str, seed: int, payload: Any, keyed: bool = False):
    """The row bases (identity fields) a plan entry produces: ``(k, base)`` if ``keyed``."""
    if kind == "dense":
        items = [(0, sweep.base("dense", seed, 0, None, None, None, 0.0, 0.0))]
    else:
        _, _, rows = payload
        items = [(k, sweep.base(kind, seed, r["level"], r["p_graph"], r["p_weight"],
                                r["rounds"], r["graph_target"], r["weight_target"]))
                 for k, r in sorted(rows.items())]
    return items if keyed else [b for _, b in items]
