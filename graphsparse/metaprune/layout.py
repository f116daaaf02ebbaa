"""The layout of a metanetwork graph (see :mod:`graphsparse.metaprune.convert` for the full
format): node and edge feature widths and columns, node and edge types, and where each traced
layer's tensors live (:class:`LayerLayout`, :class:`GraphLayout`)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

__all__ = [
    "GraphLayout",
    "LayerLayout",
    "GraphMismatchError",
    "NODE_DIM",
    "EDGE_DIM",
    "MAX_WRITERS",
    "SLOT_FIELDS",
    "FILLER",
    "NODE_TYPES",
    "EDGE_TYPES",
    "BN_LAYERS",
    "SUPPORTED_CONVERSION",
    "node_dim",
    "edge_dim",
    "var_columns",
]

#: Per-writer node feature fields, in column order within a slot.
SLOT_FIELDS: tuple[str, ...] = ("bias", "running_mean", "running_var", "weight", "norm_bias")
#: Values of a writer slot no layer fills: no bias, identity BatchNorm.
FILLER = (0.0, 0.0, 1.0, 1.0, 0.0)
#: Layers that may write one neuron group (e.g. a residual block's main path + projection shortcut).
MAX_WRITERS = 2
NODE_TYPES: tuple[str, ...] = ("input", "linear", "conv", "sum", "output")
EDGE_TYPES: tuple[str, ...] = ("linear", "conv", "flatten", "identity")
#: The normalisation layers the converter stores (BatchNorm after a Linear/Conv2d).
BN_LAYERS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
#: Module classes the converter maps into the graph (the tracer's element-wise modules are
#: accepted too as long as they hold no parameters).
SUPPORTED_CONVERSION: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv2d) + BN_LAYERS


def node_dim() -> int:
    """Node feature width: ``len(SLOT_FIELDS) * MAX_WRITERS + len(NODE_TYPES)`` (= 15)."""
    return len(SLOT_FIELDS) * MAX_WRITERS + len(NODE_TYPES)


def edge_dim(kernel_size: int = 3) -> int:
    """Edge feature width for kernels padded to ``kernel_size²``: ``K² + 1 + len(EDGE_TYPES)``."""
    return kernel_size * kernel_size + 1 + len(EDGE_TYPES)


def var_columns() -> list[int]:
    """Node feature columns holding BatchNorm ``running_var`` (must stay positive)."""
    return [k * len(SLOT_FIELDS) + SLOT_FIELDS.index("running_var") for k in range(MAX_WRITERS)]


NODE_DIM = node_dim()
EDGE_DIM = edge_dim(3)


class GraphMismatchError(ValueError):
    """A graph and a network (or a graph and its own layout) do not fit together."""


@dataclass(frozen=True)
class LayerLayout:
    """Where one traced layer's tensors live in the graph.

    Attributes:
        name: module name; ``kind``: ``"linear"`` or ``"conv2d"``.
        weight_shape: shape of the weight (``[O, F]`` or ``[O, I/G, kh, kw]``).
        has_bias: whether the layer has a bias (node column ``slot * 5``).
        norm: name of the BatchNorm after the layer, or None; ``norm_fields``: which of
            ``running_mean, running_var, weight, norm_bias`` it holds.
        out_start: first node of the output group; ``out_size``: its size.
        slot: writer slot in the output nodes' features.
        edge_start, edge_end: the layer's edge range.
        in_factor: inputs per input neuron (``H·W`` after a flatten, else 1).
        groups: Conv2d ``groups`` (1 for Linear).
    """

    name: str
    kind: str
    weight_shape: tuple[int, ...]
    has_bias: bool
    norm: str | None
    norm_fields: tuple[str, ...]
    out_start: int
    out_size: int
    slot: int
    edge_start: int
    edge_end: int
    in_factor: int
    groups: int


@dataclass(frozen=True, repr=False)
class GraphLayout:
    """Everything the inverse map needs, attached to the graph as ``graph.layout``.

    Attributes:
        kernel_size: K (edge features hold ``K²`` kernel slots).
        node_ptr: node offsets of the neuron groups, length ``num_groups + 1``.
        layers: one :class:`LayerLayout` per traced layer, in forward order.
        num_edges: total edges (layers + identity edges).
        model_class: the network's class name (checked by :func:`from_graph`).
    """

    kernel_size: int
    node_ptr: tuple[int, ...]
    layers: tuple[LayerLayout, ...]
    num_edges: int
    model_class: str

    def __repr__(self) -> str:
        return (f"GraphLayout({self.model_class}, {len(self.layers)} layers, {self.node_ptr[-1]} nodes, "
                f"{self.num_edges} edges, kernel_size={self.kernel_size})")
