"""benchmarks/apnea_level.py's contrasts: a point's spread scaled around its own mean, labelled by the teacher."""

import torch
from benchmarks.apnea_level import add_contrasts
from torch import nn

from vistransfer.synthesis.dataset import SyntheticDataset
from vistransfer.synthesis.records import Kind


class SpreadTeacher(nn.Module):
    """Says "apnea" when a window varies by more than 0.05 s: its answer follows the spread alone."""

    def forward(self, x):
        s = x[:, 0].std(1)
        return torch.stack([0.05 - s, s - 0.05], 1) * 100


def test_contrasts_scale_the_spread_around_each_mean_and_ask_the_teacher():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(40, 1, 60, generator=g)
    x = 0.9 + 0.04 * (z - z.mean(2, keepdim=True)) / z.std(2, keepdim=True)  # every window: mean 0.9, spread 0.04 exactly
    probs = torch.softmax(SpreadTeacher()(x), 1)
    ds = SyntheticDataset.labelled(x, probs, -1, ("normal", "apnea"))
    out = add_contrasts(ds, SpreadTeacher(), ratio=2.0, scale=3.0, low=0.3, high=2.0, seed=0)
    new = out.kind == Kind.CONTRAST
    assert int(new.sum()) == 80 and len(out) == 120 and out.meta["contrasts"]["n"] == 80
    xs = out.x[new][:, 0]
    ratio = xs.std(1) / 0.04
    assert 1 / 3 - 1e-4 < ratio.min() < 0.6 and 1.8 < ratio.max() < 3 + 1e-4  # factors from [1/3, 3], both ways
    assert torch.allclose(xs.mean(1), torch.full((80,), 0.9), atol=1e-5)  # the level is kept
    # labelled by the teacher where it ends: wide ones are apnea now, narrow ones stay normal
    assert torch.equal(out.target[new], (xs.std(1) > 0.05).long())
    assert 0 < out.meta["contrasts"]["label_kept"] < 1
