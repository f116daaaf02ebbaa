"""The torch.fx walk behind :func:`~graphsparse.topology.trace.trace_model`: neuron groups as a
union-find over the fx graph, residual additions resolved into merged groups or identity skips,
groups numbered by longest-path depth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch.fx as fx
from torch import nn

from .results import NeuronGroup, SkipConnection, TracedLayer, TracedModel, TracedNorm, UnsupportedLayerError
from .supported import (
    BINARY_FUNCTIONS,
    BINARY_METHODS,
    ELEMENTWISE_FUNCTIONS,
    ELEMENTWISE_METHODS,
    FLATTEN_FUNCTIONS,
    FLATTEN_METHODS,
    META_FUNCTIONS,
    META_METHODS,
    NORM_LAYERS,
    POOL_REDUCE_FUNCTIONS,
    POOL_REDUCE_METHODS,
    SUPPORTED_FUNCTIONS,
    SUPPORTED_MODULES,
    WEIGHT_LAYERS,
    class_names,
)

__all__ = ["LeafTracer", "FxWalker"]

# (meta, element-wise, flatten, binary) targets of fx ``call_method`` / ``call_function`` nodes.
_METHOD_OPS = (META_METHODS, ELEMENTWISE_METHODS, FLATTEN_METHODS, BINARY_METHODS)
_FUNCTION_OPS = (META_FUNCTIONS, ELEMENTWISE_FUNCTIONS, FLATTEN_FUNCTIONS, BINARY_FUNCTIONS)


class LeafTracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, SUPPORTED_MODULES) or super().is_leaf_module(m, module_qualified_name)


@dataclass
class _Value:
    """What an fx node carries: a neuron group (via union-find id), a layout, its producer."""

    group: int
    layout: str  # "input" (model input, layout not yet known), "features", "channels", "flat"
    producer: str | None  # last weight layer (through element-wise ops), None for input / sums


class FxWalker:
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
                    f"supported modules are supported: {class_names(SUPPORTED_MODULES)}"
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
                f"{class_names(SUPPORTED_MODULES)}"
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
        meta, elementwise, flatten, binary = _METHOD_OPS if node.op == "call_method" else _FUNCTION_OPS
        if target in meta:
            return None
        if target in elementwise and len(args) == 1:
            return value
        if target in flatten and len(args) == 1:
            return self._flatten(value)
        if target in binary:
            return self._binary(node, args, values)
        if target in (POOL_REDUCE_METHODS if node.op == "call_method" else POOL_REDUCE_FUNCTIONS) and len(args) == 1:
            return _global_pool(node, op_name, value)
        raise UnsupportedLayerError(
            f"operation {op_name!r} (fx node {node.name!r}) is not supported; supported functions: "
            f"{', '.join(SUPPORTED_FUNCTIONS)}; methods: "
            f"{', '.join(sorted(ELEMENTWISE_METHODS | FLATTEN_METHODS | BINARY_METHODS | META_METHODS | POOL_REDUCE_METHODS))}"
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


def _global_pool(node: fx.Node, op_name: str, value: _Value) -> _Value:
    """``x.mean((2, 3))`` and the like: global pooling of a ``(N, C, H, W)`` map over its spatial
    dims keeps the ``C`` channels (flat, or still a map with ``keepdim=True``); a reduction over
    any other dim mixes neurons and is not supported."""
    dims = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
    keepdim = node.kwargs.get("keepdim", node.args[2] if len(node.args) > 2 else False)
    dims = (dims,) if isinstance(dims, int) else dims
    spatial = value.layout == "channels" and dims is not None and \
        all(isinstance(d, int) for d in dims) and sorted(d % 4 for d in dims) == [2, 3]
    if not spatial:
        raise UnsupportedLayerError(
            f"operation {op_name!r} (fx node {node.name!r}) over dims {dims!r} is not supported: only "
            "global pooling of a (N, C, H, W) feature map over its spatial dims (2, 3) is"
        )
    return _Value(value.group, "channels" if keepdim else "flat", value.producer)


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
