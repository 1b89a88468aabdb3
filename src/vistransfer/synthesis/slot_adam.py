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
        """One Adam step with per-slot ``lr`` (S,); slots where ``mask`` (S,) is False stay put."""
        b1, b2 = self.betas
        live = torch.ones_like(self.t, dtype=torch.bool) if mask is None else mask
        self.t += live.float()
        t = self.t.clamp(min=1.0)
        step_size = torch.where(live, lr / (1 - b1 ** t), torch.zeros_like(lr))  # (S,)
        bc2_sqrt = (1 - b2 ** t).sqrt()
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            g = p.grad
            shape = (-1,) + (1,) * (p.dim() - 1)
            keep = live.view(shape)
            m.copy_(torch.where(keep, m * b1 + g * (1 - b1), m))
            v.copy_(torch.where(keep, v * b2 + g * g * (1 - b2), v))
            denom = v.sqrt() / bc2_sqrt.view(shape) + self.eps
            p.sub_(step_size.view(shape) * m / denom)
            p.grad = None
