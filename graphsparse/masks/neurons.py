"""Neuron-structured masks: a model's hidden units as groups of tensor slices.

A *hidden unit* is one output channel of a hidden layer together with every tensor slice that
exists only for it: its incoming weight row(s), its bias entry, its attention entries (GAT) and
the next layer's incoming column(s). Removing a unit masks all of them, so the unit outputs
exactly zero (every activation used by the models maps 0 to 0) and nothing reads it. Output
units of the last layer and the input features are never units.

What is grouped (:func:`hidden_units`): for every :class:`~graphsparse.gnn.models.GNN` backbone
inside the model (a node model, a link model's encoder, a graph model's backbone) and every
layer ``i`` but the last, the ``hidden`` outputs of ``convs.i`` (GCN: ``lin.weight`` rows,
``bias``; SAGE: ``lin_l.weight`` and ``lin_r.weight`` rows, ``lin_l.bias``; GIN: the last MLP
linear's rows and bias; GAT: ``lin.weight`` rows, ``att_src``/``att_dst``/``bias`` entries,
unit ``j`` = head ``j // C``, channel ``j % C``) with the columns of ``convs.(i+1)``'s input
maps; and for GIN every hidden width inside each layer's MLP. Torch-Pruning (installed, 1.6)
cannot trace these groups on PyG convs (its dependency graph finds none for GCN, SAGE and GAT:
PyG's ``Linear`` and message passing are opaque to it), so they are derived from the models.
Models with edge features (GINE, GAT ``edge_dim``) are refused; the hidden layers of a link
model's decoder and a graph model's node encoder and head are not grouped (never removed).

How units are scored (:meth:`HiddenUnits.unit_scores`): the mean ``|score|`` over the unit's
entries that the score mapping holds (its slices of the scored tensors). This is the L1 group
importance reduced by the mean over the group's coupled slices, the rule of Torch-Pruning's
``GroupMagnitudeImportance(p=1, group_reduction="mean")``; the mean keeps units of layers with
different fan-in comparable. TEDDY and UGS define no unit score (both prune entries); a method
at neuron granularity scores entries as it always does and units aggregate those scores.

How many: the library's rule over all units of the model together (global, like the global
weight selection): ``kept_count(U, s)`` of the ``U`` units are kept, ties by the toolkit's rule
(smaller unit index kept first; units are ordered by backbone, layer, channel). With ``within``
only units still kept stay available, so rounds are nested.

>>> import torch
>>> from graphsparse.gnn.models import build_model
>>> m = build_model("gcn", 4, 2, hidden=3, bias=True)
>>> units = hidden_units(m)
>>> units.count, [(s.name, s.axis) for s in units.layers[0].slices]
(3, [('convs.0.lin.weight', 0), ('convs.0.bias', 0), ('convs.1.lin.weight', 1)])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .selection import topk_masks

__all__ = ["HiddenUnits", "UnitLayer", "UnitSlice", "hidden_units", "resize_parameters"]

# axis of a slice: 0 = rows (dim 0), 1 = columns (dim 1), FLAT = entries of the flattened tensor
FLAT = -1


@dataclass(frozen=True)
class UnitSlice:
    """Unit ``j`` owns index ``j`` of tensor ``name`` along ``axis`` (0, 1 or ``FLAT``)."""

    name: str
    axis: int


@dataclass(frozen=True)
class UnitLayer:
    """The ``size`` units of one hidden width: ``slices`` of each unit; ``heads`` > 1 for a GAT
    layer (units of one head are contiguous)."""

    name: str
    size: int
    slices: tuple[UnitSlice, ...]
    heads: int = 1


def _conv_kind(conv: nn.Module) -> str:
    from torch_geometric.nn import GATConv, GCNConv, GINConv, SAGEConv
    for kind, cls in (("gat", GATConv), ("gcn", GCNConv), ("gin", GINConv), ("sage", SAGEConv)):
        if isinstance(conv, cls):
            return kind
    raise TypeError(f"neuron granularity supports GCNConv, SAGEConv, GINConv and GATConv "
                    f"layers (without edge features), got {type(conv).__name__}")


def _present(model: nn.Module, names: Sequence[str]) -> list[str]:
    return [n for n in names if _param_name(model, n) is not None]


def _param_name(model: nn.Module, name: str) -> str | None:
    prefix, _, tname = name.rpartition(".")
    try:
        owner = model.get_submodule(prefix) if prefix else model
    except AttributeError:
        return None
    t = getattr(owner, tname, None)
    return name if isinstance(t, Tensor) else None


def _linears(conv: nn.Module, kind: str) -> list[nn.Module]:
    if kind == "gin":
        return [m for m in conv.nn if isinstance(m, nn.Linear)]
    return []


def _outputs(p: str, kind: str, conv: nn.Module) -> list[tuple[str, int]]:
    """(tensor, axis) slices owned by one output channel of ``conv`` (prefix ``p``)."""
    if kind == "gcn":
        return [(f"{p}.lin.weight", 0), (f"{p}.bias", 0)]
    if kind == "sage":
        return [(f"{p}.lin_l.weight", 0), (f"{p}.lin_l.bias", 0), (f"{p}.lin_r.weight", 0),
                (f"{p}.lin_r.bias", 0)]
    if kind == "gat":
        return [(f"{p}.lin.weight", 0), (f"{p}.att_src", FLAT), (f"{p}.att_dst", FLAT),
                (f"{p}.bias", 0)]
    last = 2 * (len(_linears(conv, kind)) - 1)
    return [(f"{p}.nn.{last}.weight", 0), (f"{p}.nn.{last}.bias", 0)]


def _inputs(p: str, kind: str) -> list[tuple[str, int]]:
    """(tensor, axis) slices that read one input channel of a conv (prefix ``p``)."""
    return {"gcn": [(f"{p}.lin.weight", 1)], "gat": [(f"{p}.lin.weight", 1)],
            "sage": [(f"{p}.lin_l.weight", 1), (f"{p}.lin_r.weight", 1)],
            "gin": [(f"{p}.nn.0.weight", 1)]}[kind]


def _layer(model: nn.Module, name: str, size: int, parts: list[tuple[str, int]],
           heads: int = 1) -> UnitLayer:
    names = _present(model, [n for n, _ in parts])
    return UnitLayer(name, size, tuple(UnitSlice(n, a) for n, a in parts if n in names), heads)


def _backbone_units(model: nn.Module, prefix: str, backbone: nn.Module) -> list[UnitLayer]:
    if getattr(backbone, "edge_dim", None) is not None:
        raise ValueError("neuron granularity does not support models with edge features")
    convs = list(backbone.convs)
    kinds = [_conv_kind(c) for c in convs]
    layers = []
    for i, (conv, kind) in enumerate(zip(convs, kinds)):
        p = f"{prefix}convs.{i}"
        if kind == "gin":  # hidden widths inside the MLP
            for k, lin in enumerate(_linears(conv, kind)[:-1]):
                layers.append(_layer(model, f"{p}.nn.{2 * k}", lin.out_features,
                                     [(f"{p}.nn.{2 * k}.weight", 0), (f"{p}.nn.{2 * k}.bias", 0),
                                      (f"{p}.nn.{2 * k + 2}.weight", 1)]))
        if i == len(convs) - 1:
            continue
        heads = conv.heads if kind == "gat" else 1
        size = backbone.hidden
        parts = _outputs(p, kind, conv) + _inputs(f"{prefix}convs.{i + 1}", kinds[i + 1])
        layers.append(_layer(model, p, size, parts, heads))
    return layers


def hidden_units(model: nn.Module) -> HiddenUnits:
    """The hidden units of every GNN backbone in ``model`` (see the module documentation).

    Raises:
        ValueError: the model has no backbone with hidden units, or uses edge features.
        TypeError: a conv type the grouping does not know.
    """
    from graphsparse.gnn.models import GNN
    layers = []
    for prefix, module in model.named_modules():
        if isinstance(module, GNN):
            layers.extend(_backbone_units(model, f"{prefix}." if prefix else "", module))
    if not layers:
        raise ValueError(f"{type(model).__name__} has no hidden units (neuron granularity "
                         "needs a graphsparse.gnn.models backbone with at least 2 layers or a "
                         "GIN MLP)")
    return HiddenUnits(layers)


def _view(t: Tensor, axis: int) -> Tensor:
    """``t`` with the unit axis first and everything else flattened: ``[units, rest]``."""
    if axis == FLAT:
        return t.reshape(-1, 1)
    if axis == 1:
        return t.transpose(0, 1).reshape(t.shape[1], -1)
    return t.reshape(t.shape[0], -1)


class HiddenUnits:
    """A model's hidden units (from :func:`hidden_units`), in global unit order."""

    def __init__(self, layers: Sequence[UnitLayer]) -> None:
        self.layers = list(layers)

    @property
    def count(self) -> int:
        """Number of hidden units ``U``."""
        return sum(layer.size for layer in self.layers)

    def tensor_names(self) -> list[str]:
        """Every tensor that holds a slice of some unit (first appearance order)."""
        return list(dict.fromkeys(s.name for layer in self.layers for s in layer.slices))

    def unit_scores(self, scores: Mapping[str, Tensor], absolute: bool = True) -> Tensor:
        """``[U]`` float64: mean ``|score|`` (``absolute=False``: mean signed score, e.g.
        threshold margins) over each unit's entries held by ``scores`` (a unit without any
        scored entry scores 0)."""
        out = []
        for layer in self.layers:
            total = torch.zeros(layer.size, dtype=torch.float64)
            count = torch.zeros(layer.size, dtype=torch.float64)
            for s in layer.slices:
                if s.name in scores:
                    v = scores[s.name].detach().cpu().to(torch.float64)
                    v = _view(v.abs() if absolute else v, s.axis)
                    total += v.sum(1)
                    count += v.shape[1]
            out.append(total / count.clamp(min=1))
        return torch.cat(out)

    def kept_units(self, masks: Mapping[str, Tensor]) -> Tensor:
        """``[U]`` bool: units with at least one kept entry in ``masks`` (a removed unit has
        none); units without a slice in ``masks`` count as kept."""
        out = []
        for layer in self.layers:
            kept = torch.zeros(layer.size, dtype=torch.bool)
            seen = False
            for s in layer.slices:
                if s.name in masks:
                    seen = True
                    kept |= _view(masks[s.name].cpu(), s.axis).any(1)
            out.append(kept if seen else torch.ones(layer.size, dtype=torch.bool))
        return torch.cat(out)

    def expand(self, keep: Tensor, shapes: Mapping[str, Sequence[int]]) -> dict[str, Tensor]:
        """Masks of the tensors in ``shapes`` with every slice of each removed unit False."""
        masks = {n: torch.ones(tuple(shape), dtype=torch.bool) for n, shape in shapes.items()}
        start = 0
        for layer in self.layers:
            removed = (~keep[start:start + layer.size]).nonzero().flatten()
            start += layer.size
            for s in layer.slices:
                if s.name in masks and removed.numel():
                    m = masks[s.name]
                    if s.axis == FLAT:
                        m.view(-1)[removed] = False
                    else:
                        m.index_fill_(s.axis, removed, False)
        return masks

    def select(self, scores: Mapping[str, Tensor], sparsity: float,
               within: Mapping[str, Tensor] | None = None,
               shapes: Mapping[str, Sequence[int]] | None = None) -> dict[str, Tensor]:
        """Keep ``kept_count(U, sparsity)`` units by :meth:`unit_scores` (library tie rule),
        only among the units ``within`` keeps; masks over ``shapes`` (default: the scores'
        shapes), intersected with ``within``."""
        shapes = shapes or {n: tuple(t.shape) for n, t in scores.items()}
        return self.select_units(self.unit_scores(scores), sparsity, shapes, within)

    def select_units(self, unit_scores: Tensor, sparsity: float,
                     shapes: Mapping[str, Sequence[int]],
                     within: Mapping[str, Tensor] | None = None) -> dict[str, Tensor]:
        """:meth:`select` from ``[U]`` unit scores (e.g. random ones)."""
        inside = None if within is None else {"units": self.kept_units(within)}
        keep = topk_masks({"units": unit_scores.detach().cpu().to(torch.float64)}, sparsity,
                          within=inside)["units"]
        masks = self.expand(keep, shapes)
        if within is not None:
            masks = {n: m & within[n].cpu() if n in within else m for n, m in masks.items()}
        return masks

    def counts(self, masks: Mapping[str, Tensor]) -> dict[str, int]:
        """``{"units_kept", "units_total"}`` of ``masks``."""
        return {"units_kept": int(self.kept_units(masks).sum()), "units_total": self.count}

    def shrink(self, state: Mapping[str, Tensor], keep: Tensor) -> dict[str, Tensor]:
        """``state`` with the slices of removed units physically deleted. A GAT layer keeps
        ``heads × max_h(kept in head h)`` channels: heads with fewer kept units are padded with
        removed (all-zero) channels, since PyG's GATConv needs equal head widths."""
        out = dict(state)
        start = 0
        for layer in self.layers:
            index = _kept_index(keep[start:start + layer.size], layer.heads)
            start += layer.size
            for s in layer.slices:
                if s.name in out:
                    out[s.name] = _take(out[s.name], s.axis, index)
        return out


def _kept_index(keep: Tensor, heads: int) -> Tensor:
    if heads == 1:
        return keep.nonzero().flatten()
    per_head = keep.view(heads, -1)
    width = max(1, int(per_head.sum(1).max()))
    rows = []
    for h in range(heads):  # kept channels first, then removed ones as padding
        order = torch.cat([per_head[h].nonzero().flatten(), (~per_head[h]).nonzero().flatten()])
        rows.append(order[:width] + h * per_head.shape[1])
    return torch.cat(rows)


def _take(t: Tensor, axis: int, index: Tensor) -> Tensor:
    if axis == FLAT:
        return _take_flat(t, index)
    return t.index_select(axis, index.to(t.device)).clone()


def _take_flat(t: Tensor, index: Tensor) -> Tensor:
    """GAT ``att`` ``[1, H, C]`` -> ``[1, H, C']`` of the flattened entries ``index``."""
    heads = t.shape[-2]
    return t.reshape(-1)[index].reshape(1, heads, -1).clone()


def resize_parameters(model: nn.Module, state: Mapping[str, Tensor]) -> nn.Module:
    """Give every parameter of ``model`` the shape it has in ``state`` (a shrunk state_dict),
    fixing the width attributes the forward passes read (``in_features``/``out_features``,
    PyG ``in_channels``/``out_channels``, GAT's per-head ``out_channels``). In place; returns
    ``model``, ready for ``load_state_dict(state)``."""
    for name, value in state.items():
        prefix, _, tname = name.rpartition(".")
        try:
            owner = model.get_submodule(prefix) if prefix else model
        except AttributeError:
            continue  # not a tensor of the model: load_state_dict reports it
        current = owner._parameters.get(tname)
        if current is not None and current.shape != value.shape:
            owner._parameters[tname] = nn.Parameter(torch.empty_like(value),
                                                    requires_grad=current.requires_grad)
    for module in model.modules():
        weight = module._parameters.get("weight")
        if weight is not None and weight.dim() == 2:
            for a, b in (("out_features", "in_features"), ("out_channels", "in_channels")):
                if hasattr(module, a) and isinstance(getattr(module, a), int):
                    setattr(module, a, weight.shape[0])
                    setattr(module, b, weight.shape[1])
        att = module._parameters.get("att_src")
        if att is not None:
            module.out_channels = att.shape[-1]
    return model
