"""Experiments with graph lottery tickets: targets, one ticket, sweeps of cells, reports.

* :mod:`~graphsparse.gnn.experiment.targets` — :class:`Targets` (a grid of levels or direct
  sparsities), validated once, and the points a search reports;
* :mod:`~graphsparse.gnn.experiment.ticket` — :func:`find_ticket` and :class:`Ticket`;
* :mod:`~graphsparse.gnn.experiment.cells` — a sweep as independent cells, :func:`run_cell`;
* :mod:`~graphsparse.gnn.experiment.rows` — result rows from a method's results;
* :mod:`~graphsparse.gnn.experiment.sweep` — :func:`run_sweep` and its folder;
* :mod:`~graphsparse.gnn.experiment.report` — :func:`summarise` and :func:`plot`;
* :mod:`~graphsparse.gnn.experiment.export` — deployable tickets; :mod:`~graphsparse.gnn.
  experiment.saved` — a sweep's saved tickets and ``glt export``.
"""

from graphsparse.gnn.experiment.cells import Cell, CellContext, plan_cells, run_cell
from graphsparse.gnn.experiment.report import Summary, plot, summarise
from graphsparse.gnn.experiment.rows import TIMING_FIELDS, make_row, row_key
from graphsparse.gnn.experiment.sweep import (
    ConfigMismatchError,
    config_differences,
    read_rows,
    run_sweep,
)
from graphsparse.gnn.experiment.targets import TargetPoint, Targets
from graphsparse.gnn.experiment.export import ExportedTicket, export_ticket, load_exported
from graphsparse.gnn.experiment.saved import export_from_run, saved_ticket
from graphsparse.gnn.experiment.ticket import Ticket, as_dataset, find_ticket, load_ticket

__all__ = [
    "ExportedTicket",
    "export_from_run",
    "export_ticket",
    "load_exported",
    "saved_ticket",
    "TIMING_FIELDS",
    "Cell",
    "CellContext",
    "ConfigMismatchError",
    "Summary",
    "TargetPoint",
    "Targets",
    "Ticket",
    "as_dataset",
    "config_differences",
    "find_ticket",
    "load_ticket",
    "make_row",
    "plan_cells",
    "plot",
    "read_rows",
    "row_key",
    "run_cell",
    "run_sweep",
    "summarise",
]
