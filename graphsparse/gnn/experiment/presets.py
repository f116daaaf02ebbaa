"""Paper presets for sweeps: ``glt run --preset ugs-paper|teddy-paper|FILE``.

A preset is a flat dict of settings — the training ones (``hidden``, ``num_layers``,
``epochs``, ``lr``, ``weight_decay``, ``dropout``, ``bias``, ``p_graph``, ``p_weight``,
``weight_scope``), the data one (``normalize_features``) and method options as ``"METHOD.OPTION"`` (e.g. ``"ugs.s1"``) — chosen per
``(model, dataset)`` where a paper's scripts differ. :func:`apply_preset` turns one into
:func:`~graphsparse.gnn.experiment.sweep.run_sweep` arguments; settings given explicitly win,
and the preset's name lands in ``config.json`` beside the resolved values. A preset file is a
JSON object with the same keys (``glt tune`` writes one). Sources of every value:
:data:`SOURCES` and docs/gnn.md (its table is :func:`preset_table`).

>>> apply_preset("teddy-paper", dataset="cora", model="gcn", methods=["teddy"])["method_options"]
{'teddy': {'lamb': 10.0}}
>>> apply_preset("ugs-paper", dataset="cora", model="gcn", methods=["ugs"], lr=0.02)["lr"]
0.02
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["PRESETS", "SOURCES", "TRAINING_KEYS", "apply_preset", "preset_table",
           "preset_values"]

#: Settings a preset may hold besides ``"METHOD.OPTION"`` keys.
TRAINING_KEYS = ("hidden", "num_layers", "epochs", "lr", "weight_decay", "dropout", "bias",
                 "weight_init", "gcn_degree", "p_graph", "p_weight", "weight_scope",
                 "normalize_features")
_MODEL_KEYS = ("dropout", "bias", "weight_init", "gcn_degree")
#: Settings of :func:`~graphsparse.gnn.data.load_dataset` (``run_sweep(dataset_options=...)``).
DATASET_KEYS = ("normalize_features",)

_UGS_COMMON = {"hidden": 512, "num_layers": 2, "epochs": 200, "bias": False, "p_graph": 0.05,
               "p_weight": 0.2, "weight_scope": "linear", "normalize_features": True,
               "ugs.retrain_epochs": 200}
_UGS_TRAIN = {"cora": {"lr": 0.008, "weight_decay": 8e-5},
              "citeseer": {"lr": 0.01, "weight_decay": 5e-4},
              "pubmed": {"lr": 0.01, "weight_decay": 5e-4}}
_UGS_L1 = {("gcn", "cora"): (1e-2, 1e-2), ("gcn", "citeseer"): (1e-2, 1e-2),
           ("gcn", "pubmed"): (1e-6, 1e-3), ("gin", "cora"): (1e-3, 1e-3),
           ("gin", "citeseer"): (1e-5, 1e-5), ("gin", "pubmed"): (1e-5, 1e-5),
           ("gat", "cora"): (1e-3, 1e-3), ("gat", "citeseer"): (1e-7, 1e-3),
           ("gat", "pubmed"): (1e-2, 1e-2)}
_UGS_DROPOUT = {"gcn": 0.5, "gin": 0.5, "gat": 0.6}

#: Preset name -> ``{(model, dataset): settings}``; ``("*", "*")`` applies to every pair.
PRESETS: dict[str, dict[tuple[str, str], dict[str, Any]]] = {
    "ugs-paper": {(model, dataset): {**_UGS_COMMON, **_UGS_TRAIN[dataset],
                                     "dropout": _UGS_DROPOUT[model], "ugs.s1": s1, "ugs.s2": s2}
                  for (model, dataset), (s1, s2) in _UGS_L1.items()},
    "teddy-paper": {("*", "*"): {"hidden": 512, "num_layers": 2, "epochs": 200, "lr": 0.01,
                                 "weight_decay": 5e-4, "dropout": 0.5, "bias": False,
                                 "p_graph": 0.05, "p_weight": 0.1, "weight_scope": "all",
                                 "normalize_features": True, "teddy.lamb": 10.0}},
}

_U = "VITA-Group/Unified-LTH-GNN@"
_UGS_README = _U + "4030b1b:NodeClassification/README.md:20,22,24 (GCN), 59-63 (GIN), 72-76 (GAT)"
_T = "hyunjin72/TEDDY@126a08e:main_teddy.py"
#: Preset name -> setting -> where the paper's code or README sets it.
SOURCES: dict[str, dict[str, str]] = {
    "ugs-paper": {
        "hidden": _UGS_README + " `--embedding-dim 1433 512 7`",
        "num_layers": _U + "a508b0a:NodeClassification/net.py:12 (len(embedding_dim) - 1)",
        "epochs": _UGS_README + " `--total_epoch 200` (mask search)",
        "lr": _UGS_README + " `--lr 0.008` (Cora) / `0.01`",
        "weight_decay": _UGS_README + " `--weight-decay 8e-5` (Cora) / `5e-4`",
        "dropout": _U + "a508b0a:NodeClassification/net.py:15 `nn.Dropout(p=0.5)`; GAT "
                   "gnns/gat_net.py:26 (0.6)",
        "bias": _U + "a508b0a:NodeClassification/net.py:13 `bias=False`",
        "p_graph": _UGS_README + " `--pruning_percent_adj 0.05`",
        "p_weight": _UGS_README + " `--pruning_percent_wei 0.2`",
        "weight_scope": "UGS masks the linear weights only (NodeClassification/pruning.py)",
        "normalize_features": _U + "4030b1b:NodeClassification/utils.py:74 "
                              "`preprocess_features` (row normalisation)",
        "ugs.retrain_epochs": _U + "7f30d47:NodeClassification/main_pruning_imp.py:47 "
                              "`range(200)` (fix-mask run)",
        "ugs.s1": _UGS_README + " `--s1`",
        "ugs.s2": _UGS_README + " `--s2`",
    },
    "teddy-paper": {
        "hidden": _T + ":190 `--embedding_dim` default 512",
        "num_layers": _T + ":191 `--n_layers` default 2",
        "epochs": _T + ":196 `--total_epoch` default 200",
        "lr": _T + ":194 `--lr` default 0.01",
        "weight_decay": _T + ":195 `--weight_decay` default 5e-4",
        "dropout": _T + ":193 `--dropout` default 0.5",
        "bias": "hyunjin72/TEDDY@126a08e:net_teddy.py:108,112 `GCNConv(..., bias=False)`",
        "p_graph": "hyunjin72/TEDDY README.md:38 `--pruning_percent_adj 0.05` (code default 0.1)",
        "p_weight": "hyunjin72/TEDDY README.md:38 `--pruning_percent_wei 0.1`",
        "weight_scope": _T + ":128 the L0 projection counts every parameter",
        "normalize_features": _T + ":11 `from utils import load_data`; utils.py:103 "
                              "`preprocess_features` (row normalisation)",
        "teddy.lamb": "hyunjin72/TEDDY README.md:38 `--distill_reg --lamb 10` (code default "
                      "0.1 at main_teddy.py:207, distillation off unless `--distill_reg`)",
    },
}


def _read_file(path: str | os.PathLike) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"preset must be one of {sorted(PRESETS)} or a JSON file; "
                         f"{str(path)!r} is neither")
    try:
        values = json.loads(file.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"preset file {str(path)!r} is not valid JSON ({e})") from None
    if not isinstance(values, dict):
        raise ValueError(f"preset file {str(path)!r} must hold a JSON object of settings")
    return values


def preset_values(preset: str | os.PathLike, *, dataset: str, model: str) -> dict[str, Any]:
    """The flat settings of ``preset`` (a name of :data:`PRESETS` or a JSON file) for
    ``model`` on ``dataset``; ``ValueError`` for an unknown name, a pair the paper did not
    run, or an unknown key."""
    if str(preset) in PRESETS:
        table = PRESETS[str(preset)]
        key = (model.lower(), dataset.lower())
        values = table.get(key, table.get(("*", "*")))
        if values is None:
            pairs = ", ".join(f"{m}/{d}" for m, d in sorted(table))
            raise ValueError(f"preset {preset!r} has no values for model {model!r} on dataset "
                             f"{dataset!r}; it covers {pairs}")
    else:
        values = _read_file(preset)
    for key in values:
        method, dot, option = key.partition(".")
        if key not in TRAINING_KEYS and not (dot and method and option):
            raise ValueError(f"preset {str(preset)!r}: unknown setting {key!r}; settings: "
                             f"{list(TRAINING_KEYS)} and 'METHOD.OPTION'")
    return dict(values)


def apply_preset(preset: str | os.PathLike | None, *, dataset: str, model: str,
                 methods: list[str], **explicit: Any) -> dict[str, Any]:
    """``run_sweep`` keyword arguments: ``preset``'s settings for ``model``/``dataset`` under
    the ``explicit`` ones (which win, ``model_options`` and ``method_options`` key by key),
    plus ``preset`` (its name, recorded in ``config.json``). Method options of methods not
    in ``methods`` are left out, and the grid rates when direct targets are given."""
    values = {} if preset is None else preset_values(preset, dataset=dataset, model=model)
    if explicit.get("graph_sparsity") is not None or explicit.get("weight_sparsity") is not None:
        values = {k: v for k, v in values.items() if k not in ("p_graph", "p_weight")}
    kwargs: dict[str, Any] = {"model_options": {}, "method_options": {}, "dataset_options": {}}
    for key, value in values.items():
        method, _, option = key.partition(".")
        if key in _MODEL_KEYS:
            kwargs["model_options"][key] = value
        elif key in DATASET_KEYS:
            kwargs["dataset_options"][key] = value
        elif key in TRAINING_KEYS:
            kwargs[key] = value
        elif method in methods:
            kwargs["method_options"].setdefault(method, {})[option] = value
    model_options = {**kwargs.pop("model_options"), **(explicit.pop("model_options", None) or {})}
    dataset_options = {**kwargs.pop("dataset_options"),
                       **(explicit.pop("dataset_options", None) or {})}
    method_options = kwargs.pop("method_options")
    for method, options in (explicit.pop("method_options", None) or {}).items():
        method_options[method] = {**method_options.get(method, {}), **options}
    return {**kwargs, **explicit, "dataset": dataset, "model": model, "methods": methods,
            "model_options": model_options, "method_options": method_options,
            "dataset_options": dataset_options,
            "preset": None if preset is None else str(preset)}


def preset_table(name: str) -> list[str]:
    """The markdown table of preset ``name``: one row per setting, one column per
    (model, dataset) pair, and the source of each value."""
    table = PRESETS[name]
    pairs = sorted(table)
    keys = [k for k in SOURCES[name]]
    header = " | ".join("all" if pair == ("*", "*") else f"{pair[0]} {pair[1]}" for pair in pairs)
    lines = [f"| setting | {header} | source |", "|---|" + "---:|" * len(pairs) + "---|"]
    for key in keys:
        cells = " | ".join(json.dumps(table[pair][key]) for pair in pairs)
        lines.append(f"| `{key}` | {cells} | {SOURCES[name][key]} |")
    return lines
