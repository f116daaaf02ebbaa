"""Tests of AdaGLT (graphsparse.gnn.methods.adaglt) on the synthetic SBM graph (hidden 16, a
small explainer, few epochs): the straight-through threshold rules on hand-made cases, the
exp(−θ) penalties pushing thresholds towards sparsity, the symmetric explainer and nested
layer masks, exact kept counts, determinism, option checks and the search entry point."""

from __future__ import annotations

import copy
import importlib
from types import SimpleNamespace

import pytest
import torch
import torch_geometric.utils
from torch.nn.utils import parametrize
from torch_geometric.nn import MessagePassing

from graphsparse.gnn.data import load_dataset
from graphsparse.gnn.edges import edge_mask
from graphsparse.gnn.experiment.targets import Targets
from graphsparse.gnn.methods._common import EdgeUnits
from graphsparse.gnn.methods.adaglt import (
    AdaGLTEdgeMask,
    AdaGLTPenalty,
    RowThresholdMask,
    adaglt,
    binary_step,
    exact_count_from_margins,
    initial_threshold,
    layer_indices,
    standardize_scores,
    threshold_mask,
    threshold_transform,
)
from graphsparse.gnn.methods.base import OneShotMethod, TrainConfig
from graphsparse.gnn.models import build_model
from tests.gnn.conftest import assert_level_counts
from graphsparse.masks import geometric_sparsity, kept_count, masks_of, named_tensors

# the package re-exports the function adaglt under the module's name
adaglt_module = importlib.import_module("graphsparse.gnn.methods.adaglt")

FAST = {"epochs": 2, "search_epochs": 4, "explainer_hidden": 8, "lr": 0.02,
        "weight_decay": 5e-4, "seed": 0}


@pytest.fixture(scope="module")
def sbm():
    return load_dataset("sbm")


@pytest.fixture(scope="module")
def units(sbm):
    return EdgeUnits(sbm)


def _model(ds, name="gcn", seed=0):
    torch.manual_seed(seed)
    return build_model(name, ds.num_features, ds.num_classes, hidden=16)


def _mask(ds, units, layers=2, seed=0):
    return AdaGLTEdgeMask(units, ds.data.x, layers, hidden=8, coef=0.1, temperature=0.1,
                          seed=seed)


# --- hand-made cases ------------------------------------------------------------------------

def test_threshold_mask_is_a_hard_step_with_the_sigmoid_gradient():
    s = torch.tensor([-0.3, -0.05, 0.0, 0.04, 0.5], requires_grad=True)
    t = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.1], requires_grad=True)
    tau = 0.1
    m = threshold_mask(s, t, tau)
    assert m.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]          # exactly 0/1, s == θ is pruned
    upstream = torch.tensor([1.0, 2.0, -1.0, 0.5, 3.0])
    (m * upstream).sum().backward()
    x = (s.detach() - t.detach()) / tau
    sig = 1 / (1 + torch.exp(-x))
    expected = upstream * sig * (1 - sig) / tau             # d sigmoid((s − θ)/τ) / ds
    assert torch.allclose(s.grad, expected, atol=1e-6)
    assert torch.allclose(t.grad, -expected, atol=1e-6)
    assert float(s.grad[2]) == pytest.approx(-1.0 * 0.25 / tau)   # σ'(0) = 1/4


def test_binary_step_forward_and_long_tailed_estimator_by_hand():
    x = torch.tensor([-1.5, -0.7, -0.2, 0.0, 0.3, 0.5, 2.0], requires_grad=True)
    y = binary_step(x)
    assert y.tolist() == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    y.sum().backward()
    assert torch.allclose(x.grad, torch.tensor([0.0, 0.4, 1.2, 2.0, 0.8, 0.4, 0.0]))


@pytest.mark.parametrize("coef", [3.0, 0.1, 0.005, 1e-5])
def test_initial_threshold_solves_the_cubic_so_the_start_is_minus_0_2(coef):
    theta = initial_threshold(coef)
    assert theta ** 3 + 20 * theta + 0.2 / coef == pytest.approx(0.0, abs=1e-9 / coef)
    assert float(threshold_transform(torch.tensor(theta, dtype=torch.float64), coef)) == \
        pytest.approx(-0.2, abs=1e-9)


def test_standardize_scores_uses_prunable_statistics():
    s = torch.tensor([1.0, 2.0, 3.0, 100.0])
    prunable = torch.tensor([True, True, True, False])
    z = standardize_scores(s, prunable)
    assert z[:3].tolist() == pytest.approx([-0.1, 0.0, 0.1])   # sd of [1, 2, 3] is 1
    assert float(z[3]) == pytest.approx(9.8)
    assert standardize_scores(torch.ones(3), torch.ones(3, dtype=torch.bool)).tolist() == \
        [0.0, 0.0, 0.0]


def test_exact_count_projection_keeps_the_top_margins():
    margins = {"a": torch.tensor([0.3, -0.1, 0.2]),
               "b": torch.tensor([[0.5, -0.4], [0.2, 0.0]])}
    masks, above = exact_count_from_margins(margins, 4 / 7)    # 7 entries, keep 3
    assert above == 4                                          # 0.3, 0.2, 0.5, 0.2 are > 0
    assert masks["a"].tolist() == [True, False, True]          # tie at 0.2: smaller index
    assert masks["b"].tolist() == [[True, False], [False, False]]
    masks, _ = exact_count_from_margins(margins, 0.0)
    assert all(bool(m.all()) for m in masks.values())


def test_edge_penalty_value_and_it_raises_thresholds(sbm, units):
    mask = _mask(sbm, units)
    with torch.no_grad():
        mask.thresholds.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(1))
    penalty = AdaGLTPenalty(mask, [], edge_reg=0.5, weight_reg=0.0)
    theta = mask.thresholds.detach().clone()
    value = penalty.penalty()
    expected = float(0.5 * torch.exp(-theta).sum() / 2)
    assert float(value.detach()) == pytest.approx(expected, rel=1e-6)
    before = mask.margins()
    value.backward()
    assert bool((mask.thresholds.grad < 0).all())             # descent raises every θ
    with torch.no_grad():
        mask.thresholds -= 1.0 * mask.thresholds.grad
    after = mask.margins()
    assert bool((mask.thresholds > theta).all())
    assert bool((after < before).all())                       # T(θ) is increasing
    assert int((after > 0).sum()) <= int((before > 0).sum())


def test_weight_penalty_value_and_it_raises_row_thresholds():
    w = torch.tensor([[0.3, -0.05, 0.2], [0.01, -0.6, 0.02]])
    rows = RowThresholdMask(w)
    assert rows.threshold.tolist() == [0.0, 0.0]
    assert rows(w).tolist() == w.tolist()                      # θ = 0 keeps every w != 0
    penalty = AdaGLTPenalty(None, [rows], edge_reg=0.0, weight_reg=0.1)
    value = penalty.penalty()
    assert float(value) == pytest.approx(0.2)                 # 0.1 · (e^0 + e^0)
    value.backward()
    assert rows.threshold.grad.tolist() == pytest.approx([-0.1, -0.1])
    with torch.no_grad():
        rows.threshold.copy_(torch.tensor([0.1, 0.015]))
    kept = rows(w) != 0
    assert kept.tolist() == [[True, False, True], [False, True, True]]
    assert rows.margins(w)[1].tolist() == pytest.approx([-0.005, 0.585, 0.005])


def test_explainer_scores_are_the_pair_mlp_averaged_over_both_orders(sbm, units):
    mask = _mask(sbm, units)
    x = sbm.data.x.float()
    u, v = units.tied.pairs

    def mlp(a, b):
        return mask.out(torch.relu(mask.hidden(torch.cat([x[a], x[b]], 1)))).squeeze(-1)
    with torch.no_grad():
        expected = (mlp(u, v) + mlp(v, u)) / 2
        assert torch.allclose(mask.scores(), expected, atol=1e-5)
    again = _mask(sbm, units)                                  # seeded explainer init
    assert torch.equal(again.hidden.weight, mask.hidden.weight)
    assert not torch.equal(_mask(sbm, units, seed=1).hidden.weight, mask.hidden.weight)


def test_deeper_layer_masks_are_nested_in_shallower_ones(sbm, units):
    mask = _mask(sbm, units)
    with torch.no_grad():
        mask.thresholds.normal_(-0.1, 1.0, generator=torch.Generator().manual_seed(2))
    with pytest.raises(RuntimeError, match="per conv"):
        mask()
    with torch.no_grad():
        mask.layer = 0
        m0 = mask()
        mask.layer = 1
        m1 = mask()
    margins = mask.margins()
    assert torch.equal(m0.bool(), units.expand(margins[0] > 0))
    assert torch.equal(m1.bool(), units.expand((margins[0] > 0) & (margins[1] > 0)))
    assert bool((m1 <= m0).all())
    own = units.expand(margins[1] > 0)
    assert bool((own & ~m0.bool()).any())                      # nesting removes some edges


def test_no_dense_adjacency_is_built(sbm, units, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("to_dense_adj called")
    monkeypatch.setattr(torch_geometric.utils, "to_dense_adj", boom)
    model, mask = _model(sbm), _mask(sbm, units)
    n = sbm.data.num_nodes
    assert all(n * n > t.numel() for t in mask.state_dict().values())
    sizes = []

    def pack(t):
        sizes.append(t.numel())
        return t
    convs = [c for c in model.modules() if isinstance(c, MessagePassing)]
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), \
            layer_indices(convs, mask), edge_mask(model, mask, "message"):
        model(sbm.data.x, sbm.data.edge_index).sum().backward()
    assert sizes and max(sizes) < n * n
    assert mask.hidden.weight.grad.abs().sum() > 0 and mask.thresholds.grad.abs().sum() > 0


# --- the method ---------------------------------------------------------------------------

def _weights_total(model, scope):
    return sum(t.numel() for t in named_tensors(model, scope).values())


@pytest.mark.parametrize("scope,levels", [("linear", (1, 2, 3)), ("all", (1, 3))])
def test_exact_counts_at_every_level(sbm, units, scope, levels):
    model = _model(sbm)
    before = copy.deepcopy(model.state_dict())
    total = _weights_total(model, scope)
    for level in levels:
        s_g, s_w = geometric_sparsity(0.2, level), geometric_sparsity(0.3, level)
        result = adaglt(model, sbm, graph_targets=[s_g], weight_targets=[s_w],
                        weight_scope=scope, **FAST)
        assert result.graph_sparsity["kept"] == kept_count(units.count, s_g)
        assert result.weight_sparsity["kept"] == kept_count(total, s_w)
        assert sum(int(m.sum()) for m in result.weight_masks.values()) == \
            kept_count(total, s_w)
        assert set(result.weight_masks) == set(named_tensors(model, scope))
        search, ticket = result.rounds
        assert search["stage"] == "search" and ticket["stage"] == "ticket"
        assert search["edges_kept"] == ticket["edges_kept"] == kept_count(units.count, s_g)
        per_layer = search["edges_kept_by_threshold_per_layer"]
        assert len(per_layer) == 2 and per_layer[1] <= per_layer[0] <= units.count
        assert 0 <= search["weights_kept_by_threshold"] <= total
        assert result.search_epochs == FAST["search_epochs"] + FAST["epochs"]
        for name, mask in result.weight_masks.items():                # θ₀ ⊙ m, trained
            assert bool((result.trained_state[name][~mask] == 0).all())
    for key, value in before.items():                                 # model untouched
        assert torch.equal(model.state_dict()[key], value)
    assert not masks_of(model) and not any(parametrize.is_parametrized(m)
                                           for m in model.modules())


def test_an_axis_with_target_zero_is_not_searched(sbm, units):
    model = _model(sbm)
    weights_only = adaglt(model, sbm, graph_targets=[0.0], weight_targets=[0.5], **FAST)
    assert weights_only.graph_sparsity["kept"] == units.count
    assert "edges_kept_by_threshold" not in weights_only.rounds[0]
    assert weights_only.weight_sparsity["kept"] == kept_count(_weights_total(model, "linear"),
                                                              0.5)
    dense = adaglt(model, sbm, graph_targets=[0.0], weight_targets=[0.0], **FAST)
    assert [r["stage"] for r in dense.rounds] == ["ticket"]
    assert dense.search_epochs == FAST["epochs"]


def test_same_seed_same_ticket(sbm):
    kw = dict(graph_targets=[0.4], weight_targets=[0.5], **FAST)
    a = adaglt(_model(sbm), sbm, **kw)
    b = adaglt(_model(sbm), sbm, **kw)
    assert torch.equal(a.edge_mask, b.edge_mask)
    assert all(torch.equal(a.weight_masks[n], b.weight_masks[n]) for n in a.weight_masks)
    assert all(torch.equal(a.trained_state[k], b.trained_state[k]) for k in a.trained_state)
    assert a.rounds == b.rounds
    c = adaglt(_model(sbm), sbm, **{**kw, "seed": 1})
    assert not torch.equal(a.edge_mask, c.edge_mask)


def test_other_backbone(sbm, units):
    result = adaglt(_model(sbm, "sage"), sbm, graph_targets=[0.3], weight_targets=[0.3],
                    **FAST)
    assert result.graph_sparsity["kept"] == kept_count(units.count, 0.3)


@pytest.mark.parametrize("name,value", [
    ("temperature", 0.0), ("edge_reg", -1e-5), ("weight_reg", -1.0), ("threshold_coef", 0.0),
    ("explainer_hidden", 0), ("search_epochs", 0), ("epochs", 0), ("lr", 0.0),
    ("temperature", float("nan"))])
def test_bad_options_raise_before_training(sbm, monkeypatch, name, value):
    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking the options")
    monkeypatch.setattr(adaglt_module, "train_model", no_training)
    with pytest.raises(ValueError, match=name):
        adaglt(_model(sbm), sbm, graph_targets=[0.2], weight_targets=[0.2],
               **{**FAST, name: value})


def test_graph_tasks_are_refused():
    with pytest.raises(ValueError, match="node and link"):
        adaglt(torch.nn.Linear(2, 2), SimpleNamespace(task="graph"), graph_targets=[0.2],
               weight_targets=[0.2])


def test_search_entry_point(sbm, units):
    method = OneShotMethod("adaglt", adaglt, "linear")
    assert {"search_epochs", "temperature", "edge_reg", "weight_reg", "threshold_coef",
            "explainer_hidden", "weight_granularity"} == method.option_names()
    targets = Targets.from_arguments(levels=[1, 2], p_graph=0.2, p_weight=0.2)
    model = _model(sbm)
    results = method.search(model, sbm, targets, train_config=TrainConfig(epochs=2, seed=0),
                            method_options={"search_epochs": 3, "explainer_hidden": 8})
    assert len(results) == 2
    assert_level_counts(results, units.count, _weights_total(model, "linear"), 0.2, 0.2)


def test_explainer_scores_are_the_same_for_csr_features(sbm):
    """Bag-of-words features stay CSR (a sparse product): same scores and gradients."""
    units = EdgeUnits(sbm)
    options = {"hidden": 8, "coef": 0.1, "temperature": 0.1, "seed": 0}
    dense = AdaGLTEdgeMask(units, sbm.data.x, 2, **options)
    sparse = AdaGLTEdgeMask(units, sbm.data.x.to_sparse_csr(), 2, **options)
    a, b = dense.scores(), sparse.scores()
    assert torch.allclose(a, b, atol=1e-5)
    a.sum().backward()
    b.sum().backward()
    assert torch.allclose(dense.hidden.weight.grad, sparse.hidden.weight.grad, atol=1e-5)
