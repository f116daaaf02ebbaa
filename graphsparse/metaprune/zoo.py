"""A *zoo* of small trained networks for meta-training a metanetwork (Liu, Wang, Zhang, "Meta
Pruning via Graph Metanetworks", arXiv 2506.12041, Sec. 3.2: the metanetwork is trained on many
networks and evaluated on held-out ones).

* :class:`ZooSpec` — one member's architecture, dataset and training recipe (JSON-friendly;
  defined in :mod:`graphsparse.metaprune.specs`, re-exported here).
* :func:`default_specs` (also in ``specs.py``) — a deterministic mix of MLPs and small CNNs on scikit-learn's digits
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
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from graphsparse.checks import check_choice, check_int
from graphsparse.fileio import atomic_write
from graphsparse.masks.io import CorruptFileError, load_model, save_model
from graphsparse.metaprune.resnet import build_resnet
from graphsparse.metaprune.specs import (  # re-exported: the zoo's public names
    ARCHS,
    DEFAULT_KINDS,
    IMAGE_SIZE,
    NUM_CLASSES,
    ZooSpec,
    default_specs,
)
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
    "ARCHS",
    "DEFAULT_KINDS",
    "IMAGE_SIZE",
    "NUM_CLASSES",
]

#: Manifest file name inside a zoo folder.
MANIFEST = "manifest.json"
_MANIFEST_FORMAT = "graphsparse/zoo-manifest/1"


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
