"""Synthesis as deterministic shards: resumable, and runnable in-process or on a Ray cluster.

A job of N visualizations is cut into shards of ``shard_size``. Shard i has its own seed,
derived from (seed, i) by NumPy's SeedSequence, and its own class quota, a slice of one
global round-robin over classes, so the shards together are exactly balanced. Each shard is
written atomically as ``shard-00000.pt`` into the job folder the moment it completes; a
killed job resumes by skipping the shards already there, losing only those in flight. A
``manifest.json`` pins the config (all but ``n``), the shard size and the teacher, so a folder
never mixes two jobs. A full shard does not depend on ``n``: a job for more visualizations
reuses the shards of a smaller one and only synthesizes the rest. A last, partial shard is
kept under its own name (``shard-00007-n400.pt``), so it never stands in for a full one.

Blends, offsets and probes follow the merged shards and are not sharded (``pipeline.synthesize_sharded``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from ..config import SynthesisConfig, to_dict
from ..errors import VistransferError
from ..io import progress_bar, read_json, write_json
from ..models.foreign import teacher_from_blob
from ..models.teacher import Teacher
from .dataset import SyntheticDataset
from .engine import summarize, synthesize
from .records import FIELDS

GROUP_STRIDE = 1 << 32  # group ids of shard i start at i * GROUP_STRIDE: unique across shards


def shard_sizes(n: int, shard_size: int) -> list[int]:
    if shard_size <= 0:
        raise VistransferError(f"shard_size must be positive, got {shard_size}")
    return [min(shard_size, n - start) for start in range(0, n, shard_size)]


def shard_seed(seed: int, index: int) -> int:
    """A seed for shard ``index`` that is independent of the other shards' streams."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint32)[0])


def shard_quota(n: int, n_classes: int, shard_size: int, index: int) -> torch.Tensor:
    """(K,) classes of shard ``index``: its slice of the sequence 0, 1, ..., K-1, 0, 1, ..."""
    start = index * shard_size
    stop = min(start + shard_size, n)
    return torch.bincount(torch.arange(start, stop) % n_classes, minlength=n_classes)


def run_shard(
    teacher_blob: dict,
    cfg_dict: dict,
    index: int,
    shard_size: int,
    device: str = "cpu",
    threads: int = 1,
    real: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict:
    """Synthesize shard ``index`` and return its tensors (a pure function of its arguments).

    ``threads`` is fixed per shard because float reductions, and so the optimization
    trajectories, depend on the CPU thread count: same seed and threads, same bits.

    teacher_blob: :meth:`Teacher.to_blob`, plain data (weights, a model file's bytes, names),
    so that Ray can ship it to a worker without pickling code. real: (x, y) real training data,
    used only by Loss2 and the value prior.
    """
    cfg = SynthesisConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg_dict.items()})
    sizes = shard_sizes(cfg.n, shard_size)
    teacher = teacher_from_blob(teacher_blob)
    k = teacher.n_classes
    shard_cfg = dataclasses.replace(cfg, n=sizes[index], seed=shard_seed(cfg.seed, index))
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        out, stats = synthesize(
            teacher.module, shard_cfg, teacher.spec, k, device, quota=shard_quota(cfg.n, k, shard_size, index), progress=False, real=real
        )
    finally:
        torch.set_num_threads(before)
    out["group"] = out["group"] + index * GROUP_STRIDE
    return {"index": index, "tensors": out, "stats": dict(stats, threads=threads)}


def _check_manifest(job_dir: Path, manifest: dict) -> None:
    path = job_dir / "manifest.json"
    if path.is_file():
        old = read_json(path, f"delete {job_dir} (its shards are made again) or use a new --shard-dir")
        if not isinstance(old, dict):
            raise VistransferError(f"{path} is not a shard manifest; delete {job_dir} or use a new --shard-dir")
        old.setdefault("config", {}).setdefault("plan", "count")  # folders of 0.4.1 and before planned by count
        old["config"].setdefault("gen_start", "bias")  # folders of 0.5.0 and before started G at the paper's grey
        if old != manifest:
            raise VistransferError(
                f"{job_dir} holds shards of another job ({_manifest_difference(old, manifest)}); use a new --shard-dir or delete that folder"
            )
    else:
        write_json(path, manifest)


def _manifest_difference(old: dict, new: dict) -> str:
    """What differs between two manifests, in words: "plan: 'count' there, 'yield' here; teacher"."""
    diff = [
        f"{k}: {old['config'].get(k)!r} there, {new['config'].get(k)!r} here"
        for k in sorted(set(old["config"]) | set(new["config"]))
        if old["config"].get(k) != new["config"].get(k)
    ]
    if old.get("shard_size") != new.get("shard_size"):
        diff.append(f"shard_size: {old.get('shard_size')} there, {new.get('shard_size')} here")
    if old.get("teacher_fingerprint") != new.get("teacher_fingerprint"):
        diff.append("another teacher")
    return "; ".join(diff) or "another manifest"


def shard_path(job_dir: Path, index: int, size: int, shard_size: int) -> Path:
    return job_dir / (f"shard-{index:05d}.pt" if size == shard_size else f"shard-{index:05d}-n{size}.pt")


def open_job(
    teacher: Teacher,
    cfg: SynthesisConfig,
    job_dir: str | Path,
    shard_size: int,
    backend: str = "local",
    real: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> Path:
    """Check a job before any shard runs and pin it in ``job_dir/manifest.json``; returns the folder."""
    if cfg.real_uses and real is None:
        raise cfg.needs_real("pass real=(x, y)")
    if cfg.loss2:
        teacher.module.require_features()  # here, before any worker starts
    if backend not in ("local", "ray"):
        raise VistransferError(f"unknown backend {backend!r}; use 'local' or 'ray'")
    job_dir = Path(job_dir)
    job_dir.mkdir(parents=True, exist_ok=True)
    job_cfg = {
        k: v
        for k, v in to_dict(cfg).items()  # blends, offsets and probes are made after the shards
        if k != "n" and k != "blend" and not k.startswith("probe")
    }
    _check_manifest(job_dir, {"config": job_cfg, "shard_size": shard_size, "teacher_fingerprint": teacher.fingerprint})
    return job_dir


def synthesize_shards(
    teacher: Teacher,
    cfg: SynthesisConfig,
    job_dir: Path,
    shard_size: int,
    backend: str = "local",
    ray_address: str | None = None,
    device: str = "cpu",
    progress: bool = True,
    meta: dict | None = None,
    threads: int | None = None,
    real: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> SyntheticDataset:
    """Synthesize ``cfg.n`` visualizations as shards in ``job_dir`` (checked and pinned by :func:`open_job`)
    and return them merged (the visualizations only: ``pipeline.synthesize_sharded`` adds the blends, offsets
    and probes).

    backend "local" runs missing shards one after another in this process; "ray" submits
    them as Ray tasks (``ray_address``: a cluster address, or None for a local cluster).
    threads: CPU threads per shard (default: all of this process's for local, 1 per Ray task,
    which is also Ray's CPU unit). Shards are bit-identical for the same seed and threads.
    real: (x, y) real training data, required by Loss2 and the value prior, ignored otherwise.
    """
    threads = threads or (torch.get_num_threads() if backend == "local" else 1)
    real = real if cfg.real_uses else None
    sizes = shard_sizes(cfg.n, shard_size)
    path_of = lambda i: shard_path(job_dir, i, sizes[i], shard_size)  # noqa: E731
    todo = [i for i in range(len(sizes)) if not path_of(i).is_file()]
    blob, cfg_dict = teacher.to_blob(), to_dict(cfg)

    def save(result: dict) -> None:
        i = result["index"]
        part = SyntheticDataset(
            **{f: result["tensors"][f] for f in FIELDS},
            classes=teacher.classes,
            meta={"shard": i, "stats": result["stats"]},
        )
        part.save(path_of(i))

    runner: Callable = _run_ray if backend == "ray" else _run_local
    runner(blob, cfg_dict, todo, shard_size, device, save, progress, ray_address, threads, real)
    parts = [_load_shard(path_of(i)) for i in range(len(sizes))]
    merged_stats = _merge_stats([p.meta["stats"] for p in parts])
    full_meta = dict(meta or {}, stats=merged_stats, shards={"size": shard_size, "count": len(sizes), "backend": backend})
    return SyntheticDataset.concat(parts, full_meta)


def _load_shard(path: Path) -> SyntheticDataset:
    try:
        return SyntheticDataset.load(path)
    except VistransferError as e:  # a shard cut short by a full disk, or damaged since
        raise VistransferError(f"shard {path} is damaged or not a shard; delete it and run the same command again: it is made anew") from e


def _run_local(blob, cfg_dict, todo, shard_size, device, save, progress, ray_address, threads, real) -> None:
    for i in progress_bar(todo, desc="shards", unit="shard", enabled=progress):
        save(run_shard(blob, cfg_dict, i, shard_size, device, threads, real))


def _run_ray(blob, cfg_dict, todo, shard_size, device, save, progress, ray_address, threads, real) -> None:
    try:
        import ray
    except ImportError:
        raise VistransferError("the ray backend needs Ray: pip install 'vistransfer[ray]'") from None

    started_here = not ray.is_initialized()
    if started_here:
        with _workers_at_this_priority():
            ray.init(address=ray_address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        gpus = 1 if device.startswith("cuda") else 0
        remote = ray.remote(num_cpus=threads, num_gpus=gpus)(run_shard)
        blob_ref, real_ref = ray.put(blob), ray.put(real)
        pending = [remote.remote(blob_ref, cfg_dict, i, shard_size, "cuda" if gpus else device, threads, real_ref) for i in todo]
        bar = progress_bar(total=len(pending), desc="shards (ray)", unit="shard", enabled=progress)
        while pending:  # write each shard the moment it arrives
            ready, pending = ray.wait(pending, num_returns=1)
            save(ray.get(ready[0]))
            bar.update(1)
        bar.close()
    finally:
        if started_here:
            ray.shutdown()


@contextmanager
def _workers_at_this_priority():
    """Let the workers of a Ray cluster started here run at this process's priority.

    Ray lowers its workers' priority to nice 15 (``RAY_worker_niceness``) so that its own
    processes stay responsive. Beside any other work on the machine such workers barely run
    (``benchmarks/ray_priority.py``: two shards of 10 beside a 2-thread job on 2 cores took 280 s
    at nice 15, 24 s at nice 0 with the cluster's start, 9.5 s locally). Shards are the job, so a
    cluster started for them gets 0 unless the user set the variable. Only a cluster that
    ray.init starts reads it (its processes inherit the environment); one already running keeps
    its own setting.
    """
    key = "RAY_worker_niceness"
    before = os.environ.get(key)
    os.environ.setdefault(key, "0")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)


def _merge_stats(stats: list[dict]) -> dict:
    summed = {k: sum(s[k] for s in stats) for k in stats[0] if isinstance(stats[0][k], (int, float)) and k != "threads"}
    labels = {k: v for k, v in stats[0].items() if isinstance(v, str)}  # e.g. gen_upsample: the same in every shard
    return dict(summed, **labels, **summarize(summed, summed["accepted"]))
