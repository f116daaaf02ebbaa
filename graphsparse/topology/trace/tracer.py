"""The front door of forward-order tracing: :func:`trace_model` (torch.fx, or forward hooks when
fx cannot trace the model)."""

from __future__ import annotations

import warnings

import torch
from torch import nn

from .fx_walk import FxWalker, LeafTracer
from .hooks import chain_trace, trace_hooks
from .results import TracedModel
from .supported import WEIGHT_LAYERS, class_names

__all__ = ["trace_model"]


def trace_model(model: nn.Module, example_input: torch.Tensor | None = None) -> TracedModel:
    """Trace ``model``'s Linear/Conv2d layers in forward order (see :mod:`graphsparse.topology.trace`).

    Args:
        model: an ``nn.Module`` containing at least one ``nn.Linear`` or ``nn.Conv2d``.
        example_input: one input batch; used only if torch.fx cannot trace ``model`` (then the
            model is run once under ``torch.no_grad()`` with forward hooks).

    Raises:
        ValueError: ``model`` has no Linear or Conv2d layer; fx failed and ``example_input`` is None;
            layer widths do not chain.
        UnsupportedLayerError: a layer/operation outside the supported set (named in the message).

    Example::

        >>> trace_model(nn.Sequential(nn.Linear(3, 2))).layers[0].name
        '0'
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not any(isinstance(m, WEIGHT_LAYERS) for m in model.modules()):
        raise ValueError(
            f"model: no Linear or Conv2d layer found in {type(model).__name__}; "
            f"supported weight layers: {class_names(WEIGHT_LAYERS)}"
        )
    if isinstance(model, WEIGHT_LAYERS):  # fx would trace into the layer's own forward
        return chain_trace([("", model, ())], "module")
    try:
        graph = LeafTracer().trace(model)
    except Exception as err:  # fx cannot trace data-dependent control flow etc.: use hooks
        if example_input is None:
            raise ValueError(
                f"torch.fx could not trace {type(model).__name__} ({type(err).__name__}: {err}); "
                "pass example_input to trace it with forward hooks instead"
            ) from err
        warnings.warn(
            f"torch.fx could not trace {type(model).__name__} ({type(err).__name__}: {err}); traced with "
            "forward hooks: layers are assumed to form a sequential chain and residual additions "
            "cannot be detected",
            UserWarning,
            stacklevel=2,
        )
        return trace_hooks(model, example_input)
    return FxWalker(model, graph).run()
