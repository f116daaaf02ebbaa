"""What to score: magnitude, random, gradient, SNIP and SynFlow saliency scores.

Every scorer returns ``{name: scores}`` with one finite, non-negative score per entry (higher =
more important), keyed by the tensor's unmasked name (see
:func:`graphsparse.masks.named_tensors`). Caller-supplied scores in the same form work the same
way with :func:`graphsparse.masks.topk_masks`.

Scorers that need a forward/backward pass work on a private copy of the model with its masks
baked in, so the user's model, its gradients and its masks are never touched. Masked entries
therefore score as the effective (zero) weight does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping

import torch
from torch import nn

from graphsparse.checks import as_generator, check_tensor_dict, refuses_meta
from .attach import bake, named_tensors

__all__ = [
    "magnitude_scores",
    "random_scores",
    "gradient_scores",
    "snip_scores",
    "synflow_scores",
]

Scope = str | Callable


def _select(tensors: dict[str, torch.Tensor], names: Iterable[str] | None) -> dict[str, torch.Tensor]:
    if names is None:
        if not tensors:
            raise ValueError("the scope selects no tensors to score")
        return tensors
    names = list(names)
    missing = [n for n in names if n not in tensors]
    if missing:
        raise KeyError(f"names {missing} match no tensor in scope; available: {list(tensors)[:10]}")
    if not names:
        raise ValueError("names is empty: expected at least one tensor name")
    return {n: tensors[n] for n in names}


def _targets(params: nn.Module | Mapping[str, torch.Tensor], names, scope) -> dict[str, torch.Tensor]:
    if isinstance(params, nn.Module):
        return _select(named_tensors(params, scope), names)
    return _select(check_tensor_dict(params, "params"), names)


@refuses_meta("params")
def magnitude_scores(params: nn.Module | Mapping[str, torch.Tensor], names: Iterable[str] | None = None,
                     scope: Scope = "linear") -> dict[str, torch.Tensor]:
    """``|w|`` for each tensor (magnitude pruning; Han et al. 2015, Frankle & Carbin 2019).

    Args:
        params: a module (tensors chosen by ``scope``/``names``) or a ``{name: tensor}`` dict
            (e.g. an edge-weight vector).
        names: optional subset of names to score, in this order.
        scope: ``"linear"`` (default), ``"all"`` or a predicate; see ``named_tensors``.

    >>> import torch
    >>> magnitude_scores({"w": torch.tensor([-2., 1.])})["w"].tolist()
    [2.0, 1.0]
    """
    return {n: t.detach().abs().clone() for n, t in _targets(params, names, scope).items()}


def random_scores(params: nn.Module | Mapping[str, torch.Tensor], *, seed: int | None = None,
                  generator: torch.Generator | None = None, names: Iterable[str] | None = None,
                  scope: Scope = "linear") -> dict[str, torch.Tensor]:
    """I.i.d. uniform [0, 1) scores (random pruning), drawn in mapping order from one generator.

    Same seed → identical scores, hence identical masks.

    >>> import torch
    >>> a = random_scores({"w": torch.zeros(3)}, seed=0)["w"]
    >>> torch.equal(a, random_scores({"w": torch.zeros(3)}, seed=0)["w"])
    True
    """
    gen = as_generator(seed, generator)
    return {n: torch.rand(t.shape, generator=gen, dtype=torch.float64)
            for n, t in _targets(params, names, scope).items()}


def _baked_copy(model: nn.Module) -> nn.Module:
    return bake(copy.deepcopy(model))


def _loss_gradients(model: nn.Module, loss_fn: Callable[[nn.Module], torch.Tensor], names, scope
                    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Weights and gradients of ``loss_fn`` on a baked copy: ``({name: w}, {name: dL/dw})``."""
    work = _baked_copy(model)
    targets = _select(named_tensors(work, scope), names)
    for p in work.parameters():
        p.requires_grad_(False)
        p.grad = None
    for t in targets.values():
        t.requires_grad_(True)
    loss = loss_fn(work)
    if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
        raise ValueError("loss_fn(model) must return a scalar tensor")
    loss.backward()
    grads = {}
    for n, t in targets.items():
        grads[n] = t.grad.detach().clone() if t.grad is not None else torch.zeros_like(t)
    return {n: t.detach() for n, t in targets.items()}, grads


@refuses_meta("model")
def gradient_scores(model: nn.Module, loss_fn: Callable[[nn.Module], torch.Tensor],
                    names: Iterable[str] | None = None, scope: Scope = "linear",
                    times_weight: bool = True) -> dict[str, torch.Tensor]:
    """First-order scores ``|w ⊙ ∂L/∂w|`` (Molchanov et al. 2017/2019 Taylor criterion), or the
    plain gradient magnitude ``|∂L/∂w|`` with ``times_weight=False`` (RigL's growth criterion,
    Evci et al. 2020: computed for masked entries too, as the dense gradient).

    Args:
        model: the (possibly masked) model; not modified.
        loss_fn: ``loss_fn(model) -> scalar loss``, e.g. ``lambda m: F.cross_entropy(m(x), y)``;
            sum over several batches inside it to accumulate.
        names / scope: which tensors to score (default: the linear weights).
    """
    weights, grads = _loss_gradients(model, loss_fn, names, scope)
    if times_weight:
        return {n: (weights[n] * grads[n]).abs() for n in weights}
    return {n: g.abs() for n, g in grads.items()}


@refuses_meta("model")
def snip_scores(model: nn.Module, loss_fn: Callable[[nn.Module], torch.Tensor],
                names: Iterable[str] | None = None, scope: Scope = "linear") -> dict[str, torch.Tensor]:
    """SNIP connection sensitivity (Lee, Ajanthan, Torr, ICLR 2019, eq. 6).

    ``s_j = |g_j| / Σ_k |g_k|`` with ``g_j = ∂L(c ⊙ w)/∂c_j`` at ``c = 1``, i.e. ``(∂L/∂w_j)·w_j``,
    normalised over all scored tensors together (so the scores of all tensors sum to 1).
    """
    weights, grads = _loss_gradients(model, loss_fn, names, scope)
    raw = {n: (weights[n] * grads[n]).abs().to(torch.float64) for n in weights}
    total = sum(float(r.sum()) for r in raw.values())
    if total == 0.0:
        raise ValueError("all SNIP sensitivities are zero: the loss does not depend on the scored "
                         "weights (check loss_fn and the scope)")
    return {n: r / total for n, r in raw.items()}


@torch.no_grad()
def _linearise(model: nn.Module) -> None:
    for t in list(model.parameters()) + list(model.buffers()):
        if t.is_floating_point():
            t.abs_()


@refuses_meta("model")
def synflow_scores(model: nn.Module, example_input: torch.Tensor | tuple[int, ...],
                   names: Iterable[str] | None = None, scope: Scope = "linear"
                   ) -> dict[str, torch.Tensor]:
    """SynFlow scores (Tanaka, Kunin, Yamins, Ganguli, NeurIPS 2020, eq. 2 and Algorithm 1).

    The network is linearised: every parameter and floating buffer is replaced by its absolute
    value, the model runs in float64 and eval mode on an all-ones input of batch size 1, and
    ``R = 1ᵀ (Π_l |θ^[l]|) 1`` is the sum of the output. The score is ``|θ ⊙ ∂R/∂θ|``. For a
    two-layer linear net ``W2 W1`` this is ``|W1_ij| Σ_k |W2_ki|`` and ``|W2_ki| Σ_j |W1_ij|``.
    Data-free; iterate it with :class:`graphsparse.masks.Geometric` rounds and ``within=`` for the
    paper's iterative version.

    Args:
        model: the (possibly masked) model; not modified.
        example_input: an input tensor (only its per-example shape ``x.shape[1:]`` is used) or
            that shape as a tuple.
    """
    if isinstance(example_input, torch.Tensor):
        shape = tuple(example_input.shape[1:])
    else:
        shape = tuple(int(s) for s in example_input)
    work = _baked_copy(model).double().eval()
    _linearise(work)
    targets = _select(named_tensors(work, scope), names)
    for p in work.parameters():
        p.requires_grad_(False)
    for t in targets.values():
        t.requires_grad_(True)
    out = work(torch.ones((1,) + shape, dtype=torch.float64))
    out.sum().backward()
    return {n: (t.detach() * t.grad).abs() if t.grad is not None else torch.zeros_like(t.detach())
            for n, t in targets.items()}
