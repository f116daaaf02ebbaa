import math
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphsparse.masks import erdos_renyi_density, kept_count, layer_densities

MLP = {"fc1": (1000, 784), "fc2": (1000, 1000), "fc3": (1000, 1000), "out": (10, 1000)}


def test_erk_oracle_mlp():
    d = layer_densities(MLP, density=0.05, method="erk")
    assert list(d) == list(MLP)
    assert [round(v, 4) for v in d.values()] == [0.0510, 0.0448, 0.0448, 1.0]
    # epsilon ≈ 22.42 (topology.md §2.4)
    assert d["fc2"] / (2000 / 1e6) == pytest.approx(22.42, abs=0.01)
    d10 = layer_densities(MLP, density=0.10, method="erk")
    assert [round(v, 4) for v in d10.values()] == [0.1060, 0.0932, 0.0932, 1.0]


def test_er_epsilon_formula_and_cap():
    assert erdos_renyi_density((1000, 784), 20) == pytest.approx(20 * 1784 / 784000)
    with pytest.warns(UserWarning, match="made dense"):
        d = layer_densities(MLP, epsilon=20, method="er")
    assert d["fc1"] == pytest.approx(20 * (784 + 1000) / (784 * 1000))
    assert d["fc2"] == pytest.approx(20 * 2000 / 1e6)
    assert d["out"] == 1.0      # 20*1010/10000 = 2.02 > 1
    with pytest.raises(ValueError, match="strict"):
        layer_densities(MLP, epsilon=20, method="er", strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small = layer_densities({"a": (100, 100)}, epsilon=1, method="er")
    assert small["a"] == pytest.approx(0.02)


def test_balanced_gives_equal_nonzeros():
    shapes = {"a": (300, 200), "b": (100, 100), "c": (50, 400)}
    d = layer_densities(shapes, density=0.1, method="balanced")
    nnz = [d[n] * math.prod(s) for n, s in shapes.items()]
    assert nnz == pytest.approx([nnz[0]] * 3)
    assert sum(nnz) == pytest.approx(0.1 * (60000 + 10000 + 20000))


def test_balanced_caps_small_layers():
    shapes = {"big": (1000, 1000), "tiny": (10, 10)}
    d = layer_densities(shapes, density=0.5, method="balanced")
    assert d["tiny"] == 1.0
    assert d["big"] * 1e6 + 100 == pytest.approx(0.5 * 1000100)


def test_uniform_and_overrides_resolve_the_rest():
    d = layer_densities(MLP, density=0.1, method="uniform")
    assert set(d.values()) == {0.1}
    d = layer_densities(MLP, density=0.1, method="erk", overrides={"fc1": 0.2})
    assert d["fc1"] == 0.2 and d["out"] == 1.0
    total = sum(d[n] * math.prod(s) for n, s in MLP.items())
    assert total == pytest.approx(0.1 * sum(math.prod(s) for s in MLP.values()))


def test_erk_conv_includes_kernel():
    shapes = {"conv": (64, 32, 3, 3), "fc": (10, 256)}
    d = layer_densities(shapes, density=0.05, method="erk")
    raw_conv = (64 + 32 + 3 + 3) / (64 * 32 * 9)
    raw_fc = (10 + 256) / 2560
    assert d["conv"] / d["fc"] == pytest.approx(raw_conv / raw_fc)
    er = layer_densities(shapes, density=0.05, method="er")
    assert er["conv"] / er["fc"] == pytest.approx(((64 + 32) / (64 * 32)) / raw_fc)


def test_power_softens_erk():
    d1 = layer_densities(MLP, density=0.05, method="erk")
    d05 = layer_densities(MLP, density=0.05, method="erk", power=0.5)
    assert d05["fc1"] / d05["fc2"] < d1["fc1"] / d1["fc2"]


@given(st.lists(st.tuples(st.integers(1, 300), st.integers(1, 300)), min_size=1, max_size=5),
       st.floats(0.01, 1.0), st.sampled_from(["uniform", "er", "erk", "balanced"]))
def test_total_kept_matches_target_within_one_per_layer(shape_list, density, method):
    shapes = {f"l{i}": s for i, s in enumerate(shape_list)}
    d = layer_densities(shapes, density=density, method=method)
    assert all(0 < v <= 1 for v in d.values())
    n = {k: math.prod(s) for k, s in shapes.items()}
    kept = sum(kept_count(n[k], max(0.0, 1 - d[k])) for k in shapes)
    assert abs(kept - density * sum(n.values())) <= len(shapes) + 1e-6


def test_bad_inputs():
    with pytest.raises(ValueError, match="exactly one of density or epsilon"):
        layer_densities(MLP)
    with pytest.raises(ValueError, match="exactly one of density or epsilon"):
        layer_densities(MLP, density=0.1, epsilon=2, method="er")
    with pytest.raises(ValueError, match="only for method='er'"):
        layer_densities(MLP, epsilon=2, method="erk")
    for bad in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"density must be a number in \(0, 1\]"):
            layer_densities(MLP, density=bad)
    with pytest.raises(ValueError, match="method must be one of"):
        layer_densities(MLP, density=0.1, method="pyramid")
    with pytest.raises(KeyError, match="not in shapes"):
        layer_densities(MLP, density=0.1, overrides={"fc9": 1.0})
    with pytest.raises(ValueError, match="infeasible"):
        layer_densities(MLP, density=0.9, overrides={"fc1": 0.01, "fc2": 0.01, "fc3": 0.01})
    with pytest.raises(ValueError, match="infeasible"):
        layer_densities(MLP, density=0.001, overrides={"fc2": 1.0})
    with pytest.raises(ValueError, match="positive dimensions"):
        layer_densities({"a": (0, 3)}, density=0.5)
    with pytest.raises(ValueError, match=r"epsilon must be a finite number > 0"):
        layer_densities(MLP, epsilon=-1, method="er")


@pytest.mark.parametrize("epsilon", [-1.0, float("nan"), float("inf")])
def test_er_density_rejects_negative_and_non_finite_epsilon(epsilon):
    from graphsparse.masks import erdos_renyi_density

    with pytest.raises(ValueError, match="epsilon must be a finite number >= 0"):
        erdos_renyi_density((10, 10), epsilon)
