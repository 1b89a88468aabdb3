"""Networks of Section 4.1: the teacher h1 and the neural students, sized from the input shape.

The CNNs follow the input's rank: images (C, H, W) get 2-D layers, series (C, L) 1-D layers of
the same sizes, so the architectures of Table 1 carry over to the Apnea-ECG minutes unchanged.

Every classifier exposes the contract the synthesizer relies on, explicitly:

* ``features(x)``: (B, C, H, W) or (B, C, L) -> (B, D), the second-to-last layer L-1 (Eq. 3 of Loss2);
* ``head(f)``:     (B, D) -> (B, K) logits of the output layer L;
* ``forward(x) = head(features(x))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from ..config import to_dict


@dataclass(frozen=True)
class ConvArch:
    """conv-pool blocks, then fully connected layers, then dropout and the output layer.

    A block is ``per_block`` convolutions (each followed by batch norm when ``batchnorm``, then the
    activation), a pooling layer and, with ``block_dropout`` > 0, dropout (Appendix D's CIFAR-10 nets).
    """

    channels: tuple[int, ...] = (16, 32)
    kernel: int = 5
    fc: tuple[int, ...] = (128,)
    pool: str = "max"  # "max" or "avg"
    act: str = "relu"  # "relu" or "elu"
    dropout: float = 0.5
    # added after the first nets were cached: left out of to_dict() while at their defaults
    per_block: int = field(default=1, metadata={"omit_default": True})
    batchnorm: bool = field(default=False, metadata={"omit_default": True})
    block_dropout: float = field(default=0.0, metadata={"omit_default": True})
    # each input (B, C, L|H, W) standardized by its own mean and std over positions first (window_standardize)
    window_norm: bool = field(default=False, metadata={"omit_default": True})

    def to_dict(self) -> dict:
        return to_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ConvArch:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@dataclass(frozen=True)
class MLPArch:
    hidden: tuple[int, ...] = (256, 128, 64)
    dropout: float = 0.0


# h1: conv-maxpool-conv-maxpool-fc1-dropout-fc2 (Section 4.1). The paper gives no sizes. 5x5
# kernels follow the classic MNIST CNN it resembles; 16/32 channels and fc1 = 128 make the
# teacher 4x cheaper to probe than 32/64/1024 (6 vs 28 MFLOP per image), and synthesis is
# nothing but probing the teacher (benchmarks/README.md has the measurements).
TEACHER_ARCH = ConvArch()
# CNN_S: half the channels of every conv layer and half the fc units.
SMALL_ARCH = replace(TEACHER_ARCH, channels=tuple(c // 2 for c in TEACHER_ARCH.channels), fc=tuple(f // 2 for f in TEACHER_ARCH.fc))
# CNN_L: one more conv and one more fc layer, average pooling and ELU.
LARGE_ARCH = replace(TEACHER_ARCH, channels=TEACHER_ARCH.channels + (TEACHER_ARCH.channels[-1],), fc=TEACHER_ARCH.fc * 2, pool="avg", act="elu")
# CNN_s: fewer weights than CNN_S (a quarter of h1's channels, 3x3 kernels, 64 fc units).
TINY_ARCH = replace(TEACHER_ARCH, channels=tuple(c // 4 for c in TEACHER_ARCH.channels), kernel=3, fc=(64,))


# The Apnea-ECG teacher (Section 4.3; the paper gives no sizes): five conv-pool blocks with 9-wide
# kernels take a 5-minute RR window (1,200 samples at 4 Hz) down to 37 positions, so the last layers
# see the 30-90 s cycles of apnea. Measured on team 1 (random minutes): 91.5% against 82% for TEACHER_ARCH.
ECG_ARCH = ConvArch(channels=(16, 32, 64, 64, 64), kernel=9, fc=(64,))
# A phone- or watch-sized student of the same shape: a quarter of the channels after the first two blocks and
# half the fc units, about a ninth of ECG_ARCH's weights (27k against 251k), most of them still in the fc layer.
ECG_SMALL_ARCH = ConvArch(channels=(8, 16, 16, 16, 16), kernel=9, fc=(32,))


# Appendix D (CIFAR-10; the paper gives layer counts, not widths). 3x3 convolutions in blocks of two,
# batch norm, dropout after each block. Widths are ours, chosen to train in tens of minutes on 2 CPU
# cores (docs/cifar10.md has the times and accuracies).
# CNN1 = h1's architecture: 6 convolutions, 1 dense (the output layer), ELU.
# Measured: 32/64/128 reached 81.7% in 30 epochs (underfitting: training loss 0.59 at the end), 5
# points short of the paper's h1. 48/96/192 costs 1.7x the time per epoch.
CIFAR_CNN1 = ConvArch(channels=(48, 96, 192), kernel=3, fc=(), act="elu", dropout=0.3, per_block=2, batchnorm=True, block_dropout=0.1)
# CNN2: 10 convolutions, 1 dense, ELU.
CIFAR_CNN2 = replace(CIFAR_CNN1, channels=(48, 96, 192, 256, 256))
# CNN3: 10 convolutions, 3 dense, ReLU (trained without augmentation).
CIFAR_CNN3 = replace(CIFAR_CNN2, fc=(256, 128), act="relu")


def window_standardize(x: torch.Tensor, min_std: float = 1e-3) -> torch.Tensor:
    """Each example and channel as (x - its mean) / its std over positions: a series' level and spread
    removed, its shape kept (RR intervals: the heart rate's level gone, its rhythm left). The std is
    taken as sqrt(var + min_std^2): smooth for the gradients of AM, and a flat input is not blown up."""
    dims = tuple(range(2, x.dim()))
    mean = x.mean(dims, keepdim=True)
    std = (x - mean).pow(2).mean(dims, keepdim=True).add(min_std**2).sqrt()
    return (x - mean) / std


def _act(name: str) -> nn.Module:
    return nn.ELU() if name == "elu" else nn.ReLU()


_LAYERS = {1: (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d), 2: (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)}


def _rank(in_shape: tuple[int, ...]) -> int:
    if len(in_shape) not in (2, 3):
        raise ValueError(f"in_shape must be (C, L) or (C, H, W), got {tuple(in_shape)}")
    return len(in_shape) - 1


class ConvNet(nn.Module):
    """CNN classifier for inputs (B, C, H, W) or (B, C, L); pools only while the feature map is >= 2 wide."""

    def __init__(self, in_shape: tuple[int, ...], n_classes: int, arch: ConvArch = TEACHER_ARCH):
        super().__init__()
        self.arch, self.in_shape, self.n_classes = arch, tuple(in_shape), n_classes
        conv, maxpool, avgpool = _LAYERS[_rank(in_shape)]
        c, sizes = in_shape[0], list(in_shape[1:])
        layers: list[nn.Module] = []
        norm = nn.BatchNorm1d if len(in_shape) == 2 else nn.BatchNorm2d
        for out in arch.channels:
            for _ in range(arch.per_block):
                layers.append(conv(c, out, arch.kernel, padding=arch.kernel // 2, bias=not arch.batchnorm))
                layers += [norm(out), _act(arch.act)] if arch.batchnorm else [_act(arch.act)]
                c = out
            if min(sizes) >= 2:
                layers.append(maxpool(2) if arch.pool == "max" else avgpool(2))
                sizes = [v // 2 for v in sizes]
            if arch.block_dropout > 0:
                layers.append(nn.Dropout(arch.block_dropout))
        self.conv = nn.Sequential(*layers)
        fcs: list[nn.Module] = [nn.Flatten()]
        width = c * math.prod(sizes)
        for units in arch.fc:
            fcs += [nn.Linear(width, units), _act(arch.act)]
            width = units
        self.fc = nn.Sequential(*fcs)
        self.dropout = nn.Dropout(arch.dropout)
        self.out = nn.Linear(width, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if self.arch.window_norm:
            x = window_standardize(x)
        return self.fc(self.conv(x))  # (B, D): layer L-1

    def head(self, f: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(f))  # (B, K) logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class MLP(nn.Module):
    """Multilayer perceptron on the flattened input (Table 1: three hidden ReLU layers)."""

    def __init__(self, in_shape: tuple[int, ...], n_classes: int, arch: MLPArch = MLPArch()):
        super().__init__()
        self.in_shape, self.n_classes = tuple(in_shape), n_classes
        width = math.prod(in_shape)
        layers: list[nn.Module] = [nn.Flatten()]
        for units in arch.hidden:
            layers += [nn.Linear(width, units), nn.ReLU()]
            width = units
        self.body = nn.Sequential(*layers)
        self.dropout = nn.Dropout(arch.dropout)
        self.out = nn.Linear(width, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def head(self, f: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(f))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def conv_flops(net: ConvNet) -> int:
    """Multiply-add FLOPs (x2) of one forward pass of ``net`` on one example."""
    total = 0
    x = torch.zeros(1, *net.in_shape, device=next(net.parameters()).device)  # wherever the net lives
    hooks = []

    def count(mod: nn.Module, inp: tuple, out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(mod, (nn.Conv1d, nn.Conv2d)):
            k = math.prod(mod.kernel_size) * mod.in_channels // mod.groups
            total += 2 * out.numel() * k
        elif isinstance(mod, nn.Linear):
            total += 2 * mod.in_features * mod.out_features

    for m in net.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            hooks.append(m.register_forward_hook(count))
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return total
