"""Prune a small MLP to 90% sparsity with an ERK layer budget and magnitude scores.

Run: .venv/bin/python examples/prune_mlp.py
"""

import torch
from torch import nn

from graphsparse.masks import (
    attach,
    layer_densities,
    macs,
    magnitude_scores,
    named_tensors,
    save_masks,
    sparsity_report,
    topk_masks,
)

torch.manual_seed(0)
net = nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))

shapes = {name: tuple(t.shape) for name, t in named_tensors(net, "linear").items()}
densities = layer_densities(shapes, density=0.1, method="erk")
masks = topk_masks(magnitude_scores(net), {n: 1 - d for n, d in densities.items()},
                   scope="local")
attach(net, masks)

print(sparsity_report(net, "linear"))
print(macs(net, torch.zeros(1, 784)))
save_masks("prune_mlp_masks.pt", masks, method="magnitude", budget="erk", density=0.1)
print("saved prune_mlp_masks.pt")
