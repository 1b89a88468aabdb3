"""Every built-in network architecture under one name, timm-style: ``register_model`` files an
architecture, ``create_model(name, in_shape, n_classes)`` builds it untrained. The paper's names
(CNN_ID, CNN_S, CNN_L, CNN_s, MLP; CIFAR-10's CNN1-3) and the dataset presets' ("teacher", "ecg",
"cifar-cnn1", ...) are aliases. Teachers, students and experiments all look architectures up here."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..errors import VistransferError
from .nets import (
    CIFAR_CNN1,
    CIFAR_CNN2,
    CIFAR_CNN3,
    ECG_ARCH,
    ECG_SMALL_ARCH,
    LARGE_ARCH,
    MLP,
    SMALL_ARCH,
    TEACHER_ARCH,
    TINY_ARCH,
    ConvArch,
    ConvNet,
    MLPArch,
)


@dataclass(frozen=True)
class Model:
    """A registered architecture: ``arch`` (its layers), the paper's name for it, if any."""

    name: str
    arch: ConvArch | MLPArch
    paper_name: str = ""

    def create(self, in_shape: tuple[int, ...], n_classes: int) -> nn.Module:
        if isinstance(self.arch, MLPArch):
            return MLP(in_shape, n_classes, self.arch)
        return ConvNet(in_shape, n_classes, self.arch)


_MODELS: dict[str, Model] = {}
_ALIASES: dict[str, str] = {}


def register_model(name: str, arch: ConvArch | MLPArch, paper_name: str = "", aliases: tuple[str, ...] = ()) -> Model:
    """File ``arch`` under ``name`` (and ``paper_name`` and ``aliases`` as other spellings of it)."""
    model = Model(name, arch, paper_name)
    _MODELS[name] = model
    for alias in (paper_name, *aliases):
        if alias:
            _ALIASES[alias] = name
    return model


def canonical_model(name: str) -> str:
    """The registered name of ``name`` (itself, or what its alias stands for)."""
    key = _ALIASES.get(name, name)
    if key not in _MODELS:
        raise VistransferError(f"unknown architecture {name!r}; choose one of {list_models()} (or {sorted(_ALIASES)})")
    return key


def get_model(name: str) -> Model:
    return _MODELS[canonical_model(name)]


def model_arch(name: str) -> ConvArch | MLPArch:
    """The layers of architecture ``name`` (an alias works too)."""
    return get_model(name).arch


def create_model(name: str, in_shape: tuple[int, ...], n_classes: int) -> nn.Module:
    """An untrained network of architecture ``name`` for inputs (C, *spatial) and ``n_classes`` outputs."""
    return get_model(name).create(tuple(in_shape), n_classes)


def list_models() -> list[str]:
    return sorted(_MODELS)


def is_model(name: str) -> bool:
    return _ALIASES.get(name, name) in _MODELS


register_model("cnn_id", TEACHER_ARCH, "CNN_ID", aliases=("teacher", "convnet"))  # h1, Section 4.1
register_model("cnn_small", SMALL_ARCH, "CNN_S")
register_model("cnn_large", LARGE_ARCH, "CNN_L")
register_model("cnn_tiny", TINY_ARCH, "CNN_s")
register_model("mlp", MLPArch(), "MLP")
register_model("cnn_ecg", ECG_ARCH, aliases=("ecg",))  # the Apnea-ECG teacher (Section 4.3)
register_model("cnn_ecg_small", ECG_SMALL_ARCH)
register_model("cnn_cifar1", CIFAR_CNN1, "CNN1", aliases=("cifar-cnn1",))  # Appendix D: h1 and CNN1
register_model("cnn_cifar2", CIFAR_CNN2, "CNN2", aliases=("cifar-cnn2",))
register_model("cnn_cifar3", CIFAR_CNN3, "CNN3", aliases=("cifar-cnn3",))
