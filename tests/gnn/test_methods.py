"""Tests of graphsparse.gnn.methods on the synthetic SBM graph (hidden 16, few epochs):
UGS prunes the lowest-|m| entries of the trained masks, applies its L1 term, rewinds bit-exactly
and hits the geometric counts; TEDDY's L0 projection keeps exactly the target count after every
step and its edges are the top degree-score pairs; baselines hit the same counts."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Data

from graphsparse.gnn.data import load_dataset
from graphsparse.gnn.edges import teddy_score
from graphsparse.gnn.methods import (
    METHODS,
    Distillation,
    GraphTeacher,
    L0Projection,
    LinkTeacher,
    UGSPenalty,
    binary_kl,
    get_method,
    imp_ticket,
    random_ticket,
    make_teacher,
    reset_mask_values,
    structural_ticket,
    teddy,
    ugs,
)
from graphsparse.gnn.methods._common import EdgeUnits, initial_state, rewind
from graphsparse.gnn.models import build_model
from graphsparse.gnn.train import StepContext, TrainHooks, predict, train_model
from tests.gnn.test_train import bace_slice  # noqa: F401  (fixture: a slice of ogbg-molbace)
from graphsparse.masks import (
    attach,
    geometric_sparsity,
    kept_count,
    mask_values_of,
    masks_of,
    named_tensors,
    topk_masks,
)
from tests.gnn.test_train import _link_dataset as link_dataset

P = 0.2
FAST = {"epochs": 6, "lr": 0.02, "weight_decay": 5e-4, "seed": 0}



@pytest.fixture(scope="module")
def sbm():
    return load_dataset("sbm")


def _gcn(ds, seed=0, **cfg):
    torch.manual_seed(seed)
    return build_model("gcn", ds.num_features, ds.num_classes, hidden=16, **cfg)


def _grid(rounds, p=P):
    return [geometric_sparsity(p, k) for k in range(1, rounds + 1)]


@pytest.fixture(scope="module")
def ugs_run(sbm):
    """Three UGS rounds (p_g = p_θ = 0.2), every round recorded."""
    records = []
    model = _gcn(sbm)
    before = copy.deepcopy(model.state_dict())
    result = ugs(model, sbm, graph_targets=_grid(3), weight_targets=_grid(3), s1=1e-2,
                 s2=1e-2, on_round=records.append, **FAST)
    return model, before, result, records


def test_ugs_hits_the_geometric_counts(sbm, ugs_run):
    model, _, result, records = ugs_run
    units = EdgeUnits(sbm)
    n_weights = sum(t.numel() for t in named_tensors(model, "linear").values())
    assert [r.round for r in records] == [1, 2, 3]
    for r in records:
        s = geometric_sparsity(P, r.round)
        assert int((r.edge_kept_after & r.prunable).sum()) == kept_count(units.count, s)
        assert sum(int(m.sum()) for m in r.weight_masks_after.values()) == \
            kept_count(n_weights, s)
        # nested: nothing pruned earlier comes back
        assert not (r.edge_kept_after & ~r.edge_kept_before).any()
        for name, after in r.weight_masks_after.items():
            assert not (after & ~r.weight_masks_before[name]).any()
    # the ticket reports the same counts, over undirected edges without self-loops
    assert result.graph_sparsity["kept"] == kept_count(units.count, geometric_sparsity(P, 3))
    assert result.graph_sparsity["total"] == units.count
    assert result.weight_sparsity["kept"] == kept_count(n_weights, geometric_sparsity(P, 3))
    assert result.weight_sparsity["scope"] == "linear"
    # both directions of every pair agree
    assert units.tied.is_symmetric(result.edge_mask)
    assert result.search_epochs == 4 * FAST["epochs"]


def test_ugs_prunes_exactly_the_lowest_trained_mask_values(ugs_run):
    _, _, _, records = ugs_run
    for r in records:
        # the masks were trained (values moved away from their init 1)
        assert not torch.all(r.edge_values[r.edge_kept_before & r.prunable] == 1)
        # edges: every unit pruned this round has |m| <= every unit kept
        pruned = r.edge_kept_before & ~r.edge_kept_after & r.prunable
        kept = r.edge_kept_after & r.prunable
        assert pruned.any()
        assert float(r.edge_values[pruned].max()) <= float(r.edge_values[kept].min())
        # and the selection is exactly topk_masks over the kept units' |m|
        expected = topk_masks({"e": r.edge_values[r.prunable]}, r.graph_target,
                              within={"e": r.edge_kept_before[r.prunable]})["e"]
        assert torch.equal(r.edge_kept_after[r.prunable], expected)
        # weights: global over the scope, lowest |m_θ| among the kept entries
        names = list(r.weight_values)
        pruned_w = torch.cat([r.weight_values[n][r.weight_masks_before[n]
                                                 & ~r.weight_masks_after[n]] for n in names])
        kept_w = torch.cat([r.weight_values[n][r.weight_masks_after[n]] for n in names])
        assert pruned_w.numel() > 0
        assert float(pruned_w.max()) <= float(kept_w.min())
        expected_w = topk_masks(r.weight_values, r.weight_target,
                                within=r.weight_masks_before)
        assert all(torch.equal(expected_w[n], r.weight_masks_after[n]) for n in names)


def test_ugs_does_not_modify_the_model_and_keeps_theta0(ugs_run):
    model, before, result, _ = ugs_run
    for key, value in before.items():
        assert torch.equal(model.state_dict()[key], value)
        assert torch.equal(result.initial_state[key], value)
    assert not masks_of(model)


def test_ugs_checkpoint_resumes_to_the_same_result(sbm, ugs_run, tmp_path):
    _, _, full, _ = ugs_run
    path = tmp_path / "ugs.ckpt"
    kw = dict(graph_targets=_grid(3), weight_targets=_grid(3), s1=1e-2, s2=1e-2, **FAST)

    class Interrupt(Exception):
        pass

    def stop_after_two(record):
        if record.round == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        ugs(_gcn(sbm), sbm, checkpoint=path, on_round=stop_after_two, **kw)
    seen = []
    resumed = ugs(_gcn(sbm), sbm, checkpoint=path, on_round=seen.append, **kw)
    assert [r.round for r in seen] == [3]                   # rounds 1-2 came from the file
    assert torch.equal(resumed.edge_mask, full.edge_mask)
    assert all(torch.equal(resumed.weight_masks[n], full.weight_masks[n])
               for n in full.weight_masks)
    assert (resumed.train.val, resumed.train.test) == (full.train.val, full.train.test)
    assert resumed.rounds == full.rounds and resumed.search_epochs == full.search_epochs
    with pytest.raises(ValueError, match="different UGS search"):
        ugs(_gcn(sbm, seed=1), sbm, checkpoint=path, **kw)
    with pytest.raises(ValueError, match="different UGS search"):
        ugs(_gcn(sbm), sbm, checkpoint=path, **{**kw, "lr": 0.5})


def test_ugs_penalty_value_and_gradient(sbm):
    model = _gcn(sbm)
    units = EdgeUnits(sbm)
    from graphsparse.gnn.edges import TrainableEdgeMask

    edge_mask = TrainableEdgeMask(tied=units.tied)
    attach(model, {n: torch.ones_like(t, dtype=torch.bool)
                   for n, t in named_tensors(model, "linear").items()}, trainable=True)
    with torch.no_grad():
        edge_mask.values.mul_(0.5)
        kept = edge_mask.kept.clone()
        kept[0] = False                       # a pruned unit is not penalised
        edge_mask.set_kept(kept)
    values = mask_values_of(model)
    penalty = UGSPenalty(edge_mask, s1=0.1, s2=0.01)
    total = penalty.penalty(model)
    n_weights = sum(v.numel() for v in values.values())
    expected = 0.1 * 0.5 * (units.tied.num_pairs - 1) + 0.01 * n_weights
    assert float(total.detach()) == pytest.approx(expected, rel=1e-6)
    total.backward()
    assert torch.allclose(edge_mask.values.grad[1:], torch.full_like(edge_mask.values[1:], 0.1))
    assert float(edge_mask.values.grad[0]) == 0.0
    for v in values.values():
        assert torch.allclose(v.grad, torch.full_like(v, 0.01))
    with pytest.raises(ValueError, match="s1"):
        UGSPenalty(edge_mask, s1=-1.0, s2=0.0)


def test_ugs_l1_term_shrinks_the_masks(sbm):
    def masks_after_one_round(s):
        records = []
        ugs(_gcn(sbm), sbm, graph_targets=[0.1], weight_targets=[0.1], s1=s, s2=s,
            on_round=records.append, **FAST)
        r = records[0]
        return float(r.edge_values.mean()), float(torch.cat(
            [v.flatten() for v in r.weight_values.values()]).mean())

    plain_edges, plain_weights = masks_after_one_round(0.0)
    l1_edges, l1_weights = masks_after_one_round(0.5)
    assert l1_edges < plain_edges
    assert l1_weights < plain_weights


def test_rewind_is_bit_exact(sbm):
    model = _gcn(sbm)
    theta0 = initial_state(model)
    attach(model, {n: torch.rand(t.shape, generator=torch.Generator().manual_seed(0)) > 0.3
                   for n, t in named_tensors(model, "linear").items()}, trainable=True)
    train_model(model, sbm, epochs=5, progress=False)
    rewind(model, theta0)
    for name, value in theta0.items():
        prefix, _, tname = name.rpartition(".")
        owner = model.get_submodule(prefix)
        raw = owner.parametrizations[tname].original \
            if torch.nn.utils.parametrize.is_parametrized(owner, tname) else getattr(owner, tname)
        assert torch.equal(raw, value), name
    with pytest.raises(KeyError, match="matches no tensor"):
        rewind(model, {"convs.9.lin.weight": torch.zeros(1)})


class _CheckProjection(TrainHooks):
    """Runs after TEDDY's projection: the support has exactly the target count."""

    def __init__(self, projection: L0Projection, target: int) -> None:
        self.projection, self.target, self.steps = projection, target, 0

    def after_step(self, ctx: StepContext) -> None:
        mask = self.projection.last_mask
        assert sum(int(m.sum()) for m in mask.values()) == self.target
        tensors = named_tensors(ctx.model, "all")
        nonzero = sum(int(torch.count_nonzero(tensors[n])) for n in mask)
        assert nonzero <= self.target
        for n, m in mask.items():
            assert not torch.any(tensors[n][~m])
        self.steps += 1


def test_teddy_projection_keeps_exact_count_after_every_step(sbm, monkeypatch):
    T = importlib.import_module("graphsparse.gnn.methods.teddy")  # the module, not teddy()

    model = _gcn(sbm, bias=True)
    total = sum(t.numel() for t in named_tensors(model, "all").values())
    s_w = geometric_sparsity(0.1, 3)
    checkers = []
    original = T.L0Projection

    def spy(*args, **kwargs):
        projection = original(*args, **kwargs)
        checkers.append(_CheckProjection(projection, kept_count(total, s_w)))
        return projection

    monkeypatch.setattr(T, "L0Projection", spy)

    class _Lazy(TrainHooks):  # the checker of the projection created inside teddy()
        def after_step(self, ctx):
            checkers[0].after_step(ctx)

    result = teddy(model, sbm, graph_targets=_grid(3, 0.05), weight_targets=_grid(3, 0.1),
                   hooks=(_Lazy(),), **FAST)
    assert checkers[0].steps == FAST["epochs"]
    assert checkers[0].projection.steps == FAST["epochs"]
    assert result.weight_sparsity == {"scope": "all", "numel": total,
                                      "kept": kept_count(total, s_w),
                                      "sparsity": 1 - kept_count(total, s_w) / total}
    # the trained ticket is zero outside its masks
    for name, mask in result.weight_masks.items():
        assert not torch.any(result.trained_state[name][~mask])


def test_teddy_keeps_the_top_degree_score_pairs(sbm):
    result = teddy(_gcn(sbm), sbm, graph_targets=[0.3], weight_targets=[0.5], **FAST)
    units = EdgeUnits(sbm)
    keep = units.tied.reduce(result.edge_mask)
    scores = teddy_score(sbm.data.edge_index, sbm.data.num_nodes)
    assert int(keep.sum()) == kept_count(units.count, 0.3)
    assert float(scores[~keep].max()) <= float(scores[keep].min())
    assert [s["stage"] for s in result.rounds] == ["dense", "sparse"]
    assert result.search_epochs == 2 * FAST["epochs"]
    # nested across levels: a sparser level's edges are a subset
    sparser = teddy(_gcn(sbm), sbm, graph_targets=[0.5], weight_targets=[0.5],
                    teacher=torch.zeros(sbm.data.num_nodes, sbm.num_classes), **FAST)
    assert not (sparser.edge_mask & ~result.edge_mask).any()
    assert sparser.search_epochs == FAST["epochs"]          # teacher given: no dense run


def test_teddy_distillation_term_and_task_check(sbm):
    teacher = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    student = torch.randn(5, 3, generator=torch.Generator().manual_seed(1))
    hook = Distillation(teacher, lamb=0.7)
    ctx = StepContext(None, "node", 1, 0, student, None, torch.zeros(()), {}, None)
    p = teacher.softmax(-1)
    manual = 0.7 * (p * (p.log() - student.log_softmax(-1))).sum() / 5
    assert float(hook.extra_loss(ctx)) == pytest.approx(float(manual), rel=1e-5)
    other = dataclasses.replace(sbm, task="hypergraph")
    with pytest.raises(ValueError, match="node, link and graph tasks"):
        teddy(_gcn(sbm), other, graph_targets=[0.1], weight_targets=[0.1], **FAST)
    with pytest.raises(ValueError, match="for node tasks but the step's task is 'link'"):
        hook.extra_loss(dataclasses.replace(ctx, task="link"))


def test_teddy_graph_distillation_by_hand():
    logits = torch.tensor([[0.5], [-1.0], [2.0], [0.0]])
    batch = Data()
    batch.g_id = torch.tensor([2, 0])
    student = torch.tensor([[1.0], [0.0]])
    ctx = StepContext(None, "graph", 1, 0, student, None, torch.zeros(()), {"batch": batch}, None)
    hook = Distillation(GraphTeacher(logits, "binary"), lamb=0.5)
    manual = 0.5 * (_bernoulli_kl(2.0, 1.0) + _bernoulli_kl(0.5, 0.0)) / 2
    assert float(hook.extra_loss(ctx)) == pytest.approx(manual, rel=1e-5)
    classes = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0], [0.5, 0.5, -1.0]])
    batch.g_id = torch.tensor([1, 2])
    student = torch.tensor([[0.0, 0.0, 1.0], [2.0, -1.0, 0.0]])
    ctx = dataclasses.replace(ctx, out=student)
    hook = Distillation(GraphTeacher(classes, "multiclass"), lamb=1.0)
    p = classes[[1, 2]].softmax(-1)
    manual = (p * (p.log() - student.log_softmax(-1))).sum() / 2
    assert float(hook.extra_loss(ctx)) == pytest.approx(float(manual), rel=1e-5)
    with pytest.raises(ValueError, match="regression"):
        GraphTeacher(logits, "regression")
    with pytest.raises(ValueError, match="graph tasks but the step's task is 'node'"):
        hook.extra_loss(dataclasses.replace(ctx, task="node"))


def test_teddy_graph_prediction_hits_the_counts(bace_slice):
    ds = bace_slice
    units = EdgeUnits(ds)
    torch.manual_seed(0)
    model = build_model("gin", ds.num_features, ds.num_classes, task="graph", hidden=16)
    total = sum(t.numel() for t in named_tensors(model, "all").values())
    s_g, s_w = geometric_sparsity(0.05, 10), geometric_sparsity(0.2, 10)
    result = teddy(model, ds, graph_targets=[s_g], weight_targets=[s_w], **{**FAST, "epochs": 2})
    assert result.graph_sparsity["kept"] == kept_count(units.count, s_g)
    assert result.weight_sparsity["kept"] == kept_count(total, s_w)
    assert [s["stage"] for s in result.rounds] == ["dense", "sparse"]
    assert result.train.metric == "rocauc" and units.tied.is_symmetric(result.edge_mask)
    # the degree score is local to each molecule: on the union (node ids offset per graph, so
    # the first molecule's pairs come first) its scores equal the molecule's own
    g = ds.dataset[0]
    first = teddy_score(g.edge_index, g.num_nodes)
    union = teddy_score(units.graph.edge_index, units.graph.num_nodes)
    assert torch.allclose(union[: first.numel()], first)


def _bernoulli_kl(t, s):
    p, q = 1 / (1 + math.exp(-t)), 1 / (1 + math.exp(-s))
    return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))


def test_binary_kl_by_hand_and_zero_at_the_teacher():
    t = torch.tensor([0.0, 1.5, -3.0], dtype=torch.float64)
    s = torch.tensor([2.0, -0.5, 1.0], dtype=torch.float64)
    # e.g. t = 0, s = 2: 0.5·log(0.5/σ(2)) + 0.5·log(0.5/σ(-2)) = 0.43378
    expected = [_bernoulli_kl(a, b) for a, b in zip(t.tolist(), s.tolist())]
    assert binary_kl(t, s).tolist() == pytest.approx(expected, rel=1e-12)
    assert expected[0] == pytest.approx(0.433781, abs=1e-6)
    assert torch.equal(binary_kl(t, t), torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="one shape"):
        binary_kl(t, s[:2])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(-40, 40), st.floats(-40, 40)), min_size=1, max_size=8))
def test_binary_kl_is_non_negative(pairs):
    t, s = torch.tensor(pairs, dtype=torch.float32).t()
    kl = binary_kl(t, s)
    assert bool((kl >= 0).all()) and bool(torch.isfinite(kl).all())
    assert not binary_kl(s, s).any()


def _link_dataset(sbm):
    return link_dataset(sbm, features=True)


def _link_gcn(ds, decoder="mlp"):
    torch.manual_seed(0)
    return build_model("gcn", ds.num_features, 1, task="link", hidden=16, decoder=decoder)


def test_link_distillation_term_is_the_mean_binary_kl(sbm):
    ds = _link_dataset(sbm)
    dense = _link_gcn(ds)
    teacher = make_teacher(dense, ds)
    assert isinstance(teacher, LinkTeacher)
    pairs = torch.tensor([[0, 5, 9, 2], [1, 7, 3, 8]])
    student = torch.tensor([0.3, -1.0, 2.0, 0.0], requires_grad=True)
    ctx = StepContext(None, "link", 1, 0, student, None, torch.zeros(()), {"pairs": pairs}, None)
    term = Distillation(teacher, lamb=0.7).extra_loss(ctx)
    t = dense.eval().decode(predict(dense, ds), pairs).detach()
    expected = 0.7 * binary_kl(t, student.detach()).mean()
    assert float(term.detach()) == pytest.approx(float(expected), rel=1e-5)
    term.backward()
    assert student.grad is not None and bool(student.grad.any())
    with pytest.raises(ValueError, match="node logits .* a LinkTeacher .* GraphTeacher"):
        Distillation(torch.zeros(4))


def test_teddy_link_prediction_hits_the_counts(sbm):
    ds = _link_dataset(sbm)
    units = EdgeUnits(ds)
    model = _link_gcn(ds)
    total = sum(t.numel() for t in named_tensors(model, "all").values())
    s_g, s_w = geometric_sparsity(0.05, 3), geometric_sparsity(0.1, 3)
    kw = {**FAST, "epochs": 2}
    result = teddy(model, ds, graph_targets=[s_g], weight_targets=[s_w], **kw)
    assert result.graph_sparsity["kept"] == kept_count(units.count, s_g)
    assert result.weight_sparsity["kept"] == kept_count(total, s_w)
    assert result.weight_sparsity["numel"] == total
    assert [s["stage"] for s in result.rounds] == ["dense", "sparse"]
    assert result.search_epochs == 4 and result.train.metric == "hits@20"
    assert units.tied.is_symmetric(result.edge_mask)
    for name, mask in result.weight_masks.items():
        assert not torch.any(result.trained_state[name][~mask])
    with pytest.raises(ValueError, match="node-task teacher but the dataset's task is 'link'"):
        teddy(model, ds, graph_targets=[s_g], weight_targets=[s_w],
              teacher=torch.zeros(ds.data.num_nodes, 2), **kw)


@pytest.mark.parametrize("method", ["random", "jaccard", "adamic_adar", "magnitude"])
def test_one_shot_baselines_hit_the_counts(sbm, method):
    units = EdgeUnits(sbm)
    model = _gcn(sbm)
    n_weights = sum(t.numel() for t in named_tensors(model, "linear").values())
    s_g, s_w = geometric_sparsity(0.05, 4), geometric_sparsity(0.2, 4)
    result = get_method(method)(model, sbm, graph_targets=[s_g], weight_targets=[s_w],
                                weight_scope="linear", **FAST)
    assert result.graph_sparsity["kept"] == kept_count(units.count, s_g)
    assert result.weight_sparsity["kept"] == kept_count(n_weights, s_w)
    assert units.tied.is_symmetric(result.edge_mask)


def test_structural_scores_choose_different_edges_and_random_is_seeded(sbm):
    kw = dict(graph_targets=[0.4], weight_targets=[0.4], **FAST)
    jac = structural_ticket(_gcn(sbm), sbm, edge_score="jaccard", **kw)
    aa = structural_ticket(_gcn(sbm), sbm, edge_score="adamic_adar", **kw)
    rnd = random_ticket(_gcn(sbm), sbm, **kw)
    assert not torch.equal(jac.edge_mask, rnd.edge_mask)
    assert not torch.equal(aa.edge_mask, rnd.edge_mask)
    again = random_ticket(_gcn(sbm), sbm, **kw)
    assert torch.equal(rnd.edge_mask, again.edge_mask)
    assert all(torch.equal(rnd.weight_masks[n], again.weight_masks[n]) for n in rnd.weight_masks)
    assert rnd.train.test == again.train.test
    with pytest.raises(ValueError, match="valid scores"):
        structural_ticket(_gcn(sbm), sbm, edge_score="resistance", **kw)


def test_imp_rounds_hit_the_geometric_counts(sbm):
    model = _gcn(sbm)
    units = EdgeUnits(sbm)
    n_weights = sum(t.numel() for t in named_tensors(model, "linear").values())
    levels = {}
    result = imp_ticket(model, sbm, graph_targets=_grid(3, 0.05), weight_targets=_grid(3),
                        on_round=lambda k, edges, weights: levels.update({k: (edges, weights)}),
                        **FAST)
    for r in result.rounds:
        assert r["edges_kept"] == kept_count(units.count, geometric_sparsity(0.05, r["round"]))
        assert r["weights_kept"] == kept_count(n_weights, geometric_sparsity(P, r["round"]))
        edges, weights = levels[r["round"]]  # the hook hands over the level's masks
        assert units.kept_count(units.tied.reduce(edges)) == r["edges_kept"]
        assert sum(int(m.sum()) for m in weights.values()) == r["weights_kept"]
    assert torch.equal(levels[3][0], result.edge_mask)
    assert result.search_epochs == 4 * FAST["epochs"]


def test_imp_late_rewinding_starts_every_ticket_from_the_epoch_k_weights(sbm):
    """rewind_epoch k: the tickets start from the dense weights after k epochs (Frankle et al.
    2020), not θ₀, and train the remaining epochs - k."""
    model = _gcn(sbm)
    k = 2
    dense = copy.deepcopy(model)
    train_model(dense, sbm, epochs=k, lr=FAST["lr"], weight_decay=FAST["weight_decay"],
                seed=FAST["seed"], restore_best=False, progress=False)
    result = imp_ticket(model, sbm, graph_targets=_grid(2, 0.05), weight_targets=_grid(2),
                        rewind_epoch=k, **FAST)
    early = dense.state_dict()
    assert all(torch.equal(result.initial_state[n], early[n]) for n in early)
    assert not torch.equal(result.initial_state["convs.0.lin.weight"],
                           model.state_dict()["convs.0.lin.weight"])
    assert result.search_epochs == 3 * (FAST["epochs"] - k)
    with pytest.raises(ValueError, match=r"rewind_epoch must be an int in \[0, 5\]"):
        imp_ticket(model, sbm, graph_targets=[0.1], weight_targets=[0.1], rewind_epoch=6,
                   **FAST)


def test_ugs_mask_lr_gives_the_masks_their_own_learning_rate(sbm, monkeypatch):
    """mask_lr: one Adam, the weights at lr and every mask (edge + weight masks) at mask_lr."""
    seen = []
    real = torch.optim.Adam

    def spy(groups, **kwargs):
        seen.append([(g.get("lr", kwargs.get("lr")), len(g["params"])) for g in groups])
        return real(groups, **kwargs)
    monkeypatch.setattr(torch.optim, "Adam", spy)
    model = _gcn(sbm)
    n_masks = len(named_tensors(model, "linear")) + 1  # weight masks + the edge mask
    ugs(model, sbm, graph_targets=[0.05], weight_targets=[0.2], mask_lr=0.5, **FAST)
    n_weights = len([p for p in model.parameters()])
    assert seen[0] == [(FAST["lr"], n_weights), (0.5, n_masks)]
    with pytest.raises(ValueError, match="mask_lr must be a finite number > 0"):
        ugs(model, sbm, graph_targets=[0.05], weight_targets=[0.2], mask_lr=0.0, **FAST)


def test_ugs_untied_directions_prune_directed_edges(sbm):
    """tie_directions=False: one mask entry per direction (UGS's dense N×N mask), exact counts
    over directed edges, and the two directions of a pair are pruned independently."""
    records = []
    result = ugs(_gcn(sbm), sbm, graph_targets=_grid(2), weight_targets=_grid(2),
                 tie_directions=False, on_round=records.append, **FAST)
    directed = EdgeUnits(sbm, per_direction=True)
    tied = EdgeUnits(sbm)
    assert directed.count == 2 * tied.count == int(sbm.data.edge_index.size(1))
    assert result.graph_sparsity["scope"] == "directed edges, self-loops excluded"
    assert result.graph_sparsity["total"] == directed.count
    assert result.graph_sparsity["kept"] == kept_count(directed.count, geometric_sparsity(P, 2))
    assert records[0].edge_values.numel() == directed.tied.num_pairs
    # some pair keeps one direction only (with tied units this is impossible)
    assert not tied.tied.is_symmetric(result.edge_mask)
    with pytest.raises(TypeError, match="tie_directions must be True or False"):
        ugs(_gcn(sbm), sbm, graph_targets=[0.1], weight_targets=[0.1], tie_directions=0,
            **FAST)


def test_ugs_init_noise_is_the_reference_multiplicative_draw(sbm):
    """init_noise=c: mask values 1 · (1 - U(0, 2c)) from the round's seed, edge mask first."""
    model = _gcn(sbm)
    attach(model, {n: torch.ones_like(t, dtype=torch.bool)
                   for n, t in named_tensors(model, "linear").items()}, trainable=True)
    units = EdgeUnits(sbm)
    from graphsparse.gnn.edges import TrainableEdgeMask
    edge_mask = TrainableEdgeMask(tied=units.tied)
    with torch.no_grad():
        reset_mask_values(model, edge_mask, noise=0.1,
                          generator=torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    expected_edges = 1 - 0.2 * torch.rand(units.tied.num_pairs, generator=gen)
    assert torch.allclose(edge_mask.values.detach(), expected_edges)
    values = torch.cat([v.detach().flatten() for v in mask_values_of(model).values()])
    assert 0.8 <= float(values.min()) < 0.85 and 0.95 < float(values.max()) <= 1.0
    with torch.no_grad():
        reset_mask_values(model, edge_mask)
    assert torch.all(edge_mask.values == 1)
    assert all(torch.all(v == 1) for v in mask_values_of(model).values())
    with pytest.raises(ValueError, match=r"init_noise must be a number in \[0, 1\]"):
        ugs(_gcn(sbm), sbm, graph_targets=[0.1], weight_targets=[0.1], init_noise=2.0, **FAST)
    # deterministic per seed
    runs = [ugs(_gcn(sbm), sbm, graph_targets=[0.2], weight_targets=[0.2], init_noise=1e-3,
                **FAST).edge_mask for _ in range(2)]
    assert torch.equal(runs[0], runs[1])


@pytest.mark.parametrize("name", ["gin", "gat", "sage"])
def test_ugs_and_teddy_on_other_backbones(sbm, name):
    """Message mode masks sum (GIN), softmax (GAT) and mean (SAGE) aggregation; counts hold."""
    units = EdgeUnits(sbm)
    extra = {"heads": 2} if name == "gat" else {}
    for method, scope in ((ugs, "linear"), (teddy, "all")):
        torch.manual_seed(0)
        model = build_model(name, sbm.num_features, sbm.num_classes, hidden=16, **extra)
        n_weights = sum(t.numel() for t in named_tensors(model, scope).values())
        result = method(model, sbm, graph_targets=_grid(2), weight_targets=_grid(2),
                        weight_scope=scope, epochs=2, seed=0)
        assert result.graph_sparsity["kept"] == kept_count(units.count, _grid(2)[-1])
        assert result.weight_sparsity["kept"] == kept_count(n_weights, _grid(2)[-1])


def test_bad_inputs(sbm):
    with pytest.raises(ValueError, match="valid methods: 'ugs', 'teddy', 'random'"):
        get_method("wd-glt")
    assert set(METHODS) == {"ugs", "teddy", "random", "magnitude", "imp", "jaccard",
                            "adamic_adar", "fastglt", "adaglt"}
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        ugs(_gcn(sbm), sbm, graph_targets=[1.0], weight_targets=[0.1], **FAST)
    with pytest.raises(ValueError, match="same length"):
        ugs(_gcn(sbm), sbm, graph_targets=[0.1, 0.2], weight_targets=[0.1], **FAST)
    with pytest.raises(ValueError, match="non-decreasing"):
        imp_ticket(_gcn(sbm), sbm, graph_targets=[0.2, 0.1], weight_targets=[0.1, 0.2], **FAST)
    with pytest.raises(ValueError, match="weight_scope"):
        random_ticket(_gcn(sbm), sbm, graph_targets=[0.1], weight_targets=[0.1],
                      weight_scope="bias", **FAST)
    masked = attach(_gcn(sbm), {"convs.0.lin.weight": torch.ones(16, sbm.num_features,
                                                                  dtype=torch.bool)})
    with pytest.raises(ValueError, match="already carries weight masks"):
        random_ticket(masked, sbm, graph_targets=[0.1], weight_targets=[0.1], **FAST)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_corrupt_dense_cache_is_retrained_with_a_notice(sbm, tmp_path, damage):
    """The dense run (the baseline row and TEDDY's teacher) is cached per seed; a damaged cache
    file is trained again, with a warning, and gives the same run as an intact one."""
    from graphsparse.gnn.methods import TrainConfig
    from graphsparse.gnn.methods.dense import train_dense

    config = TrainConfig(epochs=3, seed=0)
    first, result = train_dense(_gcn(sbm), sbm, config, checkpoint_dir=tmp_path)
    path = tmp_path / "dense-seed0.pt"
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        del data[len(data) // 2:]
    else:
        data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="unreadable.*training it again"):
        again, rerun = train_dense(_gcn(sbm), sbm, config, checkpoint_dir=tmp_path)
    assert rerun.test == result.test and rerun.best_epoch == result.best_epoch
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(),
                                                 again.state_dict().values()))
    cached, _ = train_dense(_gcn(sbm), sbm, config, checkpoint_dir=tmp_path)  # rewritten
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(),
                                                 cached.state_dict().values()))
