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

from graphsparse.checks import check_bool, check_choice, check_float, check_int
from graphsparse.gnn.edges import EDGE_SCORES

__all__ = ["OPTION_CHECKS", "check_option_values"]


def _non_negative(name: str) -> Callable[[Any], float]:
    return lambda value: check_float(value, name, low=0.0)


#: Option name (or ``"METHOD.NAME"`` where one method takes other values) -> its check
#: (returns the checked value), per option a sweep can record.
OPTION_CHECKS: dict[str, Callable[[Any], Any]] = {
    "s1": _non_negative("s1"),               # UGS graph-mask L1 coefficient
    "s2": _non_negative("s2"),               # UGS weight-mask L1 coefficient
    "lamb": _non_negative("lamb"),           # TEDDY distillation weight λ
    "mask_lr": lambda value: check_float(value, "mask_lr", low=0.0, open_low=True),  # UGS
    "retrain_epochs": lambda value: check_int(value, "retrain_epochs", low=1),
    "rewind_epoch": lambda value: check_int(value, "rewind_epoch", low=0),  # IMP late rewind
    "mode": lambda value: check_choice(value, "mode", ("message", "weight")),
    "tie_directions": lambda value: check_bool(value, "tie_directions"),  # UGS
    "init_noise": lambda value: check_float(value, "init_noise", low=0.0, high=1.0),  # UGS
    "edge_score": lambda value: check_choice(value, "edge_score", tuple(EDGE_SCORES)),
    "weight_granularity": lambda value: check_choice(value, "weight_granularity",
                                                     ("unstructured", "neuron")),  # every method
    # FastGLT (graphsparse.gnn.methods.fastglt); "METHOD.NAME" entries win over "NAME"
    "fastglt.edge_score": lambda value: check_choice(value, "edge_score",
                                                     ("magnitude", *EDGE_SCORES)),
    "pretrain_epochs": lambda value: check_int(value, "pretrain_epochs", low=1),
    "denoise_epochs": lambda value: check_int(value, "denoise_epochs", low=1),
    "regrow_fraction": lambda value: check_float(value, "regrow_fraction", low=0.0, high=1.0),
    "update_interval": lambda value: check_int(value, "update_interval", low=2),
    "accumulation_epochs": lambda value: check_int(value, "accumulation_epochs", low=1),
    "edge_l1": _non_negative("edge_l1"),
    # AdaGLT (graphsparse.gnn.methods.adaglt)
    "search_epochs": lambda value: check_int(value, "search_epochs", low=1),
    "temperature": lambda value: check_float(value, "temperature", low=0.0, open_low=True),
    "edge_reg": _non_negative("edge_reg"),
    "weight_reg": _non_negative("weight_reg"),
    "threshold_coef": lambda value: check_float(value, "threshold_coef", low=0.0,
                                                open_low=True),
    "explainer_hidden": lambda value: check_int(value, "explainer_hidden", low=1),
}


def check_option_values(method: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with every value checked; ``ValueError`` naming an option a sweep cannot
    record (a Python object) or a value out of range."""
    checked = {}
    for name, value in options.items():
        check = OPTION_CHECKS.get(f"{method}.{name}", OPTION_CHECKS.get(name))
        if check is None:
            names = sorted(key for key in OPTION_CHECKS if "." not in key)
            raise ValueError(f"method {method!r}: option {name!r} is not a value a sweep can "
                             f"record; sweep options: {names}")
        checked[name] = check(value)
    if method == "fastglt":
        _check_accumulation(checked)
    return checked


def _check_accumulation(options: dict[str, Any]) -> None:
    """FastGLT averages gradients over ``accumulation_epochs`` < ``update_interval`` epochs."""
    import inspect

    from graphsparse.gnn.methods.fastglt import fastglt

    defaults = inspect.signature(fastglt).parameters
    interval = options.get("update_interval", defaults["update_interval"].default)
    accumulation = options.get("accumulation_epochs", defaults["accumulation_epochs"].default)
    if accumulation > interval - 1:
        raise ValueError(f"accumulation_epochs must be an int in [1, update_interval - 1] = "
                         f"[1, {interval - 1}], got {accumulation}")
