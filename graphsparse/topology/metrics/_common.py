"""Shared pieces of the metric results: JSON conversion, summary statistics, argument checks."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np


def array_field() -> Any:
    """A dataclass field for per-node / per-edge arrays: kept on the object, left out of ``to_dict``."""
    return dataclasses.field(default=None, repr=False, compare=False, metadata={"json": False})


def jsonable(obj: Any) -> Any:
    """Plain-Python (JSON-serialisable) copy of a result: dataclasses -> dicts (fields marked with
    :func:`array_field` dropped), numpy scalars -> int/float, arrays/tuples -> lists, NaN/inf -> None.
    Python ints stay exact (path counts can exceed 2**63)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: jsonable(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if f.metadata.get("json", True)
        }
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    return obj


class Result:
    """Mixin of the metric result dataclasses: ``to_dict()`` gives a JSON-ready dict."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the summary fields (arrays are left out)."""
        return jsonable(self)


@dataclasses.dataclass(frozen=True)
class Stats(Result):
    """Mean, minimum, maximum and (population) standard deviation of a sample."""

    mean: float
    min: float
    max: float
    std: float

    @classmethod
    def of(cls, values: np.ndarray) -> Stats:
        """Statistics of a non-empty 1-D array (integers stay integers in min/max)."""
        values = np.asarray(values)
        lo, hi = values.min(), values.max()
        if np.issubdtype(values.dtype, np.integer):
            lo, hi = int(lo), int(hi)
        else:
            lo, hi = float(lo), float(hi)
        return cls(float(values.mean()), lo, hi, float(values.std()))


def check_graph(graph: Any) -> None:
    """Raise TypeError unless ``graph`` is a :class:`~graphsparse.topology.NetworkGraph`."""
    from graphsparse.topology.graph import NetworkGraph

    if not isinstance(graph, NetworkGraph):
        raise TypeError(f"graph must be a graphsparse.topology.NetworkGraph, got {type(graph).__name__}")
