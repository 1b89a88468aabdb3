"""Students by name (Table 1): ``create_student("cnn_small", epochs=5)``, ``list_students()``."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import VistransferError
from ..models.registry import canonical_model, get_model, is_model, list_models
from .base import Student
from .classical import RandomForestStudent, SVMStudent
from .neural import NeuralStudent

_REGISTRY: dict[str, Callable[..., Student]] = {}
# The paper's spellings of the classical students; a neural student's are its architecture's (models.registry).
_PAPER = {"svm": "SVM", "rf": "RF"}
_BY_PAPER = {v: k for k, v in _PAPER.items()}


def register_student(name: str):
    def deco(factory: Callable[..., Student]) -> Callable[..., Student]:
        _REGISTRY[name] = factory
        return factory

    return deco


for _arch in list_models():  # a neural student of every registered architecture
    register_student(_arch)(lambda _a=_arch, **kw: NeuralStudent(arch=_a, **kw))
register_student("svm")(SVMStudent)
register_student("rf")(RandomForestStudent)


def list_students() -> list[str]:
    return sorted(_REGISTRY)


def canonical_name(name: str) -> str:
    """The registered name of a student given by it, its paper's name (CNN_ID, CNN_s, SVM, ...) or an alias."""
    key = _BY_PAPER.get(name) or (canonical_model(name) if is_model(name) else name)
    if key not in _REGISTRY:
        paper = sorted([*_PAPER.values(), *(get_model(n).paper_name for n in list_models() if get_model(n).paper_name)])
        raise VistransferError(f"unknown student {name!r}; choose one of {list_students()} (or the paper's names {paper})")
    return key


def paper_name(name: str) -> str:
    """The paper's name for a student (CNN_ID, CNN_S, SVM, ...), else its own; a name no student has stays as it is."""
    try:
        key = canonical_name(name)
    except VistransferError:
        return name
    return _PAPER.get(key) or get_model(key).paper_name or key


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
