"""The method options a sweep can set and record (``run_sweep(method_options=...)``,
``glt run --option METHOD.NAME=VALUE``), each with its check.

Options that hold Python objects (TEDDY's ``teacher`` and ``hooks``, UGS's ``on_round``) stay
available to :func:`~graphsparse.gnn.experiment.ticket.find_ticket` and the method functions,
but a sweep stores its options in ``config.json``, so it takes only the JSON values below.

>>> check_option_values("teddy", {"lamb": 10})
{'lamb': 10.0}
>>> check_option_values("ugs", {"s1": -1.0})
Traceback (most recent call last):
...
ValueError: s1 must be a finite number >= 0, got -1.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphsparse.checks import check_choice, check_float, check_int
from graphsparse.gnn.edges import EDGE_SCORES

__all__ = ["OPTION_CHECKS", "check_option_values"]


def _non_negative(name: str) -> Callable[[Any], float]:
    return lambda value: check_float(value, name, low=0.0)


#: Option name -> its check (returns the checked value), per option a sweep can record.
OPTION_CHECKS: dict[str, Callable[[Any], Any]] = {
    "s1": _non_negative("s1"),               # UGS graph-mask L1 coefficient
    "s2": _non_negative("s2"),               # UGS weight-mask L1 coefficient
    "lamb": _non_negative("lamb"),           # TEDDY distillation weight λ
    "retrain_epochs": lambda value: check_int(value, "retrain_epochs", low=1),
    "mode": lambda value: check_choice(value, "mode", ("message", "weight")),
    "edge_score": lambda value: check_choice(value, "edge_score", tuple(EDGE_SCORES)),
}


def check_option_values(method: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with every value checked; ``ValueError`` naming an option a sweep cannot
    record (a Python object) or a value out of range."""
    checked = {}
    for name, value in options.items():
        if name not in OPTION_CHECKS:
            raise ValueError(f"method {method!r}: option {name!r} is not a value a sweep can "
                             f"record; sweep options: {sorted(OPTION_CHECKS)}")
        checked[name] = OPTION_CHECKS[name](value)
    return checked
