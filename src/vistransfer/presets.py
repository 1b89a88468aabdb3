"""Per-dataset defaults, in one place: the teacher's training, the students' recipe, and what `run` and
`teach` use for a dataset unless told otherwise (value range, normalization, architecture, students,
synthesis settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import TrainConfig, merged

# The teacher's training per dataset (teach, run and experiments read it). digits is tiny (1,347 training
# images): it gets more epochs and smaller batches, so that its teacher reaches T = 0.99.
TEACHER_PRESETS: dict[str, TrainConfig] = {
    "digits": TrainConfig(epochs=30, batch_size=64, lr=3e-3),
    "apnea-ecg": TrainConfig(epochs=10, batch_size=64, lr=2e-3),
    # Appendix D's h1/CNN1: SGD with a one-cycle schedule, weight decay, flips, shifts and rotations
    "cifar10": TrainConfig(epochs=30, batch_size=128, lr=0.05, weight_decay=5e-4, optimizer="sgd", amp=True, augment="flip-shift-rotate"),
    "default": TrainConfig(epochs=8, batch_size=128, lr=2e-3),
}
# Neural students' recipe per dataset, before a config's [student] table and the command line. "default" is the
# MNIST tables' (experiments/_presets.toml [student.mnist]): at least 1,500 steps, so small sets are not
# under-trained (docs/findings.md#the-student-recipe). digits and CIFAR-10 train by epochs alone.
STUDENT_PRESETS: dict[str, dict[str, Any]] = {"digits": {"epochs": 30}, "cifar10": {"epochs": 10}, "default": {"epochs": 10, "min_steps": 1500}}


@dataclass(frozen=True)
class DatasetDefaults:
    """What ``run`` and ``teach`` use for a dataset unless told otherwise: the data domain, whether
    the teacher normalizes with the training data's statistics, its architecture, the students and
    their options, and synthesis settings. Series need all of these; images in [0, 1] need none."""

    value_range: tuple[float, float] = (0.0, 1.0)
    normalize_from_train: bool = False
    arch: str = "teacher"  # an architecture of models.registry (the teacher's)
    students: str = "cnn_id,cnn_small,mlp,svm,rf"
    student: tuple[tuple[str, Any], ...] = ()
    synthesis: tuple[tuple[str, Any], ...] = ()


# Apnea-ECG: RR intervals in seconds (cleaned to [0.3, 2.0]), a deeper 1-D teacher, students that standardize
# their inputs, log_softmax AM (a two-class teacher's raw logit saturates G), one visualization per generator
# and a 100-step budget, G drawing at 1 Hz (about the beat rate), one blend per visualization and one offset per
# example of the set. What each is worth: docs/findings.md#apnea-ecg-the-generators-rate and docs/apnea.md.
DATASET_DEFAULTS: dict[str, DatasetDefaults] = {
    "apnea-ecg": DatasetDefaults(
        (0.3, 2.0),
        True,
        "ecg",
        "cnn_ecg,mlp,rf",
        (("standardize", True), ("min_steps", 500)),
        (("objective", "log_softmax"), ("group_size", 1), ("slots", 64), ("max_steps", 100), ("gen_downscale", 4), ("blend", 1.0), ("offset", 1.0)),
    ),
    # CIFAR-10: Appendix D's CNN1 as h1, normalized with the training images' channel statistics
    "cifar10": DatasetDefaults((0.0, 1.0), True, "cifar-cnn1", "cnn_cifar1,cnn_id,mlp", (("amp", True),)),
}


def dataset_defaults(dataset: str) -> DatasetDefaults:
    return DATASET_DEFAULTS.get(dataset, DatasetDefaults())


def teacher_preset(dataset: str, **overrides: Any) -> TrainConfig:
    base = TEACHER_PRESETS.get(dataset, TEACHER_PRESETS["default"])
    return merged(TrainConfig, base, overrides)
