"""``glt tune`` (issue 14 item 3): an Optuna study on validation only, resumable in its folder,
never reading test labels, whose best settings become a preset file for ``glt run``."""

from __future__ import annotations

import copy
import dataclasses
import json

import optuna
import pytest

from graphsparse.cli import main
from graphsparse.gnn.data import load_dataset
from graphsparse.gnn.experiment import tune as tune_module
from graphsparse.gnn.experiment.presets import apply_preset
from graphsparse.gnn.experiment.tune import PRESET_FILE, STUDY_FILE, tune

SMALL = {"dataset": "sbm", "method": "teddy", "level": 2, "epochs": 8, "hidden": 16}


def _values(folder):
    study = optuna.load_study(study_name="glt-tune", storage=f"sqlite:///{folder / STUDY_FILE}")
    return [(t.params, t.value, t.state.name) for t in study.trials]


def test_tune_resumes_and_writes_a_preset_file(tmp_path):
    tune(tmp_path / "t", trials=3, **SMALL)
    first = _values(tmp_path / "t")
    best = tune(tmp_path / "t", trials=5, **SMALL)  # resumes: 2 more trials
    after = _values(tmp_path / "t")
    assert len(first) == 3 and len(after) == 5 and after[:3] == first
    assert json.loads((tmp_path / "t" / PRESET_FILE).read_text()) == best
    kwargs = apply_preset(tmp_path / "t" / PRESET_FILE, dataset="sbm", model="gcn",
                          methods=["teddy"])
    assert kwargs["method_options"] == {"teddy": {"lamb": best["teddy.lamb"]}}
    assert kwargs["lr"] == best["lr"] and kwargs["model_options"]["dropout"] == best["dropout"]


def test_tune_never_reads_test_labels(tmp_path, monkeypatch):
    tune(tmp_path / "clean", trials=3, **SMALL)
    real = load_dataset("sbm")
    data = real.data.clone()
    data.y[data.test_mask] = (data.y[data.test_mask] + 1) % real.num_classes  # every one wrong
    poisoned = dataclasses.replace(real, data=data)
    assert not poisoned.data.y.equal(real.data.y)
    monkeypatch.setattr(tune_module, "load_dataset", lambda *args, **kwargs: poisoned)
    tune(tmp_path / "poisoned", trials=3, **SMALL)
    assert _values(tmp_path / "poisoned") == _values(tmp_path / "clean")


def test_other_settings_in_the_same_folder_are_refused(tmp_path):
    tune(tmp_path / "t", trials=1, **SMALL)
    with pytest.raises(ValueError, match="holds a search with other settings"):
        tune(tmp_path / "t", trials=1, **{**SMALL, "level": 3})


@pytest.mark.parametrize("change, message", [({"trials": 0}, "trials must be an int >= 1"),
                                             ({"method": "wd-glt"}, "unknown method"),
                                             ({"p_weight": 1.0}, "p_weight")])
def test_bad_arguments_are_refused_before_writing(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        tune(tmp_path / "t", **{**SMALL, "trials": 1, **change})
    assert not (tmp_path / "t").exists()


def test_cli_tune(tmp_path, capsys):
    out = tmp_path / "t"
    assert main(["glt", "tune", "--dataset", "sbm", "--method", "ugs", "--level", "1",
                 "--trials", "2", "--epochs", "5", "--hidden", "16", "--out", str(out)]) == 0
    best = json.loads((out / PRESET_FILE).read_text())
    assert {"ugs.s1", "ugs.s2", "lr", "weight_decay", "dropout"} <= set(best)
    assert "--preset" in capsys.readouterr().out


def test_a_base_preset_fixes_the_settings_it_does_not_search(tmp_path, monkeypatch):
    """--preset: grid settings from the preset, its unsearched settings fixed in every trial
    and copied into preset.json; a searched one (teddy.lamb) is searched, not fixed."""
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"hidden": 16, "epochs": 6, "bias": True,
                                "weight_scope": "linear", "p_weight": 0.1, "teddy.lamb": 5.0}))
    seen = []
    real = tune_module.get_method

    def spy(name):
        method = copy.copy(real(name))
        function = method.function
        method.function = lambda *args, **kwargs: seen.append(kwargs) or function(*args,
                                                                                    **kwargs)
        return method
    monkeypatch.setattr(tune_module, "get_method", spy)
    best = tune(tmp_path / "t", dataset="sbm", method="teddy", level=2, trials=2, preset=base)
    assert {k: best[k] for k in ("hidden", "epochs", "bias", "weight_scope", "p_weight")} == \
        {"hidden": 16, "epochs": 6, "bias": True, "weight_scope": "linear", "p_weight": 0.1}
    assert all(kw["weight_scope"] == "linear" and kw["epochs"] == 6 for kw in seen)
    assert len({kw["lamb"] for kw in seen}) == 2  # searched per trial, not the preset's 5.0
    config = json.loads((tmp_path / "t" / "tune.json").read_text())
    assert config["preset"] == str(base) and config["fixed"] == {"bias": True,
                                                                 "weight_scope": "linear"}
