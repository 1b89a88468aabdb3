"""What the benchmarks share: the cached MNIST teacher, the two synthesis methods, students
trained as in the experiments, and the difference of set means. Run the benchmarks as modules
from the repository root (``python -m benchmarks.synthesis_speed``), so they import this one.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from benchmarks.reference import synthesize_reference
from vistransfer.config import SynthesisConfig, TrainConfig
from vistransfer.data import load_dataset
from vistransfer.evaluation import mean_std
from vistransfer.experiments import find_experiment, load_experiment
from vistransfer.io import cache_dir
from vistransfer.models.teacher import Teacher, train_teacher
from vistransfer.pipeline import learn_students
from vistransfer.presets import teacher_preset
from vistransfer.synthesis.engine import synthesize

# Appendix C's grouping, which the engine-against-reference benchmarks measure (the reference procedure is
# the paper's, groups of 9) and which made their committed results; SynthesisConfig's default is one per generator.
PAPER_GROUPS = {"group_size": 9, "slots": 32}

# The engine as it was up to vistransfer 0.3: every class raced from the first step, a generator in
# flight counted as one visualization to come, the teacher in its own memory layout. "engine_previous"
# runs it, so a change is measured against it in one run.
PREVIOUS_ENGINE = {"race_tail": "all", "plan": "count"}


def synthesize_with(method: str, teacher: Teacher, cfg: SynthesisConfig, device) -> tuple[dict, dict]:
    """Synthesize with ``method``: "reference" (the paper's procedure), "engine" (today's engine
    with ``cfg``) or "engine_previous" (the 0.3 engine: ``cfg`` with PREVIOUS_ENGINE, NCHW teacher)."""
    if method == "reference":
        return synthesize_reference(teacher.module, cfg, teacher.spec, teacher.n_classes, device)
    if method == "engine_previous":
        return synthesize(
            teacher.module, replace(cfg, **PREVIOUS_ENGINE), teacher.spec, teacher.n_classes, device, progress=False, channels_last=False
        )
    return synthesize(teacher.module, cfg, teacher.spec, teacher.n_classes, device, progress=False)


# Students train as in the experiments: Table 1's [student] (10 epochs, at least 1,500 steps).
STUDENT = load_experiment(find_experiment("table1", Path(__file__).resolve().parents[1] / "experiments")).student


def student_accuracy(sets: list[tuple[torch.Tensor, torch.Tensor]], test, seeds: list[int], device, **options) -> dict:
    """Real-test accuracy of CNN_ID students: mean_std over every (set, student seed), each set's mean, and
    the mean over them of each class's accuracy (``per_class``, by class name).
    Targets are labels (N,) or distributions (N, K); ``options`` override the student's (``temperature=4``)."""
    learned = [
        learn_students(x, t, ["cnn_id"], seeds, test, student_kwargs={**STUDENT, "device": str(device), **options}, progress=False)["cnn_id"]
        for x, t in sets
    ]
    per_set = [r["accuracy"] for r in learned]
    pooled = mean_std([v for a in per_set for v in a["values"]])
    pooled["per_set_mean"] = [a["mean"] for a in per_set]
    runs = [run["per_class_accuracy"] for r in learned for run in r["runs"]]
    pooled["per_class"] = {c: float(np.mean([run[c] for run in runs])) for c in runs[0]}
    return pooled


DIGITS_TEACHER = TrainConfig(epochs=20, batch_size=64, lr=3e-3, seed=0)  # also tests/conftest.py's digits_teacher


def digits_teacher() -> Teacher:
    """The tests' 8x8 digits ConvNet (scikit-learn's digits, ``DIGITS_TEACHER``; seconds to train)."""
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    return train_teacher(train, test, DIGITS_TEACHER, "digits", progress=False)


def get_teacher(data_dir, device) -> Path:
    path = cache_dir() / "bench" / "teacher-mnist-seed0.pt"
    if not path.is_file():
        tr, te = load_dataset("mnist", "train", data_dir), load_dataset("mnist", "test", data_dir)
        train_teacher(tr, te, teacher_preset("mnist"), "mnist", device=device, progress=True).save(path)
    return path


def set_mean_difference(ref: list[float], eng: list[float], name: str = "engine_minus_reference") -> dict:
    """``eng`` minus ``ref`` over set means, under key ``name``, with its standard error (Welch; sets
    are the independent units, students of one set are not). The error is None with fewer than 2 sets."""
    r, e = mean_std(ref), mean_std(eng)
    se = (r["std"] ** 2 / r["n"] + e["std"] ** 2 / e["n"]) ** 0.5 if min(r["n"], e["n"]) > 1 else None
    return {name: e["mean"] - r["mean"], "standard_error": se}
