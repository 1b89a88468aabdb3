"""The interface of a synthesis method for distillation, and the registry of methods by name.

A method makes one batch of inputs at a time for the teacher's classes, with the current student at
hand (for a competition term), and counts the teacher rows it spent. It keeps what it carries from
batch to batch (a generator, its optimizer) in ``state_dict`` so that a run resumes exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import VistransferError
from ..models.spec import InputSpec
from ..synthesis.objectives import BatchNormPrior, Objective, class_log_softmax, disagreement, l2_norm, total_variation
from ..synthesis.transforms import flip, shift


@dataclass
class Made:
    """One batch: x (B, *shape) in the data domain, detached; target (B,) the classes it was made for;
    teacher_rows: teacher inputs spent making it (forward passes, each with its backward)."""

    x: torch.Tensor
    target: torch.Tensor
    teacher_rows: int


class Method:
    """Base of the synthesis methods. ``teacher``: an eval-mode module from the data domain to logits;
    ``cfg``: a :class:`~.options.DistillConfig`; ``gen``: the run's random stream (CPU)."""

    name = ""
    needs_batchnorm = False  # refuse a teacher whose BN layers a TorchScript or exported graph hides

    def __init__(self, teacher: nn.Module, spec: InputSpec, n_classes: int, cfg, device: torch.device, gen: torch.Generator):
        self.teacher, self.spec, self.K, self.cfg, self.device, self.gen = teacher, spec, n_classes, cfg, device, gen
        self.bn = BatchNormPrior(teacher) if cfg.bn > 0 else None
        if self.bn is not None and not self.bn:
            raise VistransferError(f"distill: method {self.name!r} with bn > 0 needs a teacher with batch-norm layers; this one has none: set bn = 0")

    def make(self, student: nn.Module | None, use_student: bool) -> Made:
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    # --- what the methods share -------------------------------------------------------------
    def targets(self, n: int) -> torch.Tensor:
        """n target classes, as balanced as n allows, in a random order."""
        y = torch.arange(n) % self.K
        return y[torch.randperm(n, generator=self.gen)].to(self.device)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """The synthesis step's differentiable augmentation: shifts of up to ``jitter`` and flips."""
        if self.cfg.jitter:
            x = shift(x, self.cfg.jitter, self.gen)
        if self.cfg.flip and x.dim() == 4:
            x = flip(x, self.gen)
        return x

    def objective(self, use_student: bool) -> Objective:
        """What each synthesis step maximizes: the target's log-probability minus the weighted priors,
        plus the competition term once the student is in the loop (terms of :mod:`..synthesis.objectives`)."""
        c = self.cfg
        obj = c.ce * class_log_softmax()
        if self.bn is not None:
            obj = obj - c.bn * self.bn.objective()
        if c.tv:
            obj = obj - c.tv * total_variation()
        if c.l2:
            obj = obj - c.l2 * l2_norm()
        if use_student and c.adv:
            obj = obj + c.adv * disagreement()
        return obj


METHODS: dict[str, Callable[..., Method]] = {}


def register_method(cls: type[Method]) -> type[Method]:
    METHODS[cls.name] = cls
    return cls


def create_method(name: str, *args, **kwargs) -> Method:
    if name not in METHODS:
        raise VistransferError(f"unknown distillation method {name!r}; choose one of {sorted(METHODS)}")
    return METHODS[name](*args, **kwargs)
