import runpy
from pathlib import Path

import pytest
import torch

from graphsparse.cli import main
from graphsparse.masks import load_masks

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_and_writes_a_loadable_mask_file(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "dense MLP: test accuracy" in out
    assert "round 4: target sparsity 0.9375, realised 0.9375" in out
    assert "identical=True" in out
    masks, meta = load_masks(tmp_path / "imp_round4_masks.pt")
    assert meta["overall_sparsity"] == pytest.approx(0.9375)
    assert torch.load(tmp_path / "imp_round4_masks.pt", weights_only=True)["format"] == "graphsparse/masks/1"


def test_cli_rejects_bad_epochs(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--epochs", "0"])
    assert "--epochs must be >= 1" in capsys.readouterr().err


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "examples").glob("*.py")))
def test_examples_run(script, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(ROOT / "examples" / script), run_name="__main__")


def readme_glt_lines(prefix: str) -> list[str]:
    """The README's bash lines that start with ``prefix`` and run ``glt run``."""
    import re

    readme = (ROOT / "README.md").read_text()
    return [ln for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
            for ln in block.splitlines() if ln.startswith(prefix) and " glt run " in ln]


def test_readme_glt_lines_work(tmp_path, monkeypatch, capsys):
    """The README's single-process commands (mini-batch, Dask workers), as written but with 2
    epochs, one level and one seed (the torchrun one runs in tests/gnn/test_distributed.py)."""
    import json
    import shlex

    monkeypatch.chdir(tmp_path)
    lines = readme_glt_lines("graphsparse glt run")
    assert any("--batch-size" in ln for ln in lines) and any("--workers" in ln for ln in lines)
    for line in lines:
        args = shlex.split(line)[1:]
        assert main([*args, "--epochs", "2", "--levels", "1", "--seeds", "0",
                     "--no-progress"]) == 0
        out = args[args.index("--out") + 1]
        rows = [json.loads(r) for r in (tmp_path / out / "results.jsonl").read_text().splitlines()]
        assert {r["method"] for r in rows} >= {"dense", "teddy"}
        mini_batch = "--batch-size" in args
        assert (rows[0]["evaluation"] != "full-batch") == mini_batch


def test_readme_cli_lines_work(tmp_path, monkeypatch, capsys):
    import json
    import re
    import shlex

    monkeypatch.chdir(tmp_path)
    readme = (ROOT / "README.md").read_text()
    # the metaprune lines run the full-size zoo and 30 minutes of meta-training; they are run
    # with small settings in tests/topology/test_compare.py::test_metaprune_cli_end_to_end
    # the glt lines train for 200 epochs; test_readme_glt_lines_work runs them shortened
    lines = [ln for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
             for ln in block.splitlines()
             if ln.startswith("graphsparse ") and not ln.startswith("graphsparse metaprune ")
             and not ln.startswith("graphsparse glt ")]
    assert any(" mlp " in ln for ln in lines) and any(" stats " in ln for ln in lines)
    for line in lines:
        capsys.readouterr()
        assert main(shlex.split(line)[1:]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"num_nodes", "num_edges", "density", "dead_neurons", "effective_sparsity",
            "num_components", "layers"} <= set(report)


MLP_TRAIN = ["mlp", "--widths", "64,16,10", "--density", "0.5", "--train", "digits",
             "--epochs", "1"]


def test_mlp_out_into_a_missing_folder_fails_before_training(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        main([*MLP_TRAIN, "--out", str(tmp_path / "missing" / "m.pt")])
    assert not list(tmp_path.rglob("*"))


def test_mlp_out_into_an_unwritable_folder_fails_before_training(tmp_path):
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # running as a user who writes anywhere (root)
            pytest.skip("this user can write into a read-only folder")
        with pytest.raises(SystemExit, match="not writable"):
            main([*MLP_TRAIN, "--out", str(locked / "m.pt")])
    finally:
        locked.chmod(0o700)
