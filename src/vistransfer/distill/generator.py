"""One generator reused across batches, a few steps each (Fang et al., 2022, "Up to 100x faster
data-free knowledge distillation"): each batch starts from fresh latent codes and the generator as the
last batch left it, and takes ``steps`` steps on the same objective as DeepInversion's (the teacher's
class, batch-norm statistics, shifts and flips, the competition term). The generator carries what it
learned, so a batch costs a few teacher passes where DeepInversion's costs hundreds."""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from ..errors import VistransferError
from ..synthesis.objectives import Batch
from .method import Made, Method, register_method


class ImageGenerator(nn.Module):
    """z (B, z_dim) -> (B, C, H, W) in (0, 1): a linear layer onto a (2w, H/4, W/4) map, two nearest x2
    upsamplings with 3x3 convolutions, batch norm and leaky ReLU, a 3x3 convolution to C channels and a
    sigmoid (the generator of zju-vipa/DataFree's CIFAR-10 methods, w = 64)."""

    def __init__(self, shape: tuple[int, ...], z_dim: int = 256, width: int = 64):
        super().__init__()
        c, h, w = shape
        self.h0, self.w0, self.c0 = -(-h // 4), -(-w // 4), 2 * width
        self.shape = shape
        self.fc = nn.Linear(z_dim, self.c0 * self.h0 * self.w0)
        self.body = nn.Sequential(
            nn.BatchNorm2d(self.c0),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(self.c0, self.c0, 3, padding=1, bias=False),
            nn.BatchNorm2d(self.c0),
            nn.LeakyReLU(0.2),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(self.c0, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, c, 3, padding=1),
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.body(self.fc(z).view(len(z), self.c0, self.h0, self.w0))
        return out[..., : self.shape[1], : self.shape[2]]


@register_method
class ReusedGenerator(Method):
    name = "generator"
    needs_batchnorm = True

    def __init__(self, teacher, spec, n_classes, cfg, device, gen):
        super().__init__(teacher, spec, n_classes, cfg, device, gen)
        if spec.rank != 2:
            raise VistransferError("distill: the generator method makes images (C, H, W); for series use method = 'deepinversion'")
        with torch.random.fork_rng():
            torch.manual_seed(cfg.seed)
            self.g = ImageGenerator(spec.shape, cfg.z_dim).to(device)
        self.opt = torch.optim.Adam(self.g.parameters(), lr=cfg.lr, betas=(0.5, 0.999))

    def make(self, student, use_student: bool) -> Made:
        c, B = self.cfg, self.cfg.batch
        y = self.targets(B)
        z = torch.randn((B, c.z_dim), generator=self.gen).to(self.device).requires_grad_(True)
        opt_z = torch.optim.Adam([z], lr=c.g_lr_z, betas=(0.5, 0.999))
        objective = self.objective(use_student and student is not None)
        self.g.train()
        with self.bn if self.bn is not None else contextlib.nullcontext():
            for _ in range(c.steps):
                x = self.augment(self.spec.to_domain(self.g(z)))
                logits = self.teacher(x)
                s_logits = student(x) if use_student and student is not None and c.adv else None
                loss = -objective(Batch(logits, y, x=x, student_logits=s_logits)).mean()
                self.opt.zero_grad(set_to_none=True)
                opt_z.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                opt_z.step()
        with torch.no_grad():  # the batch as the steps optimized it: batch statistics, no augmentation
            x = self.spec.to_domain(self.g(z.detach()))
        return Made(x, y, B * c.steps)

    def state_dict(self) -> dict:
        return {"g": self.g.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.g.load_state_dict(state["g"])
        self.opt.load_state_dict(state["opt"])
