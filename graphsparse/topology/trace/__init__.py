"""Forward-order tracing of a model's weight-carrying layers.

:func:`trace_model` answers, for any ``nn.Module`` built from the supported layers: which
``nn.Linear`` / ``nn.Conv2d`` layers run, in which order, which *neuron group* each one reads and
writes, where normalisation layers sit, and where residual additions join groups. It is the
shared front end of :meth:`graphsparse.topology.NetworkGraph.from_model` and of the metanetwork
converter (network -> graph -> network), so its result is a plain, documented data structure.

Neuron groups
    A group is a set of neurons (features for a Linear, channels for a Conv2d) that layers read
    or write. Group 0 is the model input. Every Linear/Conv2d writes a group of ``out_features`` /
    ``out_channels`` neurons and reads the group its input comes from. Element-wise operations
    (activations, dropout, pooling, flatten/view, BatchNorm/LayerNorm, scalar arithmetic) keep the
    group. A Linear that reads a flattened ``(C, H, W)`` map reads the ``C``-channel group with
    ``in_factor = H·W`` inputs per channel (channel-major flatten order, as ``torch.flatten``).

Residual additions (``a + b``, ``torch.add``, ``a - b``, ``a * b`` of two tensors)
    The sum is a group of its own. An operand whose group is produced by layers and used nowhere
    else (``bn2(conv2(h))``, a projection shortcut ``downsample(x)``) *is* the sum: its group is
    merged into the sum group, so its layers write the sum directly (a projection shortcut becomes
    a layer that skips levels). Any other operand (the block input ``x`` of ``x + f(x)``) joins the
    sum through an identity connection, recorded as a :class:`SkipConnection` of kind
    ``"identity"``. Merged operands are recorded with kind ``"merged"`` (naming their layers).
    Group ``depth`` is the longest-path depth over layers and identity connections, and groups
    are numbered by (depth, first appearance), so every layer and skip goes from a lower to a
    higher group index.

Tracing method
    ``torch.fx.symbolic_trace`` with Linear, Conv2d, the normalisation and the element-wise modules
    as leaves (so masks attached with ``torch.nn.utils.parametrize`` are not traced into). If fx
    cannot trace the model (data-dependent control flow), the model is run once on
    ``example_input`` with forward hooks; this fallback sees only the call order, so it assumes a
    sequential chain (each layer reads the previous layer's output) and warns that residual
    additions cannot be detected.

Supported
    weight layers: ``nn.Linear``, ``nn.Conv2d`` (any stride/padding/dilation/groups); normalisation
    (recorded, no edges): ``nn.BatchNorm1d/2d/3d``, ``nn.LayerNorm``, ``nn.GroupNorm``; element-wise
    and shape modules/functions listed in :data:`SUPPORTED_MODULES` and :data:`SUPPORTED_FUNCTIONS`.
    Anything else (``nn.Conv1d``, ``nn.Embedding``, ``torch.cat``, attention, direct use of a
    parameter in ``forward``, a module called twice) raises :class:`UnsupportedLayerError` naming
    the layer and the supported set.

Modules: ``tracer`` (:func:`trace_model`), ``fx_walk`` (the torch.fx walk), ``hooks`` (the
forward-hooks fallback), ``results`` (the traced dataclasses) and ``supported`` (the accepted
modules and functions).

Example::

    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    >>> t = trace_model(net)
    >>> [(l.name, l.in_group, l.out_group) for l in t.layers], [g.size for g in t.groups]
    ([('0', 0, 1), ('3', 1, 2)], [4, 8, 2])
    >>> t.layers[0].norms
    ('1',)
"""

from .results import (
    NeuronGroup,
    SkipConnection,
    TracedLayer,
    TracedModel,
    TracedNorm,
    UnsupportedLayerError,
)
from .supported import NORM_LAYERS, SUPPORTED_FUNCTIONS, SUPPORTED_MODULES, WEIGHT_LAYERS
from .tracer import trace_model

__all__ = [
    "TracedLayer",
    "TracedNorm",
    "NeuronGroup",
    "SkipConnection",
    "TracedModel",
    "UnsupportedLayerError",
    "trace_model",
    "WEIGHT_LAYERS",
    "NORM_LAYERS",
    "SUPPORTED_MODULES",
    "SUPPORTED_FUNCTIONS",
]
