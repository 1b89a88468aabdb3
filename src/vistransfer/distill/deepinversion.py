"""DeepInversion (Yin et al., 2020): each batch's inputs are optimized directly for the teacher's
classes, under its batch-norm statistics and an image prior, through random shifts and flips; with
the competition term (``adv`` > 0) also toward inputs where the current student and the teacher part
(Adaptive DeepInversion). Nothing is carried from one batch to the next."""

from __future__ import annotations

import contextlib

import torch

from ..synthesis.objectives import Batch
from .method import Made, Method, register_method


@register_method
class DeepInversion(Method):
    name = "deepinversion"
    needs_batchnorm = True

    def make(self, student, use_student: bool) -> Made:
        c, B = self.cfg, self.cfg.batch
        y = self.targets(B)
        # the inputs live as logits of the data domain's (0, 1) scale, so every step stays inside the domain
        z = (torch.randn((B, *self.spec.shape), generator=self.gen) * 0.5).to(self.device).requires_grad_(True)
        opt = torch.optim.Adam([z], lr=c.lr, betas=(0.5, 0.9))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, c.steps)
        objective = self.objective(use_student and student is not None)
        with self.bn if self.bn is not None else contextlib.nullcontext():
            for _ in range(c.steps):
                x = self.augment(self.spec.to_domain(torch.sigmoid(z)))
                logits = self.teacher(x)
                s_logits = student(x) if use_student and student is not None and c.adv else None
                loss = -objective(Batch(logits, y, x=x, student_logits=s_logits)).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
        return Made(self.spec.to_domain(torch.sigmoid(z.detach())), y, B * c.steps)
