"""Which rule message mode applies to a conv, and the registry of convs it knows.

Message mode masks each message with the rule the conv's aggregation needs so that ``m = 0`` is
exactly edge removal (see :mod:`graphsparse.gnn.edges`): ``"weight"`` for the GCN-normalised
convs (the mask goes into ``edge_weight``), ``"sum"``/``"mean"`` for convs whose messages depend
on their own edge only, ``"softmax"`` for attention convs. :func:`message_rule` names the rule
of a conv or raises :class:`UnsupportedConvError`; :func:`register_conv` declares a custom conv.
"""

from __future__ import annotations

import inspect

from torch_geometric.nn import MessagePassing
from torch_geometric.nn.aggr import MeanAggregation, SumAggregation
from torch_geometric.nn.conv import (
    APPNP,
    GATConv,
    GATv2Conv,
    GCNConv,
    GINConv,
    GINEConv,
    GraphConv,
    LGConv,
    SAGEConv,
    SGConv,
    SimpleConv,
    TAGConv,
    TransformerConv,
)

from graphsparse.checks import check_choice

__all__ = ["UnsupportedConvError", "message_rule", "register_conv", "weight_capable"]

# Conv classes by how the message-mode rule applies to them (see register_conv):
#   "weight"  - the conv normalises with edge_weight (gcn_norm): the mask goes into edge_weight;
#   "plain"   - each message depends on its own edge only: the rule follows the aggregation;
#   "softmax" - attention softmax over in-edges: renormalised with the conv's own alpha.
_CONV_KINDS = ("weight", "plain", "softmax")
_REGISTRY: dict[type, str] = {
    GCNConv: "weight", SGConv: "weight", APPNP: "weight", TAGConv: "weight", LGConv: "weight",
    GINConv: "plain", GINEConv: "plain", GraphConv: "plain", SAGEConv: "plain",
    SimpleConv: "plain",
    GATConv: "softmax", GATv2Conv: "softmax", TransformerConv: "softmax",
}


class UnsupportedConvError(ValueError):
    """A conv cannot apply an edge mask exactly in the requested mode."""


def register_conv(conv_cls: type, kind: str) -> None:
    """Declare how message mode may mask a custom ``MessagePassing`` class.

    Args:
        conv_cls: a subclass of ``MessagePassing``.
        kind: ``"plain"`` — each message depends on its own edge only (no normalisation over
            other edges before ``propagate``); the rule then follows the conv's aggregation
            (sum or mean; others raise). ``"weight"`` — the conv normalises with ``edge_weight``
            (as ``gcn_norm``) and its ``forward`` takes ``edge_weight``: the mask is passed
            there. ``"softmax"`` — attention over in-edges: the conv aggregates by sum, uses
            ``node_dim=0``, exposes the pre-dropout attention as the message argument ``alpha``
            or as the attribute ``_alpha`` (shape ``[E, H]``) and its attention dropout as the
            float attribute ``dropout``.

    Subclasses inherit the declaration of their nearest registered base.
    """
    if not (isinstance(conv_cls, type) and issubclass(conv_cls, MessagePassing)):
        raise TypeError(f"conv_cls must be a MessagePassing subclass, got {conv_cls!r}")
    check_choice(kind, "kind", _CONV_KINDS)
    _REGISTRY[conv_cls] = kind


def _kind_of(conv: MessagePassing) -> str | None:
    for cls in type(conv).__mro__:
        if cls in _REGISTRY:
            return _REGISTRY[cls]
    return None


def _aggr_rule(conv: MessagePassing) -> str:
    aggr = conv.aggr_module
    if type(aggr) is SumAggregation:
        return "sum"
    if type(aggr) is MeanAggregation:
        return "mean"
    raise UnsupportedConvError(
        f"{type(conv).__name__} aggregates with {type(aggr).__name__}: message mode is exact "
        "only for sum, mean and softmax-attention aggregation, so masked edges would leak; use "
        "mode='remove'")


def message_rule(conv: MessagePassing) -> str:
    """How message mode masks ``conv``: ``"weight"``, ``"sum"``, ``"mean"`` or ``"softmax"``.

    Raises :class:`UnsupportedConvError` (naming the conv) when the mask cannot be applied
    exactly: unregistered conv classes, max/min/LSTM/multi aggregation, cached normalisation.

    Example:
        >>> from torch_geometric.nn import GCNConv, SAGEConv
        >>> message_rule(GCNConv(4, 4)), message_rule(SAGEConv(4, 4))
        ('weight', 'mean')
    """
    if not isinstance(conv, MessagePassing):
        raise TypeError(f"conv must be a MessagePassing module, got {type(conv).__name__}")
    name = type(conv).__name__
    if getattr(conv, "cached", False):
        raise UnsupportedConvError(f"{name}(cached=True) reuses the graph it saw first, so a "
                                   "mask cannot reach it; build it with cached=False")
    kind = _kind_of(conv)
    if kind is None:
        supported = sorted(c.__name__ for c in _REGISTRY)
        raise UnsupportedConvError(
            f"{name} is not known to the edge-mask mechanism: its messages may depend on other "
            f"edges (normalisation, attention) or its aggregation may not be maskable exactly. "
            f"Supported: {', '.join(supported)}. Use mode='remove' (exact for every conv) or "
            "declare the conv with register_conv()")
    if kind == "weight":
        if "edge_weight" not in inspect.signature(conv.forward).parameters:
            raise UnsupportedConvError(f"{name} is registered as 'weight' but its forward takes "
                                       "no edge_weight")
        return "weight"
    if kind == "softmax":
        if type(conv.aggr_module) is not SumAggregation or conv.node_dim != 0:
            raise UnsupportedConvError(f"{name} is registered as 'softmax' but does not "
                                       "aggregate by sum over node_dim=0")
        if not isinstance(getattr(conv, "dropout", None), (int, float)):
            raise UnsupportedConvError(f"{name} is registered as 'softmax' but has no float "
                                       "attribute 'dropout'")
        if (getattr(conv, "edge_dim", None) and getattr(conv, "add_self_loops", False)
                and isinstance(getattr(conv, "fill_value", None), str)):
            raise UnsupportedConvError(
                f"{name}(edge_dim=..., fill_value={conv.fill_value!r}) builds its self-loop edge "
                "features from all incoming edges, masked ones included, so a soft mask cannot "
                "equal edge removal; use a constant fill_value (e.g. 0.0) or mode='remove'")
        return "softmax"
    return _aggr_rule(conv)


def weight_capable(conv: MessagePassing) -> None:
    """Raise unless passing the mask as ``edge_weight`` is exact for ``conv``."""
    name = type(conv).__name__
    if "edge_weight" not in inspect.signature(conv.forward).parameters:
        raise UnsupportedConvError(f"{name} takes no edge_weight, so mode='weight' cannot reach "
                                   "it; use mode='message' or mode='remove'")
    rule = message_rule(conv)
    if rule not in ("weight", "sum"):
        raise UnsupportedConvError(
            f"{name} takes edge_weight but aggregates by {rule}, where a zero weight still "
            "counts in the normaliser; use mode='message' or mode='remove'")
