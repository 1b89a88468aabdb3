"""The three steps of Section 3.2 as library calls, shared by the CLI, experiments and benchmarks.

teacher (real data) -> :func:`make_synthetic` -> :class:`SyntheticDataset` -> :func:`learn_students`
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import SynthesisConfig, to_dict
from .data import Split
from .errors import VistransferError
from .evaluation import evaluate, evaluate_predictions, mean_std
from .io import cache_key, versions
from .models.spec import InputSpec
from .models.teacher import Teacher
from .models.train import predict_logits
from .students import canonical_name, create_student, is_neural
from .synthesis import shards as sharding
from .synthesis.blend import add_blends
from .synthesis.dataset import SyntheticDataset
from .synthesis.engine import synthesize
from .synthesis.objectives import batchnorm_advice
from .synthesis.offset import add_offsets
from .synthesis.probe import add_probes
from .synthesis.start import start_advice


def check_compatible(teacher: Teacher, split: Split, what: str) -> None:
    """A dataset must match the teacher's input shape and number of classes."""
    hint = f"use the dataset the teacher was trained on ({teacher.dataset})" if teacher.dataset else "use data of the teacher's task"
    if tuple(split.shape) != tuple(teacher.in_shape):
        raise VistransferError(f"{what} has examples of shape {tuple(split.shape)} but the teacher takes {tuple(teacher.in_shape)}; {hint}")
    if len(split.classes) != teacher.n_classes:
        raise VistransferError(f"{what} has {len(split.classes)} classes but the teacher has {teacher.n_classes}; {hint}")


@dataclass(frozen=True)
class Shards:
    """Synthesize in resumable shards of ``size`` in ``folder``, on ``backend`` "local" or "ray" (:func:`synthesize_sharded`)."""

    size: int
    folder: Path
    backend: str = "local"
    ray_address: str | None = None


def synthesize_teacher(
    teacher: Teacher,
    cfg: SynthesisConfig,
    device: torch.device | str = "cpu",
    data: Callable[[str], Split] | None = None,
    data_name: str = "",
    threshold_share: float | None = None,
    shards: Shards | None = None,
    progress: bool = True,
    say: Callable[[str], None] = lambda m: None,
    student_options: dict | None = None,
) -> SyntheticDataset:
    """The ``synthesize`` command's stages, in order: the advice a teacher needs (``say``), T calibrated so that
    ``threshold_share`` of real held-out examples pass it, the real training data the config needs (its statistics
    for the value prior, examples for Loss2), then synthesis in one pass or in ``shards``; the set records what of
    the data went in. ``data(split)`` loads the owner's data ("train" or "test"), named ``data_name``; None: none.
    ``student_options``: the probes' round students' training (:func:`probe_fitter`)."""
    for advice in (batchnorm_advice(teacher.module, cfg.bn_prior, cfg.value_prior), start_advice(teacher.module, cfg, teacher.spec, teacher.classes)):
        if advice is not None:
            say(f"note: {advice}")
    calibration = None
    if threshold_share is not None:
        if cfg.threshold_range is not None:
            raise VistransferError("--threshold-share sets one T; drop --threshold-range (or the config's threshold_range)")
        if data is None:
            raise VistransferError(
                "--threshold-share needs real held-out data of the teacher's task: pass --dataset (a name, an .npz file or an image folder)"
            )
        held_out = data("test")
        t = calibrated_threshold(teacher, held_out, threshold_share, cap=cfg.threshold, device=device)
        calibration = {"share": threshold_share, "data": data_name, "n": len(held_out), "cap": cfg.threshold, "threshold": t}
        cfg = dataclasses.replace(cfg, threshold=t)
        say(f"T calibrated to {t:.4f}: {100 * threshold_share:.0f}% of {len(held_out)} held-out examples of {data_name} pass it")
    real = None
    if cfg.real_uses:
        if data is None:
            raise cfg.needs_real("pass --dataset (a name, an .npz file or an image folder)")
        real = data("train")
    if shards is not None:
        ds = synthesize_sharded(
            teacher,
            cfg,
            shards.folder,
            shards.size,
            shards.backend,
            shards.ray_address,
            str(device),
            progress=progress,
            meta=synthesis_meta(teacher, cfg),
            real=(real.x, real.y) if real is not None else None,
            student_options=student_options,
        )
    else:
        ds = make_synthetic(teacher, cfg, device, real=real, progress=progress, student_options=student_options)
    if calibration is not None:
        ds.meta["threshold_calibration"] = calibration
    if priors := [k for k in cfg.real_uses if k != "loss2"]:  # only statistics of this data went in, never an example
        ds.meta["value_statistics"] = {"data": data_name, "n": len(real), "priors": priors}
    return ds


def check_synthesis(cfg: SynthesisConfig) -> None:
    """What the config alone cannot check, as it knows no students: that ``probe_student`` is a neural
    student (probes follow its gradients). Called before any synthesis, not after hours of it."""
    if cfg.probe <= 0 or cfg.probe_student == "auto":
        return
    try:
        neural = is_neural(cfg.probe_student)
    except VistransferError as e:
        raise VistransferError(f"probe_student: {e}") from None
    if not neural:
        raise VistransferError(f'probe_student must be "auto" or a neural student (probes follow its gradients), got {cfg.probe_student!r}')


def synthesis_meta(teacher: Teacher, cfg: SynthesisConfig, stats: dict | None = None) -> dict:
    return {
        "config": to_dict(cfg),
        "seed": cfg.seed,
        "teacher_fingerprint": teacher.fingerprint,
        "teacher_dataset": teacher.dataset,
        "teacher_test_accuracy": teacher.test_accuracy,
        "teacher": teacher.describe(),
        "in_shape": list(teacher.in_shape),
        "input_spec": teacher.spec.to_dict(),
        "stats": stats or {},
        "versions": versions(),
    }


def calibrated_threshold(teacher: Teacher, held_out: Split, share: float, cap: float = 0.99, device: torch.device | str = "cpu") -> float:
    """T that ``share`` of real held-out examples pass (the teacher's top softmax at its 1 - share
    quantile), at most ``cap``.

    T = 0.99 means different things for different teachers: ours passes it on 89% of real MNIST test
    digits, a batch-norm net with global average pooling on 4.5% (benchmarks/teacher_zoo.py), and AM
    then pushes far past anything real to reach it. Only the model's owner, who holds the data, can
    calibrate; the one number it yields leaves with the teacher, like its input domain.
    """
    if not 0 < share < 1:
        raise VistransferError(f"the share of held-out examples that pass T must be in (0, 1), got {share}")
    check_compatible(teacher, held_out, "the calibration data")
    top = torch.softmax(predict_logits(teacher.module, held_out.x, device), 1).max(1).values
    t = min(cap, float(torch.quantile(top, 1 - share)))
    if t <= 1 / teacher.n_classes:
        raise VistransferError(
            f"T calibrated to {t:.3f}, no better than chance over {teacher.n_classes} classes: "
            "the teacher is not confident on this data; check that it is the teacher's task, or lower the share"
        )
    return t


def make_synthetic(
    teacher: Teacher,
    cfg: SynthesisConfig,
    device: torch.device | str = "cpu",
    real: Split | None = None,
    progress: bool = True,
    student_options: dict | None = None,
) -> SyntheticDataset:
    """Gen{h1}: synthesize ``cfg.n`` visualizations (real data is used only by Loss2 and the value prior), followed by
    ``cfg.blend`` blends per visualization and ``cfg.probe`` probes per example when asked
    (synthesis/blend.py, synthesis/probe.py; ``student_options``: the probes' round students' training,
    see :func:`probe_fitter`)."""
    check_synthesis(cfg)
    if real is not None:
        check_compatible(teacher, real, "the real data for Loss2 and the priors on values")
    uses_real = bool(cfg.real_uses)
    out, stats = synthesize(
        teacher.module,
        cfg,
        teacher.spec,
        teacher.n_classes,
        device,
        real=(real.x, real.y) if (uses_real and real is not None) else None,
        progress=progress,
    )
    ds = SyntheticDataset.from_tensors(out, teacher.classes, synthesis_meta(teacher, cfg, stats))
    return extend_synthetic(ds, teacher, cfg, device, progress, student_options)


def synthesize_sharded(
    teacher: Teacher,
    cfg: SynthesisConfig,
    job_dir: str | Path,
    shard_size: int,
    backend: str = "local",
    ray_address: str | None = None,
    device: str = "cpu",
    progress: bool = True,
    meta: dict | None = None,
    threads: int | None = None,
    real: tuple[torch.Tensor, torch.Tensor] | None = None,
    student_options: dict | None = None,
) -> SyntheticDataset:
    """:func:`make_synthetic` as resumable, deterministic shards in ``job_dir`` (see :mod:`.synthesis.shards`
    for ``backend``, ``threads`` and ``real``). A set with probes, whose round students take minutes, is kept
    whole in the folder as ``probed-<key>.pt``, keyed by the full config, the round students' options and
    the package version, so re-running the same job loads it."""
    check_synthesis(cfg)
    job_dir = sharding.open_job(teacher, cfg, job_dir, shard_size, backend, real)
    probed = job_dir / f"probed-{cache_key({'config': to_dict(cfg), 'student_options': student_options})}.pt"
    if cfg.probe > 0 and probed.is_file():
        return SyntheticDataset.load(probed)
    ds = sharding.synthesize_shards(teacher, cfg, job_dir, shard_size, backend, ray_address, device, progress, meta, threads, real)
    ds = extend_synthetic(ds, teacher, cfg, device, progress, student_options)
    if cfg.probe > 0:
        ds.save(probed)
    return ds


def extend_synthetic(
    ds: SyntheticDataset,
    teacher: Teacher,
    cfg: SynthesisConfig,
    device: torch.device | str = "cpu",
    progress: bool = False,
    student_options: dict | None = None,
) -> SyntheticDataset:
    """The visualizations ``ds`` followed by ``cfg.blend`` blends per visualization, ``cfg.offset`` offsets
    per example, then ``cfg.probe`` probes per example (none when all are 0, the paper's setting)."""
    ds = add_blends(ds, teacher.module, cfg.blend, cfg.seed, device)
    ds = add_offsets(ds, teacher.module, cfg.offset, cfg.offset_scale, teacher.spec.low, teacher.spec.high, cfg.seed, device)
    if cfg.probe <= 0:
        return ds
    return add_probes(
        ds,
        teacher.module,
        probe_fitter(teacher.spec, cfg, device, progress, student_options),
        labels="soft",
        ratio=cfg.probe,
        rounds=cfg.probe_rounds,
        low=teacher.spec.low,
        high=teacher.spec.high,
        seed=cfg.seed,
        steps=cfg.probe_steps,
        step_size=cfg.probe_step_size,
        device=device,
    )


def round_student_options(options: dict) -> dict:
    """The probes' round students' options from the final students': one network each (an ensemble,
    ``members``, is for the students that are scored and shipped)."""
    return {k: v for k, v in options.items() if k != "members"}


def probe_fitter(
    spec: InputSpec, cfg: SynthesisConfig, device: torch.device | str = "cpu", progress: bool = False, student_options: dict | None = None
):
    """fit(x, targets) -> network, the round students of ``cfg.probe`` for a teacher of inputs ``spec``:
    ``cfg.probe_student`` ("auto": cnn_id for images, cnn_ecg for series) trained with ``student_options``
    (the final students' options, when the caller has them; else the student's defaults and at least 500
    steps, as a student of a small set that barely trained disagrees with the teacher everywhere), soft
    labels at tau 4, seeded by the synthesis, on inputs standardized with the teacher's normalization when
    it has one and the options ask for standardization or leave it open (the visualizations' own spread
    is not the data's)."""
    name = cfg.probe_student
    if name == "auto":
        name = "cnn_id" if len(spec.shape) == 3 else "cnn_ecg"
    given = student_options if student_options is not None else {"min_steps": 500}
    kw = {k: v for k, v in round_student_options(given).items() if k not in ("seed", "temperature", "device", "progress")}
    kw["standardize"] = spec.standardization(kw.get("standardize", spec.mean is not None))

    def fit(x: torch.Tensor, targets: torch.Tensor) -> torch.nn.Module:
        student = create_student(name, seed=cfg.seed, temperature=4.0, device=str(device), progress=progress, **kw)
        return student.fit(x, targets).net_

    return fit


def learn_students(
    x: torch.Tensor,
    targets: torch.Tensor,
    names: list[str],
    seeds: list[int],
    test: Split,
    teacher_pred: np.ndarray | None = None,
    student_kwargs: dict | None = None,
    progress: bool = True,
    on_result=None,
) -> dict:
    """Train every student ``name`` once per seed on (x, targets) and evaluate on ``test``.

    targets: (N,) labels or (N, K) distributions. Returns, per canonical student name,
    the runs and mean/std of accuracy and teacher agreement. ``on_result(name, seed, run)``
    is called after each run (e.g. to save partial results).
    """
    if not seeds:
        raise VistransferError("give at least one seed")
    results: dict = {}
    for name in names:
        key = canonical_name(name)
        runs = []
        for seed in seeds:
            t0 = time.perf_counter()
            student = create_student(key, seed=seed, progress=progress, **(student_kwargs or {}))
            student.fit(x, targets)
            fit_s = time.perf_counter() - t0
            run = evaluate(student, test, teacher_pred)
            run.update(seed=seed, fit_seconds=fit_s)
            runs.append(run)
            if on_result is not None:
                on_result(key, seed, run, student)
        results[key] = {"runs": runs, "accuracy": mean_std([r["accuracy"] for r in runs])}
        for metric in ("teacher_agreement", "auc"):
            if metric in runs[0]:
                results[key][metric] = mean_std([r[metric] for r in runs])
    return results


def teacher_proba(teacher: Teacher, x: torch.Tensor, device="cpu") -> np.ndarray:
    """The teacher's (N, K) softmax on ``x``."""
    return predict_logits(teacher.module, x, device).softmax(1).numpy()


def teacher_summary(teacher: Teacher, test: Split, device="cpu") -> tuple[dict, np.ndarray]:
    """The teacher's evaluation on ``test`` (with AUC on a two-class task) and its (N,) predictions."""
    proba = teacher_proba(teacher, test.x, device)
    pred = proba.argmax(1)
    return evaluate_predictions(pred, test, proba=proba), pred
