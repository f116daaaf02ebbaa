"""A sweep's saved tickets and their export: ``glt run --save-tickets``, ``glt export``.

With ``run_sweep(save_tickets=True)`` every ticket row also leaves its
:class:`~graphsparse.gnn.experiment.ticket.Ticket` (masks, θ₀, trained weights, model config,
method config, metrics) in ``RUN_DIR/tickets/`` as a safe-format file written atomically next
to the row (:func:`ticket_path` names it by method, target point and seed). Dense rows have no
ticket. :func:`export_from_run` turns one of them into a deployable exported ticket
(:func:`~graphsparse.gnn.experiment.export.export_ticket`) on the sweep's own dataset, loaded
with the options recorded in ``config.json``.

Example:
    >>> export_from_run("runs/cora", method="teddy", level=20, seed=0,
    ...                 out="teddy-l20.pt")                                  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from graphsparse.checks import check_int
from graphsparse.fileio import read_jsonl
from graphsparse.gnn.data import load_dataset
from graphsparse.gnn.experiment.ticket import Ticket, load_ticket

__all__ = ["TICKETS", "export_from_run", "saved_ticket", "ticket_path"]

#: The folder of a sweep's saved tickets.
TICKETS = "tickets"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def ticket_path(run_dir: str | os.PathLike, row: dict[str, Any]) -> Path:
    """Where the ticket of ``row`` (its method, target point and seed) is saved.

    >>> ticket_path("run", {"method": "teddy", "level": 20, "seed": 1}).as_posix()
    'run/tickets/teddy-level20-seed1.pt'
    >>> ticket_path("run", {"method": "random", "graph_target": 0.5, "weight_target": 0.25,
    ...                     "rounds": None, "seed": 0}).name
    'random-g0.5-w0.25-seed0.pt'
    """
    if row.get("level") is not None:
        point = f"level{row['level']}"
    else:
        point = f"g{_number(row['graph_target'])}-w{_number(row['weight_target'])}"
        if row.get("rounds") is not None:
            point += f"-rounds{row['rounds']}"
    return Path(run_dir) / TICKETS / f"{row['method']}-{point}-seed{row['seed']}.pt"


def saved_ticket(run_dir: str | os.PathLike, *, method: str, seed: int,
                 level: int | None = None, graph_target: float | None = None,
                 weight_target: float | None = None) -> Ticket:
    """The saved ticket of one row of the sweep in ``run_dir``.

    Raises:
        FileNotFoundError: no such row, or the row's ticket was not saved (the message lists
            the rows the folder has and says how to save tickets).
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not a sweep folder (no config.json)")
    check_int(seed, "seed", low=0)
    wanted = {"method": method, "seed": seed, "level": level, "graph_target": graph_target,
              "weight_target": weight_target}
    rows = read_jsonl(run_dir / "results.jsonl") if (run_dir / "results.jsonl").exists() else []
    match = [r for r in rows if all(r.get(k) == v for k, v in wanted.items()
                                    if v is not None or k == "level")]
    if not match:
        have = sorted({(r["method"], r.get("level"), r["seed"]) for r in rows
                       if r["method"] != "dense"}, key=str)
        raise FileNotFoundError(f"{run_dir} has no row for method {method!r}, level {level}, "
                                f"seed {seed}; rows (method, level, seed): {have}")
    path = ticket_path(run_dir, match[0])
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: the sweep did not save this ticket; "
                                "run the sweep with --save-tickets (save_tickets=True) into a "
                                "new folder, or remove the row from results.jsonl to rerun it")
    return load_ticket(path)


def export_from_run(run_dir: str | os.PathLike, *, method: str, seed: int,
                    out: str | os.PathLike, level: int | None = None,
                    graph_target: float | None = None, weight_target: float | None = None,
                    data_root: str | os.PathLike | None = None) -> Path:
    """Export one saved ticket of the sweep in ``run_dir`` to ``out`` (see the module
    documentation); the dataset is loaded as the sweep recorded it. Returns the path."""
    from graphsparse.gnn.experiment.export import export_ticket

    ticket = saved_ticket(run_dir, method=method, seed=seed, level=level,
                          graph_target=graph_target, weight_target=weight_target)
    config = json.loads((Path(run_dir) / "config.json").read_text())
    options = {"normalize_features": bool(config.get("normalize_features", False))}
    dataset = load_dataset(config["dataset"], data_root, split_seed=config.get("split_seed")
                           or 0, **options)
    return export_ticket(ticket, dataset, out)
