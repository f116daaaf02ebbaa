import pytest

from graphsparse.masks import Geometric, OneShot, Polynomial, geometric_sparsity


def test_cubic_values_at_known_steps():
    c = Polynomial(0.9, begin_step=100, end_step=1100, frequency=100)
    assert c(0) == 0.0 and c(99) == 0.0
    assert c(100) == 0.0
    # s_t = 0.9 - 0.9 (1 - t/1000)^3
    assert c(200) == pytest.approx(0.9 - 0.9 * 0.9 ** 3)
    assert c(600) == pytest.approx(0.9 - 0.9 * 0.5 ** 3)
    assert c(650) == c(600)                      # held between updates
    assert c(1100) == 0.9 and c(5000) == 0.9
    assert c.is_update_step(600) and not c.is_update_step(650) and not c.is_update_step(1200)
    c2 = Polynomial(0.8, 0, 10, initial_sparsity=0.5, frequency=5)
    assert c2(5) == pytest.approx(0.8 + (0.5 - 0.8) * 0.5 ** 3)


def test_geometric_and_one_shot():
    assert geometric_sparsity(0.2, 0) == 0.0
    assert geometric_sparsity(0.2, 20) == 1 - 0.8 ** 20
    g = Geometric(0.05, rounds=3)
    assert g(3) == g(7) and not g.is_update_step(4) and g.is_update_step(1)
    o = OneShot(0.5, step=3)
    assert (o(2), o(3), o(100)) == (0.0, 0.5, 0.5)


def test_bad_schedules():
    with pytest.raises(ValueError, match="final_sparsity"):
        Polynomial(1.0, 0, 10)
    with pytest.raises(ValueError, match="end_step must be > begin_step"):
        Polynomial(0.5, 10, 10)
    with pytest.raises(ValueError, match="multiple of frequency"):
        Polynomial(0.5, 0, 10, frequency=3)
    with pytest.raises(ValueError, match="rate"):
        Geometric(1.2)
    with pytest.raises(ValueError, match="step"):
        OneShot(0.5)(-1)
