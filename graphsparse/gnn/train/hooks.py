"""The trainer's plug-in points and records: :class:`TrainHooks`, :class:`StepContext`,
:class:`EpochRecord` and :class:`TrainResult` (see :mod:`graphsparse.gnn.train`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from torch import Tensor, nn

__all__ = [
    "EpochRecord",
    "StepContext",
    "TrainHooks",
    "TrainResult",
    "as_hooks",
]


@dataclass
class StepContext:
    """What a hook sees at one optimisation step.

    Attributes:
        model: the model being trained.
        task: ``"node"``, ``"link"`` or ``"graph"``.
        epoch: 1-based epoch.
        step: 0-based step within the epoch (node tasks: always 0).
        out: the outputs the loss was computed from. Node: logits ``[N, C]`` of **all** nodes
            (mini-batch: ``[B, C]`` of the batch's seed nodes);
            link: logits ``[2B]`` of the batch's positive then negative pairs; graph: logits
            ``[B, T]`` of the batch's graphs.
        target: node: labels of all nodes (``data.y``); link: ``[2B]`` 1/0; graph: ``[B, T]``.
        loss: the task loss (scalar, before extra terms).
        inputs: node: ``{"x", "edge_index", "index"}`` (``index``: training node ids);
            mini-batch node: ``{"edge_index", "seeds", "n_id", "e_id"}`` (``seeds``: global
            ids of the batch's seed nodes; ``n_id``/``e_id``: global ids of the sampled nodes
            and edges); mini-batch link: ``{"edge_index", "pairs", "n_id", "e_id",
            "embeddings"}`` (``pairs`` in global node ids);
            link: ``{"x", "edge_index", "pairs" [2, 2B], "embeddings" [N, D]}``;
            graph: ``{"batch"}`` (the PyG ``Batch``, with ``g_id`` and ``e_id``).
        edge_mask: the edge mask given to the trainer (None if none).
    """

    model: nn.Module
    task: str
    epoch: int
    step: int
    out: Tensor
    target: Tensor
    loss: Tensor
    inputs: dict[str, Any]
    edge_mask: Any


@dataclass
class EpochRecord:
    """One epoch: mean loss (task loss + extra terms), metrics (None when not evaluated),
    seconds in training steps and in evaluation, and whether it is the best so far."""

    epoch: int
    loss: float
    val: float | None
    test: float | None
    train_seconds: float
    eval_seconds: float
    best: bool


class TrainHooks:
    """Base class of the plug-in points of :func:`train_model`; every method is a no-op.

    Subclass and override what a method needs (see the module documentation). Several hooks
    may be passed; they run in the given order.

    Example (an L1 penalty on trainable weight-mask values, UGS's ``γ2‖m_θ‖₁``):
        >>> from graphsparse.masks import mask_values_of
        >>> class L1OnMasks(TrainHooks):
        ...     def __init__(self, gamma):
        ...         self.gamma = gamma
        ...     def extra_loss(self, ctx):
        ...         values = mask_values_of(ctx.model).values()
        ...         return self.gamma * sum(v.abs().sum() for v in values)
    """

    def parameters(self) -> Iterable[Tensor]:
        """Extra tensors for the optimiser (group ``"hooks"``)."""
        return ()

    def extra_loss(self, ctx: StepContext) -> Tensor | None:
        """A scalar added to the task loss before ``backward``, or None."""
        return None

    def after_backward(self, ctx: StepContext) -> None:
        """Called after ``backward``, before the optimiser step (gradients can be edited)."""

    def after_step(self, ctx: StepContext) -> None:
        """Called after every optimiser step (and the edge-mask projection)."""

    def on_epoch_end(self, record: EpochRecord, model: nn.Module) -> bool | None:
        """Called after every epoch; return True to stop training."""
        return None


@dataclass
class TrainResult:
    """What :func:`train_model` returns.

    Attributes:
        metric: the metric's name (``"acc"``, ``"rocauc"``, ``"hits@20"`` …).
        val, test: the metric at the best epoch.
        best_epoch: 1-based epoch with the best validation metric.
        epochs: epochs run.
        seconds: wall-clock seconds of the whole call.
        train_seconds, eval_seconds: seconds in training steps / in evaluation.
        inference_seconds: median seconds of one inference pass (``time_inference=True``),
            else None.
        seed: the seed used.
        stopped_early: a hook stopped training.
        evaluation: how validation/test outputs were computed: ``"full-batch"``, or for
            mini-batch training ``"full-graph"`` or ``"sampled"``.
        history: one :class:`EpochRecord` per epoch.
        best_state: ``state_dict`` of the model at the best epoch (tensors cloned; loadable
            with ``load_state_dict``, see :func:`graphsparse.masks.loadable_state_dict`).
        best_edge_mask_state: the TrainableEdgeMask's ``state_dict`` at the best epoch, or None.
    """

    metric: str
    val: float
    test: float
    best_epoch: int
    epochs: int
    seconds: float
    train_seconds: float
    eval_seconds: float
    inference_seconds: float | None
    seed: int
    stopped_early: bool
    evaluation: str = "full-batch"
    history: list[EpochRecord] = field(default_factory=list)
    best_state: dict[str, Tensor] = field(default_factory=dict, repr=False)
    best_edge_mask_state: dict[str, Tensor] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (no tensors): every scalar field plus the history."""
        return {
            "metric": self.metric, "val": self.val, "test": self.test,
            "best_epoch": self.best_epoch, "epochs": self.epochs, "seconds": self.seconds,
            "train_seconds": self.train_seconds, "eval_seconds": self.eval_seconds,
            "inference_seconds": self.inference_seconds, "seed": self.seed,
            "stopped_early": self.stopped_early, "evaluation": self.evaluation,
            "history": [asdict(record) for record in self.history],
        }


def as_hooks(hooks: Any) -> list[TrainHooks]:
    """``hooks`` (one :class:`TrainHooks`, a sequence of them or None) as a list."""
    items = [hooks] if isinstance(hooks, TrainHooks) else list(hooks or ())
    for hook in items:
        if not isinstance(hook, TrainHooks):
            raise TypeError(f"hooks must be TrainHooks instances, got {type(hook).__name__}")
    return items
