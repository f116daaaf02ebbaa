"""Attaching an edge mask to every conv of a model: :func:`edge_mask` and its hooks.

The modes and their semantics are documented in :mod:`graphsparse.gnn.edges`; which rule a conv
gets in message mode in :mod:`graphsparse.gnn.edges.rules`.

How message mode plugs in
-------------------------
One mechanism serves every conv. :func:`edge_mask` registers, on every ``MessagePassing``
submodule: a module forward pre-hook that records the conv's input ``edge_index`` (or, for the
``"weight"`` rule, injects ``edge_weight``); a ``propagate`` pre-hook that maps the mask onto the
edges actually propagated — the input edges, the input edges with self-loops appended
(``add_self_loops``) or the non-loop input edges with loops appended
(``remove_self_loops`` + ``add_self_loops``, ``add_remaining_self_loops``), verified by
comparison, appended loops getting mask 1 — and turns an ``EdgeIndex`` into a plain tensor so
the fused sparse-matmul path (which skips message hooks) is not taken; a message forward hook
that multiplies each message by its mask value; an aggregate forward hook that divides by
``Σ m`` (mean) or ``Σ m·α`` (softmax). For softmax convs the hooks take over attention dropout:
the conv's ``dropout`` attribute is 0 while the mask is attached (restored on removal) and the
same dropout is applied to the masked attention. A propagate that bypassed the message hook
raises. ``return_attention_weights=True`` still returns the conv's unmasked ``α``; the attention
used is ``m·α / Σ m·α``. TorchScript and ``torch.compile`` skip PyG's hooks: not supported.
"""

from __future__ import annotations

import inspect
import weakref

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import scatter

from graphsparse.checks import check_choice, check_edge_index
from graphsparse.gnn.edges.rules import UnsupportedConvError, message_rule, weight_capable
from graphsparse.gnn.edges.tied import check_edge_mask, plain_edge_index
from graphsparse.gnn.edges.trainable import TrainableEdgeMask

__all__ = ["EDGE_MASK_MODES", "EdgeMaskHooks", "edge_mask"]

#: The edge-mask modes, see :mod:`graphsparse.gnn.edges`.
EDGE_MASK_MODES = ("remove", "weight", "message")
# Keyword arguments of a conv's forward that are aligned with the edges (filtered in remove mode).
_EDGE_ARGS = ("edge_weight", "edge_attr", "edge_type")
# Convs that currently carry an attached edge mask (one at a time per conv).
_ACTIVE: weakref.WeakSet = weakref.WeakSet()


class _MaskSource:
    """A tensor or TrainableEdgeMask, validated once per in-place version."""

    def __init__(self, mask, hard: bool) -> None:
        if not isinstance(mask, (Tensor, TrainableEdgeMask)):
            raise TypeError(f"mask must be a torch.Tensor over edge ids or a TrainableEdgeMask, "
                            f"got {type(mask).__name__}")
        self.mask, self.hard = mask, hard
        self._checked: tuple | None = None
        self._value: Tensor | None = None

    def _version(self) -> tuple:
        if isinstance(self.mask, TrainableEdgeMask):
            return (self.mask.values._version, self.mask.kept._version)
        return (self.mask._version,)

    def get(self, num_edges: int, conv_name: str) -> Tensor:
        value = self.mask() if isinstance(self.mask, TrainableEdgeMask) else self.mask
        if value.dim() == 1 and value.numel() != num_edges:
            raise ValueError(f"mask has {value.numel()} entries but {conv_name} received an "
                             f"edge_index with {num_edges} edges; the mask must cover the "
                             "conv's edge ids (for a mini-batch, gather mask[batch.e_id])")
        version = self._version()
        if self.hard or self._checked != version:
            checked = check_edge_mask(value, hard=self.hard, num_edges=num_edges)
            self._checked = version
            if self.hard:
                return checked
        if value.dtype == torch.bool:
            value = value.to(torch.get_default_dtype())
        return value


def _follow(mask: Tensor, inp: Tensor, prop: Tensor, conv_name: str) -> Tensor:
    """Map a mask over the conv's input edges onto the edges it propagates.

    Accepted layouts of ``prop`` (checked exactly): ``inp`` itself; ``inp`` followed by
    self-loops; the non-loop edges of ``inp`` followed by self-loops. Appended loops get 1.
    """
    if prop is inp or (prop.shape == inp.shape and torch.equal(prop, inp)):
        return mask
    e_in, e_prop = inp.size(1), prop.size(1)

    def tail_is_loops(start: int) -> bool:
        tail = prop[:, start:]
        return bool((tail[0] == tail[1]).all())

    if e_prop >= e_in and torch.equal(prop[:, :e_in], inp) and tail_is_loops(e_in):
        return torch.cat([mask, mask.new_ones(e_prop - e_in)])
    not_loop = inp[0] != inp[1]
    kept = int(not_loop.sum())
    if e_prop >= kept and torch.equal(prop[:, :kept], inp[:, not_loop]) and tail_is_loops(kept):
        return torch.cat([mask[not_loop], mask.new_ones(e_prop - kept)])
    raise RuntimeError(f"{conv_name} rewrote its edge_index inside forward in a way the edge "
                       "mask cannot follow (only appended self-loops are recognised); use "
                       "mode='remove'")


class _ConvMasker:
    """Hooks applying one mask to one conv in one mode."""

    def __init__(self, conv: MessagePassing, source: _MaskSource, mode: str) -> None:
        self.conv, self.source, self.mode = conv, source, mode
        self.name = type(conv).__name__
        self.signature = inspect.signature(conv.forward)
        if "edge_index" not in self.signature.parameters:
            raise UnsupportedConvError(f"{self.name}.forward has no edge_index argument")
        if mode == "remove":
            if getattr(conv, "cached", False):
                raise UnsupportedConvError(f"{self.name}(cached=True) reuses the graph it saw "
                                           "first, so removed edges cannot reach it; build it "
                                           "with cached=False")
            self.rule = "remove"
        elif mode == "weight":
            weight_capable(conv)
            self.rule = "weight"
        else:
            self.rule = message_rule(conv)
            if self.rule != "weight":
                if conv.explain:
                    raise UnsupportedConvError(f"{self.name} already has an explainer mask "
                                               "(explain=True); clear it first")
                if conv.decomposed_layers != 1:
                    raise UnsupportedConvError(f"{self.name} uses decomposed_layers="
                                               f"{conv.decomposed_layers}; message mode needs 1")
        self.adds_loops = getattr(conv, "add_self_loops", False) is True
        self.handles: list = []
        self.saved_dropout: float | None = None
        self._clear()

    def _clear(self) -> None:
        self.input_edge_index: Tensor | None = None
        self.input_mask: Tensor | None = None
        self.edge_values: Tensor | None = None
        self.weighted_alpha: Tensor | None = None
        self.message_seen = False

    # attach / detach -------------------------------------------------------------------------
    def attach(self) -> None:
        conv = self.conv
        self.handles.append(conv.register_forward_pre_hook(self._forward_pre, with_kwargs=True))
        self.handles.append(conv.register_forward_hook(self._forward_post, with_kwargs=True,
                                                       always_call=True))
        if self.rule in ("sum", "mean", "softmax"):
            self.handles.append(conv.register_propagate_forward_pre_hook(self._propagate_pre))
            self.handles.append(conv.register_message_forward_hook(self._message_post))
            self.handles.append(conv.register_propagate_forward_hook(self._propagate_post))
            if self.rule in ("mean", "softmax"):
                self.handles.append(conv.register_aggregate_forward_hook(self._aggregate_post))
        if self.rule == "softmax":
            self.saved_dropout = float(conv.dropout)
            conv.dropout = 0.0

    def detach(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        if self.saved_dropout is not None:
            self.conv.dropout = self.saved_dropout
            self.saved_dropout = None
        self._clear()

    # module hooks ----------------------------------------------------------------------------
    def _forward_pre(self, module, args, kwargs):
        bound = self.signature.bind(*args, **kwargs)
        edge_index = bound.arguments.get("edge_index")
        edge_index = check_edge_index(edge_index, name=f"edge_index of {self.name}")
        num_edges = edge_index.size(1)
        mask = self.source.get(num_edges, self.name).to(edge_index.device)
        if self.rule == "remove":
            bound.arguments["edge_index"] = edge_index[:, mask]
            for arg in _EDGE_ARGS:
                value = bound.arguments.get(arg)
                if isinstance(value, Tensor):
                    if value.dim() == 0 or value.size(0) != num_edges:
                        raise ValueError(f"{arg} of {self.name} has shape {tuple(value.shape)}; "
                                         f"expected {num_edges} rows (one per edge)")
                    bound.arguments[arg] = value[mask]
            return bound.args, bound.kwargs
        if self.adds_loops:
            loops = edge_index[0] == edge_index[1]
            if bool(loops.any()):
                mask = torch.where(loops, torch.ones_like(mask), mask)
        if self.rule == "weight":
            weight = bound.arguments.get("edge_weight")
            weight = mask if weight is None else weight * mask
            if not self.adds_loops:
                # gcn_norm without self-loops: a node whose masked in-degree is exactly 0 gets
                # deg^-1/2 = inf (filled with 0 in the forward, NaN in the backward). Its
                # in-edges all have weight 0, so dropping them changes no output; their mask
                # entries get gradient 0 instead of NaN.
                target = edge_index[1] if module.flow == "source_to_target" else edge_index[0]
                degree = scatter(weight, target, 0, reduce="sum")
                live = degree[target] != 0
                if not bool(live.all()):
                    bound.arguments["edge_index"] = edge_index[:, live]
                    weight = weight[live]
            bound.arguments["edge_weight"] = weight
            return bound.args, bound.kwargs
        self.input_edge_index = plain_edge_index(edge_index)
        self.input_mask = mask
        return None

    def _forward_post(self, module, args, kwargs, output):
        self._clear()
        return None

    # MessagePassing hooks --------------------------------------------------------------------
    def _propagate_pre(self, module, inputs):
        edge_index, size, kwargs = inputs
        if self.input_mask is None:
            raise RuntimeError(f"{self.name}.propagate ran outside {self.name}.forward; the edge "
                               "mask is bound to the edge_index given to forward")
        edge_index = check_edge_index(edge_index, name=f"edge_index propagated by {self.name}")
        edge_index = plain_edge_index(edge_index)
        self.edge_values = _follow(self.input_mask, self.input_edge_index, edge_index,
                                   self.name)
        self.message_seen = False
        return edge_index, size, kwargs

    def _message_post(self, module, inputs, out):
        m = self.edge_values
        dim = module.node_dim
        if out.size(dim) != m.numel():
            raise RuntimeError(f"{self.name} produced {out.size(dim)} messages for "
                               f"{m.numel()} masked edges")
        self.message_seen = True
        if self.rule != "softmax":
            shape = [1] * out.dim()
            shape[dim] = -1
            return out * m.view(shape)
        alpha = inputs[0].get("alpha") if isinstance(inputs[0], dict) else None
        if alpha is None:
            alpha = getattr(module, "_alpha", None)
        if not isinstance(alpha, Tensor) or alpha.size(0) != m.numel():
            raise RuntimeError(f"{self.name} exposes no attention alpha of shape [E, H] (message "
                               "argument 'alpha' or attribute '_alpha')")
        weight = m.view((-1,) + (1,) * (alpha.dim() - 1)).to(alpha.dtype)
        self.weighted_alpha = weight * alpha
        scale = weight.expand_as(alpha)
        if module.training and self.saved_dropout:
            scale = F.dropout(scale, p=self.saved_dropout, training=True)
        return out * scale.reshape(scale.shape + (1,) * (out.dim() - scale.dim()))

    def _aggregate_post(self, module, inputs, out):
        index = inputs[0].get("index") if isinstance(inputs[0], dict) else None
        if not isinstance(index, Tensor):
            raise RuntimeError(f"{self.name}.aggregate was called without the target index")
        dim = module.node_dim
        num_targets = out.size(dim)
        if self.rule == "mean":
            m = self.edge_values
            total = scatter(m, index, 0, dim_size=num_targets, reduce="sum")
            count = scatter(torch.ones_like(m), index, 0, dim_size=num_targets, reduce="sum")
            has = total > 0
            factor = torch.where(has, count.clamp(min=1) / torch.where(has, total,
                                                                         torch.ones_like(total)),
                                 torch.zeros_like(total))
            shape = [1] * out.dim()
            shape[dim] = -1
            return out * factor.view(shape)
        total = scatter(self.weighted_alpha, index, 0, dim_size=num_targets, reduce="sum")
        safe = torch.where(total > 0, total, torch.ones_like(total))
        return out / safe.reshape(safe.shape + (1,) * (out.dim() - safe.dim()))

    def _propagate_post(self, module, inputs, out):
        seen = self.message_seen
        self.edge_values, self.weighted_alpha, self.message_seen = None, None, False
        if not seen:
            raise RuntimeError(f"{self.name}.propagate bypassed the message hook (fused "
                               "message_and_aggregate path); the mask was not applied")
        return None


class EdgeMaskHooks:
    """Handle of an attached edge mask; a context manager. Created by :func:`edge_mask`.

    ``remove()`` (or leaving the ``with`` block) detaches every hook and restores the convs.
    """

    def __init__(self, names: list[str], maskers: list[_ConvMasker]) -> None:
        self._rules = {name: masker.rule for name, masker in zip(names, maskers)}
        self._maskers = maskers

    @property
    def rules(self) -> dict[str, str]:
        """``{conv's qualified name in the model: rule}``; the rule is ``"remove"``,
        ``"weight"``, ``"sum"``, ``"mean"`` or ``"softmax"``."""
        return dict(self._rules)

    def remove(self) -> None:
        """Detach all hooks (idempotent)."""
        for masker in self._maskers:
            masker.detach()
            _ACTIVE.discard(masker.conv)
        self._maskers = []

    def __enter__(self) -> EdgeMaskHooks:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def edge_mask(model: nn.Module, mask: Tensor | TrainableEdgeMask, mode: str) -> EdgeMaskHooks:
    """Apply an edge mask to every ``MessagePassing`` layer of ``model``.

    Args:
        model: a module containing PyG convs (or a conv itself). Every conv must receive the
            same ``edge_index`` (``[2, E]`` dense tensor or ``EdgeIndex``) as its ``edge_index``
            argument; other modules are untouched.
        mask: ``[E]`` over that graph's edge ids — bool (True = kept) or floating in ``[0, 1]``
            (soft modes; bool is taken as 0/1), or a :class:`TrainableEdgeMask` re-evaluated at
            every conv call.
        mode: ``"remove"``, ``"weight"`` or ``"message"`` (see :mod:`graphsparse.gnn.edges`).

    Returns:
        :class:`EdgeMaskHooks`, to use as ``with edge_mask(model, m, mode="message"): ...`` or to
        keep and ``.remove()`` later. Every conv is checked up front: a conv the mode cannot
        handle exactly raises :class:`UnsupportedConvError` naming it, before anything is
        attached; a conv that already carries an edge mask raises ``RuntimeError``.

    Example:
        >>> from torch_geometric.nn import GCNConv
        >>> conv = GCNConv(3, 2)
        >>> ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
        >>> m = torch.tensor([1.0, 1.0, 0.5, 0.5], requires_grad=True)
        >>> with edge_mask(conv, m, mode="weight") as hooks:
        ...     out = conv(torch.randn(3, 3), ei)
        >>> hooks.rules
        {'': 'weight'}
        >>> out.sum().backward(); m.grad.shape
        torch.Size([4])
    """
    check_choice(mode, "mode", EDGE_MASK_MODES)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    source = _MaskSource(mask, hard=(mode == "remove"))
    convs = [(name, m) for name, m in model.named_modules() if isinstance(m, MessagePassing)]
    if not convs:
        raise ValueError(f"model ({type(model).__name__}) has no MessagePassing layer to mask")
    for name, conv in convs:
        if conv in _ACTIVE:
            raise RuntimeError(f"conv {name or type(conv).__name__!r} already has an edge mask "
                               "attached; remove it first")
    maskers = [_ConvMasker(conv, source, mode) for _, conv in convs]
    for masker in maskers:
        masker.attach()
        _ACTIVE.add(masker.conv)
    return EdgeMaskHooks([name for name, _ in convs], maskers)
