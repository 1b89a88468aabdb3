"""The Apnea-ECG experiment file (``kind = "apnea"``): its schema, checked by pydantic, and the typed experiment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..config import SynthesisConfig, TrainConfig, from_dict, student_options, to_dict
from ..ecg.apnea import VALUE_RANGE
from ..errors import VistransferError
from ..models.nets import ConvArch
from ..students.registry import canonical_name
from .spec import ExperimentHeader, parse_file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProbeOptions(_Strict):
    """[probe]: probes where a student disagrees with h1, added after the blends (synthesis/probe.py)."""

    ratio: float = Field(gt=0, le=100, description="probes per example of the set (visualizations and blends)")
    rounds: int = Field(3, ge=1, le=20)
    steps: int = Field(10, ge=1, le=1000)
    step_size: float = Field(0.01, gt=0, le=1)  # Adam's rate, a share of the domain's width


class PhoneStudent(_Strict):
    """One more student of the phone part, trained on h2's set: another architecture, labels or ensemble size."""

    arch: str = "cnn_ecg"
    labels: Literal["hard", "soft"] = "hard"
    temperature: float = Field(1.0, ge=1, le=100)
    members: int | None = Field(None, ge=1, le=16)  # None: [student]'s


class PhoneOptions(_Strict):
    """[phone]: what is exported beside the teacher and h2 (``students``, by row name), and whether each network
    is also quantized to 8 bits (``int8``: the teacher calibrated on its training minutes, a student on its set)."""

    students: dict[str, PhoneStudent] = {}
    int8: bool = False


class ApneaFile(ExperimentHeader):
    dataset: str = "apnea-ecg"
    seeds: list[int] = Field([0, 1, 2], min_length=1)
    split: list[float] = Field([0.6, 0.2, 0.2], min_length=3, max_length=3)
    teams: dict[str, list[str]]
    arch: dict[str, Any] = {}
    teacher: dict[str, Any] = {}
    student: dict[str, Any] = {}
    synthesis: dict[str, Any] = {}
    n_synthetic: int = Field(2400, gt=0)
    domain: Literal["team"] | tuple[float, float] = "team"
    paper: dict[str, list[float]] = {}
    recordwise: dict[str, Any] = {}
    privacy: dict[str, Any] = {}
    probe: ProbeOptions | None = None
    phone: PhoneOptions = PhoneOptions()


@dataclass(frozen=True)
class ApneaExperiment:
    name: str
    title: str
    paper_table: str
    description: str
    seeds: tuple[int, ...]
    split: tuple[float, float, float]
    teams: dict[str, tuple[str, ...]]
    arch: ConvArch
    teacher: TrainConfig
    student: dict[str, Any]
    synthesis: SynthesisConfig
    domain: tuple[float, float] | None  # None: each team's teacher carries its own training range
    paper: dict[str, list[float]]
    recordwise: dict[str, Any]
    privacy: dict[str, Any]
    source: str
    probe: dict[str, Any] | None = None  # ProbeOptions as a dict; None: no probes
    phone: dict[str, Any] = field(default_factory=lambda: PhoneOptions().model_dump())  # not in identity(): the part records it

    def identity(self, domain: bool = True) -> dict:
        """What the results depend on. Without ``domain``: what trained weights depend on (the domain
        handed over with a teacher steers its visualizations, not its training)."""
        ident = {
            "split": self.split,
            "teams": self.teams,
            "arch": self.arch.to_dict(),
            "teacher": to_dict(self.teacher),
            "student": self.student,
            "synthesis": to_dict(self.synthesis),
        }
        if domain and self.domain is not None:  # absent at the default, so earlier caches stay valid
            ident["domain"] = list(self.domain)
        if self.probe is not None:  # likewise
            ident["probe"] = self.probe
        return ident


def load_apnea_experiment(path: Path, raw: dict) -> ApneaExperiment:
    f = parse_file(ApneaFile, raw, path)
    if len(f.teams) != 2 or any(len(r) == 0 for r in f.teams.values()):
        raise VistransferError(f"{path}: [teams] must name two teams of records, e.g. team1 = ['a03', ...]")
    if abs(sum(f.split) - 1) > 1e-6 or min(f.split) <= 0:
        raise VistransferError(f"{path}: split must be three positive fractions (train, validation, test) summing to 1")
    arch = ConvArch.from_dict({**ConvArch().to_dict(), **f.arch})
    teacher = from_dict(TrainConfig, {"epochs": 30, "batch_size": 64, "lr": 2e-3, **f.teacher})
    synth = from_dict(SynthesisConfig, {**f.synthesis, "n": f.n_synthetic})
    if any(k.startswith("probe") for k in f.synthesis):
        raise VistransferError(
            f"{path}: probes of the apnea experiments are set in their own [probe] section "
            "(ratio, rounds, steps, step_size: their round students are h2), not in [synthesis]"
        )
    for row, st in f.phone.students.items():
        name = canonical_name(st.arch)
        if name in ("svm", "rf", "mlp"):
            raise VistransferError(f"{path}: [phone.students.{row!r}] arch must be a convolutional student (e.g. cnn_ecg_small), got {st.arch!r}")
    domain = None if f.domain == "team" else tuple(float(v) for v in f.domain)
    if domain is not None and not VALUE_RANGE[0] <= domain[0] < domain[1] <= VALUE_RANGE[1]:
        raise VistransferError(
            f'{path}: domain must be "team" or [low, high] seconds with '
            f"{VALUE_RANGE[0]} <= low < high <= {VALUE_RANGE[1]} (the cleaned RR range); got {list(domain)}"
        )
    return ApneaExperiment(
        path.stem,
        f.title,
        f.paper_table,
        f.description,
        tuple(f.seeds),
        tuple(f.split),
        {k: tuple(v) for k, v in f.teams.items()},
        arch,
        teacher,
        student_options(f.student, f"{path} [student]"),
        synth,
        domain,
        f.paper,
        f.recordwise,
        f.privacy,
        str(path),
        f.probe.model_dump() if f.probe is not None else None,
        f.phone.model_dump(),
    )
