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


def output_level(out_bias: float) -> float:
    """G's initial output level in its (0, 1) scale for an output bias: sigmoid(out_bias), without overflow."""
    return 0.5 * (1 + math.tanh(out_bias / 2))


def start_label(out_bias: float) -> str:
    """G's starting level, as a run's record (a string: shards keep the first shard's, the same in every one)."""
    return f"level {output_level(out_bias):.2f} of the range (output bias {out_bias:.2f})"


def start_advice(teacher: nn.Module, cfg: SynthesisConfig, spec: InputSpec, classes: tuple[str, ...] | None = None,
                 device: torch.device | str = "cpu", confident: float = 0.9) -> str | None:
    """One line for a user whose teacher calls G's starting image (flat, at sigmoid(gen_out_bias)) a class at
    softmax ``confident`` or more while ``gen_start`` is "bias", else None. Our MNIST teacher gives mid-grey
    "8" at 0.28 and gets no note; the zoo's ELU teacher "8" at 1.00."""
    if cfg.gen_start != "bias":
        return None
    level = output_level(cfg.gen_out_bias)
    p = flat_softmax(teacher, spec, device, torch.tensor([level]))[0]
    if float(p.max()) < confident:
        return None
    c = int(p.argmax())
    name = classes[c] if classes and c < len(classes) else str(c)
    return (f"the teacher calls G's starting image (flat, at {level:.2f} of the value range) {name!r} at softmax "
            f"{float(p.max()):.2f}: AM can reach T for that class by brightness alone and starts every other class from "
            "it. gen_start \"neutral\" (--gen-start neutral, or in a config's [synthesis] table) starts G at the flat "
            "image the teacher considers least any class, found with the teacher alone; for four MNIST teachers like "
            "this one it taught CNN_ID students 6-14 points more from 300 visualizations and 0-3 more from 6,000 "
            "(docs/visualization-quality.md#where-g-starts in the repository)")
