import os

import pytest
import torch

from graphsparse.masks import (
    CorruptFileError,
    attach,
    load_file,
    load_masked,
    load_masks,
    load_model,
    save_file,
    save_masks,
    save_model,
)


def example_masks():
    return {"fc.weight": torch.tensor([[True, False, True], [False, False, True]]),
            "edges": torch.tensor([True, True, False, True])}


def test_masks_round_trip_with_meta(tmp_path):
    path = save_masks(tmp_path / "m.pt", example_masks(), method="magnitude", seed=3,
                      levels=[1, 2], extra={"note": None})
    masks, meta = load_masks(path)
    for n, m in example_masks().items():
        assert torch.equal(masks[n], m) and masks[n].dtype == torch.bool
    assert meta["names"] == ["fc.weight", "edges"]
    assert meta["shapes"] == {"fc.weight": [2, 3], "edges": [4]}
    assert meta["sparsity"]["fc.weight"] == pytest.approx(0.5)
    assert meta["overall_sparsity"] == pytest.approx(4 / 10)
    assert meta["method"] == "magnitude" and meta["seed"] == 3 and meta["levels"] == [1, 2]
    assert meta["library_version"] == "0.1.0"
    assert sorted(os.listdir(tmp_path)) == ["m.pt"]


def test_every_written_file_loads_with_weights_only(tmp_path):
    save_masks(tmp_path / "m.pt", example_masks())
    net = torch.nn.Sequential(torch.nn.Linear(3, 2))
    attach(net, {"0.weight": example_masks()["fc.weight"]})
    save_model(tmp_path / "model.pt", net, {"widths": [3, 2]}, seed=0)
    save_file(tmp_path / "t.pt", "ticket", {"x": torch.ones(2), "cfg": {"a": (1, 2.5, "s")}})
    for name, kind in (("m.pt", "masks"), ("model.pt", "model"), ("t.pt", "ticket")):
        record = torch.load(tmp_path / name, weights_only=True)
        assert record["format"] == f"graphsparse/{kind}/1"
    config, state, meta = load_model(tmp_path / "model.pt")
    assert config == {"widths": [3, 2]} and meta["seed"] == 0
    fresh = torch.nn.Sequential(torch.nn.Linear(3, 2))
    load_masked(fresh, state)
    torch.testing.assert_close(fresh(torch.ones(1, 3)), net(torch.ones(1, 3)))


def test_corruption_is_detected(tmp_path):
    path = save_masks(tmp_path / "m.pt", example_masks())
    data = bytearray(path.read_bytes())
    # truncated
    (tmp_path / "trunc.pt").write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(CorruptFileError, match="truncated or corrupted"):
        load_masks(tmp_path / "trunc.pt")
    # a flipped mask value inside an otherwise valid file: checksum
    record = torch.load(path, weights_only=True)
    record["payload"]["masks"]["edges"][2] = True
    torch.save(record, tmp_path / "tampered.pt")
    with pytest.raises(CorruptFileError, match="checksum"):
        load_masks(tmp_path / "tampered.pt")
    # garbage bytes
    (tmp_path / "junk.pt").write_bytes(b"not a file at all")
    with pytest.raises(CorruptFileError):
        load_masks(tmp_path / "junk.pt")
    # another kind
    save_file(tmp_path / "ticket.pt", "ticket", {"a": 1})
    with pytest.raises(CorruptFileError, match="expected 'masks'"):
        load_masks(tmp_path / "ticket.pt")
    with pytest.raises(FileNotFoundError):
        load_masks(tmp_path / "missing.pt")


def test_failed_save_leaves_nothing_behind(tmp_path):
    path = tmp_path / "m.pt"
    save_masks(path, example_masks(), method="first")
    before = path.read_bytes()
    with pytest.raises(TypeError, match="cannot be stored"):
        save_masks(path, example_masks(), method=object())
    assert path.read_bytes() == before               # old file intact
    assert sorted(os.listdir(tmp_path)) == ["m.pt"]  # no temp file left
    with pytest.raises(ValueError, match="recorded automatically"):
        save_masks(path, example_masks(), sparsity=0.5)
    with pytest.raises(TypeError, match="torch.bool"):
        save_masks(path, {"a": torch.ones(3)})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_masks(tmp_path / "nope" / "m.pt", example_masks())
