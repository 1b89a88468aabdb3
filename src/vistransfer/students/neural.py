"""Neural students: the CNNs of Table 1 and the MLP, trained on soft or hard targets."""

from __future__ import annotations

import numpy as np
import torch

from ..config import TrainConfig
from ..io import resolve_device
from ..models.nets import LARGE_ARCH, MLP, SMALL_ARCH, TEACHER_ARCH, TINY_ARCH, ConvNet, MLPArch
from ..models.train import fit_network, predict_logits
from .base import Student, as_inputs, as_targets

ARCHS = {"cnn_id": TEACHER_ARCH, "cnn_small": SMALL_ARCH, "cnn_large": LARGE_ARCH, "cnn_tiny": TINY_ARCH}


class NeuralStudent(Student):
    """A network student. arch: "cnn_id", "cnn_small", "cnn_large", "cnn_tiny" or "mlp".

    Trains with Adam (one-cycle schedule) on cross-entropy against the target
    distributions, so soft labels are used as they are. ``min_steps``: at least this many
    optimizer steps (small sets get more epochs). ``temperature`` tau > 1 distills soft
    labels (Hinton et al.): targets p become p^(1/tau) renormalized, and the loss is
    tau^2 * CE(logits / tau, targets). Hard (one-hot) targets are left as they are.
    """

    def __init__(self, arch: str = "cnn_id", epochs: int = 10, batch_size: int = 128, lr: float = 2e-3,
                 weight_decay: float = 0.0, seed: int = 0, device: str = "auto", progress: bool = False,
                 min_steps: int = 0, temperature: float = 1.0):
        self.arch, self.epochs, self.batch_size, self.lr = arch, epochs, batch_size, lr
        self.weight_decay, self.seed, self.device, self.progress = weight_decay, seed, device, progress
        self.min_steps, self.temperature = min_steps, temperature

    def _build(self, in_shape, k):
        if self.arch == "mlp":
            return MLP(in_shape, k, MLPArch())
        return ConvNet(in_shape, k, ARCHS[self.arch])

    def fit(self, X, y) -> "NeuralStudent":
        x = as_inputs(X)
        t = as_targets(y)
        one_hot = bool((t.max(1).values == 1).all())
        tau = 1.0 if one_hot else float(self.temperature)
        if tau != 1.0:
            t = torch.softmax(torch.log(t.clamp_min(1e-30)) / tau, 1)
        cfg = TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                          seed=self.seed, min_steps=self.min_steps, temperature=tau)
        torch.manual_seed(self.seed)
        self.device_ = resolve_device(self.device)
        self.net_ = self._build(tuple(x.shape[1:]), t.shape[1])
        self.loss_curve_ = fit_network(self.net_, x, t, cfg, self.device_, self.progress, desc=f"learn {self.arch}")
        self.classes_ = np.arange(t.shape[1])
        self.n_classes_ = t.shape[1]
        self.in_shape_ = tuple(x.shape[1:])
        return self

    def predict_proba(self, X) -> np.ndarray:
        self._check_fitted()
        x = as_inputs(X)
        self._check_input(x)
        return torch.softmax(predict_logits(self.net_, x, self.device_), 1).numpy()
