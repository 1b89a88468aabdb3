"""Probes where a student disagrees with the teacher (synthesis/probe.py), on a toy 1-D task."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vistransfer.errors import VistransferError
from vistransfer.synthesis.dataset import SyntheticDataset
from vistransfer.synthesis.probe import add_probes, disagreement, search
from vistransfer.synthesis.records import Kind

L = 16


def _teacher() -> nn.Module:
    """Class 1 when the series' first half sits above its second half (a fixed linear rule)."""
    lin = nn.Linear(L, 2)
    with torch.no_grad():
        w = torch.cat([torch.ones(L // 2), -torch.ones(L // 2)]) * 4.0
        lin.weight.copy_(torch.stack([-w, w]))
        lin.bias.zero_()
    return nn.Sequential(nn.Flatten(), lin).eval()


def _extremes(teacher: nn.Module, n: int = 64) -> SyntheticDataset:
    """What AM at T near 1 hands a student: each class only far from the boundary."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 2
    hi, lo = 0.9 + 0.1 * torch.rand(n, L // 2, generator=g), 0.1 * torch.rand(n, L // 2, generator=g)
    x = torch.where(y[:, None] == 1, torch.cat([hi, lo], 1), torch.cat([lo, hi], 1)).unsqueeze(1)
    probs = torch.softmax(teacher(x), 1).detach()
    minus = torch.full((n,), -1, dtype=torch.long)
    return SyntheticDataset(x, probs, y, minus, torch.full((n,), 0.99), torch.arange(n), minus.clone(), ("0", "1"), {})


def _fit(x: torch.Tensor, t: torch.Tensor) -> nn.Module:
    torch.manual_seed(1)
    net = nn.Sequential(nn.Flatten(), nn.Linear(L, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        (-(t * torch.log_softmax(net(x), 1)).sum(1).mean()).backward()
        opt.step()
    return net.eval()


def _agreement(teacher: nn.Module, student: nn.Module) -> float:
    x = torch.rand(4000, 1, L, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        return float((teacher(x).argmax(1) == student(x).argmax(1)).float().mean())


def test_search_moves_to_disagreement_inside_the_domain():
    teacher = _teacher()
    ds = _extremes(teacher)
    student = _fit(ds.x, ds.targets("hard"))
    start = ds.x[:32]
    end = search(teacher, student, start, steps=20, lr=0.02, low=0.0, high=1.0)
    assert all(p.grad is None for p in teacher.parameters())  # the teacher is left as it was
    with torch.no_grad():
        before, after = disagreement(teacher, student, start), disagreement(teacher, student, end)
    assert end.min() >= 0 and end.max() <= 1
    assert after.mean() > 10 * before.mean() and after.mean() > 0.05


def test_probes_are_labelled_by_the_teacher_and_teach_the_boundary():
    teacher = _teacher()
    ds = _extremes(teacher)
    plain = _fit(ds.x, ds.targets("soft"))
    # steps of 5% of the domain: this toy's extremes sit half the domain away from the boundary, farther
    # than ten steps of the default 1% reach
    out = add_probes(ds, teacher, _fit, labels="soft", ratio=2.0, rounds=4, low=0.0, high=1.0, seed=0, step_size=0.05)
    assert len(out) == 3 * len(ds)
    assert torch.equal(out.x[: len(ds)], ds.x)  # the visualizations are kept as they were
    probe = out.kind == Kind.PROBE
    assert int(probe.sum()) == 128 and out.movement_name(len(ds)) == "probe"
    assert torch.equal(out.from_am, ~probe)
    assert out.x[probe].min() >= 0 and out.x[probe].max() <= 1
    with torch.no_grad():
        assert torch.allclose(out.probs[probe], torch.softmax(teacher(out.x[probe]), 1), atol=1e-6)
    hist = out.meta["probes"]["history"]
    assert [h["n"] for h in hist] == [32, 32, 32, 32]
    assert sum(h["disagree_at_end"] for h in hist) > sum(h["disagree_at_start"] for h in hist)
    # a student of extremes leaves its boundary to chance; one that also saw the probes follows the teacher's
    taught = _fit(out.x, out.targets("soft"))
    assert _agreement(teacher, taught) > _agreement(teacher, plain) + 0.04
    # a seed reproduces them
    again = add_probes(ds, teacher, _fit, labels="soft", ratio=2.0, rounds=4, low=0.0, high=1.0, seed=0, step_size=0.05)
    assert torch.equal(again.x, out.x)


def test_probes_reject_bad_settings():
    teacher = _teacher()
    ds = _extremes(teacher, 8)
    assert add_probes(ds, teacher, _fit, labels="hard", ratio=0.0, rounds=1, low=0.0, high=1.0, seed=0) is ds
    with pytest.raises(VistransferError, match="rounds >= 1"):
        add_probes(ds, teacher, _fit, labels="hard", ratio=1.0, rounds=0, low=0.0, high=1.0, seed=0)
    with pytest.raises(VistransferError, match="labels must be"):
        add_probes(ds, teacher, _fit, labels="argmax", ratio=1.0, rounds=1, low=0.0, high=1.0, seed=0)


@pytest.mark.slow
def test_synthesis_config_adds_probes_in_one_pass_and_in_shards(digits_teacher, tmp_path, monkeypatch):
    from vistransfer.config import SynthesisConfig
    from vistransfer.pipeline import check_synthesis, make_synthetic, synthesize_sharded

    cfg = SynthesisConfig(n=20, threshold=0.9, group_size=1, slots=16, max_steps=150, blend=0.5, probe=0.5, probe_rounds=2, probe_steps=3, seed=0)
    ds = make_synthetic(digits_teacher, cfg, progress=False, student_options={"epochs": 2, "min_steps": 50})
    kinds = [ds.movement_name(i) for i in range(len(ds))]
    assert len(ds) == 20 + 10 + 15 and kinds.count("probe") == 15 and kinds.count("blend") == 10
    assert [h["n"] for h in ds.meta["probes"]["history"]] == [8, 7] and ds.meta["probes"]["seconds"] > 0
    assert ds.x.min() >= digits_teacher.spec.low and ds.x.max() <= digits_teacher.spec.high
    assert ds.from_am.sum() == 20  # the grids show the visualizations only
    assert ds.describe_size() == "20 visualizations + 10 blends + 15 probes"
    with pytest.raises(VistransferError, match="10 blends and 15 probes"):
        ds.subset(10)
    one_round = SynthesisConfig(**{**cfg.__dict__, "probe_rounds": 1})  # round students of 500 steps (the default)
    sharded = synthesize_sharded(digits_teacher, one_round, tmp_path / "job", shard_size=10, progress=False)
    assert torch.equal(sharded.kind.clamp(max=0), ds.kind.clamp(max=0))  # the same blends and probes follow
    assert sharded.meta["probes"]["history"][0]["disagree_at_start"] < 0.5  # a student that learnt the set
    # the set with its probes is kept: the same job again loads it and trains no round student
    monkeypatch.setattr("vistransfer.pipeline.add_probes", lambda *a, **k: pytest.fail("probes made again"))
    again = synthesize_sharded(digits_teacher, one_round, tmp_path / "job", shard_size=10, progress=False)
    assert torch.equal(again.x, sharded.x) and again.meta["probes"] == sharded.meta["probes"]
    with pytest.raises(pytest.fail.Exception, match="probes made again"):  # other round students: other probes
        synthesize_sharded(digits_teacher, one_round, tmp_path / "job", shard_size=10, progress=False, student_options={"epochs": 1})
    # the shards do not depend on how many probes follow them: a run without probes reuses them
    plain = synthesize_sharded(digits_teacher, SynthesisConfig(**{**cfg.__dict__, "probe": 0.0}), tmp_path / "job", shard_size=10, progress=False)
    assert len(plain) == 30 and torch.equal(plain.x, sharded.x[:30])
    with pytest.raises(VistransferError, match="probe_rounds"):
        SynthesisConfig(probe=1.0, probe_rounds=0)
    monkeypatch.setattr("vistransfer.synthesis.shards.synthesize_shards", lambda *a, **k: pytest.fail("synthesized"))
    with pytest.raises(VistransferError, match="neural student"):  # refused before any synthesis
        synthesize_sharded(digits_teacher, SynthesisConfig(**{**cfg.__dict__, "probe_student": "rf"}), tmp_path / "job2", 10)
    with pytest.raises(VistransferError, match="probe_student: unknown student 'resnet'"):
        check_synthesis(SynthesisConfig(probe=1.0, probe_student="resnet"))
