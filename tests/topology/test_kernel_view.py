"""The kernel-entry view of Conv2d layers, global pooling in the tracer, and `stats` on CNNs."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from graphsparse.cli import main
from graphsparse.masks import attach, magnitude_scores, topk_masks
from graphsparse.topology import NetworkGraph, metrics, report
from graphsparse.topology.trace import UnsupportedLayerError


def one_entry_conv() -> nn.Module:
    """Conv 2 -> 2 with 3x3 kernels where only kernel (out 0, in 0) has one non-zero entry."""
    conv = nn.Conv2d(2, 2, 3, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 1, 2] = 0.5
    return nn.Sequential(conv)


def test_one_kernel_entry_density_per_view():
    model = one_entry_conv()
    channel = NetworkGraph.from_model(model)
    kernel = NetworkGraph.from_model(model, view="kernel")
    assert metrics.density(channel) == pytest.approx(1 / 4)
    assert metrics.density(kernel) == pytest.approx(1 / 36)
    assert channel.view == "channel" and kernel.view == "kernel"
    assert metrics.density(NetworkGraph.from_masks([model[0].weight.detach()], view="kernel")) == pytest.approx(1 / 36)
    assert report(kernel).view == "kernel" and "kernel entries" in str(report(kernel))
    assert "channel pair" in str(report(channel))


class SmallCNN(nn.Module):
    """72 + 576 + 32 = 680 weights: 90% sparsity keeps exactly 68."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, bias=False)
        self.conv2 = nn.Conv2d(8, 8, 3, bias=False)
        self.fc = nn.Linear(8, 4, bias=False)

    def forward(self, x):
        return self.fc(self.conv2(torch.relu(self.conv1(x))).mean((2, 3)))


def test_cnn_masked_at_90_percent_has_kernel_view_density_010():
    torch.manual_seed(0)
    model = SmallCNN()
    scores = magnitude_scores(model, scope="all")
    attach(model, topk_masks(scores, 0.9, scope="global"))
    kernel = NetworkGraph.from_model(model, view="kernel")
    channel = NetworkGraph.from_model(model)
    assert metrics.num_edges(kernel) == 68 and metrics.num_possible_edges(kernel) == 680
    assert metrics.density(kernel) == pytest.approx(0.10)
    assert metrics.density(channel) > 0.10  # a channel pair with any kept entry is one edge
    assert report(kernel).density == pytest.approx(0.10)


def test_kernel_view_counts_parallel_edges_in_degrees_and_paths():
    w1 = torch.zeros(1, 1, 3, 3)
    w1[0, 0, 0, 0] = w1[0, 0, 2, 1] = 1.0            # two kept entries: two parallel edges
    w2 = torch.ones(1, 1)
    channel = NetworkGraph.from_masks([w1, w2])
    kernel = channel.kernel_view()
    assert metrics.in_degree(channel).tolist() == [0, 1, 1]
    assert metrics.in_degree(kernel).tolist() == [0, 2, 1]
    assert metrics.out_degree(kernel).tolist() == [2, 1, 0]
    assert metrics.path_counts(channel).total == 1 and metrics.path_counts(kernel).total == 2
    assert metrics.effective_sparsity(kernel).effective_edges == 3
    assert metrics.components(kernel).num_components == metrics.components(channel).num_components
    assert kernel.kernel_view() is kernel


def test_view_argument_is_checked():
    with pytest.raises(ValueError, match="view"):
        NetworkGraph.from_masks([torch.ones(2, 2)], view="entries")
    kernel = NetworkGraph.from_model(one_entry_conv(), view="kernel")
    with pytest.raises(ValueError, match="does not match view='channel'"):
        NetworkGraph(kernel.sizes, kernel.blocks)


@pytest.mark.parametrize("pool", [
    lambda net, h: h.mean((2, 3)), lambda net, h: torch.mean(h, dim=(-2, -1)),
    lambda net, h: h.amax(dim=[2, 3]), lambda net, h: F.adaptive_avg_pool2d(h, 1).flatten(1),
    lambda net, h: net.gap(h).flatten(1),
])
def test_global_pooling_is_traced(pool):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 6, 3)
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(6, 2)

        def forward(self, x):
            return self.fc(pool(self, self.conv(x)))

    assert NetworkGraph.from_model(Net()).sizes == (3, 6, 2)


def test_reduction_over_channels_is_refused():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 6, 3)
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(self.conv(x).mean(1).flatten(1))

    with pytest.raises(UnsupportedLayerError, match=r"over dims \(1,\)"):
        NetworkGraph.from_model(Net())


def test_stats_on_plain_cnn_state_dict_lists_every_conv(tmp_path, capsys):
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3), nn.Flatten(),
                        nn.Linear(6 * 4 * 4, 3))
    torch.save(net.state_dict(), tmp_path / "cnn.pt")
    assert main(["stats", str(tmp_path / "cnn.pt"), "--json", "--view", "kernel"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [layer["name"] for layer in out["layers"]] == ["0.weight", "2.weight", "4.weight"]
    assert out["view"] == "kernel" and out["num_edges"] == 36 + 216 + 288
    assert main(["stats", str(tmp_path / "cnn.pt")]) == 0
    assert "channel pair" in capsys.readouterr().out


def test_stats_on_residual_state_dict_names_the_layer_it_cannot_chain(tmp_path):
    state = {"conv1.weight": torch.ones(8, 3, 3, 3), "conv2.weight": torch.ones(8, 8, 3, 3),
             "down.weight": torch.ones(8, 3, 1, 1)}  # the shortcut reads the input, not conv2
    torch.save(state, tmp_path / "res.pt")
    with pytest.raises(SystemExit, match=r"masks\['down.weight'\] has 3 inputs.*NetworkGraph.from_model"):
        main(["stats", str(tmp_path / "res.pt")])


def test_linear_reading_a_flattened_map_in_from_masks():
    masks = {"conv": np.ones((4, 2, 3, 3), bool), "fc": np.zeros((3, 4 * 25), bool)}
    masks["fc"][0, :25] = True                       # out 0 reads all 25 positions of channel 0
    g = NetworkGraph.from_masks(masks)
    assert g.sizes == (2, 4, 3) and g.blocks[1].nnz == 1 and g.blocks[1].edge_count.tolist() == [25]
    assert metrics.num_edges(g.kernel_view()) == 72 + 25
    assert metrics.num_possible_edges(g.kernel_view()) == 72 + 300
