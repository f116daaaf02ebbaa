"""Residual CNNs with BatchNorm in the metanetwork-pruning zoo (arch ``"resnet"``,
graphsparse.metaprune.zoo and graphsparse.metaprune.resnet)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from graphsparse.metaprune import MetaNetwork, apply_metanet, from_graph, to_graph
from graphsparse.metaprune.prune import prune_structured
from graphsparse.metaprune.train import MetaTask, meta_train
from graphsparse.metaprune.resnet import BasicBlock, build_resnet
from graphsparse.metaprune.specs import _MENU
from graphsparse.metaprune.zoo import (
    ARCHS,
    DEFAULT_KINDS,
    MANIFEST,
    Zoo,
    ZooMember,
    ZooSpec,
    build_network,
    default_specs,
    example_input,
    load_zoo,
    make_zoo,
    zoo_data,
)


def _spec(dataset: str = "mnist5k", hidden=(8, 16), blocks: int = 1, seed: int = 0, **kw) -> ZooSpec:
    return ZooSpec(f"r-{dataset}-{seed}", "resnet", dataset, hidden, 0, seed=seed, epochs=kw.pop("epochs", 1),
                   lr=kw.pop("lr", 3e-3), blocks=blocks, **kw)


def _randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-default BatchNorm statistics and affine parameters (as after training)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g))
                m.running_var.copy_(torch.rand(m.num_features, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.randn(m.num_features, generator=g))
                m.bias.copy_(torch.randn(m.num_features, generator=g))
    return model


def _same_state(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


# ------------------------------------------------------------------------------- the network
def test_resnet_spec_builds_and_runs_every_menu_shape():
    assert "resnet" in ARCHS
    for dataset in ("digits", "mnist5k"):
        for hidden, blocks in _MENU[("resnet", dataset)]:
            spec = _spec(dataset, hidden, blocks)
            net = build_network(spec)
            assert [n for n, _ in net.named_children()] == (
                ["stem"] + [f"stage{j}" for j in range(len(hidden))] + ["pool", "flatten", "fc"])
            assert sum(isinstance(m, BasicBlock) for m in net.modules()) == blocks * len(hidden)
            assert sum(isinstance(m, nn.MaxPool2d) for m in net.modules()) == min(
                1 if dataset == "digits" else 2, len(hidden))
            x = torch.rand(3, *example_input(spec).shape[1:])
            assert example_input(spec).shape == ((1, 1, 8, 8) if dataset == "digits" else (1, 1, 28, 28))
            assert net(x).shape == (3, 10)
            assert to_graph(net).edge_index.shape[1] <= 5_000, (dataset, hidden, blocks)


def test_resnet_layout_and_seeding():
    net = build_resnet((4, 8, 8), blocks=2, max_pools=2)
    stage = net.stage1
    assert [n for n, _ in stage.named_children()] == ["transition", "block1", "block2"]
    assert isinstance(stage.transition[-1], nn.MaxPool2d) and isinstance(net.stage2.transition[-1], nn.MaxPool2d)
    assert not isinstance(net.stem[-1], nn.MaxPool2d)  # 2 pools go to the 2 transitions
    assert isinstance(build_resnet((8, 16), max_pools=2).stem[-1], nn.MaxPool2d)
    assert all(m.bias is None for m in net.modules() if isinstance(m, nn.Conv2d))
    spec = _spec(seed=5)
    assert _same_state(build_network(spec), build_network(spec))
    assert not _same_state(build_network(spec), build_network(_spec(seed=6)))
    with pytest.raises(ValueError, match="blocks must be an int >= 1"):
        build_resnet((4,), blocks=0)
    with pytest.raises(ValueError, match=r"hidden\[1\]"):
        build_resnet((4, 0))


# ------------------------------------------------------------------------------------- specs
def test_blocks_validation():
    assert _spec(blocks=3).blocks == 3
    assert ZooSpec("m", "mlp", "digits", (4,), 0, 0, 1, 0.1).blocks == 1
    for arch in ("mlp", "cnn"):
        with pytest.raises(ValueError, match=f"blocks must be 1 for arch '{arch}'"):
            ZooSpec("m", arch, "digits", (4,), 0, 0, 1, 0.1, blocks=2)
    with pytest.raises(ValueError, match="blocks must be an int >= 1, got 0"):
        _spec(blocks=0)
    with pytest.raises(TypeError, match="blocks must be an int >= 1, got 1.5"):
        _spec(blocks=1.5)
    with pytest.raises(ValueError, match="fc must be 0 for a resnet"):
        ZooSpec("r", "resnet", "digits", (4,), 8, 0, 1, 0.1)


def test_from_dict_without_blocks_and_round_trips():
    old = {"name": "cnn-digits-16x32-fc32-s1", "arch": "cnn", "dataset": "digits", "hidden": [16, 32],
           "fc": 32, "seed": 1, "epochs": 20, "lr": 0.003}   # a record written before `blocks`
    spec = ZooSpec.from_dict(old)
    assert spec.blocks == 1 and spec == default_specs(2)[1]
    assert spec.to_dict() == old    # mlp/cnn records keep their keys
    resnet = _spec(blocks=2)
    d = json.loads(json.dumps(resnet.to_dict()))
    assert d["blocks"] == 2 and ZooSpec.from_dict(d) == resnet
    assert ZooSpec.from_dict({k: v for k, v in d.items() if k != "blocks"}).blocks == 1
    with pytest.raises(ValueError, match=r"missing keys \['lr'\], unknown keys \['extra'\]"):
        ZooSpec.from_dict({**{k: v for k, v in old.items() if k != "lr"}, "extra": 1})
    with pytest.raises(ValueError, match="blocks must be 1 for arch 'cnn'"):
        ZooSpec.from_dict({**old, "blocks": 2})


def test_default_specs_names_unchanged():
    assert [s.name for s in default_specs(8)] == [
        "mlp-digits-64x32x32-s0", "cnn-digits-16x32-fc32-s1", "mlp-mnist5k-24x16-s2", "cnn-mnist5k-8-s3",
        "mlp-digits-100-s4", "cnn-digits-8x16x16-s5", "mlp-mnist5k-20-s6", "cnn-mnist5k-8x16-fc32-s7"]
    assert default_specs(36) == default_specs(36, kinds=DEFAULT_KINDS) == default_specs(36, 0, list(DEFAULT_KINDS))
    assert all(s.blocks == 1 and "blocks" not in s.to_dict() for s in default_specs(36))


def test_default_specs_with_resnet_kinds():
    kinds = [("resnet", "mnist5k"), ("mlp", "mnist5k")]
    specs = default_specs(12, kinds=kinds)
    assert [(s.arch, s.dataset) for s in specs] == kinds * 6
    assert specs == default_specs(12, kinds=[list(k) for k in kinds])
    resnets = specs[::2]
    assert {(s.hidden, s.blocks) for s in resnets} == set(_MENU[("resnet", "mnist5k")])
    for s in resnets:
        assert s.name == f"resnet-mnist5k-{'x'.join(map(str, s.hidden))}-b{s.blocks}-s{s.seed}" and s.fc == 0
    # the mlp members draw the same shapes as in the default zoo's mlp-mnist5k cycle
    assert [s.hidden for s in specs[1::2]][:4] == [s.hidden for s in default_specs(36)[2::4]][:4]
    both = default_specs(20, seed=3, kinds=[("resnet", "digits"), ("resnet", "mnist5k")])
    assert len({s.name for s in both}) == 20 and {s.arch for s in both} == {"resnet"}


@pytest.mark.parametrize("kinds", [[("rnn", "digits")], [("resnet", "cifar10")], [], "resnet",
                                   [("resnet", "digits"), ("resnet", "digits")], [("resnet",)], 3])
def test_default_specs_bad_kinds(kinds):
    with pytest.raises(ValueError, match=r"kinds must .*\('resnet', 'mnist5k'\)"):
        default_specs(4, kinds=kinds)


def test_split_stratifies_three_archs():
    specs = default_specs(8) + default_specs(4, seed=1, kinds=[("resnet", "digits"), ("resnet", "mnist5k")])
    zoo = Zoo("unused", [ZooMember(s, nn.Identity(), 0.0, Path(f"{s.name}.pt")) for s in specs])
    train, held = zoo.split(3, seed=0)
    assert {m.spec.arch for m in held} == {m.spec.arch for m in train} == {"mlp", "cnn", "resnet"}


# ------------------------------------------------------------------------ graph, prune, metanet
@pytest.mark.parametrize("dataset,hidden,blocks", [("mnist5k", (8, 16), 2), ("digits", (4, 4, 8), 1)])
def test_graph_round_trip_exact(dataset, hidden, blocks):
    spec = _spec(dataset, hidden, blocks)
    net = _randomise_bn(build_network(spec)).eval()
    x = torch.rand(5, *example_input(spec).shape[1:])
    graph = to_graph(net, example_input(spec))
    assert int((graph.edge_type == 3).sum()) == blocks * sum(hidden)   # identity shortcut edges
    back = from_graph(graph, net).eval()
    assert _same_state(back, net)
    assert torch.allclose(back(x), net(x), atol=1e-5, rtol=0)


def _tied_convs(net: nn.Module) -> list[nn.Module]:
    return [m.conv2 for m in net.modules() if isinstance(m, BasicBlock)]


def _check_pruned(net: nn.Module, result, x: torch.Tensor) -> None:
    assert result.macs_ratio <= 0.5 and result.model(x).shape == (x.shape[0], 10)
    pruned = result.model
    for j in range(len([n for n, _ in net.named_children() if n.startswith("stage")])):
        stage = pruned.get_submodule(f"stage{j}")
        first = pruned.stem[0] if j == 0 else stage.transition[0]
        # identity shortcuts tie the stage's channels: every block keeps the same width
        assert {b.conv2.out_channels for b in stage.children() if isinstance(b, BasicBlock)} == {first.out_channels}


def test_prune_structured_with_tied_convs_ignored():
    """Works with today's prune.py: the second conv of each block is tied to its stage's first
    conv by the identity shortcut; ranking only the first conv (the others ``ignored``) still
    prunes the tied convs together (torch-pruning's dependency graph)."""
    spec = _spec("mnist5k", (8, 16), 2)
    net = _randomise_bn(build_network(spec)).eval()
    x = torch.rand(2, 1, 28, 28)
    result = prune_structured(net, x, macs_ratio=0.5, ignored=_tied_convs(net), tolerance=1.0)
    _check_pruned(net, result, x)


def test_prune_structured_plain():
    # the layers tied by identity shortcuts are ranked once as one group (prune._groups)
    spec = _spec("mnist5k", (8, 16), 2)
    net = _randomise_bn(build_network(spec)).eval()
    x = torch.rand(2, 1, 28, 28)
    _check_pruned(net, prune_structured(net, x, macs_ratio=0.5, tolerance=1.0), x)


def test_metanet_forward_on_resnet():
    spec = _spec("digits", (4, 8), 2)
    net = _randomise_bn(build_network(spec)).eval()
    torch.manual_seed(0)
    metanet = MetaNetwork(num_layers=2, hidden=8, scale=0.1).eval()
    out = apply_metanet(metanet, net, example_input(spec))
    assert type(out) is type(net) and out is not net
    assert list(out.state_dict()) == list(net.state_dict()) and not _same_state(out, net)
    for m in out.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert bool((m.running_var > 0).all())
    y = out(torch.rand(3, 1, 8, 8))
    assert y.shape == (3, 10) and bool(torch.isfinite(y).all())
    before = {k: v.clone() for k, v in metanet.state_dict().items()}
    rows = meta_train(metanet, [MetaTask("r", net, zoo_data("digits", arch="resnet"))], steps=2,
                      batch_size=16, progress=False)
    assert len(rows) == 2 and all(torch.isfinite(torch.tensor(r["loss"])) for r in rows)
    assert any(not torch.equal(before[k], v) for k, v in metanet.state_dict().items())


# -------------------------------------------------------------------------------- make / load
def test_make_and_load_resnet_zoo(tmp_path):
    specs = [_spec("digits", (4, 8), 2, seed=1), _spec("digits", (6,), 1, seed=2),
             ZooSpec("t-mlp", "mlp", "digits", (8,), 0, seed=3, epochs=1, lr=0.01)]
    made = make_zoo(tmp_path, specs, progress=False)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert [e["spec"].get("blocks") for e in manifest["members"]] == [2, 1, None]
    zoo = load_zoo(tmp_path)
    assert [m.spec for m in zoo] == specs
    for a, b in zip(made, zoo):
        assert _same_state(a.model, b.model) and a.test_acc == b.test_acc and not b.model.training
        assert 0.0 <= b.test_acc <= 1.0
