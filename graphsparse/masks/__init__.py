"""The shared mask toolkit, used for weight masks and graph-edge masks alike.

A *mask set* is a plain ``{name: torch.bool tensor}`` dict (True = kept), keyed by the tensor's
fully qualified name in the unmasked model (``"layers.0.weight"``) or by any name for other
tensors (an edge mask is a 1-D mask over edge ids, e.g. ``{"edges": mask}``).

The concerns are separated as in jaxpruner:

* what to score — :mod:`~graphsparse.masks.scoring` (magnitude, random, gradient, SNIP, SynFlow);
* how many per layer — :mod:`~graphsparse.masks.budgets` (uniform, ER, ERK, balanced);
* how scores become masks — :mod:`~graphsparse.masks.selection` (exact top-k, groups, N:M,
  drop/grow), :mod:`~graphsparse.masks.neurons` (hidden units as groups: neuron granularity);
* when — :mod:`~graphsparse.masks.schedules` (one-shot, geometric rounds, polynomial);

plus :mod:`~graphsparse.masks.attach` (parametrize-based masking of modules),
:mod:`~graphsparse.masks.algebra`, :mod:`~graphsparse.masks.cost` (MACs),
:mod:`~graphsparse.masks.kernels` (CSR kernels for training masked Linear layers) and
:mod:`~graphsparse.masks.io` (safe, atomic, checksummed files). See docs/masks.md.
"""

from graphsparse.checks import as_generator
from .algebra import hamming, iou, kept_fraction, mask_and, mask_difference, mask_or
from .attach import (
    BinaryMask,
    SparsityReport,
    TrainableMask,
    attach,
    bake,
    load_masked,
    loadable_state_dict,
    mask_values_of,
    masks_of,
    named_tensors,
    sparsity_report,
)
from .budgets import erdos_renyi_density, layer_densities
from .cost import CostReport, macs, register_macs
from .io import (
    CorruptFileError,
    load_file,
    load_masks,
    load_model,
    save_file,
    save_masks,
    save_model,
)
from .kernels import csr_layers, csr_linear
from .neurons import HiddenUnits, hidden_units, resize_parameters
from .schedules import Geometric, OneShot, Polynomial, geometric_sparsity
from .scoring import gradient_scores, magnitude_scores, random_scores, snip_scores, synflow_scores
from .selection import (
    drop_lowest,
    expand_groups,
    group_masks,
    group_scores,
    grow_highest,
    grow_random,
    kept_count,
    nm_masks,
    topk_masks,
)

__all__ = [
    "as_generator",
    "hamming", "iou", "kept_fraction", "mask_and", "mask_difference", "mask_or",
    "BinaryMask", "SparsityReport", "TrainableMask", "attach", "bake", "load_masked",
    "loadable_state_dict",
    "mask_values_of", "masks_of", "named_tensors", "sparsity_report",
    "erdos_renyi_density", "layer_densities",
    "CostReport", "macs", "register_macs",
    "CorruptFileError", "load_file", "load_masks", "load_model", "save_file", "save_masks",
    "save_model",
    "csr_layers", "csr_linear",
    "HiddenUnits", "hidden_units", "resize_parameters",
    "Geometric", "OneShot", "Polynomial", "geometric_sparsity",
    "gradient_scores", "magnitude_scores", "random_scores", "snip_scores", "synflow_scores",
    "drop_lowest", "expand_groups", "group_masks", "group_scores", "grow_highest", "grow_random",
    "kept_count", "nm_masks", "topk_masks",
]
