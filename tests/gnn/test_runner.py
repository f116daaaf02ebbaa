"""Tests of the resumable GLT sweep runner, its report and the ``graphsparse glt`` CLI on the
synthetic SBM graph with tiny settings (GCN hidden 16, 5 epochs): row fields and counts, rows
equal to the methods' own results, resume after a truncated results file or an exception
mid-search (same rows except timing fields), a different config refused, bad CLI input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from graphsparse.cli import main
from graphsparse.gnn.data import load_dataset
from graphsparse.gnn.methods import imp_ticket, ugs
from graphsparse.gnn.models import build_model
from graphsparse.gnn.experiment.report import plot, summarise
from graphsparse.gnn.experiment.sweep import (
    CONFIG_FILE,
    RESULTS_FILE,
    TIMING_FIELDS,
    ConfigMismatchError,
    read_rows,
    row_key,
    run_sweep,
)
from graphsparse.masks import geometric_sparsity, kept_count

TINY = {"dataset": "sbm", "model": "gcn", "hidden": 16, "epochs": 5, "progress": False}
FIELDS = {"dataset", "model", "method", "level", "graph_sparsity", "weight_sparsity",
          "weight_scope", "seed", "metric", "val", "test", "search_epochs", "search_seconds",
          "inference_seconds", "isolated_nodes", "homophily", "p_graph", "p_weight"}



def _untimed(rows):
    return {row_key(r): {k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in rows}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted sweep: UGS, IMP, TEDDY, random at levels 1-3, seed 0."""
    out = tmp_path_factory.mktemp("reference")
    rows = run_sweep(out, methods=["ugs", "imp", "teddy", "random"], levels=[1, 2, 3],
                     seeds=[0], **TINY)
    return out, rows


def test_rows_fields_and_counts(reference):
    out, rows = reference
    assert len(rows) == 1 + 4 * 3
    assert len({row_key(r) for r in rows}) == len(rows)
    for row in rows:
        assert FIELDS <= set(row)
        assert row["dataset"] == "sbm" and row["metric"] == "acc" and row["seed"] == 0
        assert 0.0 <= row["test"] <= 1.0 and row["inference_seconds"] > 0
        assert isinstance(row["isolated_nodes"], int) and 0.0 <= row["homophily"] <= 1.0
        level = row["level"]
        if row["method"] == "dense":
            assert level == 0 and row["graph_sparsity"] == 0 and row["weight_sparsity"] == 0
            continue
        assert row["edges_kept"] == kept_count(row["edges_total"], geometric_sparsity(0.05, level))
        assert row["weights_kept"] == kept_count(row["weights_total"],
                                                 geometric_sparsity(0.2, level))
        assert row["weight_scope"] == ("all" if row["method"] == "teddy" else "linear")
    by = {(r["method"], r["level"]): r for r in rows}
    for k in (1, 2, 3):  # cumulative search epochs: k rounds + the fix-mask run
        assert by["ugs", k]["search_epochs"] == by["imp", k]["search_epochs"] == 5 * (k + 1)
        assert by["teddy", k]["search_epochs"] == 10 and by["random", k]["search_epochs"] == 5
    config = json.loads((out / CONFIG_FILE).read_text())
    assert (config["dataset"], config["model"], config["hidden"], config["num_layers"],
            config["epochs"]) == ("sbm", "gcn", 16, 2, 5)
    assert config["split_seed"] == 0 and config["lr"] == 0.01


def test_iterative_rows_equal_the_methods_own_results(reference):
    """Level k of one K-round search = the method run with k rounds."""
    _, rows = reference
    by = {(r["method"], r["level"]): r for r in rows}
    ds = load_dataset("sbm")
    torch.manual_seed(0)
    model = build_model("gcn", ds.num_features, ds.num_classes, hidden=16)
    targets = {"graph_targets": [geometric_sparsity(0.05, k) for k in (1, 2)],
               "weight_targets": [geometric_sparsity(0.2, k) for k in (1, 2)]}
    kw = {"epochs": 5, "lr": 0.01, "weight_decay": 5e-4, "seed": 0}
    two = ugs(model, ds, **targets, **kw)
    assert (two.train.val, two.train.test) == (by["ugs", 2]["val"], by["ugs", 2]["test"])
    one = imp_ticket(model, ds, graph_targets=targets["graph_targets"][:1],
                     weight_targets=targets["weight_targets"][:1], **kw)
    assert (one.train.val, one.train.test) == (by["imp", 1]["val"], by["imp", 1]["test"])
    assert one.graph_sparsity["kept"] == by["imp", 1]["edges_kept"]


@pytest.mark.parametrize("keep", [2, 6])
def test_resume_after_truncation(reference, tmp_path, keep):
    """A results file cut to its first ``keep`` lines (a kill) resumes to the same rows."""
    ref_dir, ref_rows = reference
    out = tmp_path / "sweep"
    out.mkdir()
    (out / CONFIG_FILE).write_text((ref_dir / CONFIG_FILE).read_text())
    lines = (ref_dir / RESULTS_FILE).read_text().splitlines(keepends=True)
    (out / RESULTS_FILE).write_text("".join(lines[:keep]))
    rows = run_sweep(out, methods=["ugs", "imp", "teddy", "random"], levels=[1, 2, 3],
                     seeds=[0], **TINY)
    assert rows[:keep] == read_rows(ref_dir)[:keep]  # existing rows untouched
    assert len(rows) == len(ref_rows)
    assert _untimed(rows) == _untimed(ref_rows)


class _Kill(Exception):
    pass


def _killer(after: int):
    seen = []

    def on_row(row):
        seen.append(row)
        if len(seen) == after:
            raise _Kill(f"killed after {after} rows")

    return on_row


@pytest.mark.parametrize("after", [2, 3, 5, 9])
def test_resume_after_kill(reference, tmp_path, after):
    """An exception after UGS level 1 (after=2) or 2 (after=3) — inside the search, with its
    checkpoint half-way — or after IMP level 1 (5; IMP resumes from its checkpoint) or TEDDY
    level 2 (9), then a restart gives the uninterrupted rows."""
    _, ref_rows = reference
    kwargs = {"methods": ["ugs", "imp", "teddy", "random"], "levels": [1, 2, 3], "seeds": [0],
              **TINY}
    with pytest.raises(_Kill):
        run_sweep(tmp_path, on_row=_killer(after), **kwargs)
    assert len(read_rows(tmp_path)) == after
    rows = run_sweep(tmp_path, **kwargs)
    assert _untimed(rows) == _untimed(ref_rows)


def test_resume_when_killed_between_a_round_and_its_ticket(reference, tmp_path,
                                                          monkeypatch):
    """A kill after UGS round 2's checkpoint but inside level 2's ticket training: the restart
    trains that ticket from the checkpoint's masks (round 2 is not rerun)."""
    import importlib

    ugs_module = importlib.import_module("graphsparse.gnn.methods.ugs")

    _, ref_rows = reference
    kwargs = {"methods": ["ugs"], "levels": [1, 2, 3], "seeds": [0], **TINY}
    original, calls = ugs_module._UGSSearch.ticket, []

    def ticket(self, started):
        calls.append(self.done)
        if self.done == 2:
            raise _Kill("killed inside level 2's ticket")
        return original(self, started)

    monkeypatch.setattr(ugs_module._UGSSearch, "ticket", ticket)
    with pytest.raises(_Kill):
        run_sweep(tmp_path, **kwargs)
    assert len(read_rows(tmp_path)) == 2  # dense + UGS level 1
    rounds = []
    monkeypatch.setattr(ugs_module._UGSSearch, "ticket", original)
    run_round = ugs_module._UGSSearch.run_round
    monkeypatch.setattr(ugs_module._UGSSearch, "run_round",
                        lambda self, k: rounds.append(k) or run_round(self, k))
    rows = run_sweep(tmp_path, **kwargs)
    assert rounds == [3]
    expected = {k: v for k, v in _untimed(ref_rows).items() if k[0] in ("dense", "ugs")}
    assert _untimed(rows) == expected


def test_imp_resumes_from_its_checkpoint(reference, tmp_path, monkeypatch):
    """A kill after IMP's level-1 row (written while round 2 trains, before round 2's
    checkpoint): the restart resumes after round 1 — three ticket trainings (rounds 2, 3 and
    the final run), not four — and gives the uninterrupted rows."""
    from graphsparse.gnn.methods import baselines

    _, ref_rows = reference
    kwargs = {"methods": ["imp"], "levels": [1, 2, 3], "seeds": [0], **TINY}
    with pytest.raises(_Kill):
        run_sweep(tmp_path, on_row=_killer(2), **kwargs)  # dense + IMP level 1
    trainings = []
    train_ticket = baselines.train_ticket
    monkeypatch.setattr(baselines, "train_ticket",
                        lambda *a, **k: trainings.append(k["desc"]) or train_ticket(*a, **k))
    rows = run_sweep(tmp_path, **kwargs)
    assert trainings == ["IMP round 2", "IMP round 3", "IMP ticket"]
    expected = {k: v for k, v in _untimed(ref_rows).items() if k[0] in ("dense", "imp")}
    assert _untimed(rows) == expected


def test_different_config_refused(reference, tmp_path):
    kwargs = {"methods": ["random"], "levels": [1], "seeds": [0], **TINY}
    run_sweep(tmp_path, **kwargs)
    config = (tmp_path / CONFIG_FILE).read_bytes()
    results = (tmp_path / RESULTS_FILE).read_bytes()
    with pytest.raises(ConfigMismatchError, match="epochs: 5 in the directory vs 6 now"):
        run_sweep(tmp_path, **{**kwargs, "epochs": 6})
    with pytest.raises(ConfigMismatchError, match="hidden"):
        run_sweep(tmp_path, **{**kwargs, "hidden": 8})
    assert (tmp_path / CONFIG_FILE).read_bytes() == config
    assert (tmp_path / RESULTS_FILE).read_bytes() == results
    # the same config with more levels/methods/seeds extends the sweep
    rows = run_sweep(tmp_path, **{**kwargs, "levels": [1, 2], "seeds": [0, 1]})
    assert len(rows) == 2 * (1 + 2)


def test_gcn_degree_round_trips_through_the_config(tmp_path):
    """``model_options={"gcn_degree": "out"}`` (UGS's dense normalisation) lands in
    config.json's model config, and the in-degree default in the same folder is refused."""
    kwargs = {"methods": ["ugs"], "levels": [1], "seeds": [0], **TINY,
              "method_options": {"ugs": {"tie_directions": False}}}
    run_sweep(tmp_path, model_options={"gcn_degree": "out"}, **kwargs)
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    assert config["model_config"]["gcn_degree"] == "out"
    with pytest.raises(ConfigMismatchError, match="gcn_degree"):
        run_sweep(tmp_path, **kwargs)


def test_featureless_link_sweep_learns_node_embeddings(tmp_path, monkeypatch):
    """A featureless link dataset (as ogbl-ddi) needs no model option: the runner sizes the
    node embedding from the graph."""
    import graphsparse.gnn.experiment.sweep as runner
    from tests.gnn.test_train import _link_dataset

    link = _link_dataset(load_dataset("sbm"), features=False)
    monkeypatch.setattr(runner, "load_dataset", lambda *args, **kwargs: link)
    rows = run_sweep(tmp_path, methods=["teddy", "random"], levels=[2], seeds=[0],
                     **{**TINY, "epochs": 2})
    assert [r["method"] for r in rows] == ["dense", "teddy", "random"]
    assert all(r["metric"] == "hits@20" and 0.0 <= r["test"] <= 1.0 for r in rows)
    assert json.loads((tmp_path / CONFIG_FILE).read_text())["model_config"]["num_nodes"] == \
        link.data.num_nodes


def test_direct_targets_and_incomplete_line(tmp_path):
    rows = run_sweep(tmp_path, methods=["random", "ugs"], graph_sparsity=0.3,
                     weight_sparsity=0.5, rounds=2, seeds=[0], **TINY)
    ugs_row = next(r for r in rows if r["method"] == "ugs")
    assert ugs_row["level"] is None and ugs_row["rounds"] == 2
    assert ugs_row["edges_kept"] == kept_count(ugs_row["edges_total"], 0.3)
    assert ugs_row["search_epochs"] == 15
    with open(tmp_path / RESULTS_FILE, "a") as f:
        f.write('{"method": "ra')
    with pytest.raises(ValueError, match="line 4 is not a complete JSON row"):
        read_rows(tmp_path)


@pytest.mark.parametrize("kwargs, message", [
    ({"methods": ["nope"], "levels": [1]}, "valid methods: 'ugs'"),
    ({"methods": ["random"], "levels": [0]}, "levels must be"),
    ({"methods": ["random"], "levels": [1], "p_graph": 1.0}, "p_graph must be"),
    ({"methods": ["random"], "graph_sparsity": -0.1}, "graph_sparsity must be"),
    ({"methods": ["random"], "levels": [1], "graph_sparsity": 0.5}, "either levels"),
    ({"methods": ["random"]}, "either levels"),
    ({"methods": ["random"], "levels": [1], "model": "mlp"}, "valid models: 'gcn'"),
    ({"methods": ["random"], "levels": [1], "dataset": "nope"}, "valid names"),
])
def test_run_sweep_bad_input(tmp_path, kwargs, message):
    out = tmp_path / "sweep"
    with pytest.raises(ValueError, match=message):
        run_sweep(out, seeds=[0], **{**TINY, **kwargs})
    assert not out.exists()


def _table_rows(tmp_path, rows):
    (tmp_path / RESULTS_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def test_summary_extreme_rule(tmp_path):
    """ε in the metric's units (0.01 = 1 percentage point); highest joint sparsity wins."""
    def row(method, level, seed, test, iso=None):
        return {"method": method, "level": level, "p_graph": 0.05, "p_weight": 0.2,
                "rounds": None, "graph_target": 0.0, "weight_target": 0.0, "seed": seed,
                "metric": "acc", "val": test, "test": test, "graph_sparsity": level / 10,
                "weight_sparsity": level / 5, "weight_scope": "linear", "search_epochs": 1,
                "search_seconds": 0.1, "inference_seconds": 0.01, "isolated_nodes": iso,
                "homophily": None if iso is None else 0.5}
    rows = [row("dense", 0, s, t) for s, t in ((0, 0.80), (1, 0.82))]
    rows += [row("ugs", 1, s, 0.81, 2) for s in (0, 1)]
    rows += [row("ugs", 2, s, t, 4) for s, t in ((0, 0.80), (1, 0.801))]  # 0.8005 >= 0.81-0.01
    rows += [row("ugs", 3, s, 0.79) for s in (0, 1)]                       # 0.79 < 0.80
    rows += [row("random", 1, s, 0.70) for s in (0, 1)]
    summary = summarise(_table_rows(tmp_path, rows))
    assert summary.dense["test_mean"] == pytest.approx(0.81)
    assert summary.dense["test_std"] == pytest.approx(0.0141421356)
    assert summary.extremes["ugs"]["level"] == 2
    assert summary.extremes["ugs"]["isolated_nodes"] == 4
    assert summary.extremes["random"] is None
    assert summarise(tmp_path, epsilon=0.03).extremes["ugs"]["level"] == 3
    text = str(summary)
    assert "ε = 1 percentage point(s)" in text and "none within ε of dense" in text
    assert summary.describe_extreme("ugs") == (
        "level 2 (p_weight 0.2): s_graph 20.00%, s_weight 40.00% (linear), test 80.05 ± 0.07% "
        "vs dense 81.00%, isolated nodes 4.0, kept-graph edge homophily 0.500")
    assert summary.describe_extreme("random") == "none within ε of dense"
    png = plot(tmp_path, tmp_path / "plot.png", summary=summary)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(FileNotFoundError, match="holds no sweep"):
        summarise(tmp_path / "missing")


def test_cli_run_and_report(tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["glt", "run", "--dataset", "sbm", "--model", "gcn", "--method", "teddy,random",
            "--levels", "1-2", "--p-graph", "0.1", "--p-weight", "0.3", "--seeds", "0,1",
            "--out", str(out), "--epochs", "3", "--hidden", "16", "--no-progress"]
    assert main(argv) == 0
    rows = read_rows(out)
    assert len(rows) == 2 * (1 + 2 * 2)
    assert {r["p_weight"] for r in rows if r["method"] != "dense"} == {0.3}
    assert main(argv) == 0  # a rerun skips every row
    assert read_rows(out) == rows
    assert main(["glt", "report", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "extreme tickets" in printed and "teddy" in printed and "dense" in printed
    assert (out / "accuracy_vs_sparsity.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args, message", [
    (["--dataset", "nope", "--method", "teddy", "--levels", "1"], "valid names: actor"),
    (["--dataset", "sbm", "--model", "mlp", "--method", "teddy", "--levels", "1"],
     "valid models"),
    (["--dataset", "sbm", "--method", "teddy,wd-glt", "--levels", "1"], "valid methods"),
    (["--dataset", "sbm", "--method", "teddy", "--graph-sparsity", "1.5"],
     "graph_sparsity must be a number in"),
    (["--dataset", "sbm", "--method", "teddy", "--levels", "1", "--p-weight", "-0.2"],
     "p_weight must be"),
    (["--dataset", "sbm", "--method", "teddy"], "give either levels"),
    (["--dataset", "sbm", "--method", "teddy", "--levels", "1", "--graph-sparsity", "0.5"],
     "give either levels"),
    (["--dataset", "cora", "--method", "teddy", "--levels", "1"], "DatasetNotFoundError"),
    (["--dataset", "sbm", "--method", "teddy", "--levels", "1", "--batch-size", "0",
      "--num-neighbors", "5,5"], "batch_size must be"),
    (["--dataset", "sbm", "--method", "teddy", "--levels", "1", "--batch-size", "32",
      "--num-neighbors", "5"], "num_neighbors has 1 fan-outs but the model has num_layers=2"),
    (["--dataset", "sbm", "--method", "teddy", "--levels", "1", "--batch-size", "32"],
     "needs both batch_size and num_neighbors"),
    (["--dataset", "sbm", "--method", "teddy", "--levels", "1", "--device", "cuda:7"],
     "available: cpu"),
    (["--dataset", "sbm", "--method", "teddy", "--levels", "1", "--device", "tpu"],
     "device must be one of auto, cpu, cuda"),
    (["--dataset", "sbm", "--method", "teddy", "--levels", "1", "--lr", "nan"],
     "lr must be a finite number > 0"),
    (["--dataset", "sbm", "--method", "teddy", "--levels", "1", "--weight-decay", "inf"],
     "weight_decay must be a finite number >= 0"),
])
def test_cli_bad_input(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.setenv("GRAPHSPARSE_OFFLINE", "1")
    out = tmp_path / "sweep"
    with pytest.raises(SystemExit) as err:
        main(["glt", "run", *args, "--data-root", str(tmp_path / "empty"), "--out", str(out),
              "--epochs", "2", "--hidden", "8", "--no-progress"])
    assert message in str(err.value)
    assert not out.exists()


@pytest.mark.parametrize("fanouts", ["5,-2", "a,b", ""])
def test_cli_fanouts_that_do_not_parse(tmp_path, capsys, fanouts):
    with pytest.raises(SystemExit):
        main(["glt", "run", "--dataset", "sbm", "--method", "teddy", "--levels", "1",
              "--batch-size", "8", "--num-neighbors", fanouts, "--out", str(tmp_path / "o")])
    assert "--num-neighbors must be" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("levels", ["1-x", "0-3", "5-2", ""])
def test_cli_levels_that_do_not_parse(tmp_path, capsys, levels):
    with pytest.raises(SystemExit) as err:
        main(["glt", "run", "--dataset", "sbm", "--method", "teddy", "--levels", levels,
              "--out", str(tmp_path / "sweep")])
    assert err.value.code == 2
    assert "--levels" in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()


def test_cli_different_config_and_missing_report(tmp_path):
    out = tmp_path / "sweep"
    base = ["glt", "run", "--dataset", "sbm", "--method", "random", "--levels", "1",
            "--out", str(out), "--hidden", "16", "--no-progress"]
    assert main([*base, "--epochs", "2"]) == 0
    before = (out / RESULTS_FILE).read_bytes(), (out / CONFIG_FILE).read_bytes()
    with pytest.raises(SystemExit, match="another configuration"):
        main([*base, "--epochs", "3"])
    assert ((out / RESULTS_FILE).read_bytes(), (out / CONFIG_FILE).read_bytes()) == before
    with pytest.raises(SystemExit, match="holds no sweep"):
        main(["glt", "report", str(tmp_path / "nothing")])


def test_committed_config_stays_compatible():
    """A key added to config.json with a default (``method_options``) does not invalidate a
    stored sweep: the committed Cora GCN folder's config equals today's config for the same
    settings, and a non-default value of the new key is still refused."""
    from pathlib import Path

    from graphsparse.gnn.experiment.sweep import config_differences, sweep_config

    path = Path(__file__).resolve().parents[2] / "benchmarks/results/glt_cora_gcn/config.json"
    stored = json.loads(path.read_text())
    assert "method_options" not in stored
    config = sweep_config(load_dataset("cora"), model="gcn",
                          model_kwargs={"hidden": 512, "num_layers": 2}, hidden=512,
                          num_layers=2, train={"epochs": 200, "lr": 0.01, "weight_decay": 5e-4},
                          weight_scope=None, method_options={})
    config = json.loads(json.dumps(config))
    assert config_differences(stored, config) == []
    changed = {**config, "method_options": {"teddy": {"lamb": 10.0}}}
    assert config_differences(stored, changed) == [
        "method_options: {} in the directory vs {'teddy': {'lamb': 10.0}} now"]


def test_a_second_run_on_a_folder_in_use_fails_at_once(tmp_path):
    """Two concurrent `glt run` on one folder: the second exits at once naming the first's
    pid and writes nothing; the first finishes with each row once."""
    import subprocess
    import sys
    import time

    out = tmp_path / "sweep"
    args = ["glt", "run", "--dataset", "sbm", "--method", "random,teddy", "--levels", "1-3",
            "--seeds", "0,1", "--epochs", "30", "--hidden", "8", "--out", str(out),
            "--no-progress"]
    first = subprocess.Popen([sys.executable, "-m", "graphsparse", *args],
                             cwd=Path(__file__).resolve().parents[2], text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not (out / "config.json").exists():
        assert first.poll() is None and time.monotonic() < deadline, first.stdout.read()
        time.sleep(0.05)
    rows_before = len(read_rows(out))
    with pytest.raises(SystemExit, match=f"in use by another process \\(pid {first.pid}"):
        main(args)
    assert first.poll() is None, "the first run ended before the second was refused"
    assert len(read_rows(out)) >= rows_before
    output = first.communicate(timeout=240)[0]
    assert first.returncode == 0, output
    rows = read_rows(out)
    assert len(rows) == 2 * (1 + 2 * 3) and len({row_key(r) for r in rows}) == len(rows)


def test_run_sweep_refuses_a_locked_folder_before_writing(tmp_path):
    from graphsparse.fileio import FolderLockedError, exclusive_lock

    out = tmp_path / "sweep"
    out.mkdir()
    with exclusive_lock(out / ".lock"):
        with pytest.raises(FolderLockedError, match=f"pid {os.getpid()}"):
            run_sweep(out, seeds=[0], **{**TINY, "methods": ["random"], "levels": [1]})
    assert sorted(p.name for p in out.iterdir()) == [".lock"]
    rows = run_sweep(out, seeds=[0], **{**TINY, "methods": ["random"], "levels": [1]})
    assert len(rows) == 2  # the lock is released with its holder
