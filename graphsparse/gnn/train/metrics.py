"""Losses and metrics of the three tasks: the task loss by target kind, the dataset's metric
(OGB's ``Evaluator`` for OGB datasets, otherwise accuracy or ROC-AUC) and which of two
validation values is better (see :mod:`graphsparse.gnn.train`)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["LOWER_IS_BETTER", "better", "score", "task_loss"]

#: Metrics for which a lower value is better.
LOWER_IS_BETTER = frozenset({"rmse", "mae"})


def task_loss(target_kind: str, out: Tensor, y: Tensor) -> Tensor:
    """Cross entropy (multiclass), BCE on labelled entries (binary) or MSE (regression)."""
    if target_kind == "multiclass":
        return F.cross_entropy(out, y.view(-1).long())
    y = y.view(out.shape).to(out.dtype)
    labelled = ~torch.isnan(y)
    if target_kind == "binary":
        return F.binary_cross_entropy_with_logits(out[labelled], y[labelled])
    return F.mse_loss(out[labelled], y[labelled])


def better(metric: str, value: float, best: float | None) -> bool:
    """Whether ``value`` beats ``best``: a NaN value only when there is no best yet (None);
    any value beats a NaN best."""
    if math.isnan(value):
        return best is None
    if best is None or math.isnan(best):
        return True
    return value < best if metric in LOWER_IS_BETTER else value > best


def score(dataset: Any, y: Tensor, out: Tensor) -> float:
    """The dataset's metric of predictions ``out`` (logits) against labels ``y``."""
    y, out = y.detach().cpu(), out.detach().cpu().float()
    if dataset.evaluator is not None:
        if dataset.task == "node":
            from ogb.nodeproppred import Evaluator
        else:
            from ogb.graphproppred import Evaluator
        if dataset.target == "multiclass":
            inputs = {"y_true": y.view(-1, 1), "y_pred": out.argmax(-1, keepdim=True)}
        else:
            inputs = {"y_true": y.view(out.shape), "y_pred": out}
        return float(Evaluator(dataset.evaluator).eval(inputs)[dataset.metric])
    if dataset.metric == "acc":
        return float((out.argmax(-1) == y.view(-1)).float().mean()) if y.numel() else 0.0
    if dataset.metric == "rocauc":
        from sklearn.metrics import roc_auc_score

        score = out.softmax(-1)[:, 1] if out.dim() == 2 and out.size(1) == 2 \
            else torch.sigmoid(out.view(-1))
        return float(roc_auc_score(y.view(-1).numpy(), score.numpy()))
    raise ValueError(f"no evaluator for metric {dataset.metric!r} of dataset {dataset.name!r} "
                     "(supported without OGB: 'acc', 'rocauc')")
