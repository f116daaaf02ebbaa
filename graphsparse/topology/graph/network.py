"""The :class:`NetworkGraph`: levels of neurons joined by per-layer boolean CSR blocks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from graphsparse.checks import check_choice

from . import export
from .block import Block
from .build import GraphParts, parts_from_dag, parts_from_masks, parts_from_model

__all__ = ["NetworkGraph", "VIEWS"]

#: The two views of a Conv2d layer (see :mod:`graphsparse.topology.graph`).
VIEWS = ("channel", "kernel")


class NetworkGraph:
    """A layered network: levels of neurons joined by per-layer boolean CSR blocks.

    Args:
        sizes: number of neurons of each level, each ``>= 1``; level 0 = inputs, last = outputs.
        blocks: the weight blocks (:class:`Block`), each between levels ``src < dst`` with
            ``mask.shape == (sizes[dst], sizes[src])``.
        level_names: optional name of each level (default ``"input"``, then ``"level<l>"``).
        node_labels: optional original node labels (length ``num_nodes``), e.g. the networkx
            node ids of :meth:`from_dag`.
        view: ``"channel"`` (default: a Conv2d channel pair is one edge) or ``"kernel"`` (the
            kernel-entry view: every kept kernel entry an edge; see :meth:`kernel_view`). The
            blocks must match it (``Block.multiplicity`` set only in the kernel view).

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
        view: str = "channel",
    ) -> None:
        check_choice(view, "view", VIEWS)
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
            if (b.multiplicity is not None) != (view == "kernel" and b.edge_count is not None):
                raise ValueError(
                    f"blocks: block {b.name!r} does not match view={view!r}: parallel edges "
                    "(Block.multiplicity) belong to the kernel view's blocks with edge_count; "
                    "build the kernel view with NetworkGraph.kernel_view()"
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
        self._view = view
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
    def view(self) -> str:
        """``"channel"`` or ``"kernel"``: how a Conv2d layer's weights become edges (module doc)."""
        return self._view

    def kernel_view(self) -> NetworkGraph:
        """The same network in the kernel-entry view: every kept kernel entry of a Conv2d (and
        every kept weight of a Linear reading a flattened map) is an edge between its two
        channels, parallel edges kept (``Block.multiplicity``), so edge counts and densities
        are those of the weights; degrees and path counts count parallel edges; components,
        reachability and dead neurons are those of the channel view, and the 4-cycle and
        shortest-path metrics use the channel pattern; the exports keep one entry per channel
        pair (its ``edge_count`` says how many kernel entries it stands for). Graphs without such
        layers are unchanged.

        Example::

            >>> conv = torch.nn.Conv2d(2, 2, 3, bias=False)
            >>> with torch.no_grad():
            ...     _ = conv.weight.zero_(); conv.weight[0, 0, 1, 1] = 1.0
            >>> g = NetworkGraph.from_model(torch.nn.Sequential(conv))
            >>> from graphsparse.topology.metrics import density
            >>> density(g), density(g.kernel_view())  # 1 of 4 channel pairs, 1 of 36 entries
            (0.25, 0.027777777777777776)
        """
        if self._view == "kernel":
            return self
        return NetworkGraph(self._sizes, [b.kernel_view() for b in self._blocks],
                            level_names=self._level_names, node_labels=self._node_labels,
                            view="kernel")

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
        n_edges = sum(b.num_edges for b in self.weight_blocks)
        skips = sum(1 for b in self._blocks if b.dst > b.src + 1)
        view = "" if self._view == "channel" else f", view={self._view!r}"
        return (
            f"NetworkGraph(sizes={self._sizes}, blocks={len(self._blocks)}, skip_blocks={skips}, "
            f"edges={n_edges}{view})"
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_masks(
        cls,
        masks: Sequence[Any] | Mapping[str, Any],
        *,
        level_names: Sequence[str] | None = None,
        view: str = "channel",
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
            view: ``"channel"`` or ``"kernel"`` (:meth:`kernel_view`) for 4-D masks.

        Example::

            >>> g = NetworkGraph.from_masks({"fc1": torch.ones(4, 3), "fc2": torch.ones(2, 4)})
            >>> g.sizes, g.level_names
            ((3, 4, 2), ('input', 'fc1', 'fc2'))
        """
        check_choice(view, "view", VIEWS)
        return cls._from_parts(parts_from_masks(masks, level_names), view)

    @classmethod
    def from_model(cls, model: nn.Module, example_input: torch.Tensor | None = None, *,
                   view: str = "channel") -> NetworkGraph:
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
            view: ``"channel"`` (a Conv2d channel pair is one edge) or ``"kernel"`` (every kept
                kernel entry an edge, :meth:`kernel_view`).

        Example::

            >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
            >>> NetworkGraph.from_model(net).sizes
            (4, 3, 2)
        """
        check_choice(view, "view", VIEWS)
        return cls._from_parts(parts_from_model(model, example_input), view)

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
        return cls._from_parts(parts_from_dag(dag, weight))

    @classmethod
    def _from_parts(cls, parts: GraphParts, view: str = "channel") -> NetworkGraph:
        graph = cls(parts.sizes, parts.blocks, level_names=parts.level_names,
                    node_labels=parts.node_labels)
        return graph.kernel_view() if view == "kernel" else graph

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
                self._cache[key] = export.in_adjacency(self, weighted)
            else:
                self._cache[key] = self.to_scipy(weighted=weighted, transpose=True).T.tocsr()
        return self._cache[key]

    def _edge_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(global source ids, global target ids, block index) of every edge (cached)."""
        if "edges" not in self._cache:
            self._cache["edges"] = export.edge_arrays(self)
        return self._cache["edges"]

    def _cached(self, key: str, compute: Any) -> Any:
        """``compute()`` once per graph (the graph is immutable), kept under ``key``; used by the
        metrics for values several of them share (node degrees)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

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
        return export.to_networkx(self, *self._edge_arrays())

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
        return export.to_pyg(self, *self._edge_arrays())
