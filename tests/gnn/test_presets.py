"""Settings, method options and paper presets (issue 14 items 1-2): every option is checked
before anything is written and round-trips through config.json; a CLI run with each preset
writes the values of docs/gnn.md's preset table; explicit flags override a preset."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from graphsparse.cli import main
from graphsparse.gnn.experiment import sweep
from graphsparse.gnn.experiment.presets import PRESETS, apply_preset, preset_table
from graphsparse.gnn.experiment.sweep import CONFIG_FILE, ConfigMismatchError, run_sweep

DOCS = Path(__file__).resolve().parents[2] / "docs" / "gnn.md"
SBM = {"dataset": "sbm", "model": "gcn", "levels": [1], "hidden": 16, "epochs": 2,
       "progress": False}


@pytest.fixture
def no_training(monkeypatch):
    """The sweep writes its config, then trains nothing (the cells are not the subject)."""
    monkeypatch.setattr(sweep, "_run_cells", lambda *args, **kwargs: None)


def _docs_table(name: str) -> dict[str, dict[str, object]]:
    """``{column: {setting: value}}`` of the preset's table in docs/gnn.md."""
    text = DOCS.read_text()
    block = text[text.index(f"<!-- preset:{name} -->"):text.index(f"<!-- /preset:{name} -->")]
    rows = [line for line in block.splitlines() if line.startswith("| ")]
    columns = [c.strip() for c in rows[0].strip("|").split("|")][1:-1]
    table: dict[str, dict[str, object]] = {c: {} for c in columns}
    for row in rows[1:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        for column, cell in zip(columns, cells[1:-1]):
            table[column][cells[0].strip("`")] = json.loads(cell)
    return table


def _config_value(config: dict, key: str) -> object:
    method, dot, option = key.partition(".")
    if dot:
        return config["method_options"][method][option]
    if key in ("dropout", "bias"):
        return config["model_config"][key]
    if key in ("p_graph", "p_weight"):
        return None  # grid rates are row fields, checked below
    return config[key]


@pytest.mark.parametrize("preset, method, column", [("ugs-paper", "ugs", "gcn cora"),
                                                     ("teddy-paper", "teddy", "all")])
def test_cli_preset_writes_the_docs_table(tmp_path, no_training, preset, method, column):
    values = _docs_table(preset)[column]
    out = tmp_path / "out"
    assert main(["glt", "run", "--dataset", "cora", "--method", method, "--preset", preset,
                 "--levels", "1", "--no-progress", "--out", str(out)]) == 0
    config = json.loads((out / CONFIG_FILE).read_text())
    assert config["preset"] == preset
    for key, value in values.items():
        if key not in ("p_graph", "p_weight"):
            assert _config_value(config, key) == value, key
    resolved = apply_preset(preset, dataset="cora", model="gcn", methods=[method])
    assert (resolved["p_graph"], resolved["p_weight"]) == (values["p_graph"], values["p_weight"])


def test_docs_preset_tables_are_generated_from_the_presets():
    text = DOCS.read_text()
    for name in PRESETS:
        assert "\n".join(preset_table(name)) in text


def test_explicit_flags_override_the_preset(tmp_path, no_training):
    out = tmp_path / "out"
    assert main(["glt", "run", "--dataset", "cora", "--method", "ugs,random", "--preset",
                 "ugs-paper", "--lr", "0.02", "--option", "ugs.s1=0.5", "--dropout", "0.3",
                 "--levels", "1", "--no-progress", "--out", str(out)]) == 0
    config = json.loads((out / CONFIG_FILE).read_text())
    assert config["lr"] == 0.02 and config["weight_decay"] == 8e-5
    assert config["method_options"] == {"ugs": {"s1": 0.5, "s2": 0.01, "retrain_epochs": 200}}
    assert config["model_config"]["dropout"] == 0.3 and config["preset"] == "ugs-paper"


def test_a_preset_file(tmp_path, no_training):
    file = tmp_path / "tuned.json"
    file.write_text(json.dumps({"lr": 0.005, "teddy.lamb": 2.5, "dropout": 0.2}))
    kwargs = apply_preset(file, dataset="sbm", model="gcn", methods=["teddy"])
    run_sweep(tmp_path / "out", **{**SBM, **kwargs})
    config = json.loads((tmp_path / "out" / CONFIG_FILE).read_text())
    assert (config["lr"], config["method_options"], config["model_config"]["dropout"],
            config["preset"]) == (0.005, {"teddy": {"lamb": 2.5}}, 0.2, str(file))


@pytest.mark.parametrize("method, options, other", [
    ("teddy", {"lamb": 10.0}, {"lamb": 1.0}),
    ("ugs", {"s1": 1e-3, "s2": 1e-4}, {"s1": 1e-3, "s2": 1e-5}),
    ("ugs", {"retrain_epochs": 3}, {"retrain_epochs": 4}),
    ("ugs", {"mode": "weight"}, {"mode": "message"}),
    ("ugs", {"mask_lr": 0.05}, {"mask_lr": 0.01}),
    ("imp", {"edge_score": "jaccard"}, {"edge_score": "teddy"}),
    ("imp", {"rewind_epoch": 1}, {"rewind_epoch": 0}),
    ("fastglt", {"edge_score": "magnitude", "regrow_fraction": 0.1, "update_interval": 4,
                 "accumulation_epochs": 3, "pretrain_epochs": 2, "denoise_epochs": 5,
                 "edge_l1": 0.0},
     {"edge_score": "teddy", "regrow_fraction": 0.1, "update_interval": 4,
      "accumulation_epochs": 3, "pretrain_epochs": 2, "denoise_epochs": 5, "edge_l1": 0.0}),
    ("adaglt", {"search_epochs": 3, "temperature": 0.2, "edge_reg": 1e-4, "weight_reg": 1e-2,
                "threshold_coef": 0.05, "explainer_hidden": 8},
     {"search_epochs": 3, "temperature": 0.1, "edge_reg": 1e-4, "weight_reg": 1e-2,
      "threshold_coef": 0.05, "explainer_hidden": 8}),
    ("magnitude", {"edge_score": "jaccard"}, {"edge_score": "random"}),
])
def test_every_option_round_trips_and_a_different_value_is_refused(tmp_path, no_training,
                                                                   method, options, other):
    out = tmp_path / "out"
    run_sweep(out, methods=[method], method_options={method: options}, **SBM)
    assert json.loads((out / CONFIG_FILE).read_text())["method_options"] == {method: options}
    run_sweep(out, methods=[method], method_options={method: options}, **SBM)  # same: resumes
    with pytest.raises(ConfigMismatchError, match="method_options"):
        run_sweep(out, methods=[method], method_options={method: other}, **SBM)


@pytest.mark.parametrize("model_options, other", [({"dropout": 0.1}, {"dropout": 0.2}),
                                                  ({"bias": True}, {"bias": False})])
def test_training_settings_round_trip(tmp_path, no_training, model_options, other):
    out = tmp_path / "out"
    run_sweep(out, methods=["random"], model_options=model_options, **SBM)
    config = json.loads((out / CONFIG_FILE).read_text())
    assert all(config["model_config"][k] == v for k, v in model_options.items())
    with pytest.raises(ConfigMismatchError, match="model_config"):
        run_sweep(out, methods=["random"], model_options=other, **SBM)


@pytest.mark.parametrize("method, options, message", [
    ("teddy", {"lamb": -1}, "lamb must be a finite number >= 0"),
    ("teddy", {"lamb": math.nan}, "lamb must be a finite number"),
    ("ugs", {"s1": math.inf}, "s1 must be a finite number"),
    ("ugs", {"retrain_epochs": 0}, "retrain_epochs must be an int >= 1"),
    ("ugs", {"mode": "soft"}, "mode"),
    ("ugs", {"mask_lr": 0.0}, "mask_lr must be a finite number > 0"),
    ("imp", {"rewind_epoch": -1}, "rewind_epoch must be an int >= 0"),
    ("imp", {"edge_score": "magnitude"}, "edge_score"),
    ("adaglt", {"temperature": 0.0}, "temperature must be a finite number > 0"),
    ("adaglt", {"explainer_hidden": 0}, "explainer_hidden must be an int >= 1"),
    ("fastglt", {"regrow_fraction": 1.5}, "regrow_fraction must be a number in [0, 1], got 1.5"),
    ("fastglt", {"update_interval": 2}, "accumulation_epochs must be an int in [1, "
                                        "update_interval - 1] = [1, 1], got 2"),
    ("imp", {"rewind_epoch": 2}, "rewind_epoch must be an int in [0, epochs - 1]"),
    ("imp", {"edge_score": "pagerank"}, "edge_score"),
    ("teddy", {"teacher": [1.0]}, "not a value a sweep can record"),
    ("random", {"lamb": 1.0}, "does not take option"),
])
def test_bad_option_values_are_refused_before_writing(tmp_path, method, options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        run_sweep(tmp_path / "out", methods=[method], method_options={method: options}, **SBM)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    (["--preset", "ugs-paper"], "has no values for model 'gcn' on dataset 'sbm'"),
    (["--preset", "missing.json"], "or a JSON file"),
    (["--option", "lamb=1"], "expected METHOD.NAME=VALUE"),
    (["--option", "teddy.lamb=-1"], "lamb must be a finite number >= 0"),
])
def test_cli_bad_presets_and_options(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["glt", "run", "--dataset", "sbm", "--method", "teddy", "--levels", "1",
              "--out", str(out), *args])
    assert message in capsys.readouterr().err + str(exit_info.value)
    assert not out.exists()


def test_a_preset_file_with_an_unknown_setting_is_refused(tmp_path):
    file = tmp_path / "bad.json"
    file.write_text(json.dumps({"learning_rate": 0.1}))
    with pytest.raises(ValueError, match="unknown setting 'learning_rate'"):
        apply_preset(file, dataset="cora", model="gcn", methods=["teddy"])


def test_normalize_features_round_trips_and_is_refused_when_different(tmp_path, no_training):
    """--normalize-features reaches the loader, lands in config.json, and a folder run without
    it refuses a run with it."""
    out = tmp_path / "out"
    assert main(["glt", "run", "--dataset", "cora", "--method", "random", "--levels", "1",
                 "--hidden", "16", "--epochs", "2", "--normalize-features", "--no-progress",
                 "--out", str(out)]) == 0
    assert json.loads((out / CONFIG_FILE).read_text())["normalize_features"] is True
    with pytest.raises(ConfigMismatchError, match="normalize_features"):
        run_sweep(out, methods=["random"], **{**SBM, "dataset": "cora"})
    resolved = apply_preset(None, dataset="sbm", model="gcn", methods=["random"],
                            dataset_options={"normalize_features": True})
    assert resolved["dataset_options"] == {"normalize_features": True}
