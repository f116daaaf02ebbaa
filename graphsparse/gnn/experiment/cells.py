"""A sweep as independent cells: :func:`plan_cells` and the pure :func:`run_cell`.

A **cell** is the smallest unit of a sweep that can run on its own: the dense baseline of a
seed, an iterative method's search for a seed (UGS, IMP: one search of ``max(levels)`` rounds
reports every level), or a one-shot method's ticket at one level for a seed. Cells share
nothing but files in the sweep's ``checkpoints/`` folder (resumable round state, the dense
run that TEDDY distils from), so they can run in any order, in one process or on many
workers; :func:`plan_cells` lists them per seed, dense first.

:func:`run_cell` builds the seed's θ₀ (``torch.manual_seed(seed)``, then ``build_model``), calls
the method's one entry point (:meth:`~graphsparse.gnn.methods.base.Method.search`) and turns
each reported ticket into a row (:func:`~graphsparse.gnn.experiment.rows.make_row`) without
recounting anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from graphsparse.fileio import append_jsonl, read_jsonl
from graphsparse.gnn.edges import MaskGraph
from graphsparse.gnn.experiment.rows import make_row, row_key
from graphsparse.gnn.experiment.targets import DENSE_POINT, TargetPoint, Targets
from graphsparse.gnn.methods import DENSE, LevelResult, TrainConfig, get_method
from graphsparse.gnn.models import build_model
from graphsparse.gnn.train import EpochRecord, MiniBatch, distributed

__all__ = ["Cell", "CellContext", "plan_cells", "run_cell", "torch_threads"]

@dataclass(frozen=True)
class Cell:
    """One independent unit of a sweep: ``method`` (or ``"dense"``) for ``seed`` at
    ``targets`` (None for the dense baseline)."""

    method: str
    seed: int
    targets: Targets | None = None

    def points(self) -> list[TargetPoint]:
        """The tickets (rows) this cell reports."""
        if self.targets is None:
            return [DENSE_POINT]
        return self.targets.points(iterative=get_method(self.method).iterative)


def plan_cells(methods: list[str], targets: Targets, seeds: list[int],
               dense: bool = True) -> list[Cell]:
    """Every cell of a sweep in execution order: per seed, the dense baseline (if ``dense``),
    then each method — one cell per iterative search, one per level of a one-shot method."""
    cells = []
    for seed in seeds:
        if dense:
            cells.append(Cell("dense", seed))
        for name in methods:
            if get_method(name).iterative or not targets.is_grid:
                cells.append(Cell(name, seed, targets))
                continue
            cells.extend(Cell(name, seed, Targets(levels=(level,), p_graph=targets.p_graph,
                                                  p_weight=targets.p_weight))
                         for level in targets.levels)
    return cells


@dataclass
class CellContext:
    """What every cell of one sweep shares (read-only while cells run).

    Attributes:
        dataset: the LoadedDataset; graph: its mask graph.
        identity: ``dataset``, ``split_seed``, ``model`` of every row.
        model_name, model_kwargs: :func:`~graphsparse.gnn.models.build_model` arguments.
        weight_scope: a scope for every method, or None for each method's default.
        train: ``epochs``, ``lr``, ``weight_decay`` of every training run.
        method_options: ``{method: {option: value}}``.
        checkpoint_dir: the sweep's ``checkpoints/`` folder (None: nothing kept).
        tickets_dir: the sweep folder whose ``tickets/`` receives every ticket row's
            :class:`~graphsparse.gnn.experiment.ticket.Ticket`
            (:mod:`~graphsparse.gnn.experiment.saved`), written before its row; None: none.
        on_epoch: called as ``on_epoch(cell, record)`` after every epoch (progress).
        device: where every run trains; minibatch: mini-batch settings (None: full batch).
        threads: torch's intra-op thread count while a cell runs (None: leave it as it is);
            a sweep fixes it so that in-process and distributed rows are identical.
    """

    dataset: Any
    graph: MaskGraph
    identity: dict[str, Any]
    model_name: str
    model_kwargs: dict[str, Any]
    weight_scope: str | None
    train: dict[str, Any]
    method_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    checkpoint_dir: Path | None = None
    tickets_dir: Path | None = None
    on_epoch: Callable[[Cell, EpochRecord], None] | None = None
    device: torch.device = torch.device("cpu")
    minibatch: MiniBatch | None = None
    threads: int | None = None

    def initial_model(self, seed: int) -> nn.Module:
        """The seed's θ₀: ``torch.manual_seed(seed)``, then ``build_model``."""
        torch.manual_seed(seed)
        return build_model(self.model_name, self.dataset.num_features,
                           self.dataset.num_classes, task=self.dataset.task,
                           **self.model_kwargs)

    def row_identity(self, cell: Cell, point: TargetPoint) -> dict[str, Any]:
        """The identity fields of the row of ``point`` in ``cell``."""
        return {**self.identity, "method": cell.method, **point.identity(), "seed": cell.seed}

    def row_keys(self, cell: Cell) -> list[tuple]:
        """The keys (:func:`~graphsparse.gnn.experiment.rows.row_key`) of the cell's rows."""
        return [row_key(self.row_identity(cell, point)) for point in cell.points()]


def run_cell(cell: Cell, context: CellContext,
             on_row: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Run one cell and return its rows; ``on_row`` receives each row as soon as its ticket is
    trained (an iterative search reports level after level)."""
    method = DENSE if cell.method == "dense" else get_method(cell.method)
    template = context.initial_model(cell.seed)
    rows_file = _rows_file(cell, context)
    rows: list[dict[str, Any]] = read_jsonl(rows_file) if rows_file is not None else []
    for row in rows:  # an earlier attempt's rows (e.g. a killed Dask worker's)
        if on_row is not None:
            on_row(row)

    def on_level(level: LevelResult) -> None:
        result = level.result
        distributed.check_agreement(
            [t for t in (result.edge_mask, *result.weight_masks.values()) if t is not None],
            f"the masks of {cell.method} seed {cell.seed} at {level.point.identity()}")
        if not distributed.is_writer():
            return
        if context.tickets_dir is not None and cell.method != "dense":
            _save_ticket(cell, context, level, template)
        rows.append(make_row(context.row_identity(cell, level.point), level,
                             dataset=context.dataset, graph=context.graph, template=template,
                             device=str(context.device)))
        if rows_file is not None:
            append_jsonl(rows_file, rows[-1])
        if on_row is not None:
            on_row(rows[-1])

    on_epoch = None if context.on_epoch is None else \
        (lambda record: context.on_epoch(cell, record))
    with torch_threads(context.threads):
        method.search(template, context.dataset, cell.targets, scope=context.weight_scope,
                      train_config=TrainConfig(seed=cell.seed, device=context.device,
                                               minibatch=context.minibatch, **context.train),
                      method_options=context.method_options.get(cell.method),
                      on_level=on_level, on_epoch=on_epoch,
                      checkpoint_dir=context.checkpoint_dir)
    return rows


def _save_ticket(cell: Cell, context: CellContext, level: LevelResult,
                 template: nn.Module) -> None:
    """Write the ticket of ``level`` to the sweep's ``tickets/`` (atomic)."""
    from graphsparse.gnn.experiment.saved import ticket_path
    from graphsparse.gnn.experiment.ticket import method_config, ticket_from_result

    result = level.result
    config = method_config(cell.method, cell.targets, level.point,
                           get_method(cell.method).iterative, result.weight_scope,
                           context.train, cell.seed,
                           context.method_options.get(cell.method) or {})
    ticket = ticket_from_result(result, context.dataset, getattr(template, "config", None),
                                cell.method, config, result.weight_scope)
    path = ticket_path(context.tickets_dir, context.row_identity(cell, level.point))
    path.parent.mkdir(parents=True, exist_ok=True)
    ticket.save(path)


def _rows_file(cell: Cell, context: CellContext) -> Path | None:
    """The cell's own copy of its rows (``checkpoints/rows-<method>-seed<s>-<hash>.jsonl``),
    appended as each row is made, before the method marks its round reported: a cell run
    again after a kill (a Dask worker's rows reach the writer only when the cell ends) returns
    every row, also those of rounds its checkpoint says are done. None without a checkpoint
    folder."""
    if context.checkpoint_dir is None or not distributed.is_writer():
        return None
    keys = hashlib.sha1(json.dumps(context.row_keys(cell), default=str).encode()).hexdigest()
    folder = Path(context.checkpoint_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"rows-{cell.method}-seed{cell.seed}-{keys[:12]}.jsonl"


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Within the block torch uses ``threads`` intra-op threads (None: unchanged); the previous
    count is restored after."""
    if threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
