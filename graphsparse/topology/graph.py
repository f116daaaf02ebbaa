"""The network graph: a layered neural network as per-layer scipy CSR blocks.

Vocabulary used throughout :mod:`graphsparse.topology`:

* **level** — a set of neurons (nodes) that a weight reads or writes: level 0 holds the network's
  inputs, the last level its outputs, the levels in between are *hidden*. ``graph.sizes[l]`` is the
  number of neurons of level ``l`` (its width). For a plain MLP ``784-1000-10`` the levels are
  ``(784, 1000, 10)``.
* **node** — a neuron, numbered globally: node ``graph.offsets[l] + i`` is neuron ``i`` of level ``l``.
* **block** — one weight matrix between two levels, stored as a scipy CSR array of shape
  ``(sizes[dst], sizes[src])`` in PyTorch ``(out, in)`` layout: entry ``(i, j)`` is the edge from
  neuron ``j`` of level ``src`` to neuron ``i`` of level ``dst``. Blocks with ``dst == src + 1`` join
  adjacent levels; blocks with ``dst > src + 1`` are *skip* blocks (deepstruct-style skip links,
  ResNet projection shortcuts). Identity residual connections are blocks of kind ``"identity"``:
  they are edges of the graph but not weights, so they do not count towards ``num_edges`` or
  ``density`` (see :mod:`graphsparse.topology.metrics`).

Which graph a metric uses is stated in its docstring; in short:

* **Linear** layers: the neuron graph, one edge per kept weight.
* **Conv2d** layers, *channel view* (the block): channels are nodes, an edge joins input channel
  ``j`` to output channel ``i`` when any of the ``k_h·k_w`` kernel entries ``W[i, j]`` is kept; the
  edge carries the number of kept entries (``Block.edge_count``) and the L2 norm of the kept
  entries (``Block.edge_weight``). Degree, path, component, clustering and shortest-path metrics
  use this view.
* **Conv2d** layers, *unrolled view* (``Block.unrolled``): the ``(c_out, c_in/groups·k_h·k_w)``
  matrix of the mask, as used by the Ramanujan-graph analyses of pruned networks (Hoang et al.,
  ICLR 2023); only the spectral metrics use it.
* A Linear layer that reads a flattened ``(C, H, W)`` feature map is collapsed onto the ``C``
  channels the same way (edge where any of the ``H·W`` weights of that channel is kept); its
  unrolled view is the full ``(out, C·H·W)`` mask.

Example::

    >>> import torch
    >>> from graphsparse.topology import NetworkGraph
    >>> g = NetworkGraph.from_masks([torch.eye(3, dtype=torch.bool), torch.ones(2, 3, dtype=torch.bool)])
    >>> g.sizes, g.num_nodes, [b.nnz for b in g.blocks]
    ((3, 3, 2), 8, [3, 6])
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from graphsparse.masks import masks_of
from graphsparse.topology.trace import trace_model

__all__ = ["Block", "NetworkGraph", "BLOCK_KINDS", "NETWORKX_EDGE_WARN"]

#: Allowed values of :attr:`Block.kind`.
BLOCK_KINDS = ("linear", "conv2d", "mask", "dag", "identity")

#: ``to_networkx()`` warns above this many edges (networkx needs ≈200 bytes per edge).
NETWORKX_EDGE_WARN = 100_000


def _index_dtype(n: int) -> type:
    return np.int32 if n < np.iinfo(np.int32).max else np.int64


def _csr_from_coords(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_array:
    """Boolean CSR array from row-major sorted, duplicate-free coordinates (no copy of ``cols``
    beyond a dtype cast)."""
    n_rows, n_cols = shape
    idx = _index_dtype(max(len(cols), n_cols, n_rows))
    indptr = np.zeros(n_rows + 1, dtype=idx)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    out = sp.csr_array(
        (np.ones(len(cols), dtype=bool), cols.astype(idx, copy=False), indptr), shape=shape, copy=False
    )
    out.has_sorted_indices = True
    out.has_canonical_format = True
    return out


def _csr_from_dense(mask: np.ndarray) -> sp.csr_array:
    """Boolean CSR array of the non-zero pattern of a dense 2-D array (row-major order)."""
    n_rows, n_cols = mask.shape
    flat = np.flatnonzero(mask)
    return _csr_from_coords(flat // n_cols, flat % n_cols, (n_rows, n_cols))


def _as_bool_csr(matrix: sp.sparray | sp.spmatrix) -> tuple[sp.csr_array, np.ndarray | None]:
    """(boolean canonical CSR of the non-zeros, |values| aligned with it or None for bool input)."""
    csr = sp.csr_array(matrix, copy=True)
    csr.sum_duplicates()
    csr.eliminate_zeros()
    csr.sort_indices()
    values = None if csr.dtype == bool else np.abs(csr.data)
    out = sp.csr_array((np.ones(csr.nnz, dtype=bool), csr.indices, csr.indptr), shape=csr.shape)
    out.has_sorted_indices = True
    out.has_canonical_format = True
    return out, values


@dataclass(frozen=True, eq=False)
class Block:
    """One weight matrix of a :class:`NetworkGraph` (edges from level ``src`` to level ``dst``).

    Attributes:
        name: layer name — the module's fully qualified name for graphs built from a model
            (e.g. ``"layers.0"``), the mask's key or list position for :meth:`NetworkGraph.from_masks`,
            ``"<src>-><dst>"`` for :meth:`NetworkGraph.from_dag`, ``"<op>:identity"`` for residuals.
        src, dst: level indices, ``0 <= src < dst``.
        mask: ``scipy.sparse.csr_array`` of dtype bool and shape ``(sizes[dst], sizes[src])``,
            canonical (sorted indices, no duplicates); stored entries are exactly the edges.
        kind: one of :data:`BLOCK_KINDS`. ``"identity"`` blocks are residual identity edges (not
            weights): they take part in reachability, paths and components but not in edge counts.
        possible: number of possible edges of this block (the denominator of its density):
            ``out·in`` for a Linear or a mask, ``c_out·c_in/groups`` for a grouped Conv2d.
        edge_weight: optional ``(nnz,)`` array aligned with ``mask.indices``: ``|w|`` for a weight,
            the L2 norm of the kept kernel entries for a Conv2d channel edge (same units as the
            weights).
        edge_count: optional ``(nnz,)`` int array: kept weight entries behind each edge
            (kernel entries of a Conv2d channel pair; weights of a flattened channel).
        unrolled: optional boolean CSR of the raw 2-D weight mask used by the spectral metrics:
            ``(c_out, c_in/groups·k_h·k_w)`` for a Conv2d, ``(out, C·H·W)`` for a Linear reading a
            flattened feature map; ``None`` where it equals ``mask``.
        weight_shape: shape of the original weight tensor, when the block comes from one.
    """

    name: str
    src: int
    dst: int
    mask: sp.csr_array
    kind: str = "mask"
    possible: int = -1
    edge_weight: np.ndarray | None = None
    edge_count: np.ndarray | None = None
    unrolled: sp.csr_array | None = None
    weight_shape: tuple[int, ...] | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in BLOCK_KINDS:
            raise ValueError(f"Block {self.name!r}: kind={self.kind!r} is not one of {BLOCK_KINDS}")
        if not isinstance(self.mask, sp.csr_array) or self.mask.dtype != bool:
            raise TypeError(f"Block {self.name!r}: mask must be a boolean scipy.sparse.csr_array")
        if not self.mask.has_canonical_format or not self.mask.data.all():
            raise ValueError(
                f"Block {self.name!r}: mask must be canonical (sorted, no duplicates) with only True stored entries"
            )
        if self.possible < 0:
            object.__setattr__(self, "possible", int(self.mask.shape[0]) * int(self.mask.shape[1]))
        for attr in ("edge_weight", "edge_count"):
            arr = getattr(self, attr)
            if arr is not None and arr.shape != (self.mask.nnz,):
                raise ValueError(
                    f"Block {self.name!r}: {attr} has shape {arr.shape}, expected ({self.mask.nnz},)"
                )

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_dst, n_src)`` = ``(out, in)`` of the graph view."""
        return (int(self.mask.shape[0]), int(self.mask.shape[1]))

    @property
    def nnz(self) -> int:
        """Number of edges of this block."""
        return int(self.mask.nnz)

    @property
    def is_weight(self) -> bool:
        """False for identity residual blocks, True for every block that holds weights."""
        return self.kind != "identity"

    @property
    def spectral_matrix(self) -> sp.csr_array:
        """The boolean matrix the spectral metrics use (``unrolled`` if set, else ``mask``)."""
        return self.mask if self.unrolled is None else self.unrolled

    def structure(self, dtype: Any = np.float64) -> sp.csr_array:
        """The mask with all stored entries equal to 1 in ``dtype`` (cached; shares the index
        arrays with ``mask``). ``structure() @ x`` sums ``x`` over each output neuron's inputs."""
        key = np.dtype(dtype).str
        if key not in self._cache:
            m = self.mask
            out = sp.csr_array((np.ones(m.nnz, dtype=dtype), m.indices, m.indptr), shape=m.shape, copy=False)
            out.has_sorted_indices = True
            out.has_canonical_format = True
            self._cache[key] = out
        return self._cache[key]

    def in_degree(self) -> np.ndarray:
        """Fan-in of each ``dst`` neuron within this block (row sums), shape ``(n_dst,)``, int64."""
        return np.diff(self.mask.indptr).astype(np.int64)

    def out_degree(self) -> np.ndarray:
        """Fan-out of each ``src`` neuron within this block (column sums), shape ``(n_src,)``, int64."""
        return np.bincount(self.mask.indices, minlength=self.mask.shape[1]).astype(np.int64)

    def rows(self) -> np.ndarray:
        """Row (``dst`` neuron) index of each stored edge, aligned with ``mask.indices``."""
        return np.repeat(np.arange(self.mask.shape[0], dtype=self.mask.indices.dtype), np.diff(self.mask.indptr))


class NetworkGraph:
    """A layered network: levels of neurons joined by per-layer boolean CSR blocks.

    Args:
        sizes: number of neurons of each level, each ``>= 1``; level 0 = inputs, last = outputs.
        blocks: the weight blocks (:class:`Block`), each between levels ``src < dst`` with
            ``mask.shape == (sizes[dst], sizes[src])``.
        level_names: optional name of each level (default ``"input"``, then ``"level<l>"``).
        node_labels: optional original node labels (length ``num_nodes``), e.g. the networkx
            node ids of :meth:`from_dag`.

    Build it with :meth:`from_model`, :meth:`from_masks` or :meth:`from_dag`; export with
    :meth:`to_scipy`, :meth:`to_networkx`, :meth:`to_pyg`. The object is immutable; exports and the
    global adjacency are cached.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        blocks: Sequence[Block],
        *,
        level_names: Sequence[str] | None = None,
        node_labels: Sequence[Any] | None = None,
    ) -> None:
        sizes = tuple(int(s) for s in sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least 2 levels (inputs and outputs), got {sizes}")
        bad = [(i, s) for i, s in enumerate(sizes) if s < 1]
        if bad:
            raise ValueError(f"sizes: every layer width must be >= 1, got width {bad[0][1]} at level {bad[0][0]}")
        blocks = tuple(blocks)
        if not blocks:
            raise ValueError("blocks must contain at least one Block")
        for b in blocks:
            if not isinstance(b, Block):
                raise TypeError(f"blocks must contain Block objects, got {type(b).__name__}")
            if not (0 <= b.src < b.dst < len(sizes)):
                raise ValueError(
                    f"blocks: block {b.name!r} joins levels src={b.src} -> dst={b.dst}; "
                    f"need 0 <= src < dst < {len(sizes)}"
                )
            if b.shape != (sizes[b.dst], sizes[b.src]):
                raise ValueError(
                    f"blocks: block {b.name!r} has shape {b.shape} but levels {b.src}->{b.dst} have "
                    f"widths {sizes[b.src]}->{sizes[b.dst]} (expected (out, in) = "
                    f"({sizes[b.dst]}, {sizes[b.src]}))"
                )
        if level_names is None:
            level_names = ["input"] + [f"level{l}" for l in range(1, len(sizes))]
        level_names = tuple(str(n) for n in level_names)
        if len(level_names) != len(sizes):
            raise ValueError(f"level_names has {len(level_names)} entries, expected {len(sizes)} (one per level)")
        offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        if node_labels is not None:
            node_labels = tuple(node_labels)
            if len(node_labels) != offsets[-1]:
                raise ValueError(f"node_labels has {len(node_labels)} entries, expected {offsets[-1]} (one per node)")
        self._sizes = sizes
        self._blocks = blocks
        self._level_names = level_names
        self._offsets = offsets
        self._offsets.setflags(write=False)
        self._node_labels = node_labels
        self._cache: dict[str, Any] = {}

    # ------------------------------------------------------------------ properties
    @property
    def sizes(self) -> tuple[int, ...]:
        """Number of neurons of each level."""
        return self._sizes

    @property
    def blocks(self) -> tuple[Block, ...]:
        """All blocks (weight blocks and identity residual blocks), in construction order."""
        return self._blocks

    @property
    def weight_blocks(self) -> tuple[Block, ...]:
        """The blocks that hold weights (every block except identity residuals)."""
        return tuple(b for b in self._blocks if b.is_weight)

    @property
    def level_names(self) -> tuple[str, ...]:
        """Name of each level: ``"input"``, then the producing module (or block) name."""
        return self._level_names

    @property
    def offsets(self) -> np.ndarray:
        """Global id of the first neuron of each level, plus ``num_nodes`` at the end; ``(L+1,)``."""
        return self._offsets

    @property
    def node_labels(self) -> tuple[Any, ...] | None:
        """Original node labels (from :meth:`from_dag`), or None."""
        return self._node_labels

    @property
    def num_levels(self) -> int:
        """Number of levels (= number of weight layers + 1 for a plain MLP)."""
        return len(self._sizes)

    @property
    def num_nodes(self) -> int:
        """Total number of neurons."""
        return int(self._offsets[-1])

    def node_level(self) -> np.ndarray:
        """Level of every node, ``(num_nodes,)`` int64."""
        return np.repeat(np.arange(self.num_levels, dtype=np.int64), self._sizes)

    def node_index(self) -> np.ndarray:
        """Position of every node inside its level, ``(num_nodes,)`` int64."""
        return np.arange(self.num_nodes, dtype=np.int64) - np.repeat(self._offsets[:-1], self._sizes)

    def blocks_into(self, level: int) -> tuple[Block, ...]:
        """Blocks whose ``dst`` is ``level``."""
        return tuple(b for b in self._blocks if b.dst == level)

    def __repr__(self) -> str:
        n_edges = sum(b.nnz for b in self.weight_blocks)
        skips = sum(1 for b in self._blocks if b.dst > b.src + 1)
        return (
            f"NetworkGraph(sizes={self._sizes}, blocks={len(self._blocks)}, skip_blocks={skips}, "
            f"edges={n_edges})"
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_masks(
        cls,
        masks: Sequence[Any] | Mapping[str, Any],
        *,
        level_names: Sequence[str] | None = None,
    ) -> NetworkGraph:
        """Build a chain ``input -> level 1 -> ... -> output`` from consecutive layer masks.

        Args:
            masks: a list of masks or a dict ``name -> mask`` (in forward order). Each mask is a
                torch tensor, numpy array or scipy sparse matrix in PyTorch layout: 2-D ``(out, in)``
                for a Linear, or 4-D ``(c_out, c_in, k_h, k_w)`` for a Conv2d (channel view; groups=1).
                Boolean masks give unweighted edges; numeric arrays (e.g. pruned weights) give an
                edge at every non-zero entry with ``|w|`` as edge weight. ``masks[i]`` must have as
                many inputs as ``masks[i-1]`` has outputs.
            level_names: optional names of the ``len(masks) + 1`` levels; default ``"input"`` then
                the mask names (dict keys, or ``"0"``, ``"1"``, ... for a list).

        Example::

            >>> g = NetworkGraph.from_masks({"fc1": torch.ones(4, 3), "fc2": torch.ones(2, 4)})
            >>> g.sizes, g.level_names
            ((3, 4, 2), ('input', 'fc1', 'fc2'))
        """
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
        return cls(sizes, blocks, level_names=level_names)

    @classmethod
    def from_model(cls, model: nn.Module, example_input: torch.Tensor | None = None) -> NetworkGraph:
        """Build the graph of a model's Linear / Conv2d layers in forward order.

        The layers and how they connect come from :func:`graphsparse.topology.trace.trace_model`
        (torch.fx; forward hooks with ``example_input`` when fx cannot trace the model). Each level
        is a neuron group of the trace: the input, the output of a layer, or a residual sum;
        projection shortcuts become skip blocks, identity shortcuts become ``"identity"`` blocks.

        Which entries are edges: if a layer's weight carries a mask attached with
        :func:`graphsparse.masks.attach` (``torch.nn.utils.parametrize``), the mask from
        :func:`graphsparse.masks.masks_of` (a kept weight that happens to be exactly 0 is still
        an edge); otherwise every non-zero weight (``weight != 0``). Edge weights are ``|w|``
        (Conv2d: L2 norm of the kept kernel entries).

        Args:
            model: the network; must contain at least one ``nn.Linear`` or ``nn.Conv2d``.
            example_input: one input batch; only needed when torch.fx cannot trace ``model``.

        Example::

            >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
            >>> NetworkGraph.from_model(net).sizes
            (4, 3, 2)
        """
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
                eye = _csr_from_coords(np.arange(n), np.arange(n), (n, n))
                blocks.append(
                    Block(f"{skip.op}:identity", skip.src_group, skip.dst_group, eye, kind="identity", possible=n)
                )
        names = [g.name for g in traced.groups]
        return cls(sizes, blocks, level_names=names)

    @classmethod
    def from_dag(cls, dag: Any, *, weight: str = "weight") -> NetworkGraph:
        """Build the layered graph of a DAG of neurons, as deepstruct does.

        The level of a node is its longest-path depth from a source (``max(level(pred)) + 1``,
        sources at level 0; Stier & Granitzer, deepstruct). Inside a level, nodes keep the order of
        ``dag.nodes``. An edge ``u -> v`` goes into the block ``(level(u), level(v))``: adjacent
        levels give the main blocks, edges that skip levels give skip blocks (named
        ``"<src>-><dst>"``). The last level holds the outputs; a sink at an earlier level is a
        neuron without fan-out. If every edge has the attribute ``weight``, ``|weight|`` becomes
        the edge weight. Original node ids are kept in :attr:`node_labels`.

        Args:
            dag: a non-empty, acyclic ``networkx.DiGraph`` with at least one edge.
            weight: name of the edge attribute read as weight.

        Example::

            >>> import networkx as nx
            >>> g = NetworkGraph.from_dag(nx.DiGraph([("a", "c"), ("b", "c"), ("c", "d"), ("a", "d")]))
            >>> g.sizes, [(b.src, b.dst) for b in g.blocks]
            ((2, 1, 1), [(0, 1), (0, 2), (1, 2)])
        """
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
            mask = _csr_from_coords(rows[key], cols[key], (int(sizes[d]), int(sizes[s])))
            blocks.append(
                Block(f"{s}->{d}", s, d, mask, kind="dag", edge_weight=None if w is None else w[sel][key])
            )
        labels = [nodes[i] for i in order]
        names = ["input"] + [f"level{l}" for l in range(1, n_levels)]
        return cls(sizes.tolist(), blocks, level_names=names, node_labels=labels)

    # ------------------------------------------------------------------ exports
    def to_scipy(self, *, weighted: bool = False, transpose: bool = False) -> sp.csr_array:
        """Block adjacency ``A`` of shape ``(num_nodes, num_nodes)``, CSR, edges input -> output:
        ``A[u, v] != 0`` iff there is an edge from node ``u`` to node ``v``.

        Args:
            weighted: if True, entries are the edge weights (``|w|``; 1 where a block has none),
                else 1.0. Parallel edges of different blocks (rare: e.g. an identity shortcut and
                a projection between the same levels) are merged into one entry (weights summed).
            transpose: return ``Aᵀ`` instead (row = target neuron, its stored entries = its
                inputs). ``Aᵀ`` is assembled directly from the blocks' CSR arrays (each block is
                already row-major by target), so it is the cheaper of the two; direction-free
                metrics (components, undirected shortest paths) use it.

        Example::

            >>> g = NetworkGraph.from_masks([torch.ones(2, 3, dtype=torch.bool)])
            >>> g.to_scipy().shape, g.to_scipy().nnz
            ((5, 5), 6)
        """
        key = f"scipy:{weighted}:{transpose}"
        if key not in self._cache:
            if transpose:
                self._cache[key] = self._in_adjacency(weighted)
            else:
                self._cache[key] = self.to_scipy(weighted=weighted, transpose=True).T.tocsr()
        return self._cache[key]

    def _in_adjacency(self, weighted: bool) -> sp.csr_array:
        """``Aᵀ`` as CSR: per target level, its incoming blocks with columns shifted to global ids."""
        n = self.num_nodes
        idx = _index_dtype(max(n, sum(b.nnz for b in self._blocks)))
        rows = []
        for level, size in enumerate(self._sizes):
            parts = []
            for b in self.blocks_into(level):
                if weighted and b.edge_weight is not None:
                    data = b.edge_weight.astype(np.float64)
                else:
                    data = np.ones(b.nnz)
                cols = b.mask.indices.astype(idx) + idx(self._offsets[b.src])
                parts.append(sp.csr_array((data, cols, b.mask.indptr.astype(idx)), shape=(size, n)))
            if not parts:
                rows.append(sp.csr_array((size, n)))
            elif len(parts) == 1:
                rows.append(parts[0])
            else:
                merged = sum(parts[1:], parts[0])
                if not weighted:
                    merged.data[:] = 1.0
                rows.append(merged)
        return sp.vstack(rows, format="csr")

    def _edge_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(global source ids, global target ids, block index) of every edge, block by block."""
        if "edges" not in self._cache:
            srcs, dsts, blks = [], [], []
            for i, b in enumerate(self._blocks):
                srcs.append(self._offsets[b.src] + b.mask.indices.astype(np.int64))
                dsts.append(self._offsets[b.dst] + b.rows().astype(np.int64))
                blks.append(np.full(b.nnz, i, dtype=np.int64))
            self._cache["edges"] = (np.concatenate(srcs), np.concatenate(dsts), np.concatenate(blks))
        return self._cache["edges"]

    def to_networkx(self) -> Any:
        """A ``networkx.DiGraph`` (for small graphs, drawing and users' own networkx code).

        Nodes are ``0 .. num_nodes-1`` with attributes ``layer`` (level), ``index`` (position in
        the level) and ``label`` (original id, graphs from :meth:`from_dag` only); edges point
        input -> output with attributes ``block`` (index into :attr:`blocks`), ``kind``,
        ``weight`` (``|w|``, where known) and ``count`` (kept kernel entries of a Conv2d channel
        edge / weights of a flattened channel, where the block has ``edge_count``). Parallel edges of different blocks collapse to one.
        Warns (``UserWarning``) above :data:`NETWORKX_EDGE_WARN` edges: networkx needs about
        200 bytes per edge and is slow; the metrics in :mod:`graphsparse.topology.metrics` never
        need it.

        Example::

            >>> NetworkGraph.from_masks([torch.ones(2, 3, dtype=torch.bool)]).to_networkx().number_of_edges()
            6
        """
        import networkx as nx

        src, dst, blk = self._edge_arrays()
        if len(src) > NETWORKX_EDGE_WARN:
            warnings.warn(
                f"to_networkx() on {len(src):,} edges (> {NETWORKX_EDGE_WARN:,}): expect ~200 B/edge "
                "and slow algorithms; use the scipy-based graphsparse.topology.metrics instead",
                UserWarning,
                stacklevel=2,
            )
        g = nx.DiGraph()
        level, index = self.node_level(), self.node_index()
        if self._node_labels is None:
            g.add_nodes_from((i, {"layer": int(l), "index": int(j)}) for i, (l, j) in enumerate(zip(level, index)))
        else:
            g.add_nodes_from(
                (i, {"layer": int(l), "index": int(j), "label": lab})
                for i, (l, j, lab) in enumerate(zip(level, index, self._node_labels))
            )
        for i, b in enumerate(self._blocks):
            sel = slice(int(np.searchsorted(blk, i, "left")), int(np.searchsorted(blk, i, "right")))
            edges = list(zip(src[sel].tolist(), dst[sel].tolist()))
            g.add_edges_from(edges, block=i, kind=b.kind)
            for attr, values in (("weight", b.edge_weight), ("count", b.edge_count)):
                if values is not None:
                    nx.set_edge_attributes(g, dict(zip(edges, values.tolist())), attr)
        g.graph["sizes"] = self._sizes
        g.graph["level_names"] = self._level_names
        return g

    def to_pyg(self) -> Any:
        """A ``torch_geometric.data.Data`` of the graph.

        Fields: ``edge_index`` ``(2, E)`` long (row 0 = source, row 1 = target, edges input ->
        output, block by block); ``edge_weight`` ``(E,)`` float32 (``|w|``, 1.0 where unknown);
        ``edge_count`` ``(E,)`` long (kept kernel entries of a Conv2d channel edge / weights of a
        flattened channel; 1 for a plain weight); ``edge_block`` ``(E,)`` long (index into
        :attr:`blocks`); ``layer`` ``(N,)`` long (level of each node); ``index`` ``(N,)`` long
        (position in its level); ``num_nodes``.

        Example::

            >>> d = NetworkGraph.from_masks([torch.ones(2, 3, dtype=torch.bool)]).to_pyg()
            >>> tuple(d.edge_index.shape), d.layer.tolist()
            ((2, 6), [0, 0, 0, 1, 1])
        """
        from torch_geometric.data import Data

        src, dst, blk = self._edge_arrays()
        weight = np.concatenate(
            [np.ones(b.nnz, dtype=np.float32) if b.edge_weight is None else b.edge_weight.astype(np.float32)
             for b in self._blocks]
        )
        count = np.concatenate(
            [np.ones(b.nnz, dtype=np.int64) if b.edge_count is None else b.edge_count for b in self._blocks]
        )
        return Data(
            edge_index=torch.from_numpy(np.stack([src, dst])),
            edge_weight=torch.from_numpy(weight),
            edge_count=torch.from_numpy(count),
            edge_block=torch.from_numpy(blk),
            layer=torch.from_numpy(self.node_level()),
            index=torch.from_numpy(self.node_index()),
            num_nodes=self.num_nodes,
        )


# ---------------------------------------------------------------------- helpers for constructors
def _shape_of(raw: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in raw.shape)


def _to_numpy(raw: Any, label: str) -> np.ndarray:
    if isinstance(raw, torch.Tensor):
        return raw.detach().cpu().numpy()
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
        mask, values = _as_bool_csr(raw)
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
    if arr.ndim == 4:
        t = torch.from_numpy(np.ascontiguousarray(arr))
        weight = t if arr.dtype != bool else t.to(torch.float32)
        return _conv_block(name, src, src + 1, t != 0, weight, groups=1, weighted=arr.dtype != bool, kind="mask")
    present = arr != 0
    mask = _csr_from_dense(present)
    values = None if arr.dtype == bool else np.abs(arr[present])
    return Block(name, src, src + 1, mask, kind="mask", edge_weight=values, weight_shape=tuple(arr.shape))


def _block_from_layer(layer: Any, mask: torch.Tensor, weight: torch.Tensor) -> Block:
    """Block of a traced Linear / Conv2d layer (see :mod:`graphsparse.topology.trace`)."""
    if layer.kind == "conv2d":
        return _conv_block(
            layer.name, layer.in_group, layer.out_group, mask, weight, groups=layer.module.groups, kind="conv2d"
        )
    if layer.in_factor == 1:
        m = mask.numpy()
        csr = _csr_from_dense(m)
        values = weight.abs().numpy()[m]
        return Block(
            layer.name, layer.in_group, layer.out_group, csr, kind="linear", edge_weight=values,
            weight_shape=tuple(weight.shape),
        )
    # a Linear reading a flattened (C, H, W) map: collapse the H·W columns of each channel
    n_out, n_in = mask.shape
    f = layer.in_factor
    m3 = mask.reshape(n_out, n_in // f, f)
    count = m3.sum(-1)
    present = count > 0
    norm = ((weight.reshape(n_out, n_in // f, f) ** 2) * m3).sum(-1).sqrt()
    p = present.numpy()
    return Block(
        layer.name, layer.in_group, layer.out_group, _csr_from_dense(p), kind="linear",
        edge_weight=norm.numpy()[p], edge_count=count.numpy()[p].astype(np.int64),
        unrolled=_csr_from_dense(mask.numpy()), weight_shape=tuple(weight.shape),
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
    csr = _csr_from_coords(rows, cols, (c_out, c_in_g * groups))
    norm = ((weight.to(torch.float64) ** 2) * mask).sum((2, 3)).sqrt().numpy()[present] if weighted else None
    return Block(
        name, src, dst, csr, kind=kind, possible=c_out * c_in_g, edge_weight=norm,
        edge_count=count.numpy()[present].astype(np.int64),
        unrolled=_csr_from_dense(mask.reshape(c_out, -1).numpy()), weight_shape=tuple(mask.shape),
    )
