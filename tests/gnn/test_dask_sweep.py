"""Sweeps on ``dask.distributed`` (:mod:`graphsparse.gnn.experiment.dask_cells`): a LocalCluster of
two worker processes gives the rows of an in-process sweep (timing fields aside), each exactly
once also when a worker is killed mid-cell; the driver is the only writer; bad cluster
arguments and Dask under torchrun are refused before anything is written; the progress
status line and the silencing of ogb's bars."""

from __future__ import annotations

import dataclasses
import os
import signal

import pytest

from graphsparse.cli import main
from graphsparse.gnn.experiment import dask_cells
from graphsparse.gnn.experiment.cells import Cell
from graphsparse.gnn.experiment.progress import CellStatus, cell_label, quiet_library_bars
from graphsparse.gnn.experiment.sweep import CONFIG_FILE, TIMING_FIELDS, row_key, run_sweep
from graphsparse.gnn.experiment.targets import Targets
from graphsparse.gnn.train import EpochRecord, distributed

SWEEP = {"dataset": "sbm", "model": "gcn", "hidden": 16, "epochs": 40, "progress": False,
         "methods": ["ugs", "teddy", "random"], "levels": [1, 2], "seeds": [0, 1]}


def _untimed(rows):
    return {row_key(r): {k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in rows}


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    return run_sweep(tmp_path_factory.mktemp("in-process"), **SWEEP)


@pytest.fixture(scope="module")
def client():
    with dask_cells.dask_client(workers=2) as dask:
        yield dask


def test_workers_give_the_in_process_rows(in_process, client, tmp_path):
    rows = run_sweep(tmp_path, client=client, **SWEEP)
    assert len(rows) == len(in_process) == 2 * (1 + 2 + 2 + 2)
    assert len({row_key(r) for r in rows}) == len(rows)
    assert _untimed(rows) == _untimed(in_process)


def test_killed_worker_still_yields_every_row_once(in_process, client, tmp_path):
    pids = client.run(os.getpid)
    killed = []

    def kill_a_busy_worker(row):
        if killed:
            return
        busy = [address for address, keys in client.processing().items() if keys]
        if busy and busy[0] in pids:
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(busy[0])

    rows = run_sweep(tmp_path, client=client, on_row=kill_a_busy_worker, **SWEEP)
    assert killed, "no worker was busy when the first row arrived"
    assert len({row_key(r) for r in rows}) == len(rows) == len(in_process)
    assert _untimed(rows) == _untimed(in_process)


@pytest.mark.parametrize("arguments, message", [
    ({"workers": 0}, "workers must be"),
    ({"workers": 2, "scheduler": "tcp://127.0.0.1:8786"}, "at most one of"),
    ({"scheduler": "localhost"}, "scheduler must be a Dask scheduler address"),
    ({"threads": 0}, "threads must be"),
])
def test_bad_cluster_arguments_are_refused_before_writing(tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        run_sweep(tmp_path / "out", **{**SWEEP, **arguments})
    assert not (tmp_path / "out").exists()


def test_dask_under_torchrun_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(distributed, "environment_world_size", lambda: 2)
    with pytest.raises(ValueError, match="cannot be combined with torchrun"):
        run_sweep(tmp_path / "out", workers=2, batch_size=8, num_neighbors=[5, 5], **SWEEP)
    assert not (tmp_path / "out" / CONFIG_FILE).exists()


def test_cli_refuses_bad_workers(tmp_path, capsys):
    with pytest.raises(SystemExit, match="workers must be"):
        main(["glt", "run", "--dataset", "sbm", "--method", "random", "--levels", "1",
              "--out", str(tmp_path / "out"), "--workers", "0", "--no-progress"])
    assert not (tmp_path / "out").exists()


def test_cell_status_tracks_runs_and_best_validation():
    status = CellStatus(cell_label(Cell("ugs", 1, Targets(levels=(1, 2)))), epochs=3)
    for epoch, val, best in [(1, 0.5, True), (2, 0.4, False), (3, 0.6, True)]:
        status.update(EpochRecord(epoch, 1.0, val, None, 0.0, 0.0, best))
    assert status.text() == "ugs s1 epoch 3/3 best val 0.6000"
    status.update(EpochRecord(1, 1.0, 0.3, None, 0.0, 0.0, True))  # the next round's run
    assert status.text() == "ugs s1 run 2 epoch 1/3 best val 0.3000"
    assert cell_label(Cell("teddy", 0, Targets(levels=(4,)))) == "teddy L4 s0"


def test_quiet_library_bars_silences_ogb(capsys):
    from ogb.io import read_graph_raw

    with quiet_library_bars():
        list(read_graph_raw.tqdm(range(3)))
    assert "3/3" not in capsys.readouterr().err
    list(read_graph_raw.tqdm(range(3)))  # restored after the block
    assert "3/3" in capsys.readouterr().err


@pytest.mark.parametrize("worker, gpus, expected", [("0", 2, "cuda:0"), ("1", 2, "cuda:1"),
                                                     ("2", 2, "cuda:0"), ("5", 3, "cuda:2")])
def test_worker_i_trains_on_gpu_i_mod_n(monkeypatch, worker, gpus, expected):
    """The device rule without a GPU: CUDA reported present, the worker's name read from Dask."""
    import types

    import distributed as dask_distributed
    import torch

    monkeypatch.setattr(dask_cells, "resolve_device", torch.device)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(dask_distributed, "get_worker", lambda: types.SimpleNamespace(name=worker))
    assert dask_cells._worker_device("cuda") == torch.device(expected)
    assert dask_cells._worker_device("cpu") == torch.device("cpu")


class _Killed(Exception):
    pass


def test_a_cell_run_again_after_a_kill_returns_every_row(tmp_path, monkeypatch):
    """A Dask worker's rows reach the writer only when its cell ends. A worker killed after UGS
    reported level 1 (checkpoint saved) and Dask's rerun of the cell from that checkpoint
    still yield level 1's row: the cell keeps its own copy of its rows."""
    from graphsparse.gnn.experiment import sweep as sweep_module

    settings = {**SWEEP, "methods": ["ugs"], "levels": [1, 2, 3], "seeds": [0],
                "dense": False, "epochs": 10}
    original = sweep_module.run_cell
    calls = []

    def worker(cell, context, on_row=None):  # as on a worker: rows only at the end
        epochs = []

        def on_epoch(_cell, record):
            epochs.append(record)
            if len(epochs) == 3 * settings["epochs"] + 1:  # in round 2, after ticket 1 saved
                raise _Killed()

        calls.append(cell)
        if len(calls) == 1:
            original(cell, dataclasses.replace(context, on_epoch=on_epoch))
        for row in original(cell, context):
            on_row(row)

    monkeypatch.setattr(sweep_module, "run_cell", worker)
    with pytest.raises(_Killed):
        run_sweep(tmp_path / "out", **settings)
    monkeypatch.setattr(sweep_module, "run_cell", original)
    rows = run_sweep(tmp_path / "out", **settings)
    assert sorted(r["level"] for r in rows) == [1, 2, 3]
    reference = run_sweep(tmp_path / "reference", **settings)
    assert _untimed(rows) == _untimed(reference)


def test_a_kill_between_a_ticket_and_its_row_loses_no_row(tmp_path, monkeypatch):
    """In process: killed while level 1's row is handed out; the resumed sweep has it."""
    from graphsparse.gnn.experiment import sweep as sweep_module

    settings = {**SWEEP, "methods": ["ugs"], "levels": [1, 2], "seeds": [0], "dense": False,
                "epochs": 10}
    original = sweep_module.run_cell

    def dying(cell, context, on_row=None):
        def die(row):
            raise _Killed()
        return original(cell, context, on_row=die)

    monkeypatch.setattr(sweep_module, "run_cell", dying)
    with pytest.raises(_Killed):
        run_sweep(tmp_path / "out", **settings)
    monkeypatch.setattr(sweep_module, "run_cell", original)
    assert sorted(r["level"] for r in run_sweep(tmp_path / "out", **settings)) == [1, 2]
