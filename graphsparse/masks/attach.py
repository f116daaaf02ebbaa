"""Attach masks to modules through ``torch.nn.utils.parametrize``.

Masks are addressed by the fully qualified name of the tensor in the *unmasked* model
(``"layers.0.weight"``), attach without changing the user's model code, survive ``state_dict``,
``copy.deepcopy`` and save/load, and can be baked in (:func:`bake`) so the state_dict loads into the
user's plain class again.

State-dict layout of a masked tensor ``fc.weight`` (torch's parametrize convention)::

    fc.parametrizations.weight.original   the raw tensor
    fc.parametrizations.weight.0.mask     the binary mask (torch.bool)
    fc.parametrizations.weight.0.values   the float mask values (trainable masks only)
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import parametrize

from graphsparse.checks import check_binary_mask, check_mask_dict, refuses_meta

__all__ = [
    "BinaryMask",
    "TrainableMask",
    "attach",
    "masks_of",
    "mask_values_of",
    "load_masked",
    "loadable_state_dict",
    "bake",
    "named_tensors",
    "sparsity_report",
    "SparsityReport",
]


class BinaryMask(nn.Module):
    """Parametrization ``w ↦ w ⊙ m`` for a boolean mask ``m`` (masked entries exactly zero).

    The mask is a buffer, so it is saved in the state_dict and moves with ``.to()``. The raw
    tensor keeps its values (useful for rewinding); the effective tensor is zero wherever the mask
    is False whatever the optimiser does to the raw tensor (weight decay, momentum, Adam).
    """

    def __init__(self, mask: torch.Tensor):
        super().__init__()
        self.register_buffer("mask", mask.detach().clone().bool())
        self._factor_key: tuple | None = None
        self._factor: torch.Tensor | None = None

    def factor(self, x: torch.Tensor) -> torch.Tensor:
        """The mask as 0/1 in ``x``'s dtype and device (not in the state_dict), rebuilt when the
        mask tensor is replaced or changed in place (tracked by identity, version and storage).

        Multiplying by it is what the forward does: on CPU ``torch.where(mask, w, 0)`` (and
        ``masked_fill``) ran ~7x slower than this product, forward + backward, on a 1433 × 512
        weight with one thread (most of ``gnn_bench``'s masked-training overhead). Masked
        entries are exactly zero for any finite raw value (a non-finite raw entry would give NaN
        there, where ``torch.where`` gave 0)."""
        key = (self.mask, self.mask._version, self.mask.data_ptr(), x.dtype, x.device)
        cached = getattr(self, "_factor_key", None)   # None too for modules pickled before it
        if cached is None or cached[0] is not self.mask or cached[1:] != key[1:]:
            self._factor = self.mask.to(device=x.device, dtype=x.dtype)
            self._factor_key = key
        return self._factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor(x)


class TrainableMask(BinaryMask):
    """Parametrization ``w ↦ w ⊙ v ⊙ m``: float mask values ``v`` that receive gradients (UGS),
    times a binary mask ``m`` of what is already pruned (pruned entries stay exactly zero and get
    zero gradient)."""

    def __init__(self, mask: torch.Tensor, values: torch.Tensor):
        super().__init__(mask)
        self.values = nn.Parameter(values.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.values * self.factor(x)


def _own_class(module: nn.Module) -> None:
    """Give a parametrized module a private copy of its injected class.

    parametrize injects a ``Parametrized<Cls>`` class per module and adds/deletes one property per
    tensor on it; ``copy.deepcopy`` shares that class between the copies, so registering or removing
    a parametrization on one copy would change the other. Cloning the class first keeps every
    masked copy independent.
    """
    if not parametrize.is_parametrized(module):
        return
    cls = type(module)
    body = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
    module.__class__ = type(cls.__name__, cls.__bases__, body)


def _split(name: str) -> tuple[str, str]:
    prefix, _, tname = name.rpartition(".")
    return prefix, tname


def _our_masks(owner: nn.Module, tname: str) -> list[BinaryMask]:
    if not parametrize.is_parametrized(owner, tname):
        return []
    return [p for p in owner.parametrizations[tname] if isinstance(p, BinaryMask)]


def named_tensors(module: nn.Module, scope: str | Callable[[str, nn.Module, torch.Tensor], bool] = "all"
                  ) -> dict[str, torch.Tensor]:
    """The module's parameters under their unmasked names, as the forward pass sees them.

    A masked tensor appears once, under its plain name (``"fc.weight"``), with the mask applied;
    mask values of trainable masks are not listed. Order: modules in ``named_modules()`` order,
    within a module its parametrized tensors first, then its plain parameters.

    Args:
        module: any ``nn.Module``.
        scope: ``"all"`` (every parameter: TEDDY's count), ``"linear"`` (weight matrices of linear
            maps: a tensor named ``weight`` with ≥ 2 dims whose module is not an embedding — Linear,
            Conv, PyG ``Linear``; not biases, norms, attention vectors or embeddings: UGS's count),
            or a predicate ``(name, owner_module, tensor) -> bool``.

    >>> import torch
    >>> list(named_tensors(torch.nn.Linear(3, 2), "linear"))
    ['weight']
    """
    if callable(scope):
        keep = scope
    elif scope == "all":
        def keep(name, owner, t):
            return True
    elif scope == "linear":
        def keep(name, owner, t):
            return (name.rpartition(".")[2] == "weight" and t.dim() >= 2
                    and not isinstance(owner, (nn.Embedding, nn.EmbeddingBag)))
    else:
        raise ValueError(f"scope must be 'linear', 'all' or a callable, got {scope!r}")
    out: dict[str, torch.Tensor] = {}
    for prefix, owner in module.named_modules():
        if re.search(r"(^|\.)parametrizations(\.|$)", prefix):
            continue
        names = []
        if parametrize.is_parametrized(owner):
            names.extend(owner.parametrizations.keys())
        names.extend(n for n, _ in owner.named_parameters(recurse=False))
        for tname in names:
            fqn = f"{prefix}.{tname}" if prefix else tname
            t = getattr(owner, tname)
            if isinstance(t, torch.Tensor) and keep(fqn, owner, t):
                out[fqn] = t
    return out


def _resolve(module: nn.Module, name: str) -> tuple[nn.Module, str, torch.Tensor]:
    prefix, tname = _split(name)
    try:
        owner = module.get_submodule(prefix) if prefix else module
    except AttributeError:
        owner = None
    tensor = getattr(owner, tname, None) if owner is not None else None
    if not isinstance(tensor, torch.Tensor):
        known = list(named_tensors(module, "all"))
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {close}?" if close else f"; parameters are {known[:10]}"
        raise KeyError(f"mask name {name!r} matches no parameter of the module{hint}")
    return owner, tname, tensor


def attach(module: nn.Module, masks: Mapping[str, torch.Tensor], trainable: bool = False,
           init: float | Mapping[str, torch.Tensor] = 1.0) -> nn.Module:
    """Attach boolean masks to a module's tensors, by fully qualified name (in place).

    Args:
        module: the model; its class and code are not changed beyond parametrize's wrapping.
        masks: ``{name: torch.bool tensor}`` with the shape of the named tensor (True = kept).
        trainable: attach :class:`TrainableMask` (float mask values with gradients, times the
            binary mask) instead of :class:`BinaryMask`.
        init: initial mask values for ``trainable=True``: a float or ``{name: tensor}``.

    Re-attaching to an already masked tensor replaces its binary mask in place (trainable mask
    values are kept unless ``init`` is a dict naming that tensor); the kind (binary/trainable)
    must match. Returns ``module``.

    >>> import torch
    >>> lin = torch.nn.Linear(2, 2)
    >>> _ = attach(lin, {"weight": torch.tensor([[True, False], [False, True]])})
    >>> bool((lin.weight[0, 1] == 0) and (lin.weight[1, 0] == 0))
    True
    """
    masks = check_mask_dict(masks, "masks")
    resolved = {}
    for name, mask in masks.items():
        owner, tname, tensor = _resolve(module, name)
        if tuple(mask.shape) != tuple(tensor.shape):
            raise ValueError(f"mask {name!r} has shape {tuple(mask.shape)} but the parameter has "
                             f"shape {tuple(tensor.shape)}")
        resolved[name] = (owner, tname, tensor, mask)
    for name, (owner, tname, tensor, mask) in resolved.items():
        mask = mask.to(tensor.device)
        existing = _our_masks(owner, tname)
        if existing:
            p = existing[0]
            if isinstance(p, TrainableMask) != bool(trainable):
                kind = "trainable" if isinstance(p, TrainableMask) else "binary"
                raise ValueError(f"{name!r} already carries a {kind} mask; bake() it or attach "
                                 f"with trainable={isinstance(p, TrainableMask)}")
            p.mask.copy_(mask)
            if trainable and isinstance(init, Mapping) and name in init:
                with torch.no_grad():
                    p.values.copy_(init[name])
            continue
        if trainable:
            if isinstance(init, Mapping):
                values = init[name] if name in init else torch.ones_like(tensor)
            else:
                values = torch.full_like(tensor, float(init))
            if tuple(values.shape) != tuple(tensor.shape):
                raise ValueError(f"init[{name!r}] has shape {tuple(values.shape)}, expected "
                                 f"{tuple(tensor.shape)}")
            param = TrainableMask(mask, values.to(device=tensor.device, dtype=tensor.dtype))
        else:
            param = BinaryMask(mask)
        _own_class(owner)
        parametrize.register_parametrization(owner, tname, param)
    return module


def _mask_modules(module: nn.Module) -> dict[str, BinaryMask]:
    out = {}
    for prefix, owner in module.named_modules():
        if not parametrize.is_parametrized(owner):
            continue
        for tname in owner.parametrizations.keys():
            for p in _our_masks(owner, tname):
                out[f"{prefix}.{tname}" if prefix else tname] = p
    return out


def masks_of(module: nn.Module) -> dict[str, torch.Tensor]:
    """The binary masks attached to ``module``: ``{name: torch.bool tensor}`` (copies).

    >>> import torch
    >>> lin = attach(torch.nn.Linear(2, 1), {"weight": torch.tensor([[True, False]])})
    >>> masks_of(lin)["weight"].tolist()
    [[True, False]]
    """
    return {name: p.mask.detach().clone() for name, p in _mask_modules(module).items()}


def mask_values_of(module: nn.Module) -> dict[str, nn.Parameter]:
    """The float values of trainable masks, ``{name: Parameter}`` (the live parameters, e.g. for a
    separate optimiser or an L1 penalty)."""
    return {name: p.values for name, p in _mask_modules(module).items()
            if isinstance(p, TrainableMask)}


_KEY = re.compile(r"^(?:(?P<prefix>.*)\.)?parametrizations\.(?P<tname>[^.]+)\.(?P<idx>\d+)\."
                  r"(?P<kind>mask|values)$")


_ORIGINAL = re.compile(r"^(?:(?P<prefix>.*)\.)?parametrizations\.(?P<tname>[^.]+)\.original$")


def loadable_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state_dict`` without derived entries of masked tensors, so ``load_state_dict`` takes it.

    Some modules save their tensors themselves (PyG's ``Linear`` writes ``<prefix>.weight``), so a
    masked one's state_dict holds the masked value beside ``<prefix>.parametrizations.weight.original``
    and the mask; ``load_state_dict`` rejects that entry as unexpected. It carries nothing the
    original and the mask do not, so every ``<prefix>.<t>`` with a ``…parametrizations.<t>.original``
    is dropped; other entries are kept (same tensors, same order).

    >>> sd = {"lin.weight": 0, "lin.parametrizations.weight.original": 1, "lin.bias": 2}
    >>> list(loadable_state_dict(sd))
    ['lin.parametrizations.weight.original', 'lin.bias']
    """
    derived = set()
    for key in state_dict:
        m = _ORIGINAL.match(key)
        if m:
            derived.add(f"{m.group('prefix')}.{m.group('tname')}" if m.group("prefix") else m.group("tname"))
    return {k: v for k, v in state_dict.items() if k not in derived}


def load_masked(module: nn.Module, state_dict: Mapping[str, torch.Tensor], strict: bool = True
                ) -> nn.Module:
    """Restore a masked model from its own ``state_dict`` into ``module`` (masked or not).

    Masks found in the state_dict (``*.parametrizations.<t>.<i>.mask``, plus ``.values`` for
    trainable masks) are attached first, then the state is loaded with ``load_state_dict``
    (derived entries of masked tensors dropped, see :func:`loadable_state_dict`). Returns ``module``.
    """
    masks, values = {}, {}
    for key, t in state_dict.items():
        m = _KEY.match(key)
        if not m:
            continue
        prefix, tname = m.group("prefix"), m.group("tname")
        name = f"{prefix}.{tname}" if prefix else tname
        (masks if m.group("kind") == "mask" else values)[name] = t
    binary = {n: check_binary_mask(m, f"the mask of {n!r} in state_dict")
              for n, m in masks.items() if n not in values}
    trainable = {n: check_binary_mask(masks[n], f"the mask of {n!r} in state_dict")
                 for n in values}
    if binary:
        attach(module, binary)
    if trainable:
        attach(module, trainable, trainable=True, init=values)
    module.load_state_dict(loadable_state_dict(state_dict), strict=strict)
    return module


def bake(module: nn.Module) -> nn.Module:
    """Make every attached mask permanent (in place): the tensor becomes a plain parameter equal to
    the masked value, the parametrization is removed and the plain names return, so the
    state_dict loads into the user's unmasked class. Trainable masks bake ``w ⊙ v ⊙ m``.
    Returns ``module``.
    """
    for name, p in _mask_modules(module).items():
        prefix, tname = _split(name)
        owner = module.get_submodule(prefix) if prefix else module
        if len(owner.parametrizations[tname]) != 1:
            raise ValueError(f"{name!r} carries other parametrizations besides its mask; "
                             "remove them first")
        _own_class(owner)
        parametrize.remove_parametrizations(owner, tname, leave_parametrized=True)
    return module


@dataclass
class SparsityReport:
    """Per-tensor and overall sparsity of a module over a declared scope.

    ``rows``: one dict per tensor with ``name``, ``shape``, ``numel``, ``kept``, ``sparsity`` and
    ``masked`` (whether a mask is attached). Kept = mask entries for masked tensors, non-zero
    entries otherwise.
    """

    scope: str
    rows: list[dict] = field(default_factory=list)

    @property
    def numel(self) -> int:
        return sum(r["numel"] for r in self.rows)

    @property
    def kept(self) -> int:
        return sum(r["kept"] for r in self.rows)

    @property
    def sparsity(self) -> float:
        return 1.0 - self.kept / self.numel if self.numel else 0.0

    def to_dict(self) -> dict:
        return {"scope": self.scope, "numel": self.numel, "kept": self.kept,
                "sparsity": self.sparsity, "tensors": [dict(r) for r in self.rows]}

    def __str__(self) -> str:
        width = max([len(r["name"]) for r in self.rows] + [len("total")])
        lines = [f"sparsity report (scope={self.scope})",
                 f"{'tensor':<{width}}  {'shape':>16}  {'kept':>10}  {'numel':>10}  {'sparsity':>8}"]
        for r in self.rows:
            lines.append(f"{r['name']:<{width}}  {str(tuple(r['shape'])):>16}  {r['kept']:>10}  "
                         f"{r['numel']:>10}  {r['sparsity']:>8.2%}")
        lines.append(f"{'total':<{width}}  {'':>16}  {self.kept:>10}  {self.numel:>10}  "
                     f"{self.sparsity:>8.2%}")
        return "\n".join(lines)


@refuses_meta("module")
def sparsity_report(module: nn.Module, scope: str | Callable = "linear") -> SparsityReport:
    """Per-tensor and overall sparsity over a declared scope.

    GLT papers count differently and both are expressible: ``scope="linear"`` counts weight
    matrices of linear maps only (UGS), ``scope="all"`` counts every parameter (TEDDY); a
    predicate ``(name, owner, tensor) -> bool`` selects any other set (see :func:`named_tensors`).
    A masked tensor's kept count is its mask's; an unmasked tensor's is its non-zero count.

    >>> import torch
    >>> lin = attach(torch.nn.Linear(2, 2), {"weight": torch.tensor([[True, False], [True, True]])})
    >>> sparsity_report(lin, "linear").sparsity
    0.25
    """
    tensors = named_tensors(module, scope)
    masks = _mask_modules(module)
    label = scope if isinstance(scope, str) else getattr(scope, "__name__", "custom")
    report = SparsityReport(scope=label)
    for name, t in tensors.items():
        masked = name in masks
        kept = int(masks[name].mask.sum()) if masked else int(torch.count_nonzero(t.detach()))
        report.rows.append({"name": name, "shape": list(t.shape), "numel": t.numel(), "kept": kept,
                            "sparsity": 1.0 - kept / t.numel() if t.numel() else 0.0,
                            "masked": masked})
    return report
