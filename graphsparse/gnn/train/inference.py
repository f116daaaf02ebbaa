"""Timing one inference pass of a trained model under an edge mask: :func:`measure_inference`
(what :func:`~graphsparse.gnn.train.train_model` reports with ``time_inference=True``)."""

from __future__ import annotations

import statistics
import time
from typing import Any

from torch import nn

from graphsparse.checks import check_int
from graphsparse.gnn.train.tasks import Task, make_task

__all__ = ["measure_inference", "timed_inference"]


def timed_inference(task: Task, model: nn.Module, repeats: int) -> float:
    """Median seconds of ``repeats`` inference passes of ``task`` after one warm-up."""
    with task.masked(model):
        task.inference(model)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            task.inference(model)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_inference(model: nn.Module, dataset: Any, *, edge_mask: Any = None,
                      mode: str = "remove", batch_size: int | None = None,
                      repeats: int = 5) -> float:
    """Median wall-clock seconds of one inference pass under an edge mask (after a warm-up).

    One pass is what evaluation needs on the test part: node: a full-graph forward; link: the
    encoder forward plus scoring the test pairs; graph: a forward over the test graphs. Eval
    mode, no gradients; in ``"remove"`` mode the pruned edges are physically gone.
    """
    check_int(repeats, "repeats", low=1)
    task = make_task(model, dataset, edge_mask, mode, batch_size, 0)
    return timed_inference(task, model, repeats)
