"""UGS's trainable soft edge mask (Chen et al., ICML 2021), optionally tied across directions."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from graphsparse.checks import check_float, check_int
from graphsparse.gnn.edges.tied import TiedEdges

__all__ = ["TrainableEdgeMask"]


class TrainableEdgeMask(nn.Module):
    """A trainable soft edge mask (UGS's ``m_g``), optionally tied across directions.

    Holds ``values`` (``nn.Parameter [n]``, initialised to ``init``) and a binary buffer ``kept``
    (``BoolTensor [n]``, all True at first), where ``n`` is ``num_edges``, or ``tied.num_pairs``
    when built over tied directions. Calling the module returns the soft mask over directed
    edges, ``(values * kept)[edge_to_pair]`` of shape ``[E]``, so pruned units stay exactly 0
    and get no gradient (UGS's ``mask_train * mask_fixed``). Pass the module itself to
    :func:`~graphsparse.gnn.edges.edge_mask`; it is re-evaluated at every conv call.

    Soft modes require values in ``[0, 1]``: after each optimiser step call :meth:`clamp_`
    (an explicit projection; nothing is clipped silently).

    Example (one UGS pruning step with the shared toolkit):
        >>> from graphsparse.gnn.edges import tie_directions
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
            n = check_int(num_edges, "num_edges", low=0)
            self.edge_to_pair = None
        init = check_float(init, "init", low=0.0, high=1.0)
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

    def gather(self, edge_ids: Tensor) -> Tensor:
        """The soft mask at directed edges ``edge_ids`` only, ``FloatTensor [len(edge_ids)]``:
        ``forward()[edge_ids]`` without building the whole ``[E]`` mask (a mini-batch's
        ``e_id``); gradient reaches ``values`` exactly at those edges' units."""
        units = edge_ids if self.edge_to_pair is None else self.edge_to_pair[edge_ids]
        return self.values[units] * self.kept[units]

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
