"""Bijective network <-> graph conversion for metanetworks (Liu, Wang, Zhang, "Meta Pruning via
Graph Metanetworks", arXiv 2506.12041, Sec. 3 "bijective mapping between networks and graphs").

The converter is built on :func:`graphsparse.topology.trace.trace_model` (the same forward-order
tracer as :class:`graphsparse.topology.NetworkGraph`): neuron groups become node ranges, traced
layers become edge ranges, identity skip connections become identity edges.

Nodes (one per neuron / channel, inputs included), in the tracer's group order
    Node ``node_ptr[g] + i`` is neuron ``i`` of neuron group ``g`` (group 0 = model input).
    A residual sum group is one set of nodes shared by all operands (as in the paper, whose
    block-output nodes hold both the main-path and the shortcut BatchNorm).

Node features ``x``: shape ``[N, NODE_DIM]`` with ``NODE_DIM = 5 * MAX_WRITERS + 5 = 15``
    ==========  ====================================================================
    column      meaning
    ==========  ====================================================================
    0 .. 4      writer slot 0: [bias, BN running_mean, BN running_var, BN weight, BN bias]
    5 .. 9      writer slot 1: the same for the second layer writing the group
    10 .. 14    node type one-hot: [input, linear neuron, conv channel, residual sum,
                output neuron]
    ==========  ====================================================================
    Writer slot ``k`` belongs to the ``k``-th layer (forward order) writing the node's group:
    slot 0 for plain layers, slot 1 for e.g. the projection shortcut that writes a residual sum
    together with the main path (the paper's 8-dim "main BN, shortcut BN" node features, with
    the bias placed beside its layer's BatchNorm). Absent values hold the filler
    ``[0, 0, 1, 1, 0]`` (no bias, no BN = identity BN), which is never read back.

Edges ``edge_index``: shape ``[2, E]``, row 0 = source (input neuron), row 1 = target
    Layer ``l`` owns edges ``edge_ptr[l]:edge_ptr[l + 1]`` in the row-major order of its weight:
    * Linear ``W[O, F]``: edge ``o * F + f`` goes from input neuron ``f // in_factor`` to output
      ``o``.
    * Conv2d ``W[O, I/G, kh, kw]`` (``G`` = ``groups``): edge ``o * (I/G) + i`` goes from input
      channel ``(o // (O/G)) * (I/G) + i`` to output channel ``o`` (only connections that exist).
    * Identity skip connections (after all layers): neuron ``i`` of the operand group to neuron
      ``i`` of the sum group, in the tracer's skip order.

Flatten between a conv and a Linear
    A Linear reading a flattened ``(C, H, W)`` map (``torch.flatten`` order: channel-major) has
    ``in_factor = H·W`` inputs per channel. Input unit ``f`` is channel ``c = f // (H·W)`` at
    spatial position ``p = f % (H·W)`` (``p = h·W + w``): it becomes one edge from channel node
    ``c`` to the output neuron, so every channel node has ``H·W`` parallel edges to each output
    neuron, distinguished by the position feature ``(p + 0.5) / (H·W)`` (no node is created per
    spatial position).

Edge features ``edge_attr``: shape ``[E, EDGE_DIM]`` with ``EDGE_DIM = K² + 1 + 4 = 14`` (K = 3)
    ==========  ====================================================================
    column      meaning
    ==========  ====================================================================
    0 .. 8      the kernel slice ``W[o, i]`` (kh x kw) zero-padded into K x K = 3 x 3 at
                offset ((K-kh)//2, (K-kw)//2) (centred; an even kernel sits up-left of
                centre), row-major; a Linear weight / an identity edge's 1 sits at the
                centre (column 4) (paper Sec. 3, zero-padding 1x1 and FC to 3x3)
    9           flatten position ``(p + 0.5) / (H·W)``; 0 for non-flatten edges
    10 .. 13    edge type one-hot: [linear, conv, flatten, identity]
    ==========  ====================================================================
    Kernels larger than ``K x K`` are refused (pass ``kernel_size`` to :func:`to_graph`).

The inverse (:func:`graph_to_state_dict`, :func:`from_graph`) reads back exactly the slots that
were written, so ``from_graph(to_graph(m), m).state_dict()`` equals ``m.state_dict()`` bit for bit.
Values are stored in the dtype of the model's first weight. BatchNorm's ``num_batches_tracked``
and mask buffers are not network parameters: :func:`from_graph` keeps those of the template.
For a masked model (:func:`graphsparse.masks.attach`) the graph holds the *effective* (masked)
weights; :func:`from_graph` writes them into the raw tensor and the mask stays attached.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch_geometric.data import Data

from graphsparse.checks import check_int
from graphsparse.metaprune.layout import (
    BN_LAYERS,
    EDGE_TYPES,
    FILLER,
    MAX_WRITERS,
    NODE_DIM,
    NODE_TYPES,
    SLOT_FIELDS,
    SUPPORTED_CONVERSION,
    GraphLayout,
    GraphMismatchError,
    LayerLayout,
    edge_dim,
)
from graphsparse.topology.trace import (
    SkipConnection,
    TracedLayer,
    TracedModel,
    UnsupportedLayerError,
    trace_model,
)

__all__ = ["to_graph", "from_graph", "graph_to_state_dict"]


def _prefix(name: str) -> str:
    return f"{name}." if name else ""


def _network_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """Effective parameters and BN running statistics of ``model`` by (unmasked) name."""
    out: dict[str, torch.Tensor] = {}
    for mname, module in model.named_modules():
        if "parametrizations" in mname.split("."):
            continue  # mask parametrizations: raw tensors and masks are not network tensors
        names = [n for n, _ in module.named_parameters(recurse=False)]
        if parametrize.is_parametrized(module):
            names += list(module.parametrizations.keys())
        if isinstance(module, BN_LAYERS):
            names += [n for n in ("running_mean", "running_var") if getattr(module, n) is not None]
        for n in names:
            out[_prefix(mname) + n] = getattr(module, n)
    return out


def _check_supported(model: nn.Module, traced: TracedModel) -> dict[str, nn.Module]:
    """Map layer name -> its BatchNorm (or None); refuse what the graph cannot hold."""
    supported = ", ".join(c.__name__ for c in SUPPORTED_CONVERSION)
    layer_names = {l.name for l in traced.layers}
    bn_of: dict[str, nn.Module] = {}
    for norm in traced.norms:
        if not isinstance(norm.module, BN_LAYERS):
            raise UnsupportedLayerError(
                f"layer {norm.name!r} ({type(norm.module).__name__}) is not supported by the metanetwork "
                f"converter; supported layers: {supported} (and parameter-free element-wise modules)"
            )
        if norm.after is None:
            raise UnsupportedLayerError(
                f"BatchNorm {norm.name!r} is applied to the model input or to a residual sum; the converter "
                "supports BatchNorm only after a Linear/Conv2d (before any addition)"
            )
    for layer in traced.layers:
        if len(layer.norms) > 1:
            raise UnsupportedLayerError(
                f"layer {layer.name!r} is followed by {len(layer.norms)} normalisation layers {layer.norms}; "
                "the converter supports at most one BatchNorm per layer"
            )
        if layer.norms:
            bn = model.get_submodule(layer.norms[0])
            size = traced.groups[layer.out_group].size
            if bn.num_features != size:
                raise UnsupportedLayerError(
                    f"BatchNorm {layer.norms[0]!r} has {bn.num_features} features but layer {layer.name!r} "
                    f"writes {size} neurons"
                )
            bn_of[layer.name] = bn
    covered = layer_names | set(n for l in traced.layers for n in l.norms)
    for mname, module in model.named_modules():
        if "parametrizations" in mname.split(".") or mname in covered:
            continue
        own = [n for n, _ in module.named_parameters(recurse=False)]
        if parametrize.is_parametrized(module):
            own += list(module.parametrizations.keys())
        if own:
            raise UnsupportedLayerError(
                f"layer {mname!r} ({type(module).__name__}) has parameters {own} that the metanetwork graph "
                f"cannot hold; supported layers: {supported} (and parameter-free element-wise modules)"
            )
    return bn_of


def to_graph(model: nn.Module, example_input: torch.Tensor | None = None, *, kernel_size: int = 3) -> Data:
    """Map ``model`` to a PyG graph (see the module docstring for the exact layout).

    Args:
        model: a network of Linear / Conv2d / BatchNorm layers (plus parameter-free element-wise
            modules, flatten, residual additions), traced by :func:`trace_model`.
        example_input: one input batch; only needed if torch.fx cannot trace ``model`` (the
            tracer then runs it once, here in eval mode so BatchNorm statistics are not updated;
            the modules' train/eval flags are restored).
        kernel_size: K; conv kernels are centre-padded to ``K x K`` (default 3: 3x3 and 1x1 convs
            and Linear layers share one edge feature space, as in the paper's ResNet-56/VGG-19).

    Returns:
        ``Data`` with ``x [N, 15]``, ``edge_index [2, E]`` (long), ``edge_attr [E, K²+5]``,
        ``node_type [N]`` and ``edge_type [E]`` (long indices into :data:`NODE_TYPES` /
        :data:`EDGE_TYPES`), ``num_nodes = N`` and ``layout`` (:class:`GraphLayout`).
        Values are detached copies.

    Raises:
        UnsupportedLayerError: a layer the converter cannot hold (named, with the supported set),
            a kernel larger than ``K x K``, more than :data:`MAX_WRITERS` layers writing one group.

    Example::

        >>> from torch import nn
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
        >>> g = to_graph(net)
        >>> g.x.shape, g.edge_index.shape, g.edge_attr.shape
        (torch.Size([14, 15]), torch.Size([2, 48]), torch.Size([48, 14]))
        >>> new = from_graph(g, net)
        >>> all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), new.state_dict().values()))
        True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    K = check_int(kernel_size, "kernel_size", low=1)
    traced = _trace(model, example_input)
    bn_of = _check_supported(model, traced)
    dtype = traced.layers[0].module.weight.dtype
    node_ptr = [0]
    for g in traced.groups:
        node_ptr.append(node_ptr[-1] + g.size)
    writers: dict[int, list[str]] = {}
    for l in traced.layers:
        writers.setdefault(l.out_group, []).append(l.name)
    x, node_type = _node_features(traced, node_ptr, writers, dtype)
    parts, layouts = [], []     # (src, dst, edge_attr, edge_type) of each layer and identity skip
    n_edges = 0
    with torch.no_grad():
        for l in traced.layers:
            src, dst, attr, etype, groups = _layer_edges(l, node_ptr, K, dtype)
            parts.append((src, dst, attr, torch.full((len(src),), EDGE_TYPES.index(etype), dtype=torch.long)))
            layouts.append(_write_layer_nodes(x, l, node_ptr, writers, bn_of.get(l.name), dtype,
                                              edges=(n_edges, n_edges + len(src)), groups=groups))
            n_edges += len(src)
        for s in traced.skips:
            if s.kind == "identity":
                src, dst, attr = _identity_edges(traced, node_ptr, s, K, dtype)
                parts.append((src, dst, attr, torch.full((len(src),), EDGE_TYPES.index("identity"),
                                                         dtype=torch.long)))
                n_edges += len(src)
    src, dst, attr, edge_type = (torch.cat(column) for column in zip(*parts))
    N = node_ptr[-1]
    x[torch.arange(N), len(SLOT_FIELDS) * MAX_WRITERS + node_type] = 1
    layout = GraphLayout(kernel_size=K, node_ptr=tuple(node_ptr), layers=tuple(layouts), num_edges=n_edges,
                         model_class=type(model).__name__)
    return Data(x=x, edge_index=torch.stack([src, dst]), edge_attr=attr, node_type=node_type,
                edge_type=edge_type, num_nodes=N, layout=layout)


def _trace(model: nn.Module, example_input: torch.Tensor | None) -> TracedModel:
    """:func:`trace_model` in eval mode (the tracer's hooks fallback runs forward: BatchNorm
    statistics must not change), the modules' train/eval flags restored."""
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        return trace_model(model, example_input)
    except UnsupportedLayerError as err:
        raise UnsupportedLayerError(
            f"{err} (the metanetwork converter supports {', '.join(c.__name__ for c in SUPPORTED_CONVERSION)} "
            "and parameter-free element-wise modules)"
        ) from err
    finally:
        for m, training in modes.items():
            m.training = training


def _node_features(traced: TracedModel, node_ptr: list[int], writers: dict[int, list[str]],
                   dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` with the filler in every writer slot (type one-hot not yet set) and the node types;
    refuses a group written by more than :data:`MAX_WRITERS` layers."""
    N = node_ptr[-1]
    x = torch.zeros(N, NODE_DIM, dtype=dtype)
    x[:, :len(SLOT_FIELDS) * MAX_WRITERS] = torch.tensor(FILLER * MAX_WRITERS, dtype=dtype)
    node_type = torch.empty(N, dtype=torch.long)
    read = {l.in_group for l in traced.layers} | {s.src_group for s in traced.skips}
    for g in traced.groups:
        if g.kind == "input":
            t = "input"
        elif g.index not in read:
            t = "output"
        elif g.kind == "sum":
            t = "sum"
        else:
            kinds = {l.kind for l in traced.layers if l.out_group == g.index}
            t = "conv" if "conv2d" in kinds else "linear"
        node_type[node_ptr[g.index]:node_ptr[g.index + 1]] = NODE_TYPES.index(t)
        if len(writers.get(g.index, [])) > MAX_WRITERS:
            raise UnsupportedLayerError(
                f"neuron group {g.name!r} is written by {len(writers[g.index])} layers {writers[g.index]}; "
                f"node features hold at most {MAX_WRITERS} (MAX_WRITERS)"
            )
    return x, node_type


def _layer_edges(l: TracedLayer, node_ptr: list[int], K: int, dtype: torch.dtype
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, str, int]:
    """``(src, dst, edge_attr, edge type, groups)`` of one layer's edges, in the row-major order
    of its weight (module docstring)."""
    module = l.module
    w = module.weight.detach()
    in0, out0 = node_ptr[l.in_group], node_ptr[l.out_group]
    O = w.shape[0]
    width = edge_dim(K)
    centre = (K // 2) * K + K // 2
    if l.kind == "conv2d":
        G = module.groups
        Ig, kh, kw = w.shape[1], w.shape[2], w.shape[3]
        if kh > K or kw > K:
            raise UnsupportedLayerError(
                f"layer {l.name!r} (Conv2d) has a {kh}x{kw} kernel, larger than kernel_size={K}; "
                f"call to_graph(..., kernel_size={max(kh, kw)})"
            )
        o = torch.arange(O).repeat_interleave(Ig)
        i = torch.arange(Ig).repeat(O)
        src = in0 + (o // (O // G)) * Ig + i
        attr = torch.zeros(O * Ig, width, dtype=dtype)
        r0, c0 = (K - kh) // 2, (K - kw) // 2
        padded = torch.zeros(O * Ig, K, K, dtype=dtype)
        padded[:, r0:r0 + kh, c0:c0 + kw] = w.reshape(O * Ig, kh, kw).to(dtype)
        attr[:, :K * K] = padded.reshape(O * Ig, K * K)
        etype = "conv"
    else:
        G, F = 1, w.shape[1]
        o = torch.arange(O).repeat_interleave(F)
        f = torch.arange(F).repeat(O)
        src = in0 + f // l.in_factor
        attr = torch.zeros(O * F, width, dtype=dtype)
        attr[:, centre] = w.reshape(-1).to(dtype)
        if l.in_factor > 1:
            attr[:, K * K] = ((f % l.in_factor).to(dtype) + 0.5) / l.in_factor
            etype = "flatten"
        else:
            etype = "linear"
    attr[:, K * K + 1 + EDGE_TYPES.index(etype)] = 1
    return src, out0 + o, attr, etype, G


def _write_layer_nodes(x: torch.Tensor, l: TracedLayer, node_ptr: list[int],
                       writers: dict[int, list[str]], bn: nn.Module | None, dtype: torch.dtype, *,
                       edges: tuple[int, int], groups: int) -> LayerLayout:
    """Write the layer's bias and its BatchNorm's statistics and affine parameters into the
    layer's writer slot of its output nodes; returns the layer's :class:`LayerLayout`."""
    module = l.module
    O = module.weight.shape[0]
    out0 = node_ptr[l.out_group]
    slot = writers[l.out_group].index(l.name)
    cols = slice(slot * len(SLOT_FIELDS), (slot + 1) * len(SLOT_FIELDS))
    block = x[out0:out0 + O, cols]
    bias = getattr(module, "bias", None)
    if bias is not None:
        block[:, 0] = bias.detach().to(dtype)
    fields: tuple[str, ...] = ()
    if bn is not None:
        fields = tuple(n for n in ("running_mean", "running_var", "weight", "norm_bias")
                       if getattr(bn, "bias" if n == "norm_bias" else n) is not None)
        for n in fields:
            block[:, SLOT_FIELDS.index(n)] = getattr(bn, "bias" if n == "norm_bias" else n).detach().to(dtype)
    return LayerLayout(
        name=l.name, kind=l.kind, weight_shape=tuple(module.weight.shape), has_bias=bias is not None,
        norm=l.norms[0] if bn is not None else None, norm_fields=fields, out_start=out0, out_size=O,
        slot=slot, edge_start=edges[0], edge_end=edges[1], in_factor=l.in_factor, groups=groups,
    )


def _identity_edges(traced: TracedModel, node_ptr: list[int], skip: SkipConnection, K: int,
                    dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(src, dst, edge_attr)`` of an identity skip: neuron ``i`` of the operand group to neuron
    ``i`` of the sum group, weight 1 at the kernel centre."""
    size = traced.groups[skip.src_group].size
    idx = torch.arange(size)
    attr = torch.zeros(size, edge_dim(K), dtype=dtype)
    attr[:, (K // 2) * K + K // 2] = 1
    attr[:, K * K + 1 + EDGE_TYPES.index("identity")] = 1
    return node_ptr[skip.src_group] + idx, node_ptr[skip.dst_group] + idx, attr


def _check_graph(graph: Data) -> GraphLayout:
    layout = getattr(graph, "layout", None)
    if not isinstance(layout, GraphLayout):
        raise GraphMismatchError("graph has no GraphLayout in graph.layout: it was not made by to_graph")
    K = layout.kernel_size
    for name, t, shape in (("x", graph.x, (layout.node_ptr[-1], NODE_DIM)),
                           ("edge_attr", graph.edge_attr, (layout.num_edges, edge_dim(K)))):
        if not isinstance(t, torch.Tensor) or tuple(t.shape) != shape:
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise GraphMismatchError(f"graph.{name} has shape {got}, its layout expects {shape}")
    return layout


def graph_to_state_dict(graph: Data) -> dict[str, torch.Tensor]:
    """The network tensors held by ``graph`` (inverse of :func:`to_graph`), by state_dict name.

    Returns ``{"<layer>.weight": [O, F] or [O, I/G, kh, kw], "<layer>.bias": [O],
    "<bn>.running_mean"/".running_var"/".weight"/".bias": [O]}``; the tensors are slices of
    ``graph.x`` / ``graph.edge_attr``, so gradients flow back into them (use with
    ``torch.func.functional_call`` for meta-training, paper Sec. 3.2). Names of masked tensors
    are the unmasked names (``"fc.weight"``).
    """
    layout = _check_graph(graph)
    K = layout.kernel_size
    centre = (K // 2) * K + K // 2
    out: dict[str, torch.Tensor] = {}
    x, e = graph.x, graph.edge_attr
    for l in layout.layers:
        p = _prefix(l.name)
        rows = e[l.edge_start:l.edge_end]
        if l.kind == "conv2d":
            O, Ig, kh, kw = l.weight_shape
            r0, c0 = (K - kh) // 2, (K - kw) // 2
            out[p + "weight"] = rows[:, :K * K].reshape(O, Ig, K, K)[:, :, r0:r0 + kh, c0:c0 + kw]
        else:
            out[p + "weight"] = rows[:, centre].reshape(l.weight_shape)
        base = l.slot * len(SLOT_FIELDS)
        block = x[l.out_start:l.out_start + l.out_size]
        if l.has_bias:
            out[p + "bias"] = block[:, base]
        if l.norm is not None:
            q = _prefix(l.norm)
            for n in l.norm_fields:
                out[q + ("bias" if n == "norm_bias" else n)] = block[:, base + SLOT_FIELDS.index(n)]
    return out


def from_graph(graph: Data, model: nn.Module) -> nn.Module:
    """A copy of ``model`` (``copy.deepcopy``, same class) with the graph's parameters loaded.

    Args:
        graph: a graph from :func:`to_graph` (or a metanetwork's output graph, same layout).
        model: the network the graph was made from, or one of the same architecture.

    Returns:
        The new model; tensors the graph does not hold (``num_batches_tracked``, masks) are the
        template's. For masked tensors the graph value is written into the raw tensor.

    Raises:
        GraphMismatchError: the graph is not from :func:`to_graph`, its features do not match
            its layout, or ``model`` has other tensor names/shapes than the graph.
    """
    state = graph_to_state_dict(graph)
    layout = graph.layout
    new = copy.deepcopy(model)
    have = _network_tensors(new)
    missing, extra = sorted(set(state) - set(have)), sorted(set(have) - set(state))
    if missing or extra:
        raise GraphMismatchError(
            f"graph (from a {layout.model_class}) and network ({type(model).__name__}) do not match: "
            f"tensors only in the graph: {missing[:5]}, only in the network: {extra[:5]}"
        )
    with torch.no_grad():
        for name, value in state.items():
            if tuple(have[name].shape) != tuple(value.shape):
                raise GraphMismatchError(
                    f"graph and network do not match: {name!r} has shape {tuple(have[name].shape)} in the "
                    f"network and {tuple(value.shape)} in the graph"
                )
            mname, _, tname = name.rpartition(".")
            module = new.get_submodule(mname)
            if parametrize.is_parametrized(module, tname):
                target = module.parametrizations[tname].original
            else:
                target = getattr(module, tname)
            target.copy_(value.detach())
    return new
