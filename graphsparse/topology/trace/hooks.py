"""The forward-hooks fallback of :func:`~graphsparse.topology.trace.trace_model` (models torch.fx
cannot trace): one forward pass records the call order, read as a sequential chain."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .results import NeuronGroup, TracedLayer, TracedModel, TracedNorm, UnsupportedLayerError
from .supported import NORM_LAYERS, SUPPORTED_MODULES, WEIGHT_LAYERS, class_names

__all__ = ["trace_hooks", "chain_trace"]


def trace_hooks(model: nn.Module, example_input: torch.Tensor) -> TracedModel:
    """Sequential-chain trace from one forward pass with hooks on the supported modules."""
    calls: list[tuple[str, nn.Module, tuple[int, ...]]] = []
    handles = []
    covered: list[str] = []
    for name, module in model.named_modules():
        if any(name.startswith(p + ".") for p in covered):
            continue  # inside a supported module (e.g. its parametrizations)
        if isinstance(module, SUPPORTED_MODULES):
            covered.append(name)
            if isinstance(module, WEIGHT_LAYERS + NORM_LAYERS):
                handles.append(module.register_forward_hook(_recorder(calls, name)))
        elif any(True for _ in module.parameters(recurse=False)):
            handles.append(module.register_forward_hook(_recorder(calls, name)))
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()              # tracing must not update BatchNorm statistics
        with torch.no_grad():
            model(example_input)
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.train(training)
    return chain_trace(calls, "hooks")


def chain_trace(calls: list[tuple[str, nn.Module, tuple[int, ...]]], method: str) -> TracedModel:
    """Sequential-chain trace of ``(name, module, input shape)`` calls in forward order."""
    sizes: list[int] = []
    layers: list[TracedLayer] = []
    norms: list[TracedNorm] = []
    norm_names: dict[int, list[str]] = {}
    seen: set[int] = set()
    for name, module, in_shape in calls:
        if not isinstance(module, SUPPORTED_MODULES):
            raise UnsupportedLayerError(
                f"layer {name!r} ({type(module).__name__}) is not supported; supported layers: "
                f"{class_names(SUPPORTED_MODULES)}"
            )
        if isinstance(module, NORM_LAYERS):
            after = layers[-1].name if layers else None
            norms.append(TracedNorm(name, module, len(sizes) - 1 if sizes else 0, after))
            if layers:
                norm_names.setdefault(len(layers) - 1, []).append(name)
            continue
        if id(module) in seen:
            raise UnsupportedLayerError(
                f"layer {name!r} is called more than once in forward (weight sharing is not supported)"
            )
        seen.add(id(module))
        if isinstance(module, nn.Linear):
            n_in, n_out, kind = module.in_features, module.out_features, "linear"
        else:
            n_in, n_out, kind = module.in_channels, module.out_channels, "conv2d"
        if not sizes:
            sizes.append(n_in)
            factor = 1
        elif kind == "linear" and n_in % sizes[-1] == 0 and (n_in == sizes[-1] or layers[-1].kind == "conv2d"):
            factor = n_in // sizes[-1]
        elif n_in == sizes[-1]:
            factor = 1
        else:
            raise ValueError(
                f"layer {name!r} expects {n_in} inputs (input shape {in_shape}) but the previous layer "
                f"{layers[-1].name!r} has {sizes[-1]} outputs; the hooks fallback only supports sequential chains"
            )
        layers.append(TracedLayer(name, module, kind, len(sizes) - 1, len(sizes), factor, ()))
        sizes.append(n_out)
    if not layers:
        raise ValueError("model: no Linear or Conv2d layer is called in forward")
    layers = [
        TracedLayer(l.name, l.module, l.kind, l.in_group, l.out_group, l.in_factor, tuple(norm_names.get(i, ())))
        for i, l in enumerate(layers)
    ]
    groups = tuple(
        NeuronGroup(i, s, i, "input" if i == 0 else "layer", () if i == 0 else (layers[i - 1].name,),
                    "input" if i == 0 else layers[i - 1].name or "model")
        for i, s in enumerate(sizes)
    )
    return TracedModel(tuple(layers), groups, (), tuple(norms), method)


def _recorder(calls: list, name: str):
    def hook(module: nn.Module, inputs: tuple, output: Any) -> None:
        shape = tuple(inputs[0].shape) if inputs and isinstance(inputs[0], torch.Tensor) else ()
        calls.append((name, module, shape))

    return hook
