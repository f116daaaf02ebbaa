"""Resumable graph-lottery-ticket sweeps: :func:`run_sweep` (``graphsparse glt run``).

A sweep trains, for every seed, the dense baseline (``method="dense"``, level 0) and for every
method the tickets of its :class:`~graphsparse.gnn.experiment.targets.Targets` (a grid of levels
or direct sparsities). It is a list of independent cells
(:func:`~graphsparse.gnn.experiment.cells.plan_cells`) run by
:func:`~graphsparse.gnn.experiment.cells.run_cell` one after another in this process, or as
tasks on ``dask.distributed`` workers (``workers``, ``scheduler`` or ``client``;
:mod:`~graphsparse.gnn.experiment.dask_cells`), every cell at ``threads`` torch threads so that
both give identical rows. This module owns the folder: this process (rank 0 under torchrun,
the driver under Dask) holds its lock (``DIR/.lock``) and is its only writer. Files in
``out_dir``:

* ``config.json`` — what every row shares: dataset, split, model (name, depth, width, full
  config), epochs, lr, weight decay, weight scope, method options. Written atomically on the
  first run; a later run whose config differs is refused (:class:`ConfigMismatchError`)
  before anything is written. A key missing from a stored config equals its default
  (:data:`CONFIG_DEFAULTS`), so a new option with a default never invalidates a folder.
* ``results.jsonl`` — one JSON object per finished ticket
  (:mod:`~graphsparse.gnn.experiment.rows`), appended as soon as it is trained with a single
  ``O_APPEND`` write of the complete line, followed by ``fsync``. Rows already present are
  skipped on restart, so a killed sweep resumes and produces the same rows except the timing
  fields (:data:`~graphsparse.gnn.experiment.rows.TIMING_FIELDS`).
* ``checkpoints/`` — the methods' resumable state: UGS and IMP rounds (a killed search resumes
  after its last completed round), each seed's dense run (the baseline row and TEDDY's
  teacher share it).

Iterative methods (UGS, IMP) run one search of ``K = max(levels)`` rounds per seed and report
level ``k`` as the ticket after round ``k``, trained from θ₀ with frozen masks, so
``search_epochs``/``search_seconds`` are cumulative over rounds ``1..k`` plus that run. One-shot
methods (TEDDY, random, magnitude, Jaccard, Adamic–Adar) run once per level; TEDDY's dense
teacher's epochs and seconds are added to every TEDDY row.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from graphsparse.checks import (check_bool, check_float, check_int, check_int_list,
                                check_known)
from graphsparse.devices import resolve_device
from graphsparse.fileio import append_jsonl, atomic_write, exclusive_lock, read_jsonl
from graphsparse.gnn.data import LoadedDataset, load_dataset
from graphsparse.gnn.edges import mask_graph
from graphsparse.gnn.experiment.cells import Cell, CellContext, plan_cells, run_cell
from graphsparse.gnn.experiment.dask_cells import (SweepRecipe, check_cluster_arguments,
                                                   dask_client, run_cells_on_dask)
from graphsparse.gnn.experiment.progress import (CellStatus, SweepProgress, cell_label,
                                                 quiet_library_bars)
from graphsparse.gnn.experiment.rows import TIMING_FIELDS, row_key
from graphsparse.gnn.experiment.targets import Targets
from graphsparse.gnn.methods import DEFAULT_SCOPES, METHODS, check_scope, get_method
from graphsparse.gnn.methods._common import check_granularity
from graphsparse.gnn.methods.options import check_option_values
from graphsparse.gnn.models import MODEL_NAMES, build_model
from graphsparse.gnn.train import MiniBatch, distributed

__all__ = ["CONFIG_DEFAULTS", "CONFIG_FILE", "ConfigMismatchError", "RESULTS_FILE",
           "TIMING_FIELDS", "config_differences", "read_rows", "row_key", "run_sweep"]

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.jsonl"
CHECKPOINTS = "checkpoints"
LOCK_FILE = ".lock"
#: The value of every config key added after the first sweeps were stored: a stored config
#: without the key was run with this value.
CONFIG_DEFAULTS: dict[str, Any] = {"method_options": {}, "minibatch": None, "world_size": 1,
                                   "preset": None, "normalize_features": False,
                                   "weight_granularity": "unstructured"}


class ConfigMismatchError(ValueError):
    """``out_dir`` holds a sweep with another configuration (the message lists the fields)."""


def read_rows(out_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of ``out_dir/results.jsonl`` in file order (``[]`` if there is none).

    Raises:
        ValueError: a line is not a complete JSON object (e.g. a hand-truncated file); the
            message names the line.
    """
    return read_jsonl(Path(out_dir) / RESULTS_FILE)


def config_differences(stored: dict[str, Any], current: dict[str, Any],
                       defaults: dict[str, Any] | None = None) -> list[str]:
    """One line per key whose value differs; a key missing from ``stored`` counts as its
    default (:data:`CONFIG_DEFAULTS`).

    >>> config_differences({"epochs": 200}, {"epochs": 200, "method_options": {}})
    []
    >>> config_differences({"epochs": 200}, {"epochs": 100})
    ['epochs: 200 in the directory vs 100 now']
    """
    defaults = CONFIG_DEFAULTS if defaults is None else defaults
    stored = {**{k: v for k, v in defaults.items() if k in current}, **stored}
    return [f"{k}: {stored.get(k)!r} in the directory vs {current.get(k)!r} now"
            for k in sorted(set(stored) | set(current))
            if stored.get(k) != current.get(k)
            and not (k == "weight_scope" and _same_default_scopes(stored[k], current[k]))]


_PER_METHOD = "per-method default "


def _same_default_scopes(stored: Any, current: Any) -> bool:
    """Both configs count each method in its default scope, and the methods both registries
    know have the same default (a method added to the library since does not change a
    folder's sweep).

    >>> _same_default_scopes('per-method default {"ugs": "linear"}',
    ...                      'per-method default {"fastglt": "linear", "ugs": "linear"}')
    True
    >>> _same_default_scopes('per-method default {"ugs": "linear"}', 'linear')
    False
    """
    if not (isinstance(stored, str) and isinstance(current, str)
            and stored.startswith(_PER_METHOD) and current.startswith(_PER_METHOD)):
        return False
    old, new = (json.loads(text[len(_PER_METHOD):]) for text in (stored, current))
    return all(old[name] == new[name] for name in set(old) & set(new))


def _check_config(out_dir: Path, config: dict[str, Any]) -> None:
    """Write ``config.json`` (first run) or refuse a different one (nothing is written)."""
    path = out_dir / CONFIG_FILE
    normalised = json.loads(json.dumps(config, sort_keys=True, allow_nan=False))
    if not path.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: f.write(json.dumps(normalised, indent=2, sort_keys=True)
                                             + "\n"), binary=False)
        return
    try:
        stored = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConfigMismatchError(f"{str(path)!r} is not valid JSON ({e}); use another "
                                  "--out directory") from None
    diff = config_differences(stored, normalised)
    if diff:
        raise ConfigMismatchError(f"{str(out_dir)!r} holds a sweep with another configuration "
                                  f"({'; '.join(diff)}); use another output directory or the "
                                  "same settings")


def _check_methods(methods: Sequence[str], method_options: dict[str, dict[str, Any]] | None
                   ) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """The methods, and their options with every value as its check returns it (``10`` ->
    ``10.0``)."""
    methods, checked = list(methods), {}
    if not methods:
        raise ValueError("methods must name at least one method")
    for name in methods:
        check_known(name, "method", METHODS)
    for name, options in (method_options or {}).items():
        if name not in methods:
            raise ValueError(f"method_options names {name!r}, which is not among the methods "
                             f"{methods}")
        checked[name] = check_option_values(name, get_method(name).check_options(options))
    return methods, checked


def sweep_config(dataset: LoadedDataset, *, model: str, model_kwargs: dict[str, Any],
                 hidden: int, num_layers: int, train: dict[str, Any],
                 weight_scope: str | None,
                 method_options: dict[str, dict[str, Any]],
                 minibatch: MiniBatch | None = None,
                 preset: str | None = None,
                 weight_granularity: str = "unstructured") -> dict[str, Any]:
    """The ``config.json`` of a sweep: every setting its rows share (the model's config is
    read from the architecture built on the meta device: no memory, no weights), including
    the mini-batch settings and the number of training processes (a sized synthetic graph
    carries its size in its name); the device is not part of it."""
    with torch.device("meta"):
        model_config = build_model(model, dataset.num_features, dataset.num_classes,
                                   task=dataset.task, **model_kwargs).config
    return {"dataset": dataset.name, "task": dataset.task, "split_name": dataset.split_name,
            "split_seed": dataset.split_seed, "split_index": dataset.split_index,
            "split_sizes": dataset.describe()["split_sizes"], "metric": dataset.metric,
            "normalize_features": dataset.normalize_features,
            "model": model, "num_layers": num_layers, "hidden": hidden,
            "model_config": model_config, "epochs": train["epochs"],
            "lr": float(train["lr"]), "weight_decay": float(train["weight_decay"]),
            "weight_scope": weight_scope if weight_scope is not None
            else _PER_METHOD + json.dumps(DEFAULT_SCOPES, sort_keys=True),
            "method_options": method_options, "weight_granularity": weight_granularity,
            "minibatch": None if minibatch is None else minibatch.config(),
            "world_size": distributed.world_size(), "preset": preset}


def run_sweep(out_dir: str | os.PathLike, *, dataset: str, data_root: str | os.PathLike | None
              = None, model: str = "gcn", methods: Sequence[str],
              levels: Sequence[int] | None = None, p_graph: float | None = None,
              p_weight: float | None = None, graph_sparsity: float | None = None,
              weight_sparsity: float | None = None, rounds: int | None = None,
              seeds: Sequence[int] = (0,), epochs: int = 200, lr: float = 0.01,
              weight_decay: float = 5e-4, hidden: int = 512, num_layers: int = 2,
              weight_scope: str | None = None, split_seed: int = 0,
              model_options: dict[str, Any] | None = None,
              method_options: dict[str, dict[str, Any]] | None = None, dense: bool = True,
              progress: bool = True,
              on_row: Callable[[dict[str, Any]], None] | None = None,
              device: str | torch.device | None = "auto", batch_size: int | None = None,
              num_neighbors: Sequence[int] | None = None, evaluation: str = "auto",
              dataset_options: dict[str, Any] | None = None, threads: int = 1,
              workers: int | None = None, scheduler: str | None = None,
              client: Any = None, preset: str | None = None,
              save_tickets: bool = False,
              weight_granularity: str = "unstructured") -> list[dict[str, Any]]:
    """Run (or resume) a sweep in ``out_dir`` (see the module documentation).

    Args:
        out_dir: the sweep's folder (created); holds ``config.json``, ``results.jsonl`` and
            ``checkpoints/``.
        dataset: a name of :func:`~graphsparse.gnn.data.available_datasets`.
        data_root: the data root (default :func:`graphsparse.paths.data_root`).
        model: ``"gcn"``, ``"gin"``, ``"gat"`` or ``"sage"``.
        methods: names of :data:`~graphsparse.gnn.methods.METHODS`.
        levels, p_graph, p_weight, graph_sparsity, weight_sparsity, rounds: the targets, as
            :meth:`Targets.from_arguments <graphsparse.gnn.experiment.targets.Targets.
            from_arguments>` takes them (grid rates default to 0.05 / 0.2, rounds to 20).
        seeds: model-initialisation and training seeds (ints >= 0).
        epochs, lr, weight_decay: every training run (Adam).
        hidden, num_layers: width (total) and depth of the model.
        weight_scope: ``"linear"``, ``"all"`` or None (each method's default scope).
        weight_granularity: ``"unstructured"`` (default) or ``"neuron"``: every method
            prunes whole hidden units (:mod:`graphsparse.masks.neurons`); recorded in
            ``config.json`` (a folder without the key holds an unstructured sweep).
        split_seed: seed of the random split for datasets without a fixed one.
        model_options: further :func:`~graphsparse.gnn.models.build_model` options.
        method_options: ``{method: {option: value}}``, e.g. ``{"teddy": {"lamb": 10.0}}``
            (the options of :data:`~graphsparse.gnn.methods.options.OPTION_CHECKS`, each
            checked); recorded in ``config.json``.
        save_tickets: also save every ticket row's ticket in ``out_dir/tickets/`` (masks,
            θ₀, trained weights; :mod:`~graphsparse.gnn.experiment.saved`), for
            ``glt export``. Not part of the config: rows already present are not revisited.
        preset: the name of the preset the arguments came from (recorded in ``config.json``;
            :func:`~graphsparse.gnn.experiment.presets.apply_preset` resolves one).
        dense: also record the dense baseline (level 0) per seed.
        progress: show a bar over the rows and a status line of the running cells (epoch,
            best validation metric) on stderr; False also silences ogb's processing bars.
        on_row: called with each row after it is appended (e.g. to stop a sweep early).
        device: where every run trains: ``"auto"`` (CUDA when available), ``"cpu"``,
            ``"cuda"``, ``"cuda:N"`` (:func:`graphsparse.devices.resolve_device`); under
            torchrun with CUDA each rank uses ``cuda:LOCAL_RANK``. Recorded in each row, not in
            the config.
        batch_size, num_neighbors: mini-batch training with neighbour sampling (give both;
            one fan-out per layer, ``-1`` = all): seed nodes (node tasks) or positive edges
            (link tasks) per step. Required under torchrun (each rank trains its shard).
        evaluation: mini-batch evaluation, ``"auto"``, ``"full-graph"`` or ``"sampled"``
            (:mod:`graphsparse.gnn.train.minibatch`).
        dataset_options: further :func:`~graphsparse.gnn.data.load_dataset` options (e.g.
            ``{"sbm_nodes": 2_000_000, "sbm_degree": 20}``), recorded in the config.
        threads: torch's intra-op threads per cell (int >= 1), the same in-process and on
            Dask workers, so that both give identical rows.
        workers: run the cells on a Dask ``LocalCluster`` of this many single-threaded worker
            processes (:mod:`~graphsparse.gnn.experiment.dask_cells`); None: in this process.
        scheduler: run the cells on the running Dask cluster at this address
            (``tcp://HOST:PORT``), whose workers share the data root and ``out_dir``.
        client: run the cells through this ``distributed.Client`` (not closed here).
            At most one of ``workers``, ``scheduler`` and ``client``; none under torchrun.

    Returns:
        Every row of ``results.jsonl`` after the sweep, in file order.

    Raises:
        ValueError: unknown dataset/model/method (valid names listed), targets or levels out of
            range, both or neither target form, an option a method does not take.
        ConfigMismatchError: ``out_dir`` holds a sweep with another configuration.
        DatasetNotFoundError: the data root lacks the dataset's raw files.
    """
    methods, method_options = _check_methods(methods, method_options)
    check_known(model, "model", MODEL_NAMES)
    if weight_scope is not None:
        check_scope(weight_scope)
    weight_granularity = check_granularity(weight_granularity)
    seeds = sorted(set(check_int_list(seeds, "seeds", low=0)))
    targets = Targets.from_arguments(levels=levels, p_graph=p_graph, p_weight=p_weight,
                                     graph_sparsity=graph_sparsity,
                                     weight_sparsity=weight_sparsity, rounds=rounds)
    for name, value in (("epochs", epochs), ("hidden", hidden), ("num_layers", num_layers)):
        check_int(value, name, low=1)
    if method_options.get("imp", {}).get("rewind_epoch", 0) >= epochs:
        raise ValueError(f"imp option rewind_epoch must be an int in [0, epochs - 1] = [0, "
                         f"{epochs - 1}], got {method_options['imp']['rewind_epoch']}")
    lr = check_float(lr, "lr", low=0.0, open_low=True)
    weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
    minibatch = _minibatch(batch_size, num_neighbors, evaluation, num_layers)
    check_int(threads, "threads", low=1)
    _check_cluster(workers, scheduler, client)
    device = _device(device)
    with quiet_library_bars(not progress):
        loaded = load_dataset(dataset, data_root, split_seed=split_seed,
                              **(dataset_options or {}))
    if minibatch is not None:
        _check_world_size(loaded)
    model_kwargs = {"hidden": hidden, "num_layers": num_layers, **(model_options or {})}
    if loaded.num_features == 0 and "num_nodes" not in model_kwargs:
        # a featureless graph (ogbl-ddi) learns one input embedding per node
        model_kwargs["num_nodes"] = int(loaded.data.num_nodes)
    train = {"epochs": epochs, "lr": lr, "weight_decay": weight_decay}
    config = sweep_config(loaded, model=model, model_kwargs=model_kwargs, hidden=hidden,
                          num_layers=num_layers, train=train, weight_scope=weight_scope,
                          method_options=method_options or {}, minibatch=minibatch,
                          preset=preset, weight_granularity=weight_granularity)
    out_dir = Path(out_dir)
    context = _context(loaded, config, model, model_kwargs, weight_scope, train,
                       _with_granularity(methods, method_options, weight_granularity),
                       out_dir, device, minibatch, threads)
    if check_bool(save_tickets, "save_tickets"):
        context = replace(context, tickets_dir=out_dir)
    cluster = None if (workers, scheduler, client) == (None, None, None) else \
        (client, _recipe(context, dataset, data_root, split_seed, dataset_options, progress),
         workers, scheduler)
    with _writer_lock(out_dir):
        if distributed.is_writer():
            _check_config(out_dir, config)
        distributed.barrier()
        _run_cells(out_dir, plan_cells(methods, targets, seeds, dense), context,
                   progress and distributed.is_writer(), on_row, cluster)
    return read_rows(out_dir)


def _with_granularity(methods: list[str], method_options: dict[str, dict[str, Any]],
                      granularity: str) -> dict[str, dict[str, Any]]:
    """Every method's options with ``weight_granularity`` added when it is not the default
    (an unstructured sweep passes exactly the options it always did)."""
    if granularity == "unstructured":
        return method_options
    return {**method_options, **{m: {**method_options.get(m, {}),
                                     "weight_granularity": granularity} for m in methods}}


def _context(loaded: LoadedDataset, config: dict[str, Any], model: str,
             model_kwargs: dict[str, Any], weight_scope: str | None, train: dict[str, Any],
             method_options: dict[str, dict[str, Any]] | None, out_dir: Path,
             device: torch.device, minibatch: MiniBatch | None, threads: int) -> CellContext:
    """What every cell of the sweep shares."""
    return CellContext(
        dataset=loaded, graph=mask_graph(loaded),
        identity={"dataset": config["dataset"], "split_seed": config["split_seed"],
                  "model": model},
        model_name=model, model_kwargs=model_kwargs, weight_scope=weight_scope, train=train,
        method_options=method_options or {}, checkpoint_dir=out_dir / CHECKPOINTS,
        device=device, minibatch=minibatch, threads=threads)


def _recipe(context: CellContext, dataset: str, data_root: str | os.PathLike | None,
            split_seed: int, dataset_options: dict[str, Any] | None,
            progress: bool) -> SweepRecipe:
    """What Dask workers rebuild ``context`` from (absolute paths: workers may run elsewhere)."""
    return SweepRecipe(
        dataset=dataset, data_root=None if data_root is None else str(Path(data_root).resolve()),
        split_seed=split_seed, dataset_options=dict(dataset_options or {}),
        identity=context.identity, model_name=context.model_name,
        model_kwargs=context.model_kwargs, weight_scope=context.weight_scope,
        train=context.train, method_options=context.method_options,
        checkpoint_dir=str(Path(context.checkpoint_dir).resolve()),
        device=str(context.device), minibatch=context.minibatch, threads=context.threads,
        tickets_dir=None if context.tickets_dir is None
        else str(Path(context.tickets_dir).resolve()),
        progress=progress)


def _check_cluster(workers: int | None, scheduler: str | None, client: Any) -> None:
    """The Dask arguments, checked; refused under torchrun (one or the other distributes)."""
    check_cluster_arguments(workers, scheduler, client)
    if (workers, scheduler, client) != (None, None, None) \
            and distributed.environment_world_size() > 1:
        raise ValueError("workers/scheduler/client (Dask) cannot be combined with torchrun: "
                         "run the sweep's cells on Dask workers, or one cell at a time on "
                         "torchrun's processes, not both")


@contextlib.contextmanager
def _writer_lock(out_dir: Path) -> Iterator[None]:
    """The output folder's one-writer lock (``DIR/.lock``), taken by the writing process (rank
    0 under torchrun) for the whole run; a second run on the folder fails at once."""
    if not distributed.is_writer():
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(out_dir / LOCK_FILE, "output directory"):
        yield


def _minibatch(batch_size: int | None, num_neighbors: Sequence[int] | None, evaluation: str,
               num_layers: int) -> MiniBatch | None:
    """The sweep's mini-batch settings (None: full batch), checked against the depth."""
    if batch_size is None and num_neighbors is None:
        if distributed.environment_world_size() > 1:
            raise ValueError("multi-process training (torchrun) trains mini-batches: give "
                             "batch_size and num_neighbors (--batch-size, --num-neighbors)")
        return None
    if batch_size is None or num_neighbors is None:
        raise ValueError("mini-batch training needs both batch_size and num_neighbors "
                         "(--batch-size B --num-neighbors 15,10)")
    minibatch = MiniBatch(batch_size, tuple(num_neighbors), evaluation)
    if len(minibatch.num_neighbors) != num_layers:
        raise ValueError(f"num_neighbors has {len(minibatch.num_neighbors)} fan-outs but the "
                         f"model has num_layers={num_layers} message-passing layers; give one "
                         "fan-out per layer")
    return minibatch


def _check_world_size(dataset: LoadedDataset) -> None:
    """``ValueError`` (before anything is written) when there are more training processes than
    training seeds (nodes, or positive edges) to shard."""
    train = dataset.split["train"]
    seeds = int(train["edge"].size(0)) if isinstance(train, dict) else int(train.sum())
    if distributed.world_size() > seeds:
        raise ValueError(f"world size {distributed.world_size()} is larger than the number of "
                         f"training seeds of {dataset.name} ({seeds}); use at most {seeds} "
                         "processes")


def _device(device: str | torch.device | None) -> torch.device:
    """The sweep's device; under torchrun with CUDA, this rank's ``cuda:LOCAL_RANK``; joins
    the process group torchrun describes."""
    resolved = resolve_device(device)
    if resolved.type == "cuda" and distributed.environment_world_size() > 1:
        resolved = resolve_device(f"cuda:{os.environ.get('LOCAL_RANK', '0')}")
        torch.cuda.set_device(resolved)
    distributed.init_from_environment(resolved)
    return resolved


def _run_cells(out_dir: Path, cells: list[Cell], context: CellContext, progress: bool,
               on_row: Callable[[dict[str, Any]], None] | None,
               cluster: tuple[Any, SweepRecipe, int | None, str | None] | None) -> None:
    """Run the cells that still have a row to write — in order in this process, or on Dask
    when ``cluster`` is ``(client, recipe, workers, scheduler)`` — and append each new row
    once (the writer alone)."""
    done = distributed.from_writer(
        {row_key(row) for row in read_rows(out_dir)} if distributed.is_writer() else None)
    planned = [key for cell in cells for key in context.row_keys(cell)]
    todo = [cell for cell in cells if not all(key in done for key in context.row_keys(cell))]
    bar = SweepProgress(len(planned), sum(key in done for key in planned),
                        f"glt {context.identity['dataset']}", enabled=progress)

    def write(row: dict[str, Any]) -> None:  # rows reach here on the writer (rank 0) only
        if row_key(row) in done:
            return
        append_jsonl(out_dir / RESULTS_FILE, row)
        done.add(row_key(row))
        bar.row_written()
        if on_row is not None:
            on_row(row)

    try:
        if cluster is None:
            _run_in_process(todo, context, bar if progress else None, write)
            return
        client, recipe, workers, scheduler = cluster
        with contextlib.nullcontext(client) if client is not None \
                else dask_client(workers, scheduler) as dask:
            run_cells_on_dask(dask, todo, recipe, write, bar)
    finally:
        bar.close()


def _run_in_process(cells: list[Cell], context: CellContext, progress: SweepProgress | None,
                    write: Callable[[dict[str, Any]], None]) -> None:
    """Run ``cells`` one after another here, showing each one's status line."""
    for cell in cells:
        label = cell_label(cell)
        status = CellStatus(label, context.train["epochs"])

        def show(_cell: Cell, record: Any, status: CellStatus = status) -> None:
            status.update(record)
            progress.show(status.label, status.text())

        run_cell(cell, replace(context, on_epoch=show if progress is not None else None),
                 on_row=write)
        if progress is not None:
            progress.cell_done(label)
