"""The zoo of small trained networks for metanetwork meta-training (graphsparse.metaprune.zoo)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from graphsparse.masks.io import CorruptFileError
from graphsparse.metaprune import from_graph, to_graph
from graphsparse.metaprune import zoo as zoo_module
from graphsparse.metaprune.zoo import (
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


TINY = [
    ZooSpec("t-mlp", "mlp", "digits", (16,), 0, seed=0, epochs=1, lr=0.01),
    ZooSpec("t-cnn", "cnn", "digits", (2, 4), 8, seed=1, epochs=1, lr=0.01),
    ZooSpec("t-mlp-mnist", "mlp", "mnist5k", (8,), 0, seed=2, epochs=1, lr=0.01),
]


def _same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def zoo_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    make_zoo(root, TINY, progress=False)
    return root


def _copy(zoo_dir, tmp_path):
    return shutil.copytree(zoo_dir, tmp_path / "zoo")


# ------------------------------------------------------------------------------------- specs
def test_default_specs_deterministic_unique_mixed_and_small():
    specs = default_specs()
    assert len(specs) == 36 and specs == default_specs()
    assert default_specs(seed=1) != specs
    assert len({s.name for s in specs}) == 36 and len({s.seed for s in specs}) == 36
    assert {s.arch for s in specs} == {"mlp", "cnn"} and {s.dataset for s in specs} == {"digits", "mnist5k"}
    assert sum(s.arch == "mlp" for s in specs) == 18
    assert {(s.arch, s.dataset) for s in default_specs(4)} == {
        (a, d) for a in ("mlp", "cnn") for d in ("digits", "mnist5k")}
    assert len({(s.hidden, s.fc) for s in specs}) > 12  # varied widths and depths
    assert default_specs(1) == specs[:1]
    for s in specs:
        assert to_graph(build_network(s)).edge_index.shape[1] <= 30_000, s.name


@pytest.mark.parametrize("size,error", [(0, ValueError), (-1, ValueError), (True, TypeError),
                                        (2.0, TypeError)])
def test_default_specs_bad_size(size, error):
    with pytest.raises(error, match="size must be an int >= 1"):
        default_specs(size)


def test_spec_round_trip_and_validation():
    spec = ZooSpec("a.b_c-1", "cnn", "mnist5k", [4, 8], 16, seed=-3, epochs=2, lr=1)
    assert spec.hidden == (4, 8) and isinstance(spec.lr, float)
    assert ZooSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    good = spec.to_dict()
    for key, value, match in [("name", "a/b", "name"), ("name", "", "name"), ("arch", "rnn", "arch"),
                              ("dataset", "cifar", "dataset"), ("hidden", [], "hidden"),
                              ("hidden", [4, 0], r"hidden\[1\]"), ("hidden", "48", "hidden"),
                              ("fc", -1, "fc"), ("epochs", 0, "epochs"), ("lr", 0.0, "lr"),
                              ("lr", float("nan"), "lr")]:
        with pytest.raises(ValueError, match=match):
            ZooSpec.from_dict({**good, key: value})
    with pytest.raises(TypeError, match="seed must be an int, got 1.5"):
        ZooSpec.from_dict({**good, "seed": 1.5})
    with pytest.raises(ValueError, match="fc must be 0 for an mlp"):
        ZooSpec("m", "mlp", "digits", (4,), 8, 0, 1, 0.1)
    with pytest.raises(ValueError, match=r"missing keys \['lr'\], unknown keys \['extra'\]"):
        ZooSpec.from_dict({**{k: v for k, v in good.items() if k != "lr"}, "extra": 1})


# ----------------------------------------------------------------------------- networks, data
def test_build_network_seeded_and_leaves_global_rng_untouched():
    spec = default_specs(2)[1]
    state = torch.random.get_rng_state()
    a, b = build_network(spec), build_network(spec)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert _same_state(a, b)
    other = build_network(ZooSpec.from_dict({**spec.to_dict(), "seed": spec.seed + 1}))
    assert not _same_state(a, other)
    with pytest.raises(TypeError, match="ZooSpec"):
        build_network(spec.to_dict())


def test_zoo_data_and_example_input_shapes():
    flat, image = zoo_data("digits"), zoo_data("digits", arch="cnn")
    assert flat.x_train.shape[1:] == (64,) and image.x_train.shape[1:] == (1, 8, 8)
    assert torch.equal(image.x_test.flatten(1), flat.x_test) and torch.equal(image.y_test, flat.y_test)
    for spec in default_specs(4):
        x = example_input(spec)
        assert not x.any() and build_network(spec)(x).shape == (1, 10)
    assert example_input(default_specs(4)[3]).shape == (1, 1, 28, 28)
    with pytest.raises(ValueError, match="arch"):
        zoo_data("digits", arch="rnn")
    with pytest.raises(ValueError, match="dataset"):
        zoo_data("cifar10")


# -------------------------------------------------------------------------------- make / load
def test_make_zoo_trains_saves_and_writes_manifest(zoo_dir):
    assert sorted(p.name for p in zoo_dir.iterdir()) == sorted([MANIFEST] + [f"{s.name}.pt" for s in TINY])
    manifest = json.loads((zoo_dir / MANIFEST).read_text())
    assert [ZooSpec.from_dict(e["spec"]) for e in manifest["members"]] == TINY
    assert all(0.3 < e["test_acc"] <= 1.0 for e in manifest["members"])  # 1 epoch, well above chance


def test_make_zoo_resumes_without_retraining(zoo_dir, tmp_path, monkeypatch):
    root = _copy(zoo_dir, tmp_path)
    mtimes = {p.name: p.stat().st_mtime_ns for p in root.glob("*.pt")}

    def no_training(*args, **kwargs):
        raise AssertionError("make_zoo retrained a saved member")

    monkeypatch.setattr(zoo_module, "train", no_training)
    state = torch.random.get_rng_state()
    zoo = make_zoo(root, TINY, progress=False)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert mtimes == {p.name: p.stat().st_mtime_ns for p in root.glob("*.pt")}
    assert [m.spec for m in zoo] == TINY and not any(m.model.training for m in zoo)


def test_make_zoo_refuses_a_different_spec_and_retrains_a_corrupt_file(zoo_dir, tmp_path):
    root = _copy(zoo_dir, tmp_path)
    changed = ZooSpec.from_dict({**TINY[0].to_dict(), "epochs": 2})
    with pytest.raises(ValueError, match="different zoo member"):
        make_zoo(root, [changed], progress=False)
    (root / "t-mlp.pt").write_bytes(b"not a zoo member")
    with pytest.warns(UserWarning, match="retraining zoo member 't-mlp'"):
        zoo = make_zoo(root, TINY[:1], progress=False)
    assert _same_state(zoo[0].model, load_zoo(zoo_dir)["t-mlp"].model)  # same seed, same network
    with pytest.raises(ValueError, match="unique"):
        make_zoo(root, [TINY[0], TINY[0]], progress=False)


def test_load_zoo_round_trip(zoo_dir):
    made = make_zoo(zoo_dir, TINY, progress=False)  # resumes: loads the saved members
    zoo = load_zoo(zoo_dir)
    assert len(zoo) == 3 and [m.spec for m in zoo] == TINY and zoo.root == zoo_dir
    for a, b in zip(made, zoo):
        assert a.test_acc == b.test_acc and _same_state(a.model, b.model) and not b.model.training
        assert b.path == zoo_dir / f"{b.spec.name}.pt"
    assert zoo["t-cnn"] is zoo[1]
    with pytest.raises(KeyError, match="t-mlp"):
        zoo["missing"]


def test_load_zoo_errors(zoo_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest"):
        load_zoo(tmp_path)
    root = _copy(zoo_dir, tmp_path)
    data = bytearray((root / "t-cnn.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (root / "t-cnn.pt").write_bytes(bytes(data))
    with pytest.raises(CorruptFileError):
        load_zoo(root)
    (root / MANIFEST).write_text("{not json")
    with pytest.raises(CorruptFileError, match="manifest"):
        load_zoo(root)


def test_trained_cnn_graph_round_trip_is_bit_exact(zoo_dir):
    member = load_zoo(zoo_dir)["t-cnn"]
    graph = to_graph(member.model)
    back = from_graph(graph, member.model)
    assert _same_state(back, member.model)
    x = zoo_data("digits", arch="cnn").x_test[:16]
    assert torch.equal(back.eval()(x), member.model(x))


# ------------------------------------------------------------------------------------- split
def _untrained_zoo(size: int) -> Zoo:
    return Zoo("unused", [ZooMember(s, build_network(s), 0.0, Path(f"{s.name}.pt")) for s in default_specs(size)])


def test_split_deterministic_stratified_and_validated():
    zoo = _untrained_zoo(12)
    train_a, held_a = zoo.split(6, seed=0)
    train_b, held_b = zoo.split(6, seed=0)
    assert [m.spec.name for m in held_a] == [m.spec.name for m in held_b]
    assert [m.spec.name for m in train_a] == [m.spec.name for m in train_b]
    assert sorted(m.spec.name for m in train_a + held_a) == sorted(m.spec.name for m in zoo)
    assert sum(m.spec.arch == "cnn" for m in held_a) == 3  # proportional: 6 of 12, half CNNs
    assert any([m.spec.name for m in zoo.split(6, seed=s)[1]] != [m.spec.name for m in held_a]
               for s in range(1, 5))
    for held_out in range(2, 11):
        for seed in range(3):
            train, held = zoo.split(held_out, seed)
            assert len(held) == held_out
            assert {m.spec.arch for m in held} == {m.spec.arch for m in train} == {"mlp", "cnn"}
    assert len(zoo.split(1)[1]) == 1 and len(zoo.split(11)[0]) == 1
    for bad, error in ((0, ValueError), (12, ValueError), (-1, ValueError), (2.0, TypeError),
                       (True, TypeError)):
        with pytest.raises(error, match=r"held_out .*must be an int in \[1, 11\]"):
            zoo.split(bad)


def test_zoo_rejects_duplicate_names():
    spec = default_specs(1)[0]
    member = ZooMember(spec, build_network(spec), 0.0, Path("m.pt"))
    with pytest.raises(ValueError, match="unique"):
        Zoo("unused", [member, member])
