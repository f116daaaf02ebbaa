"""Hyperparameter search on validation only: :func:`tune` (``graphsparse glt tune``).

Optuna's TPE sampler (seeded) searches a method's settings (:data:`SEARCH_SPACES`) for one
level of the geometric grid, one seed per trial; each trial's value is the ticket's
best-validation metric, and every epoch's validation metric is reported so that Optuna's
median pruner stops hopeless trials. Test metrics are never read: the trials depend on the
training and validation nodes only (a test changes every test label and gets the same study).
The study lives in ``out_dir/study.db`` (SQLite), so a killed search resumes with the trials it
has; ``out_dir/preset.json`` — written atomically after every finished trial — holds the best
settings as a preset file for ``glt run --preset FILE``
(:mod:`~graphsparse.gnn.experiment.presets`).

Bergstra et al., "Algorithms for Hyper-Parameter Optimization" (NeurIPS 2011) for TPE; Akiba
et al., "Optuna" (KDD 2019).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from graphsparse.checks import check_float, check_int, check_known
from graphsparse.fileio import atomic_write, exclusive_lock
from graphsparse.gnn.data import load_dataset
from graphsparse.gnn.experiment.presets import preset_values
from graphsparse.gnn.experiment.targets import Targets
from graphsparse.gnn.methods import METHODS, get_method
from graphsparse.gnn.models import build_model

__all__ = ["SEARCH_SPACES", "tune"]

_TRAINING = {"lr": ("log", 1e-3, 5e-2), "weight_decay": ("log", 1e-6, 1e-2),
             "dropout": ("float", 0.0, 0.8)}
#: Method -> ``{setting: (kind, low, high)}``; settings as preset keys ("METHOD.OPTION").
SEARCH_SPACES: dict[str, dict[str, tuple[str, float, float]]] = {
    **{name: dict(_TRAINING) for name in METHODS},
    "teddy": {**_TRAINING, "teddy.lamb": ("log", 1e-2, 1e2)},
    "ugs": {**_TRAINING, "ugs.s1": ("log", 1e-6, 1e-1), "ugs.s2": ("log", 1e-6, 1e-1)},
    "fastglt": {**_TRAINING, "fastglt.regrow_fraction": ("float", 0.05, 0.6),
                "fastglt.edge_l1": ("log", 1e-6, 1e-2)},
    "adaglt": {**_TRAINING, "adaglt.edge_reg": ("log", 1e-6, 1e-2),
               "adaglt.weight_reg": ("log", 1e-5, 1e-1)},
}
STUDY_FILE, PRESET_FILE, TUNE_CONFIG = "study.db", "preset.json", "tune.json"


def _suggest(trial: Any, space: dict[str, tuple[str, float, float]]) -> dict[str, Any]:
    return {key: trial.suggest_float(key, low, high, log=kind == "log")
            for key, (kind, low, high) in space.items()}


def _objective(loaded: Any, config: dict[str, Any]):
    """The trial function: one ticket at the level, its best validation metric."""
    import optuna

    method = get_method(config["method"])
    targets = Targets.from_arguments(levels=[config["level"]], p_graph=config["p_graph"],
                                     p_weight=config["p_weight"])
    point = targets.points(iterative=method.iterative)[-1]
    graph, weight = targets.point_schedule(point, iterative=method.iterative)
    prefix = config["method"] + "."
    fixed = {k[len(prefix):]: v for k, v in config["fixed"].items() if k.startswith(prefix)}
    model_options = {k: v for k, v in config["fixed"].items() if k in ("bias", "dropout")}
    scope = {"weight_scope": config["fixed"]["weight_scope"]} \
        if "weight_scope" in config["fixed"] else {}

    def objective(trial: optuna.Trial) -> float:
        values = _suggest(trial, SEARCH_SPACES[config["method"]])
        options = {**fixed, **{k.partition(".")[2]: v for k, v in values.items() if "." in k}}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config["seed"])  # θ₀ of the seed, as a sweep's cell builds it
            model = build_model(config["model"], loaded.num_features, loaded.num_classes,
                                task=loaded.task, hidden=config["hidden"],
                                num_layers=config["num_layers"],
                                **{**model_options, "dropout": values["dropout"]})
        step = iter(range(10**9))

        def on_epoch(record: Any) -> None:  # validation only; prune hopeless trials
            if record.val is not None:
                trial.report(record.val, next(step))
                if trial.should_prune():
                    raise optuna.TrialPruned()

        result = method(model, loaded, graph_targets=graph, weight_targets=weight,
                        epochs=config["epochs"], lr=values["lr"],
                        weight_decay=values["weight_decay"], seed=config["seed"],
                        on_epoch=on_epoch, **scope, **options)
        return float(result.train.val)

    return objective


def _preset(study: Any, config: dict[str, Any]) -> dict[str, Any]:
    fixed = {k: config[k] for k in ("hidden", "num_layers", "epochs", "p_graph", "p_weight")}
    return {**fixed, **config["fixed"], **study.best_params}


#: The settings ``tune`` takes from its base preset when they are not given explicitly.
_BASE_DEFAULTS = {"epochs": 200, "hidden": 512, "num_layers": 2, "p_graph": 0.05,
                  "p_weight": 0.2}


def _base(preset: str | os.PathLike | None, dataset: str, model: str, method: str,
          explicit: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(grid settings, fixed settings)``: explicit values, else the preset's, else the
    defaults; the fixed ones are the preset's other settings that the search does not vary
    (bias, weight scope, feature normalisation, ``method``'s options)."""
    values = {} if preset is None else preset_values(preset, dataset=dataset, model=model)
    grid = {k: explicit[k] if explicit.get(k) is not None else values.get(k, default)
            for k, default in _BASE_DEFAULTS.items()}
    searched = set(SEARCH_SPACES[method])
    fixed = {k: v for k, v in values.items()
             if k not in grid and k not in searched
             and ("." not in k or k.startswith(method + "."))}
    return grid, fixed


def tune(out_dir: str | os.PathLike, *, dataset: str, method: str, level: int,
         model: str = "gcn", trials: int = 40, seed: int = 0, epochs: int | None = None,
         hidden: int | None = None, num_layers: int | None = None,
         p_graph: float | None = None, p_weight: float | None = None,
         preset: str | os.PathLike | None = None,
         data_root: str | os.PathLike | None = None, split_seed: int = 0) -> dict[str, Any]:
    """Search ``method``'s settings at ``level`` for ``trials`` trials in total (resumable in
    ``out_dir``); returns the best settings (also in ``out_dir/preset.json``).

    ``preset`` (a name or file, :mod:`~graphsparse.gnn.experiment.presets`) is the base: its
    grid settings fill ``epochs``, ``hidden``, ``num_layers``, ``p_graph``, ``p_weight`` not
    given (else 200, 512, 2, 0.05, 0.2), and its settings the search does not vary (bias,
    weight scope, feature normalisation, the method's other options) are fixed in every trial
    and copied into ``preset.json``.

    Raises:
        ValueError: a bad argument (named, with its range), before anything is written; or
            ``out_dir`` holds a search with other settings.
    """
    import optuna

    check_known(method, "method", METHODS)
    grid, fixed = _base(preset, dataset, model, method,
                        {"epochs": epochs, "hidden": hidden, "num_layers": num_layers,
                         "p_graph": p_graph, "p_weight": p_weight})
    for name, value in (("level", level), ("trials", trials), ("epochs", grid["epochs"]),
                        ("hidden", grid["hidden"]), ("num_layers", grid["num_layers"])):
        check_int(value, name, low=1)
    check_int(seed, "seed", low=0)
    config = {"dataset": dataset, "method": method, "level": level, "model": model,
              "seed": seed, **grid,
              "p_graph": check_float(grid["p_graph"], "p_graph", low=0.0, high=1.0,
                                     open_high=True),
              "p_weight": check_float(grid["p_weight"], "p_weight", low=0.0, high=1.0,
                                      open_high=True), "split_seed": split_seed,
              "preset": None if preset is None else str(preset), "fixed": fixed}
    loaded = load_dataset(dataset, data_root, split_seed=split_seed,
                          normalize_features=bool(fixed.get("normalize_features", False)))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(out / ".lock"):
        _check_tune_config(out, config)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            study_name="glt-tune", storage=f"sqlite:///{out / STUDY_FILE}", load_if_exists=True,
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=20))
        objective = _objective(loaded, config)

        def save(study: Any, trial: Any) -> None:
            if any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
                text = json.dumps(_preset(study, config), indent=2, sort_keys=True) + "\n"
                atomic_write(out / PRESET_FILE, lambda f: f.write(text), binary=False)

        done = [t for t in study.trials if t.state.is_finished()]
        study.optimize(objective, n_trials=max(trials - len(done), 0), callbacks=[save])
        return _preset(study, config)


def _check_tune_config(out: Path, config: dict[str, Any]) -> None:
    path = out / TUNE_CONFIG
    if path.exists():
        stored = json.loads(path.read_text())
        if stored != config:
            diff = sorted(k for k in set(stored) | set(config) if stored.get(k) != config.get(k))
            raise ValueError(f"{str(out)!r} holds a search with other settings ({diff}); use "
                             "another output directory")
        return
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    atomic_write(path, lambda f: f.write(text), binary=False)
