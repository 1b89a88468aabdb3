"""Where G starts: the level of the flat image every generator outputs before AM moves it.

The paper starts every generator at mid-range (an output bias of 0 under the sigmoid: a grey image).
Many teachers call a grey image one class with confidence (the ELU teacher of ``benchmarks/teacher_zoo.py``
says "8" at softmax 1.00, an MLP "3"), so AM passes T for that class from the start, by brightness
alone, and draws the other classes from a start the teacher reads as that one.
:func:`neutral_level` finds, with the teacher alone (no data), the flat image it considers least any
class; ``SynthesisConfig.gen_start = "neutral"`` starts every generator there, and ``"auto"`` (the
default) does so only for a teacher that is sure of the paper's start and gives no class a majority on that
flat image (docs/findings.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

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


def neutral_verdict(teacher: nn.Module, spec: InputSpec, device: torch.device | str) -> tuple[float, float]:
    """The neutral level (see :func:`neutral_level`) and the teacher's top softmax on its flat input."""
    p = flat_softmax(teacher, spec, device)
    entropy = -(p * p.clamp_min(1e-12).log()).sum(1)
    i = int(entropy.argmax())
    return float(LEVELS[i]), float(p[i].max())


def neutral_level(teacher: nn.Module, spec: InputSpec, device: torch.device | str = "cpu") -> float:
    """The level of G's (0, 1) scale, among :data:`LEVELS`, whose flat input gets the teacher's softmax of
    highest entropy: the featureless input it considers least any class (the lowest level of a tie)."""
    return neutral_verdict(teacher, spec, device)[0]


# A teacher "is sure" of a flat input from this top softmax on. Our MNIST teachers give G's grey start 0.28 (the zoo's,
# 2 epochs) and 0.40 (the experiments', 8 epochs), the zoo's foreign teachers 0.94-1.00 (benchmarks/flat_verdicts.py).
CONFIDENT = 0.9
# "auto" moves G only onto a flat input on which no class holds a majority (top softmax below this). Set after
# measuring Apnea-ECG: Table 5's two-class teachers are sure of mid-range and still give "normal" 0.84 or more at
# their least sure flat series; starting there cost h2 6.6 points over four units (benchmarks/apnea_sweep.py,
# neutral_start), where the MNIST teachers sure of grey hold 0.18-0.48 at theirs and gain. A two-class teacher
# always has a majority, so "auto" leaves it at the paper's start.
NO_MAJORITY = 0.5


@dataclass(frozen=True)
class StartVerdict:
    """What the teacher says of G's paper start (the flat input at sigmoid(gen_out_bias)) and of its neutral level.
    ``neutral`` and ``neutral_p`` are None when the teacher is not sure of the start (they were not looked for)."""

    level: float
    cls: int
    p: float
    neutral: float | None = None
    neutral_p: float | None = None

    @property
    def sure(self) -> bool:
        return self.p >= CONFIDENT

    @property
    def go_neutral(self) -> bool:
        """Whether a neutral start moves G off an input the teacher is sure of onto one where no class holds a
        majority. A teacher with a majority class on every flat input (Table 5's Apnea-ECG teachers call any flat RR
        series "normal" at 0.84 or more) keeps the paper's start."""
        return self.sure and self.neutral_p is not None and self.neutral_p < NO_MAJORITY

    @property
    def rows(self) -> int:
        """Teacher rows spent reaching it: the start's, and the levels' when they were searched."""
        return 1 + (len(LEVELS) if self.neutral is not None else 0)


def start_verdict(teacher: nn.Module, spec: InputSpec, out_bias: float, device: torch.device | str = "cpu") -> StartVerdict:
    """The teacher's verdict on G's start at ``out_bias``; and, when it is sure of it, where the neutral level is
    and how sure it is there."""
    level = output_level(out_bias)
    p = flat_softmax(teacher, spec, device, torch.tensor([level]))[0]
    v = StartVerdict(level, int(p.argmax()), float(p.max()))
    if not v.sure:
        return v
    neutral, neutral_p = neutral_verdict(teacher, spec, device)
    return replace(v, neutral=neutral, neutral_p=neutral_p)


def start_bias(teacher: nn.Module, cfg: SynthesisConfig, spec: InputSpec, device: torch.device | str) -> tuple[float, int]:
    """G's initial output bias for ``cfg`` and the teacher rows spent finding it. "bias": ``gen_out_bias``;
    "neutral": the logit of :func:`neutral_level`; "auto": the neutral one where :attr:`StartVerdict.go_neutral`,
    else ``gen_out_bias``."""
    if cfg.gen_start == "bias":
        return cfg.gen_out_bias, 0
    if cfg.gen_start == "neutral":
        return _logit(neutral_level(teacher, spec, device)), len(LEVELS)
    v = start_verdict(teacher, spec, cfg.gen_out_bias, device)
    return (_logit(v.neutral) if v.go_neutral else cfg.gen_out_bias), v.rows


def output_level(out_bias: float) -> float:
    """G's initial output level in its (0, 1) scale for an output bias: sigmoid(out_bias), without overflow."""
    return 0.5 * (1 + math.tanh(out_bias / 2))


def _logit(level: float) -> float:
    """The output bias that starts G at ``level`` of its (0, 1) scale: :func:`output_level`'s inverse."""
    return math.log(level / (1 - level))


def start_label(out_bias: float) -> str:
    """G's starting level, as a run's record (a string: shards keep the first shard's, the same in every one)."""
    return f"level {output_level(out_bias):.2f} of the range (output bias {out_bias:.2f})"


def start_advice(
    teacher: nn.Module, cfg: SynthesisConfig, spec: InputSpec, classes: tuple[str, ...] | None = None, device: torch.device | str = "cpu"
) -> str | None:
    """One line for a user whose teacher is sure of G's paper start (flat, at sigmoid(gen_out_bias)) and gives no
    class a majority on a neutral one, else None: with ``gen_start`` "auto", where G starts instead and why; with "bias", the
    remedy. Our MNIST teacher gives mid-grey "8" at 0.28 and gets no line; the zoo's ELU teacher "8" at 1.00."""
    if cfg.gen_start == "neutral":
        return None
    v = start_verdict(teacher, spec, cfg.gen_out_bias, device)
    if not v.go_neutral:
        return None
    name = classes[v.cls] if classes and v.cls < len(classes) else str(v.cls)
    said = f"the teacher calls G's paper start (flat, at {v.level:.2f} of the value range) {name!r} at softmax {v.p:.2f}"
    if cfg.gen_start == "auto":
        return (
            f"{said}, so G starts at the flat input it considers least any class ({v.neutral:.2f} of the range, "
            f'top softmax {v.neutral_p:.2f}; gen_start "auto"). --gen-start bias keeps the paper\'s start '
            "(docs/findings.md#where-g-starts in the repository)"
        )
    return (
        f"{said}: AM can reach T for that class by brightness alone and starts every other class from it. "
        'gen_start "neutral" or "auto" (--gen-start, or in a config\'s [synthesis] table) starts G at the flat '
        f"input the teacher considers least any class ({v.neutral:.2f} of the range here), found with the teacher "
        "alone; for four MNIST teachers like this one it taught CNN_ID students 6-14 points more from 300 "
        "visualizations and up to 2.7 more from 6,000 (docs/findings.md#where-g-starts in the repository)"
    )
