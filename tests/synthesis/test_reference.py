import pytest
import torch
from benchmarks.reference import synthesize_reference

from vistransfer.config import SynthesisConfig
from vistransfer.models.train import predict_logits


@pytest.mark.slow
def test_reference_groups_pass_together(digits_teacher):
    out, stats = synthesize_reference(digits_teacher.net, SynthesisConfig(n=20, seed=0, group_size=9), digits_teacher.in_shape, 10)
    assert len(out["x"]) == 20 and torch.bincount(out["target"], minlength=10).tolist() == [2] * 10
    probs = torch.softmax(predict_logits(digits_teacher.net, out["x"]), 1)
    assert torch.all(probs.gather(1, out["target"][:, None]) > 0.99 - 1e-4)
    # every accepted member was probed at least once per AM step it took; the rate is rows / n exactly
    assert stats["teacher_passes_per_vis"] == stats["teacher_rows"] / 20 >= 1 + float(out["passed_step"].float().mean())
    assert stats["groups_started"] >= 3
