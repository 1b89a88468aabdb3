"""The settings of a distillation run, with their checks: a bad value is refused naming its key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import VistransferError
from .method import METHODS


@dataclass(frozen=True)
class DistillConfig:
    """One distillation run: ``rounds`` times, the method makes ``batch`` inputs (``steps`` optimizer
    steps each) into the pool, then the student takes ``kd_steps`` steps on the pool."""

    method: str = "deepinversion"
    rounds: int = 200
    batch: int = 256
    steps: int = 200  # synthesis steps per batch
    lr: float = 0.1  # synthesis learning rate (inputs or generator)
    ce: float = 1.0  # weight of the teacher's cross-entropy for the batch's target classes
    bn: float = 10.0  # weight of the batch-norm prior (DeepInversion's feature statistics)
    tv: float = 0.0  # weight of total variation
    l2: float = 0.0  # weight of the inputs' mean square
    adv: float = 1.0  # weight of the competition term (teacher-student disagreement); 0: without it
    warmup: int = 5  # rounds before the competition term starts (the student knows nothing yet)
    jitter: int = 2  # shift of each input by up to this many pixels per axis at every synthesis step
    flip: bool = True  # horizontal flips at every synthesis step
    student: str = "cnn_cifar1"
    kd_steps: int = 50  # student steps per round
    kd_batch: int = 256
    kd_lr: float = 0.1  # SGD with momentum 0.9 and a cosine schedule over every round's steps
    kd_weight_decay: float = 5e-4
    temperature: float = 20.0  # distillation temperature of the teacher's and student's softmax
    kd_jitter: int = 4  # augmentation of pool inputs for the student: shifts and flips
    g_lr_z: float = 0.01  # the generator method: learning rate of each batch's latent codes
    z_dim: int = 256  # the generator method's latent size
    synthesis: dict[str, Any] = field(default_factory=dict)  # the paper method: SynthesisConfig overrides
    seed: int = 0

    def __post_init__(self) -> None:
        def need(ok: bool, key: str, what: str) -> None:
            if not ok:
                raise VistransferError(f"distill: {key} must be {what}, got {getattr(self, key)!r}")

        need(self.method in METHODS, "method", f"one of {sorted(METHODS)}")
        for key in ("rounds", "batch", "steps", "kd_batch", "z_dim"):
            v = getattr(self, key)
            need(isinstance(v, int) and not isinstance(v, bool) and v > 0, key, "a whole number > 0")
        for key in ("warmup", "jitter", "kd_steps", "kd_jitter", "seed"):
            v = getattr(self, key)
            need(isinstance(v, int) and not isinstance(v, bool) and v >= 0, key, "a whole number >= 0")
        for key in ("lr", "kd_lr", "temperature", "g_lr_z"):
            v = getattr(self, key)
            need(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0, key, "a number > 0")
        for key in ("ce", "bn", "tv", "l2", "adv", "kd_weight_decay"):
            v = getattr(self, key)
            need(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0, key, "a number >= 0")
        need(isinstance(self.flip, bool), "flip", "true or false")
        need(isinstance(self.synthesis, dict), "synthesis", "a table of synthesis settings")
