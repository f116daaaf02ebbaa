"""Analytic cost accounting: multiply-accumulates (MACs) of a masked model, dense vs masked.

One place that both halves use. A forward pass on an example input records, for each supported
leaf module, the number of output positions; MACs follow from the weight shape (dense) and the
number of kept weight entries (masked):

* ``nn.Linear`` (and any module registered as linear-like): positions = number of input rows
  (``x.numel() / in_features``); dense = positions · out · in; masked = positions · kept(W).
* ``nn.Conv1d/2d/3d``: positions = batch · output spatial size; dense = positions · numel(W)
  (= out · in/groups · kernel); masked = positions · kept(W).

Kept(W) is the mask's count for a masked weight and the non-zero count otherwise. Biases,
activations and normalisation are not counted (they are O(outputs), not O(weights)). Other
module types can be added with :func:`register_macs` (the GNN half adds message passing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from graphsparse.checks import refuses_meta

from .attach import _mask_modules

__all__ = ["macs", "register_macs", "CostReport"]

# handler(module, inputs, output, kept_fn) -> (dense_macs, masked_macs)
MacsHandler = Callable[[nn.Module, tuple, object, Callable[[nn.Module, str], int]], tuple[int, int]]
_HANDLERS: dict[type, MacsHandler] = {}


def register_macs(module_type: type, handler: MacsHandler) -> None:
    """Register a MAC counter for ``module_type`` (used for it and its subclasses).

    ``handler(module, inputs, output, kept)`` returns ``(dense_macs, masked_macs)`` for one call;
    ``kept(module, tensor_name)`` gives the kept entry count of one of the module's tensors.
    """
    if not isinstance(module_type, type) or not issubclass(module_type, nn.Module):
        raise TypeError(f"module_type must be an nn.Module subclass, got {module_type!r}")
    _HANDLERS[module_type] = handler


def _linear_macs(module, inputs, output, kept):
    w = module.weight
    rows = inputs[0].numel() // w.shape[1]
    return rows * w.numel(), rows * kept(module, "weight")


def _conv_macs(module, inputs, output, kept):
    w = module.weight
    positions = output.numel() // output.shape[1] if output.dim() > 1 else output.numel()
    return positions * w.numel(), positions * kept(module, "weight")


register_macs(nn.Linear, _linear_macs)
for _conv in (nn.Conv1d, nn.Conv2d, nn.Conv3d):
    register_macs(_conv, _conv_macs)


def _handler_for(module: nn.Module) -> MacsHandler | None:
    for cls in type(module).__mro__:
        if cls in _HANDLERS:
            return _HANDLERS[cls]
    return None


@dataclass
class CostReport:
    """MACs of one forward pass on the example input, per module call and in total."""

    rows: list[dict] = field(default_factory=list)

    @property
    def dense(self) -> int:
        return sum(r["dense_macs"] for r in self.rows)

    @property
    def masked(self) -> int:
        return sum(r["masked_macs"] for r in self.rows)

    @property
    def ratio(self) -> float:
        """masked / dense (1.0 for a dense model)."""
        return self.masked / self.dense if self.dense else 1.0

    def to_dict(self) -> dict:
        return {"dense_macs": self.dense, "masked_macs": self.masked, "ratio": self.ratio,
                "layers": [dict(r) for r in self.rows]}

    def __str__(self) -> str:
        width = max([len(r["name"]) for r in self.rows] + [5])
        lines = [f"{'layer':<{width}}  {'type':<10}  {'dense MACs':>14}  {'masked MACs':>14}"]
        for r in self.rows:
            lines.append(f"{r['name']:<{width}}  {r['type']:<10}  {r['dense_macs']:>14,}  "
                         f"{r['masked_macs']:>14,}")
        lines.append(f"{'total':<{width}}  {'':<10}  {self.dense:>14,}  {self.masked:>14,}  "
                     f"({self.ratio:.2%} of dense)")
        return "\n".join(lines)


@refuses_meta("model")
def macs(model: nn.Module, example_input, *args, **kwargs) -> CostReport:
    """Count dense and masked MACs of ``model(example_input, *args, **kwargs)``.

    Pass a batch of one example for per-example MACs. The model runs once under ``no_grad`` in
    its current train/eval mode.

    >>> import torch
    >>> from graphsparse.masks import attach
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    >>> _ = attach(net, {"0.weight": torch.eye(3, 4, dtype=torch.bool)})
    >>> r = macs(net, torch.zeros(1, 4))
    >>> r.dense, r.masked
    (18, 9)
    """
    masks = _mask_modules(model)
    owner_names = {id(m): n for n, m in model.named_modules()}

    def kept(module: nn.Module, tname: str) -> int:
        prefix = owner_names.get(id(module), "")
        fqn = f"{prefix}.{tname}" if prefix else tname
        if fqn in masks:
            return int(masks[fqn].mask.sum())
        return int(torch.count_nonzero(getattr(module, tname).detach()))

    rows: list[dict] = []
    hooks = []

    def make_hook(name):
        def hook(module, inputs, output):
            handler = _handler_for(module)
            dense, masked = handler(module, inputs, output, kept)
            rows.append({"name": name, "type": type(module).__name__.replace("Parametrized", ""),
                         "dense_macs": int(dense), "masked_macs": int(masked)})
        return hook

    for name, module in model.named_modules():
        if _handler_for(module) is not None and "parametrizations" not in name.split("."):
            hooks.append(module.register_forward_hook(make_hook(name)))
    try:
        with torch.no_grad():
            model(example_input, *args, **kwargs)
    finally:
        for h in hooks:
            h.remove()
    if not rows:
        raise ValueError("the model ran no module with a MAC counter (supported: "
                         f"{sorted(c.__name__ for c in _HANDLERS)}); use register_macs")
    return CostReport(rows=rows)

