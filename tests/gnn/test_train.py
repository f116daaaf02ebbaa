"""Tests of graphsparse.gnn.train: the trainer, the evaluator and the plug-in points.

Node tasks on the synthetic SBM graph (hidden 16, tens of epochs) plus one short Cora run;
link prediction on a synthetic split of the SBM graph scored with OGB's ogbl-ddi evaluator
(Hits@20) and on a slice of ogbl-ddi; graph prediction on a stratified slice of ogbg-molbace
(shared data; skipped if absent).
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch_geometric.data import Data

from graphsparse import paths
from graphsparse.gnn.accounting import count_weight_sparsity
from graphsparse.gnn.data import load_dataset
from graphsparse.gnn.edges import TrainableEdgeMask, mask_graph, tie_directions
from graphsparse.gnn.models import build_model
from graphsparse.gnn.train import (
    TrainHooks,
    TrainResult,
    evaluate,
    measure_inference,
    predict,
    spmm_propagation,
    train_model,
)
from graphsparse.gnn.train import tasks as train_tasks
from graphsparse.masks import (
    attach,
    kept_count,
    magnitude_scores,
    masks_of,
    named_tensors,
    random_scores,
    topk_masks,
)

DATA = paths.data_root()



@pytest.fixture(scope="module")
def sbm():
    return load_dataset("sbm")


def _gcn(ds, name="gcn", seed=0, **cfg):
    torch.manual_seed(seed)
    return build_model(name, ds.num_features, ds.num_classes, hidden=16, **cfg)


def _train(model, ds, **kwargs):
    kwargs.setdefault("epochs", 20)
    return train_model(model, ds, progress=False, **kwargs)


def test_learns_sbm_above_chance(sbm):
    result = _train(_gcn(sbm), sbm, epochs=30, time_inference=True)
    assert isinstance(result, TrainResult) and result.metric == "acc"
    assert result.test > 0.8 and result.val > 0.8  # chance is 0.25
    assert result.epochs == 30 == len(result.history)
    assert 1 <= result.best_epoch <= 30
    assert result.history[result.best_epoch - 1].best
    assert result.val == max(r.val for r in result.history)
    assert result.seconds >= result.train_seconds + result.eval_seconds > 0
    assert result.inference_seconds is not None and result.inference_seconds > 0
    row = result.to_dict()
    assert row["test"] == result.test and "best_state" not in row and len(row["history"]) == 30


@pytest.mark.parametrize("name,cfg", [("gin", {}), ("sage", {}),
                                      ("gat", {"heads": 2, "attn_dropout": 0.0})])
def test_other_backbones_train(name, cfg, sbm):
    model = _gcn(sbm, name, dropout=0.2, input_dropout=0.0, **cfg)
    result = _train(model, sbm, epochs=15, lr=0.05)
    assert result.test > 0.4  # chance is 0.25


def test_same_seed_is_bit_identical(sbm):
    runs = [_train(_gcn(sbm), sbm, seed=7, epochs=10) for _ in range(2)]
    assert runs[0].val == runs[1].val and runs[0].test == runs[1].test
    assert [r.loss for r in runs[0].history] == [r.loss for r in runs[1].history]
    assert all(torch.equal(runs[0].best_state[k], runs[1].best_state[k])
               for k in runs[0].best_state)


def test_global_rng_untouched(sbm):
    model = _gcn(sbm)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _train(model, sbm, epochs=2)
    assert torch.equal(torch.rand(3), expected)


def test_best_state_is_restored(sbm):
    model = _gcn(sbm)
    result = _train(model, sbm, epochs=15, lr=0.05)
    assert all(torch.equal(v, result.best_state[k]) for k, v in model.state_dict().items())
    again = evaluate(model, sbm)
    assert again == {"metric": "acc", "val": result.val, "test": result.test}


def test_masked_weights_stay_zero(sbm):
    model = _gcn(sbm, bias=True)
    masks = topk_masks(random_scores(model, seed=0), 0.8, scope="global")
    attach(model, masks)
    _train(model, sbm, epochs=10, weight_decay=0.0)
    for name, tensor in named_tensors(model, "linear").items():
        assert bool((tensor[~masks[name]] == 0).all())
        assert torch.equal(masks_of(model)[name], masks[name])
    report = count_weight_sparsity(model, "linear")
    assert report.kept == kept_count(report.numel, 0.8)


@pytest.mark.parametrize("mode", ["remove", "message", "weight"])
def test_edge_mask_modes_agree_for_a_binary_mask(mode, sbm):
    tied = tie_directions(sbm.data.edge_index)
    keep = tied.expand(torch.arange(tied.num_pairs) % 2 == 0)
    mask = keep if mode == "remove" else keep.float()
    result = _train(_gcn(sbm), sbm, epochs=5, edge_mask=mask, mode=mode)
    reference = _train(_gcn(sbm), dataclasses.replace(
        sbm, data=Data(x=sbm.data.x, y=sbm.data.y, edge_index=sbm.data.edge_index[:, keep])),
        epochs=5)
    assert result.val == pytest.approx(reference.val, abs=1e-6)
    assert result.test == pytest.approx(reference.test, abs=1e-6)


@pytest.mark.parametrize("mask", [None, "half"])
def test_gcn_spmm_propagation_equals_the_edge_list_path(mask, sbm, monkeypatch):
    assert spmm_propagation(_gcn(sbm))
    assert not spmm_propagation(_gcn(sbm, "sage"))
    edge_mask = None
    if mask == "half":
        tied = tie_directions(sbm.data.edge_index)
        edge_mask = tied.expand(torch.arange(tied.num_pairs) % 2 == 0)
    fast = _train(_gcn(sbm), sbm, epochs=10, edge_mask=edge_mask)
    monkeypatch.setattr(train_tasks, "spmm_propagation", lambda model: False)  # as make_task sees it
    slow = _train(_gcn(sbm), sbm, epochs=10, edge_mask=edge_mask)
    assert [r.loss for r in fast.history] == pytest.approx([r.loss for r in slow.history],
                                                           rel=1e-5, abs=1e-6)
    assert fast.val == pytest.approx(slow.val, abs=1e-6)
    assert fast.test == pytest.approx(slow.test, abs=1e-6)
    for name, tensor in fast.best_state.items():
        torch.testing.assert_close(tensor, slow.best_state[name], rtol=1e-4, atol=1e-5)


def test_spmm_is_skipped_with_input_self_loops(sbm):
    loops = torch.arange(sbm.data.num_nodes).repeat(2, 1)
    looped = dataclasses.replace(sbm, data=Data(
        x=sbm.data.x, y=sbm.data.y, edge_index=torch.cat([sbm.data.edge_index, loops], 1)))
    task = train_tasks.make_task(_gcn(sbm), looped, None, "remove", None, 0)
    assert task.spmm and task.propagate is task.edge_index   # plain edge list kept
    task = train_tasks.make_task(_gcn(sbm), sbm, None, "remove", None, 0)
    assert task.propagate.layout == torch.sparse_csr


class Recorder(TrainHooks):
    def __init__(self, constant=0.0, stop_at=None):
        self.constant, self.stop_at = constant, stop_at
        self.calls = {"extra_loss": 0, "after_backward": 0, "after_step": 0, "epoch": 0}
        self.extra = torch.zeros(2, requires_grad=True)
        self.shapes = []

    def parameters(self):
        return [self.extra]

    def extra_loss(self, ctx):
        self.calls["extra_loss"] += 1
        self.shapes.append((ctx.task, tuple(ctx.out.shape), tuple(ctx.inputs["index"].shape)))
        return torch.tensor(self.constant) + 0.0 * self.extra.sum()

    def after_backward(self, ctx):
        self.calls["after_backward"] += 1
        assert all(p.grad is not None for p in ctx.model.parameters())

    def after_step(self, ctx):
        self.calls["after_step"] += 1

    def on_epoch_end(self, record, model):
        self.calls["epoch"] += 1
        return self.stop_at is not None and record.epoch >= self.stop_at


def test_hooks_are_called_and_can_stop(sbm):
    groups = []

    def adam(param_groups):
        groups.extend(g["name"] for g in param_groups)
        return torch.optim.Adam(param_groups, lr=0.01)

    hook = Recorder(stop_at=3)
    result = _train(_gcn(sbm), sbm, epochs=10, hooks=[hook], optimizer=adam)
    assert result.epochs == 3 and result.stopped_early
    assert hook.calls == {"extra_loss": 3, "after_backward": 3, "after_step": 3, "epoch": 3}
    assert groups == ["model", "hooks"]
    n, c = sbm.data.num_nodes, sbm.num_classes
    assert hook.shapes[0] == ("node", (n, c), (int(sbm.split["train"].sum()),))


def test_extra_loss_adds_to_the_objective(sbm):
    plain = _train(_gcn(sbm), sbm, epochs=4)
    shifted = _train(_gcn(sbm), sbm, epochs=4, hooks=Recorder(constant=5.0))
    for a, b in zip(plain.history, shifted.history):
        assert b.loss == pytest.approx(a.loss + 5.0, abs=1e-5)
    assert plain.val == shifted.val


class ProjectL0(TrainHooks):
    """TEDDY-style projection: after each step keep the largest `keep` linear weights."""

    def __init__(self, sparsity):
        self.sparsity = sparsity

    def after_step(self, ctx):
        weights = named_tensors(ctx.model, "linear")
        masks = topk_masks(magnitude_scores(ctx.model), self.sparsity, scope="global")
        with torch.no_grad():
            for name, w in weights.items():
                w.masked_fill_(~masks[name], 0.0)


def test_after_step_projection_holds_at_the_best_epoch(sbm):
    model = _gcn(sbm)
    result = _train(model, sbm, epochs=10, hooks=ProjectL0(0.7))
    assert count_weight_sparsity(model, "linear").sparsity >= 0.7 - 1e-3
    assert result.test > 0.5


def test_trainable_edge_mask_is_trained_and_clamped(sbm):
    tied = tie_directions(sbm.data.edge_index)
    mask = TrainableEdgeMask(tied=tied)
    model = _gcn(sbm)
    groups = []

    def sgd(param_groups):
        groups.extend(g["name"] for g in param_groups)
        return torch.optim.Adam(param_groups, lr=0.05)

    result = _train(model, sbm, epochs=6, edge_mask=mask, mode="message", optimizer=sgd)
    values = mask.values.detach()
    assert groups == ["model", "edge_mask"]
    assert bool((values < 1).any()) and float(values.min()) >= 0 and float(values.max()) <= 1
    assert result.best_edge_mask_state is not None
    assert torch.equal(mask.values.detach(), result.best_edge_mask_state["values"])


def test_bad_arguments(sbm):
    model = _gcn(sbm)
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        train_model(model, sbm, epochs=0)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        train_model(model, sbm, epochs=1, lr=0)
    with pytest.raises(ValueError, match="mode must be one of 'remove', 'weight', 'message'"):
        train_model(model, sbm, epochs=1, edge_mask=torch.ones(4), mode="drop")
    with pytest.raises(ValueError, match="edge_mask has 4 entries but the dataset's mask graph"):
        train_model(model, sbm, epochs=1, edge_mask=torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="fractional"):
        train_model(model, sbm, epochs=1,
                    edge_mask=torch.full((sbm.data.num_edges,), 0.5), mode="remove")
    with pytest.raises(TypeError, match="LoadedDataset"):
        train_model(model, sbm.data, epochs=1)
    with pytest.raises(TypeError, match="TrainHooks"):
        train_model(model, sbm, epochs=1, hooks=[object()])


def test_cora_quick_run():
    if not (DATA / "Planetoid" / "Cora" / "raw").is_dir():
        pytest.skip("shared data absent: Cora not found")
    cora = load_dataset("cora")
    torch.manual_seed(0)
    model = build_model("gcn", cora.num_features, cora.num_classes)  # hidden 512, sparse x
    result = train_model(model, cora, epochs=4, lr=0.01, weight_decay=5e-4, progress=False)
    assert cora.data.x.layout == torch.sparse_csr
    assert result.test > 0.5 and result.metric == "acc"


# ----------------------------------------------------------------------------------------------
# link prediction
# ----------------------------------------------------------------------------------------------

def _link_dataset(sbm, features: bool):
    """The SBM graph's undirected edges split 80/10/10 into message edges and held-out pairs."""
    g = torch.Generator().manual_seed(0)
    tied = tie_directions(sbm.data.edge_index)
    pairs = tied.pairs[:, torch.randperm(tied.num_pairs, generator=g)].t()
    n_val = n_test = pairs.size(0) // 10
    train, val, test = pairs[n_val + n_test:], pairs[:n_val], pairs[n_val:n_val + n_test]
    n = sbm.data.num_nodes
    negatives = torch.randint(0, n, (2 * (n_val + n_test), 2), generator=g)
    split = {"train": {"edge": train},
             "valid": {"edge": val, "edge_neg": negatives[: 2 * n_val]},
             "test": {"edge": test, "edge_neg": negatives[2 * n_val:]}}
    message = torch.cat([train.t(), train.t().flip(0)], 1)
    data = Data(x=sbm.data.x if features else None, edge_index=message, num_nodes=n)
    return dataclasses.replace(sbm, name="sbm-link", task="link", target="link", data=data,
                               split=split, metric="hits@20", evaluator="ogbl-ddi",
                               num_classes=1, num_features=sbm.num_features if features else 0)


class PairCounter(TrainHooks):
    def __init__(self):
        self.positives, self.steps = 0, 0

    def extra_loss(self, ctx):
        self.positives += int(ctx.target.sum())
        self.steps += 1
        assert ctx.inputs["pairs"].shape == (2, ctx.out.numel())


def test_link_prediction_end_to_end(sbm):
    ds = _link_dataset(sbm, features=False)
    torch.manual_seed(0)
    model = build_model("sage", 0, 1, task="link", hidden=16, num_nodes=ds.data.num_nodes)
    counter = PairCounter()
    num_train = ds.split["train"]["edge"].size(0)
    # every message edge removed: supervision and negatives are untouched
    empty = torch.zeros(ds.data.edge_index.size(1), dtype=torch.bool)
    result = train_model(model, ds, epochs=2, batch_size=1024, edge_mask=empty, hooks=counter,
                         progress=False, time_inference=True, inference_repeats=1)
    assert counter.positives == 2 * num_train
    assert counter.steps == 2 * math.ceil(num_train / 1024)
    assert result.metric == "hits@20" and 0.0 <= result.test <= 1.0
    assert predict(model, ds).shape == (ds.data.num_nodes, 16)
    with pytest.raises(TypeError, match="decode"):
        train_model(build_model("gcn", 4, 1, hidden=4), ds, epochs=1, progress=False)


def test_link_prediction_learns_and_is_deterministic(sbm):
    ds = _link_dataset(sbm, features=True)
    results = []
    for _ in range(2):
        torch.manual_seed(0)
        model = build_model("gcn", ds.num_features, 1, task="link", hidden=16, decoder="dot")
        results.append(train_model(model, ds, epochs=8, lr=0.01, batch_size=2048, seed=3,
                                   progress=False))
    assert results[0].test == results[1].test and results[0].val == results[1].val
    assert [r.loss for r in results[0].history] == [r.loss for r in results[1].history]
    assert results[0].history[-1].loss < results[0].history[0].loss


def test_ogbl_ddi_slice():
    if not (DATA / "ogb" / "ogbl_ddi" / "RELEASE_v1.txt").is_file():
        pytest.skip("shared data absent: ogbl-ddi not found")
    ddi = load_dataset("ogbl-ddi")
    n = 200

    def inside(pairs):
        return pairs[(pairs < n).all(1)]

    edge_index = ddi.data.edge_index[:, (ddi.data.edge_index < n).all(0)]
    split = {part: {k: inside(v) for k, v in ddi.split[part].items()}
             for part in ("train", "valid", "test")}
    tiny = dataclasses.replace(ddi, data=Data(edge_index=edge_index, num_nodes=n), split=split)
    torch.manual_seed(0)
    model = build_model("gcn", 0, 1, task="link", hidden=16, num_nodes=n)
    tied = tie_directions(edge_index)
    keep = tied.expand(torch.arange(tied.num_pairs) % 2 == 0)
    result = train_model(model, tiny, epochs=2, batch_size=4096, edge_mask=keep, progress=False)
    assert result.metric == "hits@20" and 0.0 <= result.test <= 1.0


# ----------------------------------------------------------------------------------------------
# graph prediction
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bace_slice():
    if not (DATA / "ogb" / "ogbg_molbace" / "RELEASE_v1.txt").is_file():
        pytest.skip("shared data absent: ogbg-molbace not found")
    bace = load_dataset("ogbg-molbace")
    g = torch.Generator().manual_seed(0)
    picked = [bace.split[p][torch.randperm(len(bace.split[p]), generator=g)[:k]]
              for p, k in (("train", 48), ("valid", 24), ("test", 24))]
    index = torch.arange(96)
    return dataclasses.replace(bace, dataset=bace.dataset[torch.cat(picked)],
                               split={"train": index[:48], "valid": index[48:72],
                                      "test": index[72:]})


def test_graph_prediction_end_to_end(bace_slice):
    ds = bace_slice
    graph = mask_graph(ds)
    assert graph.edge_ptr[-1] == graph.num_edges == sum(
        ds.dataset[i].edge_index.size(1) for i in range(len(ds.dataset)))
    results = []
    for _ in range(2):
        torch.manual_seed(0)
        model = build_model("gin", ds.num_features, ds.num_classes, task="graph", hidden=16)
        results.append(train_model(model, ds, epochs=2, batch_size=16, seed=1, progress=False))
    assert results[0].metric == "rocauc" and 0.0 <= results[0].test <= 1.0
    assert results[0].test == results[1].test
    assert predict(model, ds).shape == (96, 1)
    assert measure_inference(model, ds, repeats=1) > 0


def test_graph_edge_mask_covers_every_molecule(bace_slice):
    ds = bace_slice
    graph = mask_graph(ds)
    torch.manual_seed(0)
    model = build_model("gcn", ds.num_features, ds.num_classes, task="graph", hidden=16)
    # remove mode with no edge kept == every molecule without edges
    nothing = torch.zeros(graph.num_edges, dtype=torch.bool)
    masked = evaluate(model, ds, edge_mask=nothing)
    bare = [ds.dataset[i] for i in range(len(ds.dataset))]
    for g in bare:
        g.edge_index, g.edge_attr = g.edge_index[:, :0], g.edge_attr[:0]
    assert masked == evaluate(model, dataclasses.replace(ds, dataset=bare))
    # a trainable mask over the global edge ids, sliced per batch, is trained
    mask = TrainableEdgeMask(tied=tie_directions(graph.edge_index))
    train_model(model, ds, epochs=1, batch_size=16, edge_mask=mask, mode="message", lr=0.05,
                progress=False)
    assert bool((mask.values.detach() < 1).any())
