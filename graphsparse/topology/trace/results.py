"""The result of :func:`~graphsparse.topology.trace.trace_model`: traced layers, normalisation
modules, neuron groups, skip connections, and the error raised for unsupported layers."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

__all__ = ["UnsupportedLayerError", "TracedLayer", "TracedNorm", "NeuronGroup", "SkipConnection",
           "TracedModel"]


class UnsupportedLayerError(TypeError):
    """Raised for a layer or operation the tracer cannot map onto neuron groups."""


@dataclass(frozen=True)
class TracedLayer:
    """A weight-carrying layer in forward order.

    Attributes:
        name: fully qualified module name (``model.get_submodule(name)``), e.g. ``"layers.0"``.
        module: the module itself.
        kind: ``"linear"`` or ``"conv2d"``.
        in_group, out_group: indices into :attr:`TracedModel.groups` of the neurons it reads/writes.
        in_factor: inputs per neuron of ``in_group``: ``H·W`` for a Linear reading a flattened
            ``(C, H, W)`` map, else 1 (``in_features == in_factor · groups[in_group].size``).
        norms: names of the normalisation modules applied to this layer's output, in order.
    """

    name: str
    module: nn.Module
    kind: str
    in_group: int
    out_group: int
    in_factor: int
    norms: tuple[str, ...]

    @property
    def weight_name(self) -> str:
        """Fully qualified name of the weight parameter, e.g. ``"layers.0.weight"``."""
        return f"{self.name}.weight" if self.name else "weight"


@dataclass(frozen=True)
class TracedNorm:
    """A normalisation module: applied to ``group``, right after layer ``after`` (None: input/sum)."""

    name: str
    module: nn.Module
    group: int
    after: str | None


@dataclass(frozen=True)
class NeuronGroup:
    """A set of neurons read or written by layers.

    Attributes:
        index: position in :attr:`TracedModel.groups` (= level of the network graph).
        size: number of neurons (features or channels).
        depth: longest-path depth from the input over layers and identity connections.
        kind: ``"input"``, ``"layer"`` (written by layers) or ``"sum"`` (a residual sum no layer
            writes directly; it receives identity connections only).
        producers: names of the layers writing this group, in forward order.
        name: ``"input"``, the producers joined by ``"+"``, the addition's fx node name, or
            ``"model"`` when the model is a single layer.
    """

    index: int
    size: int
    depth: int
    kind: str
    producers: tuple[str, ...]
    name: str


@dataclass(frozen=True)
class SkipConnection:
    """An operand of a residual addition joining the sum group ``dst_group``.

    ``kind="identity"``: neuron ``i`` of ``src_group`` is added to neuron ``i`` of ``dst_group``
    (an identity block in the network graph). ``kind="merged"``: the operand came from ``layers``
    (the main path's last conv, or a projection shortcut such as a 1×1 downsample conv), which
    write ``dst_group`` directly; ``src_group`` is the group those layers read (``dst_group -
    src_group > 1`` in depth means the layer skips levels). ``op`` is the fx node name of the
    addition.
    """

    op: str
    src_group: int
    dst_group: int
    kind: str
    layers: tuple[str, ...] = ()


@dataclass(frozen=True)
class TracedModel:
    """Result of :func:`trace_model`: layers in forward order, neuron groups ordered by depth,
    skip connections, normalisation modules, and the method used (``"fx"``; ``"hooks"`` for the
    fallback; ``"module"`` when the model itself is a single Linear/Conv2d)."""

    layers: tuple[TracedLayer, ...]
    groups: tuple[NeuronGroup, ...]
    skips: tuple[SkipConnection, ...]
    norms: tuple[TracedNorm, ...]
    method: str

    @property
    def is_sequential(self) -> bool:
        """True when the layers form a plain chain: layer ``i`` reads group ``i`` and writes ``i+1``."""
        return not self.skips and all(l.in_group == i and l.out_group == i + 1 for i, l in enumerate(self.layers))
