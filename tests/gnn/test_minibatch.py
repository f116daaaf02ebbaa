"""Mini-batch training with neighbour sampling: settings, masks on global edge ids, exactness
against deleted edges and against full batch, gradients at sampled ids, every method's kept
counts, link prediction."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from graphsparse.gnn.data import load_dataset
from graphsparse.gnn.edges import TrainableEdgeMask, edge_mask, tie_directions
from graphsparse.gnn.experiment import find_ticket
from graphsparse.gnn.methods import METHODS
from graphsparse.gnn.models import build_model
from graphsparse.gnn.train import MiniBatch, train_model, training_settings
from graphsparse.gnn.train.minibatch import gather_rows
from graphsparse.gnn.train.minibatch import make_minibatch_task
from tests.gnn.test_train import _link_dataset as link_dataset

ALL = [-1, -1]


@pytest.fixture(scope="module")
def sbm():
    return load_dataset("sbm")


def _model(ds, name, seed=0, **cfg):
    torch.manual_seed(seed)
    cfg = {"hidden": 16, "dropout": 0.0, **cfg}
    return build_model(name, ds.num_features, ds.num_classes, **cfg)


def _deleted(ds, keep):
    """The dataset with the edges ``~keep`` physically deleted."""
    data = ds.data.clone()
    data.edge_index = ds.data.edge_index[:, keep]
    return dataclasses.replace(ds, data=data)


# ---------------------------------------------------------------------------------------------
# settings and bad input
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 0, "num_neighbors": [5]}, "batch_size"),
    ({"batch_size": 8, "num_neighbors": [5, -2]}, r"num_neighbors\[1\]"),
    ({"batch_size": 8, "num_neighbors": []}, "num_neighbors"),
    ({"batch_size": 8, "num_neighbors": [5], "evaluation": "exact"}, "evaluation"),
])
def test_minibatch_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MiniBatch(**kwargs)


def test_fanout_count_must_match_layers(sbm):
    with pytest.raises(ValueError, match="num_neighbors has 3 fan-outs but the model has 2"):
        train_model(_model(sbm, "sage"), sbm, epochs=1, progress=False,
                    minibatch=MiniBatch(32, [5, 5, 5]))


def test_graph_tasks_refuse_neighbour_sampling(sbm):
    ds = dataclasses.replace(sbm, task="graph")
    with pytest.raises(ValueError, match="graph task"):
        make_minibatch_task(_model(sbm, "gcn"), ds, None, "remove", 0, MiniBatch(8, ALL))


def test_gather_rows_keeps_sparse_features_sparse():
    x = (torch.rand(6, 5) > 0.5).float()
    index = torch.tensor([4, 0, 4, 2])
    rows = gather_rows(x.to_sparse_csr(), index)
    assert rows.layout == torch.sparse_csr
    assert torch.equal(rows.to_dense(), x[index])


# ---------------------------------------------------------------------------------------------
# masks act on global edge ids
# ---------------------------------------------------------------------------------------------

def _seed_outputs(task, model, nodes):
    return task.sampled_outputs(model, nodes)


def _mask_of(kind, keep):
    """A 0/1 edge mask ``keep`` in one of the forms the trainer takes, and its mode."""
    if kind == "bool":
        return keep, "remove"
    if kind == "float":
        return keep.float(), "message"
    mask = TrainableEdgeMask(keep.numel())
    if kind == "trainable-kept":  # pruned units: never sampled
        mask.set_kept(keep)
    else:  # "trainable-values": every edge sampled, the zeros applied by the conv hooks
        with torch.no_grad():
            mask.values.copy_(keep.float())
    return mask, "message"


@pytest.mark.parametrize("name", ["gcn", "sage", "gin", "gat"])
@pytest.mark.parametrize("kind", ["bool", "float", "trainable-kept", "trainable-values"])
def test_masked_minibatch_forward_equals_deleted_edges(sbm, name, kind):
    if name == "gcn" and kind == "trainable-values":
        pytest.skip("sampling through 0-valued edges changes which nodes GCN's sampled-degree "
                    "normalisation sees in full (PyG's mini-batch GCN is not exact)")
    model = _model(sbm, name).eval()
    keep = torch.rand(sbm.data.num_edges, generator=torch.Generator().manual_seed(1)) > 0.4
    nodes = torch.arange(0, sbm.data.num_nodes, 7)
    mask, mode = _mask_of(kind, keep)
    masked = make_minibatch_task(model, sbm, mask, mode, 0, MiniBatch(64, ALL, "sampled"))
    plain = make_minibatch_task(model, _deleted(sbm, keep), None, "remove", 0,
                                MiniBatch(64, ALL, "sampled"))
    if masked.gcn_norm is None:  # a soft mask: both with PyG's sampled-degree normalisation
        plain.gcn_norm = None
    got = _seed_outputs(masked, model, nodes)
    expected = _seed_outputs(plain, model, nodes)
    assert torch.allclose(got, expected, atol=1e-5)
    if name != "gcn" or kind == "bool":  # exact against full batch too (GCN under a soft
        # mask keeps PyG's sampled-degree normalisation)
        with torch.no_grad():
            full = model(sbm.data.x, sbm.data.edge_index[:, keep])[nodes]
        assert torch.allclose(got, full, atol=1e-5)


def test_gcn_uses_the_kept_graphs_degrees_and_the_sampling_estimator(sbm):
    """Fan-out 3 < degree: the weights of a target's sampled in-edges sum to its full
    normalised in-weight sum times deg/s (Chen et al. 2018, Eq. 3), in expectation exact."""
    model = _model(sbm, "gcn")
    task = make_minibatch_task(model, sbm, None, "remove", 0, MiniBatch(32, [3, 3]))
    batch = next(iter(task._node_loader(torch.arange(32))))
    edge_index, weights = task.gcn_norm.batch_weights(batch.n_id, batch.edge_index)
    degree = torch.bincount(sbm.data.edge_index[1], minlength=sbm.data.num_nodes).float() + 1
    src, dst = batch.n_id[edge_index[0]], batch.n_id[edge_index[1]]
    loops = src == dst
    assert torch.allclose(weights[loops], 1 / degree[src[loops]])
    target = batch.edge_index[1]
    sampled = torch.bincount(target, minlength=batch.n_id.numel()).float()[target]
    expected = (degree[src[~loops]] * degree[dst[~loops]]).rsqrt() \
        * (degree[dst[~loops]] - 1) / sampled
    assert torch.allclose(weights[~loops], expected)


def test_removed_edges_are_never_sampled(sbm):
    keep = torch.rand(sbm.data.num_edges, generator=torch.Generator().manual_seed(2)) > 0.5
    model = _model(sbm, "sage")
    task = make_minibatch_task(model, sbm, keep, "remove", 0, MiniBatch(50, [3, 3]))
    seen = torch.cat([b.e_id for b in task._node_loader(torch.arange(1000))])
    assert keep[seen].all() and seen.numel() > 0


def test_trainable_mask_gradient_exactly_at_sampled_ids(sbm):
    model = _model(sbm, "sage")
    mask = TrainableEdgeMask(sbm.data.num_edges)
    task = make_minibatch_task(model, sbm, mask, "message", 0, MiniBatch(16, [4, 4]))
    batch = next(iter(task._node_loader(torch.arange(16))))
    out = task._forward(model, batch)[: batch.batch_size]
    out.square().sum().backward()
    grad = mask.values.grad
    sampled = torch.zeros_like(grad, dtype=torch.bool)
    sampled[batch.e_id] = True
    assert (grad[~sampled] == 0).all()
    assert (grad[sampled] != 0).float().mean() > 0.9


@pytest.mark.parametrize("name", ["sage", "gin", "gat"])
def test_mask_gradients_equal_full_batch_when_batch_covers_all(sbm, name):
    """Fan-out -1 and every training node in one batch: the loss, hence the gradient of the
    trainable edge mask (tied, as UGS uses it), equals full batch (eval mode: no dropout
    draws, which would differ between the two)."""
    model = _model(sbm, name).eval()
    tied = tie_directions(sbm.data.edge_index)
    train = torch.nonzero(sbm.split["train"]).view(-1)

    def grad_of(loss_fn):
        mask = TrainableEdgeMask(tied=tied)
        with torch.no_grad():
            mask.values.uniform_(0.2, 1.0, generator=torch.Generator().manual_seed(3))
        loss_fn(mask).backward()
        return mask.values.grad

    def full(mask):
        with edge_mask(model, mask, "message"):
            out = model(sbm.data.x, sbm.data.edge_index)
        return F.cross_entropy(out[train], sbm.data.y[train])

    def mini(mask):
        task = make_minibatch_task(model, sbm, mask, "message", 0, MiniBatch(train.numel(), ALL))
        batch = next(iter(task._node_loader(train)))
        out = task._forward(model, batch)[: batch.batch_size]
        return F.cross_entropy(out, sbm.data.y[batch.n_id[: batch.batch_size]])

    expected, got = grad_of(full), grad_of(mini)
    assert expected.abs().sum() > 0
    assert torch.allclose(got, expected, atol=1e-6, rtol=1e-4)


# ---------------------------------------------------------------------------------------------
# training and methods
# ---------------------------------------------------------------------------------------------

def test_minibatch_training_learns_and_is_deterministic(sbm):
    def run():
        model = _model(sbm, "sage")
        return train_model(model, sbm, epochs=4, lr=0.01, progress=False,
                           minibatch=MiniBatch(64, [5, 5]))
    first, second = run(), run()
    assert first.test > 0.5 and first.evaluation == "full-graph"
    assert [r.loss for r in first.history] == [r.loss for r in second.history]
    assert first.test == second.test


def test_sampled_evaluation_is_recorded(sbm):
    result = train_model(_model(sbm, "gat"), sbm, epochs=1, progress=False,
                         minibatch=MiniBatch(128, [5, 5], "sampled"))
    assert result.evaluation == "sampled" and 0 <= result.test <= 1


def ticket_counts(ds, method, **kwargs):
    """(edges kept, weights kept) of a 2-epoch SAGE ticket at 30% / 50% sparsity."""
    rounds = {"rounds": 2} if method in ("ugs", "imp") else {}
    ticket = find_ticket(_model(ds, "sage"), ds, method=method, graph_sparsity=0.3,
                         weight_sparsity=0.5, epochs=2, progress=False, **rounds, **kwargs)
    return ticket.graph_sparsity["kept"], ticket.weight_sparsity["kept"]


@pytest.mark.parametrize("method", ["teddy", "ugs", "random", "magnitude", "imp", "jaccard",
                                    "adamic_adar"])
def test_every_method_keeps_the_same_counts_minibatch(sbm, method):
    assert ticket_counts(sbm, method, minibatch=MiniBatch(128, [5, 5])) \
        == ticket_counts(sbm, method)


def test_ugs_minibatch_round_prunes_global_lowest_values(sbm):
    rounds = []
    with training_settings(minibatch=MiniBatch(100, [5, 5])):
        METHODS["ugs"](_model(sbm, "sage"), sbm, graph_targets=[0.25], weight_targets=[0.5],
                       epochs=2, on_round=rounds.append)
    record = rounds[0]
    before, after = record.edge_kept_before, record.edge_kept_after
    candidates = before & record.prunable
    pruned = candidates & ~after
    assert pruned.any()
    assert record.edge_values[pruned].max() <= record.edge_values[candidates & after].min()
    for name, values in record.weight_values.items():
        kept, removed = record.weight_masks_after[name], ~record.weight_masks_after[name]
        if removed.any() and kept.any():
            # a global threshold: no removed weight value above the layer's smallest kept one
            assert values[removed].max() <= max(v[record.weight_masks_after[n]].min()
                                               for n, v in record.weight_values.items())


# ---------------------------------------------------------------------------------------------
# link prediction
# ---------------------------------------------------------------------------------------------

def _link_dataset(sbm):
    return link_dataset(sbm, features=False)


@pytest.mark.parametrize("evaluation", ["full-graph", "sampled"])
def test_link_prediction_minibatch(sbm, evaluation):
    ds = _link_dataset(sbm)

    def run():
        torch.manual_seed(0)
        model = build_model("sage", 0, 1, task="link", hidden=16, num_nodes=ds.data.num_nodes)
        return train_model(model, ds, epochs=2, lr=0.01, progress=False, seed=3,
                           minibatch=MiniBatch(256, [5, 5], evaluation))
    first, second = run(), run()
    assert first.evaluation == evaluation and 0 <= first.test <= 1
    assert [r.loss for r in first.history] == [r.loss for r in second.history]


def test_teddy_link_minibatch_distils_global_pairs(sbm):
    ds = _link_dataset(sbm)
    torch.manual_seed(0)
    model = build_model("sage", 0, 1, task="link", hidden=16, num_nodes=ds.data.num_nodes)
    ticket = find_ticket(model, ds, method="teddy", graph_sparsity=0.2, weight_sparsity=0.3,
                         epochs=2, progress=False, minibatch=MiniBatch(512, [5, 5]))
    assert ticket.graph_sparsity["kept"] > 0
