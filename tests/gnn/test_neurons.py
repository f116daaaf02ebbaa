"""Tests of neuron-structured weight tickets (``weight_granularity="neuron"``): the hidden-unit
groups of :mod:`graphsparse.masks.neurons` (GCN, SAGE, GIN, GAT), exact unit counts and nesting
for every method, removed units all zero, exported tickets physically shrunk with equal
predictions, the sweep's config and the CLI flag."""

from __future__ import annotations

import json

import pytest
import torch

from graphsparse.cli import build_parser
from graphsparse.gnn import find_ticket, load_dataset
from graphsparse.gnn.edges import apply_edge_mask
from graphsparse.gnn.experiment.export import export_ticket, load_exported
from graphsparse.gnn.experiment.sweep import (ConfigMismatchError, config_differences,
                                              run_sweep)
from graphsparse.gnn.experiment.targets import Targets
from graphsparse.gnn.methods import METHODS, TrainConfig
from graphsparse.gnn.methods._common import select_weights
from graphsparse.gnn.models import build_model
from graphsparse.gnn.train import predict
from graphsparse.masks import geometric_sparsity, hidden_units, kept_count
from graphsparse.masks.neurons import FLAT, _view

FAST = {"epochs": 3, "lr": 0.02, "seed": 0}
# options that make the slower methods' searches tiny
OPTIONS = {"fastglt": {"pretrain_epochs": 2, "denoise_epochs": 6},
           "adaglt": {"search_epochs": 3, "explainer_hidden": 8}}
P_WEIGHT = 0.3


@pytest.fixture(scope="module")
def sbm():
    return load_dataset("sbm")


def _model(ds, name="gcn", **cfg):
    torch.manual_seed(0)
    cfg = {"hidden": 8, "num_layers": 3, "bias": True, **cfg}
    return build_model(name, ds.num_features, ds.num_classes, **cfg)


def _removed_slices_are_false(units, masks):
    """Every slice of a removed unit is False in ``masks``; kept units keep some entry."""
    keep = units.kept_units(masks)
    start = 0
    for layer in units.layers:
        for s in layer.slices:
            if s.name in masks:
                view = _view(masks[s.name], s.axis)
                assert not view[~keep[start:start + layer.size]].any(), s.name
        start += layer.size
    return keep


# ----------------------------------------------------------------------------------------------
# grouping
# ----------------------------------------------------------------------------------------------

def test_gcn_groups_and_a_hand_made_removal():
    """The unit whose next-layer column is weakest goes, with its row and bias: a grouping
    without the column (or with another dim) would remove another unit."""
    model = build_model("gcn", 5, 3, hidden=4, num_layers=3, bias=True)
    units = hidden_units(model)
    assert units.count == 8 and [layer.size for layer in units.layers] == [4, 4]
    assert [(s.name, s.axis) for s in units.layers[1].slices] == [
        ("convs.1.lin.weight", 0), ("convs.1.bias", 0), ("convs.2.lin.weight", 1)]
    scores = {n: torch.ones_like(p) for n, p in model.named_parameters()}
    scores["convs.1.lin.weight"][:, 2] = 0.0  # the column of layer-0 unit 2 (and rows' entries)
    masks = select_weights(scores, 1 / 8, units=units)
    assert units.kept_units(masks).tolist() == [True, True, False, True] + [True] * 4
    assert not masks["convs.0.lin.weight"][2].any() and masks["convs.0.lin.weight"][[0, 1, 3]].all()
    assert not masks["convs.0.bias"][2] and masks["convs.0.bias"].sum() == 3
    assert not masks["convs.1.lin.weight"][:, 2].any()
    assert masks["convs.1.lin.weight"].sum() == 4 * 3 and masks["convs.2.lin.weight"].all()
    # ties (all scores equal): the larger unit index is pruned first, the library's rule
    tied = select_weights({n: torch.ones_like(p) for n, p in model.named_parameters()}, 2 / 8,
                          units=units)
    assert units.kept_units(tied).tolist() == [True] * 6 + [False] * 2


def test_sage_gin_gat_groups():
    sage = hidden_units(build_model("sage", 5, 3, hidden=4, bias=True))
    assert {(s.name, s.axis) for s in sage.layers[0].slices} == {
        ("convs.0.lin_l.weight", 0), ("convs.0.lin_l.bias", 0), ("convs.0.lin_r.weight", 0),
        ("convs.1.lin_l.weight", 1), ("convs.1.lin_r.weight", 1)}
    gin = hidden_units(build_model("gin", 5, 3, hidden=4, bias=True))  # 2 layers, MLP of 2
    assert [(layer.name, layer.size) for layer in gin.layers] == [
        ("convs.0.nn.0", 4), ("convs.0", 4), ("convs.1.nn.0", 4)]
    assert ("convs.1.nn.0.weight", 1) in {(s.name, s.axis) for s in gin.layers[1].slices}
    gat_model = build_model("gat", 5, 3, hidden=4, heads=2, bias=True)
    gat = hidden_units(gat_model)
    assert gat.layers[0].heads == 2 and ("convs.0.att_src", FLAT) in {
        (s.name, s.axis) for s in gat.layers[0].slices}
    shapes = {n: p.shape for n, p in gat_model.named_parameters()}
    masks = gat.expand(torch.tensor([True, True, False, True]), shapes)  # head 1, channel 0
    assert masks["convs.0.att_src"].tolist() == [[[True, True], [False, True]]]
    assert not masks["convs.0.lin.weight"][2].any() and not masks["convs.1.lin.weight"][:, 2].any()
    with pytest.raises(ValueError, match="no hidden units"):
        hidden_units(build_model("gcn", 5, 3, hidden=4, num_layers=1))


def test_bad_granularity(sbm):
    with pytest.raises(ValueError, match="weight_granularity"):
        find_ticket(_model(sbm), sbm, method="random", weight_sparsity=0.5,
                    weight_granularity="channel", **FAST)


# ----------------------------------------------------------------------------------------------
# every method: exact counts, zeros, nesting
# ----------------------------------------------------------------------------------------------

def _search(ds, method, levels):
    model = _model(ds)
    targets = Targets.from_arguments(levels=levels, p_graph=0.1, p_weight=P_WEIGHT)
    options = {**OPTIONS.get(method, {}), "weight_granularity": "neuron"}
    found = METHODS[method].search(model, ds, targets, train_config=TrainConfig(**FAST),
                                   method_options=options)
    return model, found


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_keeps_exact_unit_counts(sbm, method):
    levels = [1, 2] if METHODS[method].iterative or method in ("random", "magnitude") else [2]
    model, found = _search(sbm, method, levels)
    units = hidden_units(model)
    kept = []
    for level in found:
        result = level.result
        k = level.point.level
        want = kept_count(units.count, geometric_sparsity(P_WEIGHT, k))
        keep = _removed_slices_are_false(units, result.weight_masks)
        assert int(keep.sum()) == want
        assert result.weight_sparsity["units_kept"] == want
        assert result.weight_sparsity["units_total"] == units.count == 16
        assert {"convs.0.bias", "convs.1.bias"} <= set(result.weight_masks)  # bias masked too
        for name, mask in result.weight_masks.items():  # trained weights zero where masked
            assert not result.trained_state[name][~mask].any(), name
        kept.append(keep)
    for before, after in zip(kept, kept[1:]):  # nested across levels
        assert not (after & ~before).any()


# ----------------------------------------------------------------------------------------------
# export
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, cfg", [("gcn", {}), ("sage", {}), ("gin", {}),
                                       ("gat", {"heads": 2, "dropout": 0.0,
                                                "input_dropout": 0.0})])
def test_export_shrinks_layers_and_predicts_the_same(sbm, tmp_path, name, cfg):
    model = _model(sbm, name, hidden=8, num_layers=2, **cfg)
    ticket = find_ticket(model, sbm, method="random", graph_sparsity=0.3, weight_sparsity=0.5,
                         weight_granularity="neuron", **FAST)
    units = hidden_units(model)
    keep = units.kept_units(ticket.weight_masks)
    assert int(keep.sum()) == kept_count(units.count, 0.5)
    masked = ticket.apply(trained=True)
    expected = predict(masked, sbm, edge_mask=ticket.edge_mask, mode="remove")
    exported = load_exported(export_ticket(ticket, sbm, tmp_path / "t.pt"))
    got = exported.predict(sbm.data.x)
    # the shrunk products sum fewer terms: float32 rounding differs (GAT's softmax: ~4e-6)
    assert torch.allclose(got, expected, atol=1e-6 if name != "gat" else 1e-5)
    if name == "gat":  # in float64 the shrunk model is the masked one to 1e-6 and better
        kept = apply_edge_mask(ticket.edge_index, ticket.edge_mask)[0]
        x = sbm.data.x.double()
        want = masked.double().eval()(x, kept)
        assert torch.allclose(exported.model.double()(x, kept), want, atol=1e-9)
    params = dict(exported.model.named_parameters())
    original = sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in params.values()) < original
    if name == "gcn":
        assert params["convs.0.lin.weight"].shape[0] == int(keep.sum())
        assert params["convs.1.lin.weight"].shape[1] == int(keep.sum())
    if name == "gin":  # MLP hidden units and output units of layer 0
        assert params["convs.0.nn.0.weight"].shape[0] == int(keep[:8].sum())
        assert params["convs.0.nn.2.weight"].shape[0] == int(keep[8:16].sum())
    if name == "gat":  # heads padded to the widest head
        width = int(keep[:8].view(2, 4).sum(1).max())
        assert params["convs.0.att_src"].shape == (1, 2, width)
        assert exported.model.convs[0].out_channels == width


# ----------------------------------------------------------------------------------------------
# sweep config and CLI
# ----------------------------------------------------------------------------------------------

def test_sweep_records_granularity_and_refuses_another(tmp_path):
    out = tmp_path / "sweep"
    common = {"dataset": "sbm", "model": "gcn", "hidden": 8, "num_layers": 3, "epochs": 2,
              "progress": False, "methods": ["random"], "levels": [1], "dense": False,
              "model_options": {"bias": True}}
    rows = run_sweep(out, weight_granularity="neuron", **common)
    assert json.loads((out / "config.json").read_text())["weight_granularity"] == "neuron"
    [row] = rows
    assert row["weight_granularity"] == "neuron" and row["units_total"] == 16
    assert row["units_kept"] == kept_count(16, 0.2)
    with pytest.raises(ConfigMismatchError, match="weight_granularity"):
        run_sweep(out, **common)  # unstructured (the default) in a neuron folder
    # a folder written before the key existed holds an unstructured sweep
    assert config_differences({"epochs": 2}, {"epochs": 2,
                                              "weight_granularity": "unstructured"}) == []
    assert config_differences({"epochs": 2}, {"epochs": 2, "weight_granularity": "neuron"})


def test_cli_flag_parses_and_reaches_the_sweep(tmp_path, monkeypatch):
    from graphsparse.cli import main
    from graphsparse.gnn.experiment import sweep

    parser = build_parser()
    base = ["glt", "run", "--dataset", "sbm", "--method", "random", "--levels", "1",
            "--out", str(tmp_path / "out"), "--no-progress"]
    assert parser.parse_args(base).weight_granularity == "unstructured"
    assert parser.parse_args(base + ["--weight-granularity", "neuron"]).weight_granularity \
        == "neuron"
    with pytest.raises(SystemExit):
        parser.parse_args(base + ["--weight-granularity", "channel"])
    seen = {}
    monkeypatch.setattr(sweep, "run_sweep", lambda out, **kwargs: seen.update(kwargs) or [])
    assert main(base + ["--weight-granularity", "neuron"]) == 0
    assert seen["weight_granularity"] == "neuron"
