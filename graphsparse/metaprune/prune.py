"""Prune a (possibly metanetwork-rewritten) network, then fine-tune it: the arms of Liu, Wang,
Zhang, "Meta Pruning via Graph Metanetworks" (arXiv 2506.12041) at CPU scale.

Two ways to prune, both on a private copy (the input model is never modified):

* :func:`prune_structured` — physically remove whole neurons / channels ranked by torch-pruning's
  group importance (DepGraph, Fang et al., CVPR 2023), to a target ratio of remaining
  parameters or remaining MACs;
* :func:`prune_unstructured` — global (or per-layer) magnitude masks on the weight matrices and
  kernels, with the mask toolkit's exact top-k selection.

:func:`fine_tune` trains either kind with the same recipe, so arms are compared with equal
fine-tuning; :func:`group_norms` exposes the structured ranking scores. Everything runs on the
model's device (``example_input`` is moved there); :func:`fine_tune` takes a ``device``.

Group importance (what :func:`prune_structured` ranks by)
---------------------------------------------------------
``tp.importance.GroupMagnitudeImportance(p=p)`` with its defaults ``group_reduction="mean"``,
``normalizer="mean"``, ``bias=False``. For output neuron / channel ``c`` of a prunable layer the
dependency graph gives the group of coupled slices: the layer's output slice (row ``c`` of a
Linear weight, kernel ``c`` of a Conv weight), the BatchNorm weight ``gamma_c`` that follows it
(if affine) and the consumer's input slice (column ``c`` of the next weight; after a Flatten,
all columns that come from channel ``c``). Then::

    raw_c   = mean over the group's tensors T of  sum_{w in T[c]} |w|^p     (p-th power, no root)
    score_c = raw_c / mean_{c'} raw_{c'}                                    (mean over the layer)

Biases and BatchNorm shifts do not count. The division by the layer mean makes scores comparable
across layers, and all layers are ranked together (global pruning).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch_pruning as tp
from torch import nn

from graphsparse.masks import (
    attach,
    bake,
    macs,
    magnitude_scores,
    named_tensors,
    sparsity_report,
    topk_masks,
)
from graphsparse.checks import check_float, check_fraction, check_int, check_sparsity
from graphsparse.devices import model_device, resolve_device
from graphsparse.topology.datasets import Dataset
from graphsparse.topology.training import train

__all__ = ["PruneResult", "prune_structured", "prune_unstructured", "fine_tune", "group_norms",
           "working_copy", "output_layer", "ignored_counterparts", "params_and_macs"]

_PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


@dataclass
class PruneResult:
    """A pruned network and what it costs, relative to the network it came from.

    ``params`` counts remaining parameters: for structured pruning the numel of every parameter
    of the smaller network; for unstructured pruning the kept weight entries plus every bias /
    BatchNorm parameter. ``macs`` is per example: the dense MACs of the smaller network
    (structured) or the masked MACs (unstructured), as :func:`graphsparse.masks.macs` counts
    them. Both ratios are relative to the input model's parameter count and dense MACs.
    """

    model: nn.Module
    method: str
    target: float
    target_kind: str
    params: int
    params_ratio: float
    macs: int
    macs_ratio: float

    def summary(self) -> dict:
        """JSON-friendly summary (everything but the model)."""
        return {"method": self.method, "target": self.target, "target_kind": self.target_kind,
                "params": self.params, "params_ratio": self.params_ratio, "macs": self.macs,
                "macs_ratio": self.macs_ratio}


def working_copy(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode with any attached masks baked in (masked entries become zeros)."""
    return bake(copy.deepcopy(model)).eval()


def output_layer(model: nn.Module) -> nn.Module:
    """The classifier head: the last Linear/Conv module in ``named_modules()`` order."""
    layers = [m for m in model.modules() if isinstance(m, _PRUNABLE)]
    if not layers:
        raise ValueError("the model has no Linear or Conv layer to prune")
    return layers[-1]


def _out_prune_fn(module: nn.Module):
    if isinstance(module, nn.Linear):
        return tp.prune_linear_out_channels
    return tp.prune_conv_out_channels


def _groups(model: nn.Module, example_input: torch.Tensor, ignored: Sequence[nn.Module]
            ) -> dict[str, tp.dependency.Group]:
    """``{layer name: full out-channel pruning group}`` of every prunable layer of ``model``
    (head and ``ignored`` excluded), in ``named_modules()`` order, from torch-pruning's
    dependency graph traced on the first input row.

    Layers whose output channels are tied together (by an identity shortcut: a residual stage's
    stem/transition conv and each block's last conv) share one group, ranked once under the
    first of them; if any tied layer is ignored or is the head, the whole set is kept."""
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=example_input[:1])
    skip = {id(m) for m in ignored} | {id(output_layer(model))}
    out, covered = {}, set()
    for name, module in model.named_modules():
        if not isinstance(module, _PRUNABLE) or id(module) in skip or id(module) in covered:
            continue
        n = module.out_features if isinstance(module, nn.Linear) else module.out_channels
        group = graph.get_pruning_group(module, _out_prune_fn(module), list(range(n)))
        tied = {id(dep.target.module) for dep, _ in group
                if dep.handler in (tp.prune_linear_out_channels, tp.prune_conv_out_channels)}
        covered |= tied
        if not tied & skip:
            out[name] = group
    return out


def ignored_counterparts(model: nn.Module, work: nn.Module,
                         ignored: Sequence[nn.Module] | None) -> list[nn.Module]:
    """The modules of ``work`` (a deep copy of ``model``) that correspond to ``ignored``."""
    if not ignored:
        return []
    names = {id(m): n for n, m in model.named_modules()}
    missing = [m for m in ignored if id(m) not in names]
    if missing:
        raise ValueError(f"ignored holds {len(missing)} module(s) that are not part of the model")
    return [work.get_submodule(names[id(m)]) for m in ignored]


def _norms_of(work: nn.Module, example_input: torch.Tensor, ignored: Sequence[nn.Module], p: int
              ) -> dict[str, torch.Tensor]:
    importance = tp.importance.GroupMagnitudeImportance(p=p)
    return {name: importance(group).detach().clone()
            for name, group in _groups(work, example_input, ignored).items()}


def group_norms(model: nn.Module, example_input: torch.Tensor, *, p: int = 2,
                ignored: Sequence[nn.Module] | None = None) -> dict[str, torch.Tensor]:
    """Group importance of every output neuron / channel of each prunable layer.

    The numbers :func:`prune_structured` ranks by (see the module docstring for the formula:
    layer-mean-normalised mean of ``sum |w|^p`` over the coupled slices).

    Args:
        model: the network (not modified); attached masks count as zeros.
        example_input: a batch of inputs, e.g. ``(n, features)``; only its first row is traced.
        p: norm degree. ignored: further layers to exclude, besides the head.

    Returns:
        ``{layer name: scores}`` keyed by ``model.named_modules()`` names, shape
        ``(out_features,)`` / ``(out_channels,)``, float32, mean 1 per layer; the head (last
        Linear/Conv) and ``ignored`` layers are absent.

    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> {k: tuple(v.shape) for k, v in group_norms(net, torch.zeros(1, 4)).items()}
    {'0': (3,)}
    """
    work = working_copy(model)
    example_input = example_input.to(model_device(work))
    return _norms_of(work, example_input, ignored_counterparts(model, work, ignored),
                     check_int(p, "p", low=1))


def _removal_order(norms: dict[str, torch.Tensor]) -> list[tuple[str, int]]:
    """All ``(layer, channel)`` removals in pruning order, keeping at least one channel per layer.

    Channels are ranked by score over all layers together, lowest first; among equal scores the
    larger global index (layers in ``norms`` order, channels in order) goes first, as in
    :func:`graphsparse.masks.topk_masks`. Removing the first ``n`` entries is the pruning at
    ``n`` channels, so pruned sets are nested in ``n``.
    """
    labels = [(name, c) for name, s in norms.items() for c in range(s.numel())]
    scores = torch.cat([s.reshape(-1).double() for s in norms.values()])
    if not bool(torch.isfinite(scores).all()):
        bad = [name for name, s in norms.items() if not bool(torch.isfinite(s).all())]
        raise ValueError(f"non-finite group importance in layers {bad} (a layer whose weights are "
                         "all zero has no defined normalised score)")
    reversed_order = torch.argsort(scores.flip(0), stable=True)
    order = (scores.numel() - 1 - reversed_order).tolist()
    left = {name: s.numel() for name, s in norms.items()}
    removals = []
    for i in order:
        name, c = labels[i]
        if left[name] > 1:
            left[name] -= 1
            removals.append((name, c))
    return removals


def _apply(work: nn.Module, example_input: torch.Tensor, removals: list[tuple[str, int]]
           ) -> nn.Module:
    """A deep copy of ``work`` with the listed output channels physically removed."""
    net = copy.deepcopy(work)
    graph = tp.DependencyGraph().build_dependency(net, example_inputs=example_input[:1])
    by_layer: dict[str, list[int]] = {}
    for name, c in removals:
        by_layer.setdefault(name, []).append(c)
    for name, idxs in by_layer.items():
        module = net.get_submodule(name)
        group = graph.get_pruning_group(module, _out_prune_fn(module), sorted(idxs))
        if not graph.check_pruning_group(group):
            raise RuntimeError(f"torch-pruning refused to prune layer {name!r}")
        group.prune()
    return net


def params_and_macs(model: nn.Module, example_input: torch.Tensor) -> tuple[int, int]:
    """``(parameter numel, dense per-example MACs)``."""
    return sum(t.numel() for t in model.parameters()), macs(model, example_input[:1]).dense


def prune_structured(model: nn.Module, example_input: torch.Tensor, *,
                     params_ratio: float | None = None, macs_ratio: float | None = None,
                     ignored: Sequence[nn.Module] | None = None, p: int = 2,
                     tolerance: float = 0.01) -> PruneResult:
    """Physically remove whole neurons / channels to a remaining-parameter or remaining-MAC ratio.

    Channels are ranked once, globally, by :func:`group_norms` on the input model; pruning ``n``
    channels removes the first ``n`` of that ranking (never the last channel of a layer, never
    the head's outputs). Parameter and MAC counts fall with ``n``, so the smallest ``n`` whose
    realised ratio is ``<= target`` (the closest realisable ratio not above the target) is found
    by bisection over ``n``, each step pruning a fresh deep copy with torch-pruning's dependency
    graph. Equivalently, the global channel pruning ratio ``n / total`` is bisected exactly.

    Args:
        model: the network (not modified); run in eval mode on a copy, attached masks baked.
        example_input: a batch of inputs as the model takes them, e.g. ``(n, features)``; its
            first row is used for tracing and for per-example MACs.
        params_ratio: target remaining parameters / original parameters, in (0, 1].
        macs_ratio: target remaining MACs / original dense MACs, in (0, 1]. Give exactly one.
        ignored: layers whose outputs are kept, besides the head (the last Linear/Conv).
        p: norm degree of the group importance.
        tolerance: a realised ratio more than this below the target (channel granularity too
            coarse) gives a ``UserWarning``.

    Returns:
        :class:`PruneResult` with ``method="group_norm"`` and the pruned network in eval mode.

    Raises:
        ValueError: both or neither ratio given, a ratio outside (0, 1], a negative tolerance, or
            a target below the smallest reachable ratio (one channel left per prunable layer).
    """
    if (params_ratio is None) == (macs_ratio is None):
        raise ValueError("give exactly one of params_ratio and macs_ratio")
    kind = "params_ratio" if params_ratio is not None else "macs_ratio"
    target = check_fraction(params_ratio if params_ratio is not None else macs_ratio, kind,
                            open_low=True, open_high=False)
    check_float(tolerance, "tolerance", low=0.0)
    work = working_copy(model)
    example_input = example_input.to(model_device(work))
    skip = ignored_counterparts(model, work, ignored)
    removals = _removal_order(_norms_of(work, example_input, skip, check_int(p, "p", low=1)))
    params0, macs0 = params_and_macs(work, example_input)
    pick = 0 if kind == "params_ratio" else 1
    base = (params0, macs0)[pick]
    pruned: dict[int, tuple[nn.Module, int, int]] = {}

    def realised(n: int) -> float:
        if n not in pruned:
            net = _apply(work, example_input, removals[:n])
            pruned[n] = (net, *params_and_macs(net, example_input))
        return pruned[n][1 + pick] / base

    smallest = realised(len(removals))
    if smallest > target:
        raise ValueError(f"{kind}={target} is unreachable: the smallest reachable {kind} is "
                         f"{smallest:.6g} (one channel left in every prunable layer)")
    lo, hi = -1, len(removals)      # realised(hi) <= target < realised(lo); n = -1 is virtual
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if realised(mid) <= target:
            hi = mid
        else:
            lo = mid
    net, params, cost = pruned[hi]
    got = (params / params0, cost / macs0)[pick]
    if target - got > tolerance:
        warnings.warn(f"{kind}: realised {got:.6g} is {target - got:.3g} below the target {target} "
                      f"(more than tolerance={tolerance}); channel granularity allows no closer "
                      "value at or below the target", stacklevel=2)
    return PruneResult(model=net, method="group_norm", target=target, target_kind=kind,
                       params=params, params_ratio=params / params0, macs=cost,
                       macs_ratio=cost / macs0)


def prune_unstructured(model: nn.Module, sparsity: float, *, example_input: torch.Tensor,
                       scope: str = "global") -> PruneResult:
    """Magnitude-prune the weight matrices / kernels to ``sparsity`` with attached masks.

    Scores ``|w|`` on the ``"linear"`` tensors (Linear/Conv weights; biases and BatchNorm are
    never pruned) and exact selection by :func:`graphsparse.masks.topk_masks`: with
    ``scope="global"`` all these weights together keep exactly ``N - floor(sparsity*N + 1e-9)``
    entries, with ``scope="local"`` each tensor does. Masks are attached to a deep copy, so
    masked entries stay exactly zero during :func:`fine_tune`.

    Args:
        model: the network (not modified); existing masks count as zero weights.
        sparsity: fraction of weight entries to remove, in [0, 1).
        example_input: a batch of inputs, e.g. ``(n, features)``; its first row gives
            per-example MACs.
        scope: ``"global"`` or ``"local"``.

    Returns:
        :class:`PruneResult` with ``method="magnitude"``, ``macs`` the masked MACs.
    """
    sparsity = check_sparsity(sparsity, "sparsity")
    net = copy.deepcopy(model).eval()
    example_input = example_input.to(model_device(net))
    masks = topk_masks(magnitude_scores(net, scope="linear"), sparsity, scope=scope)
    attach(net, masks)
    params0 = sum(t.numel() for t in named_tensors(model, "all").values())
    weights = named_tensors(net, "linear")
    others = sum(t.numel() for n, t in named_tensors(net, "all").items() if n not in weights)
    params = sparsity_report(net, "linear").kept + others
    report = macs(net, example_input[:1])     # dense MACs ignore masks: the input model's
    macs0, cost = report.dense, report.masked
    return PruneResult(model=net, method="magnitude", target=sparsity, target_kind="sparsity",
                       params=params, params_ratio=params / params0, macs=cost,
                       macs_ratio=cost / macs0)


def fine_tune(model: nn.Module, data: Dataset, *, epochs: int, lr: float = 1e-3,
              batch_size: int = 64, seed: int = 0, progress: bool = False,
              device: str | torch.device | None = None) -> list[dict]:
    """Fine-tune ``model`` in place: Adam, cross-entropy, via
    :func:`graphsparse.topology.training.train` (no training-set accuracy).

    Masked weights stay exactly zero (masks are parametrizations); a physically pruned network
    simply trains. ``epochs`` may be 0: nothing happens and ``[]`` is returned (the model is
    still moved to ``device``). Otherwise one history row per epoch (``epoch``, ``loss``,
    ``test_acc``, ``seconds``, ...).

    Args:
        device: move ``model`` there first, in place (``"auto"``, ``"cpu"``, ``"cuda"``,
            ``"cuda:N"``, :func:`graphsparse.devices.resolve_device`); None keeps its device.
            The data follows the model (copied, not modified).
    """
    check_int(epochs, "epochs", low=0)
    if device is not None:
        model.to(resolve_device(device))
    if epochs == 0:
        return []
    return train(model, data, epochs=epochs, lr=lr, batch_size=batch_size, optimizer="adam",
                 loss="cross_entropy", seed=seed, eval_train=False, progress=progress)
