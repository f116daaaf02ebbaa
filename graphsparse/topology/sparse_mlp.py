"""Sparse MLPs whose layers are random graphs: :class:`SparseMLP`, an MLP of ``nn.Linear`` layers
``fc1 … fcL`` whose weights carry masks from :mod:`graphsparse.topology.generators` (attached with
:func:`graphsparse.masks.attach`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils import parametrize

from graphsparse.checks import as_generator, check_choice, check_fraction
from graphsparse.masks import CorruptFileError, attach, load_masked, load_model, masks_of, save_model

from .generators import mlp_masks, mlp_shapes

__all__ = ["SparseMLP"]

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
        check_choice(init, "init", _INITS)
        shapes = mlp_shapes(widths)                       # validates widths
        check_choice(activation, "activation", _ACTIVATIONS)
        check_fraction(dropout, "dropout")
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
        masks = masks_of(self)
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
        gen = as_generator(seed, generator)
        torch_state = torch.random.get_rng_state()
        torch.manual_seed(int(torch.randint(2**31 - 1, (1,), generator=gen)))
        try:
            net = cls(widths, activation=activation, dropout=dropout, bias=bias, init="torch")
        finally:
            torch.random.set_rng_state(torch_state)
        generated = mlp_masks(mlp_shapes(widths), topology=topology, density=density,
                              epsilon=epsilon, budget=budget, overrides=overrides, generator=gen,
                              **topology_kwargs)
        attach(net, {f"{name}.weight": m for name, m in generated.masks.items()})
        if init != "torch":
            check_choice(init, "init", _INITS)
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
        return save_model(path, self, self.config(), **meta)

    @classmethod
    def load(cls, path) -> SparseMLP:
        """Load a model saved with :meth:`save`, masks restored."""
        config, state, _ = load_model(path)
        if config.get("class") != "SparseMLP":
            raise CorruptFileError(f"{str(path)!r} holds a {config.get('class')!r} model, "
                                   "not a SparseMLP")
        net = cls(config["widths"], activation=config["activation"], dropout=config["dropout"],
                  bias=config["bias"])
        net.init = config.get("init", "torch")
        net.generator_config = config.get("generator")
        load_masked(net, state)
        return net
