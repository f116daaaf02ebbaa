"""Node-feature layouts: bag-of-words features as ``torch.sparse_csr``, everything else as the
loader gives it, or a forced ``"dense"``/``"sparse"`` layout (see :mod:`graphsparse.gnn.data`,
"Node features")."""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from graphsparse.gnn.data.dataset import FeatureLayout

__all__ = ["FEATURE_LAYOUTS", "arrange_features", "layout_name"]

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
