"""Dynamic sparse training: SET and RigL as callbacks on an ordinary training loop.

Both keep each masked layer's number of connections constant, change *which* connections exist,
and are built on the mask toolkit's drop/grow primitives
(:func:`graphsparse.masks.drop_lowest`, :func:`~graphsparse.masks.grow_random`,
:func:`~graphsparse.masks.grow_highest`). They act on the masks attached with
:func:`graphsparse.masks.attach`; regrown connections get their raw weight set (and, if an
optimiser is given, their optimiser state reset), so a regrown weight starts exactly at its
initial value.

Devices: the drop/grow selection runs on CPU copies of the masks, weights and scores (with the
callbacks' CPU generators), so on CUDA a run makes the same choices as on CPU for the same
weights; the new masks, regrown values and optimiser-state resets are written on the weights'
device.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from graphsparse.checks import as_generator, check_float, check_fraction, check_int
from graphsparse.masks import (
    BinaryMask,
    drop_lowest,
    gradient_scores,
    grow_highest,
    grow_random,
    kept_count,
    masks_of,
)

__all__ = ["SET", "RigL", "LayerUpdate", "set_prune", "cosine_drop_fraction"]


@dataclass(frozen=True)
class LayerUpdate:
    """What one prune-and-regrow step did to one layer (counts of connections)."""

    name: str
    kept: int
    dropped: int
    grown: int


def _mask_module(model: nn.Module, name: str) -> BinaryMask:
    prefix, _, tname = name.rpartition(".")
    owner = model.get_submodule(prefix) if prefix else model
    for p in owner.parametrizations[tname]:
        if isinstance(p, BinaryMask):
            return p
    raise KeyError(f"{name!r} carries no graphsparse mask")


def _raw(model: nn.Module, name: str) -> torch.Tensor:
    prefix, _, tname = name.rpartition(".")
    owner = model.get_submodule(prefix) if prefix else model
    return owner.parametrizations[tname].original


def _layers(model: nn.Module, names: Iterable[str] | None) -> list[str]:
    masked = list(masks_of(model))
    if not masked:
        raise ValueError("the model has no attached masks: attach sparse masks first "
                         "(graphsparse.masks.attach)")
    if names is None:
        return masked
    names = list(names)
    unknown = [n for n in names if n not in masked]
    if unknown:
        raise KeyError(f"names {unknown} carry no mask; masked tensors are {masked}")
    return names


@torch.no_grad()
def _apply(model: nn.Module, name: str, new_mask: torch.Tensor, grown: torch.Tensor,
           values: torch.Tensor, optimizer: torch.optim.Optimizer | None) -> None:
    """Install ``new_mask``; set the raw weight of ``grown`` positions to ``values`` (all three
    on any device: they are moved to the weight's)."""
    raw = _raw(model, name)
    new_mask, grown = new_mask.to(raw.device), grown.to(raw.device)
    _mask_module(model, name).mask.copy_(new_mask)
    raw[grown] = values.to(device=raw.device, dtype=raw.dtype)
    if optimizer is not None:
        state = optimizer.state.get(raw, {})
        for buf in state.values():
            if isinstance(buf, torch.Tensor) and buf.shape == raw.shape:
                buf[grown] = 0


def set_prune(weight: torch.Tensor, mask: torch.Tensor, zeta: float) -> torch.Tensor:
    """SET's sign-aware removal step (Mocanu et al. 2018): the mask after removing the fraction
    ``zeta`` of the positive kept weights closest to zero and of the negative kept weights closest
    to zero. A sign group of n kept weights loses ``floor(zeta·n + 1e-9)``; exact zeros count as
    positive; ties follow the library rule.

    >>> import torch
    >>> w = torch.tensor([0.01, 0.02, 0.9, -0.5, -0.6, -0.9])
    >>> set_prune(w, torch.ones(6, dtype=torch.bool), 0.34).tolist()
    [False, True, True, False, True, True]
    """
    zeta = check_fraction(zeta, "zeta")
    weight = weight.detach()
    positive = mask & (weight >= 0)
    negative = mask & (weight < 0)
    n_pos, n_neg = int(positive.sum()), int(negative.sum())
    return (drop_lowest(positive, weight, n_pos - kept_count(n_pos, zeta))
            | drop_lowest(negative, -weight, n_neg - kept_count(n_neg, zeta)))


class SET:
    """Sparse Evolutionary Training (Mocanu et al., Nat. Commun. 9:2383, 2018, Algorithm 1).

    After each epoch, in every masked layer: remove the fraction ζ of the *positive* weights
    closest to zero (the smallest positive) and the fraction ζ of the *negative* weights closest to
    zero (the largest negative), then regrow the same number of connections at uniformly random
    empty positions, so the layer's density is constant. Counts follow the library rule: a sign
    group of n kept weights loses ``floor(ζ·n + 1e-9)``; exact zeros count as positive.
    Regrown weights start at 0 (``init_std=0``, as the Keras implementation) or are drawn from
    N(0, init_std²) (the SciPy implementation uses ``randn()/10``, i.e. ``init_std=0.1``).

    Args:
        zeta: fraction removed per sign group per epoch, in [0, 1) (paper: 0.3).
        init_std: standard deviation of regrown weights (0 = zeros).
        seed / generator: randomness of regrowth positions and values.
        names: masked tensors to evolve (default: every masked tensor).

    Example::

        set_cb = SET(zeta=0.3, seed=0)
        for epoch in range(epochs):
            train_one_epoch(model, optimizer)
            set_cb.on_epoch_end(model, optimizer)
    """

    def __init__(self, zeta: float = 0.3, init_std: float = 0.0, *, seed: int | None = None,
                 generator: torch.Generator | None = None, names: Iterable[str] | None = None):
        self.zeta = check_fraction(zeta, "zeta")
        self.init_std = check_float(init_std, "init_std", low=0.0)
        self.generator = as_generator(seed, generator)
        self.names = None if names is None else list(names)

    def on_epoch_end(self, model: nn.Module, optimizer: torch.optim.Optimizer | None = None
                     ) -> list[LayerUpdate]:
        """Prune and regrow every evolved layer once; returns what changed per layer."""
        updates = []
        for name in _layers(model, self.names):
            mask = _mask_module(model, name).mask.detach().cpu().clone()
            after = set_prune(_raw(model, name).detach().cpu(), mask, self.zeta)
            dropped = int(mask.sum()) - int(after.sum())
            new_mask = grow_random(after, dropped, generator=self.generator)
            grown = new_mask & ~after
            values = (torch.randn(int(grown.sum()), generator=self.generator) * self.init_std
                      if self.init_std > 0 else torch.zeros(int(grown.sum())))
            _apply(model, name, new_mask, grown, values, optimizer)
            updates.append(LayerUpdate(name, int(new_mask.sum()), dropped, dropped))
        return updates


def cosine_drop_fraction(step: int, initial: float, end_step: int) -> float:
    """RigL's cosine-annealed drop fraction ``f(t) = (α/2)(1 + cos(π t / T_end))``
    (Evci et al., ICML 2020, eq. 1); 0 from ``end_step`` on.

    >>> cosine_drop_fraction(0, 0.3, 100), cosine_drop_fraction(100, 0.3, 100)
    (0.3, 0.0)
    """
    if step >= end_step:
        return 0.0
    return initial / 2.0 * (1.0 + math.cos(math.pi * step / end_step))


class RigL:
    """Rigging the Lottery (Evci, Gale, Menick, Castro, Elsen, ICML 2020, Algorithm 1).

    Every ``update_every`` steps until ``end_step``, in every masked layer with ``n`` connections:
    drop the ``k = floor(f(t)·n + 1e-9)`` connections with the smallest |w|, with the cosine
    drop fraction ``f(t)`` of :func:`cosine_drop_fraction`; grow ``k`` connections at the empty
    positions with the largest dense-gradient magnitude ``|∂L/∂w|``; regrown weights start at 0.
    The dense gradient comes from :func:`graphsparse.masks.gradient_scores` on the step's batch
    (the loss closure), so the user's model and gradients are not touched.

    Args:
        drop_fraction: α, the initial drop fraction, in [0, 1) (paper: 0.3).
        update_every: ΔT in steps (paper: 100).
        end_step: T_end, the step after which the topology stays fixed (paper: 75% of training).
        names: masked tensors to evolve (default: every masked tensor).
    """

    def __init__(self, drop_fraction: float = 0.3, update_every: int = 100, *, end_step: int,
                 names: Iterable[str] | None = None):
        self.drop_fraction = check_fraction(drop_fraction, "drop_fraction")
        self.update_every = check_int(update_every, "update_every", low=1)
        self.end_step = check_int(end_step, "end_step", low=1)
        self.names = None if names is None else list(names)

    def is_update_step(self, step: int) -> bool:
        return step > 0 and step < self.end_step and step % self.update_every == 0

    def on_step_end(self, model: nn.Module, step: int,
                    loss_fn: Callable[[nn.Module], torch.Tensor],
                    optimizer: torch.optim.Optimizer | None = None) -> list[LayerUpdate]:
        """Call after the optimiser step ``step`` (1-based); updates masks on update steps.

        ``loss_fn(model)`` computes the loss of the current batch (for the dense gradient).
        Returns what changed per layer (empty on other steps).
        """
        if not self.is_update_step(step):
            return []
        fraction = cosine_drop_fraction(step, self.drop_fraction, self.end_step)
        names = _layers(model, self.names)
        grads = gradient_scores(model, loss_fn, names=names, times_weight=False)
        updates = []
        for name in names:
            mask = _mask_module(model, name).mask.detach().cpu().clone()
            weight = _raw(model, name).detach().cpu()
            n = int(mask.sum())
            k = n - kept_count(n, fraction)
            after = drop_lowest(mask, weight.abs(), k)
            new_mask = grow_highest(after, grads[name].detach().cpu().to(torch.float64), k)
            grown = new_mask & ~after
            _apply(model, name, new_mask, grown, torch.zeros(int(grown.sum())), optimizer)
            updates.append(LayerUpdate(name, int(new_mask.sum()), k, k))
        return updates
