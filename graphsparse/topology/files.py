"""Read the layer masks of any saved network: graphsparse model or mask files, or plain state_dicts.

Rules (used by ``graphsparse stats``):

* a graphsparse ``masks`` file: every 2-D (Linear) or 4-D (Conv2d) mask is a layer, in file order;
* a graphsparse ``model`` file or a plain ``state_dict`` (``torch.save(model.state_dict())``):
  the layers are the 2-D and 4-D weight tensors in state_dict order; a parametrized
  original/mask pair (``fc.parametrizations.weight.original`` + ``fc.parametrizations.weight.0.mask``)
  is one layer whose edges are the mask; a plain pruned weight counts its non-zero entries as edges.
* the layers are read as a chain (each reads the previous one's output; a Linear after a Conv2d
  may read its flattened ``(C, H, W)`` map, see ``NetworkGraph.from_masks``). A state_dict does
  not record how layers connect: a residual or branched model (a projection shortcut, a grouped
  convolution) breaks the chain and :func:`graph_from_file` fails naming the layer; build the
  model and use ``NetworkGraph.from_model`` for those.

Everything is loaded with ``torch.load(weights_only=True)``: no pickled code is ever run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from graphsparse.masks import load_masks, load_model
from graphsparse.topology.graph import NetworkGraph

__all__ = ["layer_masks_from_file", "layer_masks_from_state_dict", "graph_from_file"]

LAYER_DIMS = (2, 4)  # Linear (out, in) and Conv2d (c_out, c_in, k_h, k_w) weights

_PARAM = re.compile(r"^(?P<prefix>.*?)(?:\.)?parametrizations\.(?P<t>[^.]+)\.(?P<rest>original|\d+\.mask)$")


def layer_masks_from_state_dict(state: dict) -> dict[str, torch.Tensor]:
    """``{layer name: 2-D or 4-D bool mask}`` from a state_dict, in state_dict order (see module doc).

    >>> sd = {"fc1.weight": torch.tensor([[1., 0.], [0., 2.]]), "fc1.bias": torch.zeros(2)}
    >>> layer_masks_from_state_dict(sd)["fc1.weight"].tolist()
    [[True, False], [False, True]]
    """
    layers: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            continue
        m = _PARAM.match(key)
        if m:
            name = f"{m.group('prefix')}.{m.group('t')}" if m.group("prefix") else m.group("t")
            if m.group("rest") == "original":
                if value.dim() in LAYER_DIMS and name not in layers:
                    layers[name] = value != 0
            elif value.dim() in LAYER_DIMS:
                layers[name] = value.bool()          # the mask overrides the raw weight
            continue
        if key.rpartition(".")[2] == "weight" and value.dim() in LAYER_DIMS:
            layers[key] = value != 0
    return layers


def layer_masks_from_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """``{layer name: 2-D or 4-D bool mask}`` of a saved network (graphsparse masks/model file or a
    plain state_dict). Raises ``ValueError`` naming the file when it holds no Linear or Conv2d
    layer or is not one of those formats."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{str(path)!r} is not a model, state_dict or mask file readable with "
                         f"torch.load(weights_only=True): {type(e).__name__}: {e}") from e
    if isinstance(obj, dict) and isinstance(obj.get("format"), str):
        kind = obj["format"].split("/")[1] if obj["format"].count("/") == 2 else None
        if kind == "masks":
            masks, _ = load_masks(path)
            layers = {n: m for n, m in masks.items() if m.dim() in LAYER_DIMS}
        elif kind == "model":
            _, state, _ = load_model(path)
            layers = layer_masks_from_state_dict(state)
        else:
            raise ValueError(f"{str(path)!r} is a graphsparse {kind!r} file; stats reads model "
                             "and masks files")
    elif isinstance(obj, dict) and all(isinstance(k, str) for k in obj):
        layers = layer_masks_from_state_dict(obj)
    else:
        raise ValueError(f"{str(path)!r} holds a {type(obj).__name__}, not a model, state_dict "
                         "or mask file")
    if not layers:
        raise ValueError(f"{str(path)!r} has no 2-D or 4-D weight tensors (no Linear or Conv2d "
                         "layers to read)")
    return layers


def graph_from_file(path: str | os.PathLike, *, view: str = "channel") -> NetworkGraph:
    """The :class:`~graphsparse.topology.NetworkGraph` of a saved network's layers read as a chain
    (module doc); ``view`` as in ``NetworkGraph.from_masks``. Raises ``ValueError`` naming the
    file and the layer that does not read its predecessor's output.

    Example::

        >>> import tempfile
        >>> sd = {"conv.weight": torch.ones(4, 1, 3, 3), "fc.weight": torch.ones(2, 4 * 5 * 5)}
        >>> with tempfile.TemporaryDirectory() as d:
        ...     torch.save(sd, f"{d}/cnn.pt")
        ...     graph_from_file(f"{d}/cnn.pt", view="kernel")
        NetworkGraph(sizes=(1, 4, 2), blocks=2, skip_blocks=0, edges=236, view='kernel')
    """
    layers = layer_masks_from_file(path)
    try:
        return NetworkGraph.from_masks(layers, view=view)
    except ValueError as e:
        raise ValueError(f"{str(path)!r}: {e}. A saved state_dict does not record how its layers "
                         "connect, so they are read as a chain; for a residual or branched model "
                         "build the model and use NetworkGraph.from_model") from e
