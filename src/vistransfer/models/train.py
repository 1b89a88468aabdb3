"""Supervised training of a network on hard or soft labels (Adam, cross-entropy on distributions)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import TrainConfig
from ..io import progress_bar


def fit_network(net: nn.Module, x: torch.Tensor, targets: torch.Tensor, cfg: TrainConfig,
                device: torch.device | str = "cpu", progress: bool = True, desc: str = "train") -> list[float]:
    """Train ``net`` in place. x: (N, C, H, W); targets: (N, K) rows summing to 1.

    Soft targets use PyTorch's cross-entropy with class probabilities, so hard labels
    (one-hot rows) and teacher softmax labels go through the same loss. With
    ``cfg.temperature`` tau != 1 the loss is tau^2 * CE(logits / tau, targets) (distillation;
    ``targets`` should already be softened with tau). Runs ``cfg.epochs`` epochs, or more to
    reach ``cfg.min_steps`` steps. Returns the mean loss of each epoch.
    """
    device = torch.device(device)
    net.to(device).train()
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n = len(x)
    steps_per_epoch = (n + cfg.batch_size - 1) // cfg.batch_size
    epochs = max(cfg.epochs, -(-cfg.min_steps // steps_per_epoch))
    tau = cfg.temperature
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=epochs * steps_per_epoch)
    losses = []
    bar = progress_bar(total=epochs * steps_per_epoch, desc=desc, unit="batch", enabled=progress)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, cfg.batch_size):
            idx = perm[i:i + cfg.batch_size]
            xb, tb = x[idx].to(device, non_blocking=True), targets[idx].to(device, non_blocking=True)
            loss = F.cross_entropy(net(xb) / tau, tb) * tau**2  # tau = 1: plain cross-entropy, bit for bit
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            bar.update(1)
        losses.append(total / n)
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    bar.close()
    net.eval()
    return losses


@torch.no_grad()
def predict_logits(net: nn.Module, x: torch.Tensor, device: torch.device | str = "cpu", batch: int = 2048) -> torch.Tensor:
    """Logits (N, K) of ``net`` in eval mode, computed in batches, returned on the CPU."""
    net.to(device).eval()
    return torch.cat([net(x[i:i + batch].to(device)).cpu() for i in range(0, len(x), batch)])
