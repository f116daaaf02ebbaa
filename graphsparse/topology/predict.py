"""Topology -> accuracy: predict a sparse network's accuracy from its graph structure alone.

Stier, Darji & Granitzer, "Experiments on Properties of Hidden Structures of Sparse Neural
Networks" (arXiv:2107.12917, 2021) predict the performance of sparse networks from structural
properties of their graphs only (R² up to 0.81 for recurrent networks on the Reber grammar).
This module runs that experiment on a *zoo*: networks with their topology reports
(:func:`graphsparse.topology.report`) and measured accuracies.

* :func:`report_features` (:mod:`graphsparse.topology.features`, re-exported here) turns a :class:`~graphsparse.topology.TopologyReport` into a flat dict
  of named numbers ``"group.feature"``; the groups are :data:`FEATURE_GROUPS` (always:
  ``density``, ``degree``, ``paths``, ``connectivity``; when the report has them: ``powerlaw``,
  ``shortest_paths``, ``four_cycles``, ``spectral``). A metric the report lacks leaves its whole
  group out — it is never filled with zeros.
* :func:`predict_accuracy` fits scikit-learn regressors (``"linear"``: StandardScaler +
  LinearRegression, ``"ridge"``: StandardScaler + RidgeCV, ``"random_forest"``:
  RandomForestRegressor) on each feature group alone and on all groups together, and scores them
  by cross-validated R² (``sklearn.model_selection.cross_val_score``, ``scoring="r2"``; one R² per
  test fold): ``"kfold"`` = shuffled, seeded ``KFold``; ``"family"`` = ``GroupKFold`` over the
  zoo's family labels, so every test fold holds networks of families the model never saw (e.g. a
  generator or training method). Feature importances come from a random forest fitted on every
  network with all features: impurity importances and ``sklearn.inspection.permutation_importance``
  (R² drop, computed on the same networks: what the fitted forest relies on, not held-out skill).

The result is a :class:`Prediction` (``to_rows()``, ``importance_rows()``, ``table()``,
``to_dict()``). Every random choice is seeded by ``seed``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphsparse.checks import check_int
from graphsparse.topology.features import FEATURE_GROUPS, feature_group, report_features
from graphsparse.topology.report import TopologyReport

__all__ = ["FEATURE_GROUPS", "MODELS", "SPLITS", "Score", "Importance", "Prediction",
           "report_features", "feature_group", "predict_accuracy",
           "cross_validated_predictions"]

#: Regressors :func:`predict_accuracy` can fit.
MODELS = ("linear", "ridge", "random_forest")
#: Cross-validation schemes: shuffled KFold, and GroupKFold held out by graph family.
SPLITS = ("kfold", "family")
ALL = "all"  # name of the feature set holding every selected group


# ------------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class Score:
    """Cross-validated R² of one regressor on one feature set: ``features`` is a feature group
    or ``"all"``; ``r2`` holds one R² per test fold (``cross_val_score``)."""

    features: str
    model: str
    split: str
    folds: int
    num_features: int
    r2: tuple[float, ...]

    @property
    def r2_mean(self) -> float:
        return float(np.mean(self.r2))

    @property
    def r2_std(self) -> float:
        return float(np.std(self.r2))

    def to_row(self) -> dict[str, Any]:
        return {"features": self.features, "model": self.model, "split": self.split,
                "folds": self.folds, "num_features": self.num_features,
                "r2_mean": self.r2_mean, "r2_std": self.r2_std, "r2_folds": list(self.r2)}


@dataclass(frozen=True)
class Importance:
    """Importance of one feature to a random forest fitted on every network: impurity
    (``feature_importances_``, sums to 1) and permutation importance (mean and std of the R²
    drop over ``repeats`` shuffles of the feature)."""

    feature: str
    group: str
    impurity: float
    permutation_mean: float
    permutation_std: float

    def to_row(self) -> dict[str, Any]:
        return {"feature": self.feature, "group": self.group, "impurity": self.impurity,
                "permutation_mean": self.permutation_mean,
                "permutation_std": self.permutation_std}


@dataclass(frozen=True)
class Prediction:
    """Result of :func:`predict_accuracy`.

    ``scores``: one :class:`Score` per (feature set, model, split); ``importances``: one
    :class:`Importance` per feature, most important (by permutation) first, empty when not
    requested; ``groups``: the feature groups used; ``skipped_groups``: groups present in only
    some networks, with the reason; ``num_families``: distinct family labels (None without).
    """

    scores: tuple[Score, ...]
    importances: tuple[Importance, ...]
    feature_names: tuple[str, ...]
    groups: tuple[str, ...]
    skipped_groups: dict[str, str]
    num_networks: int
    num_families: int | None
    seed: int
    settings: dict[str, Any] = field(default_factory=dict)

    def score(self, features: str = ALL, model: str = "random_forest",
              split: str = "kfold") -> Score:
        """The :class:`Score` of one feature set, model and split (KeyError if not computed)."""
        for s in self.scores:
            if (s.features, s.model, s.split) == (features, model, split):
                return s
        raise KeyError(f"no score for features={features!r}, model={model!r}, split={split!r}; "
                       f"computed: {sorted({(s.features, s.model, s.split) for s in self.scores})}")

    def to_rows(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per score (features, model, split, folds, R² mean/std/folds)."""
        return [s.to_row() for s in self.scores]

    def importance_rows(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per feature importance."""
        return [i.to_row() for i in self.importances]

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready: scores, importances and how they were computed."""
        return {"num_networks": self.num_networks, "num_families": self.num_families,
                "seed": self.seed, "groups": list(self.groups),
                "skipped_groups": dict(self.skipped_groups),
                "feature_names": list(self.feature_names), "settings": dict(self.settings),
                "scores": self.to_rows(), "importances": self.importance_rows()}

    def table(self) -> str:
        """Text table of the mean ± std fold R² (rows: feature sets; columns: model/split)."""
        columns = list(dict.fromkeys((s.model, s.split) for s in self.scores))
        sets = list(dict.fromkeys(s.features for s in self.scores))
        cell = {(s.features, s.model, s.split): f"{s.r2_mean:.3f}±{s.r2_std:.3f}"
                for s in self.scores}
        header = ["features"] + [f"{m}/{sp}" for m, sp in columns]
        rows = [[f] + [cell.get((f, m, sp), "-") for m, sp in columns] for f in sets]
        widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
        lines = [" ".join(c.ljust(w) if i == 0 else c.rjust(w)
                          for i, (c, w) in enumerate(zip(r, widths))) for r in [header] + rows]
        lines.insert(1, "-" * len(lines[0]))
        return "\n".join([f"Cross-validated R² ({self.num_networks} networks)"] + lines)

    def __str__(self) -> str:
        return self.table()


# ------------------------------------------------------------------------------------ input
def _entry_features(item: Any, where: str) -> dict[str, float]:
    if isinstance(item, TopologyReport):
        return report_features(item)
    if not isinstance(item, Mapping):
        raise TypeError(f"{where} must be a TopologyReport or a report_features() dict, "
                        f"got {type(item).__name__}")
    for name, value in item.items():
        if "." not in name or feature_group(name) not in FEATURE_GROUPS:
            raise ValueError(f"{where}: feature {name!r} is not 'group.feature' with group in "
                             f"{FEATURE_GROUPS}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not math.isfinite(value):
            raise ValueError(f"{where}: feature {name!r} must be a finite number, got {value!r}")
    return {name: float(value) for name, value in item.items()}


def _accuracy(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{where} (accuracy) must be a finite number, got {value!r}")
    return float(value)


def _parse_zoo(zoo: Any) -> tuple[list[dict[str, float]], np.ndarray, list | None]:
    """Features, accuracies and family labels (None when no entry has one) of a zoo."""
    if isinstance(zoo, (str, bytes, Mapping)) or not isinstance(zoo, Sequence):
        raise TypeError("zoo must be a sequence of (report, accuracy) or "
                        f"(report, accuracy, family) tuples, got {type(zoo).__name__}")
    lengths = set()
    features, accuracies, families = [], [], []
    for i, entry in enumerate(zoo):
        if not isinstance(entry, Sequence) or isinstance(entry, str) or len(entry) not in (2, 3):
            raise ValueError(f"zoo[{i}] must be a (report, accuracy) or (report, accuracy, "
                             f"family) tuple, got {entry!r:.80}")
        lengths.add(len(entry))
        features.append(_entry_features(entry[0], f"zoo[{i}][0]"))
        accuracies.append(_accuracy(entry[1], f"zoo[{i}][1]"))
        families.append(entry[2] if len(entry) == 3 else None)
    if len(lengths) > 1:
        raise ValueError("zoo mixes (report, accuracy) and (report, accuracy, family) entries: "
                         "give a family to every network or to none")
    return features, np.asarray(accuracies), (families if lengths == {3} else None)


def _select_groups(features: list[dict[str, float]], groups: Sequence[str] | None
                   ) -> tuple[list[str], dict[str, str]]:
    """Groups to use, and groups left out because only some networks have them."""
    have = {g: [any(feature_group(n) == g for n in f) for f in features] for g in FEATURE_GROUPS}
    total = len(features)
    if groups is None:
        chosen = [g for g in FEATURE_GROUPS if all(have[g])]
        skipped = {g: f"present in {sum(have[g])} of {total} networks"
                   for g in FEATURE_GROUPS if 0 < sum(have[g]) < total}
        if not chosen:
            raise ValueError("zoo: no feature group is present in every network")
        return chosen, skipped
    if isinstance(groups, str) or not isinstance(groups, Sequence) or not groups:
        raise ValueError(f"groups must be a non-empty list of feature groups from "
                         f"{FEATURE_GROUPS} (or None for all common ones), got {groups!r}")
    for g in groups:
        if g not in FEATURE_GROUPS:
            raise ValueError(f"groups: unknown feature group {g!r}; valid: {FEATURE_GROUPS}")
        if not all(have[g]):
            first = have[g].index(False)
            raise ValueError(f"groups: feature group {g!r} is missing in {total - sum(have[g])} "
                             f"of {total} networks (zoo[{first}] first): their reports lack "
                             "that metric")
    return list(dict.fromkeys(groups)), {}


def _feature_matrix(features: list[dict[str, float]], groups: list[str]
                    ) -> tuple[np.ndarray, list[str]]:
    names = [n for g in groups for n in features[0] if feature_group(n) == g]
    for i, f in enumerate(features):
        wanted = {n for n in f if feature_group(n) in groups}
        if wanted != set(names):
            raise ValueError(f"zoo[{i}][0] has features {sorted(wanted ^ set(names))} that "
                             f"zoo[0][0] has not (or the reverse): give every network the same "
                             "features (report_features of reports made with the same options)")
    return np.array([[f[n] for n in names] for f in features]), names


def _check_choices(values: Sequence[str], name: str, allowed: tuple[str, ...]) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"{name} must be a non-empty list from {allowed}, got {values!r}")
    for v in values:
        if v not in allowed:
            raise ValueError(f"{name}: unknown {v!r}; valid: {allowed}")
    return list(dict.fromkeys(values))


# ------------------------------------------------------------------------------------ fitting
def _estimator(model: str, seed: int, n_estimators: int):
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import LinearRegression, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if model == "linear":
        return make_pipeline(StandardScaler(), LinearRegression())
    if model == "ridge":
        return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    return RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=1)


def _splitter(split: str, folds: int, seed: int, num_families: int | None):
    from sklearn.model_selection import GroupKFold, KFold

    if split == "kfold":
        return KFold(n_splits=folds, shuffle=True, random_state=seed)
    return GroupKFold(n_splits=min(folds, num_families))


def _cv_score(x: np.ndarray, y: np.ndarray, model: str, split: str, cv, family_ids,
              seed: int, n_estimators: int) -> tuple[float, ...]:
    from sklearn.model_selection import cross_val_score

    groups = family_ids if split == "family" else None
    r2 = cross_val_score(_estimator(model, seed, n_estimators), x, y, groups=groups, cv=cv,
                         scoring="r2")
    return tuple(float(v) for v in r2)


def _importances(x: np.ndarray, y: np.ndarray, names: list[str], seed: int, n_estimators: int,
                 repeats: int) -> tuple[Importance, ...]:
    from sklearn.inspection import permutation_importance

    forest = _estimator("random_forest", seed, n_estimators).fit(x, y)
    perm = permutation_importance(forest, x, y, scoring="r2", n_repeats=repeats,
                                  random_state=seed, n_jobs=1)
    rows = [Importance(n, feature_group(n), float(imp), float(m), float(s)) for n, imp, m, s
            in zip(names, forest.feature_importances_, perm.importances_mean, perm.importances_std)]
    return tuple(sorted(rows, key=lambda r: -r.permutation_mean))


def _check_sizes(num_networks: int, folds: int, splits: list[str], num_families: int | None):
    if num_networks < 2 * folds:
        raise ValueError(f"zoo has {num_networks} networks; folds={folds} needs at least "
                         f"{2 * folds} (2 test networks per fold for R²): use folds in "
                         f"[2, {max(num_networks // 2, 2)}] or a larger zoo")
    if "family" in splits:
        if num_families is None:
            raise ValueError("splits: 'family' needs family labels: give (report, accuracy, "
                             "family) tuples in zoo")
        if num_families < 2:
            raise ValueError(f"splits: 'family' needs at least 2 distinct families in zoo, "
                             f"got {num_families}")


def predict_accuracy(zoo: Sequence[tuple], *, groups: Sequence[str] | None = None,
                     models: Sequence[str] = MODELS, splits: Sequence[str] | None = None,
                     folds: int = 5, seed: int = 0, n_estimators: int = 200,
                     importances: bool = True, permutation_repeats: int = 10) -> Prediction:
    """Cross-validated R² of predicting accuracy from topology features (Stier et al. 2021).

    For every selected feature group alone and for all of them together (``"all"``), each model
    in ``models`` is scored by ``cross_val_score(..., scoring="r2")`` under every split in
    ``splits``; then (``importances=True``) a random forest fitted on every network and feature
    gives impurity and permutation importances. See the module docstring for the models.

    Args:
        zoo: sequence of ``(report, accuracy)`` or ``(report, accuracy, family)`` tuples (all of
            one form): ``report`` a :class:`~graphsparse.topology.TopologyReport` or its
            :func:`report_features` dict, ``accuracy`` a finite number, ``family`` any hashable
            label (generator, training method, ...).
        groups: feature groups from :data:`FEATURE_GROUPS`; None = every group present in all
            networks (groups present in only some are listed in ``skipped_groups``).
        models: from :data:`MODELS`.
        splits: from :data:`SPLITS`; None = ``["kfold"]`` plus ``"family"`` when the zoo has
            two or more families. ``"family"`` uses ``GroupKFold`` with ``min(folds, families)``
            folds.
        folds: number of folds, >= 2; the zoo needs ``2 * folds`` networks or more.
        seed: seeds the KFold shuffle, the random forests and the permutations.
        n_estimators: trees per random forest, >= 1.
        importances: compute feature importances.
        permutation_repeats: shuffles per feature of the permutation importance, >= 1.

    Raises:
        ValueError / TypeError: malformed zoo entries (named ``zoo[i]``), a non-finite accuracy,
            mixed entry lengths, unknown or missing groups, unknown models or splits, too few
            networks or families for the folds.

    Example (accuracy a linear function of the density)::

        >>> import numpy as np
        >>> from graphsparse.topology import NetworkGraph, mlp_masks, mlp_shapes, report
        >>> zoo = []
        >>> for i, d in enumerate(np.linspace(0.1, 0.9, 12)):
        ...     r = report(NetworkGraph.from_masks(mlp_masks(mlp_shapes([12, 8, 4]), density=d,
        ...                                                  seed=i).masks))
        ...     zoo.append((r, 0.5 + 0.4 * r.density))
        >>> result = predict_accuracy(zoo, groups=["density"], models=["linear"], folds=3,
        ...                           importances=False)
        >>> round(result.score("density", "linear").r2_mean, 3)
        1.0
        >>> print(result.table())
        Cross-validated R² (12 networks)
        features linear/kfold
        ---------------------
        density   1.000±0.000
        all       1.000±0.000
    """
    features, y, families = _parse_zoo(zoo)
    folds = check_int(folds, "folds", low=2)
    seed = check_int(seed, "seed", low=0)
    n_estimators = check_int(n_estimators, "n_estimators", low=1)
    permutation_repeats = check_int(permutation_repeats, "permutation_repeats", low=1)
    models = _check_choices(models, "models", MODELS)
    family_ids = None if families is None else np.unique([str(f) for f in families],
                                                         return_inverse=True)[1]
    num_families = None if family_ids is None else int(family_ids.max()) + 1
    if splits is None:
        splits = ["kfold"] + (["family"] if (num_families or 0) >= 2 else [])
    splits = _check_choices(splits, "splits", SPLITS)
    _check_sizes(len(y), folds, splits, num_families)
    chosen, skipped = _select_groups(features, groups)
    x, names = _feature_matrix(features, chosen)
    feature_sets = {g: [i for i, n in enumerate(names) if feature_group(n) == g] for g in chosen}
    feature_sets[ALL] = list(range(len(names)))
    scores = []
    for split in splits:
        cv = _splitter(split, folds, seed, num_families)
        for set_name, columns in feature_sets.items():
            for model in models:
                r2 = _cv_score(x[:, columns], y, model, split, cv, family_ids, seed, n_estimators)
                scores.append(Score(set_name, model, split, len(r2), len(columns), r2))
    ranked = _importances(x, y, names, seed, n_estimators, permutation_repeats) \
        if importances else ()
    settings = {"models": models, "splits": splits, "folds": folds,
                "n_estimators": n_estimators, "permutation_repeats": permutation_repeats}
    return Prediction(tuple(scores), ranked, tuple(names), tuple(chosen), skipped, len(y),
                      num_families, seed, settings)


def cross_validated_predictions(zoo: Sequence[tuple], *, model: str = "random_forest",
                                split: str = "kfold", groups: Sequence[str] | None = None,
                                folds: int = 5, seed: int = 0, n_estimators: int = 200
                                ) -> tuple[np.ndarray, np.ndarray]:
    """``(true, predicted)`` accuracies: each network's accuracy predicted by ``model`` fitted
    on the other folds (``sklearn.model_selection.cross_val_predict``), with the folds,
    estimators and features of :func:`predict_accuracy` (for a predicted-vs-true plot).

    Example::

        >>> import numpy as np
        >>> from graphsparse.topology import NetworkGraph, mlp_masks, mlp_shapes, report
        >>> zoo = [(report(NetworkGraph.from_masks(mlp_masks(mlp_shapes([12, 8, 4]), density=d,
        ...                                                  seed=i).masks)), 0.5 + 0.4 * d)
        ...        for i, d in enumerate(np.linspace(0.1, 0.9, 12))]
        >>> true, predicted = cross_validated_predictions(zoo, model="linear", groups=["density"],
        ...                                               folds=3)
        >>> bool(np.corrcoef(true, predicted)[0, 1] > 0.99)
        True
    """
    from sklearn.model_selection import cross_val_predict

    features, y, families = _parse_zoo(zoo)
    folds = check_int(folds, "folds", low=2)
    model = _check_choices([model], "model", MODELS)[0]
    split = _check_choices([split], "split", SPLITS)[0]
    family_ids = None if families is None else np.unique([str(f) for f in families],
                                                         return_inverse=True)[1]
    num_families = None if family_ids is None else int(family_ids.max()) + 1
    _check_sizes(len(y), folds, [split], num_families)
    x, _ = _feature_matrix(features, _select_groups(features, groups)[0])
    predicted = cross_val_predict(_estimator(model, seed, n_estimators), x, y,
                                  groups=family_ids if split == "family" else None,
                                  cv=_splitter(split, folds, seed, num_families))
    return y, predicted

