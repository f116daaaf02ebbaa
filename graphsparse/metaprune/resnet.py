"""Small residual CNNs with BatchNorm for the metanetwork-pruning zoo (arch ``"resnet"`` of
:class:`graphsparse.metaprune.zoo.ZooSpec`).

:func:`build_resnet` makes an ``nn.Sequential`` whose every part the graph tracer
(:func:`graphsparse.topology.trace_model`), the metanetwork converter
(:func:`graphsparse.metaprune.to_graph` / :func:`~graphsparse.metaprune.from_graph`) and
torch-pruning's dependency graph accept:

* ``stem``: ``Conv2d(1, c0, 3, padding=1)-BatchNorm2d-ReLU``;
* ``stage<j>`` for each width ``c_j`` of ``hidden``: stages ``j >= 1`` start with a
  ``transition`` ``Conv2d(c_{j-1}, c_j, 3, padding=1)-BatchNorm2d-ReLU``; then ``blocks``
  :class:`BasicBlock` (``block1``, ``block2``, ...) of ``c_j`` channels;
* ``MaxPool2d(2)`` at the end of the last ``p = min(max_pools, len(hidden))`` of the stem and
  the transitions (the cnn arch's rule, with the stem and the transitions as its conv layers):
  ``(16, 16, 32)`` with 2 pools downsamples in both transitions, ``(8, 16)`` in the stem and
  the transition, ``(8, 16)`` with 1 pool in the transition;
* ``pool`` ``AdaptiveAvgPool2d(1)``, ``flatten`` ``Flatten``, ``fc`` ``Linear(c_last, classes)``.

Every conv has ``bias=False`` (a BatchNorm follows). A block keeps its channel count, so its
shortcut is the identity (parameter-free): in the network graph it becomes identity edges into
a residual-sum node group shared by the transition (or stem) and every block's second conv.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from graphsparse.checks import check_int

__all__ = ["BasicBlock", "build_resnet"]


def _conv_bn(n_in: int, n_out: int) -> list[nn.Module]:
    return [nn.Conv2d(n_in, n_out, 3, padding=1, bias=False), nn.BatchNorm2d(n_out)]


class BasicBlock(nn.Module):
    """``relu(x + bn2(conv2(relu(bn1(conv1(x))))))`` with 3×3 convs of ``channels`` channels.

    >>> block = BasicBlock(4)
    >>> block(torch.zeros(2, 4, 5, 5)).shape
    torch.Size([2, 4, 5, 5])
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        channels = check_int(channels, "channels", low=1)
        self.conv1, self.bn1 = _conv_bn(channels, channels)
        self.conv2, self.bn2 = _conv_bn(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + x)


def build_resnet(hidden: Sequence[int], blocks: int = 1, *, max_pools: int = 2,
                 num_classes: int = 10) -> nn.Sequential:
    """A residual CNN on one-channel images (see the module docstring for the layout).

    Args:
        hidden: stage widths ``c_0, c_1, ...`` (at least one, each ≥ 1); ``c_0`` is the stem's.
        blocks: residual blocks per stage, ≥ 1.
        max_pools: at most this many ``MaxPool2d(2)`` (2 for 28×28 inputs, 1 for 8×8), ≥ 0;
            placed as the module docstring says.
        num_classes: outputs of the final Linear, ≥ 1.

    Initialisation uses torch's global generator (seed it, or use
    :func:`graphsparse.metaprune.zoo.build_network`, which does). Input ``(batch, 1, H, W)``,
    output ``(batch, num_classes)``.

    >>> net = build_resnet((4, 8), blocks=1, max_pools=1)
    >>> net(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    >>> [name for name, _ in net.named_children()]
    ['stem', 'stage0', 'stage1', 'pool', 'flatten', 'fc']
    """
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise ValueError(f"hidden must be a sequence of positive ints, got {hidden!r}")
    widths = tuple(hidden)
    if not widths:
        raise ValueError("hidden must hold at least one width, got ()")
    for i, c in enumerate(widths):
        check_int(c, f"hidden[{i}]", low=1)
    blocks = check_int(blocks, "blocks", low=1)
    max_pools = check_int(max_pools, "max_pools", low=0)
    num_classes = check_int(num_classes, "num_classes", low=1)
    first_pool = len(widths) - min(max_pools, len(widths))  # entry j: 0 = stem, j = transition j
    stem = [*_conv_bn(1, widths[0]), nn.ReLU()] + ([nn.MaxPool2d(2)] if first_pool == 0 else [])
    parts: list[tuple[str, nn.Module]] = [("stem", nn.Sequential(*stem))]
    for j, c in enumerate(widths):
        stage: list[tuple[str, nn.Module]] = []
        if j:
            transition = [*_conv_bn(widths[j - 1], c), nn.ReLU()]
            if j >= first_pool:
                transition.append(nn.MaxPool2d(2))
            stage.append(("transition", nn.Sequential(*transition)))
        stage += [(f"block{b + 1}", BasicBlock(c)) for b in range(blocks)]
        parts.append((f"stage{j}", nn.Sequential(OrderedDict(stage))))
    parts += [("pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()),
              ("fc", nn.Linear(widths[-1], num_classes))]
    return nn.Sequential(OrderedDict(parts))
