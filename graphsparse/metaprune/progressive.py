"""Progressive structured pruning to a MAC speed-up, as the metanetwork-pruning paper prunes.

Liu, Wang, Zhang, "Meta Pruning via Graph Metanetworks" (arXiv 2506.12041), ``utils/pruning.py``
(../shared/notes/topology.md §4.6, step 3): Torch-Pruning's ``GroupNormPruner`` with
``GroupMagnitudeImportance(p=2, group_reduction="mean", normalizer="max")``, global ranking,
``pruning_ratio=1.0`` spread over ``iterative_steps`` steps, the output layer ignored; the pruner
steps until ``speed-up = base MACs / pruned MACs`` reaches the target. Unlike
:func:`graphsparse.metaprune.prune.prune_structured` (one ranking, bisection to a ratio), the
importance is recomputed after every step on the pruned network.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch_pruning as tp
from torch import nn

from graphsparse.checks import check_choice, check_float, check_int
from graphsparse.devices import model_device
from graphsparse.metaprune.prune import (PruneResult, ignored_counterparts, output_layer,
                                         params_and_macs, working_copy)

__all__ = ["prune_to_speedup", "NORMALIZERS"]

#: Group-importance normalisers of Torch-Pruning that :func:`prune_to_speedup` accepts.
NORMALIZERS = ("max", "mean", "sum", "standarization")


def prune_to_speedup(model: nn.Module, example_input: torch.Tensor, speedup: float, *,
                     steps: int = 200, p: int = 2, normalizer: str = "max",
                     max_pruning_ratio: float = 0.95,
                     ignored: Sequence[nn.Module] | None = None) -> PruneResult:
    """Remove channels / neurons step by step until the MAC speed-up reaches ``speedup``.

    Each step prunes about ``1/steps`` of the prunable channels, lowest global group importance
    first (:data:`NORMALIZERS`: importance divided by its layer's max by default, as the paper),
    never more than ``max_pruning_ratio`` of a layer and never the head's outputs. It stops at
    the first step whose realised speed-up ``dense MACs before / dense MACs after``
    (:func:`graphsparse.masks.macs`, per example) is ``>= speedup``: the realised value is the
    smallest reachable one at or above the target.

    Args:
        model: the network (not modified; a baked eval-mode copy is pruned).
        example_input: a batch as the model takes it; its first row traces the graph.
        speedup: target MAC speed-up, ``> 1``.
        steps: iterative steps of the pruner (granularity), ``>= 1``.
        p: norm degree of the group importance, ``>= 1``.
        normalizer: one of :data:`NORMALIZERS`.
        max_pruning_ratio: the most of one layer's channels that may go, in (0, 1).
        ignored: layers whose outputs are kept, besides the head.

    Returns:
        :class:`~graphsparse.metaprune.prune.PruneResult` with ``method="group_norm_progressive"``,
        ``target_kind="speedup"``; ``macs_ratio`` is ``1 / realised speed-up``.

    Raises:
        ValueError: an argument out of range (named), or a target the pruner cannot reach
            (the message gives the largest speed-up it reached).

    Example::

        >>> net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
        ...                     nn.Linear(32, 3))
        >>> r = prune_to_speedup(net, torch.randn(1, 8), 2.0, steps=50)
        >>> 1 / r.macs_ratio >= 2.0, r.model[-1].out_features
        (True, 3)
    """
    check_float(speedup, "speedup", low=1.0, open_low=True)
    check_int(steps, "steps", low=1)
    check_int(p, "p", low=1)
    check_choice(normalizer, "normalizer", NORMALIZERS)
    check_float(max_pruning_ratio, "max_pruning_ratio", low=0.0, high=1.0, open_low=True,
                open_high=True)
    work = working_copy(model)
    example_input = example_input.to(model_device(work))[:1]
    skip = ignored_counterparts(model, work, ignored) + [output_layer(work)]
    importance = tp.importance.GroupMagnitudeImportance(p=p, group_reduction="mean",
                                                        normalizer=normalizer)
    pruner = tp.pruner.GroupNormPruner(work, example_input, importance, global_pruning=True,
                                       pruning_ratio=1.0, iterative_steps=steps,
                                       max_pruning_ratio=max_pruning_ratio, ignored_layers=skip)
    params0, macs0 = params_and_macs(work, example_input)
    params, cost = params0, macs0
    for _ in range(steps):
        pruner.step()
        params, cost = params_and_macs(work, example_input)
        if macs0 / cost >= speedup:
            break
    else:
        raise ValueError(f"speedup={speedup} is unreachable: {steps} steps reached "
                         f"{macs0 / cost:.4g}x (max_pruning_ratio={max_pruning_ratio} per layer)")
    return PruneResult(model=work.eval(), method="group_norm_progressive", target=float(speedup),
                       target_kind="speedup", params=params, params_ratio=params / params0,
                       macs=cost, macs_ratio=cost / macs0)
