"""What a synthetic set records about each point, defined once: its fields and its provenance."""

from __future__ import annotations

from enum import IntEnum

import torch

# The per-point tensors of a synthetic set (SyntheticDataset), in its constructor's order.
FIELDS = ("x", "probs", "target", "passed_step", "threshold", "group", "kind")


class Kind(IntEnum):
    """How a point of a synthetic set was made (``SyntheticDataset.kind``). AM results are >= -1."""

    ATTRACT_ONE = 0  # AM after Appendix C's movements, in config.MOVEMENT_KINDS order
    REPEL_MANY = 1
    ATTRACT_MANY = 2
    NO_MOVEMENT = -1  # AM from G's start
    BLEND = -2  # lam * a + (1 - lam) * b of two visualizations, labelled by the teacher (synthesis/blend.py)
    PROBE = -3  # moved to where a student disagreed with the teacher (synthesis/probe.py)
    CONTRAST = -4  # benchmarks/apnea_level.py: a point of the set with its contrast scaled
    OFFSET = -5  # a point of the set moved by a constant (synthesis/offset.py)
    NEIGHBOUR = -6  # benchmarks/apnea_sweep.py: a point of the set moved by noise
    DISTILLED = -7  # made by a distillation method for the teacher's class (vistransfer.distill)

    @property
    def label(self) -> str:
        return "none" if self is Kind.NO_MOVEMENT else self.name.lower()


class Records:
    """Points appended as they are accepted (CPU tensors), one list per field of :data:`FIELDS`."""

    def __init__(self) -> None:
        self.parts: dict[str, list[torch.Tensor]] = {f: [] for f in FIELDS}

    def add(self, **tensors: torch.Tensor) -> None:
        for f in FIELDS:
            self.parts[f].append(tensors[f])

    def cat(self) -> dict[str, torch.Tensor]:
        return {f: torch.cat(v) for f, v in self.parts.items()}
