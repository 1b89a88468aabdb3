"""Neural students: the CNNs of Table 1 and the MLP, trained on soft or hard targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..config import TrainConfig
from ..errors import VistransferError
from ..io import resolve_device
from ..models.nets import (
    window_standardize,
)
from ..models.registry import create_model
from ..models.train import fit_network, predict_logits
from .base import Student, as_inputs, as_targets


class Standardize(nn.Module):
    """(x - mean) / std per channel, learned from the training inputs; part of the exported model."""

    def __init__(self, net: nn.Module, channels: int, rank: int):
        super().__init__()
        view = (1, channels) + (1,) * rank
        self.net = net
        self.register_buffer("mean", torch.zeros(view))
        self.register_buffer("std", torch.ones(view))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


class WindowStandardize(nn.Module):
    """Each input standardized by its own mean and std over positions (``standardize="window"``)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(window_standardize(x))


class MeanProbabilities(nn.Module):
    """An ensemble: the members' class probabilities averaged. Returns the log of the mean, so a
    softmax of the output (``predict_proba``, the exported model) is the mean itself."""

    def __init__(self, nets: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(nets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = torch.stack([torch.softmax(m(x).float(), 1) for m in self.members]).mean(0)
        return torch.log(p.clamp_min(1e-30))


MEMBER_SEED_STEP = 1000  # member i of an ensemble trains as the student of seed ``seed + 1000 * i``


class NeuralStudent(Student):
    """A network student. arch: "cnn_id", "cnn_small", "cnn_large", "cnn_tiny" or "mlp".

    Trains with Adam (one-cycle schedule) on cross-entropy against the target
    distributions, so soft labels are used as they are. ``min_steps``: at least this many
    optimizer steps (small sets get more epochs). ``temperature`` tau > 1 distills soft
    labels (Hinton et al.): targets p become p^(1/tau) renormalized, and the loss is
    tau^2 * CE(logits / tau, targets). Hard (one-hot) targets are left as they are.
    ``standardize``: apply a per-channel (x - mean) / std first (for inputs far from [0, 1], e.g. RR
    intervals around 0.9 s that vary by 0.1 s): True learns it from the training inputs; a pair
    (means, stds) fixes it, e.g. to the teacher's normalization when the inputs are visualizations,
    whose spread is not the real data's; "window" standardizes each input by its own mean and std
    (for a teacher built with ``window_norm``, whose inputs' level carries no label). ``amp``: bf16 autocast and channels-last; ``augment``: a batch
    augmentation by name (see :class:`vistransfer.config.TrainConfig`). ``members`` > 1: an ensemble
    of that many networks, member i trained exactly as the student of seed ``seed + 1000 * i``, whose
    class probabilities are averaged (saved and exported as one model, ``members`` times the size and
    time of one network). On
    Apnea-ECG a student's decision threshold on real data moves from seed to seed while its ranking
    holds; the mean of several holds it better (docs/apnea.md, "Ensembles").
    """

    def __init__(
        self,
        arch: str = "cnn_id",
        epochs: int = 10,
        batch_size: int = 128,
        lr: float = 2e-3,
        weight_decay: float = 0.0,
        seed: int = 0,
        device: str = "auto",
        progress: bool = False,
        min_steps: int = 0,
        temperature: float = 1.0,
        standardize: bool | str | tuple = False,
        amp: bool = False,
        augment: str = "",
        members: int = 1,
    ):
        if int(members) < 1:
            raise VistransferError(f"members must be at least 1 (one network), got {members}")
        self.arch, self.epochs, self.batch_size, self.lr = arch, epochs, batch_size, lr
        self.weight_decay, self.seed, self.device, self.progress = weight_decay, seed, device, progress
        self.min_steps, self.temperature, self.standardize = min_steps, temperature, standardize
        self.amp, self.augment, self.members = amp, augment, int(members)

    @classmethod
    def from_net(cls, arch: str, net: nn.Module, in_shape: tuple[int, ...], n_classes: int, **params) -> NeuralStudent:
        """A fitted student around a trained network (a loaded file, or a teacher to export like one)."""
        student = cls(arch=arch, **params)
        student.net_, student.device_ = net.eval(), "cpu"
        student.classes_, student.n_classes_, student.in_shape_ = np.arange(n_classes), n_classes, tuple(in_shape)
        return student

    def _build(self, in_shape, k):
        if self.members > 1:
            return MeanProbabilities([self._member(i)._build(in_shape, k) for i in range(self.members)])
        net = create_model(self.arch, in_shape, k)
        if self.standardize == "window":
            return WindowStandardize(net)
        return Standardize(net, in_shape[0], len(in_shape) - 1) if self.standardize else net

    def fit(self, X, y, checkpoint: str | Path | None = None) -> NeuralStudent:
        """Train on inputs X and labels y (class indices or (N, K) target rows). checkpoint: a file
        that keeps the training state after every epoch, so an interrupted fit continues from there
        (``fit_network``); it is removed when training finishes."""
        if self.members > 1:
            return self._fit_members(X, y, checkpoint)
        x = as_inputs(X)
        t = as_targets(y)
        one_hot = bool((t.max(1).values == 1).all())
        tau = 1.0 if one_hot else float(self.temperature)
        if tau != 1.0:
            t = torch.softmax(torch.log(t.clamp_min(1e-30)) / tau, 1)
        cfg = TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            seed=self.seed,
            min_steps=self.min_steps,
            temperature=tau,
            amp=self.amp,
            augment=self.augment,
        )
        torch.manual_seed(self.seed)
        self.device_ = resolve_device(self.device)
        self.net_ = self._build(tuple(x.shape[1:]), t.shape[1])
        if isinstance(self.standardize, (tuple, list)):
            mean, std = (torch.tensor(v, dtype=torch.float32) for v in self.standardize)
            self.net_.mean.copy_(mean.view_as(self.net_.mean) if mean.numel() > 1 else mean.expand_as(self.net_.mean))
            self.net_.std.copy_(std.view_as(self.net_.std) if std.numel() > 1 else std.expand_as(self.net_.std))
        elif self.standardize is True:  # learned from the inputs ("window" has no stats)
            dims = [0] + list(range(2, x.dim()))
            self.net_.mean.copy_(x.mean(dims, keepdim=True))
            self.net_.std.copy_(x.std(dims, keepdim=True).clamp_min(1e-6))
        self.loss_curve_ = fit_network(self.net_, x, t, cfg, self.device_, self.progress, desc=f"learn {self.arch}", checkpoint=checkpoint)
        self.classes_ = np.arange(t.shape[1])
        self.n_classes_ = t.shape[1]
        self.in_shape_ = tuple(x.shape[1:])
        return self

    def _member(self, i: int) -> NeuralStudent:
        """Member i of the ensemble: this student as one network, of seed ``seed + 1000 * i``."""
        return type(self)(**{**self.get_params(), "members": 1, "seed": self.seed + MEMBER_SEED_STEP * i})

    def _fit_members(self, X, y, checkpoint: str | Path | None) -> NeuralStudent:
        fitted = []
        for i in range(self.members):
            at = None if checkpoint is None else Path(checkpoint).with_name(f"{Path(checkpoint).name}.member{i}")
            fitted.append(self._member(i).fit(X, y, checkpoint=at))
        self.net_ = MeanProbabilities([m.net_ for m in fitted])
        self.loss_curve_ = [m.loss_curve_ for m in fitted]  # one curve per member
        self.device_, self.classes_, self.n_classes_, self.in_shape_ = (
            fitted[0].device_,
            fitted[0].classes_,
            fitted[0].n_classes_,
            fitted[0].in_shape_,
        )
        return self

    def predict_proba(self, X) -> np.ndarray:
        self._check_fitted()
        x = as_inputs(X)
        self._check_input(x)
        return torch.softmax(predict_logits(self.net_, x, self.device_), 1).numpy()
