"""Pruning with and without a metanetwork, on held-out zoo networks (resumable comparison).

Arms (every arm fine-tunes for the same number of epochs after pruning):

=======================  ==================================================================
``group_norm``           structured: remove neurons/channels by group norm
                         (:func:`prune_structured`) to a remaining-parameter ratio
``metanet+group_norm``   the same on the metanetwork's output network (Liu et al. 2025)
``magnitude``            unstructured: global magnitude masks (:func:`prune_unstructured`)
                         removing ``1 - ratio`` of the weight entries
``metanet+magnitude``    the same on the metanetwork's output network
=======================  ==================================================================

One JSON row per (member, arm, ratio) is appended to the results file as soon as it is done
(:func:`graphsparse.fileio.append_jsonl`); rows already there are skipped, so an interrupted
comparison resumes. Each row also holds a compact topology view of the pruned network
(:func:`graphsparse.topology.report`), so the structural effect of the metanetwork is visible.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from graphsparse.checks import check_fraction, check_int
from graphsparse.devices import model_device, resolve_device
from graphsparse.fileio import append_jsonl, read_jsonl
from graphsparse.topology.graph import NetworkGraph
from graphsparse.metaprune.model import MetaNetwork, apply_metanet
from graphsparse.metaprune.prune import fine_tune, prune_structured, prune_unstructured
from graphsparse.metaprune.train import MetaTask, polarisation
from graphsparse.metaprune.convert import to_graph
from graphsparse.metaprune.zoo import ZooMember, example_input, zoo_data
from graphsparse.topology.datasets import Dataset
from graphsparse.topology.training import dataset_to, evaluate
from graphsparse.topology.report import report

__all__ = ["ARMS", "compare_pruning", "topology_summary", "tasks_of", "mean_polarisation",
           "summary_table"]

ARMS: tuple[str, ...] = ("group_norm", "metanet+group_norm", "magnitude", "metanet+magnitude")


def topology_summary(model: nn.Module, example: torch.Tensor) -> dict:
    """Nodes, edges, density, dead neurons, effective sparsity and components of ``model`` as a
    network graph (:meth:`NetworkGraph.from_model`, :func:`graphsparse.topology.report`).
    Computed on the CPU (on a CPU copy of a model that is elsewhere)."""
    if model_device(model).type != "cpu":
        model, example = copy.deepcopy(model).cpu(), example.cpu()
    r = report(NetworkGraph.from_model(model, example), powerlaw_compare=False)
    return {"num_nodes": r.num_nodes, "num_edges": r.num_edges, "density": r.density,
            "dead_neurons": r.dead_neurons.total, "effective_sparsity": r.effective_sparsity,
            "num_components": r.num_components}


def _data_of(spec, cache: dict, device: torch.device | None = None) -> Dataset:
    """``zoo_data`` of ``spec``'s dataset and architecture (on ``device`` if given), loaded once
    per ``cache``."""
    key = (spec.dataset, spec.arch)
    if key not in cache:
        cache[key] = zoo_data(spec.dataset, arch=spec.arch)
    if device is None:
        return cache[key]
    if (*key, str(device)) not in cache:
        cache[(*key, str(device))] = dataset_to(cache[key], device)
    return cache[(*key, str(device))]


def tasks_of(members: Sequence[ZooMember]) -> list[MetaTask]:
    """Meta-training tasks (:class:`MetaTask`) of zoo members, each with its dataset shaped for
    its architecture (datasets loaded once)."""
    cache: dict = {}
    return [MetaTask(m.spec.name, m.model, _data_of(m.spec, cache)) for m in members]


def mean_polarisation(members: Sequence[ZooMember], metanet: MetaNetwork | None,
                      threshold: float = 0.1) -> float:
    """Mean :func:`polarisation` over ``members`` (after ``metanet`` when given)."""
    values = []
    for m in members:
        example = example_input(m.spec)
        net = apply_metanet(metanet, m.model, example) if metanet is not None else m.model
        values.append(polarisation(to_graph(net, example), threshold))
    return sum(values) / len(values)


def summary_table(rows: Sequence[dict]) -> list[str]:
    """Markdown table: per arm and ratio, mean ± std over rows of the fine-tuned accuracy, the
    accuracy right after pruning, the realised parameter and MAC ratios, and the row count."""
    import statistics

    def ms(values: list[float], scale: float = 100.0) -> str:
        if len(values) == 1:
            return f"{scale * values[0]:.2f}"
        return f"{scale * statistics.mean(values):.2f} ± {scale * statistics.stdev(values):.2f}"

    lines = ["| arm | target ratio | params ratio | MACs ratio | acc after pruning (%) | "
             "acc after fine-tuning (%) | rows |", "|---|---:|---:|---:|---:|---:|---:|"]
    groups: dict[tuple[str, float], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["arm"], r["ratio"]), []).append(r)
    for (arm, ratio), sel in sorted(groups.items(), key=lambda kv: (ARMS.index(kv[0][0]), -kv[0][1])):
        lines.append(f"| {arm} | {ratio:g} | {statistics.mean(r['params_ratio'] for r in sel):.3f} | "
                     f"{statistics.mean(r['macs_ratio'] for r in sel):.3f} | "
                     f"{ms([r['acc_pruned'] for r in sel])} | {ms([r['acc_finetuned'] for r in sel])} | "
                     f"{len(sel)} |")
    return lines


def _prune(model: nn.Module, arm: str, ratio: float, example: torch.Tensor):
    if arm.endswith("group_norm"):
        return prune_structured(model, example, params_ratio=ratio, tolerance=1.0)
    return prune_unstructured(model, 1.0 - ratio, example_input=example)


def compare_pruning(members: Sequence[ZooMember], metanet: MetaNetwork | None, out: str | os.PathLike,
                    *, ratios: Sequence[float] = (0.7, 0.5, 0.3), arms: Sequence[str] = ARMS,
                    finetune_epochs: int = 3, lr: float = 1e-3, seed: int = 0,
                    tag: dict | None = None, progress: bool = True,
                    device: str | torch.device | None = None) -> list[dict]:
    """Prune every member in every arm at every remaining-parameter ratio, fine-tune, measure.

    Args:
        members: held-out zoo members (never seen in meta-training).
        metanet: the trained metanetwork (needed only for ``metanet+…`` arms).
        out: results file (JSON lines); existing rows with the same ``tag``, member, arm and
            ratio are skipped.
        ratios: remaining-parameter ratios, each in (0, 1]: structured arms reach the closest
            realisable ratio at or below it; unstructured arms remove ``1 - ratio`` of the weights.
        finetune_epochs: epochs of fine-tuning after pruning in every arm (Adam, ``lr``).
        seed: fine-tuning minibatch order.
        tag: extra fields stored in every row and part of its identity (e.g. the pipeline seed).
        progress: show a tqdm progress bar over (member, arm, ratio).
        device: where metanetwork application, pruning, evaluation and fine-tuning run
            (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a ``torch.device``, see
            :func:`graphsparse.devices.resolve_device`); ``metanet`` is moved there in place,
            members' models are copied there (not modified), data is copied. None: the
            metanetwork's device, or the first member's when there is no metanetwork. Rows do
            not depend on the device beyond float rounding; the topology view is computed on
            the CPU.

    Raises:
        ValueError: a bad argument (named), or a ``device`` that is not available (the message
            lists the available ones).

    Returns the rows of this call and earlier ones with this ``tag`` (file order). Each row:
    ``member``, ``arch``, ``dataset``, ``arm``, ``ratio``, the tag fields, ``acc_original``,
    ``acc_input`` (the network the arm prunes: the original or the metanetwork's output),
    ``polarisation_input``, ``acc_pruned`` (before fine-tuning), ``acc_finetuned``,
    ``params_ratio``, ``macs_ratio`` (realised), ``topology`` (:func:`topology_summary` of the
    pruned network) and ``seconds``.
    """
    from tqdm.auto import tqdm

    _check_compare_args(arms, metanet, ratios, finetune_epochs)
    if device is not None:
        device = resolve_device(device)
    elif metanet is not None:
        device = model_device(metanet)
    else:
        device = model_device(members[0].model) if members else torch.device("cpu")
    if metanet is not None:
        metanet.to(device)
    tag = dict(tag or {})
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def key(member: str, arm: str, ratio: float) -> tuple:
        return (member, arm, float(ratio))

    done = {key(r["member"], r["arm"], r["ratio"]): r for r in read_jsonl(out)
            if all(r.get(k) == v for k, v in tag.items())}
    data_cache: dict = {}
    plan = [(m, a, float(r)) for m in members for a in arms for r in ratios]
    bar = tqdm(plan, desc="pruning", disable=not progress)
    inputs: dict[str, dict] = {}
    for member, arm, ratio in bar:
        row_id = key(member.spec.name, arm, ratio)
        if row_id in done:
            continue
        spec = member.spec
        data = _data_of(spec, data_cache, device)
        example = example_input(spec).to(device)
        via_metanet = arm.startswith("metanet")
        slot = f"{spec.name}|{via_metanet}"
        if slot not in inputs:
            model = member.model
            if model_device(model) != device:
                model = copy.deepcopy(model).to(device)
            inputs[slot] = _arm_input(model, metanet if via_metanet else None, data, example)
        row = {"member": spec.name, "arch": spec.arch, "dataset": spec.dataset, "arm": arm,
               "ratio": ratio, **tag, "acc_original": member.test_acc,
               **_prune_and_measure(inputs[slot], arm, ratio, data, example, finetune_epochs, lr, seed)}
        append_jsonl(out, row)
        done[row_id] = row
        bar.set_postfix(member=spec.name, arm=arm, acc=f"{row['acc_finetuned']:.3f}")
    return [done[key(m.spec.name, a, r)] for m in members for a in arms for r in ratios]


def _check_compare_args(arms: Sequence[str], metanet: MetaNetwork | None, ratios: Sequence[float],
                        finetune_epochs: int) -> None:
    """Raise, naming the argument, if a :func:`compare_pruning` argument is out of range."""
    bad = [a for a in arms if a not in ARMS]
    if bad:
        raise ValueError(f"arms must be among {ARMS}, got {bad}")
    if any(a.startswith("metanet") for a in arms) and metanet is None:
        raise ValueError("metanet is required for the metanet+… arms")
    for i, r in enumerate(ratios):
        check_fraction(r, f"ratios[{i}]", open_low=True, open_high=False)
    check_int(finetune_epochs, "finetune_epochs", low=0)


def _arm_input(model: nn.Module, metanet: MetaNetwork | None, data: Dataset, example: torch.Tensor
               ) -> dict:
    """The network an arm prunes (``model``, or the metanetwork's output when ``metanet`` is
    given) in eval mode, with its test accuracy and polarisation."""
    net = apply_metanet(metanet, model, example) if metanet is not None else model
    return {"model": net.eval(), "acc": evaluate(net, data.x_test, data.y_test),
            "polarisation": polarisation(to_graph(net, example))}


def _prune_and_measure(source: dict, arm: str, ratio: float, data: Dataset, example: torch.Tensor,
                       finetune_epochs: int, lr: float, seed: int) -> dict:
    """Prune ``source["model"]`` in ``arm`` to ``ratio``, fine-tune, and measure: the row fields
    from ``acc_input`` on (see :func:`compare_pruning`)."""
    start = time.perf_counter()
    result = _prune(source["model"], arm, ratio, example)
    acc_pruned = evaluate(result.model, data.x_test, data.y_test)
    fine_tune(result.model, data, epochs=finetune_epochs, lr=lr, seed=seed)
    result.model.eval()
    return {"acc_input": source["acc"], "polarisation_input": source["polarisation"],
            "acc_pruned": acc_pruned, "acc_finetuned": evaluate(result.model, data.x_test, data.y_test),
            "params_ratio": result.params_ratio, "macs_ratio": result.macs_ratio,
            "finetune_epochs": finetune_epochs, "topology": topology_summary(result.model, example),
            "seconds": time.perf_counter() - start}
