"""CUDA: every method's masks, scores, teacher outputs and checkpoints follow the device; a
sweep records the device in its rows. Skipped without a GPU (run on the GPU machine)."""

from __future__ import annotations

import json

import pytest
import torch

from graphsparse.gnn.data import load_dataset
from graphsparse.gnn.experiment.sweep import run_sweep
from graphsparse.gnn.models import build_model
from graphsparse.gnn.train import MiniBatch, train_model
from tests.gnn.test_minibatch import ticket_counts

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture(scope="module")
def sbm():
    return load_dataset("sbm")


def _model(ds, name="gcn"):
    torch.manual_seed(0)
    return build_model(name, ds.num_features, ds.num_classes, hidden=16)


@pytest.mark.parametrize("minibatch", [None, MiniBatch(128, [5, 5])])
def test_train_model_on_cuda(sbm, minibatch):
    model = _model(sbm, "sage")
    result = train_model(model, sbm, epochs=3, progress=False, device="cuda",
                         minibatch=minibatch)
    assert next(model.parameters()).is_cuda and 0 <= result.test <= 1


@pytest.mark.parametrize("method", ["ugs", "teddy", "random", "magnitude", "imp"])
@pytest.mark.parametrize("minibatch", [None, MiniBatch(128, [5, 5])])
def test_methods_on_cuda_match_cpu_counts(sbm, method, minibatch):
    assert ticket_counts(sbm, method, device="cuda", minibatch=minibatch) \
        == ticket_counts(sbm, method, device="cpu", minibatch=minibatch)


def test_sweep_on_cuda_records_device_and_resumes_from_cpu_checkpoints(tmp_path):
    common = dict(dataset="sbm", model="gcn", methods=["ugs", "teddy"], levels=[1, 2],
                  seeds=[0], epochs=2, hidden=8, progress=False)
    run_sweep(tmp_path, device="cpu", **common)
    (tmp_path / "results.jsonl").write_text(
        "".join(line + "\n" for line in (tmp_path / "results.jsonl").read_text()
                .splitlines()[:2]))
    rows = run_sweep(tmp_path, device="cuda", **common)
    devices = [r["device"] for r in rows]
    assert devices[:2] == ["cpu", "cpu"] and all(d.startswith("cuda") for d in devices[2:])
    config = json.loads((tmp_path / "config.json").read_text())
    assert "device" not in config
