"""Topology -> accuracy prediction (graphsparse.topology.predict) on zoos of real reports."""

import json
import math

import numpy as np
import pytest

from graphsparse.topology import NetworkGraph, mlp_masks, mlp_shapes, report
from graphsparse.topology.predict import (
    FEATURE_GROUPS,
    feature_group,
    predict_accuracy,
    report_features,
)

WIDTHS = [16, 12, 12, 4]
TOPOLOGIES = ("erdos_renyi", "scale_free", "small_world")
FAST = {"n_estimators": 30, "permutation_repeats": 3}


def small_report(topology: str, density: float, seed: int, **options):
    masks = mlp_masks(mlp_shapes(WIDTHS), topology=topology, density=density, seed=seed).masks
    return report(NetworkGraph.from_masks(masks), **options)


@pytest.fixture(scope="module")
def networks():
    """45 reports of small MLP masks: 3 generators (the families) x 15 densities."""
    rng = np.random.default_rng(0)
    out = []
    for t, topology in enumerate(TOPOLOGIES):
        for i, density in enumerate(rng.uniform(0.05, 0.8, 15)):
            out.append((small_report(topology, float(density), seed=100 * t + i), topology))
    return out


def known_zoo(networks):
    """Accuracy an exact linear function of one feature (the density)."""
    return [(r, 0.3 + 0.6 * r.density, family) for r, family in networks]


def test_report_features_groups_and_optional_groups():
    plain = report_features(small_report("erdos_renyi", 0.3, seed=0))
    assert {feature_group(n) for n in plain} == {"density", "degree", "paths", "connectivity"}
    assert all(math.isfinite(v) for v in plain.values())
    full = report_features(small_report("erdos_renyi", 0.5, seed=0, shortest_paths=True,
                                        four_cycles=True, spectral=True))
    assert {"shortest_paths", "four_cycles", "spectral"} <= {feature_group(n) for n in full}
    assert set(plain) < set(full)  # optional groups are added, never zero-filled when absent


def test_report_features_rejects_non_report():
    with pytest.raises(TypeError, match="report must be a TopologyReport"):
        report_features({"density.density": 0.5})


def test_known_function_of_one_feature_is_recovered(networks):
    result = predict_accuracy(known_zoo(networks), groups=["density", "degree"],
                              splits=["kfold"], importances=False, **FAST)
    assert result.score("density", "linear").r2_mean >= 0.95
    assert result.score("all", "ridge").r2_mean >= 0.95
    assert result.score("density", "random_forest").r2_mean >= 0.9


def test_shuffled_accuracies_are_not_predicted(networks):
    accuracies = np.array([0.3 + 0.6 * r.density for r, _ in networks])
    means = {model: [] for model in ("linear", "ridge", "random_forest")}
    for shuffle in range(5):
        shuffled = np.random.default_rng(shuffle).permutation(accuracies)
        zoo = [(r, a) for (r, _), a in zip(networks, shuffled)]
        result = predict_accuracy(zoo, folds=3, seed=shuffle, importances=False, **FAST)
        for model in means:
            means[model].append(result.score("all", model).r2_mean)
    for model, r2 in means.items():
        assert np.mean(r2) <= 0.05, (model, r2)


def test_family_split_holds_out_generators(networks):
    result = predict_accuracy(known_zoo(networks), groups=["density"], models=["linear"],
                              folds=5, **FAST)
    assert result.num_families == 3
    family = result.score("density", "linear", "family")
    assert family.folds == 3  # GroupKFold: at most one fold per family
    assert family.r2_mean >= 0.95  # the density relation holds for every generator
    assert {s.split for s in result.scores} == {"kfold", "family"}


def test_importances_and_rows_are_json_ready(networks):
    result = predict_accuracy(known_zoo(networks), models=["random_forest"], splits=["kfold"],
                              **FAST)
    assert [i.feature for i in result.importances] != []
    assert sorted(i.feature for i in result.importances) == sorted(result.feature_names)
    assert sum(i.impurity for i in result.importances) == pytest.approx(1.0)
    top = result.importances[0]
    assert top.permutation_mean >= max(i.permutation_mean for i in result.importances)
    rows = result.to_rows()
    assert {r["features"] for r in rows} == {*result.groups, "all"}
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["num_networks"] == len(networks)
    assert "random_forest/kfold" in result.table()


def test_feature_dicts_give_the_same_scores_as_reports(networks):
    zoo = known_zoo(networks)[:20]
    as_dicts = [(report_features(r), a, f) for r, a, f in zoo]
    kwargs = dict(models=["ridge"], folds=4, importances=False, **FAST)
    from_reports = predict_accuracy(zoo, **kwargs).to_rows()
    assert from_reports == predict_accuracy(as_dicts, **kwargs).to_rows()


def test_groups_present_in_some_networks_are_skipped_or_refused(networks):
    zoo = [(r, 0.5 + 0.01 * i) for i, (r, _) in enumerate(networks[:10])]
    zoo[0] = (small_report("erdos_renyi", 0.5, seed=0, four_cycles=True), 0.5)
    result = predict_accuracy(zoo, models=["linear"], folds=2, importances=False)
    assert "four_cycles" in result.skipped_groups
    assert "four_cycles" not in result.groups
    missing = r"groups: feature group 'four_cycles' is missing in 9 of 10"
    with pytest.raises(ValueError, match=missing):
        predict_accuracy(zoo, groups=["four_cycles"], folds=2)


@pytest.mark.parametrize("change, kwargs, error, message", [
    (lambda z: z[:5], {"folds": 3}, ValueError, r"zoo has 5 networks; folds=3 needs at least 6"),
    (lambda z: z, {"folds": 1}, ValueError, r"folds must be an int >= 2"),
    (lambda z: [z[0][:2]] + z[1:], {}, ValueError, r"zoo mixes \(report, accuracy\)"),
    (lambda z: [(z[0][0], float("nan"), "x")] + z[1:], {}, ValueError,
     r"zoo\[0\]\[1\] \(accuracy\) must be a finite number"),
    (lambda z: [(z[0][0],)] + z[1:], {}, ValueError, r"zoo\[0\] must be a \(report, accuracy\)"),
    (lambda z: [("report", 0.5, "x")] + z[1:], {}, TypeError,
     r"zoo\[0\]\[0\] must be a TopologyReport"),
    (lambda z: z, {"groups": ["density", "motifs"]}, ValueError,
     r"groups: unknown feature group 'motifs'; valid: \('density'"),
    (lambda z: z, {"models": ["svm"]}, ValueError, r"models: unknown 'svm'; valid"),
    (lambda z: [(r, a) for r, a, _ in z], {"splits": ["family"]}, ValueError,
     r"splits: 'family' needs family labels"),
    (lambda z: [(r, a, "one") for r, a, _ in z], {"splits": ["family"]}, ValueError,
     r"needs at least 2 distinct families"),
    (lambda z: [({"density.density": float("inf")}, 0.5, "x")] + z[1:], {}, ValueError,
     r"feature 'density.density' must be a finite number"),
    (lambda z: [({"motifs.count": 1.0}, 0.5, "x")] + z[1:], {}, ValueError,
     r"is not 'group.feature' with group in"),
])
def test_bad_input_is_refused_with_a_named_argument(networks, change, kwargs, error, message):
    zoo = known_zoo(networks)[::4]  # 12 networks of the 3 families
    with pytest.raises(error, match=message):
        predict_accuracy(change(zoo), importances=False, **kwargs)


def test_feature_groups_constant_lists_every_extractor():
    assert FEATURE_GROUPS[:4] == ("density", "degree", "paths", "connectivity")
