import json

import pytest
import torch

from graphsparse.cli import main
from graphsparse.fileio import read_jsonl
from graphsparse.metaprune import MetaNetwork, load_metanet
from graphsparse.metaprune.compare import ARMS, compare_pruning, mean_polarisation, summary_table
from graphsparse.metaprune.zoo import ZooSpec, make_zoo

SPECS = [ZooSpec("t-mlp", "mlp", "digits", (16,), 0, seed=0, epochs=1, lr=0.01),
         ZooSpec("t-cnn", "cnn", "digits", (2, 4), 8, seed=1, epochs=1, lr=0.01)]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return make_zoo(tmp_path_factory.mktemp("zoo"), SPECS, progress=False)


def test_compare_pruning_rows_resume_and_targets(zoo, tmp_path):
    torch.manual_seed(0)
    metanet = MetaNetwork(num_layers=1, hidden=8, scale=0.1)
    out = tmp_path / "rows.jsonl"
    rows = compare_pruning(list(zoo), metanet, out, ratios=(0.6,), finetune_epochs=1,
                           tag={"seed": 7}, progress=False)
    assert len(rows) == len(SPECS) * len(ARMS)
    for r in rows:
        assert r["seed"] == 7 and r["finetune_epochs"] == 1 and 0.0 <= r["acc_finetuned"] <= 1.0
        if r["arm"].endswith("group_norm"):
            assert r["params_ratio"] <= 0.6             # closest realisable ratio at or below
        else:
            assert r["params_ratio"] == pytest.approx(0.6, abs=0.05)   # + biases / BN kept
        assert r["topology"]["num_edges"] > 0
        if r["arm"].startswith("metanet"):
            assert r["acc_input"] != r["acc_original"] or r["polarisation_input"] >= 0
    # the metanetwork changes the network, the plain arms prune the original
    plain = {r["member"]: r for r in rows if r["arm"] == "group_norm"}
    assert all(plain[m]["acc_input"] == plain[m]["acc_original"] for m in plain)
    lines = out.read_text().splitlines()
    again = compare_pruning(list(zoo), metanet, out, ratios=(0.6,), finetune_epochs=1,
                            tag={"seed": 7}, progress=False)
    assert out.read_text().splitlines() == lines and again == rows     # resumed: nothing rerun
    table = summary_table(rows)
    assert table[0].startswith("| arm |") and len(table) == 2 + len(ARMS)


def test_compare_pruning_rejects_bad_input(zoo, tmp_path):
    with pytest.raises(ValueError, match="arms"):
        compare_pruning(list(zoo), None, tmp_path / "r", arms=("pruneit",), progress=False)
    with pytest.raises(ValueError, match="metanet is required"):
        compare_pruning(list(zoo), None, tmp_path / "r", progress=False)
    with pytest.raises(ValueError, match="ratios"):
        compare_pruning(list(zoo), None, tmp_path / "r", arms=("group_norm",), ratios=(0.0,),
                        progress=False)
    assert 0.0 <= mean_polarisation(list(zoo), None) <= 1.0


def test_metaprune_cli_end_to_end(zoo, tmp_path, capsys):
    assert main(["metaprune", "zoo", "--root", str(tmp_path / "z"), "--size", "1",
                 "--no-progress"]) == 0
    assert "1 networks" in capsys.readouterr().out
    root, net, rows = zoo.root, tmp_path / "metanet.pt", tmp_path / "rows.jsonl"
    assert main(["metaprune", "train", "--zoo", str(root), "--out", str(net), "--held-out", "1",
                 "--steps", "2", "--layers", "1", "--hidden", "8", "--no-progress"]) == 0
    assert "held-out polarisation" in capsys.readouterr().out
    metanet, meta = load_metanet(net)
    assert len(meta["held_out"]) == 1 and meta["steps_done"] == 2
    assert main(["metaprune", "prune", "--zoo", str(root), "--metanet", str(net), "--out", str(rows),
                 "--ratios", "0.5", "--arms", "group_norm,metanet+group_norm",
                 "--finetune-epochs", "1", "--no-progress"]) == 0
    assert "| metanet+group_norm | 0.5 |" in capsys.readouterr().out
    assert len(read_jsonl(rows)) == 2
    with pytest.raises(SystemExit, match="metaprune prune"):
        main(["metaprune", "prune", "--zoo", str(root), "--metanet", str(rows), "--out",
              str(tmp_path / "x.jsonl"), "--no-progress"])
    json.dumps(meta)
