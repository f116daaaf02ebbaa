"""What a running sweep shows on stderr: one bar over its rows and one status line per cell.

:class:`SweepProgress` draws, refreshed in place, a bar of rows done / planned (its ETA comes
from the rows finished in this run) and beneath it a status line naming each running cell
with its epoch and best validation metric so far (:class:`CellStatus`, fed by the method
interface's ``on_epoch``). An in-process sweep feeds it directly; a distributed sweep
(:mod:`~graphsparse.gnn.experiment.dask_cells`) sends each cell's status text from its worker
to the driver, which draws the same two lines. ``enabled=False`` (``--no-progress``) draws
nothing, and :func:`quiet_library_bars` also silences the bars ogb draws while it processes
raw files.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

from graphsparse.gnn.experiment.cells import Cell
from graphsparse.gnn.train import EpochRecord

__all__ = ["CellStatus", "SweepProgress", "cell_label", "quiet_library_bars"]

#: The ogb modules that draw tqdm bars while they read or download raw files.
_OGB_BAR_MODULES = ("ogb.io.read_graph_raw", "ogb.io.read_graph_pyg", "ogb.utils.url")


def cell_label(cell: Cell) -> str:
    """A short name of a cell: ``"teddy L3 s0"``, ``"ugs s1"`` (a search over all levels),
    ``"dense s0"``.

    >>> cell_label(Cell("dense", 0))
    'dense s0'
    """
    levels = None if cell.targets is None else cell.targets.levels
    if levels is not None and len(levels) == 1:
        return f"{cell.method} L{levels[0]} s{cell.seed}"
    return f"{cell.method} s{cell.seed}"


class CellStatus:
    """The status text of one running cell: its label, the training run within the cell (an
    iterative search or TEDDY trains several), the epoch and the best validation metric of
    the current run so far.

    >>> status = CellStatus("random L1 s0", epochs=50)
    >>> status.update(EpochRecord(3, 0.5, 0.71, 0.70, 0.01, 0.0, True))
    >>> status.text()
    'random L1 s0 epoch 3/50 best val 0.7100'
    """

    def __init__(self, label: str, epochs: int) -> None:
        self.label, self.epochs = label, epochs
        self.run, self.epoch, self.best_val = 1, 0, None

    def update(self, record: EpochRecord) -> None:
        """Take one epoch's record (an epoch number that does not grow starts a new run)."""
        if record.epoch <= self.epoch:
            self.run, self.best_val = self.run + 1, None
        self.epoch = record.epoch
        if record.val is not None and (record.best or self.best_val is None):
            self.best_val = record.val

    def text(self) -> str:
        run = f" run {self.run}" if self.run > 1 else ""
        best = "" if self.best_val is None else f" best val {self.best_val:.4f}"
        return f"{self.label}{run} epoch {self.epoch}/{self.epochs}{best}"


class SweepProgress:
    """The bar over a sweep's rows and the status line of its running cells (stderr).

    Args:
        planned: rows the sweep plans; done: rows already in the folder (a resumed sweep).
        desc: the bar's title; enabled: False draws nothing.
        min_interval: seconds between two redraws of the status line.
    """

    def __init__(self, planned: int, done: int, desc: str, enabled: bool = True,
                 min_interval: float = 0.2) -> None:
        from tqdm.auto import tqdm

        self.enabled, self.min_interval = enabled, min_interval
        self._lock, self._status, self._drawn = threading.Lock(), {}, 0.0
        self.bar = tqdm(total=planned, initial=done, desc=desc, unit="row",
                        disable=not enabled, dynamic_ncols=True)
        self.line = tqdm(total=0, bar_format="{desc}", position=1, leave=False,
                         disable=not enabled, dynamic_ncols=True)

    def show(self, label: str, text: str, force: bool = False) -> None:
        """Set the status of cell ``label`` and redraw (at most every ``min_interval`` s)."""
        with self._lock:
            self._status[label] = text
            self._redraw(force)

    def cell_done(self, label: str) -> None:
        """Drop a finished cell from the status line."""
        with self._lock:
            self._status.pop(label, None)
            self._redraw(force=True)

    def row_written(self) -> None:
        """Advance the bar by one row."""
        with self._lock:
            self.bar.update(1)

    def close(self) -> None:
        with self._lock:
            self.line.close()
            self.bar.close()

    def _redraw(self, force: bool) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._drawn < self.min_interval):
            return
        self._drawn = now
        self.line.set_description_str(" | ".join(self._status[k] for k in sorted(self._status)))


@contextlib.contextmanager
def quiet_library_bars(quiet: bool = True) -> Iterator[None]:
    """Within the block, the progress bars ogb draws while it reads raw files are disabled
    (``quiet=False``: a no-op). Other libraries' output is untouched."""
    if not quiet:
        yield
        return
    patched: list[tuple[Any, Any]] = []
    for name in _OGB_BAR_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "tqdm"):
            patched.append((module, module.tqdm))
            module.tqdm = partial(module.tqdm, disable=True)
    try:
        yield
    finally:
        for module, original in patched:
            module.tqdm = original
