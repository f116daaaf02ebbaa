"""What the tracer accepts: weight layers, normalisation layers, element-wise and shape
modules, and the functions and tensor methods allowed in ``forward``."""

from __future__ import annotations

import builtins
import operator

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["WEIGHT_LAYERS", "NORM_LAYERS", "SUPPORTED_MODULES", "SUPPORTED_FUNCTIONS", "POOL_REDUCE_FUNCTIONS",
           "POOL_REDUCE_METHODS", "class_names"]

#: Layers that carry a weight matrix and become blocks of the network graph.
WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv2d)
#: Normalisation layers: recorded (for the metanetwork converter), no edges.
NORM_LAYERS: tuple[type[nn.Module], ...] = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)
POOL_MODULES = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
ELEMENTWISE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Softsign,
    nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout, nn.Softmax, nn.LogSoftmax,
)
#: Every module class the tracer accepts (weight, normalisation, element-wise, pooling, flatten).
SUPPORTED_MODULES: tuple[type[nn.Module], ...] = (
    WEIGHT_LAYERS + NORM_LAYERS + POOL_MODULES + ELEMENTWISE_MODULES + (nn.Flatten,)
)

ELEMENTWISE_FUNCTIONS = {
    torch.relu, F.relu, F.relu6, F.leaky_relu, F.elu, F.selu, F.celu, F.gelu, F.silu, F.mish,
    torch.sigmoid, F.sigmoid, torch.tanh, F.tanh, F.hardtanh, F.hardswish, F.hardsigmoid, F.softplus,
    F.softsign, F.dropout, F.dropout1d, F.dropout2d, F.softmax, F.log_softmax, torch.softmax,
    torch.log_softmax, torch.abs, torch.neg, torch.exp, operator.neg, operator.pos,
    F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d, F.adaptive_max_pool2d,
}
FLATTEN_FUNCTIONS = {torch.flatten}
BINARY_FUNCTIONS = {
    operator.add, operator.iadd, torch.add, operator.sub, operator.isub, torch.sub, operator.mul,
    operator.imul, torch.mul, operator.truediv, operator.itruediv, torch.div,
}
META_FUNCTIONS = {builtins.getattr, len}
#: Reductions that are global pooling when taken over the spatial dims of a (N, C, H, W) map:
#: ``x.mean((2, 3))``, ``torch.amax(x, dim=(-2, -1))``, ...
POOL_REDUCE_FUNCTIONS = {torch.mean, torch.amax, torch.sum}
POOL_REDUCE_METHODS = {"mean", "amax", "sum"}
#: Every function the tracer accepts in ``forward`` (element-wise, flatten, residual arithmetic).
SUPPORTED_FUNCTIONS = tuple(
    sorted({getattr(f, "__name__", repr(f))
            for f in ELEMENTWISE_FUNCTIONS | FLATTEN_FUNCTIONS | BINARY_FUNCTIONS | POOL_REDUCE_FUNCTIONS})
)
ELEMENTWISE_METHODS = {
    "relu", "relu_", "sigmoid", "tanh", "contiguous", "clone", "float", "double", "detach", "abs",
    "neg", "exp", "softmax", "log_softmax",
}
FLATTEN_METHODS = {"flatten", "view", "reshape"}
BINARY_METHODS = {"add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_"}
META_METHODS = {"size", "dim"}


def class_names(classes: tuple[type, ...]) -> str:
    """``"Linear, Conv2d"``: the class names, comma-separated (for error messages)."""
    return ", ".join(c.__name__ for c in classes)
