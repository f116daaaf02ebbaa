"""The model factory: :func:`default_config`, :func:`build_model` and :func:`model_from_config`
(one JSON-serialisable config per architecture), and :func:`save_gnn`/:func:`load_gnn` (config +
state_dict in graphsparse's safe file format). See :mod:`graphsparse.gnn.models`."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch_geometric.nn import GCNConv

from graphsparse.checks import check_bool, check_choice, check_fraction, check_int, check_known
from graphsparse.gnn.models.backbones import BACKBONES, EDGE_FEATURE_MODELS, GNN
from graphsparse.gnn.models.convs import OutDegreeGCNConv
from graphsparse.gnn.models.heads import GraphModel, LinkModel
from graphsparse.masks import load_masked, load_model, save_model

__all__ = [
    "MODEL_NAMES",
    "TASKS",
    "build_model",
    "default_config",
    "load_gnn",
    "model_from_config",
    "save_gnn",
]

#: Names accepted by :func:`build_model`.
MODEL_NAMES = ("gcn", "gin", "gat", "sage")
#: Tasks accepted by :func:`build_model`.
TASKS = ("node", "link", "graph")
_LINK_DECODERS = ("mlp", "dot")
#: ``weight_init`` values: each layer's PyG default, or nn.Linear's default for every linear map.
WEIGHT_INITS = ("pyg", "torch")
#: ``gcn_degree`` values: PyG's in-degree GCN normalisation, or out-degrees (UGS's dense code).
GCN_DEGREES = ("in", "out")
_GRAPH_ENCODERS = ("atom", "linear")

_COMMON_DEFAULTS: dict[str, Any] = {
    "hidden": 512, "num_layers": 2, "dropout": 0.5, "input_dropout": 0.0, "bias": False,
}
_MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "gcn": {},
    "gin": {"mlp_layers": 2, "train_eps": True},
    "gat": {"heads": 8, "out_heads": 1, "attn_dropout": 0.6, "dropout": 0.6,
            "input_dropout": 0.6},
    "sage": {},
}
_TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "node": {},
    "link": {"bias": True, "decoder": "mlp", "decoder_layers": 3, "num_nodes": None},
    "graph": {"bias": True, "encoder": "atom", "edge_features": None},
}


def default_config(name: str, task: str = "node") -> dict[str, Any]:
    """The default options of model ``name`` for ``task`` (what :func:`build_model` fills in).

    Example:
        >>> cfg = default_config("gat")
        >>> cfg["hidden"], cfg["heads"], cfg["dropout"], cfg["bias"]
        (512, 8, 0.6, False)
    """
    name = check_choice(name, "name", MODEL_NAMES)
    task = check_choice(task, "task", TASKS)
    return {**_COMMON_DEFAULTS, **_MODEL_DEFAULTS[name], **_TASK_DEFAULTS[task]}


def build_model(name: str, in_dim: int, out_dim: int, *, task: str = "node",
                **cfg: Any) -> nn.Module:
    """Build a backbone (``task="node"``) or a task wrapper around one.

    Args:
        name: ``"gcn"``, ``"gin"``, ``"gat"`` or ``"sage"`` (case-insensitive).
        in_dim: node feature columns (int >= 0; 0 only for a featureless link task). For
            ``task="graph"`` with ``encoder="atom"``: OGB's 9 atom-feature columns.
        out_dim: output width: classes (node), 1 (link), tasks (graph) — ``num_classes`` of a
            :class:`~graphsparse.gnn.data.LoadedDataset`.
        task: ``"node"``, ``"link"`` or ``"graph"``.
        **cfg: options overriding :func:`default_config` — ``hidden`` (int >= 1, total width;
            for GAT divisible by ``heads``), ``num_layers`` (int >= 1), ``dropout``,
            ``input_dropout`` (floats in [0, 1)), ``bias``; GIN: ``mlp_layers``, ``train_eps``;
            GAT: ``heads``, ``out_heads``, ``attn_dropout``; link: ``decoder`` (``"mlp"``,
            ``"dot"``), ``decoder_layers``, ``num_nodes`` (required iff ``in_dim == 0``);
            graph: ``encoder`` (``"atom"``, ``"linear"``), ``edge_features`` (None = use bond
            features where the conv can: GIN, GAT with the atom encoder). Every model:
            ``weight_init`` — ``"pyg"`` (default: each layer's PyG initialisation, glorot for
            GCN) or ``"torch"`` (every linear map's weight and bias drawn as ``nn.Linear``'s
            default, kaiming-uniform with ``a = √5`` and ``U(±1/√fan_in)``, as the UGS
            reference GCN's ``nn.Linear`` layers); recorded in ``config`` only when not
            ``"pyg"``, so configs written before the option still describe their models.
            GCN: ``gcn_degree`` — ``"in"`` (default, PyG's ``gcn_norm``) or ``"out"``
            (:class:`~graphsparse.gnn.models.convs.OutDegreeGCNConv`, UGS's dense operator;
            differs only for asymmetric edge weights); recorded only when ``"out"``.

    Returns:
        A :class:`GNN` (node), :class:`LinkModel` or :class:`GraphModel` whose ``config``
        attribute is a JSON-serialisable dict with every option, from which
        :func:`model_from_config` builds the same architecture.

    Raises:
        ValueError: unknown name, task or option (the message lists the valid ones), or an
            invalid value (the message names the option and the allowed values).

    Example:
        >>> m = build_model("gcn", 1433, 7)
        >>> [tuple(c.lin.weight.shape) for c in m.convs]
        [(512, 1433), (7, 512)]
        >>> build_model("mlp", 4, 2)
        Traceback (most recent call last):
        ...
        ValueError: unknown model 'mlp'; valid models: 'gcn', 'gin', 'gat', 'sage'
    """
    name = _model_name(name)
    check_known(task, "task", TASKS)
    weight_init = check_choice(cfg.pop("weight_init", "pyg"), "weight_init", WEIGHT_INITS)
    gcn_degree = check_choice(cfg.pop("gcn_degree", "in"), "gcn_degree", GCN_DEGREES)
    if gcn_degree != "in" and name != "gcn":
        raise ValueError(f"gcn_degree={gcn_degree!r} applies to GCN only, not {name!r}")
    defaults = default_config(name, task)
    unknown = sorted(set(cfg) - set(defaults))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(map(repr, unknown))} for model {name!r} "
                         f"and task {task!r}; valid options: {', '.join(sorted(defaults))}")
    c = {**defaults, **cfg}
    in_dim = check_int(in_dim, "in_dim", low=0)
    out_dim = check_int(out_dim, "out_dim", low=1)
    common, extra = _backbone_options(name, c)
    backbone_cls = BACKBONES[name]
    config: dict[str, Any] = {"model": name, "task": task, "in_dim": in_dim, "out_dim": out_dim,
                              **common, **extra}
    if task == "node":
        if in_dim == 0:
            raise ValueError("in_dim must be >= 1 for node classification (the nodes need "
                             "features)")
        model: nn.Module = backbone_cls(in_dim, out_dim, **common, **extra)
    elif task == "link":
        model = _link_model(backbone_cls, in_dim, out_dim, common, extra, c, config)
    else:
        model = _graph_model(name, backbone_cls, in_dim, out_dim, common, extra, c, config)
    if weight_init != "pyg":
        torch_linear_init(model)
        config["weight_init"] = weight_init
    if gcn_degree == "out":
        _use_out_degrees(model)
        config["gcn_degree"] = gcn_degree
    model.config = config
    return model


def _use_out_degrees(model: nn.Module) -> None:
    """Swap every ``GCNConv`` of ``model`` for an :class:`OutDegreeGCNConv` with the same
    parameters, in place, without drawing from the global generator."""
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if type(child) is GCNConv:
                with torch.random.fork_rng(devices=[]):
                    swapped = OutDegreeGCNConv(child.in_channels, child.out_channels,
                                               bias=child.bias is not None)
                swapped.load_state_dict(child.state_dict())
                setattr(parent, child_name, swapped)


def torch_linear_init(model: nn.Module) -> None:
    """Re-draw every linear map of ``model`` (``nn.Linear`` and PyG's ``Linear``) as
    ``nn.Linear.reset_parameters`` does: weight kaiming-uniform with ``a = √5``, bias
    ``U(-1/√fan_in, 1/√fan_in)``, in module order from torch's global generator."""
    from torch_geometric.nn.dense.linear import Linear as PyGLinear

    for module in model.modules():
        if isinstance(module, (nn.Linear, PyGLinear)) and module.weight.dim() == 2 \
                and not module.weight.is_meta:
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            if module.bias is not None:
                bound = 1 / math.sqrt(module.weight.size(1)) if module.weight.size(1) else 0
                nn.init.uniform_(module.bias, -bound, bound)


def _model_name(name: Any) -> str:
    """``name`` lower-cased if it names a model (case-insensitive); raises otherwise."""
    if isinstance(name, str) and name.lower() in MODEL_NAMES:
        return name.lower()
    return check_known(name, "model", MODEL_NAMES)  # raises: not a model name


def _backbone_options(name: str, c: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The checked options every backbone takes and those of model ``name`` only."""
    common = {
        "hidden": check_int(c["hidden"], "hidden", low=1),
        "num_layers": check_int(c["num_layers"], "num_layers", low=1),
        "dropout": check_fraction(c["dropout"], "dropout"),
        "input_dropout": check_fraction(c["input_dropout"], "input_dropout"),
        "bias": check_bool(c["bias"], "bias"),
    }
    extra: dict[str, Any] = {}
    if name == "gin":
        extra = {"mlp_layers": check_int(c["mlp_layers"], "mlp_layers", low=1),
                 "train_eps": check_bool(c["train_eps"], "train_eps")}
    elif name == "gat":
        extra = {"heads": check_int(c["heads"], "heads", low=1),
                 "out_heads": check_int(c["out_heads"], "out_heads", low=1),
                 "attn_dropout": check_fraction(c["attn_dropout"], "attn_dropout")}
    return common, extra


def _link_model(backbone_cls: type[GNN], in_dim: int, out_dim: int, common: dict[str, Any],
                extra: dict[str, Any], c: dict[str, Any], config: dict[str, Any]) -> LinkModel:
    """The :class:`LinkModel` of :func:`build_model`; adds its options to ``config``."""
    if out_dim != 1:
        raise ValueError(f"out_dim must be 1 for link prediction (one score per pair), "
                         f"got {out_dim}")
    decoder = check_choice(c["decoder"], "decoder", _LINK_DECODERS)
    decoder_layers = check_int(c["decoder_layers"], "decoder_layers", low=1)
    num_nodes = c["num_nodes"]
    if in_dim == 0:
        if num_nodes is None:
            raise ValueError("num_nodes is required when in_dim=0 (a featureless graph such "
                             "as ogbl-ddi learns one embedding per node)")
        num_nodes = check_int(num_nodes, "num_nodes", low=1)
    elif num_nodes is not None:
        raise ValueError("num_nodes is only for featureless graphs (in_dim=0); the nodes "
                         f"here have {in_dim} features")
    hidden = common["hidden"]
    encoder = backbone_cls(in_dim or hidden, hidden, **common, **extra)
    model = LinkModel(encoder, decoder=decoder, decoder_layers=decoder_layers,
                      dropout=common["dropout"], bias=common["bias"], num_nodes=num_nodes)
    config.update(decoder=decoder, decoder_layers=decoder_layers, num_nodes=num_nodes)
    return model


def _graph_model(name: str, backbone_cls: type[GNN], in_dim: int, out_dim: int,
                 common: dict[str, Any], extra: dict[str, Any], c: dict[str, Any],
                 config: dict[str, Any]) -> GraphModel:
    """The :class:`GraphModel` of :func:`build_model`; adds its options to ``config``."""
    encoder_kind = check_choice(c["encoder"], "encoder", _GRAPH_ENCODERS)
    edge_features = c["edge_features"]
    supported = name in EDGE_FEATURE_MODELS and encoder_kind == "atom"
    if edge_features is None:
        edge_features = supported
    elif check_bool(edge_features, "edge_features") and not supported:
        raise ValueError(
            f"edge_features=True needs a conv that takes edge features "
            f"({', '.join(map(repr, EDGE_FEATURE_MODELS))}) and encoder='atom' (OGB bond "
            f"features); got model {name!r} with encoder {encoder_kind!r}")
    hidden = common["hidden"]
    node_encoder, edge_encoder = _graph_encoders(encoder_kind, in_dim, hidden, edge_features,
                                                 common["bias"])
    backbone = backbone_cls(hidden, hidden, **common, **extra,
                            edge_dim=hidden if edge_features else None)
    model = GraphModel(backbone, node_encoder=node_encoder, edge_encoder=edge_encoder,
                       out_dim=out_dim, bias=common["bias"])
    config.update(encoder=encoder_kind, edge_features=edge_features)
    return model


def _graph_encoders(encoder_kind: str, in_dim: int, hidden: int, edge_features: bool,
                    bias: bool) -> tuple[nn.Module, nn.Module | None]:
    """(node encoder, bond encoder or None) of a :class:`GraphModel`."""
    if encoder_kind == "atom":
        from ogb.graphproppred.mol_encoder import AtomEncoder, BondEncoder
        from ogb.utils.features import get_atom_feature_dims

        atom_columns = len(get_atom_feature_dims())
        if in_dim != atom_columns:
            raise ValueError(f"encoder='atom' needs OGB's {atom_columns} atom-feature "
                             f"columns, got in_dim={in_dim}; use encoder='linear' for "
                             "float node features")
        return AtomEncoder(hidden), (BondEncoder(hidden) if edge_features else None)
    if in_dim == 0:
        raise ValueError("in_dim must be >= 1 for encoder='linear'")
    return nn.Linear(in_dim, hidden, bias=bias), None


def model_from_config(config: Mapping[str, Any]) -> nn.Module:
    """Rebuild the architecture described by a model's ``config`` (fresh initial weights).

    Example:
        >>> m = build_model("sage", 16, 3, hidden=32)
        >>> type(model_from_config(m.config)).__name__
        'GraphSAGE'
    """
    if not isinstance(config, Mapping) or not {"model", "in_dim", "out_dim"} <= set(config):
        raise ValueError("config must be a dict with at least 'model', 'in_dim' and 'out_dim' "
                         "(the config attribute of a model from build_model)")
    rest = {k: v for k, v in config.items() if k not in ("model", "in_dim", "out_dim", "task")}
    return build_model(config["model"], config["in_dim"], config["out_dim"],
                       task=config.get("task", "node"), **rest)


def save_gnn(path: str | os.PathLike, model: nn.Module, **meta: Any) -> Path:
    """Save a model from :func:`build_model` as config + state_dict (safe graphsparse format).

    Attached weight masks are saved with the weights; ``meta`` (str/int/float/bool/None and
    lists/dicts of them) is stored alongside. Returns the path.

    Example:
        >>> import os, tempfile
        >>> m = build_model("gcn", 8, 2, hidden=4)
        >>> p = save_gnn(os.path.join(tempfile.mkdtemp(), "m.pt"), m, seed=0)
        >>> bool(torch.equal(load_gnn(p).convs[0].lin.weight, m.convs[0].lin.weight))
        True
    """
    config = getattr(model, "config", None)
    if not isinstance(config, dict) or "model" not in config:
        raise ValueError("model has no config from build_model; save a plain model with "
                         "graphsparse.masks.save_model(path, model, config)")
    return save_model(path, model, config, **meta)


def load_gnn(path: str | os.PathLike) -> nn.Module:
    """Load a model written by :func:`save_gnn`: rebuild it from its config, restore its
    weights and any weight masks (``graphsparse.masks.load_masked``)."""
    config, state_dict, _ = load_model(path)
    model = model_from_config(config)
    return load_masked(model, state_dict)
