"""Tests of graphsparse.gnn.experiment.ticket: find_ticket on user-built PyG models and plain ``Data``,
Ticket save → load (weights_only) → apply → retrain, and the entry point's bad-input errors."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GCN, GCNConv

from graphsparse.gnn import Ticket, find_ticket, load_dataset, load_ticket
from graphsparse.gnn.data import synthetic_sbm
from graphsparse.gnn.edges import tie_directions
from graphsparse.gnn.models import build_model
from graphsparse.masks import (
    CorruptFileError,
    geometric_sparsity,
    kept_count,
    masks_of,
    named_tensors,
    save_file,
)

FAST = {"epochs": 5, "lr": 0.02, "seed": 0}



@pytest.fixture(scope="module")
def data():
    return synthetic_sbm(num_nodes=300, num_classes=3, p_in=0.05, p_out=0.005, seed=4)


class TwoLayerGCN(nn.Module):
    """A hand-written user model: two GCNConv layers."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.conv1 = GCNConv(in_dim, hidden)
        self.conv2 = GCNConv(hidden, out_dim)

    def forward(self, x, edge_index):
        return self.conv2(F.relu(self.conv1(x, edge_index)), edge_index)


def _pyg_gcn(data, seed=0):
    torch.manual_seed(seed)
    return GCN(data.num_features, 16, num_layers=2, out_channels=3)


def _counts(data):
    pairs = tie_directions(data.edge_index).pairs
    return int((pairs[0] != pairs[1]).sum())


@pytest.mark.parametrize("method", ["ugs", "teddy"])
def test_find_ticket_on_pyg_gcn_and_data(data, method):
    model = _pyg_gcn(data)
    before = copy.deepcopy(model.state_dict())
    ticket = find_ticket(model, data, method=method, level=2, p_graph=0.2, p_weight=0.3,
                         **FAST)
    scope = "linear" if method == "ugs" else "all"
    total = sum(t.numel() for t in named_tensors(model, scope).values())
    assert ticket.weight_scope == scope
    assert ticket.graph_sparsity["kept"] == kept_count(_counts(data), geometric_sparsity(0.2, 2))
    assert ticket.weight_sparsity["kept"] == kept_count(total, geometric_sparsity(0.3, 2))
    assert ticket.model_config is None and ticket.method == method
    assert ticket.metrics["metric"] == "acc" and 0.0 <= ticket.metrics["test"] <= 1.0
    assert ticket.method_config["level"] == 2
    # the user's model is untouched and θ₀ is its initial state, bit for bit
    assert not masks_of(model)
    for key, value in before.items():
        assert torch.equal(model.state_dict()[key], value)
        assert torch.equal(ticket.initial_state[key], value)


def test_find_ticket_on_hand_written_module(data):
    torch.manual_seed(1)
    model = TwoLayerGCN(data.num_features, 16, 3)
    ticket = find_ticket(model, data, method="random", graph_sparsity=0.3, weight_sparsity=0.6,
                         **FAST)
    total = sum(t.numel() for t in named_tensors(model, "linear").values())
    assert set(ticket.weight_masks) == {"conv1.lin.weight", "conv2.lin.weight"}
    assert ticket.weight_sparsity["kept"] == kept_count(total, 0.6)
    assert ticket.graph_sparsity["kept"] == kept_count(_counts(data), 0.3)
    applied = ticket.apply(TwoLayerGCN(data.num_features, 16, 3))
    assert torch.equal(applied.conv1.lin.weight, model.conv1.lin.weight
                       * ticket.weight_masks["conv1.lin.weight"])


def test_iterative_method_with_direct_targets(data):
    ticket = find_ticket(_pyg_gcn(data), data, method="ugs", graph_sparsity=0.3,
                         weight_sparsity=0.5, rounds=3, **FAST)
    targets = ticket.method_config["graph_targets"]
    assert len(targets) == 3 and targets[-1] == 0.3
    assert [r["round"] for r in ticket.metrics["rounds"]] == [1, 2, 3]
    assert ticket.graph_sparsity["kept"] == kept_count(_counts(data), 0.3)
    assert ticket.metrics["search_epochs"] == 4 * FAST["epochs"]


def test_ticket_save_load_apply_retrain(tmp_path, data):
    model = _pyg_gcn(data)
    ticket = find_ticket(model, data, method="ugs", level=2, p_graph=0.1, p_weight=0.2, **FAST)
    path = ticket.save(tmp_path / "ticket.pt")
    raw = torch.load(path, weights_only=True)               # safe format, plain tensors
    assert raw["format"] == "graphsparse/ticket/1"
    loaded = load_ticket(path)
    assert torch.equal(loaded.edge_mask, ticket.edge_mask)
    assert torch.equal(loaded.edge_index, ticket.edge_index)
    for name in ticket.weight_masks:
        assert torch.equal(loaded.weight_masks[name], ticket.weight_masks[name])
    for key in ticket.initial_state:
        assert torch.equal(loaded.initial_state[key], ticket.initial_state[key])
    assert loaded.metrics == ticket.metrics
    assert loaded.graph_sparsity == ticket.graph_sparsity
    # retraining the loaded ticket equals retraining the original one, bit for bit
    m1, r1 = ticket.retrain(data, _pyg_gcn(data, seed=9), **FAST)
    m2, r2 = loaded.retrain(data, _pyg_gcn(data, seed=7), **FAST)
    assert (r1.val, r1.test) == (r2.val, r2.test)
    # the retrained model keeps the ticket's masks; pruned weights stay zero
    assert masks_of(m2).keys() == ticket.weight_masks.keys()
    for name, mask in ticket.weight_masks.items():
        prefix, _, tname = name.rpartition(".")
        assert not torch.any(getattr(m2.get_submodule(prefix), tname)[~mask])
    # the same seed reproduces the search's own fix-mask run
    assert (r1.val, r1.test) == (ticket.metrics["val"], ticket.metrics["test"])
    # trained weights load too
    trained = loaded.apply(_pyg_gcn(data), trained=True)
    for name, mask in ticket.weight_masks.items():
        assert torch.equal(named_tensors(trained, "all")[name],
                           ticket.trained_state[name] * mask)


def test_ticket_from_build_model_rebuilds_itself(tmp_path):
    ds = load_dataset("sbm")
    torch.manual_seed(0)
    model = build_model("gcn", ds.num_features, ds.num_classes, hidden=16)
    ticket = find_ticket(model, ds, method="magnitude", level=1, **FAST)
    loaded = Ticket.load(ticket.save(tmp_path / "t.pt"))
    rebuilt, result = loaded.retrain(ds, **FAST)
    assert rebuilt.config == model.config
    assert (result.val, result.test) == (ticket.metrics["val"], ticket.metrics["test"])
    assert loaded.dataset["name"] == "sbm"


def test_ticket_errors(tmp_path, data):
    model = _pyg_gcn(data)
    with pytest.raises(ValueError, match="valid methods: 'ugs', 'teddy'"):
        find_ticket(model, data, method="wd-glt", graph_sparsity=0.1)
    with pytest.raises(ValueError, match=r"graph_sparsity must be a number in \[0, 1\)"):
        find_ticket(model, data, method="random", graph_sparsity=1.2)
    with pytest.raises(ValueError, match="weight_sparsity"):
        find_ticket(model, data, method="random", weight_sparsity=-0.1)
    with pytest.raises(ValueError, match="not both"):
        find_ticket(model, data, method="ugs", level=2, graph_sparsity=0.1)
    with pytest.raises(ValueError, match="level"):
        find_ticket(model, data, method="ugs", level=0)
    with pytest.raises(ValueError, match="graph_sparsity and/or weight_sparsity"):
        find_ticket(model, data, method="ugs")
    with pytest.raises(ValueError, match="rounds applies to iterative"):
        find_ticket(model, data, method="teddy", graph_sparsity=0.1, rounds=3)
    with pytest.raises(ValueError, match="does not take option"):
        find_ticket(model, data, method="random", graph_sparsity=0.1, lamb=1.0)
    with pytest.raises(ValueError, match="weight_scope"):
        find_ticket(model, data, method="random", graph_sparsity=0.1, weight_scope="bias")
    with pytest.raises(TypeError, match="LoadedDataset"):
        find_ticket(model, {"x": 1}, method="random", graph_sparsity=0.1)
    bare = copy.copy(data)
    del bare.train_mask
    with pytest.raises(ValueError, match="train_mask"):
        find_ticket(model, bare, method="random", graph_sparsity=0.1)
    ticket = find_ticket(model, data, method="random", graph_sparsity=0.1, **FAST)
    with pytest.raises(ValueError, match="user-built model"):
        ticket.build_model()
    with pytest.raises(ValueError, match="not the one the ticket"):
        ticket.retrain(synthetic_sbm(num_nodes=300, num_classes=3, seed=5), _pyg_gcn(data))
    with pytest.raises(ValueError, match="does not match"):
        ticket.apply(TwoLayerGCN(data.num_features, 16, 3))
    bad = tmp_path / "bad.pt"
    save_file(bad, "masks", {"x": torch.zeros(1)})
    with pytest.raises(CorruptFileError, match="expected 'ticket'"):
        Ticket.load(bad)
