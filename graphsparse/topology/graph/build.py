"""Graph construction: the levels and blocks of a :class:`NetworkGraph` from a list of masks, a
traced model or a DAG of neurons (the classmethods ``NetworkGraph.from_masks``, ``from_model`` and
``from_dag`` call these)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from graphsparse.checks import check_not_meta, refuses_meta
from graphsparse.masks import masks_of
from graphsparse.topology.trace import trace_model

from ._csr import bool_csr, csr_from_coords, csr_from_dense
from .block import Block

__all__ = ["GraphParts", "parts_from_masks", "parts_from_model", "parts_from_dag"]


class GraphParts(NamedTuple):
    """The arguments of :class:`NetworkGraph`: level sizes, blocks, level names, node labels."""

    sizes: list[int]
    blocks: list[Block]
    level_names: Sequence[str] | None
    node_labels: Sequence[Any] | None = None


def parts_from_masks(masks: Sequence[Any] | Mapping[str, Any],
                     level_names: Sequence[str] | None = None) -> GraphParts:
    """A chain ``input -> level 1 -> ... -> output`` of consecutive layer masks (see
    ``NetworkGraph.from_masks``)."""
    if isinstance(masks, Mapping):
        items = [(str(k), v) for k, v in masks.items()]
        arg = "masks[{!r}]"
    elif isinstance(masks, Sequence) and not isinstance(masks, (str, bytes)):
        items = [(str(i), v) for i, v in enumerate(masks)]
        arg = "masks[{}]"
    else:
        raise TypeError(f"masks must be a list of masks or a dict name -> mask, got {type(masks).__name__}")
    if not items:
        raise ValueError("masks must contain at least one mask")
    blocks: list[Block] = []
    sizes: list[int] = []
    for pos, (name, raw) in enumerate(items):
        label = arg.format(name if isinstance(masks, Mapping) else pos)
        factor = _flattened_factor(raw, items[pos - 1][1], sizes[-1]) if pos else 1
        if factor > 1:
            block = _flattened_block_from_array(raw, name=name, src=pos, label=label, factor=factor)
        else:
            block = _block_from_array(raw, name=name, src=pos, label=label)
        n_out, n_in = block.shape
        if pos == 0:
            sizes.append(n_in)
        elif n_in != sizes[-1]:
            prev = arg.format(items[pos - 1][0] if isinstance(masks, Mapping) else pos - 1)
            raise ValueError(
                f"{label} has {n_in} inputs (shape {tuple(_shape_of(raw))}) but {prev} has "
                f"{sizes[-1]} outputs: consecutive layer sizes must match (in of layer i == out of layer i-1)"
            )
        sizes.append(n_out)
        blocks.append(block)
    if level_names is None:
        level_names = ["input"] + [name for name, _ in items]
    return GraphParts(sizes, blocks, level_names)


@refuses_meta("model")
def parts_from_model(model: nn.Module, example_input: torch.Tensor | None = None) -> GraphParts:
    """The traced Linear / Conv2d layers of ``model`` as blocks (see ``NetworkGraph.from_model``)."""
    traced = trace_model(model, example_input)
    masks = masks_of(model)  # {} for a model without attached masks
    sizes = [g.size for g in traced.groups]
    blocks: list[Block] = []
    with torch.no_grad():
        for layer in traced.layers:
            weight = layer.module.weight.detach()
            mask = masks.get(layer.weight_name)
            if mask is None:
                mask = weight != 0
            elif tuple(mask.shape) != tuple(weight.shape):
                raise ValueError(
                    f"mask of {layer.weight_name!r} has shape {tuple(mask.shape)}, "
                    f"weight has {tuple(weight.shape)}"
                )
            blocks.append(_block_from_layer(layer, mask.detach().cpu().bool(), weight.cpu()))
    for skip in traced.skips:
        if skip.kind == "identity":
            n = sizes[skip.src_group]
            eye = csr_from_coords(np.arange(n), np.arange(n), (n, n))
            blocks.append(
                Block(f"{skip.op}:identity", skip.src_group, skip.dst_group, eye, kind="identity", possible=n)
            )
    names = [g.name for g in traced.groups]
    return GraphParts(sizes, blocks, names)


def parts_from_dag(dag: Any, weight: str = "weight") -> GraphParts:
    """The longest-path levels of a DAG of neurons (see ``NetworkGraph.from_dag``)."""
    import networkx as nx

    if not isinstance(dag, nx.DiGraph) or isinstance(dag, nx.MultiDiGraph):
        raise TypeError(f"dag must be a networkx.DiGraph, got {type(dag).__name__}")
    if dag.number_of_edges() == 0:
        raise ValueError("dag must have at least one edge")
    if not nx.is_directed_acyclic_graph(dag):
        cycle = nx.find_cycle(dag)
        raise ValueError(f"dag must be acyclic; found the cycle {cycle}")
    depth: dict[Any, int] = {}
    for node in nx.topological_sort(dag):
        depth[node] = max((depth[p] + 1 for p in dag.predecessors(node)), default=0)
    nodes = list(dag.nodes)
    levels = np.fromiter((depth[n] for n in nodes), dtype=np.int64, count=len(nodes))
    n_levels = int(levels.max()) + 1
    order = np.argsort(levels, kind="stable")
    sizes = np.bincount(levels, minlength=n_levels)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    position = np.empty(len(nodes), dtype=np.int64)
    position[order] = np.arange(len(nodes)) - offsets[levels[order]]
    node_id = {n: i for i, n in enumerate(nodes)}
    edges = list(dag.edges(data=True))
    u = np.fromiter((node_id[a] for a, _, _ in edges), dtype=np.int64, count=len(edges))
    v = np.fromiter((node_id[b] for _, b, _ in edges), dtype=np.int64, count=len(edges))
    has_w = all(weight in d for _, _, d in edges)
    w = np.abs(np.array([d[weight] for _, _, d in edges], dtype=np.float64)) if has_w else None
    lu, lv = levels[u], levels[v]
    blocks = []
    for s, d in sorted(set(zip(lu.tolist(), lv.tolist()))):
        sel = np.flatnonzero((lu == s) & (lv == d))
        rows, cols = position[v[sel]], position[u[sel]]
        key = np.lexsort((cols, rows))
        mask = csr_from_coords(rows[key], cols[key], (int(sizes[d]), int(sizes[s])))
        blocks.append(
            Block(f"{s}->{d}", s, d, mask, kind="dag", edge_weight=None if w is None else w[sel][key])
        )
    labels = [nodes[i] for i in order]
    names = ["input"] + [f"level{l}" for l in range(1, n_levels)]
    return GraphParts(sizes.tolist(), blocks, names, labels)


def _shape_of(raw: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in raw.shape)


def _to_numpy(raw: Any, label: str) -> np.ndarray:
    if isinstance(raw, torch.Tensor):
        return check_not_meta(raw, label).detach().cpu().numpy()
    if isinstance(raw, np.ndarray):
        return raw
    raise TypeError(f"{label} must be a torch.Tensor, numpy.ndarray or scipy sparse matrix, got {type(raw).__name__}")


def _block_from_array(raw: Any, *, name: str, src: int, label: str) -> Block:
    """Block of a 2-D ``(out, in)`` or 4-D ``(c_out, c_in, k_h, k_w)`` mask or weight array."""
    if sp.issparse(raw):
        if raw.ndim != 2:
            raise ValueError(f"{label} must be 2-D, got shape {raw.shape}")
        if min(raw.shape) < 1:
            raise ValueError(f"{label} has shape {tuple(raw.shape)}: every layer width must be >= 1")
        mask, values = bool_csr(raw)
        return Block(name, src, src + 1, mask, kind="mask", edge_weight=values, weight_shape=tuple(raw.shape))
    arr = _to_numpy(raw, label)
    if arr.ndim not in (2, 4):
        raise ValueError(
            f"{label} must be 2-D (out, in) or 4-D (c_out, c_in, k_h, k_w), got shape {tuple(arr.shape)}"
        )
    if min(arr.shape) < 1:
        raise ValueError(f"{label} has shape {tuple(arr.shape)}: every layer width must be >= 1")
    if arr.dtype != bool and not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{label} must be boolean or numeric, got dtype {arr.dtype}")
    if arr.dtype != bool and not np.isfinite(arr).all():
        raise ValueError(f"{label} holds non-finite values (NaN or inf): a numeric mask or weight "
                         "array gives an edge at every non-zero, finite entry")
    if arr.ndim == 4:
        t = torch.from_numpy(np.ascontiguousarray(arr))
        weight = t if arr.dtype != bool else t.to(torch.float32)
        return _conv_block(name, src, src + 1, t != 0, weight, groups=1, weighted=arr.dtype != bool, kind="mask")
    mask = csr_from_dense(arr)  # non-zero pattern, straight from the array (no `arr != 0` copy)
    values = None if arr.dtype == bool else np.abs(arr[_csr_rows(mask), mask.indices])
    block = Block(name, src, src + 1, mask, kind="mask", edge_weight=values, weight_shape=tuple(arr.shape))
    block.out_degree()  # fills the block's degree cache while its indices are in cache
    return block


def _flattened_factor(raw: Any, previous: Any, channels: int) -> int:
    """``H·W`` when the 2-D mask ``raw`` reads the flattened ``(C, H, W)`` output of the 4-D
    (Conv2d) mask ``previous`` with ``C = channels`` (its width is a multiple of ``C`` above it),
    else 1."""
    if len(getattr(raw, "shape", ())) != 2 or len(getattr(previous, "shape", ())) != 4:
        return 1
    n_in = int(raw.shape[1])
    return n_in // channels if n_in != channels and n_in % channels == 0 else 1


def _flattened_block_from_array(raw: Any, *, name: str, src: int, label: str, factor: int) -> Block:
    """Block of a 2-D mask or weight reading a flattened map (see :func:`_flattened_block`)."""
    arr = _to_numpy(raw.toarray() if sp.issparse(raw) else raw, label)
    if arr.dtype != bool and not np.isfinite(arr).all():
        raise ValueError(f"{label} holds non-finite values (NaN or inf)")
    t = torch.from_numpy(np.ascontiguousarray(arr))
    weight = None if arr.dtype == bool else t
    return _flattened_block(name, src, src + 1, t != 0, weight, factor=factor, kind="mask")


def _csr_rows(m: sp.csr_array) -> np.ndarray:
    """Row index of every stored entry of a CSR array."""
    return np.repeat(np.arange(m.shape[0], dtype=m.indices.dtype), np.diff(m.indptr))


def _block_from_layer(layer: Any, mask: torch.Tensor, weight: torch.Tensor) -> Block:
    """Block of a traced Linear / Conv2d layer (see :mod:`graphsparse.topology.trace`)."""
    if layer.kind == "conv2d":
        return _conv_block(
            layer.name, layer.in_group, layer.out_group, mask, weight, groups=layer.module.groups, kind="conv2d"
        )
    if layer.in_factor == 1:
        m = mask.numpy()
        csr = csr_from_dense(m)
        values = weight.abs().numpy()[m]
        return Block(
            layer.name, layer.in_group, layer.out_group, csr, kind="linear", edge_weight=values,
            weight_shape=tuple(weight.shape),
        )
    return _flattened_block(layer.name, layer.in_group, layer.out_group, mask, weight,
                            factor=layer.in_factor, kind="linear")


def _flattened_block(name: str, src: int, dst: int, mask: torch.Tensor, weight: torch.Tensor | None,
                     *, factor: int, kind: str) -> Block:
    """Block of a Linear reading a flattened ``(C, H, W)`` map (``factor = H·W``): the ``factor``
    columns of each channel collapse onto one edge (present when any is kept), which records
    their kept count and the L2 norm of their kept weights."""
    n_out, n_in = mask.shape
    m3 = mask.reshape(n_out, n_in // factor, factor)
    count = m3.sum(-1)
    present = (count > 0).numpy()
    norm = None if weight is None else \
        ((weight.to(torch.float64).reshape(n_out, n_in // factor, factor) ** 2) * m3).sum(-1).sqrt().numpy()[present]
    return Block(
        name, src, dst, csr_from_dense(present), kind=kind, edge_weight=norm,
        edge_count=count.numpy()[present].astype(np.int64),
        unrolled=csr_from_dense(mask.numpy()), weight_shape=tuple(mask.shape),
    )


def _conv_block(
    name: str, src: int, dst: int, mask: torch.Tensor, weight: torch.Tensor, *, groups: int,
    kind: str, weighted: bool = True,
) -> Block:
    """Channel-view block of a Conv2d mask ``(c_out, c_in/groups, k_h, k_w)``."""
    c_out, c_in_g = int(mask.shape[0]), int(mask.shape[1])
    count = mask.sum((2, 3))
    present = (count > 0).numpy()
    rows, cols_local = np.nonzero(present)
    cols = cols_local + (rows // (c_out // groups)) * c_in_g
    csr = csr_from_coords(rows, cols, (c_out, c_in_g * groups))
    norm = ((weight.to(torch.float64) ** 2) * mask).sum((2, 3)).sqrt().numpy()[present] if weighted else None
    return Block(
        name, src, dst, csr, kind=kind, possible=c_out * c_in_g, edge_weight=norm,
        edge_count=count.numpy()[present].astype(np.int64),
        unrolled=csr_from_dense(mask.reshape(c_out, -1).numpy()), weight_shape=tuple(mask.shape),
    )
