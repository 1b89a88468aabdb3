"""The CIFAR-10 experiment file (``kind = \"cifar\"``, Table 3): its schema, checked by pydantic, and the typed experiment."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..config import SynthesisConfig, TrainConfig, from_dict
from ..errors import VistransferError
from ..models.nets import ConvArch
from ..models.registry import is_model, list_models, model_arch
from ..students import list_students
from .spec import ExperimentHeader, parse_file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NetFile(_Strict):
    arch: str
    seed: int = 0
    epochs: int | None = None
    augment: str | None = None


class StudentFile(_Strict):
    n_synthetic: int = Field(20000, gt=0)
    arch: str = "cnn_cifar1"  # a student name (vistransfer.students.list_students)
    epochs: int = Field(30, gt=0)
    seeds: list[int] = Field([0], min_length=1)
    temperature: float = Field(4.0, gt=0)


class CifarFile(ExperimentHeader):
    dataset: str = "cifar10"
    n_train: int | None = Field(None, gt=0)  # a class-stratified subset, for a quick look (default: all)
    n_test: int | None = Field(None, gt=0)
    n_imgs: int = Field(100, gt=0)
    synthesis_seeds: list[int] = Field([0], min_length=1)
    admissibility: float = Field(0.8, ge=0, le=1)
    nets: dict[str, NetFile]
    teacher: dict[str, Any] = {}
    synthesis: dict[str, Any] = {}
    loss2: dict[str, Any] = {}
    student: StudentFile = StudentFile()
    paper: dict[str, Any] = {}


NET_NAMES = ("h1", "cnn1", "cnn2", "cnn3")  # the teacher, h_s, and S1's two members


@dataclass(frozen=True)
class CifarExperiment:
    name: str
    title: str
    paper_table: str
    description: str
    dataset: str
    n_train: int | None
    n_test: int | None
    n_imgs: int
    synthesis_seeds: tuple[int, ...]
    admissibility: float
    nets: dict[str, tuple[ConvArch, TrainConfig]]
    synthesis: SynthesisConfig
    loss2: SynthesisConfig
    student: StudentFile
    paper: dict[str, Any]
    source: str


def load_cifar_experiment(path: Path, raw: dict) -> CifarExperiment:
    f = parse_file(CifarFile, raw, path)
    missing = [n for n in NET_NAMES if n not in f.nets]
    if missing:
        raise VistransferError(f"{path}: [nets] lacks {missing}; Table 3 needs {list(NET_NAMES)}")
    base = from_dict(TrainConfig, f.teacher)
    nets = {}
    for name, n in f.nets.items():
        if not is_model(n.arch):
            raise VistransferError(f"{path}: nets.{name}.arch {n.arch!r} is not one of {list_models()}")
        over = {"seed": n.seed} | ({"epochs": n.epochs} if n.epochs else {}) | ({"augment": n.augment} if n.augment is not None else {})
        nets[name] = (model_arch(n.arch), replace(base, **over))

    if f.student.arch not in list_students():
        raise VistransferError(f"{path}: student.arch {f.student.arch!r} is not one of {list_students()}")
    synth = from_dict(SynthesisConfig, {**f.synthesis, "n": f.n_imgs})
    loss2 = from_dict(SynthesisConfig, {**f.synthesis, **f.loss2, "n": f.n_imgs})
    return CifarExperiment(
        path.stem,
        f.title,
        f.paper_table,
        f.description,
        f.dataset,
        f.n_train,
        f.n_test,
        f.n_imgs,
        tuple(f.synthesis_seeds),
        f.admissibility,
        nets,
        synth,
        loss2,
        f.student,
        f.paper,
        str(path),
    )
