"""Supervised training of a network on hard or soft labels (Adam, cross-entropy on distributions)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..config import AUGMENTATIONS, TrainConfig
from ..errors import VistransferError, require
from ..io import load_torch, progress_bar, save_torch


def make_augment(name: str) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """A batch augmentation by name (``TrainConfig.augment``): kornia draws parameters per example,
    on the batch's device, from torch's RNG (so a seed and a resumed RNG state reproduce it)."""
    if not name:
        return None
    K = require("kornia.augmentation", "augment", f"augment = {name!r}")

    if name == "flip-shift-rotate":
        # padding "border" repeats edge pixels, as Keras' ImageDataGenerator (fill_mode="nearest") does
        return K.AugmentationSequential(K.RandomHorizontalFlip(), K.RandomAffine(degrees=15.0, translate=(0.1, 0.1), padding_mode="border", p=1.0))
    raise VistransferError(f"unknown augmentation {name!r}; choose one of {AUGMENTATIONS}")


def _autocast(device: torch.device, enabled: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


def fit_network(
    net: nn.Module,
    x: torch.Tensor,
    targets: torch.Tensor,
    cfg: TrainConfig,
    device: torch.device | str = "cpu",
    progress: bool = True,
    desc: str = "train",
    checkpoint: str | Path | None = None,
) -> list[float]:
    """Train ``net`` in place. x: (N, C, H, W) or (N, C, L); targets: (N, K) rows summing to 1.

    Soft targets use PyTorch's cross-entropy with class probabilities, so hard labels
    (one-hot rows) and teacher softmax labels go through the same loss. With
    ``cfg.temperature`` tau != 1 the loss is tau^2 * CE(logits / tau, targets) (distillation;
    ``targets`` should already be softened with tau). Runs ``cfg.epochs`` epochs, or more to
    reach ``cfg.min_steps`` steps, with a one-cycle schedule. Returns the mean loss of each epoch.

    checkpoint: a file that receives the whole training state after every epoch (weights, optimizer,
    schedule, RNG states); a run that finds it continues from there, so an interrupted training
    loses at most one epoch. It is removed when training finishes.
    """
    device = torch.device(device)
    net.to(device).train()
    gen = torch.Generator().manual_seed(cfg.seed)
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n = len(x)
    steps_per_epoch = (n + cfg.batch_size - 1) // cfg.batch_size
    epochs = max(cfg.epochs, -(-cfg.min_steps // steps_per_epoch))
    tau = cfg.temperature
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=epochs * steps_per_epoch)
    augment = make_augment(cfg.augment)
    channels_last = cfg.amp and x.dim() == 4
    if channels_last:
        net.to(memory_format=torch.channels_last)
    losses, seconds_before = _load_checkpoint(checkpoint, net, opt, sched, gen, n) if checkpoint else ([], 0.0)
    t0 = time.perf_counter()
    bar = progress_bar(total=epochs * steps_per_epoch, initial=len(losses) * steps_per_epoch, desc=desc, unit="batch", enabled=progress)
    for _ in range(len(losses), epochs):
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            xb, tb = x[idx].to(device, non_blocking=True), targets[idx].to(device, non_blocking=True)
            if augment is not None:
                xb = augment(xb)
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with _autocast(device, cfg.amp):
                logits = net(xb).float()
            loss = F.cross_entropy(logits / tau, tb) * tau**2  # tau = 1: plain cross-entropy, bit for bit
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            bar.update(1)
        losses.append(total / n)
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
        if checkpoint:
            save_torch(
                checkpoint,
                {
                    "artifact": "training-checkpoint",
                    "net": net.state_dict(),
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(),
                    "gen": gen.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "losses": losses,
                    "n": n,
                    "epochs": epochs,
                    "seconds": seconds_before + time.perf_counter() - t0,
                },
            )
    bar.close()
    if channels_last:
        net.to(memory_format=torch.contiguous_format)
    if checkpoint:
        Path(checkpoint).unlink(missing_ok=True)
    net.eval()
    return losses


def checkpoint_seconds(path: str | Path | None) -> float:
    """Training seconds spent in the finished epochs of a checkpoint (0 when there is none)."""
    if not path or not Path(path).is_file():
        return 0.0
    return float(load_torch(path, "training-checkpoint").get("seconds", 0.0))


def _load_checkpoint(path: str | Path, net: nn.Module, opt: torch.optim.Optimizer, sched, gen: torch.Generator, n: int) -> tuple[list[float], float]:
    """Restore a training state written by :func:`fit_network`; returns the epoch losses and training
    seconds so far (none without a checkpoint). A checkpoint of another training is an error, not a guess."""
    if not Path(path).is_file():
        return [], 0.0
    d = load_torch(path, "training-checkpoint")
    try:
        net.load_state_dict(d["net"])
        opt.load_state_dict(d["opt"])
        sched.load_state_dict(d["sched"])
    except (RuntimeError, ValueError, KeyError) as e:
        raise VistransferError(f"{path} is a checkpoint of a different training ({type(e).__name__}); delete it to start over") from None
    if d["n"] != n:
        raise VistransferError(f"{path} was written for {d['n']} training examples, not {n}; delete it to start over")
    gen.set_state(d["gen"])
    torch.set_rng_state(d["torch_rng"])
    return list(d["losses"]), float(d.get("seconds", 0.0))


@torch.no_grad()
def predict_logits(net: nn.Module, x: torch.Tensor, device: torch.device | str | None = None, batch: int = 2048) -> torch.Tensor:
    """Logits (N, K) of ``net`` in eval mode, computed in batches, returned on the CPU.

    ``device`` None computes where the net's weights are (the CPU for a net without any); a device
    given moves the net there and leaves it there."""
    if device is None:
        device = next((p.device for p in net.parameters()), torch.device("cpu"))
    net.to(device).eval()
    return torch.cat([net(x[i : i + batch].to(device)).cpu() for i in range(0, len(x), batch)])
