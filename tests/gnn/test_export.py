"""Tests of graphsparse.gnn.experiment.export: exported tickets predict exactly what the masked
ticket predicts (GCN, GraphSAGE, GIN, GAT; node and link tasks), the file is safe and
checksummed, GCN inference uses the prebuilt propagation, and bad inputs raise clearly."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch_geometric.nn import GCNConv
from torch_geometric.nn.conv import gcn_conv

from graphsparse.gnn import as_dataset, find_ticket, load_dataset
from graphsparse.gnn.data import synthetic_sbm
from graphsparse.gnn.edges import apply_edge_mask
from graphsparse.gnn.experiment.export import (
    ExportedTicket,
    export_ticket,
    gcn_propagation,
    load_exported,
)
from graphsparse.gnn.models import build_model
from graphsparse.gnn.train import predict
from graphsparse.masks import CorruptFileError, masks_of, save_file
from tests.gnn.test_train import _link_dataset

FAST = {"epochs": 3, "lr": 0.02, "seed": 0}
TOL = 1e-6


@pytest.fixture(scope="module")
def sbm():
    return load_dataset("sbm")


def _ticket(ds, name, task="node", method="random", **cfg):
    torch.manual_seed(0)
    out = ds.num_classes if task == "node" else 1
    model = build_model(name, ds.num_features, out, task=task, hidden=16, **cfg)
    return find_ticket(model, ds, method=method, graph_sparsity=0.4, weight_sparsity=0.6,
                       **FAST)


def _reference(ticket, ds):
    """The masked ticket evaluated the library's way: masks attached, edges removed."""
    model = ticket.apply(trained=True)
    return model, predict(model, ds, edge_mask=ticket.edge_mask, mode="remove")


@pytest.fixture(scope="module")
def gcn_ticket(sbm):
    return _ticket(sbm, "gcn", method="ugs")


def _check_export(ticket, ds, exported):
    kept = apply_edge_mask(ticket.edge_index, ticket.edge_mask)[0]
    assert torch.equal(exported.edge_index, kept)
    assert exported.edge_index.size(1) < ticket.edge_index.size(1)
    assert not masks_of(exported.model) and not exported.model.training
    state = exported.model.state_dict()
    for name, mask in ticket.weight_masks.items():
        assert torch.equal(state[name] != 0, mask & (ticket.trained_state[name] != 0))
        assert not state[name][~mask].any()          # pruned entries exactly zero
    assert exported.meta["method"] == ticket.method
    assert exported.meta["graph_sparsity"] == ticket.graph_sparsity


@pytest.mark.parametrize("name", ["gcn", "sage", "gin", "gat"])
def test_exported_node_model_predicts_like_the_ticket(tmp_path, sbm, gcn_ticket, name):
    ticket = gcn_ticket if name == "gcn" else _ticket(sbm, name)
    path = export_ticket(ticket, sbm, tmp_path / "export.pt")
    exported = load_exported(path)
    assert isinstance(exported, ExportedTicket) and exported.num_nodes == sbm.data.num_nodes
    _check_export(ticket, sbm, exported)
    _, expected = _reference(ticket, sbm)
    got = exported.predict(sbm.data.x)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=TOL, rtol=0)
    if name == "gcn":
        assert exported.propagation.layout == torch.sparse_csr
        assert all(not c.normalize for c in exported.model.modules()
                   if isinstance(c, GCNConv))
    else:
        assert exported.propagation is None


def test_gcn_inference_runs_no_gcn_norm(tmp_path, sbm, gcn_ticket, monkeypatch):
    exported = load_exported(export_ticket(gcn_ticket, sbm, tmp_path / "e.pt"))

    def refuse(*args, **kwargs):
        raise AssertionError("gcn_norm called at inference")

    monkeypatch.setattr(gcn_conv, "gcn_norm", refuse)
    assert exported.predict(sbm.data.x).shape == (sbm.data.num_nodes, sbm.num_classes)


def test_gcn_propagation_matches_the_conv_with_self_loops():
    torch.manual_seed(0)
    conv, x = GCNConv(3, 2), torch.randn(5, 3)
    ei = torch.tensor([[0, 1, 1, 2, 2, 3, 4], [1, 0, 2, 1, 2, 4, 3]])   # one input self-loop
    expected = conv(x, ei)
    adj = gcn_propagation(ei, 5, conv)
    conv.normalize = False
    assert torch.allclose(conv(x, adj), expected, atol=TOL)


def test_file_is_safe_and_ticket_export_delegates(tmp_path, sbm, gcn_ticket):
    path = gcn_ticket.export(tmp_path / "t.pt", sbm)
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "graphsparse/exported-ticket/1"
    assert set(raw["payload"]) >= {"config", "state_dict", "edge_index", "propagation"}
    again = load_exported(export_ticket(gcn_ticket, sbm, tmp_path / "u.pt"))
    assert torch.equal(again.predict(sbm.data.x), load_exported(path).predict(sbm.data.x))


@pytest.mark.parametrize("name", ["gcn", "sage"])
def test_exported_link_model_scores_like_the_ticket(tmp_path, sbm, name):
    ds = _link_dataset(sbm, features=True)
    ticket = _ticket(ds, name, task="link", decoder="mlp")
    exported = load_exported(export_ticket(ticket, ds, tmp_path / "link.pt"))
    _check_export(ticket, ds, exported)
    model, h = _reference(ticket, ds)
    assert torch.allclose(exported.predict(ds.data.x), h, atol=TOL, rtol=0)
    pairs = ds.split["test"]["edge"].t()
    with torch.no_grad():
        expected = model.eval().decode(h, pairs)
    assert torch.allclose(exported.score(pairs, ds.data.x), expected, atol=TOL, rtol=0)
    assert (exported.propagation is not None) == (name == "gcn")


def test_export_on_plain_data(tmp_path):
    data = synthetic_sbm(num_nodes=120, num_classes=2, seed=1)
    torch.manual_seed(0)
    model = build_model("gcn", data.num_features, 2, hidden=8)
    ticket = find_ticket(model, data, method="random", graph_sparsity=0.3, **FAST)
    path = export_ticket(ticket, data, tmp_path / "d.pt")
    _, expected = _reference(ticket, as_dataset(data))
    assert torch.allclose(load_exported(path).predict(data.x), expected, atol=TOL, rtol=0)


def test_export_errors(tmp_path, sbm, gcn_ticket):
    other = dataclasses.replace(sbm, data=synthetic_sbm(num_nodes=1000, num_classes=4, seed=9))
    with pytest.raises(ValueError, match="not the one the ticket's edge mask covers"):
        export_ticket(gcn_ticket, other, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="user-built model"):
        export_ticket(dataclasses.replace(gcn_ticket, model_config=None), sbm, tmp_path / "x.pt")
    graph_cfg = {**gcn_ticket.model_config, "task": "graph"}
    with pytest.raises(ValueError, match="graph-level models"):
        export_ticket(dataclasses.replace(gcn_ticket, model_config=graph_cfg), sbm,
                      tmp_path / "x.pt")
    link_cfg = {**gcn_ticket.model_config, "task": "link"}
    with pytest.raises(ValueError, match="task 'link' but the dataset's task is 'node'"):
        export_ticket(dataclasses.replace(gcn_ticket, model_config=link_cfg), sbm,
                      tmp_path / "x.pt")
    with pytest.raises(TypeError, match="must be a Ticket"):
        export_ticket({"edge_mask": None}, sbm, tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()
    # another kind, a corrupt file, a missing file
    save_file(tmp_path / "masks.pt", "masks", {"x": torch.zeros(1)})
    with pytest.raises(CorruptFileError, match="expected 'exported-ticket'"):
        load_exported(tmp_path / "masks.pt")
    path = export_ticket(gcn_ticket, sbm, tmp_path / "ok.pt")
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match="truncated or corrupted"):
        load_exported(tmp_path / "cut.pt")
    with pytest.raises(FileNotFoundError):
        load_exported(tmp_path / "missing.pt")


def test_an_exported_gcn_refuses_a_raw_edge_index(tmp_path, sbm):
    """The exported GCN's convs are unnormalising; a raw edge_index is refused, not
    propagated unnormalised."""
    torch.manual_seed(0)
    model = build_model("gcn", sbm.num_features, sbm.num_classes, hidden=16)
    ticket = find_ticket(model, sbm, method="random", graph_sparsity=0.2, weight_sparsity=0.3,
                         epochs=2)
    exported = load_exported(export_ticket(ticket, sbm, tmp_path / "t.pt"))
    with pytest.raises(ValueError, match="prebuilt normalised adjacency"):
        exported.model(sbm.data.x, exported.edge_index)
    assert exported.model(sbm.data.x, exported.graph).shape == (sbm.data.num_nodes,
                                                                 sbm.num_classes)


def test_sweep_saves_tickets_and_glt_export_exports_one(tmp_path, sbm, capsys):
    """glt run --save-tickets leaves each ticket row's ticket; glt export RUN_DIR gives the
    deployable model, which predicts what the saved ticket predicts."""
    from graphsparse.cli import main
    from graphsparse.gnn.experiment.saved import saved_ticket, ticket_path
    from graphsparse.gnn.experiment.sweep import read_rows

    out = tmp_path / "sweep"
    argv = ["glt", "run", "--dataset", "sbm", "--model", "gcn", "--method", "ugs,random",
            "--levels", "1-2", "--p-graph", "0.2", "--p-weight", "0.3", "--seeds", "0",
            "--out", str(out), "--epochs", "3", "--hidden", "16", "--no-progress"]
    assert main(argv + ["--save-tickets"]) == 0
    rows = read_rows(out)
    tickets = [r for r in rows if r["method"] != "dense"]
    assert len(tickets) == 4 and all(ticket_path(out, r).is_file() for r in tickets)
    assert not (out / "tickets" / "dense-level0-seed0.pt").exists()
    row = next(r for r in tickets if r["method"] == "ugs" and r["level"] == 2)
    ticket = saved_ticket(out, method="ugs", level=2, seed=0)
    assert ticket.metrics["test"] == pytest.approx(row["test"])
    assert ticket.graph_sparsity["kept"] == row["edges_kept"]
    assert ticket.method_config["graph_targets"] == pytest.approx([0.2, 1 - 0.8 ** 2])
    target = tmp_path / "ugs-l2.pt"
    assert main(["glt", "export", str(out), "--method", "ugs", "--level", "2", "--seed", "0",
                 "--out", str(target)]) == 0
    assert "exported ticket" in capsys.readouterr().out
    exported = load_exported(target)
    _, expected = _reference(ticket, sbm)
    assert torch.allclose(exported.predict(sbm.data.x), expected, atol=TOL)
    with pytest.raises(SystemExit, match="no row for method 'ugs', level 3"):
        main(["glt", "export", str(out), "--method", "ugs", "--level", "3", "--out",
              str(target)])
    plain = tmp_path / "plain"
    assert main([str(plain) if a == str(out) else a for a in argv]) == 0
    with pytest.raises(SystemExit, match="did not save this ticket; run the sweep with "
                                         "--save-tickets"):
        main(["glt", "export", str(plain), "--method", "random", "--level", "1", "--out",
              str(target)])
