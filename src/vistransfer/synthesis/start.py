"""Where G starts: the level of the flat image every generator outputs before AM moves it.

The paper starts every generator at mid-range (an output bias of 0 under the sigmoid: a grey image).
Many teachers call a grey image one class with confidence (the ELU teacher of ``benchmarks/teacher_zoo.py``
says "8" at softmax 1.00, an MLP "3"), so AM passes T for that class from the start, by brightness
alone, and draws the other classes from a start the teacher reads as that one.
:func:`neutral_level` finds, with the teacher alone (no data), the flat image it considers least any
class; ``SynthesisConfig.gen_start = "neutral"`` starts every generator there
(docs/visualization-quality.md).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..config import SynthesisConfig
from ..models.spec import InputSpec

# The levels tried, in G's (0, 1) output scale: kept off 0 and 1, whose logits (the output bias) are infinite.
LEVELS = torch.linspace(0.02, 0.98, 49)


def flat_softmax(teacher: nn.Module, spec: InputSpec, device: torch.device | str, levels: torch.Tensor = LEVELS) -> torch.Tensor:
    """(L, K) the teacher's softmax on flat inputs, one per level of G's (0, 1) scale, in the data domain."""
    g = levels.view(-1, *[1] * len(spec.shape)).expand(-1, *spec.shape).contiguous()
    with torch.no_grad():
        return teacher(spec.to_domain(g).to(device)).float().softmax(1).cpu()


def neutral_level(teacher: nn.Module, spec: InputSpec, device: torch.device | str = "cpu") -> float:
    """The level of G's (0, 1) scale, among :data:`LEVELS`, whose flat input gets the teacher's softmax of
    highest entropy: the featureless input it considers least any class (the lowest level of a tie)."""
    p = flat_softmax(teacher, spec, device)
    entropy = -(p * p.clamp_min(1e-12).log()).sum(1)
    return float(LEVELS[int(entropy.argmax())])


def start_bias(teacher: nn.Module, cfg: SynthesisConfig, spec: InputSpec, device: torch.device | str) -> tuple[float, int]:
    """G's initial output bias for ``cfg`` (``gen_out_bias``, or the logit of :func:`neutral_level` with
    ``gen_start = "neutral"``), and the teacher rows spent finding it."""
    if cfg.gen_start == "bias":
        return cfg.gen_out_bias, 0
    level = neutral_level(teacher, spec, device)
    return math.log(level / (1 - level)), len(LEVELS)
