"""Node-feature layouts: bag-of-words features as ``torch.sparse_csr``, everything else as the
loader gives it, or a forced ``"dense"``/``"sparse"`` layout (see :mod:`graphsparse.gnn.data`,
"Node features")."""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from graphsparse.gnn.data.dataset import FeatureLayout

__all__ = ["FEATURE_LAYOUTS", "arrange_features", "layout_name", "row_normalize"]

#: The ``feature_layout`` values :func:`~graphsparse.gnn.data.load_dataset` accepts.
FEATURE_LAYOUTS = ("auto", "dense", "sparse")


def layout_name(x: Tensor | None) -> str:
    """``"none"``, ``"sparse_csr"`` or ``"dense"``: the layout of node features ``x``."""
    if x is None:
        return "none"
    return "sparse_csr" if x.layout == torch.sparse_csr else "dense"


def arrange_features(key: str, x: Tensor | None, feature_layout: FeatureLayout,
                     bag_of_words: bool) -> tuple[Tensor | None, str]:
    """Return ``x`` in the requested layout and the layout's name."""
    if x is None:
        if feature_layout == "sparse":
            raise ValueError(f"feature_layout='sparse' but {key!r} has no node features")
        return None, "none"
    want_sparse = feature_layout == "sparse" or (feature_layout == "auto" and bag_of_words)
    if feature_layout == "auto" and not bag_of_words:
        return x, layout_name(x)
    if want_sparse:
        if not x.is_floating_point():
            raise ValueError(
                f"feature_layout='sparse' needs float node features; {key!r} has {x.dtype}"
            )
        if x.layout != torch.sparse_csr:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*[Ss]parse CSR tensor support.*")
                x = x.to_sparse_csr()
        return x, "sparse_csr"
    return (x.to_dense() if x.layout != torch.strided else x), "dense"


def row_normalize(x: Tensor) -> Tensor:
    """Node features divided by their row sums (rows summing to 0 stay 0), dense or CSR.

    The preprocessing of Kipf & Welling's GCN code and of UGS's ``load_data``
    (``preprocess_features``, VITA-Group/Unified-LTH-GNN@4030b1b:NodeClassification/utils.py:74);
    PyG's ``NormalizeFeatures`` first subtracts the minimum, which equals this for the
    non-negative bag-of-words features it is meant for but keeps CSR features dense-free here.
    Features with a negative entry are refused (a row sum is then no normaliser).

    >>> row_normalize(torch.tensor([[1.0, 3.0], [0.0, 0.0]])).tolist()
    [[0.25, 0.75], [0.0, 0.0]]
    """
    if x.layout == torch.sparse_csr:
        values = x.values()
        if bool((values < 0).any()):
            raise ValueError("normalize_features needs non-negative node features")
        counts = x.crow_indices().diff()
        sums = torch.zeros(x.shape[0], dtype=values.dtype).index_add_(
            0, torch.repeat_interleave(torch.arange(x.shape[0]), counts), values)
        scale = torch.where(sums > 0, 1.0 / sums, torch.zeros_like(sums))
        return torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(),
                                       values * torch.repeat_interleave(scale, counts),
                                       size=x.shape, check_invariants=True)
    if bool((x < 0).any()):
        raise ValueError("normalize_features needs non-negative node features")
    sums = x.sum(dim=1, keepdim=True)
    return torch.where(sums > 0, x / sums.clamp(min=torch.finfo(x.dtype).tiny),
                       torch.zeros_like(x))
