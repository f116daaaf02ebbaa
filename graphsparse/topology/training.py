"""A plain training loop for classifiers on an embedded :class:`~graphsparse.topology.datasets.Dataset`:
:func:`train` (minibatch SGD/Adam with SET/RigL callbacks, per-epoch recording and a progress
bar, on any device), :func:`evaluate`, :func:`dataset_to` and SET's MSE surrogate loss
:func:`set_mse_surrogate`."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from graphsparse.checks import check_choice, check_float, check_int
from graphsparse.devices import model_device, resolve_device
from graphsparse.masks import csr_linear

from .datasets import Dataset

__all__ = ["train", "evaluate", "dataset_to", "set_mse_surrogate"]

_LOSSES = ("cross_entropy", "mse", "mse_set")


def set_mse_surrogate(logits: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    """The gradient of SET's reference MSE code as a loss (``loss="mse_set"`` in :func:`train`).

    SET's numpy implementation (Mocanu et al. 2018, tutorial code ``nn_functions.MSE.delta``)
    back-propagates the output delta ``(y − t) · σ'(y)`` per output, with ``y = σ(z)`` and the
    sigmoid derivative evaluated at ``y`` (not at ``z``), averaged over the batch only. That delta
    stays within about ``[0.20, 0.25] · (y − t)`` and does not vanish when outputs saturate,
    unlike the true MSE gradient. This function returns a scalar whose gradient with respect to
    ``logits`` ``(B, C)`` is exactly that delta divided by ``B``; its *value* is the mean squared
    error ``mean((y − t)²)`` (what is logged), not the surrogate.

    >>> z = torch.zeros(1, 2, requires_grad=True)
    >>> set_mse_surrogate(z, torch.tensor([[1.0, 0.0]])).backward()
    >>> [round(g, 4) for g in z.grad[0].tolist()]     # (0.5 − t) · σ(0.5)(1 − σ(0.5))
    [-0.1175, 0.1175]
    """
    y = logits.sigmoid()
    s = torch.sigmoid(y.detach())
    delta = ((y.detach() - onehot) * s * (1 - s)).detach()
    surrogate = (delta * logits).sum(dim=1).mean()
    value = F.mse_loss(y.detach(), onehot)
    return surrogate - surrogate.detach() + value


def dataset_to(data: Dataset, device: str | torch.device) -> Dataset:
    """``data`` with its four tensors on ``device`` (``data`` itself when they are there
    already; otherwise a copy, ``data`` is not modified)."""
    device = torch.device(device)
    fields = ("x_train", "y_train", "x_test", "y_test")
    if all(getattr(data, f).device == device for f in fields):
        return data
    return dataclasses.replace(data, **{f: getattr(data, f).to(device) for f in fields})


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """Classification accuracy (fraction in [0, 1]) of ``model`` on ``(x, y)`` in eval mode.

    Runs on the model's device: batches of ``x`` and ``y`` (on any device) are moved there."""
    was_training = model.training
    device = model_device(model)
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)
    for i in range(0, len(y), batch_size):
        xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
        correct += (model(xb).argmax(1) == yb).sum()
    model.train(was_training)
    return int(correct) / len(y)


def _optimizer(model: nn.Module, optimizer: str, lr: float, momentum: float, weight_decay: float,
               on_cpu: bool) -> torch.optim.Optimizer:
    """SGD (with momentum; torch's fused CPU kernel where it applies) or Adam over ``model``."""
    check_choice(optimizer, "optimizer", ("sgd", "adam"))
    if optimizer == "sgd":
        # torch's fused CPU kernel: one pass per tensor (~2x faster than per-op updates on
        # 1000x1000 weights), equal to the per-op path up to float rounding
        fused = on_cpu and all(p.dtype in (torch.float32, torch.float64)
                               for p in model.parameters())
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                               weight_decay=weight_decay, fused=fused or None)
    return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)


def _loss_function(loss: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``loss_of(logits, target)`` for a loss name of :data:`_LOSSES`."""
    def loss_of(out, target):
        if loss == "cross_entropy":
            return F.cross_entropy(out, target)
        onehot = F.one_hot(target, out.shape[1]).to(out.dtype)
        if loss == "mse":
            return F.mse_loss(out.sigmoid(), onehot)
        return set_mse_surrogate(out, onehot)

    return loss_of


def _resolve_kernel(kernel: str, on_cpu: bool, rigl_callback) -> str:
    """``"dense"`` or ``"csr"``; ``"auto"`` is ``"csr"`` on CPU without RigL."""
    check_choice(kernel, "kernel", ("auto", "dense", "csr"))
    if kernel == "csr" and rigl_callback is not None:
        raise ValueError("kernel='csr' cannot run RigL, whose regrowth needs dense gradients; "
                         "use kernel='dense'")
    if kernel == "auto":
        return "csr" if on_cpu and rigl_callback is None else "dense"
    return kernel


def _train_epoch(model: nn.Module, data: Dataset, opt: torch.optim.Optimizer, loss_of: Callable,
                 gen: torch.Generator, batch_size: int, step: int, rigl_callback) -> tuple[float, int]:
    """One pass over the shuffled training set (on the data's device; the order comes from the
    CPU generator ``gen``, so it is the same on every device); returns (mean batch loss, last
    step)."""
    device = data.x_train.device
    # summed on the device in float64 (no host sync per step), as the float sum it replaces
    total = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    for idx in torch.randperm(len(data.y_train), generator=gen).split(batch_size):
        idx = idx.to(device)
        xb, yb = data.x_train[idx], data.y_train[idx]
        opt.zero_grad()
        batch_loss = loss_of(model(xb), yb)
        batch_loss.backward()
        opt.step()
        step += 1
        total += batch_loss.detach().double() * len(idx)
        count += len(idx)
        if rigl_callback is not None:
            rigl_callback.on_step_end(model, step, lambda m: loss_of(m(xb), yb), opt)
    return float(total) / count, step


def train(model: nn.Module, data: Dataset, *, epochs: int, lr: float = 0.01,
          batch_size: int = 64, optimizer: str = "sgd", momentum: float = 0.9,
          weight_decay: float = 0.0, loss: str = "cross_entropy", seed: int = 0,
          set_callback=None, rigl_callback=None,
          record: Callable[[nn.Module, int], dict] | None = None,
          eval_train: bool = True, kernel: str = "auto", progress: bool = True,
          device: str | torch.device | None = None) -> list[dict]:
    """Train ``model`` on ``data`` with minibatch SGD/Adam; returns one history row per epoch.

    Args:
        epochs: ≥ 1. lr: > 0. batch_size: ≥ 1. optimizer: ``"sgd"`` (with ``momentum``) or
            ``"adam"``. loss: ``"cross_entropy"``, ``"mse_set"`` (below) or ``"mse"`` (mean squared error between sigmoid
            outputs and one-hot targets, as SET's tutorial MLP).
        seed: seeds the minibatch order (and dropout, through torch's global generator).
        set_callback: a :class:`graphsparse.topology.dynamic.SET`, called after every epoch.
        rigl_callback: a :class:`graphsparse.topology.dynamic.RigL`, called after every step with
            that step's batch loss.
        record: ``record(model, epoch) -> dict`` merged into the epoch's row (e.g. topology
            statistics, so their evolution under SET can be plotted).
        eval_train: also measure training-set accuracy every epoch (``train_acc``, else None).
        kernel: ``"dense"`` (masked dense products), ``"csr"`` (masked Linear layers keeping at
            most 20% of their weights run on CSR kernels, :func:`graphsparse.masks.csr_linear`)
            or ``"auto"`` (``"csr"`` on CPU, ``"dense"`` on other devices). The two agree up to
            float rounding; each is deterministic.
        progress: show a tqdm progress bar over epochs.
        device: move ``model`` there first, in place (``"auto"``, ``"cpu"``, ``"cuda"``,
            ``"cuda:N"`` or a ``torch.device``, see :func:`graphsparse.devices.resolve_device`);
            None keeps the model's current device. Training runs on the model's device: the
            dataset is copied there once (``data`` is not modified), masks and their
            parametrizations move with the model, and the SET/RigL callbacks follow the
            weights' device. The minibatch order comes from a CPU generator, so it does not
            depend on the device.

    Raises:
        ValueError: an argument out of range (named), or a ``device`` that is not available
            (the message lists the available ones).

    Each row: ``epoch``, ``loss`` (mean train loss), ``train_acc``, ``test_acc``, ``seconds``,
    plus what ``record`` returns. Masked entries stay exactly zero throughout.
    """
    check_int(epochs, "epochs", low=1)
    check_float(lr, "lr", low=0.0, open_low=True)
    check_int(batch_size, "batch_size", low=1)
    check_choice(loss, "loss", _LOSSES)
    if device is not None:
        model.to(resolve_device(device))
    data = dataset_to(data, model_device(model))
    on_cpu = all(p.device.type == "cpu" for p in model.parameters())
    opt = _optimizer(model, optimizer, lr, momentum, weight_decay, on_cpu)
    loss_of = _loss_function(loss)
    kernel = _resolve_kernel(kernel, on_cpu, rigl_callback)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    history = []
    step = 0
    from tqdm.auto import tqdm

    bar = tqdm(range(1, epochs + 1), desc="training", unit="epoch", disable=not progress)
    for epoch in bar:
        start = time.perf_counter()
        model.train()
        switch = csr_linear(model) if kernel == "csr" else contextlib.nullcontext()
        with switch:
            mean_loss, step = _train_epoch(model, data, opt, loss_of, gen, batch_size, step,
                                           rigl_callback)
            if set_callback is not None and epoch < epochs:
                set_callback.on_epoch_end(model, opt)
            row = {"epoch": epoch, "loss": mean_loss,
                   "train_acc": evaluate(model, data.x_train, data.y_train) if eval_train else None,
                   "test_acc": evaluate(model, data.x_test, data.y_test),
                   "seconds": time.perf_counter() - start}
        if record is not None:
            row.update(record(model, epoch))
        history.append(row)
        bar.set_postfix(loss=f"{row['loss']:.4f}", test_acc=f"{row['test_acc']:.3f}")
    return history
