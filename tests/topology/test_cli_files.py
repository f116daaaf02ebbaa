import json

import pytest
import torch
from torch import nn

from graphsparse.masks import attach, masks_of, save_file, save_masks
from graphsparse.cli import main
from graphsparse.topology.files import layer_masks_from_file
from graphsparse.topology.plots import plot_degree_distribution, plot_mask, plot_metric_over_epochs

REQUIRED = {"num_nodes", "num_edges", "density", "dead_neurons", "effective_sparsity",
            "num_components", "layers"}


def test_mlp_then_stats_json(tmp_path, capsys):
    out = tmp_path / "mlp.pt"
    assert main(["mlp", "--widths", "64,40,10", "--epsilon", "4", "--seed", "1", "--train",
                 "digits", "--epochs", "2", "--set", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["stats", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert REQUIRED <= set(report)
    layers = report["layers"]
    assert [tuple(layer["shape"]) for layer in layers] == [(40, 64), (10, 40)]
    masks = masks_of(__import__("graphsparse.topology", fromlist=["SparseMLP"]).SparseMLP.load(out))
    assert layers[0]["num_edges"] == int(masks["fc1.weight"].sum())
    m = masks["fc1.weight"]
    fan_in, fan_out = m.sum(1).float(), m.sum(0).float()
    assert layers[0]["in_degree"]["mean"] == pytest.approx(float(fan_in.mean()))
    assert layers[0]["in_degree"]["max"] == int(fan_in.max())
    assert layers[0]["out_degree"]["min"] == int(fan_out.min())
    assert report["num_edges"] == sum(int(x.sum()) for x in masks.values())
    assert report["num_nodes"] == 64 + 40 + 10


def test_stats_reads_plain_state_dict_and_mask_files(tmp_path, capsys):
    net = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():
        net[0].weight[:, :3] = 0              # inputs 0..2 have no out-edges
    torch.save(net.state_dict(), tmp_path / "plain.pt")
    layers = layer_masks_from_file(tmp_path / "plain.pt")
    assert list(layers) == ["0.weight", "2.weight"] and int(layers["0.weight"].sum()) == 12
    assert main(["stats", str(tmp_path / "plain.pt"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dead_neurons"]["inputs_no_out"] == 3
    # a masked model's own state_dict: the mask wins over the raw weight
    attach(net, {"2.weight": torch.tensor([[True, False, False, False], [True] * 4])})
    torch.save(net.state_dict(), tmp_path / "masked.pt")
    assert int(layer_masks_from_file(tmp_path / "masked.pt")["2.weight"].sum()) == 5
    save_masks(tmp_path / "m.pt", masks_of(net) | {"0.weight": layers["0.weight"]})
    assert set(layer_masks_from_file(tmp_path / "m.pt")) == {"0.weight", "2.weight"}


def test_stats_bad_files(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"nope")
    with pytest.raises(SystemExit, match="not a model, state_dict or mask file"):
        main(["stats", str(tmp_path / "junk.pt")])
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(SystemExit, match="holds a list"):
        main(["stats", str(tmp_path / "list.pt")])
    torch.save({"bias": torch.zeros(3)}, tmp_path / "nolinear.pt")
    with pytest.raises(SystemExit, match="no 2-D or 4-D weight tensors"):
        main(["stats", str(tmp_path / "nolinear.pt")])
    save_file(tmp_path / "t.pt", "ticket", {"a": 1})
    with pytest.raises(SystemExit, match="'ticket' file"):
        main(["stats", str(tmp_path / "t.pt")])
    with pytest.raises(SystemExit, match="exactly one of --density or --epsilon"):
        main(["mlp", "--widths", "4,2", "--out", str(tmp_path / "x.pt")])
    with pytest.raises(SystemExit):
        main(["mlp", "--widths", "4,0,2", "--density", "0.5", "--out", str(tmp_path / "x.pt")])
    with pytest.raises(SystemExit, match="density"):
        main(["mlp", "--widths", "4,2", "--density", "1.5", "--out", str(tmp_path / "x.pt")])


def test_plots_write_png(tmp_path):
    g = torch.Generator().manual_seed(0)
    deg = {"a": torch.randint(1, 50, (300,), generator=g).numpy()}
    for path in (plot_degree_distribution(deg, tmp_path / "d.png"),
                 plot_metric_over_epochs([{"epoch": 1, "x": 0.5}, {"epoch": 2, "x": 0.7}], "x",
                                         tmp_path / "m.png"),
                 plot_mask(torch.rand(20, 30, generator=g) < 0.2, tmp_path / "s.png")):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.png", "m.png", "s.png"]
    with pytest.raises(KeyError, match="missing"):
        plot_metric_over_epochs([{"epoch": 1}], "x", tmp_path / "bad.png")
    with pytest.raises(ValueError, match="2-D"):
        plot_mask(torch.ones(3, dtype=torch.bool), tmp_path / "bad.png")
