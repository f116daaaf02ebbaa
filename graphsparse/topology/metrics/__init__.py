"""Topology metrics of a :class:`~graphsparse.topology.NetworkGraph`, vectorised on scipy/numpy.

Every function takes the graph and returns numbers, arrays or a small result dataclass with a
``to_dict()`` for JSON. No networkx anywhere (it is only used for export and as a test oracle).
Which graph each metric uses:

==========================  ==================================================================
module / metric             graph
==========================  ==================================================================
degree (counts, density)    weight blocks only (identity residual edges are not weights);
                            Conv2d: channel view (``c_out·c_in/groups`` possible edges)
degree (node degrees)       all blocks, directed; Conv2d channel view
components, dead neurons    all blocks; components weakly connected (directions ignored)
paths (reachability,        all blocks, directed input -> output; effective sparsity counts
effective sparsity, counts) weight edges only
shortest paths              all blocks, undirected, unweighted (hops)
clustering (4-cycles)       each weight block alone, as an undirected bipartite graph
powerlaw                    total (in + out) degree of hidden neurons over all blocks
spectral                    each weight block's *unrolled*, unweighted mask
                            (Conv2d: ``c_out × c_in/groups·k_h·k_w``)
==========================  ==================================================================

Triangle-based clustering / transitivity is identically zero for a layered network without skip
blocks (it is bipartite by level parity), so it is not offered; see :mod:`.clustering`.
"""

from graphsparse.topology.metrics._common import Stats
from graphsparse.topology.metrics.clustering import BlockFourCycles, FourCycles, block_four_cycles, four_cycles
from graphsparse.topology.metrics.components import Components, DeadNeurons, components, dead_neurons, num_components
from graphsparse.topology.metrics.degree import (
    LayerStats,
    degree_histogram,
    density,
    in_degree,
    layer_stats,
    num_edges,
    num_nodes,
    num_possible_edges,
    out_degree,
    total_degree,
)
from graphsparse.topology.metrics.paths import (
    EffectiveSparsity,
    PathCounts,
    Reachability,
    ShortestPaths,
    effective_sparsity,
    mean_shortest_path,
    path_counts,
    reachability,
)
from graphsparse.topology.metrics.powerlaw import LikelihoodRatio, PowerLawFit, degree_powerlaw, fit_powerlaw
from graphsparse.topology.metrics.spectral import LayerSpectrum, mask_spectrum, spectral

__all__ = [
    # degree
    "num_nodes",
    "num_edges",
    "num_possible_edges",
    "density",
    "in_degree",
    "out_degree",
    "total_degree",
    "degree_histogram",
    "layer_stats",
    "LayerStats",
    "Stats",
    # components
    "dead_neurons",
    "DeadNeurons",
    "components",
    "num_components",
    "Components",
    # paths
    "reachability",
    "Reachability",
    "effective_sparsity",
    "EffectiveSparsity",
    "path_counts",
    "PathCounts",
    "mean_shortest_path",
    "ShortestPaths",
    # clustering
    "four_cycles",
    "block_four_cycles",
    "FourCycles",
    "BlockFourCycles",
    # power law
    "fit_powerlaw",
    "degree_powerlaw",
    "PowerLawFit",
    "LikelihoodRatio",
    # spectral
    "spectral",
    "mask_spectrum",
    "LayerSpectrum",
]
