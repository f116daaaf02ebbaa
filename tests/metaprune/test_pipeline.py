"""The paper's pipeline: progressive pruning to a MAC speed-up, magnitude masks to a speed-up,
checkpoint selection on validation only, equal fine-tuning budgets, resumption."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from graphsparse.metaprune import pipeline as pipeline_module
from graphsparse.metaprune.pipeline import (
    PipelineConfig,
    check_equal_budgets,
    magnitude_to_speedup,
    run_pipeline,
    validation_split,
)
from graphsparse.metaprune.progressive import prune_to_speedup
from graphsparse.metaprune.zoo import default_specs, make_zoo, zoo_data
from graphsparse.fileio import read_jsonl

TINY_METANET = {"num_layers": 1, "hidden": 8, "scale": 0.1, "weight_update": "multiplicative"}


def _mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


# ------------------------------------------------------------------------- progressive pruning
def test_prune_to_speedup_reaches_the_target_and_keeps_the_head():
    net = _mlp()
    result = prune_to_speedup(net, torch.randn(1, 6), 2.0, steps=40)
    assert 1 / result.macs_ratio >= 2.0
    assert result.model[-1].out_features == 3 and net[0].out_features == 16  # input untouched
    assert result.target_kind == "speedup" and 0 < result.params_ratio < 1


def test_prune_to_speedup_removes_the_weakest_neurons_first():
    # first-layer neurons 8..15 have tiny weights in and out, so group norm ranks them below
    # every other group: a small speed-up removes some of them and none of 0..7
    net = _mlp()
    with torch.no_grad():
        net[0].weight[8:] *= 1e-3
        net[2].weight[:, 8:] *= 1e-3
    result = prune_to_speedup(net, torch.randn(1, 6), 1.3, steps=16)
    first = result.model[0].weight
    assert first.shape[0] < 16
    kept = [i for i in range(16) if any(torch.equal(net[0].weight[i], row) for row in first)]
    assert set(range(8)) <= set(kept)


def test_prune_to_speedup_checks_its_arguments():
    net = _mlp()
    with pytest.raises(ValueError, match="speedup"):
        prune_to_speedup(net, torch.randn(1, 6), 1.0)
    with pytest.raises(ValueError, match="normalizer"):
        prune_to_speedup(net, torch.randn(1, 6), 2.0, normalizer="median")
    with pytest.raises(ValueError, match="unreachable"):
        prune_to_speedup(net, torch.randn(1, 6), 1000.0, steps=5)


def test_magnitude_to_speedup_is_the_smallest_sparsity_reaching_it():
    net = _mlp()
    result = magnitude_to_speedup(net, torch.randn(1, 6), 3.0)
    assert 1 / result.macs_ratio >= 3.0
    looser = pipeline_module.prune_unstructured(net, result.target - 0.02, example_input=torch.randn(1, 6))
    assert 1 / looser.macs_ratio < 3.0


# ------------------------------------------------------------------------------- settings
def test_config_names_bad_settings():
    with pytest.raises(ValueError, match="speedups"):
        PipelineConfig(speedups=(0.5,))
    with pytest.raises(ValueError, match="arms"):
        PipelineConfig(arms=("prune_everything",))
    with pytest.raises(ValueError, match="after_prune_epochs"):
        PipelineConfig(after_prune_epochs=-1)
    assert PipelineConfig().digest() != PipelineConfig(after_prune_epochs=4).digest()


def test_validation_split_leaves_the_test_split_alone():
    data = zoo_data("digits")
    kept, x_val, y_val = validation_split(data, 0.1, seed=0)
    assert len(kept.y_train) + len(y_val) == len(data.y_train)
    assert torch.equal(kept.x_test, data.x_test) and torch.equal(kept.y_test, data.y_test)


def test_check_equal_budgets_refuses_unequal_arms():
    rows = [{"seed": 0, "member": "m", "speedup": 2.0, "epochs_total": 10},
            {"seed": 0, "member": "m", "speedup": 2.0, "epochs_total": 5}]
    with pytest.raises(ValueError, match="unequal"):
        check_equal_budgets(rows)


# ------------------------------------------------------------------------------ the pipeline
@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory):
    specs = [dataclasses.replace(s, epochs=2) for s in default_specs(24)
             if s.dataset == "digits" and s.arch == "mlp"]
    return make_zoo(tmp_path_factory.mktemp("zoo"), specs, progress=False)


def _config(**changes) -> PipelineConfig:
    base = dict(speedups=(2.0,), held_out=2, val_members=2, after_metanet_epochs=1,
                after_prune_epochs=1, meta_steps=20, select_every=10, prune_steps=20,
                metanet=TINY_METANET, batch_size=16)
    return PipelineConfig(**{**base, **changes})


def test_pipeline_rows_have_equal_budgets_and_resume_without_retraining(tiny_zoo, tmp_path, monkeypatch):
    rows = run_pipeline(tiny_zoo, tmp_path, seed=0, config=_config(), progress=False)
    assert len(rows) == 2 * 4
    assert {r["epochs_total"] for r in rows} == {2}
    assert all(r["speedup_realised"] >= 2.0 for r in rows)
    steps = {r["metanet_step"] for r in rows if r["arm"].startswith("metanet")}
    assert len(steps) == 1 and steps <= {10, 20}
    kept = list(tmp_path.glob("*/seed0/selected/*.pt"))        # only the chosen checkpoint
    assert [p.name for p in kept] == [f"step{steps.pop()}.pt"]

    def refuse(*args, **kwargs):
        raise AssertionError("retrained something that was finished")

    monkeypatch.setattr(pipeline_module, "meta_train", refuse)
    monkeypatch.setattr(pipeline_module, "fine_tune", refuse)
    again = run_pipeline(tiny_zoo, tmp_path, seed=0, config=_config(), progress=False)
    assert again == rows

    # a kill after the fine-tuning before pruning but before the last row: only that row's
    # after-pruning fine-tuning runs again
    results = tmp_path / "results.jsonl"
    lines = results.read_text().splitlines()
    results.write_text("\n".join(lines[:-1]) + "\n")
    calls = []
    monkeypatch.setattr(pipeline_module, "fine_tune", lambda *a, **k: calls.append(k["epochs"]))
    resumed = run_pipeline(tiny_zoo, tmp_path, seed=0, config=_config(), progress=False)
    assert calls == [1] and len(resumed) == len(rows) and len(read_jsonl(results)) == len(rows)


@pytest.mark.parametrize("select_finetune_epochs", [0, 1])
def test_checkpoint_selection_never_reads_test_labels(tiny_zoo, tmp_path, monkeypatch,
                                                      select_finetune_epochs):
    config = _config(select_finetune_epochs=select_finetune_epochs)
    meta, val, _ = pipeline_module._split(tiny_zoo, config, 1)
    models = {m.spec.name: m.model for m in tiny_zoo}

    def select(folder):
        folder.mkdir(parents=True)
        _, step = pipeline_module._selected_metanet(meta, val, models, config, 1, folder,
                                                    lambda *a, **k: None)
        return step, [r["val_acc"] for r in read_jsonl(folder / "selection.jsonl")]

    clean = select(tmp_path / "clean")
    real = pipeline_module.zoo_data

    def poisoned(*args, **kwargs):
        data = real(*args, **kwargs)
        return dataclasses.replace(data, x_test=torch.full_like(data.x_test, float("nan")),
                                   y_test=torch.full_like(data.y_test, -1))

    monkeypatch.setattr(pipeline_module, "zoo_data", poisoned)
    assert select(tmp_path / "poisoned") == clean


def test_selection_with_fine_tuning_scores_recovery_and_keeps_old_digests(tiny_zoo, tmp_path,
                                                                       monkeypatch):
    assert "select_finetune_epochs" not in PipelineConfig().to_dict()   # digests written before
    assert PipelineConfig(select_finetune_epochs=1).digest() != PipelineConfig().digest()
    with pytest.raises(ValueError, match="select_finetune_epochs"):
        PipelineConfig(select_finetune_epochs=-1)
    config = _config(select_finetune_epochs=1)
    meta, val, _ = pipeline_module._split(tiny_zoo, config, 1)
    models = {m.spec.name: m.model for m in tiny_zoo}
    real, seen = pipeline_module.fine_tune, []

    def recording(model, data, **kwargs):
        seen.append((kwargs["epochs"], len(data.y_train), len(data.y_test)))
        return real(model, data, **kwargs)

    monkeypatch.setattr(pipeline_module, "fine_tune", recording)
    sets = pipeline_module._validation_sets(val, config, 1)
    score = pipeline_module._validation_score(pipeline_module.MetaNetwork(**TINY_METANET).eval(),
                                              val, models, config, sets, 1)
    assert 0.0 <= score <= 1.0
    full = pipeline_module.zoo_data(val[0].spec.dataset, arch=val[0].spec.arch)
    n_val = len(sets[val[0].spec.name].y_test)
    # one epoch per member, on the training split without its validation part, which stands
    # in for the test split (the real test split is not there to be read)
    assert seen[0] == (1, len(full.y_train) - n_val, n_val) and len(seen) == len(val)


def test_initial_pruning_is_cached_and_reused(tiny_zoo, tmp_path, monkeypatch):
    config = _config(initial_speedup=1.5, initial_epochs=1, arms=("group_norm",))
    member = tiny_zoo.members[0]
    folder = tmp_path / "x" / "seed0"
    first = pipeline_module._data_model(member, config, folder)
    monkeypatch.setattr(pipeline_module, "fine_tune", lambda *a, **k: pytest.fail("retrained"))
    second = pipeline_module._data_model(member, config, folder)
    x = torch.rand(5, *pipeline_module.example_input(member.spec).shape[1:])
    assert torch.allclose(first(x), second(x))
    assert sum(p.numel() for p in first.parameters()) < sum(p.numel() for p in member.model.parameters())


def test_cli_pipeline_runs_and_names_bad_settings(tiny_zoo, tmp_path, capsys):
    from graphsparse.cli import main

    args = ["metaprune", "pipeline", "--zoo", str(tiny_zoo.root), "--out", str(tmp_path),
            "--held-out", "2", "--val-members", "2", "--speedups", "2", "--meta-steps", "10",
            "--select-every", "10", "--after-metanet-epochs", "0", "--after-prune-epochs", "1",
            "--arms", "group_norm,metanet+group_norm", "--no-progress"]
    assert main(args) == 0
    assert "4 rows (seed 0)" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="speedups"):
        main(args[:10] + ["--speedups", "0.5"])


def test_cli_zoo_kinds_are_checked(tmp_path):
    from graphsparse.cli import main

    with pytest.raises(SystemExit, match="kinds must hold"):
        main(["metaprune", "zoo", "--root", str(tmp_path / "z"), "--size", "2",
              "--kinds", "resnet:mnist5k,transformer:mnist5k"])
    assert not (tmp_path / "z").exists() or not any((tmp_path / "z").iterdir())
