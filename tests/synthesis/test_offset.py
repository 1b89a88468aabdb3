"""Offsets: points of the set moved by a constant, labelled by the teacher (synthesis/offset.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from vistransfer.config import SynthesisConfig, to_dict
from vistransfer.errors import VistransferError
from vistransfer.models.train import predict_logits
from vistransfer.pipeline import make_synthetic
from vistransfer.synthesis.dataset import SyntheticDataset
from vistransfer.synthesis.offset import add_offsets
from vistransfer.synthesis.records import Kind

CFG = SynthesisConfig(n=20, seed=3, group_size=1, slots=20, threshold=0.9, movement=False, max_steps=200)


@pytest.fixture(scope="module")
def plain(digits_teacher):
    return make_synthetic(digits_teacher, CFG, progress=False)


def test_an_offset_is_a_point_of_the_set_plus_one_constant_labelled_by_the_teacher(digits_teacher, plain):
    low, high = digits_teacher.spec.low, digits_teacher.spec.high
    ds = add_offsets(plain, digits_teacher.module, 2.0, 0.25, low, high, seed=5)
    off = ds.kind == Kind.OFFSET
    assert int(off.sum()) == 40 == ds.n_offsets and plain.n_offsets == 0
    assert torch.equal(ds.x[: len(plain)], plain.x) and not off[: len(plain)].any()
    assert ds.movement_name(len(plain)) == "offset" and torch.equal(ds.from_am, ~off)
    assert ds.describe_size() == "20 visualizations + 40 offsets"
    # each offset, where no value was clamped, differs from one visualization by the same constant everywhere,
    # and that constant lies within scale * the domain's width
    vis, width = plain.x.flatten(1), high - low
    constants = []
    for row in ds.x[off].flatten(1):
        if (row <= low).any() or (row >= high).any():
            continue
        d = row.unsqueeze(0) - vis
        spread = d.max(1).values - d.min(1).values
        i = int(spread.argmin())
        assert spread[i] < 1e-5
        constants.append(float(d[i].mean()))
    assert len(constants) >= 5
    assert all(abs(c) <= 0.25 * width + 1e-6 for c in constants)
    assert min(constants) < 0 < max(constants)  # both directions
    assert ds.x[off].min() >= low and ds.x[off].max() <= high
    # labelled by the teacher where the offset ends, not inherited
    probs = torch.softmax(predict_logits(digits_teacher.module, ds.x[off]), 1)
    assert torch.allclose(ds.probs[off], probs, atol=1e-6) and torch.equal(ds.target[off], probs.argmax(1))
    assert ds.meta["offsets"]["n"] == 40 and 0 <= ds.meta["offsets"]["label_kept"] <= 1
    # a seed reproduces them, another seed does not
    assert torch.equal(add_offsets(plain, digits_teacher.module, 2.0, 0.25, low, high, seed=5).x, ds.x)
    assert not torch.equal(add_offsets(plain, digits_teacher.module, 2.0, 0.25, low, high, seed=6).x, ds.x)
    assert add_offsets(plain, digits_teacher.module, 0.0, 0.25, low, high, seed=5) is plain


def test_offset_config_follows_the_blends_and_is_refused_when_out_of_range(digits_teacher, plain, tmp_path):
    cfg = replace(CFG, blend=0.5, offset=1.0, offset_scale=0.2)
    assert "offset" not in to_dict(CFG) and "offset_scale" not in to_dict(CFG)  # older configs keep their keys
    assert to_dict(cfg)["offset"] == 1.0 and to_dict(cfg)["offset_scale"] == 0.2
    ds = make_synthetic(digits_teacher, cfg, progress=False)
    # 20 visualizations, 10 blends, then one offset per example of those 30
    assert len(ds) == 60 and ds.n_blends == 10 and ds.n_offsets == 30
    assert (ds.kind[:20] >= -1).all() and (ds.kind[20:30] == Kind.BLEND).all() and (ds.kind[30:] == Kind.OFFSET).all()
    ds.save(tmp_path / "s.pt")
    assert SyntheticDataset.load(tmp_path / "s.pt").n_offsets == 30
    with pytest.raises(VistransferError, match="30 offsets"):
        ds.subset(5)
    with pytest.raises(VistransferError, match="offset must be"):
        SynthesisConfig(offset=-1)
    with pytest.raises(VistransferError, match="offset_scale must be"):
        SynthesisConfig(offset=1, offset_scale=0)
