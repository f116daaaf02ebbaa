"""A *zoo* of small trained networks for meta-training a metanetwork (Liu, Wang, Zhang, "Meta
Pruning via Graph Metanetworks", arXiv 2506.12041, Sec. 3.2: the metanetwork is trained on many
networks and evaluated on held-out ones).

* :class:`ZooSpec` — one member's architecture, dataset and training recipe (JSON-friendly).
* :func:`default_specs` — a deterministic mix of MLPs and small CNNs on scikit-learn's digits
  (8×8) and MNIST-5k (28×28), each small enough for fast meta-training (≤ 30,000 graph edges);
  its ``kinds`` argument adds small residual CNNs with BatchNorm (arch ``"resnet"``,
  :mod:`graphsparse.metaprune.resnet`).
* :func:`build_network`, :func:`zoo_data`, :func:`example_input` — the untrained network, its
  data and a dummy input.
* :func:`make_zoo` / :func:`load_zoo` — train (resumably) and save the zoo under a folder, load
  it back as a :class:`Zoo`, whose :meth:`Zoo.split` holds members out for evaluation.

Inputs. An MLP reads flat images ``(batch, H·W)``; a CNN or ResNet reads ``(batch, 1, H, W)``
(:func:`zoo_data` shapes the data for an architecture). A CNN cannot start with
``nn.Unflatten`` because the graph tracer (:func:`graphsparse.topology.trace_model`) does not
accept it.

Files under ``root``: ``<name>.pt`` per member (:func:`graphsparse.masks.io.save_model`: config
``{"class": "ZooMember", "spec": spec.to_dict()}``, meta ``test_acc``, ``train_seconds``) and
``manifest.json`` (the specs and test accuracies, in order). A sensible ``root`` is
``graphsparse.paths.cache_root() / "zoo"``.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import warnings
from collections.abc import Iterator
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

import torch
from torch import nn

from graphsparse.checks import check_choice, check_float, check_int
from graphsparse.fileio import atomic_write
from graphsparse.masks.io import CorruptFileError, load_model, save_model
from graphsparse.metaprune.resnet import build_resnet
from graphsparse.topology.datasets import Dataset, load_embedded
from graphsparse.topology.training import train

__all__ = [
    "ZooSpec",
    "ZooMember",
    "Zoo",
    "default_specs",
    "build_network",
    "zoo_data",
    "example_input",
    "make_zoo",
    "load_zoo",
    "MANIFEST",
]

ARCHS: tuple[str, ...] = ("mlp", "cnn", "resnet")
#: Image size ``(H, W)`` of each dataset (one channel, 10 classes).
IMAGE_SIZE: dict[str, tuple[int, int]] = {"digits": (8, 8), "mnist5k": (28, 28)}
NUM_CLASSES = 10
#: Manifest file name inside a zoo folder.
MANIFEST = "manifest.json"
_MANIFEST_FORMAT = "graphsparse/zoo-manifest/1"
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


def _layers(spec: ZooSpec) -> list[nn.Module]:
    height, width = IMAGE_SIZE[spec.dataset]
    if spec.arch == "mlp":
        layers: list[nn.Module] = []
        n_in = height * width
        for h in spec.hidden:
            layers += [nn.Linear(n_in, h), nn.ReLU()]
            n_in = h
        return layers + [nn.Linear(n_in, NUM_CLASSES)]
    max_pools = 1 if spec.dataset == "digits" else 2
    n_pool = min(max_pools, len(spec.hidden))
    layers, channels = [], 1
    for j, c in enumerate(spec.hidden):
        layers += [nn.Conv2d(channels, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU()]
        if j >= len(spec.hidden) - n_pool:
            layers.append(nn.MaxPool2d(2))
        channels = c
    n_flat = channels * (height >> n_pool) * (width >> n_pool)
    layers.append(nn.Flatten())
    if spec.fc:
        layers += [nn.Linear(n_flat, spec.fc), nn.ReLU()]
        n_flat = spec.fc
    return layers + [nn.Linear(n_flat, NUM_CLASSES)]


def build_network(spec: ZooSpec) -> nn.Sequential:
    """The untrained network of ``spec`` (PyTorch default init, seeded by ``spec.seed``).

    * MLP: ``Linear(H·W, h1)-ReLU-…-Linear(h_last, 10)``; input ``(batch, H·W)``.
    * CNN: per conv channel count ``c``: ``Conv2d(·, c, 3, padding=1)-BatchNorm2d-ReLU``, with a
      ``MaxPool2d(2)`` after each of the last ``p`` blocks (``p = min(1, depth)`` on digits,
      ``min(2, depth)`` on MNIST-5k), then ``Flatten``, ``Linear(c·(H/2^p)·(W/2^p), fc)-ReLU``
      if ``fc > 0``, and ``Linear(·, 10)``; input ``(batch, 1, H, W)``.
    * ResNet: :func:`graphsparse.metaprune.resnet.build_resnet` with ``spec.hidden`` stage
      widths, ``spec.blocks`` residual blocks per stage and at most 1 (digits) or 2 (MNIST-5k)
      ``MaxPool2d(2)``; input ``(batch, 1, H, W)``.

    Output: ``(batch, 10)`` logits. torch's global random state is left untouched.

    >>> net = build_network(default_specs(2)[1])
    >>> net(example_input(default_specs(2)[1])).shape
    torch.Size([1, 10])
    """
    if not isinstance(spec, ZooSpec):
        raise TypeError(f"spec must be a ZooSpec, got {type(spec).__name__}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        if spec.arch == "resnet":
            return build_resnet(spec.hidden, spec.blocks, max_pools=1 if spec.dataset == "digits" else 2,
                                num_classes=NUM_CLASSES)
        return nn.Sequential(*_layers(spec))


def _input_shape(arch: str, dataset: str) -> tuple[int, ...]:
    check_choice(arch, "arch", ARCHS)
    check_choice(dataset, "dataset", tuple(IMAGE_SIZE))
    height, width = IMAGE_SIZE[dataset]
    return (height * width,) if arch == "mlp" else (1, height, width)


def zoo_data(dataset: str, split_seed: int = 0, *, arch: str = "mlp") -> Dataset:
    """The embedded ``dataset`` (:func:`graphsparse.topology.datasets.load_embedded`, stratified
    80/20 split by ``split_seed``) shaped for ``arch``: ``x`` float32 in [0, 1] of shape
    ``(n, H·W)`` for ``"mlp"`` and ``(n, 1, H, W)`` for ``"cnn"`` and ``"resnet"`` (same samples,
    same order)."""
    shape = _input_shape(arch, dataset)
    data = load_embedded(dataset, split_seed)
    if arch == "mlp":
        return data
    return Dataset(data.name, data.x_train.reshape(-1, *shape), data.y_train,
                   data.x_test.reshape(-1, *shape), data.y_test, data.num_classes,
                   data.split_seed, data.test_fraction)


def example_input(spec: ZooSpec) -> torch.Tensor:
    """A zero input batch of one: ``(1, H·W)`` for an MLP, ``(1, 1, H, W)`` for a CNN or ResNet."""
    return torch.zeros(1, *_input_shape(spec.arch, spec.dataset))


@dataclass
class ZooMember:
    """A trained zoo member: its spec, the trained model (eval mode), its test accuracy
    (fraction in [0, 1] on the dataset's test split) and its file."""

    spec: ZooSpec
    model: nn.Module
    test_acc: float
    path: Path


class Zoo:
    """The members of a zoo folder, in manifest order; index by position or by name."""

    def __init__(self, root: str | os.PathLike, members: list[ZooMember]):
        names = [m.spec.name for m in members]
        if len(set(names)) != len(names):
            raise ValueError(f"zoo member names must be unique, got {names}")
        self.root = Path(root)
        self.members = list(members)

    def __len__(self) -> int:
        return len(self.members)

    def __iter__(self) -> Iterator[ZooMember]:
        return iter(self.members)

    def __getitem__(self, key: int | str) -> ZooMember:
        if isinstance(key, str):
            for m in self.members:
                if m.spec.name == key:
                    return m
            raise KeyError(f"no zoo member named {key!r}; members: {[m.spec.name for m in self]}")
        return self.members[key]

    def __repr__(self) -> str:
        return f"Zoo({str(self.root)!r}, {len(self)} members)"

    def split(self, held_out: int = 12, seed: int = 0) -> tuple[list[ZooMember], list[ZooMember]]:
        """Seeded split into ``(train, held_out)`` member lists (each in zoo order).

        Stratified by architecture: each arch gets its proportional share of the held-out
        members (largest deficit first), with at least one held-out member per arch when
        ``held_out`` ≥ the number of archs and at least one training member per arch when
        ``len - held_out`` ≥ the number of archs (both possible when each arch has ≥ 2 members).
        Which members of an arch are held out is drawn by ``random.Random(seed)``.

        Raises:
            TypeError, ValueError: ``held_out`` is not an int in ``[1, len(self) - 1]``.
        """
        n = len(self)
        check_int(held_out, f"held_out (for a zoo of {n} members)", low=1, high=n - 1)
        groups: dict[str, list[int]] = {}
        for i, m in enumerate(self.members):
            groups.setdefault(m.spec.arch, []).append(i)
        archs = sorted(groups)
        rng = random.Random(seed)
        for a in archs:
            rng.shuffle(groups[a])
        lo = {a: 1 if held_out >= len(archs) else 0 for a in archs}
        keep_one = n - held_out >= len(archs)  # every arch can keep a training member
        hi = {a: max(lo[a], len(groups[a]) - 1 if keep_one else len(groups[a])) for a in archs}
        take = dict(lo)
        for _ in range(held_out - sum(take.values())):
            room = [a for a in archs if take[a] < hi[a]] or [a for a in archs if take[a] < len(groups[a])]
            best = max(room, key=lambda a: held_out * len(groups[a]) / n - take[a])
            take[best] += 1
        out = {i for a in archs for i in groups[a][:take[a]]}
        return ([m for i, m in enumerate(self.members) if i not in out],
                [m for i, m in enumerate(self.members) if i in out])


def _member_path(root: Path, spec: ZooSpec) -> Path:
    return root / f"{spec.name}.pt"


def _load_member(path: Path, spec: ZooSpec) -> ZooMember:
    """Load a member file; ``ValueError`` if it holds a spec other than ``spec``."""
    config, state, meta = load_model(path)
    if config.get("class") != "ZooMember":
        raise CorruptFileError(f"{str(path)!r} holds a {config.get('class')!r} model, not a ZooMember")
    try:
        saved = ZooSpec.from_dict(config.get("spec"))
        test_acc = float(meta["test_acc"])
    except (ValueError, TypeError, KeyError) as e:
        raise CorruptFileError(f"{str(path)!r}: unreadable zoo member record: {e}") from e
    if saved != spec:
        raise ValueError(f"{str(path)!r} holds a different zoo member: saved {saved.to_dict()}, "
                         f"requested {spec.to_dict()}; delete the file or choose another root")
    model = build_network(saved)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise CorruptFileError(f"{str(path)!r}: state_dict does not fit its spec: {e}") from e
    return ZooMember(saved, model.eval(), test_acc, path)


def _write_manifest(root: Path, members: list[ZooMember]) -> Path:
    record = {"format": _MANIFEST_FORMAT,
              "members": [{"spec": m.spec.to_dict(), "test_acc": m.test_acc, "file": m.path.name}
                          for m in members]}
    return atomic_write(root / MANIFEST, lambda f: json.dump(record, f, indent=1), binary=False)


def make_zoo(root: str | os.PathLike, specs: list[ZooSpec] | None = None, *,
             progress: bool = True) -> Zoo:
    """Train and save every member of ``specs`` (default :func:`default_specs`) under ``root``.

    Each missing member is built (:func:`build_network`) and trained with
    :func:`graphsparse.topology.training.train` (Adam, cross-entropy, ``spec.lr``, ``spec.epochs``,
    batch 64, ``seed=spec.seed``) on :func:`zoo_data` (split seed 0), then saved at once to
    ``root/<name>.pt``. Finally ``root/manifest.json`` is written atomically, listing the specs
    and test accuracies in ``specs`` order. torch's global random state is left untouched.

    Resumable: a member whose file exists and loads is not retrained (a file that fails to load
    is retrained, with a warning). ``root`` is created if needed.

    Args:
        root: the zoo folder.
        specs: members to make (unique names), or None for :func:`default_specs`.
        progress: show a tqdm bar over members.

    Raises:
        ValueError: duplicate names, or a saved file that holds a different spec.
    """
    specs = default_specs() if specs is None else list(specs)
    if not specs:
        raise ValueError("specs must hold at least one ZooSpec")
    for s in specs:
        if not isinstance(s, ZooSpec):
            raise TypeError(f"specs must hold ZooSpec objects, got {type(s).__name__}")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"spec names must be unique; repeated: {repeated}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    from tqdm.auto import tqdm

    data: dict[tuple[str, str], Dataset] = {}
    members = []
    bar = tqdm(specs, desc="zoo", unit="net", disable=not progress)
    for spec in bar:
        bar.set_postfix_str(spec.name)
        path = _member_path(root, spec)
        if path.exists():
            try:
                members.append(_load_member(path, spec))
                continue
            except CorruptFileError as e:
                warnings.warn(f"retraining zoo member {spec.name!r}: {e}", UserWarning, stacklevel=2)
        key = (spec.dataset, spec.arch)
        if key not in data:
            data[key] = zoo_data(spec.dataset, arch=spec.arch)
        model = build_network(spec)
        start = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            history = train(model, data[key], epochs=spec.epochs, lr=spec.lr, batch_size=64,
                            optimizer="adam", loss="cross_entropy", seed=spec.seed,
                            eval_train=False, progress=False)
        seconds = time.perf_counter() - start
        test_acc = float(history[-1]["test_acc"])
        model.eval()
        save_model(path, model, {"class": "ZooMember", "spec": spec.to_dict()},
                   test_acc=test_acc, train_seconds=seconds)
        members.append(ZooMember(spec, model, test_acc, path))
    _write_manifest(root, members)
    return Zoo(root, members)


def load_zoo(root: str | os.PathLike) -> Zoo:
    """Load a zoo written by :func:`make_zoo` (members in manifest order, models in eval mode).

    Raises:
        FileNotFoundError: ``root`` has no ``manifest.json`` (or a listed member file is missing).
        graphsparse.masks.io.CorruptFileError: an unreadable manifest, a corrupted member file,
            or a member file that disagrees with the manifest.
    """
    root = Path(root)
    path = root / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"no zoo manifest {str(path)!r}; build the zoo with make_zoo({str(root)!r})")
    try:
        record = json.loads(path.read_text())
        if record.get("format") != _MANIFEST_FORMAT:
            raise ValueError(f"format tag {record.get('format')!r}, expected {_MANIFEST_FORMAT!r}")
        listed = [(ZooSpec.from_dict(e["spec"]), float(e["test_acc"]), str(e["file"]))
                  for e in record["members"]]
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise CorruptFileError(f"{str(path)!r} is not a readable zoo manifest: "
                               f"{type(e).__name__}: {e}") from e
    members = []
    for spec, test_acc, file in listed:
        member_path = root / file
        try:
            member = _load_member(member_path, spec)
        except CorruptFileError:
            raise
        except ValueError as e:
            raise CorruptFileError(f"zoo manifest and member file disagree: {e}") from e
        if member.test_acc != test_acc:
            raise CorruptFileError(f"{str(member_path)!r}: test_acc {member.test_acc} differs from the "
                                   f"manifest's {test_acc}")
        members.append(member)
    return Zoo(root, members)
