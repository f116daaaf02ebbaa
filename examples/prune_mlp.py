"""Prune a small MLP to 90% sparsity with an ERK layer budget and magnitude scores.

Run: .venv/bin/python examples/prune_mlp.py
"""

import torch
from torch import nn

from graphsparse import masks as M

torch.manual_seed(0)
net = nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))

shapes = {name: tuple(t.shape) for name, t in M.named_tensors(net, "linear").items()}
densities = M.layer_densities(shapes, density=0.1, method="erk")
masks = M.topk_masks(M.magnitude_scores(net), {n: 1 - d for n, d in densities.items()},
                     scope="local")
M.attach(net, masks)

print(M.sparsity_report(net, "linear"))
print(M.macs(net, torch.zeros(1, 784)))
M.save_masks("prune_mlp_masks.pt", masks, method="magnitude", budget="erk", density=0.1)
print("saved prune_mlp_masks.pt")
