"""Masks for a whole MLP: a layer budget plus one layer generator per layer, or graph2nn's
relational-graph MLP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from graphsparse.checks import as_generator, check_choice, check_int
from graphsparse.masks import kept_count, layer_densities

from .layer_masks import (
    GeneratedMask,
    check_layer_shape,
    erdos_renyi_mask,
    scale_free_mask,
    small_world_mask,
)
from .relational import relational_graph_mask, ws_flex_graph

__all__ = ["MLPMasks", "mlp_shapes", "mlp_masks", "ws_flex_mlp_masks"]


@dataclass(frozen=True, eq=False)
class MLPMasks:
    """Masks for a whole MLP: ``{layer_name: GeneratedMask}`` in forward order.

    ``masks`` gives the plain ``{name: torch.bool tensor}`` dict used by
    :mod:`graphsparse.masks`; ``report()`` the per-layer realised densities.

    >>> res = mlp_masks(mlp_shapes([8, 6, 4]), density=0.5, seed=0)
    >>> {k: v["num_edges"] for k, v in res.report().items()}
    {'fc1': 24, 'fc2': 12}
    """

    layers: dict[str, GeneratedMask]

    @property
    def masks(self) -> dict[str, torch.Tensor]:
        """``{name: (n_out, n_in) torch.bool mask}``."""
        return {name: g.mask for name, g in self.layers.items()}

    @property
    def num_edges(self) -> int:
        """Total number of edges over all layers."""
        return sum(g.num_edges for g in self.layers.values())

    @property
    def density(self) -> float:
        """Overall realised density: total edges / Σ n_out·n_in."""
        return self.num_edges / sum(g.mask.numel() for g in self.layers.values())

    def report(self) -> dict[str, dict]:
        """``{name: GeneratedMask.summary()}``: shape, edges, realised and requested density."""
        return {name: g.summary() for name, g in self.layers.items()}


_LAYER_GENERATORS = {
    "erdos_renyi": erdos_renyi_mask,
    "scale_free": scale_free_mask,
    "small_world": small_world_mask,
}


def mlp_shapes(widths: Sequence[int], prefix: str = "fc") -> dict[str, tuple[int, int]]:
    """``{f"{prefix}{l}": (widths[l], widths[l-1])}`` for an MLP with the given widths.

    Shapes are PyTorch ``(out, in)``; names count from 1.

    >>> mlp_shapes([784, 1000, 10])
    {'fc1': (1000, 784), 'fc2': (10, 1000)}
    """
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence) or len(widths) < 2:
        raise ValueError(f"widths must be a sequence of at least 2 layer widths, got {widths!r}")
    w = [check_int(x, f"widths[{i}]", low=1) for i, x in enumerate(widths)]
    return {f"{prefix}{l}": (w[l], w[l - 1]) for l in range(1, len(w))}


def mlp_masks(shapes: Mapping[str, Sequence[int]], *, topology: str = "erdos_renyi",
              density: float | None = None, epsilon: float | None = None,
              budget: str = "uniform", overrides: Mapping[str, float] | None = None,
              power: float = 1.0, strict: bool = False, seed: int | None = None,
              generator: torch.Generator | None = None, **topology_kwargs) -> MLPMasks:
    """Masks for every layer of an MLP: a layer budget, then one generator per layer.

    The per-layer densities come from :func:`graphsparse.masks.layer_densities` (uniform, ER —
    SET's ε or a density-scaled ER, Mocanu et al. 2018 eq. 1 — RigL's ERK, Evci et al. ICML 2020,
    or balanced, Gadhikar et al. ICML 2023; with its capping loop and overrides); each layer is
    then sampled with the chosen ``topology`` at exactly ``kept_count(n_l, 1 − d_l)`` edges.
    Layers are drawn in the order of ``shapes`` from one random stream.

    Args:
        shapes: ``{name: (n_out, n_in)}`` in forward order (see :func:`mlp_shapes`).
        topology: ``"erdos_renyi"``, ``"scale_free"`` or ``"small_world"``.
        density: overall density in (0, 1] (exactly one of density / epsilon).
        epsilon: SET's ε > 0 (forces ``budget="er"``); a layer with p > 1 is made dense with a
            warning, or raises with ``strict=True``.
        budget: ``layer_densities`` method: ``"uniform"``, ``"er"``, ``"erk"``, ``"balanced"``.
        overrides: ``{name: density}`` fixed layers (e.g. ``{"fc4": 1.0}`` for a dense head).
        power: ER/ERK score exponent (RigL ``erk_power_scale``).
        strict: see ``epsilon``.
        seed, generator: exactly one.
        **topology_kwargs: passed to the generator (``gamma``/``side`` for scale-free, ``beta``
            for small-world).

    Returns:
        :class:`MLPMasks`; ``.masks`` is ``{name: bool mask}``, ``.report()`` the realised
        per-layer densities.

    >>> res = mlp_masks(mlp_shapes([784, 1000, 1000, 10]), epsilon=20, seed=0)
    >>> [round(v["density"], 4) for v in res.report().values()]
    [0.0455, 0.04, 1.0]
    """
    check_choice(topology, "topology", _LAYER_GENERATORS)
    if not isinstance(shapes, Mapping) or not shapes:
        raise ValueError("shapes must be a non-empty mapping {name: (n_out, n_in)}")
    checked = {name: check_layer_shape(shape) for name, shape in shapes.items()}
    if epsilon is not None and budget not in ("uniform", "er"):
        raise ValueError(f"epsilon implies budget='er' (SET), got budget={budget!r}")
    method = "er" if epsilon is not None else budget
    densities = layer_densities(checked, density=density, method=method, epsilon=epsilon,
                                overrides=overrides, power=power, strict=strict)
    gen = as_generator(seed, generator)
    make = _LAYER_GENERATORS[topology]
    layers = {}
    for name, shape in checked.items():
        m = kept_count(shape[0] * shape[1], 1.0 - densities[name])
        g = make(shape, num_edges=m, generator=gen, **topology_kwargs)
        params = dict(g.params, budget=method)
        if epsilon is not None:
            params["epsilon"] = float(epsilon)
        layers[name] = GeneratedMask(g.mask, g.method, params, densities[name])
    return MLPMasks(layers)


def ws_flex_mlp_masks(shapes: Mapping[str, Sequence[int]], n: int, k: float, p: float, *,
                      seed: int | None = None, generator: torch.Generator | None = None,
                      shared_graph: bool = True, dense: Sequence[str] = (),
                      connected: bool = True, assignment_seed: int = 1) -> MLPMasks:
    """graph2nn relational-graph MLP: one WS-flex graph expanded to every masked layer.

    You et al., "Graph Structure of Neural Networks", ICML 2020: the relational graph defines
    the message exchange of every layer (``cfg.RGRAPH.KEEP_GRAPH``: the same graph in each
    layer); graph2nn's MLP keeps its stem (input → first width) and head (→ classes) dense — name
    them in ``dense``. Neuron blocks depend only on the width, so consecutive layers agree on
    which neurons form a node (see :func:`relational_graph_mask`).

    Args:
        shapes: ``{name: (n_out, n_in)}``; every non-dense width must be >= n.
        n, k, p: WS-flex nodes, real average degree in [2, n−1], rewiring probability.
        seed, generator: exactly one.
        shared_graph: one graph for all layers (True, graph2nn) or a fresh graph per layer.
        dense: names of layers given an all-True mask.
        connected: redraw graphs until connected.
        assignment_seed: seed of the neuron-to-node blocks.

    Returns:
        :class:`MLPMasks`; each layer's ``relational`` holds C and L.

    >>> res = ws_flex_mlp_masks(mlp_shapes([3072, 512, 512, 10]), 64, 8.32, 0.2,
    ...                         dense=("fc1", "fc3"), seed=0)
    >>> [round(v["density"], 3) for v in res.report().values()]
    [1.0, 0.146, 1.0]
    """
    if not isinstance(shapes, Mapping) or not shapes:
        raise ValueError("shapes must be a non-empty mapping {name: (n_out, n_in)}")
    checked = {name: check_layer_shape(shape) for name, shape in shapes.items()}
    unknown = [d for d in dense if d not in checked]
    if unknown:
        raise KeyError(f"dense names {unknown}, which are not in shapes {list(checked)}")
    gen = as_generator(seed, generator)
    graph = None
    layers = {}
    for name, shape in checked.items():
        if name in dense:
            layers[name] = GeneratedMask(torch.ones(shape, dtype=torch.bool), "dense", {}, 1.0)
            continue
        if graph is None or not shared_graph:
            graph = ws_flex_graph(n, k, p, generator=gen, connected=connected)
        layers[name] = relational_graph_mask(graph, shape, assignment_seed=assignment_seed)
    return MLPMasks(layers)
