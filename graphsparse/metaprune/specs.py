"""Zoo member specifications: :class:`ZooSpec` (one member's architecture, dataset and
training recipe, JSON-friendly) and :func:`default_specs` (a deterministic mix of shapes and
recipes per (architecture, dataset) kind). :mod:`graphsparse.metaprune.zoo` builds, trains and
loads the networks they describe."""

from __future__ import annotations

import random
import re
from dataclasses import MISSING, asdict, dataclass, fields

from graphsparse.checks import check_choice, check_float, check_int

__all__ = ["ZooSpec", "default_specs", "ARCHS", "IMAGE_SIZE", "NUM_CLASSES", "DEFAULT_KINDS"]

ARCHS: tuple[str, ...] = ("mlp", "cnn", "resnet")
#: Image size ``(H, W)`` of each dataset (one channel, 10 classes).
IMAGE_SIZE: dict[str, tuple[int, int]] = {"digits": (8, 8), "mnist5k": (28, 28)}
NUM_CLASSES = 10
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class ZooSpec:
    """One zoo member: architecture, dataset and training recipe.

    Attributes:
        name: unique file-safe name (letters, digits, ``._-``), e.g. ``"mlp-digits-64x64-s3"``.
        arch: ``"mlp"``, ``"cnn"`` or ``"resnet"``.
        dataset: ``"digits"`` (8×8) or ``"mnist5k"`` (28×28).
        hidden: MLP hidden widths, CNN conv channels (each Conv3×3-BN-ReLU), or ResNet stage
            widths (see :func:`build_network`); at least one, each ≥ 1. Lists are stored as tuples.
        fc: CNN width of the hidden Linear after flattening (0 = none); must be 0 for an MLP and
            a ResNet.
        seed: seeds the initialisation and the minibatch order.
        epochs: training epochs (≥ 1); lr: Adam learning rate (> 0).
        blocks: ResNet residual blocks per stage (≥ 1); must be 1 (the default) for an MLP or
            a CNN. :meth:`to_dict` leaves it out for those, so their records are as before.

    >>> spec = ZooSpec("m", "mlp", "digits", [32], 0, seed=1, epochs=2, lr=0.01)
    >>> spec.hidden, ZooSpec.from_dict(spec.to_dict()) == spec, "blocks" in spec.to_dict()
    ((32,), True, False)
    >>> ZooSpec("r", "resnet", "digits", (8, 16), 0, seed=1, epochs=2, lr=0.01, blocks=2).to_dict()["blocks"]
    2
    """

    name: str
    arch: str
    dataset: str
    hidden: tuple[int, ...]
    fc: int
    seed: int
    epochs: int
    lr: float
    blocks: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"name must be a non-empty file-safe name (letters, digits, '._-'), "
                             f"got {self.name!r}")
        check_choice(self.arch, "arch", ARCHS)
        check_choice(self.dataset, "dataset", tuple(IMAGE_SIZE))
        if isinstance(self.hidden, (str, bytes)) or not hasattr(self.hidden, "__iter__"):
            raise ValueError(f"hidden must be a sequence of positive ints, got {self.hidden!r}")
        hidden = tuple(self.hidden)
        if not hidden:
            raise ValueError("hidden must hold at least one width, got ()")
        for i, h in enumerate(hidden):
            check_int(h, f"hidden[{i}]", low=1)
        object.__setattr__(self, "hidden", tuple(int(h) for h in hidden))
        object.__setattr__(self, "fc", check_int(self.fc, "fc", low=0))
        if self.arch == "mlp" and self.fc:
            raise ValueError(f"fc must be 0 for an mlp (hidden widths go in hidden), got {self.fc!r}")
        if self.arch == "resnet" and self.fc:
            raise ValueError(f"fc must be 0 for a resnet (global average pooling feeds the output "
                             f"Linear), got {self.fc!r}")
        object.__setattr__(self, "blocks", check_int(self.blocks, "blocks", low=1))
        if self.arch != "resnet" and self.blocks != 1:
            raise ValueError(f"blocks must be 1 for arch {self.arch!r} (residual blocks per stage "
                             f"exist only for arch 'resnet'), got {self.blocks!r}")
        object.__setattr__(self, "seed", check_int(self.seed, "seed"))
        object.__setattr__(self, "epochs", check_int(self.epochs, "epochs", low=1))
        object.__setattr__(self, "lr", check_float(self.lr, "lr", low=0.0, open_low=True))

    def to_dict(self) -> dict:
        """JSON-friendly dict (``hidden`` as a list) that :meth:`from_dict` reads back; ``blocks``
        only for a ResNet (MLP and CNN records keep the keys they had before ResNets existed)."""
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        if self.arch != "resnet":
            del d["blocks"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ZooSpec:
        """Inverse of :meth:`to_dict`; ``ValueError`` for missing or unknown keys. Keys with a
        default (``blocks``) may be absent, so records written before they existed still load."""
        if not isinstance(d, dict):
            raise ValueError(f"a ZooSpec dict must be a dict, got {type(d).__name__}")
        names = [f.name for f in fields(cls)]
        optional = {f.name for f in fields(cls) if f.default is not MISSING}
        missing = sorted(set(names) - set(d) - optional)
        unknown = sorted(set(d) - set(names))
        if missing or unknown:
            raise ValueError(f"ZooSpec dict: missing keys {missing}, unknown keys {unknown}")
        return cls(**{n: d[n] for n in names if n in d})


# Shape menus per (arch, dataset): (hidden, fc) for mlp/cnn, (hidden, blocks) for resnet. Every
# mlp/cnn entry stays under 30,000 graph edges, every resnet entry under 5,000 (see default_specs).
# Keep the dict order: default_specs draws the menu orders in it (new kinds go at the end).
_MENU: dict[tuple[str, str], tuple[tuple[tuple[int, ...], int], ...]] = {
    ("mlp", "digits"): (((64, 64), 0), ((128, 64), 0), ((32,), 0), ((64, 32, 32), 0), ((100,), 0)),
    ("cnn", "digits"): (((8, 16), 32), ((4, 8), 16), ((8, 16, 16), 0), ((16, 32), 32), ((6, 12), 0)),
    ("mlp", "mnist5k"): (((32,), 0), ((24, 16), 0), ((16, 16, 16), 0), ((20,), 0)),
    ("cnn", "mnist5k"): (((8, 16), 0), ((4, 8), 32), ((8, 16), 32), ((6, 12), 16), ((8,), 0)),
    ("resnet", "digits"): (((8, 16), 1), ((16, 32), 1), ((8, 16), 2), ((16, 16, 32), 1), ((12, 24), 1)),
    ("resnet", "mnist5k"): (((8, 16), 1), ((8, 16), 2), ((6, 12), 1), ((4, 8, 16), 1), ((8, 8), 2)),
}
# Training recipe per (arch, dataset): (epochs, Adam lr). ResNets, measured at 1 thread on a
# loaded 2-core CPU: mnist5k (8, 16) b1 ~3 s/epoch, 25 s/member, test acc 0.958 (the menu spans
# 2 s/epoch for (6, 12) b1 to 5.4 s/epoch for (8, 16) b2, ~45 s/member); digits (8, 16) b1
# ~0.5 s/epoch, (16, 16, 32) b1 ~1.1 s/epoch (~13 s/member), test acc ~0.99.
_RECIPE: dict[tuple[str, str], tuple[int, float]] = {
    ("mlp", "digits"): (40, 3e-3),
    ("cnn", "digits"): (20, 3e-3),
    ("mlp", "mnist5k"): (20, 2e-3),
    ("cnn", "mnist5k"): (8, 3e-3),
    ("resnet", "digits"): (12, 3e-3),
    ("resnet", "mnist5k"): (8, 2e-3),
}
#: The (arch, dataset) kinds :func:`default_specs` cycles by default, in order.
DEFAULT_KINDS: tuple[tuple[str, str], ...] = (("mlp", "digits"), ("cnn", "digits"), ("mlp", "mnist5k"),
                                              ("cnn", "mnist5k"))


def _check_kinds(kinds) -> tuple[tuple[str, str], ...]:
    """``kinds`` as a tuple of distinct ``(arch, dataset)`` pairs of :data:`_MENU`."""
    allowed = ", ".join(f"({a!r}, {d!r})" for a, d in _MENU)
    if isinstance(kinds, (str, bytes)) or not hasattr(kinds, "__iter__"):
        raise ValueError(f"kinds must be a sequence of (arch, dataset) pairs, got {kinds!r}; "
                         f"allowed pairs: {allowed}")
    out = []
    for k in kinds:
        pair = tuple(k) if isinstance(k, (tuple, list)) else None
        if pair not in _MENU:
            raise ValueError(f"kinds must hold (arch, dataset) pairs from {allowed}; got {k!r}")
        out.append(pair)
    if not out or len(set(out)) != len(out):
        raise ValueError(f"kinds must hold at least one (arch, dataset) pair, each at most once, "
                         f"got {list(kinds)!r}; allowed pairs: {allowed}")
    return tuple(out)


def default_specs(size: int = 36, seed: int = 0, kinds=None) -> list[ZooSpec]:
    """A deterministic zoo of ``size`` members cycling the (arch, dataset) ``kinds``.

    Member ``i`` is of kind ``kinds[i % len(kinds)]``; the default :data:`DEFAULT_KINDS`
    (mlp-digits, cnn-digits, mlp-mnist5k, cnn-mnist5k) makes any 4 consecutive members cover
    both architectures and both datasets. Each kind cycles through its shape menu in an order
    shuffled by ``seed`` (the same order whatever ``kinds`` is). Member seeds are
    ``1000 * seed + i`` (distinct), and names ``"<arch>-<dataset>-<hidden>[-fc<fc>]-s<seed>"``
    (``"resnet-<dataset>-<hidden>-b<blocks>-s<seed>"`` for a ResNet) are unique. Every mlp/cnn
    member's :func:`to_graph` graph has at most 30,000 edges (25,544 at most); every resnet
    member's at most 5,000 (4,240 at most: ``(16, 16, 32)`` on digits; 1,624 on MNIST-5k).

    Args:
        size: number of members, ≥ 1.
        seed: chooses the shape order and the member seeds.
        kinds: the ``(arch, dataset)`` pairs to cycle, distinct, from ``mlp``/``cnn``/``resnet``
            × ``digits``/``mnist5k``; None for :data:`DEFAULT_KINDS`.

    >>> [s.name for s in default_specs(4)]  # doctest: +NORMALIZE_WHITESPACE
    ['mlp-digits-64x32x32-s0', 'cnn-digits-16x32-fc32-s1', 'mlp-mnist5k-24x16-s2',
     'cnn-mnist5k-8-s3']
    >>> [s.name for s in default_specs(2, kinds=[("resnet", "mnist5k"), ("mlp", "mnist5k")])]
    ['resnet-mnist5k-8x8-b2-s0', 'mlp-mnist5k-24x16-s1']
    """
    check_int(size, "size", low=1)
    check_int(seed, "seed")
    kinds = DEFAULT_KINDS if kinds is None else _check_kinds(kinds)
    rng = random.Random(seed)
    orders = {kind: rng.sample(range(len(menu)), len(menu)) for kind, menu in _MENU.items()}
    specs = []
    for i in range(size):
        kind = kinds[i % len(kinds)]
        arch, dataset = kind
        order = orders[kind]
        hidden, extra = _MENU[kind][order[(i // len(kinds)) % len(order)]]
        fc, blocks = (0, extra) if arch == "resnet" else (extra, 1)
        epochs, lr = _RECIPE[kind]
        member_seed = 1000 * seed + i
        suffix = f"-b{blocks}" if arch == "resnet" else f"-fc{fc}" if fc else ""
        name = f"{arch}-{dataset}-{'x'.join(map(str, hidden))}{suffix}-s{member_seed}"
        specs.append(ZooSpec(name, arch, dataset, hidden, fc, member_seed, epochs, lr, blocks))
    return specs
