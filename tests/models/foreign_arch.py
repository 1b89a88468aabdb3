"""Architectures unlike ours, for the bring-your-own-teacher tests (importable as tests.models.foreign_arch)."""

import torch
from torch import nn


class BNNet(nn.Module):
    """Three 3x3 convolutions with batch norm and ReLU, global average pooling, one linear layer."""

    def __init__(self, k: int = 10):
        super().__init__()

        def block(i, o):
            return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU()]

        self.body = nn.Sequential(*block(1, 16), *block(16, 32), *block(32, 32), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(32, k)

    def forward(self, x):
        return self.head(self.body(x))

    @torch.jit.export
    def features(self, x):
        return self.body(x)


def make():
    return BNNet()


class FlatNet(nn.Module):
    """A linear classifier on the flattened 8x8 input: only that size fits."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))


class NaNNet(nn.Module):
    def forward(self, x):
        return x.flatten(1)[:, :10] * float("nan")


class VectorNet(nn.Module):
    """Returns one number per example: not (N, K) logits."""

    def forward(self, x):
        return x.flatten(1).sum(1)
