"""Sparse (CSR) kernels for masked ``nn.Linear`` layers: pay for the kept weights only.

With a :class:`~graphsparse.masks.BinaryMask` attached, ``nn.Linear`` multiplies by the dense
masked weight, so a layer that keeps 3% of its weights (SET's ε = 13 on 1000×1000) costs as
much as a dense one, plus the masking. Inside ``with csr_linear(model):`` every such layer
computes ``y = x Wᵀ + b`` with torch's CSR kernels instead, for a weight ``W`` of shape
``(out, in)`` with ``nnz`` kept entries and an input ``x`` of shape ``(..., in)``:

* forward: ``y = (W xᵀ)ᵀ`` — a CSR × dense product, ``nnz · batch`` multiply-adds;
* input gradient: ``∂x = (Wᵀ ∂yᵀ)ᵀ`` with the transposed CSR pattern (built once per mask);
* weight gradient: ``(∂yᵀ x)`` sampled at the kept positions only
  (``torch.sparse.sampled_addmm``) and scattered into the raw weight's gradient, which is zero at
  masked positions, exactly as the dense path's ``torch.where`` gives.

So the optimiser, the state_dict, SET/RigL updates and everything else see the same
parametrized module; values agree with the dense path up to float rounding (the sums run over
the kept entries only, in another order), and a run is deterministic for a given kernel. The
CSR pattern is rebuilt whenever the mask tensor changes (it is tracked by identity and version),
so masks may be updated inside the context (SET after an epoch). Scores that need the gradient of
the whole dense weight (RigL's regrowth) do not exist here: only kept positions get gradients.

``benchmarks/kernel_bench.py`` measures the end-to-end training speed-up (docs/benchmarks.md).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import torch
from torch import nn
from torch.nn.utils import parametrize

from graphsparse.checks import check_density, refuses_meta
from .attach import BinaryMask

__all__ = ["csr_linear", "csr_layers"]

# torch flags every CSR construction as beta once per process; the kernels used here (CSR × dense,
# sampled_addmm) are covered by this project's tests against the dense path.
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")


class _Pattern:
    """The CSR structure of a boolean ``(out, in)`` mask and of its transpose."""

    def __init__(self, mask: torch.Tensor):
        self.mask = mask                          # held so that its identity stays unique
        self.version = mask._version
        out_f, in_f = mask.shape
        rows, cols = mask.nonzero(as_tuple=True)  # row-major order = CSR order
        self.shape = (out_f, in_f)
        self.flat = rows * in_f + cols            # positions in the flattened weight
        self.crow = _crow(rows, out_f)
        self.col = cols
        self.perm = torch.argsort(cols * out_f + rows)   # CSR order of Wᵀ (keys are unique)
        self.t_crow = _crow(cols, in_f)
        self.t_col = rows[self.perm]

    def current(self, mask: torch.Tensor) -> bool:
        return mask is self.mask and mask._version == self.version


def _crow(rows: torch.Tensor, n: int) -> torch.Tensor:
    crow = torch.zeros(n + 1, dtype=torch.int64, device=rows.device)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=n), 0)
    return crow


class _CSRMatmul(torch.autograd.Function):
    """``x ↦ x Wᵀ`` for ``W`` given as the kept values in the CSR order of ``pattern``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, values: torch.Tensor, pattern: _Pattern) -> torch.Tensor:
        ctx.save_for_backward(x, values)
        ctx.pattern = pattern
        w = torch.sparse_csr_tensor(pattern.crow, pattern.col, values, pattern.shape,
                                    check_invariants=False)
        # row-major like F.linear's output, so that later ops (dropout's RNG fill) see the same layout
        return torch.sparse.mm(w, x.t()).t().contiguous()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, values = ctx.saved_tensors
        p = ctx.pattern
        grad_x = grad_values = None
        if ctx.needs_input_grad[0]:
            wt = torch.sparse_csr_tensor(p.t_crow, p.t_col, values[p.perm], p.shape[::-1],
                                     check_invariants=False)
            grad_x = torch.sparse.mm(wt, grad.t()).t().contiguous()
        if ctx.needs_input_grad[1]:
            where = torch.sparse_csr_tensor(p.crow, p.col, torch.zeros_like(values), p.shape,
                                            check_invariants=False)
            grad_values = torch.sparse.sampled_addmm(where, grad.t().contiguous(), x,
                                                     beta=0.0).values()
        return grad_x, grad_values, None


def _binary_mask(module: nn.Module) -> BinaryMask | None:
    """The module's weight mask if it is a plain Linear whose only weight parametrization is a
    :class:`BinaryMask` (trainable masks and stacked parametrizations keep the dense path)."""
    if not (isinstance(module, nn.Linear) and parametrize.is_parametrized(module, "weight")):
        return None
    plist = module.parametrizations.weight
    if len(plist) != 1 or type(plist[0]) is not BinaryMask:    # TrainableMask excluded too
        return None
    return plist[0]


@refuses_meta("model")
def csr_layers(model: nn.Module, max_density: float = 0.2) -> list[str]:
    """Names of the masked ``nn.Linear`` layers :func:`csr_linear` would run on CSR kernels:
    a :class:`BinaryMask` as the weight's only parametrization, keeping at most ``max_density``
    of the weight, and no ``forward`` already overridden on the instance.

    >>> import torch
    >>> from graphsparse.masks import attach
    >>> lin = attach(torch.nn.Linear(10, 10), {"weight": torch.eye(10, dtype=torch.bool)})
    >>> csr_layers(torch.nn.Sequential(lin))
    ['0']
    """
    max_density = check_density(max_density, "max_density")
    names = []
    for name, module in model.named_modules():
        mask = _binary_mask(module)
        if mask is None or "forward" in module.__dict__:
            continue
        if mask.mask.sum().item() <= max_density * mask.mask.numel():
            names.append(name)
    return names


def _forward(module: nn.Linear, state: dict, x: torch.Tensor) -> torch.Tensor:
    mask = module.parametrizations.weight[0].mask
    pattern = state.get("pattern")
    if pattern is None or not pattern.current(mask):
        pattern = state["pattern"] = _Pattern(mask)
    raw = module.parametrizations.weight.original
    values = raw.reshape(-1).index_select(0, pattern.flat)   # backward: index_add, no sort
    lead = x.shape[:-1]
    y = _CSRMatmul.apply(x.reshape(-1, x.shape[-1]), values, pattern)
    if module.bias is not None:
        y = y + module.bias
    return y.reshape(*lead, y.shape[-1])


@refuses_meta("model")
@contextmanager
def csr_linear(model: nn.Module, max_density: float = 0.2) -> Iterator[list[str]]:
    """Run the masked ``nn.Linear`` layers of ``model`` on CSR kernels inside the ``with`` block.

    Args:
        model: any module; the layers chosen are those of :func:`csr_layers` (``max_density`` in
            ``(0, 1]``: above ~20% kept, dense products are faster on CPU).

    Yields the names of the layers switched. On exit every layer computes densely again; the
    model's parameters, masks and state_dict are never changed by the context itself. Do not
    ``deepcopy`` or pickle the model inside the block (the switch is an instance attribute).

    >>> import torch
    >>> from graphsparse.masks import attach
    >>> lin = attach(torch.nn.Linear(10, 10), {"weight": torch.eye(10, dtype=torch.bool)})
    >>> x = torch.randn(5, 10)
    >>> with csr_linear(lin) as names:
    ...     y = lin(x)
    >>> names, torch.allclose(y, lin(x), atol=1e-6)
    ([''], True)
    """
    names = csr_layers(model, max_density)
    modules = [model.get_submodule(n) for n in names]
    for module in modules:
        module.forward = partial(_forward, module, {})
    try:
        yield names
    finally:
        for module in modules:
            module.__dict__.pop("forward", None)
