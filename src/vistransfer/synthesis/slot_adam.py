"""Adam over S independent generators stored as stacked tensors.

``torch.optim.Adam`` keeps one step counter per tensor, but every slot of the bank is a
separate optimization problem re-initialized at its own time, so bias correction needs a
step counter and a learning rate *per slot*. The update is otherwise Adam's, element-wise.
"""

from __future__ import annotations

import torch


class SlotAdam:
    def __init__(self, params: list[torch.Tensor], betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params, self.betas, self.eps = params, betas, eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = torch.zeros(params[0].shape[0], device=params[0].device)

    @torch.no_grad()
    def reset(self, idx: torch.Tensor) -> None:
        """Forget the moments and the step count of slots ``idx`` (a new generator)."""
        for m, v in zip(self.m, self.v):
            m[idx] = 0.0
            v[idx] = 0.0
        self.t[idx] = 0.0

    @torch.no_grad()
    def step(self, lr: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """One Adam step with per-slot ``lr`` (S,); slots where ``mask`` (S,) is False stay put.

        In place and without masks when every slot is live: with many small generators the
        update is bound by memory traffic over (params, grads, m, v), not by arithmetic.
        """
        b1, b2 = self.betas
        if mask is None:
            self.t += 1
        else:
            self.t += mask.float()
        t = self.t.clamp(min=1.0)
        step_size = lr / (1 - b1**t)  # (S,)
        if mask is not None:
            step_size = step_size * mask
        bc2_sqrt = (1 - b2**t).sqrt()
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            g = p.grad
            shape = (-1,) + (1,) * (p.dim() - 1)
            if mask is not None:  # frozen slots keep their moments: zero their gradient's effect
                keep = mask.view(shape)
                m.copy_(torch.where(keep, m * b1 + g * (1 - b1), m))
                v.copy_(torch.where(keep, v * b2 + g * g * (1 - b2), v))
            else:
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = v.sqrt().div_(bc2_sqrt.view(shape)).add_(self.eps)
            p.sub_(m.div(denom).mul_(step_size.view(shape)))
            p.grad = None
