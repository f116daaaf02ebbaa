"""Tests of FastGLT (graphsparse.gnn.methods.fastglt) on the synthetic SBM graph (hidden 16,
few epochs): the prune-and-regrow rule on hand-made cases, exact kept counts after the one-shot
pruning and after every swap, pruned entries held at zero while denoising, determinism, option
checks, and the search entry point."""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import pytest
import torch

from graphsparse.gnn.data import load_dataset
from graphsparse.gnn.edges import TrainableEdgeMask
from graphsparse.gnn.experiment.targets import Targets
from graphsparse.gnn.methods._common import EdgeUnits, scope_names
from graphsparse.gnn.methods.base import OneShotMethod, TrainConfig
from graphsparse.gnn.methods.fastglt import (
    FastGLTDenoiser,
    cosine_fraction,
    degree_grow_score,
    fastglt,
    swap_count,
    swap_masks,
)
from graphsparse.gnn.models import build_model
from tests.gnn.conftest import assert_level_counts
from graphsparse.gnn.train import train_model
from graphsparse.masks import kept_count, named_tensors

FAST = {"epochs": 3, "lr": 0.02, "weight_decay": 5e-4, "seed": 0}
SEARCH = {"pretrain_epochs": 3, "denoise_epochs": 9, "update_interval": 3,
          "accumulation_epochs": 2}


@pytest.fixture(scope="module")
def sbm():
    return load_dataset("sbm")


def _gcn(ds, seed=0):
    torch.manual_seed(seed)
    return build_model("gcn", ds.num_features, ds.num_classes, hidden=16)


def _weights_total(model, scope):
    return sum(t.numel() for t in named_tensors(model, scope).values())


# ---------------------------------------------------------------------------------------------
# (a) the prune-and-regrow rule by hand
# ---------------------------------------------------------------------------------------------

KEPT = torch.tensor([True, True, True, False, False, False])
# |w| of the kept entries 0.5, 0.1, 0.9; pruned entries are held at 0
MAGNITUDE = torch.tensor([0.5, 0.1, 0.9, 0.0, 0.0, 0.0])
# |grad|: the kept entries' are large (they must never be "regrown"), pruned 0.2, 0.8, 0.3
GRADIENT = torch.tensor([5.0, 7.0, 6.0, 0.2, 0.8, 0.3])


def test_swap_drops_lowest_kept_magnitude_and_regrows_highest_pruned_gradient():
    # one swap: drop entry 1 (|w| 0.1), regrow entry 4 (|g| 0.8)
    assert swap_masks(KEPT, MAGNITUDE, GRADIENT, 1).tolist() == \
        [True, False, True, False, True, False]
    # two swaps: drop 1 and 0, regrow 4 and 5 (wrong rules would give other masks: regrowing by
    # the smallest gradient picks 3, dropping by the largest magnitude drops 2)
    assert swap_masks(KEPT, MAGNITUDE, GRADIENT, 2).tolist() == \
        [False, False, True, False, True, True]
    # zero swaps change nothing; three swap every entry
    assert torch.equal(swap_masks(KEPT, MAGNITUDE, GRADIENT, 0), KEPT)
    assert swap_masks(KEPT, MAGNITUDE, GRADIENT, 3).tolist() == [False] * 3 + [True] * 3


def test_swap_keeps_the_count_and_never_regrows_what_it_drops():
    torch.manual_seed(0)
    for _ in range(20):
        kept = torch.rand(50) < 0.4
        drop, grow = torch.rand(50), torch.rand(50)
        grow[kept] = 10.0  # kept entries have the largest grow scores: still never "regrown"
        count = swap_count(kept, 0.3)
        new = swap_masks(kept, drop, grow, count)
        assert int(new.sum()) == int(kept.sum())
        assert int((kept & ~new).sum()) == count == int((new & ~kept).sum())


def test_swap_count_and_cosine_fraction():
    kept = torch.tensor([True] * 7 + [False] * 3)
    assert swap_count(kept, 0.3) == 2          # floor(7 · 0.3)
    assert swap_count(kept, 1.0) == 3          # capped at the 3 pruned entries
    assert cosine_fraction(0.3, 0, 9) == pytest.approx(0.3)
    assert cosine_fraction(0.3, 3, 9) == pytest.approx(0.15 * (1 + math.cos(math.pi / 3)))
    assert cosine_fraction(0.3, 9, 9) == pytest.approx(0.0)


def test_degree_grow_score_on_a_path():
    """Path 0 - 1 - 2; degrees count the self-loop: (d_u d_v)^{-3/2} on the kept graph."""
    units = SimpleNamespace(tied=SimpleNamespace(pairs=torch.tensor([[0, 1], [1, 2]])),
                            prunable=torch.tensor([True, True]),
                            graph=SimpleNamespace(num_nodes=3))
    both = degree_grow_score(units, torch.tensor([True, True]))   # d = 2, 3, 2
    assert both.tolist() == pytest.approx([6 ** -1.5, 6 ** -1.5])
    first = degree_grow_score(units, torch.tensor([True, False]))  # d = 2, 2, 1
    assert first.tolist() == pytest.approx([4 ** -1.5, 2 ** -1.5])


# ---------------------------------------------------------------------------------------------
# (b) exact counts after the one-shot pruning and after every swap
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("edge_score, scope, s_g, s_w", [
    ("magnitude", "linear", 0.2, 0.5),
    ("magnitude", "all", 0.5, 0.8),
    ("teddy", "linear", 0.36, 0.2),
    ("teddy", "all", 0.6, 0.9),
])
def test_exact_counts(sbm, edge_score, scope, s_g, s_w):
    model = _gcn(sbm)
    units = EdgeUnits(sbm)
    want_edges = kept_count(units.count, s_g)
    want_weights = kept_count(_weights_total(model, scope), s_w)
    swaps = []
    result = fastglt(model, sbm, graph_targets=[s_g], weight_targets=[s_w], weight_scope=scope,
                     edge_score=edge_score, on_swap=swaps.append, **SEARCH, **FAST)
    assert [s["epoch"] for s in swaps] == [3, 6, 9]
    assert swaps[0]["edges_swapped"] > 0 and swaps[0]["weights_swapped"] > 0
    for swap in swaps:
        assert units.kept_count(swap["edge_keep"]) == want_edges
        assert sum(int(m.sum()) for m in swap["weight_masks"].values()) == want_weights
    for stage in result.rounds[1:]:  # one-shot, denoise, ticket
        assert (stage["edges_kept"], stage["weights_kept"]) == (want_edges, want_weights)
    assert result.graph_sparsity["kept"] == want_edges
    assert result.weight_sparsity["kept"] == want_weights
    kept_edges = result.edge_mask.view(-1)
    assert int(kept_edges.sum()) == 2 * want_edges  # undirected: both directions, no loops
    assert [s["stage"] for s in result.rounds] == ["pretrain", "one-shot", "denoise", "ticket"]
    assert result.search_epochs == 3 + 9 + 3


def test_teddy_one_shot_keeps_the_top_teddy_units(sbm):
    """With regrowth off (α = 0) the ticket's edges are exactly the top TEDDY units."""
    from graphsparse.gnn.edges import teddy_score

    units = EdgeUnits(sbm)
    result = fastglt(_gcn(sbm), sbm, graph_targets=[0.4], weight_targets=[0.3],
                     edge_score="teddy", regrow_fraction=0.0, **SEARCH, **FAST)
    want = units.select(teddy_score(units.graph.edge_index, units.graph.num_nodes), 0.4)
    assert torch.equal(result.edge_mask, units.expand(want))
    assert result.rounds[2]["swaps"] == 3 and result.rounds[2]["edges_swapped"] == 0


def test_pruned_entries_stay_zero_while_denoising(sbm):
    model, units = _gcn(sbm), EdgeUnits(sbm)
    names = scope_names(model, "linear")
    mask = TrainableEdgeMask(tied=units.tied)
    edge_keep = units.select(torch.rand(units.tied.num_pairs,
                                        generator=torch.Generator().manual_seed(1)), 0.5)
    weights = {n: torch.rand(t.shape, generator=torch.Generator().manual_seed(2)) < 0.5
               for n, t in named_tensors(model, "linear").items()}
    hook = FastGLTDenoiser(model, units, mask, edge_keep, weights, names, alpha=0.3,
                           interval=2, accumulation=1, total=5)
    train_model(model, sbm, epochs=5, edge_mask=mask, mode="message", hooks=hook,
                progress=False, restore_best=False)
    assert hook.swaps == 2
    assert bool((mask.values.detach()[~hook.edge_keep] == 0).all())
    assert bool((mask.values.detach()[hook.edge_keep & units.prunable] > 0).any())
    final = hook.weight_masks(hook.weight_keep)
    tensors = named_tensors(model, "linear")
    for name in names:
        assert bool((tensors[name].detach()[~final[name]] == 0).all())


# ---------------------------------------------------------------------------------------------
# (c) determinism
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("edge_score", ["magnitude", "random"])
def test_same_seed_same_masks(sbm, edge_score):
    runs = [fastglt(_gcn(sbm), sbm, graph_targets=[0.3], weight_targets=[0.6],
                    edge_score=edge_score, **SEARCH, **FAST) for _ in range(2)]
    assert torch.equal(runs[0].edge_mask, runs[1].edge_mask)
    assert runs[0].weight_masks.keys() == runs[1].weight_masks.keys()
    for name, m in runs[0].weight_masks.items():
        assert torch.equal(m, runs[1].weight_masks[name])
    assert runs[0].rounds == runs[1].rounds  # the stage records hold no wall-clock times


def test_model_is_not_modified(sbm):
    model = _gcn(sbm)
    before = copy.deepcopy(model.state_dict())
    fastglt(model, sbm, graph_targets=[0.3], weight_targets=[0.3], **SEARCH, **FAST)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


# ---------------------------------------------------------------------------------------------
# (d) option checks, before any training
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("options, name", [
    ({"edge_score": "degree"}, "edge_score"),
    ({"mode": "remove"}, "mode"),
    ({"pretrain_epochs": 0}, "pretrain_epochs"),
    ({"denoise_epochs": 0}, "denoise_epochs"),
    ({"epochs": 0}, "epochs"),
    ({"regrow_fraction": 1.5}, "regrow_fraction"),
    ({"regrow_fraction": -0.1}, "regrow_fraction"),
    ({"update_interval": 1}, "update_interval"),
    ({"update_interval": 3, "accumulation_epochs": 3}, "accumulation_epochs"),
    ({"accumulation_epochs": 0}, "accumulation_epochs"),
    ({"edge_l1": -1e-4}, "edge_l1"),
    ({"lr": 0.0}, "lr"),
    ({"weight_scope": "bias"}, "weight_scope"),
    ({"graph_targets": [1.0]}, "graph_targets"),
])
def test_bad_options_raise_before_training(sbm, options, name):
    def no_training(record):
        raise AssertionError("trained before checking the options")

    kwargs = {"graph_targets": [0.3], "weight_targets": [0.3], **SEARCH, **FAST, **options}
    with pytest.raises(ValueError, match=name):
        fastglt(_gcn(sbm), sbm, on_epoch=no_training, **kwargs)


# ---------------------------------------------------------------------------------------------
# (e) the search entry point
# ---------------------------------------------------------------------------------------------

def test_search_reports_every_level(sbm):
    method = OneShotMethod("fastglt", fastglt, "linear")
    assert {"edge_score", "regrow_fraction", "update_interval", "accumulation_epochs",
            "pretrain_epochs", "denoise_epochs", "edge_l1", "mode"} <= method.option_names()
    targets = Targets.from_arguments(levels=[1, 2], p_graph=0.2, p_weight=0.2)
    model, units = _gcn(sbm), EdgeUnits(sbm)
    results = method.search(model, sbm, targets, train_config=TrainConfig(epochs=3, seed=0),
                            method_options={"pretrain_epochs": 2, "denoise_epochs": 6})
    assert len(results) == 2
    assert_level_counts(results, units.count, _weights_total(model, "linear"), 0.2, 0.2)
