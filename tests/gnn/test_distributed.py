"""Multi-process training on torch.distributed (gloo, 2 processes on this machine): the
agreement check, shards, and a whole `torchrun ... glt run` sweep that writes each row once,
resumes after a kill and gives the rows of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from graphsparse.gnn.experiment.rows import TIMING_FIELDS, row_key
from graphsparse.gnn.train import MiniBatch, distributed, training_settings

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, results) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    try:
        items = torch.arange(7)
        shard = distributed.shard(items).tolist()
        distributed.check_agreement([torch.ones(5)], "equal tensors")
        try:
            distributed.check_agreement([torch.full((5,), float(rank))], "rank-dependent")
            agreed = True
        except distributed.RankMismatchError:
            agreed = False
        results[rank] = (shard, agreed, distributed.from_writer({"rank": rank}))
    finally:
        dist.destroy_process_group()


def test_agreement_check_and_shards_on_two_processes():
    results = mp.Manager().dict()
    mp.spawn(_worker, args=(_free_port(), results), nprocs=2)
    assert results[0][0] == [0, 2, 4] and results[1][0] == [1, 3, 5]  # disjoint, equal sizes
    assert results[0][1] is False and results[1][1] is False  # the mismatch is caught
    assert results[0][2] == results[1][2] == {"rank": 0}


def test_single_process_is_the_identity():
    items = torch.arange(5)
    assert distributed.shard(items) is items
    assert distributed.world_size() == 1 and distributed.is_writer()
    distributed.check_agreement([torch.ones(2)], "anything")


def _sweep(out: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
               "--master-port", str(_free_port()), "-m", "graphsparse", "glt", "run",
               "--dataset", "sbm", "--model", "sage", "--method", "ugs,random",
               "--levels", "1-3", "--seeds", "0", "--epochs", "8", "--hidden", "16",
               "--batch-size", "64", "--num-neighbors", "5,5", "--out", str(out),
               "--no-progress", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (torchrun starts its workers in their own sessions)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_all(process: subprocess.Popen) -> None:
    """SIGKILL torchrun and every worker at once: a hard crash, not a clean shutdown."""
    for pid in [process.pid, *_descendants(process.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _rows(out: Path) -> list[dict]:
    path = out / "results.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _untimed(rows):
    return {row_key(r): {k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in rows}


def test_torchrun_sweep_writes_rows_once_and_resumes_after_kill(tmp_path):
    whole = _sweep(tmp_path / "whole")
    output = whole.communicate(timeout=240)[0]
    assert whole.returncode == 0, output
    expected = _rows(tmp_path / "whole")
    assert len(expected) == 1 + 3 + 3
    assert len({row_key(r) for r in expected}) == len(expected)
    config = json.loads((tmp_path / "whole" / "config.json").read_text())
    assert config["world_size"] == 2 and config["minibatch"]["num_neighbors"] == [5, 5]

    killed = _sweep(tmp_path / "resumed")
    deadline = time.monotonic() + 240
    while len(_rows(tmp_path / "resumed")) < 2 and killed.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    _kill_all(killed)
    killed.communicate()
    assert len(_rows(tmp_path / "resumed")) < len(expected), "killed too late to test resume"
    resumed = _sweep(tmp_path / "resumed")
    output = resumed.communicate(timeout=240)[0]
    assert resumed.returncode == 0, output
    rows = _rows(tmp_path / "resumed")
    assert len(rows) == len(expected) and _untimed(rows) == _untimed(expected)


def test_resuming_under_another_world_size_is_refused(tmp_path, monkeypatch):
    from graphsparse.gnn.data import load_dataset
    from graphsparse.gnn.methods import METHODS
    from graphsparse.gnn.models import build_model

    ds = load_dataset("sbm")
    torch.manual_seed(0)
    model = build_model("sage", ds.num_features, ds.num_classes, hidden=8)
    checkpoint = tmp_path / "ugs.pt"
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    with training_settings(minibatch=MiniBatch(64, [5, 5])):
        METHODS["ugs"](model, ds, graph_targets=[0.1], weight_targets=[0.2], epochs=1,
                       checkpoint=checkpoint)
    monkeypatch.setattr(distributed, "world_size", lambda: 1)
    with pytest.raises(ValueError, match="world size 2 but this run has world size 1"):
        METHODS["ugs"](model, ds, graph_targets=[0.1, 0.2], weight_targets=[0.2, 0.4],
                       epochs=1, checkpoint=checkpoint)


def test_readme_torchrun_line_works(tmp_path):
    """The README's torchrun command, as written but with 2 epochs."""
    import shlex

    from tests.test_cli import readme_glt_lines

    [line] = readme_glt_lines("torchrun ")
    words = shlex.split(line)
    command = [sys.executable, "-m", "torch.distributed.run", "--master-port",
               str(_free_port()), *words[1:], "--epochs", "2", "--no-progress"]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "OMP_NUM_THREADS": "1",
                              "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stdout + run.stderr
    out = tmp_path / words[words.index("--out") + 1]
    rows = _rows(out)
    assert len(rows) == 3 and len({row_key(r) for r in rows}) == 3
    assert json.loads((out / "config.json").read_text())["world_size"] == 2


def test_more_processes_than_training_seeds_is_refused_before_writing(tmp_path, monkeypatch):
    from graphsparse.gnn.experiment.sweep import run_sweep

    monkeypatch.setattr(distributed, "world_size", lambda: 81)  # sbm has 80 training nodes
    out = tmp_path / "sweep"
    with pytest.raises(ValueError, match="world size 81 is larger than the number of training"):
        run_sweep(out, dataset="sbm", methods=["random"], levels=[1], epochs=1, hidden=8,
                  batch_size=8, num_neighbors=[2, 2], progress=False, device="cpu")
    assert not out.exists()


def _train_worker(rank: int, port: int, task: str, results) -> None:
    from graphsparse.gnn.data import load_dataset
    from graphsparse.gnn.models import build_model
    from graphsparse.gnn.train import train_model
    from tests.gnn.test_minibatch import _link_dataset

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    try:
        torch.set_num_threads(1)
        ds = load_dataset("sbm")
        torch.manual_seed(0)
        if task == "link":
            ds = _link_dataset(ds)
            model = build_model("sage", 0, 1, task="link", hidden=8,
                                num_nodes=ds.data.num_nodes)
        else:
            model = build_model("gcn", ds.num_features, ds.num_classes, hidden=8)
        result = train_model(model, ds, epochs=2, progress=False, seed=1,
                             minibatch=MiniBatch(32, [3, 3]))
        params = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        results[rank] = (params, result.test, [r.loss for r in result.history])
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("task", ["node", "link"])
def test_ddp_training_keeps_ranks_identical(task):
    """Two gloo ranks, each on its shard: after training the weights agree exactly (DDP
    averages gradients), and so do the evaluated metrics."""
    results = mp.Manager().dict()
    mp.spawn(_train_worker, args=(_free_port(), task, results), nprocs=2)
    assert torch.equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]
    assert results[0][2] != results[1][2]  # each rank trained on its own shard
