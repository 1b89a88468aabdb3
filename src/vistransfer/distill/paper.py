"""The paper's procedure as a distillation method: every batch is one run of the generator AM of
:mod:`vistransfer.synthesis` (its ``[synthesis]`` settings: the paper's G, T, movements; with
``bn_prior``, ``jitter`` and ``flip`` the batch-norm prior and augmentation join it), a new seed each
round. The student does not enter its objective."""

from __future__ import annotations

import dataclasses

from ..config import SynthesisConfig, from_dict
from ..synthesis.engine import synthesize
from .method import Made, Method, register_method


@register_method
class PaperAM(Method):
    name = "paper"

    def __init__(self, teacher, spec, n_classes, cfg, device, gen):
        super().__init__(teacher, spec, n_classes, dataclasses.replace(cfg, bn=0.0), device, gen)
        self.synthesis = from_dict(SynthesisConfig, {**cfg.synthesis, "n": cfg.batch})
        self.round = 0

    def make(self, student, use_student: bool) -> Made:
        cfg = dataclasses.replace(self.synthesis, seed=self.synthesis.seed + 1_000_003 * self.cfg.seed + self.round)
        out, stats = synthesize(self.teacher, cfg, self.spec, self.K, self.device, progress=False)
        self.round += 1
        return Made(out["x"], out["target"].to(self.device), int(stats["teacher_rows"]))

    def state_dict(self) -> dict:
        return {"round": self.round}

    def load_state_dict(self, state: dict) -> None:
        self.round = int(state["round"])
