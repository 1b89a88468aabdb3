"""Blends of visualizations labelled by the teacher (synthesis/blend.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from vistransfer.config import SynthesisConfig, to_dict
from vistransfer.errors import VistransferError
from vistransfer.models.train import predict_logits
from vistransfer.pipeline import make_synthetic, synthesize_sharded
from vistransfer.synthesis.blend import add_blends
from vistransfer.synthesis.dataset import SyntheticDataset
from vistransfer.synthesis.records import Kind

CFG = SynthesisConfig(n=20, seed=3, group_size=1, slots=20, threshold=0.9, movement=False, max_steps=200)


@pytest.fixture(scope="module")
def plain(digits_teacher):
    return make_synthetic(digits_teacher, CFG, progress=False)


def test_blends_lie_between_two_classes_and_carry_the_teachers_label(digits_teacher, plain):
    ds = add_blends(plain, digits_teacher.module, 1.5, seed=3)
    k = len(ds) - len(plain)
    assert k == 30 and ds.n_blends == 30 and plain.n_blends == 0
    assert torch.equal(ds.x[: len(plain)], plain.x)  # the visualizations are kept as they were
    blend = ds.kind == Kind.BLEND
    assert blend[len(plain) :].all() and not blend[: len(plain)].any()
    assert ds.movement_name(len(plain)) == "blend"
    assert torch.equal(ds.from_am, ~blend) and plain.from_am.all()
    assert plain.describe_size() == "20 visualizations" and ds.describe_size() == "20 visualizations + 30 blends"
    xb = ds.x[blend]
    # every blend is lam * a + (1 - lam) * b of two visualizations the teacher labels differently
    flat, vis = xb.flatten(1), plain.x.flatten(1)
    labels = plain.probs.argmax(1)
    for row in flat[:10]:
        found = False
        for i in range(len(vis)):
            for j in range(len(vis)):
                if labels[i] == labels[j]:
                    continue
                d = vis[i] - vis[j]
                lam = float(((row - vis[j]) @ d) / (d @ d))
                if 0 <= lam <= 1 and torch.allclose(lam * vis[i] + (1 - lam) * vis[j], row, atol=1e-5):
                    found = True
                    break
            if found:
                break
        assert found
    # labelled by the teacher at the blend, not inherited from a parent
    probs = torch.softmax(predict_logits(digits_teacher.module, xb), 1)
    assert torch.allclose(ds.probs[blend], probs, atol=1e-6)
    assert torch.equal(ds.target[blend], probs.argmax(1))
    assert ds.targets("hard")[blend].sum(1).eq(1).all()
    assert ds.meta["blends"]["n"] == 30 and abs(sum(ds.meta["blends"]["class_share"].values()) - 1) < 1e-3
    # a seed reproduces them
    assert torch.equal(add_blends(plain, digits_teacher.module, 1.5, seed=3).x, ds.x)


def test_blend_config_reaches_both_engines_and_survives_saving(digits_teacher, plain, tmp_path):
    cfg = replace(CFG, blend=0.5)
    assert "blend" not in to_dict(CFG) and to_dict(cfg)["blend"] == 0.5  # older configs keep their keys
    ds = make_synthetic(digits_teacher, cfg, progress=False)
    assert len(ds) == 30 and torch.equal(ds.x[:20], plain.x)
    ds.save(tmp_path / "s.pt")
    assert SyntheticDataset.load(tmp_path / "s.pt").n_blends == 10
    sharded = synthesize_sharded(digits_teacher, cfg, tmp_path / "job", 10, progress=False)
    assert sharded.n_blends == 10 and len(sharded) == 30
    with pytest.raises(VistransferError, match="cannot be cut to a size"):
        ds.subset(5)


def test_bad_blend_settings_are_refused(digits_teacher, plain):
    with pytest.raises(VistransferError, match="blend must be"):
        SynthesisConfig(blend=-1)
    one_class = SyntheticDataset(
        *(getattr(plain, f)[plain.target == plain.target[0]] for f in ("x", "probs", "target", "passed_step", "threshold", "group", "kind")),
        plain.classes,
        {},
    )
    with pytest.raises(VistransferError, match="at least two classes"):
        add_blends(one_class, digits_teacher.module, 1.0, seed=0)
