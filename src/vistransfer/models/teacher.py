"""The teacher h1: one contract for every kind of teacher, its training (Step 1), its file.

:class:`Teacher` holds a trained classifier (ours, or a user's model loaded by
:func:`vistransfer.models.foreign.load_teacher`) and what is known about it; :class:`TeacherModule` is what the
synthesizer probes, for every teacher alike::

    logits   = module(x)           # x (B, *spec.shape) in the data domain -> (B, K)
    features = module.features(x)  # (B, D), layer L-1 for Loss2, or a clear error when unknown

Normalization (``spec.mean``/``spec.std``) happens inside the module, so generator outputs, real
data and students stay in the data domain.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..config import TrainConfig, to_dict
from ..data import Split
from ..errors import VistransferError
from ..io import fingerprint, load_torch, save_torch, versions
from .features import feature_fn
from .nets import TEACHER_ARCH, ConvArch, ConvNet
from .spec import InputSpec
from .train import checkpoint_seconds, fit_network, predict_logits

FeatureFn = Callable[[torch.Tensor], torch.Tensor]


class TeacherModule(nn.Module):
    """A classifier behind the teacher contract: normalization, logits and (optionally) layer L-1.

    net: maps normalized inputs to logits (B, K). features: a function of the *normalized* input
    giving layer L-1, or None when the teacher does not expose it (Loss2 is then refused).
    """

    def __init__(self, net: nn.Module, spec: InputSpec, features: FeatureFn | None = None, features_from: str = ""):
        super().__init__()
        self.net, self.spec = net, spec
        self._features, self.features_from = features, features_from
        stats = spec.stats()
        self.register_buffer("mean", stats[0] if stats else None, persistent=False)
        self.register_buffer("std", stats[1] if stats else None, persistent=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.mean is None else (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))

    def require_features(self) -> None:
        """Fail in one line, naming the fix, when this teacher has no layer L-1 (Loss2 needs it)."""
        if self._features is None:
            raise VistransferError(
                "this teacher exposes no layer L-1, which Loss2 needs: pass --features-layer NAME (a module name of the model) or turn Loss2 off"
            )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        self.require_features()
        return self._features(self.normalize(x)).flatten(1)

    def train(self, mode: bool = True) -> TeacherModule:
        # A teacher is only ever probed in eval mode; an exported program (.pt2) cannot switch modes
        # and was captured in the mode it was exported in.
        self.training = mode
        try:
            self.net.train(mode)
        except NotImplementedError:
            pass
        return self


@dataclass
class Teacher:
    """A trained h1 and what is known about it.

    source: "vistransfer" (trained here, a ``ConvNet``), "export" (.pt2), "torchscript" or "state_dict".
    dataset: the built-in dataset it was trained on, or None for a user's teacher (pass test data explicitly).
    blob: plain data from which a worker rebuilds it (see :meth:`to_blob`).
    """

    net: nn.Module
    spec: InputSpec
    n_classes: int
    classes: tuple[str, ...]
    dataset: str | None
    test_accuracy: float | None
    fingerprint: str
    meta: dict
    source: str = "vistransfer"
    features_layer: str | None = None
    blob: dict = field(default_factory=dict, repr=False)
    _module: TeacherModule | None = field(default=None, repr=False)

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.spec.shape

    @property
    def module(self) -> TeacherModule:
        """The teacher behind the contract the synthesizer uses (built once)."""
        if self._module is None:
            self._module = TeacherModule(self.net, self.spec, *feature_fn(self.net, self.features_layer)).eval()
        return self._module

    def standardization(self, option: bool | str | tuple) -> bool | str | tuple:
        """``option`` with True replaced by this teacher's normalization (see InputSpec.standardization)."""
        return self.spec.standardization(option)

    def describe(self) -> dict:
        return {
            "source": self.source,
            "dataset": self.dataset,
            "input_spec": self.spec.to_dict(),
            "n_classes": self.n_classes,
            "classes": list(self.classes),
            "features_layer": self.features_layer,
            "fingerprint": self.fingerprint,
            "test_accuracy": self.test_accuracy,
        }

    def to_blob(self) -> dict:
        """Plain data (tensors, bytes, strings) that :func:`teacher_from_blob` turns back into this
        teacher: what shards send to Ray workers, never pickled code."""
        if self.source == "vistransfer":
            return {
                "source": "vistransfer",
                "arch": self.net.arch.to_dict(),
                "spec": self.spec.to_dict(),
                "n_classes": self.n_classes,
                "state_dict": {k: v.cpu() for k, v in self.net.state_dict().items()},
                "classes": list(self.classes),
                "fingerprint": self.fingerprint,
            }
        return dict(self.blob, fingerprint=self.fingerprint)

    def save(self, path: str | Path) -> None:
        if self.source != "vistransfer":
            raise VistransferError(f"a {self.source} teacher is kept in its own file; pass that file instead of re-saving it")
        save_torch(
            path,
            {
                "artifact": "teacher",
                "arch": self.net.arch.to_dict(),
                "in_shape": list(self.in_shape),
                "spec": self.spec.to_dict(),
                "n_classes": self.n_classes,
                "state_dict": self.net.state_dict(),
                "dataset": self.dataset,
                "classes": list(self.classes),
                "test_accuracy": self.test_accuracy,
                "fingerprint": self.fingerprint,
                "meta": self.meta,
            },
        )


def builtin_teacher(d: dict, path: str | Path | None = None) -> Teacher:
    """A teacher from the dict of one of our own checkpoints (or of its blob)."""
    spec = InputSpec.from_dict(d["spec"]) if d.get("spec") else InputSpec(tuple(d["in_shape"]))
    net = ConvNet(spec.shape, d["n_classes"], ConvArch.from_dict(d["arch"]))
    net.load_state_dict(d["state_dict"])
    net.eval()
    fp = fingerprint(net.state_dict())
    if d.get("fingerprint") not in (None, fp):
        raise VistransferError(f"{path}: weights do not match their recorded fingerprint; the file is corrupt, re-train the teacher")
    classes = tuple(d.get("classes") or (str(i) for i in range(d["n_classes"])))
    return Teacher(net, spec, d["n_classes"], classes, d.get("dataset"), d.get("test_accuracy"), fp, d.get("meta", {}))


def load_builtin(path: str | Path) -> Teacher:
    return builtin_teacher(load_torch(path, "teacher"), path)


def train_teacher(
    train: Split,
    test: Split | None,
    cfg: TrainConfig,
    dataset: str,
    arch: ConvArch = TEACHER_ARCH,
    device: torch.device | str = "cpu",
    progress: bool = True,
    spec: InputSpec | None = None,
    checkpoint: str | Path | None = None,
) -> Teacher:
    """Train h1 on real data (the only step that sees it) and measure its test accuracy.

    spec: the input spec (default: the data's shape in [0, 1]; series pass their value range).
    checkpoint: a file for the training state after every epoch; an interrupted run resumes from it.
    """
    if test is not None and (tuple(test.shape) != tuple(train.shape) or len(test.classes) != len(train.classes)):
        raise VistransferError(
            f"{dataset}: the test split has examples of shape {tuple(test.shape)} in {len(test.classes)} classes, the training split "
            f"{tuple(train.shape)} in {len(train.classes)}; both splits must hold the same kind of examples of the same classes"
        )
    torch.manual_seed(cfg.seed)
    spec = spec or InputSpec(train.shape)
    spec.check_data(train.x, "the training data")
    net = ConvNet(train.shape, len(train.classes), arch)
    t0 = time.perf_counter()
    targets = F.one_hot(train.y, len(train.classes)).float()
    # a spec with normalization: the net learns on (x - mean) / std, exactly as it will be probed
    trained = TeacherModule(net, spec) if spec.mean is not None else net
    earlier = checkpoint_seconds(checkpoint)  # an interrupted run's finished epochs count too
    losses = fit_network(trained, train.x, targets, cfg, device, progress, desc="teach", checkpoint=checkpoint)
    seconds = earlier + time.perf_counter() - t0
    acc = None
    if test is not None:
        acc = float((predict_logits(trained, test.x, device).argmax(1) == test.y).float().mean())
    net.cpu()
    meta = {"train_config": to_dict(cfg), "epoch_losses": losses, "train_seconds": seconds, "n_train": len(train), "versions": versions()}
    return Teacher(net, spec, len(train.classes), train.classes, dataset, acc, fingerprint(net.state_dict()), meta)
