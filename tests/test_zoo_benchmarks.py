"""benchmarks/teacher_zoo.py's dilated architecture and benchmarks/zoo_gap.py's class-by-class split of a gap."""

import json

import pytest
import torch
from benchmarks.teacher_zoo import ARCHS
from benchmarks.zoo_gap import read_row, split_gap


def receptive_field(name: str) -> int:
    """How many input pixels across one unit in the middle of the architecture's last convolution sees."""
    torch.manual_seed(0)
    net = ARCHS[name][0]().eval()
    body = net[:-2]  # everything before Flatten and the linear head
    x = torch.rand(1, 1, 28, 28, requires_grad=True)
    body(x)[0, :, 14, 14].sum().backward()
    cols = (x.grad[0, 0].abs() > 0).any(0).nonzero()
    return int(cols.max() - cols.min() + 1)


def test_the_dilated_body_sees_15_pixels_where_bn_flat_sees_7_with_the_same_weights():
    assert receptive_field("bn_flat") == 7 and receptive_field("bn_flat_dil") == 15
    shapes = [[p.shape for p in ARCHS[n][0]().parameters()] for n in ("bn_flat", "bn_flat_dil")]
    assert shapes[0] == shapes[1]


def _results(tmp_path, rows: dict) -> str:
    path = tmp_path / "zoo.json"
    path.write_text(json.dumps({"archs": rows}))
    return str(path)


def test_the_class_terms_sum_to_the_gap(tmp_path):
    ref_acc, row_acc = [0.9, 0.8, 0.7], [0.9, 0.5, 0.6]
    shares = {"a": 0.5, "b": 0.3, "c": 0.2}
    rows = {
        "ours": {"student_accuracy": sum(a * s for a, s in zip(ref_acc, shares.values())), "student_per_class": dict(zip(shares, ref_acc))},
        "theirs": {
            "student_same_arch": sum(a * s for a, s in zip(row_acc, shares.values())),
            "student_same_arch_per_class": dict(zip(shares, row_acc)),
        },
    }
    path = _results(tmp_path, rows)
    split = split_gap(read_row(f"{path}:ours", "cnn_id"), read_row(f"{path}:theirs", "same"), shares)
    assert split["terms"] == pytest.approx({"a": 0.0, "b": 0.09, "c": 0.02})
    assert sum(split["terms"].values()) == pytest.approx(split["gap"]) and split["gap"] == pytest.approx(0.11)


def test_a_row_that_is_not_there_is_named_with_the_rows_that_are(tmp_path):
    path = _results(tmp_path, {"ours": {"student_accuracy": 0.9, "student_per_class": {"a": 0.9}}})
    with pytest.raises(SystemExit, match="no row 'mine'; its rows: ours"):
        read_row(f"{path}:mine", "cnn_id")
    with pytest.raises(SystemExit, match="run teacher_zoo with --students same"):
        read_row(f"{path}:ours", "same")
    with pytest.raises(SystemExit, match="give a row as FILE:ROW"):
        read_row(path.replace(".json", ""), "cnn_id")
