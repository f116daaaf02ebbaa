"""The metanetwork-pruning paper's whole pipeline, resumable step by step, with equal fine-tuning.

Liu, Wang, Zhang, "Meta Pruning via Graph Metanetworks" (arXiv 2506.12041; ../shared/notes/
topology.md §4.5–4.6) at CPU scale. For one pipeline seed:

1. **Data models**: a trained zoo (:func:`~graphsparse.metaprune.zoo.make_zoo`), split with the
   seed into held-out networks (pruned at the end), meta-training networks and a few
   meta-validation networks (never trained on).
2. **Initial pruning** (optional, ``initial_speedup``): every data model is pruned
   progressively to that MAC speed-up and fine-tuned ``initial_epochs`` (the paper: 1.32× for
   ResNet-56).
3. **Meta-training** (:func:`~graphsparse.metaprune.train.meta_train`), a checkpoint every
   ``select_every`` steps. **Checkpoint selection on validation only**: each checkpoint's score
   is the mean accuracy, on a validation split carved from the training split, of the
   meta-validation networks after the metanetwork, progressive pruning to ``select_speedup``
   and ``select_finetune_epochs`` of fine-tuning (default 0: none). The test split is never
   read while choosing (the paper's code selects on its test loader; we do not).
4. **Arms** on every held-out network, each at every MAC speed-up target
   (:func:`~graphsparse.metaprune.progressive.prune_to_speedup`):

   =======================  =============================================================
   ``group_norm``           fine-tune ``after_metanet_epochs`` (the epochs the metanetwork
                            arms spend after the metanetwork), prune, fine-tune
                            ``after_prune_epochs``
   ``metanet+group_norm``   metanetwork, fine-tune ``after_metanet_epochs``, prune,
                            fine-tune ``after_prune_epochs``
   ``magnitude``            as ``group_norm`` with global magnitude masks removing
                            ``1 - 1/speedup`` of the weights (unstructured, for reference)
   ``metanet+magnitude``    as ``metanet+group_norm`` with those masks
   =======================  =============================================================

   Every arm therefore fine-tunes the same number of epochs; each row records its epochs and
   :func:`check_equal_budgets` refuses rows where a network's arms differ.

Resumable: the meta-training state, the validation score of each checkpoint
(``selection.jsonl``) and the best checkpoint so far (``selected/``), the fine-tuned networks
before pruning (``stage/``) and one result row per (network, arm, speed-up) (``results.jsonl``)
are written as soon as they exist; a rerun skips them.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from graphsparse.checks import check_float, check_fraction, check_int
from graphsparse.fileio import append_jsonl, read_jsonl
from graphsparse.masks.io import load_file, save_file
from graphsparse.metaprune.compare import ARMS
from graphsparse.metaprune.model import MetaNetwork, apply_metanet, load_metanet, save_metanet
from graphsparse.metaprune.progressive import prune_to_speedup
from graphsparse.metaprune.prune import PruneResult, fine_tune, prune_unstructured
from graphsparse.metaprune.train import MetaTask, meta_train
from graphsparse.metaprune.zoo import Zoo, ZooMember, example_input, zoo_data
from graphsparse.topology.datasets import Dataset
from graphsparse.topology.training import evaluate

__all__ = ["PipelineConfig", "run_pipeline", "check_equal_budgets", "validation_split",
           "magnitude_to_speedup"]


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of :func:`run_pipeline` (defaults: the issue's reproduction budget).

    Attributes:
        speedups: MAC speed-up targets, each > 1.
        arms: a subset of :data:`~graphsparse.metaprune.compare.ARMS`.
        held_out: networks pruned at the end; val_members: meta-validation networks.
        after_metanet_epochs, after_prune_epochs: fine-tuning epochs (≥ 0) around pruning.
        initial_speedup: initial progressive pruning of the data models (None: none);
            initial_epochs: fine-tuning after it.
        finetune_lr: Adam learning rate of every fine-tuning.
        prune_steps: iterative steps of the progressive pruner.
        meta_steps, meta_minutes: meta-training budget (steps, and wall minutes per seed).
        select_every: steps between scored checkpoints; select_speedup: the speed-up at which
            checkpoints are scored; validation_fraction: share of the training split held out
            for that score; select_finetune_epochs: fine-tuning epochs (on the rest of the
            training split) after that pruning and before scoring (0: score the pruned network
            as it is). Left out of :meth:`digest` at 0, its default, so settings written before
            it existed keep their digest.
        metanet: :class:`MetaNetwork` keyword arguments; meta_lr, reg, alpha, batch_size:
            :func:`meta_train`'s.
    """

    speedups: tuple[float, ...] = (2.0, 4.0, 8.0)
    arms: tuple[str, ...] = ARMS
    held_out: int = 8
    val_members: int = 4
    after_metanet_epochs: int = 5
    after_prune_epochs: int = 5
    initial_speedup: float | None = None
    initial_epochs: int = 0
    finetune_lr: float = 1e-3
    prune_steps: int = 200
    meta_steps: int = 2000
    meta_minutes: float = 20.0
    select_every: int = 250
    select_speedup: float = 4.0
    select_finetune_epochs: int = 0
    validation_fraction: float = 0.1
    metanet: dict = field(default_factory=lambda: {"num_layers": 4, "hidden": 32, "scale": 0.1,
                                                   "weight_update": "multiplicative"})
    meta_lr: float = 1e-3
    reg: float = 1e-2
    alpha: float = 16.0
    batch_size: int = 128

    def __post_init__(self) -> None:
        object.__setattr__(self, "speedups", tuple(float(check_float(s, f"speedups[{i}]", low=1.0, open_low=True))
                                                   for i, s in enumerate(self.speedups)))
        bad = [a for a in self.arms if a not in ARMS]
        if bad or not self.arms:
            raise ValueError(f"arms must be a non-empty subset of {ARMS}, got {list(self.arms)}")
        object.__setattr__(self, "arms", tuple(self.arms))
        for name in ("held_out", "val_members", "prune_steps", "meta_steps", "select_every", "batch_size"):
            check_int(getattr(self, name), name, low=1)
        for name in ("after_metanet_epochs", "after_prune_epochs", "initial_epochs",
                     "select_finetune_epochs"):
            check_int(getattr(self, name), name, low=0)
        if self.initial_speedup is not None:
            check_float(self.initial_speedup, "initial_speedup", low=1.0, open_low=True)
        for name in ("finetune_lr", "meta_lr", "meta_minutes"):
            check_float(getattr(self, name), name, low=0.0, open_low=True)
        check_float(self.select_speedup, "select_speedup", low=1.0, open_low=True)
        check_fraction(self.validation_fraction, "validation_fraction", open_low=True, open_high=True)
        check_float(self.reg, "reg", low=0.0)
        check_float(self.alpha, "alpha", low=1.0)

    def to_dict(self) -> dict:
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        if out["select_finetune_epochs"] == 0:  # added later: earlier digests stay valid
            del out["select_finetune_epochs"]
        return out

    def digest(self) -> str:
        """Short hash of the settings: rows and files of other settings are never mixed."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:10]


def validation_split(data: Dataset, fraction: float, seed: int) -> tuple[Dataset, torch.Tensor, torch.Tensor]:
    """``(data without the validation examples, x_val, y_val)``: a seeded random ``fraction`` of
    the training split (the test split is untouched)."""
    check_fraction(fraction, "fraction", open_low=True, open_high=True)
    n = len(data.y_train)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val, rest = order[: max(1, int(round(fraction * n)))], order[max(1, int(round(fraction * n))):]
    kept = Dataset(data.name, data.x_train[rest], data.y_train[rest], data.x_test, data.y_test,
                   data.num_classes, data.split_seed, data.test_fraction)
    return kept, data.x_train[val], data.y_train[val]


def check_equal_budgets(rows: Sequence[dict]) -> None:
    """Raise ``ValueError`` if two rows of the same (seed, network, speed-up) fine-tuned for a
    different total number of epochs."""
    totals: dict[tuple, set] = {}
    for r in rows:
        totals.setdefault((r["seed"], r["member"], r["speedup"]), set()).add(r["epochs_total"])
    unequal = {k: sorted(v) for k, v in totals.items() if len(v) > 1}
    if unequal:
        raise ValueError(f"unequal fine-tuning budgets across arms: {unequal}")


#: The results file under the output folder (rows of every settings digest and seed).
RESULTS = "results.jsonl"


# ------------------------------------------------------------------------------ the pipeline
def run_pipeline(zoo: Zoo, out: str | os.PathLike, *, seed: int = 0,
                 config: PipelineConfig | None = None, progress: bool = True) -> list[dict]:
    """Run (or resume) the pipeline for one seed; returns this seed's result rows.

    Args:
        zoo: the trained data models (:func:`~graphsparse.metaprune.zoo.load_zoo`).
        out: results folder; files of other settings live under other digests.
        seed: the split, meta-training order and fine-tuning minibatches.
        config: :class:`PipelineConfig` (default settings if None).
        progress: print one line per finished step.

    Returns rows (see the module docstring) with ``seed``, ``member``, ``arch``, ``dataset``,
    ``arm``, ``speedup`` (target), ``speedup_realised``, ``params_ratio``, ``acc_original``,
    ``acc_input``, ``acc_before_prune``, ``acc_pruned``, ``acc_finetuned`` (test accuracies),
    ``epochs_before_prune``, ``epochs_after_prune``, ``epochs_total``,
    ``finetune_seconds_per_epoch``, ``metanet_step``, ``config_id``, ``seconds``.
    """
    config = config or PipelineConfig()
    check_int(seed, "seed")
    folder = Path(out) / f"{config.digest()}" / f"seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    _write_config(folder.parent, config)
    say = print if progress else (lambda *a, **k: None)
    meta_part, val_part, held = _split(zoo, config, seed)
    models = {m.spec.name: _data_model(m, config, folder) for m in zoo}
    metanet, step = _selected_metanet(meta_part, val_part, models, config, seed, folder, say)
    key = config.digest()
    done = {(r["member"], r["arm"], r["speedup"]): r for r in read_jsonl(Path(out) / RESULTS)
            if r["config_id"] == key and r["seed"] == seed}  # finished rows, read once
    rows = []
    for member in held:
        rows += _held_out_rows(member, models[member.spec.name], metanet, step, config, seed,
                               Path(out) / RESULTS, folder, done, say)
    check_equal_budgets(rows)
    return rows


def _write_config(folder: Path, config: PipelineConfig) -> None:
    path = folder / "config.json"
    if not path.exists():
        path.write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True))


def _split(zoo: Zoo, config: PipelineConfig, seed: int
           ) -> tuple[list[ZooMember], list[ZooMember], list[ZooMember]]:
    """(meta-training, meta-validation, held-out) members; validation members drawn per
    architecture in turn so that each architecture is represented."""
    train_part, held = zoo.split(config.held_out, seed)
    check_int(config.val_members, "val_members", low=1, high=len(train_part) - 1)
    by_arch: dict[str, list[ZooMember]] = {}
    for m in train_part:
        by_arch.setdefault(m.spec.arch, []).append(m)
    rng = random.Random(seed + 1)
    for group in by_arch.values():
        rng.shuffle(group)
    val: list[ZooMember] = []
    while len(val) < config.val_members:
        for arch in sorted(by_arch):
            if by_arch[arch] and len(val) < config.val_members:
                val.append(by_arch[arch].pop())
    chosen = {m.spec.name for m in val}
    return [m for m in train_part if m.spec.name not in chosen], val, held


def _data_model(member: ZooMember, config: PipelineConfig, folder: Path) -> nn.Module:
    """The member's network after the optional initial pruning and fine-tuning (cached: the
    architecture is re-derived by the deterministic pruning, the weights loaded)."""
    if config.initial_speedup is None:
        return member.model
    example = example_input(member.spec)
    pruned = prune_to_speedup(member.model, example, config.initial_speedup,
                              steps=config.prune_steps).model
    path = folder.parent / "initial" / f"{member.spec.name}.pt"
    if path.exists():
        pruned.load_state_dict(load_file(path, "network-state")[0]["state_dict"])
        return pruned.eval()
    data = zoo_data(member.spec.dataset, arch=member.spec.arch)
    fine_tune(pruned, data, epochs=config.initial_epochs, lr=config.finetune_lr, seed=member.spec.seed)
    _save_state(path, pruned)
    return pruned.eval()


def _save_state(path: Path, model: nn.Module) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(path, "network-state", {"state_dict": {k: v.detach().cpu().clone()
                                                     for k, v in model.state_dict().items()}})


def _load_state(path: Path, model: nn.Module) -> nn.Module:
    model.load_state_dict(load_file(path, "network-state")[0]["state_dict"])
    return model.eval()


# ------------------------------------------------------------------ meta-training + selection
def _selected_metanet(meta_part: list[ZooMember], val_part: list[ZooMember],
                      models: dict[str, nn.Module], config: PipelineConfig, seed: int,
                      folder: Path, say) -> tuple[MetaNetwork, int]:
    """Meta-train in chunks of ``select_every`` steps, score each checkpoint on validation,
    return the best-scoring one (earliest on ties) and its step.

    Only the best checkpoint so far is kept on disk (``selected/step<N>.pt``): it is written
    before its score row, and older ones are removed after, so a kill at any point leaves the
    best scored checkpoint and the training state (``metanet.train``) to resume from."""
    tasks = [MetaTask(m.spec.name, models[m.spec.name], zoo_data(m.spec.dataset, arch=m.spec.arch))
             for m in meta_part]
    scores = {r["step"]: r for r in read_jsonl(folder / "selection.jsonl")}
    torch.manual_seed(seed)
    metanet = MetaNetwork(**config.metanet)
    train_file, spent, val_sets = folder / "metanet.train", 0.0, None
    for step in range(config.select_every, config.meta_steps + 1, config.select_every):
        if step in scores:
            spent = scores[step]["meta_seconds"]
            continue
        if spent > 60 * config.meta_minutes:
            break
        history = meta_train(metanet, tasks, steps=step, lr=config.meta_lr, reg=config.reg,
                             alpha=config.alpha, batch_size=config.batch_size, seed=seed,
                             checkpoint=train_file, checkpoint_every=config.select_every,
                             progress=False)
        spent = sum(h["seconds"] for h in history)
        val_sets = val_sets if val_sets is not None else _validation_sets(val_part, config, seed)
        row = {"step": step,
               "val_acc": _validation_score(metanet, val_part, models, config, val_sets, seed),
               "meta_seconds": spent, "loss_last": history[-1]["loss"]}
        if row["val_acc"] > max((r["val_acc"] for r in scores.values()), default=-1.0):
            _selected_path(folder, step).parent.mkdir(parents=True, exist_ok=True)
            save_metanet(_selected_path(folder, step), metanet, step=step, seed=seed)
        append_jsonl(folder / "selection.jsonl", row)
        scores[step] = row
        _drop_unselected(folder, _best_step(scores))
        say(f"seed {seed}: meta step {step}, validation score {row['val_acc']:.4f} "
            f"({spent / 60:.1f} min of meta-training)", flush=True)
    if not scores:
        raise ValueError("no metanetwork checkpoint: meta_steps < select_every?")
    best = _best_step(scores)
    path = _selected_path(folder, best)
    if not path.exists():
        raise FileNotFoundError(f"{path}: the chosen checkpoint (step {best}) is missing; "
                                f"delete {folder} to redo this seed's meta-training")
    return load_metanet(path)[0].eval(), best


def _best_step(scores: dict[int, dict]) -> int:
    return max(sorted(scores), key=lambda s: scores[s]["val_acc"])


def _selected_path(folder: Path, step: int) -> Path:
    return folder / "selected" / f"step{step}.pt"


def _drop_unselected(folder: Path, best: int) -> None:
    for path in (folder / "selected").glob("step*.pt"):
        if path.name != f"step{best}.pt":
            path.unlink()


def _validation_sets(members: list[ZooMember], config: PipelineConfig, seed: int
                     ) -> dict[str, Dataset]:
    """``{member name: data}``: each member's training data without a validation split carved
    from it, with that split in the test slots (made once, reused for every checkpoint; the
    real test split is dropped, so nothing downstream can read it)."""
    sets = {}
    for m in members:
        rest, x_val, y_val = validation_split(zoo_data(m.spec.dataset, arch=m.spec.arch),
                                              config.validation_fraction, seed)
        sets[m.spec.name] = dataclasses.replace(rest, x_test=x_val, y_test=y_val)
    return sets


def _validation_score(metanet: MetaNetwork, members: list[ZooMember], models: dict[str, nn.Module],
                      config: PipelineConfig, val_sets: dict[str, Dataset], seed: int) -> float:
    """Mean validation accuracy of the members after the metanetwork, pruning to
    ``select_speedup`` and ``select_finetune_epochs`` of fine-tuning on the rest of the training
    split (the validation split is carved from training data)."""
    accs = []
    for m in members:
        example, data = example_input(m.spec), val_sets[m.spec.name]
        net = apply_metanet(metanet, models[m.spec.name], example)
        pruned = prune_to_speedup(net, example, config.select_speedup, steps=config.prune_steps)
        fine_tune(pruned.model, data, epochs=config.select_finetune_epochs,
                  lr=config.finetune_lr, seed=seed)
        accs.append(evaluate(pruned.model, data.x_test, data.y_test))
    return sum(accs) / len(accs)


def magnitude_to_speedup(model: nn.Module, example: torch.Tensor, speedup: float,
                         iterations: int = 20) -> PruneResult:
    """Global magnitude masks whose masked MACs give at least ``speedup``: the smallest weight
    sparsity that does, by bisection (a weight's MACs differ between layers, so ``1 - 1/speedup``
    of the weights is not ``speedup`` in MACs). Raises ``ValueError`` if even the sparsest
    tried masks fall short."""
    lo, hi = 0.0, 1.0 - 1e-6
    best = prune_unstructured(model, hi, example_input=example)
    if 1.0 / best.macs_ratio < speedup:
        raise ValueError(f"speedup={speedup} is unreachable with magnitude masks "
                         f"(reached {1.0 / best.macs_ratio:.4g}x)")
    for _ in range(check_int(iterations, "iterations", low=1)):
        mid = (lo + hi) / 2
        result = prune_unstructured(model, mid, example_input=example)
        if 1.0 / result.macs_ratio >= speedup:
            hi, best = mid, result
        else:
            lo = mid
    return best


# -------------------------------------------------------------------------- held-out arms
def _held_out_rows(member: ZooMember, model: nn.Module, metanet: MetaNetwork, step: int,
                   config: PipelineConfig, seed: int, results: Path, folder: Path,
                   done: dict[tuple, dict], say) -> list[dict]:
    """The member's rows in every arm and speed-up: finished ones from ``done``, the others
    run and appended to ``results``."""
    key = config.digest()
    spec = member.spec
    data = zoo_data(spec.dataset, arch=spec.arch)
    example = example_input(spec)
    rows, inputs = [], {}
    for arm in config.arms:
        for speedup in config.speedups:
            if (spec.name, arm, speedup) in done:
                rows.append(done[(spec.name, arm, speedup)])
                continue
            via = arm.startswith("metanet")
            if via not in inputs:
                inputs[via] = _before_pruning(model, metanet if via else None, data, example,
                                              config, seed, folder / "stage" / spec.name)
            row = {"config_id": key, "seed": seed, "member": spec.name, "arch": spec.arch,
                   "dataset": spec.dataset, "arm": arm, "speedup": speedup,
                   "metanet_step": step if via else None, "acc_original": member.test_acc,
                   **_prune_and_finetune(inputs[via], arm, speedup, data, example, config, seed)}
            append_jsonl(results, row)
            rows.append(row)
            say(f"seed {seed}: {spec.name} {arm} {speedup}x -> {row['acc_finetuned']:.4f} "
                f"(realised {row['speedup_realised']:.2f}x)", flush=True)
    return rows


def _before_pruning(model: nn.Module, metanet: MetaNetwork | None, data: Dataset,
                    example: torch.Tensor, config: PipelineConfig, seed: int, folder: Path) -> dict:
    """The network an arm prunes: (metanetwork output or a copy of the model) fine-tuned
    ``after_metanet_epochs``; cached in ``folder``."""
    net = apply_metanet(metanet, model, example) if metanet is not None else copy.deepcopy(model)
    acc_input = evaluate(net, data.x_test, data.y_test)
    path = folder / ("metanet.pt" if metanet is not None else "base.pt")
    if path.exists():
        _load_state(path, net)
    else:
        fine_tune(net, data, epochs=config.after_metanet_epochs, lr=config.finetune_lr, seed=seed)
        _save_state(path, net)
    return {"model": net.eval(), "acc_input": acc_input,
            "acc_before_prune": evaluate(net, data.x_test, data.y_test)}


def _prune_and_finetune(source: dict, arm: str, speedup: float, data: Dataset,
                        example: torch.Tensor, config: PipelineConfig, seed: int) -> dict:
    start = time.perf_counter()
    if arm.endswith("group_norm"):
        result = prune_to_speedup(source["model"], example, speedup, steps=config.prune_steps)
    else:
        result = magnitude_to_speedup(source["model"], example, speedup)
    acc_pruned = evaluate(result.model, data.x_test, data.y_test)
    tuned = time.perf_counter()
    fine_tune(result.model, data, epochs=config.after_prune_epochs, lr=config.finetune_lr, seed=seed)
    per_epoch = (time.perf_counter() - tuned) / config.after_prune_epochs if config.after_prune_epochs else None
    return {"speedup_realised": 1.0 / result.macs_ratio, "params_ratio": result.params_ratio,
            "acc_input": source["acc_input"], "acc_before_prune": source["acc_before_prune"],
            "acc_pruned": acc_pruned,
            "acc_finetuned": evaluate(result.model, data.x_test, data.y_test),
            "epochs_before_prune": config.after_metanet_epochs,
            "epochs_after_prune": config.after_prune_epochs,
            "epochs_total": config.after_metanet_epochs + config.after_prune_epochs,
            "finetune_seconds_per_epoch": per_epoch,
            "seconds": time.perf_counter() - start}
