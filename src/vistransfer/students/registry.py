"""Students by name (Table 1): ``create_student("cnn_small", epochs=5)``, ``list_students()``."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import VistransferError
from .base import Student
from .classical import RandomForestStudent, SVMStudent
from .neural import NeuralStudent

_REGISTRY: dict[str, Callable[..., Student]] = {}
# The paper's spellings (CNN_S vs CNN_s differ only in case) are accepted as aliases.
_ALIASES = {"CNN_ID": "cnn_id", "CNN_S": "cnn_small", "CNN_L": "cnn_large", "CNN_s": "cnn_tiny", "MLP": "mlp", "SVM": "svm", "RF": "rf"}


def register_student(name: str):
    def deco(factory: Callable[..., Student]) -> Callable[..., Student]:
        _REGISTRY[name] = factory
        return factory

    return deco


for _arch in ("cnn_id", "cnn_small", "cnn_large", "cnn_tiny", "cnn_ecg", "cnn_ecg_small", "cnn_cifar1", "cnn_cifar2", "cnn_cifar3", "mlp"):
    register_student(_arch)(lambda _a=_arch, **kw: NeuralStudent(arch=_a, **kw))
register_student("svm")(SVMStudent)
register_student("rf")(RandomForestStudent)


def list_students() -> list[str]:
    return sorted(_REGISTRY)


def canonical_name(name: str) -> str:
    key = _ALIASES.get(name, name)
    if key not in _REGISTRY:
        raise VistransferError(f"unknown student {name!r}; choose one of {list_students()} (or the paper's names {sorted(_ALIASES)})")
    return key


def is_neural(name: str) -> bool:
    return canonical_name(name) not in ("svm", "rf")


def create_student(name: str, **kwargs) -> Student:
    """Build a student by name; neural-only options (epochs, lr, ...) are dropped for sklearn ones."""
    key = canonical_name(name)
    if not is_neural(key):
        kwargs = {k: v for k, v in kwargs.items() if k in ("seed", "soft", "C", "kernel", "n_estimators", "n_jobs")}
    else:
        kwargs.pop("soft", None)
    return _REGISTRY[key](**kwargs)
