"""Faults of the hostile review (issue 13 items 5, 6 and 8), one test per fault.

(a) edge ids outside ``[0, num_nodes)`` are refused by every function taking an ``edge_index``;
(b) a kept count needs a binary mask: a soft or NaN mask raises instead of being counted;
(c) a tensor or model on the meta device (no data) raises a ValueError naming the argument and
    saying what to do, instead of reaching ``.item()`` (the sweep's meta-device config still
    works);
(d) the dense run is cached with its outputs (TEDDY's teacher) and reused on resume; a corrupt
    or mismatching cache is trained again with a notice.
"""

from __future__ import annotations

import importlib

import pytest
import torch

from graphsparse.gnn.data import load_dataset
from graphsparse.gnn.models import build_model

META = r"on the meta device \(no data\).*; materialise it first"
NEGATIVE = torch.tensor([[0, -1, 1, 2], [1, 0, 2, 1]])
PATH = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])


@pytest.fixture(scope="module")
def sbm():
    return load_dataset("sbm")


def _gcn(ds, seed=0):
    torch.manual_seed(seed)
    return build_model("gcn", ds.num_features, ds.num_classes, hidden=16)


# --------------------------------------------------------------------------------------------
# (a) edge ids in [0, num_nodes)
# --------------------------------------------------------------------------------------------

def _edge_calls():
    from graphsparse.gnn.accounting import sparsity_summary
    from graphsparse.gnn.edges import MaskGraph, count_graph_sparsity, edge_scores
    from graphsparse.gnn.edges.scores import adamic_adar_score, teddy_score

    return {
        "teddy": lambda ei, n: teddy_score(ei, n),
        "adamic_adar": lambda ei, n: adamic_adar_score(ei, n),
        "edge_scores": lambda ei, n: edge_scores("random", ei, n),
        "summary": lambda ei, n: sparsity_summary(
            build_model("gcn", 2, 2, hidden=2), MaskGraph(edge_index=ei, num_nodes=n,
                                                          directed=False)),
        "mask_graph": lambda ei, n: count_graph_sparsity(
            MaskGraph(edge_index=ei, num_nodes=n, directed=False)),
    }


@pytest.mark.parametrize("function", ["teddy", "adamic_adar", "edge_scores", "summary",
                                      "mask_graph"])
def test_edge_ids_outside_the_node_range_are_refused(function):
    """A negative id (already refused through tie_directions, the one shared entry point: a
    regression pin) and an id >= num_nodes (was "num_nodes=3 is smaller than edge_index.max() +
    1 = 4", no range) raise one ValueError naming edge_index and the allowed range."""
    call = _edge_calls()[function]
    for bad in (NEGATIVE, torch.tensor([[0, 3], [3, 0]])):
        with pytest.raises(ValueError, match=r"edge_index entries must lie in \[0, 3\)"):
            call(bad, 3)


# --------------------------------------------------------------------------------------------
# (b) counting needs a binary mask
# --------------------------------------------------------------------------------------------

def test_check_binary_mask():
    from graphsparse.checks import check_binary_mask

    assert check_binary_mask(torch.tensor([1.0, 0.0, 1.0]), "m").tolist() == [True, False, True]
    same = torch.tensor([True, False])
    assert check_binary_mask(same, "m") is same
    for odd in (0.5, float("nan"), 2.0, -1.0):
        with pytest.raises(ValueError, match=r"m must be binary to count kept entries"):
            check_binary_mask(torch.tensor([1.0, odd]), "m")
    with pytest.raises(TypeError, match="m must be a torch.Tensor"):
        check_binary_mask([1, 0], "m")


@pytest.mark.parametrize("value", [0.5, float("nan")])
def test_weight_count_refuses_a_soft_or_nan_mask_buffer(value):
    """A mask buffer that is not binary (here replaced by a float one) has no kept count: a
    ValueError naming the mask (before: a RuntimeError from torch.where deep inside the
    parametrization)."""
    from graphsparse.gnn.accounting import count_weight_sparsity
    from graphsparse.masks import attach

    lin = attach(torch.nn.Linear(2, 2), {"weight": torch.ones(2, 2, dtype=torch.bool)})
    lin.parametrizations.weight[0].mask = torch.full((2, 2), value)
    with pytest.raises(ValueError, match=r"the mask of 'weight' must be binary"):
        count_weight_sparsity(lin, "all")


def test_graph_count_refuses_a_soft_mask_through_the_summary():
    """Regression pin: sparsity_summary counts edges with count_graph_sparsity's binary rule."""
    from graphsparse.gnn.accounting import sparsity_summary

    with pytest.raises(ValueError, match="edge_mask must be binary"):
        sparsity_summary(build_model("gcn", 2, 2, hidden=2), PATH,
                         torch.tensor([1.0, 0.5, 0.0, 0.0]))


# --------------------------------------------------------------------------------------------
# (c) meta tensors never reach .item()
# --------------------------------------------------------------------------------------------

def _meta_calls():
    from graphsparse import masks as M
    from graphsparse.gnn.accounting import count_weight_sparsity
    from graphsparse.gnn.cost import graph_macs
    from graphsparse.gnn.edges import apply_edge_mask, count_graph_sparsity, tie_directions
    from graphsparse.gnn.edges.scores import jaccard_score, random_score, teddy_score
    from graphsparse.topology import NetworkGraph

    with torch.device("meta"):
        gcn = build_model("gcn", 4, 2, hidden=3)
        lin = torch.nn.Linear(4, 4)
    meta = {"w": torch.ones(4, device="meta")}
    meta_bool = {"w": torch.ones(4, dtype=torch.bool, device="meta")}
    ei = PATH.to("meta")
    return {
        "count_weight_sparsity": ("model", lambda: count_weight_sparsity(gcn, "all")),
        "sparsity_report": ("module", lambda: M.sparsity_report(gcn, "all")),
        "graph_macs": ("model", lambda: graph_macs(gcn, torch.ones(3, 4), PATH)),
        "macs": ("model", lambda: M.macs(lin, torch.ones(1, 4))),
        "csr_layers": ("model", lambda: M.csr_layers(lin)),
        "magnitude_scores": ("params", lambda: M.magnitude_scores(lin)),
        "snip_scores": ("model", lambda: M.snip_scores(lin, lambda m: m(torch.ones(1, 4)).sum())),
        "synflow_scores": ("model", lambda: M.synflow_scores(lin, (4,))),
        "save_model": ("model", lambda: M.save_model("unused.pt", lin, {})),
        "topk_masks": (r"scores\['w'\]", lambda: M.topk_masks(meta, 0.5)),
        "nm_masks": (r"scores\['w'\]", lambda: M.nm_masks({"w": torch.ones(2, 4, device="meta")},
                                                           2, 4)),
        "iou": (r"a\['w'\]", lambda: M.iou(meta_bool, meta_bool)),
        "save_masks": (r"masks\['w'\]", lambda: M.save_masks("unused.pt", meta_bool)),
        "drop_lowest": ("mask", lambda: M.drop_lowest(meta_bool["w"], torch.ones(4), 1)),
        "count_graph_sparsity": ("edge_index", lambda: count_graph_sparsity(ei)),
        "count_graph_sparsity mask": ("edge_mask", lambda: count_graph_sparsity(
            PATH, torch.ones(4, dtype=torch.bool, device="meta"))),
        "tie_directions": ("edge_index", lambda: tie_directions(ei)),
        "reduce": ("edge_mask", lambda: tie_directions(PATH).reduce(torch.ones(4, device="meta"))),
        "teddy_score": ("edge_index", lambda: teddy_score(ei)),
        "jaccard_score": ("edge_index", lambda: jaccard_score(ei, 3)),
        "random_score": ("edge_index", lambda: random_score(ei)),
        "apply_edge_mask": ("mask", lambda: apply_edge_mask(PATH, torch.ones(4, device="meta"))),
        "from_model": ("model", lambda: NetworkGraph.from_model(lin)),
        "from_masks": (r"masks\['fc'\]", lambda: NetworkGraph.from_masks(
            {"fc": torch.ones(3, 4, device="meta")})),
    }


@pytest.mark.parametrize("function", list(_meta_calls()))
def test_meta_device_inputs_raise_a_clear_error(function, tmp_path, monkeypatch):
    """Before: RuntimeError 'Tensor.item() cannot be called on meta tensors' or
    NotImplementedError 'Cannot copy out of meta tensor' from deep inside."""
    monkeypatch.chdir(tmp_path)
    name, call = _meta_calls()[function]
    with pytest.raises(ValueError, match=rf"^{name} (is|has tensors) {META}"):
        call()
    assert not list(tmp_path.iterdir())  # nothing was written


def test_meta_models_still_give_their_config_and_shapes(sbm):
    """What needs no values keeps working on the meta device: the sweep's config (built on the
    meta device to read the model's config) and shape-only random scores."""
    from graphsparse.gnn.experiment.sweep import sweep_config
    from graphsparse.masks import random_scores

    config = sweep_config(sbm, model="gcn", model_kwargs={"hidden": 16, "num_layers": 2},
                          hidden=16, num_layers=2,
                          train={"epochs": 1, "lr": 0.01, "weight_decay": 0.0},
                          weight_scope=None, method_options={})
    assert config["model_config"]["hidden"] == 16
    with torch.device("meta"):
        lin = torch.nn.Linear(4, 3)
    assert random_scores(lin, seed=0)["weight"].shape == (3, 4)


# --------------------------------------------------------------------------------------------
# (d) the dense run and TEDDY's teacher
# --------------------------------------------------------------------------------------------

def _modules():
    return (importlib.import_module("graphsparse.gnn.methods.dense"),
            importlib.import_module("graphsparse.gnn.methods.teddy"))


def _teddy_level(model, ds, level, checkpoint_dir, epochs=3):
    from graphsparse.gnn.experiment.targets import Targets
    from graphsparse.gnn.methods import TrainConfig, get_method

    targets = Targets.from_arguments(levels=[level], p_graph=0.2, p_weight=0.2)
    [level_result] = get_method("teddy").search(model, ds, targets,
                                                train_config=TrainConfig(epochs=epochs, seed=0),
                                                checkpoint_dir=checkpoint_dir)
    return level_result.result


def _forbid(monkeypatch, module, name):
    def fail(*args, **kwargs):
        raise AssertionError(f"{module.__name__}.{name} was called")
    monkeypatch.setattr(module, name, fail)


def test_a_resumed_teddy_run_reuses_the_cached_teacher(sbm, tmp_path, monkeypatch):
    """The dense baseline writes the cache; the first TEDDY level adds the teacher's outputs to
    it; a later (resumed) level neither trains the dense model nor evaluates it again, and
    gives the same ticket as a run without the cache."""
    from graphsparse.gnn.methods import TrainConfig
    from graphsparse.masks import load_file

    dense, teddy = _modules()
    model = _gcn(sbm)
    dense.train_dense(model, sbm, TrainConfig(epochs=3, seed=0), checkpoint_dir=tmp_path)
    path = tmp_path / "dense-seed0.pt"
    assert "outputs" not in load_file(path, "dense-run")[0]
    with monkeypatch.context() as patch:
        _forbid(patch, dense, "train_model")
        _teddy_level(model, sbm, 1, tmp_path)
    stored = load_file(path, "dense-run")[0]["outputs"]
    assert stored.shape == (sbm.data.num_nodes, sbm.num_classes)

    with monkeypatch.context() as patch:  # resume: no dense training, no teacher evaluation
        for module, name in ((dense, "train_model"), (dense, "predict"), (teddy, "predict")):
            _forbid(patch, module, name)
        resumed = _teddy_level(model, sbm, 2, tmp_path)
    fresh = _teddy_level(model, sbm, 2, None)
    assert (resumed.train.val, resumed.train.test) == (fresh.train.val, fresh.train.test)
    assert all(torch.equal(resumed.trained_state[k], fresh.trained_state[k])
               for k in fresh.trained_state)
    assert resumed.search_epochs == fresh.search_epochs


def test_dense_outputs_are_the_models_predictions(sbm, tmp_path):
    from graphsparse.gnn.methods import TrainConfig
    from graphsparse.gnn.train import predict

    dense, _ = _modules()
    config = TrainConfig(epochs=2, seed=0)
    trained, _, outputs = dense.dense_outputs(_gcn(sbm), sbm, config, checkpoint_dir=tmp_path)
    assert torch.equal(outputs, predict(trained, sbm))
    again, _, cached = dense.dense_outputs(_gcn(sbm), sbm, config, checkpoint_dir=tmp_path)
    assert torch.equal(cached, outputs)
    assert torch.equal(predict(again, sbm), outputs)


def test_a_mismatching_dense_cache_is_retrained_with_a_notice(sbm, tmp_path, monkeypatch):
    """Another run's cache (here other epochs) was retrained silently; now with a warning that
    names the file and what differs, and the file is replaced."""
    from graphsparse.gnn.methods import TrainConfig

    dense, _ = _modules()
    calls = []
    train_model = dense.train_model
    monkeypatch.setattr(dense, "train_model",
                        lambda *a, **k: calls.append(1) or train_model(*a, **k))
    dense.train_dense(_gcn(sbm), sbm, TrainConfig(epochs=2, seed=0), checkpoint_dir=tmp_path)
    with pytest.warns(UserWarning, match=r"dense-seed0\.pt' is another run's \(different "
                                         r"training settings.*training it again"):
        dense.train_dense(_gcn(sbm), sbm, TrainConfig(epochs=3, seed=0), checkpoint_dir=tmp_path)
    with pytest.warns(UserWarning, match=r"another run's \(different initial weights"):
        dense.train_dense(_gcn(sbm, seed=1), sbm, TrainConfig(epochs=3, seed=0),
                          checkpoint_dir=tmp_path)
    assert len(calls) == 3
    dense.train_dense(_gcn(sbm, seed=1), sbm, TrainConfig(epochs=3, seed=0),
                      checkpoint_dir=tmp_path)  # replaced: read back, no notice, no training
    assert len(calls) == 3


def test_a_corrupt_teacher_cache_is_rebuilt_with_a_notice(sbm, tmp_path):
    from graphsparse.gnn.methods import TrainConfig
    from graphsparse.masks import load_file

    dense, _ = _modules()
    config = TrainConfig(epochs=2, seed=0)
    _, _, outputs = dense.dense_outputs(_gcn(sbm), sbm, config, checkpoint_dir=tmp_path)
    path = tmp_path / "dense-seed0.pt"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.warns(UserWarning, match="unreadable.*training it again"):
        _, _, rebuilt = dense.dense_outputs(_gcn(sbm), sbm, config, checkpoint_dir=tmp_path)
    assert torch.equal(rebuilt, outputs)
    assert torch.equal(load_file(path, "dense-run")[0]["outputs"], outputs)


def test_load_masked_refuses_a_soft_mask_in_the_state_dict():
    from graphsparse.masks import attach, load_masked

    net = torch.nn.Sequential(torch.nn.Linear(4, 3))
    attach(net, {"0.weight": torch.ones(3, 4, dtype=torch.bool)})
    state = net.state_dict()
    key = next(k for k in state if k.endswith(".mask"))
    state[key] = torch.full((3, 4), 0.5)
    with pytest.raises(ValueError, match="must be binary"):
        load_masked(torch.nn.Sequential(torch.nn.Linear(4, 3)), state)


def test_counting_edge_mask_refuses_nan():
    from graphsparse.gnn.cost import counting_edge_mask

    with pytest.raises(ValueError, match="must be finite"):
        with counting_edge_mask(torch.tensor([1.0, float("nan")])):
            pass
