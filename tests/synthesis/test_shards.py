import json
import os
from dataclasses import replace

import pytest
import torch

from vistransfer.config import SynthesisConfig
from vistransfer.errors import VistransferError
from vistransfer.pipeline import synthesize_sharded
from vistransfer.synthesis.dataset import SyntheticDataset
from vistransfer.synthesis.shards import GROUP_STRIDE, shard_quota, shard_seed, shard_sizes

# Appendix C's groups of 9 (the default is one per generator): 36 visualizations in flight keep these runs short
CFG = SynthesisConfig(n=30, seed=7, group_size=9, slots=4, max_steps=150)


def test_plan_quota_and_seeds():
    assert shard_sizes(50, 20) == [20, 20, 10]
    total = sum(shard_quota(53, 10, 20, i) for i in range(3))
    assert total.tolist() == [6, 6, 6, 5, 5, 5, 5, 5, 5, 5]  # exactly balanced overall
    assert shard_seed(7, 0) != shard_seed(7, 1) and shard_seed(7, 1) == shard_seed(7, 1)


@pytest.mark.slow
def test_shards_are_deterministic_resumable_and_balanced(digits_teacher, tmp_path):
    ds = synthesize_sharded(digits_teacher, CFG, tmp_path / "a", 12, progress=False)
    assert len(ds) == 30 and torch.bincount(ds.target).tolist() == [3] * 10
    # group ids never collide across shards: shard i's ids lie in [i * STRIDE, (i + 1) * STRIDE)
    assert (ds.group // GROUP_STRIDE).tolist() == [0] * 12 + [1] * 12 + [2] * 6
    first = SyntheticDataset.load(tmp_path / "a" / "shard-00001.pt")
    # a killed run: one shard lost; resuming rebuilds exactly that shard, bit for bit
    (tmp_path / "a" / "shard-00001.pt").unlink()
    again = synthesize_sharded(digits_teacher, CFG, tmp_path / "a", 12, progress=False)
    assert torch.equal(again.x, ds.x)
    other_dir = synthesize_sharded(digits_teacher, CFG, tmp_path / "b", 12, progress=False)
    assert torch.equal(other_dir.x, ds.x)
    assert json.loads((tmp_path / "a" / "manifest.json").read_text())["shard_size"] == 12
    assert (tmp_path / "a" / "shard-00002-n6.pt").is_file()  # the partial last shard has its own name
    rebuilt = SyntheticDataset.load(tmp_path / "a" / "shard-00001.pt")
    assert torch.equal(rebuilt.x, first.x) and torch.equal(rebuilt.group, first.group)


@pytest.mark.slow
def test_shards_take_the_value_prior_from_the_real_data(digits_teacher, digits, tmp_path):
    cfg = replace(CFG, n=12, threshold=0.9, value_prior=1.0)
    with pytest.raises(VistransferError, match="value_prior needs the teacher.s real training data"):
        synthesize_sharded(digits_teacher, cfg, tmp_path / "none", 6, progress=False)
    assert not (tmp_path / "none").exists()  # refused before anything was written
    train = digits[0]
    ds = synthesize_sharded(digits_teacher, cfg, tmp_path / "a", 6, progress=False, real=(train.x, train.y))
    plain = synthesize_sharded(digits_teacher, replace(cfg, value_prior=0.0), tmp_path / "b", 6, progress=False)
    assert len(ds) == 12 and json.loads((tmp_path / "a" / "manifest.json").read_text())["config"]["value_prior"] == 1.0
    assert not torch.equal(ds.x, plain.x)  # the prior reached the shards' objective


@pytest.mark.slow
def test_a_larger_job_extends_a_smaller_one(digits_teacher, tmp_path):
    small = synthesize_sharded(digits_teacher, CFG, tmp_path / "a", 12, progress=False)
    stamp = (tmp_path / "a" / "shard-00000.pt").stat().st_mtime_ns
    big = synthesize_sharded(digits_teacher, SynthesisConfig(**{**CFG.__dict__, "n": 48}), tmp_path / "a", 12, progress=False)
    assert (tmp_path / "a" / "shard-00000.pt").stat().st_mtime_ns == stamp  # reused, not redone
    assert len(big) == 48 and torch.bincount(big.target).tolist() == [5] * 8 + [4] * 2
    assert torch.equal(big.x[:24], small.x[:24])  # the full shards are the same


def test_a_folder_never_mixes_jobs(digits_teacher, tmp_path):
    small = SynthesisConfig(n=10, seed=7, group_size=9, slots=2)
    synthesize_sharded(digits_teacher, small, tmp_path / "a", 10, progress=False)
    with pytest.raises(VistransferError, match="another job \\(seed: 7 there, 8 here\\)"):
        synthesize_sharded(digits_teacher, SynthesisConfig(n=10, seed=8, group_size=9, slots=2), tmp_path / "a", 10, progress=False)
    # a folder of 0.4.1, whose manifest has no plan, planned by count: it resumes with "count" only
    manifest = tmp_path / "a" / "manifest.json"
    old = json.loads(manifest.read_text())
    del old["config"]["plan"]
    manifest.write_text(json.dumps(old))
    with pytest.raises(VistransferError, match="plan: 'count' there, 'yield' here"):
        synthesize_sharded(digits_teacher, small, tmp_path / "a", 10, progress=False)
    again = synthesize_sharded(digits_teacher, replace(small, plan="count"), tmp_path / "a", 10, progress=False)
    assert len(again) == 10
    # one of 0.5.0, which records no gen_start, started G at the paper's grey: it resumes with "bias" only
    old = json.loads(manifest.read_text())
    del old["config"]["gen_start"]
    manifest.write_text(json.dumps(old))
    with pytest.raises(VistransferError, match="gen_start: 'bias' there, 'auto' here"):
        synthesize_sharded(digits_teacher, replace(small, plan="count"), tmp_path / "a", 10, progress=False)
    assert len(synthesize_sharded(digits_teacher, replace(small, plan="count", gen_start="bias"), tmp_path / "a", 10, progress=False)) == 10


@pytest.mark.slow
def test_ray_backend_matches_local(digits_teacher, tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    small = SynthesisConfig(n=20, seed=7, group_size=9, slots=2)
    local = synthesize_sharded(digits_teacher, small, tmp_path / "local", 10, progress=False, threads=1)
    # the backend starts its own local cluster, here on loopback only, and its workers'
    # priority is read from inside the cluster before the shards run
    niceness, start = [], ray.init

    def init(**options):
        start(num_cpus=2, _node_ip_address="127.0.0.1", **options)
        niceness.append(ray.get(ray.remote(lambda: os.nice(0)).remote()))

    monkeypatch.delenv("RAY_worker_niceness", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(ray, "init", init)
    remote = synthesize_sharded(digits_teacher, small, tmp_path / "ray", 10, backend="ray", progress=False, threads=1)
    assert not ray.is_initialized()  # a cluster started for the job stops with it
    assert torch.equal(remote.x, local.x) and torch.equal(remote.target, local.target)
    assert niceness == [os.nice(0)]  # Ray's default would be 15 more: shards that yield to everything else
    assert "RAY_worker_niceness" not in os.environ
