import pytest
import torch
from torch import nn

from graphsparse.masks import (
    attach,
    hamming,
    iou,
    kept_fraction,
    macs,
    mask_and,
    mask_difference,
    mask_or,
)

A = {"w": torch.tensor([[True, True], [False, False]]), "e": torch.tensor([True, False, True])}
B = {"w": torch.tensor([[True, False], [True, False]]), "e": torch.tensor([True, True, False])}


def test_algebra_on_mask_sets():
    assert mask_and(A, B)["w"].tolist() == [[True, False], [False, False]]
    assert mask_or(A, B)["e"].tolist() == [True, True, True]
    assert mask_difference(A, B)["e"].tolist() == [False, False, True]
    # |A∧B| = 1 + 1 = 2, |A∨B| = 3 + 3 = 6
    assert iou(A, B) == pytest.approx(2 / 6)
    assert hamming(A, B) == 4 and hamming(A, B, normalized=True) == pytest.approx(4 / 7)
    assert kept_fraction(A, by=B) == pytest.approx(2 / 4)
    assert iou(A, A) == 1.0 and hamming(A, A) == 0
    e = torch.zeros(3, dtype=torch.bool)
    assert iou(e, e) == 1.0
    with pytest.raises(ValueError, match="keeps no entries"):
        kept_fraction(e, by=e)
    with pytest.raises(KeyError, match="same names"):
        iou(A, {"w": B["w"]})
    with pytest.raises(ValueError, match="shape mismatch"):
        iou({"w": torch.ones(2, dtype=torch.bool)}, {"w": torch.ones(3, dtype=torch.bool)})
    with pytest.raises(TypeError, match="both"):
        iou(A, B["w"])


def test_macs_linear_and_conv_by_hand():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                        nn.Linear(4 * 5 * 5, 6), nn.ReLU(), nn.Linear(6, 2))
    x = torch.zeros(2, 3, 5, 5)
    r = macs(net, x)
    conv_dense = 2 * 5 * 5 * 4 * 3 * 9
    assert [row["dense_macs"] for row in r.rows] == [conv_dense, 2 * 100 * 6, 2 * 6 * 2]
    assert r.masked == r.dense
    cmask = torch.zeros(4, 3, 3, 3, dtype=torch.bool)
    cmask[:, :, 1, 1] = True                         # 12 of 108 kernel entries
    lmask = torch.zeros(6, 100, dtype=torch.bool)
    lmask[:, :10] = True                             # 60 of 600
    attach(net, {"0.weight": cmask, "3.weight": lmask})
    r = macs(net, x)
    assert [row["masked_macs"] for row in r.rows] == [2 * 25 * 12, 2 * 60, 2 * 12]
    assert r.rows[0]["type"] == "Conv2d" and r.ratio == pytest.approx(r.masked / r.dense)
    assert "total" in str(r)
    # unmasked exact zeros count as pruned too
    with torch.no_grad():
        net[5].weight.zero_()
    assert macs(net, x).rows[-1]["masked_macs"] == 0


def test_macs_needs_a_supported_layer():
    with pytest.raises(ValueError, match="register_macs"):
        macs(nn.ReLU(), torch.zeros(3))
