"""Teacher h1: training (Step 1 of Section 3.2) and its checkpoint."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..config import TrainConfig, to_dict
from ..data import Split
from ..errors import VistransferError
from ..io import fingerprint, load_torch, save_torch, versions
from .nets import TEACHER_ARCH, ConvArch, ConvNet
from .train import fit_network, predict_logits


@dataclass
class Teacher:
    """A trained h1 and what is known about it."""

    net: ConvNet
    dataset: str
    classes: tuple[str, ...]
    test_accuracy: float | None
    fingerprint: str
    meta: dict

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return self.net.in_shape

    @property
    def n_classes(self) -> int:
        return self.net.n_classes

    def save(self, path: str | Path) -> None:
        save_torch(path, {"artifact": "teacher", "arch": self.net.arch.to_dict(), "in_shape": list(self.in_shape),
                          "n_classes": self.n_classes, "state_dict": self.net.state_dict(), "dataset": self.dataset,
                          "classes": list(self.classes), "test_accuracy": self.test_accuracy,
                          "fingerprint": self.fingerprint, "meta": self.meta})

    @classmethod
    def load(cls, path: str | Path) -> "Teacher":
        d = load_torch(path, "teacher")
        net = ConvNet(tuple(d["in_shape"]), d["n_classes"], ConvArch.from_dict(d["arch"]))
        net.load_state_dict(d["state_dict"])
        net.eval()
        fp = fingerprint(net.state_dict())
        if fp != d["fingerprint"]:
            raise VistransferError(f"{path}: weights do not match their recorded fingerprint; the file is corrupt, re-train the teacher")
        return cls(net, d["dataset"], tuple(d["classes"]), d["test_accuracy"], fp, d["meta"])


def train_teacher(train: Split, test: Split | None, cfg: TrainConfig, dataset: str, arch: ConvArch = TEACHER_ARCH,
                  device: torch.device | str = "cpu", progress: bool = True) -> Teacher:
    """Train h1 on real data (the only step that sees it) and measure its test accuracy."""
    torch.manual_seed(cfg.seed)
    net = ConvNet(train.shape, len(train.classes), arch)
    t0 = time.perf_counter()
    targets = F.one_hot(train.y, len(train.classes)).float()
    losses = fit_network(net, train.x, targets, cfg, device, progress, desc="teach")
    seconds = time.perf_counter() - t0
    acc = None
    if test is not None:
        acc = float((predict_logits(net, test.x, device).argmax(1) == test.y).float().mean())
    net.cpu()
    meta = {"train_config": to_dict(cfg), "epoch_losses": losses, "train_seconds": seconds,
            "n_train": len(train), "versions": versions()}
    return Teacher(net, dataset, train.classes, acc, fingerprint(net.state_dict()), meta)
