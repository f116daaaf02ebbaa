"""Forward-order tracing of a model's weight-carrying layers.

:func:`trace_model` answers, for any ``nn.Module`` built from the supported layers: which
``nn.Linear`` / ``nn.Conv2d`` layers run, in which order, which *neuron group* each one reads and
writes, where normalisation layers sit, and where residual additions join groups. It is the
shared front end of :meth:`graphsparse.topology.NetworkGraph.from_model` and of the metanetwork
converter (network -> graph -> network), so its result is a plain, documented data structure.

Neuron groups
    A group is a set of neurons (features for a Linear, channels for a Conv2d) that layers read
    or write. Group 0 is the model input. Every Linear/Conv2d writes a group of ``out_features`` /
    ``out_channels`` neurons and reads the group its input comes from. Element-wise operations
    (activations, dropout, pooling, flatten/view, BatchNorm/LayerNorm, scalar arithmetic) keep the
    group. A Linear that reads a flattened ``(C, H, W)`` map reads the ``C``-channel group with
    ``in_factor = H·W`` inputs per channel (channel-major flatten order, as ``torch.flatten``).

Residual additions (``a + b``, ``torch.add``, ``a - b``, ``a * b`` of two tensors)
    The sum is a group of its own. An operand whose group is produced by layers and used nowhere
    else (``bn2(conv2(h))``, a projection shortcut ``downsample(x)``) *is* the sum: its group is
    merged into the sum group, so its layers write the sum directly (a projection shortcut becomes
    a layer that skips levels). Any other operand (the block input ``x`` of ``x + f(x)``) joins the
    sum through an identity connection, recorded as a :class:`SkipConnection` of kind
    ``"identity"``. Merged operands are recorded with kind ``"merged"`` (naming their layers).
    Group ``depth`` is the longest-path depth over layers and identity connections, and groups
    are numbered by (depth, first appearance), so every layer and skip goes from a lower to a
    higher group index.

Tracing method
    ``torch.fx.symbolic_trace`` with Linear, Conv2d, the normalisation and the element-wise modules
    as leaves (so masks attached with ``torch.nn.utils.parametrize`` are not traced into). If fx
    cannot trace the model (data-dependent control flow), the model is run once on
    ``example_input`` with forward hooks; this fallback sees only the call order, so it assumes a
    sequential chain (each layer reads the previous layer's output) and warns that residual
    additions cannot be detected.

Supported
    weight layers: ``nn.Linear``, ``nn.Conv2d`` (any stride/padding/dilation/groups); normalisation
    (recorded, no edges): ``nn.BatchNorm1d/2d/3d``, ``nn.LayerNorm``, ``nn.GroupNorm``; element-wise
    and shape modules/functions listed in :data:`SUPPORTED_MODULES` and :data:`SUPPORTED_FUNCTIONS`.
    Anything else (``nn.Conv1d``, ``nn.Embedding``, ``torch.cat``, attention, direct use of a
    parameter in ``forward``, a module called twice) raises :class:`UnsupportedLayerError` naming
    the layer and the supported set.

Example::

    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    >>> t = trace_model(net)
    >>> [(l.name, l.in_group, l.out_group) for l in t.layers], [g.size for g in t.groups]
    ([('0', 0, 1), ('3', 1, 2)], [4, 8, 2])
    >>> t.layers[0].norms
    ('1',)
"""

from __future__ import annotations

import builtins
import operator
import warnings
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

__all__ = [
    "TracedLayer",
    "TracedNorm",
    "NeuronGroup",
    "SkipConnection",
    "TracedModel",
    "UnsupportedLayerError",
    "trace_model",
    "WEIGHT_LAYERS",
    "NORM_LAYERS",
    "SUPPORTED_MODULES",
    "SUPPORTED_FUNCTIONS",
]

#: Layers that carry a weight matrix and become blocks of the network graph.
WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv2d)
#: Normalisation layers: recorded (for the metanetwork converter), no edges.
NORM_LAYERS: tuple[type[nn.Module], ...] = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)
_POOL_MODULES = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
_ELEMENTWISE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Softsign,
    nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout, nn.Softmax, nn.LogSoftmax,
)
#: Every module class the tracer accepts (weight, normalisation, element-wise, pooling, flatten).
SUPPORTED_MODULES: tuple[type[nn.Module], ...] = (
    WEIGHT_LAYERS + NORM_LAYERS + _POOL_MODULES + _ELEMENTWISE_MODULES + (nn.Flatten,)
)

_ELEMENTWISE_FUNCTIONS = {
    torch.relu, F.relu, F.relu6, F.leaky_relu, F.elu, F.selu, F.celu, F.gelu, F.silu, F.mish,
    torch.sigmoid, F.sigmoid, torch.tanh, F.tanh, F.hardtanh, F.hardswish, F.hardsigmoid, F.softplus,
    F.softsign, F.dropout, F.dropout1d, F.dropout2d, F.softmax, F.log_softmax, torch.softmax,
    torch.log_softmax, torch.abs, torch.neg, torch.exp, operator.neg, operator.pos,
    F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d, F.adaptive_max_pool2d,
}
_FLATTEN_FUNCTIONS = {torch.flatten}
_BINARY_FUNCTIONS = {
    operator.add, operator.iadd, torch.add, operator.sub, operator.isub, torch.sub, operator.mul,
    operator.imul, torch.mul, operator.truediv, operator.itruediv, torch.div,
}
_META_FUNCTIONS = {builtins.getattr, len}
#: Every function the tracer accepts in ``forward`` (element-wise, flatten, residual arithmetic).
SUPPORTED_FUNCTIONS = tuple(
    sorted({getattr(f, "__name__", repr(f)) for f in _ELEMENTWISE_FUNCTIONS | _FLATTEN_FUNCTIONS | _BINARY_FUNCTIONS})
)
_ELEMENTWISE_METHODS = {
    "relu", "relu_", "sigmoid", "tanh", "contiguous", "clone", "float", "double", "detach", "abs",
    "neg", "exp", "softmax", "log_softmax",
}
_FLATTEN_METHODS = {"flatten", "view", "reshape"}
_BINARY_METHODS = {"add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_"}
_META_METHODS = {"size", "dim"}


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


def trace_model(model: nn.Module, example_input: torch.Tensor | None = None) -> TracedModel:
    """Trace ``model``'s Linear/Conv2d layers in forward order (see the module docstring).

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
            f"supported weight layers: {_names(WEIGHT_LAYERS)}"
        )
    if isinstance(model, WEIGHT_LAYERS):  # fx would trace into the layer's own forward
        return _chain([("", model, ())], "module")
    try:
        graph = _LeafTracer().trace(model)
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
        return _trace_hooks(model, example_input)
    return _FxWalker(model, graph).run()


# ---------------------------------------------------------------------------------------- fx
class _LeafTracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, SUPPORTED_MODULES) or super().is_leaf_module(m, module_qualified_name)


@dataclass
class _Value:
    """What an fx node carries: a neuron group (via union-find id), a layout, its producer."""

    group: int
    layout: str  # "input" (model input, layout not yet known), "features", "channels", "flat"
    producer: str | None  # last weight layer (through element-wise ops), None for input / sums


class _FxWalker:
    def __init__(self, model: nn.Module, graph: fx.Graph) -> None:
        self.model = model
        self.graph = graph
        self.parent: list[int] = []  # union-find over provisional groups
        self.size: list[int | None] = []
        self.kind: list[str] = []
        self.label: list[str] = []
        self.uses: list[int] = []  # consuming uses: layer inputs, addition operands, outputs
        self.layers: list[dict[str, Any]] = []
        self.norms: list[tuple[str, nn.Module, int, str | None]] = []
        self.additions: list[tuple[str, int, list[int]]] = []  # (fx node name, sum group, operand groups)
        self.seen_modules: dict[int, str] = {}

    # union-find ----------------------------------------------------------------------------
    def _new_group(self, size: int | None, kind: str, label: str) -> int:
        self.parent.append(len(self.parent))
        self.size.append(size)
        self.kind.append(kind)
        self.label.append(label)
        self.uses.append(0)
        return len(self.parent) - 1

    def _find(self, g: int) -> int:
        while self.parent[g] != g:
            self.parent[g] = self.parent[self.parent[g]]
            g = self.parent[g]
        return g

    def _set_size(self, g: int, size: int, where: str) -> None:
        g = self._find(g)
        if self.size[g] is None:
            self.size[g] = size
        elif self.size[g] != size:
            raise ValueError(f"{where}: expects {size} neurons but its input has {self.size[g]}")

    # walk ----------------------------------------------------------------------------------
    def run(self) -> TracedModel:
        values: dict[fx.Node, _Value | None] = {}  # None = non-tensor (shapes, sizes, constants)
        placeholders = [n for n in self.graph.nodes if n.op == "placeholder"]
        for extra in placeholders[1:]:
            if extra.users:
                raise UnsupportedLayerError(
                    f"forward argument {extra.target!r}: only models with a single tensor input are supported"
                )
        for node in self.graph.nodes:
            if node.op == "placeholder":
                is_input = node is placeholders[0]
                values[node] = _Value(self._new_group(None, "input", "input"), "input", None) if is_input else None
            elif node.op == "get_attr":
                raise UnsupportedLayerError(
                    f"forward uses the attribute {node.target!r} directly; only parameters inside "
                    f"supported modules are supported: {_names(SUPPORTED_MODULES)}"
                )
            elif node.op == "call_module":
                values[node] = self._module(node, values)
            elif node.op in ("call_function", "call_method"):
                values[node] = self._function(node, values)
            elif node.op == "output":
                for arg in _tensor_args(node, values):
                    self.uses[self._find(values[arg].group)] += 1
        if not self.layers:
            raise ValueError("model: no Linear or Conv2d layer is called in forward")
        return self._finish()

    def _module(self, node: fx.Node, values: dict) -> _Value | None:
        name = str(node.target)
        module = self.model.get_submodule(name)
        args = _tensor_args(node, values)
        if not isinstance(module, SUPPORTED_MODULES):
            raise UnsupportedLayerError(
                f"layer {name!r} ({type(module).__name__}) is not supported; supported layers: "
                f"{_names(SUPPORTED_MODULES)}"
            )
        if len(args) != 1:
            raise UnsupportedLayerError(f"layer {name!r} ({type(module).__name__}) must take exactly one tensor input")
        value = values[args[0]]
        if isinstance(module, WEIGHT_LAYERS):
            if id(module) in self.seen_modules:
                raise UnsupportedLayerError(
                    f"layer {name!r} is called more than once in forward (weight sharing is not supported)"
                )
            self.seen_modules[id(module)] = name
            return self._weight_layer(name, module, value)
        if isinstance(module, NORM_LAYERS):
            self.norms.append((name, module, value.group, value.producer))
            return value
        if isinstance(module, nn.Flatten):
            return self._flatten(value)
        return value

    def _weight_layer(self, name: str, module: nn.Module, value: _Value) -> _Value:
        g = self._find(value.group)
        self.uses[g] += 1
        if isinstance(module, nn.Linear):
            n_in, n_out, kind = module.in_features, module.out_features, "linear"
            if value.layout == "channels":
                raise UnsupportedLayerError(
                    f"layer {name!r} (Linear) reads a (C, H, W) feature map without flattening it; "
                    "flatten it first (nn.Flatten, torch.flatten, .view/.reshape)"
                )
            size = self.size[g]
            if size is None or value.layout in ("input", "features"):
                self._set_size(g, n_in, f"layer {name!r} (Linear, in_features={n_in})")
                factor = 1
            elif n_in % size:
                raise ValueError(
                    f"layer {name!r} (Linear, in_features={n_in}) reads a flattened map of {size} channels; "
                    f"in_features must be a multiple of {size}"
                )
            else:
                factor = n_in // size
            out_layout = "features"
        else:
            n_in, n_out, kind, factor = module.in_channels, module.out_channels, "conv2d", 1
            if value.layout in ("features", "flat"):
                raise UnsupportedLayerError(f"layer {name!r} (Conv2d) reads a flat feature vector, not a (C, H, W) map")
            self._set_size(g, n_in, f"layer {name!r} (Conv2d, in_channels={n_in})")
            out_layout = "channels"
        out = self._new_group(n_out, "layer", name)
        self.layers.append(dict(name=name, module=module, kind=kind, in_group=g, out_group=out, in_factor=factor))
        return _Value(out, out_layout, name)

    def _flatten(self, value: _Value) -> _Value:
        layout = "flat" if value.layout == "channels" else value.layout
        return _Value(value.group, layout, value.producer)

    def _function(self, node: fx.Node, values: dict) -> _Value | None:
        args = _tensor_args(node, values)
        target = node.target
        if not args:
            return None  # shapes, sizes and constants
        op_name = target if isinstance(target, str) else getattr(target, "__name__", repr(target))
        value = values[args[0]]
        if node.op == "call_method":
            if target in _META_METHODS:
                return None
            if target in _ELEMENTWISE_METHODS and len(args) == 1:
                return value
            if target in _FLATTEN_METHODS and len(args) == 1:
                return self._flatten(value)
            if target in _BINARY_METHODS:
                return self._binary(node, args, values)
        else:
            if target in _META_FUNCTIONS:
                return None
            if target in _ELEMENTWISE_FUNCTIONS and len(args) == 1:
                return value
            if target in _FLATTEN_FUNCTIONS and len(args) == 1:
                return self._flatten(value)
            if target in _BINARY_FUNCTIONS:
                return self._binary(node, args, values)
        raise UnsupportedLayerError(
            f"operation {op_name!r} (fx node {node.name!r}) is not supported; supported functions: "
            f"{', '.join(SUPPORTED_FUNCTIONS)}; methods: "
            f"{', '.join(sorted(_ELEMENTWISE_METHODS | _FLATTEN_METHODS | _BINARY_METHODS | _META_METHODS))}"
        )

    def _binary(self, node: fx.Node, args: list[fx.Node], values: dict) -> _Value:
        if len(args) == 1:  # tensor (op) scalar: element-wise
            return values[args[0]]
        operands = [values[a] for a in args]
        groups = {self._find(v.group) for v in operands}
        if len(groups) == 1:  # x + relu(x): same neurons
            return operands[0]
        sizes = {self.size[g] for g in groups} - {None}
        if len(sizes) > 1:
            raise ValueError(f"residual {node.name!r} adds groups of different widths {sorted(sizes)}")
        size = sizes.pop() if sizes else None
        out = self._new_group(size, "sum", node.name)
        for v in operands:
            if size is not None:
                self._set_size(v.group, size, f"residual {node.name!r}")
        ops = []
        for v in operands:
            g = self._find(v.group)
            self.uses[g] += 1
            ops.append(g)
        self.additions.append((node.name, out, ops))
        layout = next((v.layout for v in operands if v.layout != "input"), "input")
        return _Value(out, layout, None)

    # resolve merges, depths and numbering -----------------------------------------------------
    def _finish(self) -> TracedModel:
        identity: list[tuple[str, int, int]] = []
        projections: list[tuple[str, list[int], int]] = []  # (op, indices of merged layers, sum group)
        for op, out, ops in self.additions:
            for g in ops:
                g = self._find(g)
                if self.kind[g] != "input" and self.uses[g] == 1:
                    writers = [i for i, l in enumerate(self.layers) if self._find(l["out_group"]) == g]
                    projections.append((op, writers, out))
                    root = self._find(out)
                    if self.size[root] is None:
                        self.size[root] = self.size[g]
                    self.parent[g] = root
                else:
                    identity.append((op, g, out))
        roots = sorted({self._find(g) for g in range(len(self.parent))})
        for r in roots:
            if self.size[r] is None:
                raise ValueError("model: could not determine the width of the input (it never reaches a layer)")
        edges = [(self._find(l["in_group"]), self._find(l["out_group"])) for l in self.layers]
        edges += [(self._find(s), self._find(d)) for _, s, d in identity]
        depth = _longest_path_depth(roots, edges)
        first: dict[int, int] = {}  # creation order of a merged group's first member (ties in depth)
        for g in range(len(self.parent)):
            first.setdefault(self._find(g), g)
        order = sorted(roots, key=lambda r: (depth[r], first[r]))
        number = {r: i for i, r in enumerate(order)}
        producers: dict[int, list[str]] = {r: [] for r in roots}
        for l in self.layers:
            producers[self._find(l["out_group"])].append(l["name"])
        groups = []
        for r in order:
            kind = "input" if self.kind[r] == "input" else ("layer" if producers[r] else "sum")
            name = "input" if kind == "input" else ("+".join(producers[r]) if producers[r] else self.label[r])
            groups.append(NeuronGroup(number[r], int(self.size[r]), depth[r], kind, tuple(producers[r]), name))
        norms_after: dict[str, list[str]] = {}
        norms = []
        for name, module, g, after in self.norms:
            norms.append(TracedNorm(name, module, number[self._find(g)], after))
            if after is not None:
                norms_after.setdefault(after, []).append(name)
        layers = tuple(
            TracedLayer(
                l["name"], l["module"], l["kind"], number[self._find(l["in_group"])],
                number[self._find(l["out_group"])], l["in_factor"], tuple(norms_after.get(l["name"], ())),
            )
            for l in self.layers
        )
        skips = []
        seen = set()
        for op, s, d in identity:
            key = (op, number[self._find(s)], number[self._find(d)])
            if key not in seen:
                seen.add(key)
                skips.append(SkipConnection(op, key[1], key[2], "identity"))
        for op, writers, out in projections:
            names = tuple(layers[i].name for i in writers)
            for src in sorted({layers[i].in_group for i in writers}):
                skips.append(SkipConnection(op, src, number[self._find(out)], "merged", names))
        return TracedModel(layers, tuple(groups), tuple(skips), tuple(norms), "fx")


def _longest_path_depth(nodes: list[int], edges: list[tuple[int, int]]) -> dict[int, int]:
    """Longest-path depth of each node of a small DAG (Kahn's algorithm); raises on a cycle."""
    succ: dict[int, list[int]] = {n: [] for n in nodes}
    indeg = {n: 0 for n in nodes}
    for s, d in edges:
        succ[s].append(d)
        indeg[d] += 1
    depth = {n: 0 for n in nodes}
    ready = [n for n in nodes if indeg[n] == 0]
    done = 0
    while ready:
        n = ready.pop()
        done += 1
        for d in succ[n]:
            depth[d] = max(depth[d], depth[n] + 1)
            indeg[d] -= 1
            if indeg[d] == 0:
                ready.append(d)
    if done != len(nodes):
        raise ValueError("model: the traced layer graph has a cycle; this model cannot be mapped onto levels")
    return depth


def _tensor_args(node: fx.Node, values: dict) -> list[fx.Node]:
    found: list[fx.Node] = []
    fx.node.map_arg((node.args, node.kwargs), lambda n: found.append(n) if values.get(n) is not None else None)
    return found


def _names(classes: tuple[type, ...]) -> str:
    return ", ".join(c.__name__ for c in classes)


# ---------------------------------------------------------------------------------------- hooks
def _trace_hooks(model: nn.Module, example_input: torch.Tensor) -> TracedModel:
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
    return _chain(calls, "hooks")


def _chain(calls: list[tuple[str, nn.Module, tuple[int, ...]]], method: str) -> TracedModel:
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
                f"{_names(SUPPORTED_MODULES)}"
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
