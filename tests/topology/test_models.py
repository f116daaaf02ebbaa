import pytest
import torch

from graphsparse.masks import kept_count, masks_of
from graphsparse.topology.dynamic import SET, RigL
from graphsparse.topology.datasets import load_digits, load_mnist5k
from graphsparse.topology.sparse_mlp import SparseMLP
from graphsparse.topology.training import train


def test_random_graph_mlp_is_seeded_and_exact():
    a = SparseMLP.random_graph([64, 40, 30, 10], epsilon=5, seed=3)
    b = SparseMLP.random_graph([64, 40, 30, 10], epsilon=5, seed=3)
    ma, mb = masks_of(a), masks_of(b)
    assert list(ma) == ["fc1.weight", "fc2.weight", "fc3.weight"]
    assert all(torch.equal(ma[n], mb[n]) for n in ma)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    # SET's epsilon: fc1 keeps exactly kept_count(64*40, 1 - 5*(64+40)/(64*40)) edges
    p = 5 * (64 + 40) / (64 * 40)
    assert int(ma["fc1.weight"].sum()) == kept_count(64 * 40, 1 - p)
    c = SparseMLP.random_graph([64, 40, 30, 10], epsilon=5, seed=4)
    assert not torch.equal(masks_of(c)["fc1.weight"], ma["fc1.weight"])


def test_save_load_round_trip(tmp_path):
    net = SparseMLP.random_graph([64, 20, 10], topology="scale_free", density=0.3, seed=0)
    net.save(tmp_path / "mlp.pt", note="test")
    back = SparseMLP.load(tmp_path / "mlp.pt")
    x = torch.rand(3, 64)
    torch.testing.assert_close(back(x), net(x))
    assert back.config() == net.config()
    with pytest.raises(ValueError, match="widths"):
        SparseMLP([64])
    with pytest.raises(ValueError, match="widths\\[1\\]"):
        SparseMLP([64, 0, 10])


def test_embedded_data_are_real_and_split_by_seed():
    d = load_mnist5k()
    assert d.x_train.shape == (4000, 784) and d.x_test.shape == (1000, 784)
    assert torch.bincount(d.y_test).tolist() == [100] * 10
    assert 0.0 <= float(d.x_train.min()) and float(d.x_train.max()) <= 1.0
    assert torch.equal(load_mnist5k(split_seed=0).y_test, d.y_test)
    assert not torch.equal(load_mnist5k(split_seed=1).x_test, d.x_test)
    g = load_digits()
    assert g.num_features == 64 and len(g.y_train) + len(g.y_test) == 1797


def test_training_with_set_keeps_density_and_learns():
    data = load_digits()
    net = SparseMLP.random_graph([64, 100, 10], epsilon=10, seed=0)
    kept0 = {n: int(m.sum()) for n, m in masks_of(net).items()}
    rows = train(net, data, epochs=4, lr=0.05, seed=0, set_callback=SET(0.3, seed=0),
                 record=lambda m, e: {"edges": sum(int(x.sum()) for x in masks_of(m).values())},
                 progress=False)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert all(r["edges"] == sum(kept0.values()) for r in rows)
    assert rows[-1]["test_acc"] > 0.8
    kept1 = {n: int(m.sum()) for n, m in masks_of(net).items()}
    assert kept0 == kept1


def test_training_with_rigl_and_mse():
    data = load_digits()
    net = SparseMLP.random_graph([64, 50, 10], density=0.3, seed=1)
    before = masks_of(net)
    rows = train(net, data, epochs=2, lr=0.1, loss="mse", seed=0, progress=False,
                 rigl_callback=RigL(0.3, update_every=5, end_step=30))
    after = masks_of(net)
    assert any(not torch.equal(before[n], after[n]) for n in before)
    assert all(int(before[n].sum()) == int(after[n].sum()) for n in before)
    assert len(rows) == 2
    with pytest.raises(ValueError, match="epochs"):
        train(net, data, epochs=0)
    with pytest.raises(ValueError, match="optimizer"):
        train(net, data, epochs=1, optimizer="lbfgs")


def test_initialisations_follow_their_bounds():
    net = SparseMLP.random_graph([200, 100, 10], density=0.05, seed=0, init="he_uniform")
    raw = net.fc1.parametrizations.weight.original
    bound = (6 / 200) ** 0.5
    assert float(raw.abs().max()) <= bound and float(raw.abs().max()) > 0.9 * bound
    assert float(net.fc1.bias.abs().max()) == 0.0
    again = SparseMLP.random_graph([200, 100, 10], density=0.05, seed=0, init="he_uniform")
    assert torch.equal(again.fc1.parametrizations.weight.original, raw)
    # sparse fan-in: row i is bounded by sqrt(6 / realised in-degree of neuron i)
    sparse = SparseMLP.random_graph([200, 100, 10], density=0.05, seed=0,
                                    init="sparse_he_uniform")
    mask = masks_of(sparse)["fc1.weight"]
    fan_in = mask.sum(dim=1).clamp_min(1)
    rows_max = sparse.fc1.parametrizations.weight.original.abs().amax(dim=1)
    assert torch.all(rows_max <= (6 / fan_in) ** 0.5)
    assert float(rows_max.max()) > bound * 3      # much larger than the dense-fan-in bound
    dense = SparseMLP([200, 100, 10], init="he_uniform")
    assert float(dense.fc2.weight.abs().max()) <= (6 / 100) ** 0.5
    torch_default = SparseMLP.random_graph([200, 100, 10], density=0.05, seed=0)
    assert torch_default.init == "torch" and float(torch_default.fc1.bias.abs().max()) > 0
    with pytest.raises(ValueError, match="init must be one of"):
        SparseMLP([4, 2], init="xavier_magic")
    with pytest.raises(ValueError, match="init must be one of"):
        SparseMLP.random_graph([4, 2], density=0.5, seed=0, init="glorot")


def test_init_survives_save_and_load(tmp_path):
    net = SparseMLP.random_graph([30, 20, 10], density=0.3, seed=1, init="sparse_he_uniform")
    net.save(tmp_path / "m.pt")
    back = SparseMLP.load(tmp_path / "m.pt")
    assert back.init == "sparse_he_uniform" and back.config() == net.config()
    x = torch.rand(2, 30)
    torch.testing.assert_close(back(x), net(x))


def test_set_mse_surrogate_has_the_reference_gradient():
    from graphsparse.topology.training import set_mse_surrogate

    z = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]], requires_grad=True)
    t = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    value = set_mse_surrogate(z, t)
    value.backward()
    y = torch.sigmoid(z.detach())
    expected = (y - t) * torch.sigmoid(y) * (1 - torch.sigmoid(y)) / 2   # per output, batch mean
    torch.testing.assert_close(z.grad, expected)
    torch.testing.assert_close(value.detach(), ((y - t) ** 2).mean())    # logged value: MSE
    with pytest.raises(ValueError, match="loss must be one of"):
        train(SparseMLP([64, 10]), load_digits(), epochs=1, loss="hinge", progress=False)
