"""A sweep's cells on ``dask.distributed``: :func:`dask_client` and :func:`run_cells_on_dask`.

The driver (the process that called :func:`~graphsparse.gnn.experiment.sweep.run_sweep`) submits
every cell that still has a row to write as one Dask task and stays the only writer: a task
returns its cell's rows, and the driver appends each row whose key is not in the folder yet.
So resume, the config check and row identity are those of an in-process sweep, and a worker
that dies mid-cell — Dask reschedules its task on another worker — still yields each row
exactly once.

Workers rebuild the sweep's :class:`~graphsparse.gnn.experiment.cells.CellContext` from a small
picklable :class:`SweepRecipe` (the dataset is loaded once per worker process, through the
same processed cache), run each cell at the sweep's thread count and send the cell's status
line to the driver as Dask events (topic :data:`PROGRESS_TOPIC`). Dense cells are submitted
first, at a higher priority; a cell of a method that reads the seed's dense run (TEDDY's
teacher) waits for that seed's dense cell. With CUDA, worker ``i`` (LocalCluster names its
workers ``0..N-1``) trains on GPU ``i mod n``.

Clusters: ``--workers N`` starts a ``LocalCluster`` of N single-threaded worker processes for
the run; ``--scheduler tcp://HOST:PORT`` connects to a running cluster — any Dask deployment,
e.g. ``dask-jobqueue``'s ``SLURMCluster`` or ``dask scheduler`` / ``dask worker`` started by
hand — whose workers have graphsparse installed and see the same data root and output folder
(a shared file system).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from graphsparse.checks import check_int
from graphsparse.devices import resolve_device
from graphsparse.gnn.experiment.cells import Cell, CellContext, run_cell
from graphsparse.gnn.experiment.progress import CellStatus, SweepProgress, cell_label
from graphsparse.gnn.methods import get_method
from graphsparse.gnn.train import MiniBatch

__all__ = ["PROGRESS_TOPIC", "SweepRecipe", "check_cluster_arguments", "dask_client",
           "run_cells_on_dask"]

#: The Dask event topic on which workers report their cells' status lines.
PROGRESS_TOPIC = "graphsparse-sweep-progress"
#: Seconds between two status events of one cell.
_EVENT_INTERVAL = 0.5


@dataclass(frozen=True)
class SweepRecipe:
    """What a worker needs to rebuild a sweep's cell context (picklable, no tensors)."""

    dataset: str
    data_root: str | None
    split_seed: int
    dataset_options: dict[str, Any]
    identity: dict[str, Any]
    model_name: str
    model_kwargs: dict[str, Any]
    weight_scope: str | None
    train: dict[str, Any]
    method_options: dict[str, dict[str, Any]]
    checkpoint_dir: str
    device: str
    minibatch: MiniBatch | None = None
    threads: int = 1
    tickets_dir: str | None = None
    progress: bool = field(default=True, compare=False)

    def key(self) -> str:
        """A string that identifies the context this recipe builds."""
        return json.dumps({k: v for k, v in asdict(self).items() if k != "progress"},
                          sort_keys=True, default=str)


def check_cluster_arguments(workers: int | None, scheduler: str | None,
                            client: Any) -> None:
    """``ValueError`` unless at most one of ``workers`` (an int >= 1), ``scheduler`` (a Dask
    address such as ``tcp://HOST:PORT``) and ``client`` is given."""
    given = [name for name, value in (("workers", workers), ("scheduler", scheduler),
                                      ("client", client)) if value is not None]
    if len(given) > 1:
        raise ValueError(f"give at most one of workers, scheduler and client; got {given}")
    if workers is not None:
        check_int(workers, "workers", low=1)
    if scheduler is not None and (not isinstance(scheduler, str) or "://" not in scheduler):
        raise ValueError(f"scheduler must be a Dask scheduler address such as "
                         f"'tcp://HOST:PORT', got {scheduler!r}")


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: of a ``LocalCluster`` of ``workers`` single-threaded worker
    processes started (and closed) here, or connected to the running ``scheduler``."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=40) as cluster, \
            Client(cluster) as client:
        yield client


_CONTEXTS: dict[str, CellContext] = {}


def _worker_context(recipe: SweepRecipe) -> CellContext:
    """The cell context of ``recipe`` in this worker process (built once, then reused)."""
    key = recipe.key()
    if key not in _CONTEXTS:
        from graphsparse.gnn.data import load_dataset
        from graphsparse.gnn.edges import mask_graph

        loaded = load_dataset(recipe.dataset, recipe.data_root, split_seed=recipe.split_seed,
                              **recipe.dataset_options)
        _CONTEXTS.clear()
        _CONTEXTS[key] = CellContext(
            dataset=loaded, graph=mask_graph(loaded), identity=recipe.identity,
            model_name=recipe.model_name, model_kwargs=recipe.model_kwargs,
            weight_scope=recipe.weight_scope, train=recipe.train,
            method_options=recipe.method_options, checkpoint_dir=Path(recipe.checkpoint_dir),
            device=_worker_device(recipe.device), minibatch=recipe.minibatch,
            threads=recipe.threads,
            tickets_dir=None if recipe.tickets_dir is None else Path(recipe.tickets_dir))
    return _CONTEXTS[key]


def _worker_device(device: str) -> torch.device:
    """The recipe's device; for CUDA, GPU ``i mod n`` on the worker named ``i``."""
    resolved = resolve_device(device)
    if resolved.type != "cuda":
        return resolved
    from distributed import get_worker

    name = str(get_worker().name)
    index = int(name) if name.isdigit() else 0
    return resolve_device(f"cuda:{index % torch.cuda.device_count()}")


def _run_remote(cell: Cell, recipe: SweepRecipe, *after: Any) -> list[dict[str, Any]]:
    """Run ``cell`` in a worker and return its rows (``after``: results waited for)."""
    from distributed import get_worker

    context = _worker_context(recipe)
    label, worker = cell_label(cell), get_worker()
    status, sent = CellStatus(label, recipe.train["epochs"]), [0.0]

    def report(record: Any) -> None:
        status.update(record)
        now = time.monotonic()
        if now - sent[0] >= _EVENT_INTERVAL:
            sent[0] = now
            worker.log_event(PROGRESS_TOPIC, {"sweep": recipe.checkpoint_dir, "cell": label,
                                              "text": status.text()})

    on_epoch = (lambda _cell, record: report(record)) if recipe.progress else None
    return run_cell(cell, replace(context, on_epoch=on_epoch))


def _submit(client: Any, cells: list[Cell], recipe: SweepRecipe) -> dict[Any, Cell]:
    """Submit every cell (dense cells first and at a higher priority; a cell of a method that
    reads the dense run waits for its seed's dense cell)."""
    futures: dict[Any, Cell] = {}
    dense: dict[int, Any] = {}
    for cell in sorted(cells, key=lambda c: c.method != "dense"):
        after = []
        if cell.method != "dense" and get_method(cell.method).uses_dense_run \
                and cell.seed in dense:
            after = [dense[cell.seed]]
        future = client.submit(_run_remote, cell, recipe, *after, pure=False,
                               priority=1 if cell.method == "dense" else 0,
                               key=f"glt-{cell_label(cell).replace(' ', '-')}-"
                                   f"{time.time_ns()}")
        if cell.method == "dense":
            dense[cell.seed] = future
        futures[future] = cell
    return futures


def run_cells_on_dask(client: Any, cells: list[Cell], recipe: SweepRecipe,
                      write: Callable[[dict[str, Any]], None],
                      progress: SweepProgress) -> None:
    """Run ``cells`` as Dask tasks on ``client``; ``write`` each returned row in the driver as
    its cell finishes. A failing cell cancels the others and raises its error (rows written
    so far stay)."""
    from distributed import as_completed

    def on_event(event: Any) -> None:
        _, message = event
        if message.get("sweep") == recipe.checkpoint_dir:  # another sweep on the cluster
            progress.show(message["cell"], message["text"])

    if recipe.progress:
        client.subscribe_topic(PROGRESS_TOPIC, on_event)
    futures = _submit(client, cells, recipe)
    try:
        for future in as_completed(list(futures)):
            rows = future.result()
            for row in rows:
                write(row)
            progress.cell_done(cell_label(futures[future]))
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        if recipe.progress:
            client.unsubscribe_topic(PROGRESS_TOPIC)
