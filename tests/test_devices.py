"""``device`` on the training entry points besides ``glt run``: :func:`resolve_device`,
``topology.training.train``, ``metaprune.meta_train`` / ``compare_pruning`` and the ``mlp`` /
``metaprune train|prune`` command lines. CPU tests always run; CUDA tests need a GPU."""

import pytest
import torch

from graphsparse.cli import main
from graphsparse.devices import available_devices, resolve_device
from graphsparse.masks import masks_of
from graphsparse.masks.io import load_file
from graphsparse.metaprune import MetaNetwork
from graphsparse.metaprune.compare import compare_pruning
from graphsparse.metaprune.train import load_train_state, meta_train
from graphsparse.metaprune.zoo import ZooSpec, make_zoo
from graphsparse.topology.datasets import Dataset
from graphsparse.topology.dynamic import SET, RigL
from graphsparse.topology.sparse_mlp import SparseMLP
from graphsparse.topology.training import dataset_to, evaluate, train
from tests.metaprune.test_metatrain import tasks  # noqa: F401  (fixture: two tiny MLPs)

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
# a CUDA device index no test machine has (skip on a machine with that many GPUs)
MISSING = "cuda:7"
NO_MISSING = pytest.mark.skipif(torch.cuda.device_count() > 7, reason="this machine has cuda:7")


# ---------------------------------------------------------------------------------------------
# resolve_device
# ---------------------------------------------------------------------------------------------

def test_resolve_device_spellings():
    cpu = torch.device("cpu")
    assert resolve_device("cpu") == cpu and resolve_device(torch.device("cpu")) == cpu
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected and resolve_device(None).type == expected
    assert resolve_device().type == expected
    assert available_devices()[0] == "cpu"
    if torch.cuda.is_available():
        assert resolve_device("cuda") == torch.device("cuda", torch.cuda.current_device())
        assert resolve_device("cuda:0") == torch.device("cuda", 0)


@NO_MISSING
def test_resolve_device_errors_name_what_is_available():
    with pytest.raises(ValueError, match="tpu"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="cuda:7.*available: cpu"):
        resolve_device(MISSING)
    with pytest.raises(ValueError, match="available"):
        resolve_device(torch.device(MISSING))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    for bad in (0, 1.5, ["cpu"]):
        with pytest.raises(TypeError, match="device must be a str or torch.device"):
            resolve_device(bad)


# ---------------------------------------------------------------------------------------------
# topology.training.train
# ---------------------------------------------------------------------------------------------

def _toy_data(n: int = 96, features: int = 12, classes: int = 3) -> Dataset:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, features, generator=gen)
    y = (x[:, :classes].argmax(1)).long()
    return Dataset("toy", x[:64], y[:64], x[64:], y[64:], classes, 0, 1 / 3)


def _toy_net() -> SparseMLP:
    return SparseMLP.random_graph([12, 16, 3], density=0.5, seed=0)


def _strip(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_train_on_cpu_equals_the_default_and_keeps_data():
    data = _toy_data()
    ref = _toy_net()
    h_ref = train(ref, data, epochs=2, lr=0.1, batch_size=16, seed=0,
                  set_callback=SET(0.3, seed=0), progress=False)
    net = _toy_net()
    h = train(net, data, epochs=2, lr=0.1, batch_size=16, seed=0,
              set_callback=SET(0.3, seed=0), progress=False, device="cpu")
    assert _strip(h) == _strip(h_ref)
    assert all(p.device.type == "cpu" for p in net.parameters())
    assert all(torch.equal(a, b) for a, b in zip(ref.state_dict().values(), net.state_dict().values()))
    assert dataset_to(data, "cpu") is data and data.x_train.device.type == "cpu"
    assert evaluate(net, data.x_test, data.y_test) == h[-1]["test_acc"]


@NO_MISSING
def test_train_rejects_a_missing_device_before_training():
    net = _toy_net()
    before = [t.clone() for t in net.state_dict().values()]
    with pytest.raises(ValueError, match="available"):
        train(net, _toy_data(), epochs=1, progress=False, device=MISSING)
    assert all(torch.equal(a, b) for a, b in zip(before, net.state_dict().values()))


# ---------------------------------------------------------------------------------------------
# metaprune: meta_train and compare_pruning
# ---------------------------------------------------------------------------------------------



def _metanet() -> MetaNetwork:
    torch.manual_seed(0)
    return MetaNetwork(num_layers=1, hidden=8, scale=0.1)


def _checkpoint_tensors_on_cpu(path) -> bool:
    """Every tensor of the raw file (loaded without map_location) is a CPU tensor."""
    record = torch.load(path, weights_only=True)

    def walk(obj):
        if isinstance(obj, torch.Tensor):
            yield obj
        elif isinstance(obj, dict):
            for v in obj.values():
                yield from walk(v)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                yield from walk(v)

    return all(t.device.type == "cpu" for t in walk(record))


def test_meta_train_on_cpu_equals_the_default(tasks, tmp_path):
    ref, net = _metanet(), _metanet()
    h_ref = meta_train(ref, tasks, steps=2, batch_size=16, reg=1e-3, progress=False)
    ckpt = tmp_path / "m.train"
    h = meta_train(net, tasks, steps=2, batch_size=16, reg=1e-3, checkpoint=ckpt,
                   progress=False, device="cpu")
    assert [r["loss"] for r in h] == [r["loss"] for r in h_ref]
    assert all(torch.equal(a, b) for a, b in zip(ref.state_dict().values(), net.state_dict().values()))
    assert _checkpoint_tensors_on_cpu(ckpt)
    back, state = load_train_state(ckpt, device="cpu")
    assert state["step"] == 2 and next(back.parameters()).device.type == "cpu"
    assert all(t.model[0].weight.device.type == "cpu" for t in tasks)


@NO_MISSING
def test_meta_train_rejects_a_missing_device_before_writing(tasks, tmp_path):
    ckpt = tmp_path / "m.train"
    with pytest.raises(ValueError, match="available"):
        meta_train(_metanet(), tasks, steps=1, checkpoint=ckpt, progress=False, device=MISSING)
    assert not ckpt.exists()


SPECS = [ZooSpec("t-mlp", "mlp", "digits", (16,), 0, seed=0, epochs=1, lr=0.01)]
ARMS = ("group_norm", "metanet+magnitude")


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """The MLP member of tests/metaprune/test_compare.py's zoo."""
    return make_zoo(tmp_path_factory.mktemp("zoo"), SPECS, progress=False)


def _rows(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_compare_pruning_on_cpu_equals_the_default(zoo, tmp_path):
    kwargs = {"ratios": (0.6,), "arms": ARMS, "finetune_epochs": 1, "progress": False}
    ref = compare_pruning(list(zoo), _metanet(), tmp_path / "a.jsonl", **kwargs)
    rows = compare_pruning(list(zoo), _metanet(), tmp_path / "b.jsonl", device="cpu", **kwargs)
    assert _rows(rows) == _rows(ref) and len(rows) == len(ARMS)


@NO_MISSING
def test_compare_pruning_rejects_a_missing_device_before_writing(zoo, tmp_path):
    out = tmp_path / "sub" / "c.jsonl"
    with pytest.raises(ValueError, match="available"):
        compare_pruning(list(zoo), _metanet(), out, ratios=(0.6,), arms=ARMS, progress=False,
                        device=MISSING)
    assert not out.parent.exists()


# ---------------------------------------------------------------------------------------------
# command line: a missing --device fails before anything is written
# ---------------------------------------------------------------------------------------------

@NO_MISSING
def test_cli_mlp_rejects_a_missing_device(tmp_path):
    out = tmp_path / "mlp.pt"
    with pytest.raises(SystemExit, match=r"graphsparse mlp: --device: .*cuda:7.*available: cpu"):
        main(["mlp", "--widths", "64,16,10", "--density", "0.5", "--train", "digits",
              "--epochs", "1", "--device", MISSING, "--out", str(out)])
    assert not out.exists()


@NO_MISSING
def test_cli_metaprune_rejects_a_missing_device(zoo, tmp_path):
    out = tmp_path / "metanet.pt"
    with pytest.raises(SystemExit, match=r"metaprune train: --device: .*available: cpu"):
        main(["metaprune", "train", "--zoo", str(zoo.root), "--out", str(out), "--held-out", "0",
              "--steps", "1", "--layers", "1", "--hidden", "8", "--no-progress",
              "--device", MISSING])
    assert list(tmp_path.iterdir()) == []
    rows = tmp_path / "rows.jsonl"
    with pytest.raises(SystemExit, match=r"metaprune prune: --device: .*available: cpu"):
        main(["metaprune", "prune", "--zoo", str(zoo.root), "--metanet", str(out), "--out",
              str(rows), "--no-progress", "--device", MISSING])
    assert list(tmp_path.iterdir()) == []


def test_cli_help_lists_the_device_option(capsys):
    for argv in (["mlp"], ["metaprune", "train"], ["metaprune", "prune"]):
        with pytest.raises(SystemExit):
            main([*argv, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--device DEVICE auto (CUDA when available), cpu, cuda or cuda:N" in text


# ---------------------------------------------------------------------------------------------
# CUDA
# ---------------------------------------------------------------------------------------------

@CUDA
def test_train_on_cuda_with_set_and_rigl():
    data = _toy_data()
    for callbacks in ({"set_callback": SET(0.3, seed=0)},
                      {"rigl_callback": RigL(0.3, update_every=2, end_step=6)}):
        net = _toy_net()
        kept = {n: int(m.sum()) for n, m in masks_of(net).items()}
        h = train(net, data, epochs=2, lr=0.1, batch_size=16, seed=0, progress=False,
                  device="cuda", **callbacks)
        assert all(p.device.type == "cuda" for p in net.parameters())
        assert all(m.device.type == "cuda" for m in masks_of(net).values())
        assert {n: int(m.sum()) for n, m in masks_of(net).items()} == kept    # density constant
        assert data.x_train.device.type == "cpu"                              # data not modified
        assert all(0.0 <= r["test_acc"] <= 1.0 and r["loss"] == r["loss"] for r in h)
        assert evaluate(net, data.x_test, data.y_test) == h[-1]["test_acc"]
        for name, m in masks_of(net).items():           # masked entries exactly zero on CUDA
            layer = getattr(net, name.split(".")[0])
            assert bool((layer.weight[~m] == 0).all())
    net.cpu()                                           # and back: trains on the CPU again
    assert len(train(net, data, epochs=1, progress=False, device="cpu")) == 1


@CUDA
def test_meta_train_checkpoints_resume_across_devices(tasks, tmp_path):
    for first, second in (("cuda", "cpu"), ("cpu", "cuda")):
        ckpt = tmp_path / f"{first}-{second}.train"
        net = _metanet()
        meta_train(net, tasks, steps=2, batch_size=16, reg=1e-3, checkpoint=ckpt,
                   progress=False, device=first)
        assert next(net.parameters()).device.type == first
        assert _checkpoint_tensors_on_cpu(ckpt)
        assert all(t.model[0].weight.device.type == "cpu" for t in tasks)   # moved back
        resumed = _metanet()
        h = meta_train(resumed, tasks, steps=4, batch_size=16, reg=1e-3, checkpoint=ckpt,
                       progress=False, device=second)
        assert len(h) == 4 and all(r["loss"] == r["loss"] for r in h)
        assert next(resumed.parameters()).device.type == second
        assert load_file(ckpt, "metanet-train")[0]["step"] == 4
        back, state = load_train_state(ckpt, device="cuda")
        assert state["step"] == 4 and next(back.parameters()).device.type == "cuda"


@CUDA
def test_compare_pruning_on_cuda(zoo, tmp_path):
    metanet = _metanet()
    rows = compare_pruning(list(zoo), metanet, tmp_path / "r.jsonl", ratios=(0.6,), arms=ARMS,
                           finetune_epochs=1, progress=False, device="cuda")
    assert len(rows) == len(ARMS)
    for r in rows:
        assert 0.0 <= r["acc_finetuned"] <= 1.0 and r["topology"]["num_edges"] > 0
    assert next(metanet.parameters()).device.type == "cuda"
    assert all(p.device.type == "cpu" for m in zoo for p in m.model.parameters())
    cpu_rows = compare_pruning(list(zoo), _metanet(), tmp_path / "c.jsonl", ratios=(0.6,),
                               arms=ARMS, finetune_epochs=1, progress=False, device="cpu")
    for a, b in zip(rows, cpu_rows):        # same pruning, up to float rounding
        assert a["params_ratio"] == pytest.approx(b["params_ratio"], abs=0.02)
