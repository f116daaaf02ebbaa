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
* **Conv2d** layers, *kernel-entry view* (``NetworkGraph.kernel_view()``, ``view="kernel"`` of
  ``from_model`` / ``from_masks``, ``graphsparse stats --view kernel``): the same channel nodes,
  but every kept kernel entry is an edge (parallel edges kept as ``Block.multiplicity``), so edge
  counts and densities are those of the weights (a CNN masked at 90% has density 0.10) and
  degrees and path counts count kernel entries; components, reachability, dead neurons,
  4-cycles and shortest paths are the channel view's.
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

Modules: ``block`` (:class:`Block`), ``network`` (:class:`NetworkGraph`), ``build`` (graph
construction from masks, a traced model or a DAG), ``export`` (scipy, networkx and PyG exports)
and ``_csr`` (boolean CSR helpers).
"""

from .block import BLOCK_KINDS, Block
from .export import NETWORKX_EDGE_WARN
from .network import NetworkGraph

__all__ = ["Block", "NetworkGraph", "BLOCK_KINDS", "NETWORKX_EDGE_WARN"]
