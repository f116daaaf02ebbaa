"""Edge masks on any PyG conv, with exact, named semantics.

An edge mask is a 1-D tensor over the **global edge ids** of a graph, i.e. over the columns of its
``edge_index`` of shape ``[2, E]`` — never an ``N x N`` matrix. It is a ``torch.bool`` tensor
(True = kept) for hard masks and a floating tensor with values in ``[0, 1]`` for soft masks, so
the selection, scoring and file tools of :mod:`graphsparse.masks` work on it unchanged
(``{"edges": mask}``). For mini-batches drawn by a PyG loader, gather the batch's part with the
loader's edge ids: ``mask[batch.e_id]``.

Tied directions
---------------
An undirected graph stores each edge ``{u, v}`` twice, as ``(u, v)`` and ``(v, u)``.
:func:`tie_directions` maps every directed edge to the id of its canonical pair ``(min, max)``;
the returned :class:`TiedEdges` expands a mask over pairs to both directions
(:meth:`TiedEdges.expand`) and reduces a directed mask to pairs, checking symmetry
(:meth:`TiedEdges.reduce`). Ties are the default; for a directed dataset pass ``directed=True``
and every directed edge is its own unit (parallel copies of one edge are always tied).

Modes
-----
``"remove"`` (hard)
    Masked edges are physically filtered out of ``edge_index`` (and of ``edge_weight``,
    ``edge_attr``, ``edge_type``) before the conv sees them. Exact for every conv, and the only
    mode with a real speed-up. Use :func:`apply_edge_mask` once per graph, or :func:`edge_mask`
    with ``mode="remove"`` to filter at every conv call.
``"weight"`` (soft)
    The mask ``m`` is passed to the conv as its ``edge_weight`` (multiplied with a given one), so
    the conv's normalisation sees it. For the GCN family this is the masked adjacency of UGS
    (Chen et al., ICML 2021, objective over ``{m_g ⊙ A, X}``), renormalised at every forward:
    ``Â(m) = D̃_m^{-1/2} (m ⊙ A + I) D̃_m^{-1/2}`` with ``D̃_m`` the degrees of ``m ⊙ A + I``.
    Only for convs that take ``edge_weight`` and handle it exactly: the GCN-normalised convs
    (``GCNConv``, ``SGConv``, ``APPNP``, ``TAGConv``, ``LGConv``) and plain sum-aggregating
    convs (``GraphConv`` with ``aggr="sum"``, ``SimpleConv`` with ``aggr="sum"``).
``"message"`` (soft)
    The mask is applied through ``MessagePassing``'s own hooks, with the rule the conv's
    aggregation needs so that ``m = 0`` is exactly edge removal (:func:`message_rule`):

    * ``"sum"`` — ``h_i = Σ_j m_ij · msg_ij`` (``GINConv``, ``GINEConv``, ``GraphConv``,
      ``SAGEConv`` and ``SimpleConv`` with sum aggregation);
    * ``"mean"`` — ``h_i = Σ_j m_ij · msg_ij / Σ_j m_ij``, and ``0`` where ``Σ_j m_ij = 0``, as
      for a node without in-edges (the same convs with mean aggregation);
    * ``"softmax"`` — attention ``α_ij = m_ij exp(e_ij) / Σ_k m_ik exp(e_ik)``, i.e. the GAT
      softmax (Veličković et al., ICLR 2018, eqs. 2–3) over the masked neighbourhood, computed as
      ``m_ij α_ij / Σ_k m_ik α_ik`` from the conv's own ``α`` (``GATConv``, ``GATv2Conv``,
      ``TransformerConv``). Attention dropout is applied after the masking (see below);
    * ``"weight"`` — for the GCN-normalised convs the per-message rule must also reach the
      degrees, so message mode passes the mask through ``edge_weight`` exactly as weight mode.

    Any other aggregation (max, min, LSTM, multi-aggregation) or a conv whose messages may depend
    on other edges through an unknown normalisation raises :class:`UnsupportedConvError` naming
    the conv — it never silently leaks messages of masked edges. :func:`register_conv` declares
    the rule of a custom conv.

Common rules of the soft modes: self-loops that a conv adds itself (``add_self_loops=True`` in
GCN/GAT) are never masked (mask value 1); an input self-loop of such a conv is replaced by the
conv anyway, so its mask entry is ignored (set to 1), as in remove mode where the conv adds the
loop back. Gradients reach the mask in every soft mode; one exception is documented rather than
left as NaN: for a GCN-normalised conv without self-loops (``TAGConv``, ``LGConv``,
``GCNConv(add_self_loops=False)``), the in-edges of a node whose masked in-degree is exactly 0 are
dropped before ``gcn_norm`` (no output changes: they all carry weight 0), so their mask entries
get gradient 0 where PyG's ``deg^-1/2`` would give NaN (the true derivative is unbounded there).
Values outside ``[0, 1]`` raise — nothing is clipped; a trainable mask is projected explicitly
with :meth:`TrainableEdgeMask.clamp_`.

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

Example
-------
>>> import torch
>>> from torch_geometric.nn import GATConv
>>> from graphsparse.gnn.edge_masks import apply_edge_mask, edge_mask, tie_directions
>>> _ = torch.manual_seed(0)
>>> edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
>>> tied = tie_directions(edge_index)
>>> tied.num_pairs
3
>>> mask = tied.expand(torch.tensor([True, False, True]))   # drop the pair {1, 2}
>>> conv, x = GATConv(4, 3, heads=2), torch.randn(4, 4)
>>> with edge_mask(conv, mask, mode="message"):
...     soft = conv(x, edge_index)
>>> hard = conv(x, apply_edge_mask(edge_index, mask)[0])
>>> bool(torch.allclose(soft, hard, atol=1e-6))
True
"""

from __future__ import annotations

import inspect
import weakref
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric import EdgeIndex
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
from torch_geometric.utils import scatter

__all__ = [
    "EDGE_MASK_MODES",
    "EdgeMaskHooks",
    "TiedEdges",
    "TrainableEdgeMask",
    "UnsupportedConvError",
    "apply_edge_mask",
    "edge_mask",
    "message_rule",
    "register_conv",
    "tie_directions",
]

#: The edge-mask modes, see the module documentation.
EDGE_MASK_MODES = ("remove", "weight", "message")

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
# Keyword arguments of a conv's forward that are aligned with the edges (filtered in remove mode).
_EDGE_ARGS = ("edge_weight", "edge_attr", "edge_type")
# Convs that currently carry an attached edge mask (one at a time per conv).
_ACTIVE: weakref.WeakSet = weakref.WeakSet()


class UnsupportedConvError(ValueError):
    """A conv cannot apply an edge mask exactly in the requested mode."""


# --------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------

def _check_edge_index(edge_index, name: str = "edge_index") -> Tensor:
    if not isinstance(edge_index, Tensor) or edge_index.layout != torch.strided:
        raise TypeError(f"{name} must be a dense [2, E] integer tensor of edge ids (COO); got "
                        f"{type(edge_index).__name__}"
                        + ("" if not isinstance(edge_index, Tensor)
                           else f" with layout {edge_index.layout}")
                        + " — sparse adjacency inputs carry no edge ids")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"{name} must have shape [2, E], got {tuple(edge_index.shape)}")
    dtype = edge_index.dtype
    if dtype.is_floating_point or dtype.is_complex or dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor, got dtype {edge_index.dtype}")
    return edge_index


def _check_mask(mask, *, hard: bool, num_edges: int | None = None, name: str = "mask") -> Tensor:
    """Validate an edge mask; return it as bool (``hard``) or unchanged (soft)."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor over edge ids, got {type(mask).__name__}")
    if mask.dim() != 1:
        raise ValueError(f"{name} must be 1-D over edge ids (shape [E]), got shape "
                         f"{tuple(mask.shape)}")
    if num_edges is not None and mask.numel() != num_edges:
        raise ValueError(f"{name} has {mask.numel()} entries but edge_index has {num_edges} "
                         "edges")
    if mask.dtype == torch.bool:
        return mask
    if not mask.dtype.is_floating_point:
        raise TypeError(f"{name} must be torch.bool (hard) or floating (soft), got dtype "
                        f"{mask.dtype}; convert with `.bool()` or `.float()`")
    if mask.numel() == 0:
        return mask.bool() if hard else mask
    values = mask.detach()
    if hard:
        bad = (values != 0) & (values != 1)
        if bool(bad.any()):
            raise ValueError(f"{name} must hold only 0 and 1 for mode 'remove' (a hard mask); "
                             f"{int(bad.sum())} entries are fractional — threshold it "
                             "explicitly, e.g. `mask > 0.5`, or use a soft mode")
        return values.bool()
    if not bool(torch.isfinite(values).all()):
        raise ValueError(f"{name} has non-finite entries (NaN or inf)")
    low, high = torch.aminmax(values)
    if float(low) < 0 or float(high) > 1:
        outside = int(((values < 0) | (values > 1)).sum())
        raise ValueError(f"{name} values must lie in [0, 1] for soft masks; {outside} entries "
                         f"are outside (min {float(low):.6g}, max {float(high):.6g}); nothing "
                         "is clipped — project explicitly (e.g. TrainableEdgeMask.clamp_())")
    return mask


def _check_mode(mode) -> str:
    if mode not in EDGE_MASK_MODES:
        raise ValueError(f"mode must be one of {', '.join(repr(m) for m in EDGE_MASK_MODES)}; "
                         f"got {mode!r}")
    return mode


def _plain(edge_index: Tensor) -> Tensor:
    return edge_index.as_tensor() if isinstance(edge_index, EdgeIndex) else edge_index


# --------------------------------------------------------------------------------------------
# tied directions
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class TiedEdges:
    """The map from directed edges to the edge units a mask is kept over.

    Built by :func:`tie_directions`. Attributes:

    * ``edge_to_pair`` — ``LongTensor [E]``: the unit (pair) id of every directed edge;
    * ``pairs`` — ``LongTensor [2, U]``: one canonical edge per unit, sorted by
      ``(row, col)``; ``(min(u, v), max(u, v))`` when tied, ``(u, v)`` when ``directed``;
    * ``directed`` — whether directions were kept apart.
    """

    edge_to_pair: Tensor
    pairs: Tensor
    directed: bool

    @property
    def num_edges(self) -> int:
        """``E``, the number of directed edges."""
        return self.edge_to_pair.numel()

    @property
    def num_pairs(self) -> int:
        """``U``, the number of units (undirected edges when tied)."""
        return self.pairs.size(1)

    @property
    def is_loop(self) -> Tensor:
        """``BoolTensor [U]``: which units are self-loops."""
        return self.pairs[0] == self.pairs[1]

    def expand(self, pair_mask: Tensor) -> Tensor:
        """A mask over units (shape ``[U]``) as a mask over directed edges (shape ``[E]``).

        Works for bool and float masks; gradients flow back to ``pair_mask`` (summed over the
        directions of a pair).
        """
        if not isinstance(pair_mask, Tensor) or pair_mask.dim() != 1:
            raise ValueError("pair_mask must be a 1-D tensor over the tied edge units")
        if pair_mask.numel() != self.num_pairs:
            raise ValueError(f"pair_mask has {pair_mask.numel()} entries but there are "
                             f"{self.num_pairs} edge units (num_pairs)")
        return pair_mask[self.edge_to_pair.to(pair_mask.device)]

    def reduce(self, edge_mask: Tensor, how: str = "check") -> Tensor:
        """A mask over directed edges (shape ``[E]``) as a mask over units (shape ``[U]``).

        ``how="check"`` requires all directions of a unit to carry the same value and raises
        ``ValueError`` (with the number of asymmetric units) otherwise; ``"min"`` keeps a unit
        only as much as its least-kept direction (for bool: all directions kept), ``"max"`` as
        much as its most-kept one (for bool: any direction kept). The dtype is preserved.
        """
        if how not in ("check", "min", "max"):
            raise ValueError(f"how must be one of 'check', 'min', 'max'; got {how!r}")
        if not isinstance(edge_mask, Tensor) or edge_mask.dim() != 1:
            raise ValueError("edge_mask must be a 1-D tensor over directed edges")
        if edge_mask.numel() != self.num_edges:
            raise ValueError(f"edge_mask has {edge_mask.numel()} entries but edge_index has "
                             f"{self.num_edges} edges")
        values = edge_mask.to(torch.float64) if edge_mask.dtype == torch.bool else edge_mask
        index = self.edge_to_pair.to(edge_mask.device)
        empty = values.new_zeros(self.num_pairs)
        low = empty.scatter_reduce(0, index, values, "amin", include_self=False)
        high = empty.scatter_reduce(0, index, values, "amax", include_self=False)
        if how == "check":
            asym = low != high
            if bool(asym.any()):
                raise ValueError(f"edge_mask is not symmetric: {int(asym.sum())} of "
                                 f"{self.num_pairs} edge units have directions with different "
                                 "values; reduce with how='min' or how='max'")
        out = high if how == "max" else low
        return out.bool() if edge_mask.dtype == torch.bool else out

    def is_symmetric(self, edge_mask: Tensor) -> bool:
        """Whether every unit's directions carry the same mask value."""
        try:
            self.reduce(edge_mask, "check")
        except ValueError as err:
            if "not symmetric" in str(err):
                return False
            raise
        return True


def tie_directions(edge_index: Tensor, num_nodes: int | None = None, *,
                   directed: bool = False) -> TiedEdges:
    """Map every directed edge of ``edge_index`` to the id of its edge unit.

    Args:
        edge_index: ``[2, E]`` integer tensor.
        num_nodes: number of nodes (default ``edge_index.max() + 1``).
        directed: if False (default), ``(u, v)`` and ``(v, u)`` share the unit ``(min, max)``
            (an undirected edge); if True (directed datasets), every direction is its own unit.
            Parallel copies of the same edge always share a unit.

    Returns:
        :class:`TiedEdges` with ``edge_to_pair [E]`` and ``pairs [2, U]``. A pair present in one
        direction only is a unit with one edge; a self-loop is a unit of its own.

    Example:
        >>> ei = torch.tensor([[0, 1, 1, 2, 2], [1, 0, 2, 1, 2]])
        >>> t = tie_directions(ei)
        >>> t.edge_to_pair.tolist(), t.pairs.tolist()
        ([0, 0, 1, 1, 2], [[0, 1, 2], [1, 2, 2]])
        >>> t.reduce(t.expand(torch.tensor([True, False, True]))).tolist()
        [True, False, True]
    """
    edge_index = _plain(_check_edge_index(edge_index))
    n = int(edge_index.max()) + 1 if edge_index.numel() else 0
    if num_nodes is not None:
        if int(num_nodes) < n:
            raise ValueError(f"num_nodes={num_nodes} is smaller than edge_index.max() + 1 = {n}")
        n = int(num_nodes)
    row, col = edge_index[0].long(), edge_index[1].long()
    if not directed:
        row, col = torch.minimum(row, col), torch.maximum(row, col)
    key = row * max(n, 1) + col
    unique, inverse = torch.unique(key, sorted=True, return_inverse=True)
    pairs = torch.stack([unique // max(n, 1), unique % max(n, 1)])
    return TiedEdges(edge_to_pair=inverse, pairs=pairs, directed=bool(directed))


# --------------------------------------------------------------------------------------------
# remove mode
# --------------------------------------------------------------------------------------------

def apply_edge_mask(edge_index: Tensor, mask: Tensor,
                    edge_attr: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """Physically remove masked edges (mode ``"remove"``; PyG's ``dropout_edge`` convention).

    Args:
        edge_index: ``[2, E]`` integer tensor (a PyG ``EdgeIndex`` stays one).
        mask: ``[E]`` bool (True = kept), or floating holding only 0 and 1.
        edge_attr: optional tensor with ``E`` rows (``edge_attr [E, F]`` or ``edge_weight [E]``),
            filtered alike.

    Returns:
        ``(edge_index[:, mask], edge_attr[mask] or None)``.

    Example:
        >>> ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
        >>> kept, w = apply_edge_mask(ei, torch.tensor([True, True, False, False]),
        ...                           torch.tensor([1., 2., 3., 4.]))
        >>> kept.tolist(), w.tolist()
        ([[0, 1], [1, 0]], [1.0, 2.0])
    """
    edge_index = _check_edge_index(edge_index)
    keep = _check_mask(mask, hard=True, num_edges=edge_index.size(1))
    keep = keep.to(edge_index.device)
    if edge_attr is None:
        return edge_index[:, keep], None
    if not isinstance(edge_attr, Tensor) or edge_attr.dim() == 0 \
            or edge_attr.size(0) != edge_index.size(1):
        raise ValueError(f"edge_attr must be a tensor with {edge_index.size(1)} rows (one per "
                         f"edge), got {getattr(edge_attr, 'shape', type(edge_attr).__name__)}")
    return edge_index[:, keep], edge_attr[keep]


# --------------------------------------------------------------------------------------------
# trainable masks
# --------------------------------------------------------------------------------------------

class TrainableEdgeMask(nn.Module):
    """A trainable soft edge mask (UGS's ``m_g``), optionally tied across directions.

    Holds ``values`` (``nn.Parameter [n]``, initialised to ``init``) and a binary buffer ``kept``
    (``BoolTensor [n]``, all True at first), where ``n`` is ``num_edges``, or ``tied.num_pairs``
    when built over tied directions. Calling the module returns the soft mask over directed
    edges, ``(values * kept)[edge_to_pair]`` of shape ``[E]``, so pruned units stay exactly 0
    and get no gradient (UGS's ``mask_train * mask_fixed``). Pass the module itself to
    :func:`edge_mask`; it is re-evaluated at every conv call.

    Soft modes require values in ``[0, 1]``: after each optimiser step call :meth:`clamp_`
    (an explicit projection; nothing is clipped silently).

    Example (one UGS pruning step with the shared toolkit):
        >>> from graphsparse.masks import topk_masks
        >>> ei = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
        >>> m = TrainableEdgeMask(tied=tie_directions(ei))
        >>> m().shape
        torch.Size([6])
        >>> with torch.no_grad():
        ...     _ = m.values.copy_(torch.tensor([0.9, 0.2, 0.7]))
        >>> m.set_kept(topk_masks({"edges": m.values.detach().abs()}, 1 / 3,
        ...                       within={"edges": m.kept})["edges"])
        >>> m.kept_edges().tolist()
        [True, True, False, False, True, True]
    """

    def __init__(self, num_edges: int | None = None, *, tied: TiedEdges | None = None,
                 init: float = 1.0) -> None:
        super().__init__()
        if (num_edges is None) == (tied is None):
            raise ValueError("pass exactly one of num_edges (untied) or tied (a TiedEdges)")
        if tied is not None:
            if not isinstance(tied, TiedEdges):
                raise TypeError(f"tied must be a TiedEdges from tie_directions, got "
                                f"{type(tied).__name__}")
            n = tied.num_pairs
            self.register_buffer("edge_to_pair", tied.edge_to_pair.clone())
        else:
            if isinstance(num_edges, bool) or not isinstance(num_edges, int) or num_edges < 0:
                raise ValueError(f"num_edges must be a non-negative int, got {num_edges!r}")
            n = num_edges
            self.edge_to_pair = None
        init = float(init)
        if not 0.0 <= init <= 1.0:
            raise ValueError(f"init must be in [0, 1], got {init!r}")
        self.values = nn.Parameter(torch.full((n,), init))
        self.register_buffer("kept", torch.ones(n, dtype=torch.bool))

    @property
    def num_edges(self) -> int:
        """``E``, the length of the mask over directed edges."""
        return self.values.numel() if self.edge_to_pair is None else self.edge_to_pair.numel()

    def forward(self) -> Tensor:
        """The soft mask over directed edges, ``FloatTensor [E]``."""
        m = self.values * self.kept
        return m if self.edge_to_pair is None else m[self.edge_to_pair]

    def kept_edges(self) -> Tensor:
        """The binary mask over directed edges, ``BoolTensor [E]`` (for mode ``"remove"``)."""
        return self.kept if self.edge_to_pair is None else self.kept[self.edge_to_pair]

    def set_kept(self, kept: Tensor) -> None:
        """Replace the binary mask over units (``BoolTensor [n]``), e.g. after a pruning round."""
        if not isinstance(kept, Tensor) or kept.dtype != torch.bool \
                or tuple(kept.shape) != tuple(self.kept.shape):
            raise ValueError(f"kept must be a torch.bool tensor of shape {tuple(self.kept.shape)}"
                             f", got {getattr(kept, 'dtype', type(kept).__name__)} "
                             f"{tuple(getattr(kept, 'shape', ()))}")
        self.kept.copy_(kept)

    @torch.no_grad()
    def clamp_(self) -> TrainableEdgeMask:
        """Project ``values`` onto ``[0, 1]`` in place (call after each optimiser step)."""
        self.values.clamp_(0.0, 1.0)
        return self


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
            checked = _check_mask(value, hard=self.hard, num_edges=num_edges)
            self._checked = version
            if self.hard:
                return checked
        if value.dtype == torch.bool:
            value = value.to(torch.get_default_dtype())
        return value


# --------------------------------------------------------------------------------------------
# which rule applies to a conv
# --------------------------------------------------------------------------------------------

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
    if kind not in _CONV_KINDS:
        raise ValueError(f"kind must be one of {', '.join(repr(k) for k in _CONV_KINDS)}; "
                         f"got {kind!r}")
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


def _weight_capable(conv: MessagePassing) -> None:
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


# --------------------------------------------------------------------------------------------
# the shared hook mechanism
# --------------------------------------------------------------------------------------------

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
            _weight_capable(conv)
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
        edge_index = _check_edge_index(edge_index, f"edge_index of {self.name}")
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
        self.input_edge_index = _plain(edge_index)
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
        edge_index = _check_edge_index(edge_index, f"edge_index propagated by {self.name}")
        edge_index = _plain(edge_index)
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
        mode: ``"remove"``, ``"weight"`` or ``"message"`` (see the module documentation).

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
    _check_mode(mode)
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
