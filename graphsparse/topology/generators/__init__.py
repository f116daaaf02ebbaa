"""Random-graph generators of bipartite layer masks for sparse MLPs.

Every generator returns a :class:`GeneratedMask`: a ``torch.bool`` mask in PyTorch's
``(n_out, n_in)`` layout (row ``r`` = output neuron ``r``, column ``c`` = input neuron ``c``)
together with the realised edge count and density. All of them

* hit an **exact** edge count (the library's rounding rule: a layer of ``n = n_out·n_in``
  positions at density ``d`` keeps ``kept_count(n, 1 - d) = n - floor((1-d)·n + 1e-9)`` edges;
  pass ``num_edges=`` to ask for a count directly),
* never produce multi-edges (a mask cannot hold one),
* take exactly one of ``seed`` (int) or ``generator`` (``torch.Generator``): the same seed gives
  bit-identical masks.

Degree names follow the topology report: the **in-degree** of an output neuron is its fan-in
(row sum of the mask), the **out-degree** of an input neuron its fan-out (column sum).

Modules: ``layer_masks`` (single layers), ``relational`` (graph2nn relational graphs), ``mlp``
(whole MLPs) and ``_sampling`` (the exact sampling primitives they share).

Generators
----------
:func:`erdos_renyi_mask`
    Uniform random ``m``-subset of the positions, by density or by SET's ε (Mocanu et al. 2018).
:func:`scale_free_mask`
    Chung–Lu power-law weights (Chung & Lu 2002) on the in-, out- or both sides, edges drawn
    without replacement with probability ∝ ``w_out[r]·w_in[c]``.
:func:`small_world_mask`
    Watts–Strogatz (1998) on the bipartite layer: ring lattice between layer positions scaled to
    the widths, then rewiring with probability β.
:func:`ws_flex_graph`, :func:`relational_graph_mask`, :func:`ws_flex_mask`
    graph2nn's WS-flex relational graph (You et al. 2020) and its block expansion to a layer.
:func:`biregular_mask`
    Random (bi)regular bipartite layer (expander-like): configuration model + switchings.
:func:`mlp_masks`, :func:`ws_flex_mlp_masks`
    Masks for a whole MLP (``{layer_name: mask}``) with a per-layer report; the per-layer
    densities come from :func:`graphsparse.masks.layer_densities`.
"""

from .layer_masks import (
    GeneratedMask,
    biregular_mask,
    erdos_renyi_mask,
    scale_free_mask,
    small_world_mask,
)
from .mlp import MLPMasks, mlp_masks, mlp_shapes, ws_flex_mlp_masks
from .relational import RelationalGraph, relational_graph_mask, ws_flex_graph, ws_flex_mask

__all__ = [
    "GeneratedMask",
    "RelationalGraph",
    "MLPMasks",
    "mlp_shapes",
    "erdos_renyi_mask",
    "scale_free_mask",
    "small_world_mask",
    "ws_flex_graph",
    "relational_graph_mask",
    "ws_flex_mask",
    "biregular_mask",
    "mlp_masks",
    "ws_flex_mlp_masks",
]
