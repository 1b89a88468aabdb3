"""The experiment file format: one of the paper's tables as TOML, validated by declared types.

An experiment file (``experiments/NAME.toml``) names a dataset, the teacher's training, one or
more synthesis settings (``[sets.NAME]``) and the table's columns (``[[columns]]``). Defaults live
in one place, ``experiments/_presets.toml``: a file says ``teacher = "mnist"``, ``student = "mnist"``
or ``[sets.t099] preset = "mnist-g1"`` (plus any overrides) instead of repeating them. Every key is
checked against the schema below (pydantic), and an unknown key is named in the error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import tomllib
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config import SynthesisConfig, TrainConfig, from_dict, student_options
from ..errors import VistransferError
from ..students import canonical_name

PRESETS_FILE = "_presets.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class ColumnFile(_Strict):
    name: str | None = None
    source: Literal["real", "synthetic"] = "synthetic"
    set: str | None = None
    labels: Literal["hard", "soft"] = "hard"
    temperature: float = Field(1.0, gt=0)
    students: list[str] = ["cnn_id"]
    sizes: list[int] = Field(min_length=1)
    paper: dict[str, Union[float, list[float]]] = {}
    student: dict[str, Any] = {}


class ExperimentFile(_Strict):
    kind: Literal["table"] = "table"  # "apnea" files have their own schema (experiments.apnea)
    title: str
    dataset: str
    paper_table: str = ""
    description: str = ""
    seeds: list[int] = Field([0, 1, 2], min_length=1)
    synthesis_per_seed: bool = False
    shard_size: int = Field(2000, gt=0)
    rows: Literal["student", "size"] = "student"
    teacher: Union[str, dict[str, Any]] = {}
    student: Union[str, dict[str, Any]] = {}
    sets: dict[str, dict[str, Any]] = {}
    columns: list[ColumnFile] = []
    feature_distance: bool = False
    movement_grids: dict[str, Any] = {}


class PresetsFile(_Strict):
    teacher: dict[str, dict[str, Any]] = {}
    student: dict[str, dict[str, Any]] = {}
    sets: dict[str, dict[str, Any]] = {}


@dataclass(frozen=True)
class Column:
    """One column of the table: how students are trained, for which students and sizes."""

    name: str
    source: str  # "real" or "synthetic"
    set: str | None  # key into Experiment.sets when synthetic
    labels: str  # "hard" or "soft"
    temperature: float  # distillation temperature for soft labels
    students: tuple[str, ...]
    sizes: tuple[int, ...]
    paper: dict[str, tuple[float, float | None]]  # "cnn_id@60000" -> (mean %, std % or None)
    student: dict[str, Any] = field(default_factory=dict)  # overrides of the experiment's [student]

    def cells(self) -> list[tuple[str, int]]:
        return [(s, n) for s in self.students for n in self.sizes]


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    dataset: str
    seeds: tuple[int, ...]
    teacher: TrainConfig
    student: dict[str, Any]
    sets: dict[str, SynthesisConfig]  # n: the largest size any column takes from the set
    columns: tuple[Column, ...]
    shard_size: int = 2000
    rows: str = "student"  # the table's rows: "student" (Table 1) or "size" (Tables 2, 6, 7)
    paper_table: str = ""
    description: str = ""
    feature_distance: bool = False  # Section 4.1.2: layer L-1 distance of each set to real data
    movement_grids: dict[str, Any] = field(default_factory=dict)  # Appendix C: {"set", "per_class"}
    source: str = ""
    # each seed s synthesizes its own sets (seed: the set's + s) and its students learn from them, so
    # a cell's mean ± std covers synthesis and student seeds together; False: one set for all seeds
    synthesis_per_seed: bool = False

    def set_offset(self, seed: int) -> int:
        """What a seed-``seed`` student's set adds to the set's own seed: ``seed`` when sets vary with it, else 0."""
        return seed if self.synthesis_per_seed else 0

    def set_seeds(self) -> list[int]:
        """The offsets added to a set's seed, one per synthesis: every seed's when sets vary with it, else 0 alone."""
        return list(dict.fromkeys(self.set_offset(s) for s in self.seeds))

    def sets_used(self) -> list[str]:
        """The sets that columns train on (a set only named by movement_grids is not synthesized in full)."""
        return sorted({c.set for c in self.columns if c.source == "synthetic" and c.set is not None})


def _fail(path: Path, msg: str) -> None:
    raise VistransferError(f"{path}: {msg}")


def read_toml(path: Path, what: str) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise VistransferError(f"{what} {path} is not valid TOML: {e}") from None


def _schema_error(path: Path, e: ValidationError) -> VistransferError:
    err = e.errors()[0]
    loc = ".".join(
        f"column {x + 1}" if isinstance(x, int) and i and err["loc"][i - 1] == "columns" else str(x)
        for i, x in enumerate(err["loc"])
        if x != "columns"
    )
    if err["type"] == "extra_forbidden":
        return VistransferError(f"{path}: unknown key {loc!r}; remove it or check its spelling")
    if err["type"] == "missing":
        return VistransferError(f"{path}: missing required key {loc!r}")
    return VistransferError(f"{path}: {loc}: {err['msg']} (got {err.get('input')!r})")


def load_presets(folder: Path) -> PresetsFile:
    path = folder / PRESETS_FILE
    if not path.is_file():
        return PresetsFile()
    try:
        return PresetsFile(**read_toml(path, "presets file"))
    except ValidationError as e:
        raise _schema_error(path, e) from None


def _resolve(path: Path, kind: str, value: Union[str, dict], presets: dict[str, dict]) -> dict:
    """A preset name, or a table with an optional ``preset`` key and overrides."""
    table = {"preset": value} if isinstance(value, str) else dict(value)
    name = table.pop("preset", None)
    if name is None:
        return table
    if name not in presets:
        _fail(path, f"{kind} preset {name!r} is not defined in {PRESETS_FILE}; known: {sorted(presets)}")
    return {**presets[name], **table}


class ExperimentHeader(BaseModel):
    """The keys every experiment file of its own kind (apnea, cifar) starts with; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")
    kind: str
    title: str
    paper_table: str = ""
    description: str = ""


def parse_file(model: type, raw: dict, path: Path):
    """``model(**raw)`` (a pydantic schema), its first problem as one line naming the file and the key."""
    try:
        return model(**raw)
    except ValidationError as e:
        raise _schema_error(path, e) from None


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; every problem names the key and the fix."""
    path = Path(path)
    if not path.is_file():
        raise VistransferError(f"experiment file {path} does not exist")
    raw = read_toml(path, "experiment file")
    if raw.get("kind") in ("apnea", "cifar"):
        raise VistransferError(f"{path} is a {raw['kind']} experiment; load it with vistransfer.experiments.load_any")
    raw = extended(path, raw)
    try:
        f = ExperimentFile(**raw)
    except ValidationError as e:
        raise _schema_error(path, e) from None
    if not f.columns and not f.movement_grids:
        _fail(path, "nothing to run: add [[columns]] (a table) or [movement_grids] (figures)")
    presets = load_presets(path.parent)
    teacher = from_dict(TrainConfig, {"epochs": 8, "batch_size": 128, "lr": 2e-3, "seed": 0, **_resolve(path, "teacher", f.teacher, presets.teacher)})
    student = _student(path, "[student]", _resolve(path, "student", f.student, presets.student))
    raw_sets = {name: _resolve(path, f"[sets.{name}]", sd, presets.sets) for name, sd in f.sets.items()}
    columns = [_column(path, i, c, raw_sets) for i, c in enumerate(f.columns)]
    grids = dict(f.movement_grids)
    if grids and grids.get("set") not in raw_sets:
        _fail(path, f"[movement_grids] set {grids.get('set')!r} is not defined; add a [sets.NAME] table")
    sets = {}
    for name, sd in raw_sets.items():
        if "n" in sd:
            _fail(path, f"[sets.{name}] must not set n: the columns' sizes decide it")
        if sd.get("blend"):
            _fail(
                path,
                f"[sets.{name}] must not set blend: a table cuts one set to several sizes, and blends of the "
                "whole set would cross the cut; use `vistransfer run` or an apnea experiment for blends",
            )
        need = [n for c in columns if c.set == name for n in c.sizes]
        sets[name] = from_dict(SynthesisConfig, {**sd, "n": max(need) if need else 1})
    return Experiment(
        path.stem,
        f.title,
        f.dataset,
        tuple(f.seeds),
        teacher,
        student,
        sets,
        tuple(columns),
        f.shard_size,
        f.rows,
        f.paper_table,
        f.description,
        f.feature_distance,
        grids,
        str(path),
        f.synthesis_per_seed,
    )


def _student(path: Path, where: str, options: Any) -> dict[str, Any]:
    try:
        return student_options(options, where)
    except VistransferError as e:
        raise VistransferError(f"{path}: {e}") from None


def _column(path: Path, i: int, c: ColumnFile, raw_sets: dict) -> Column:
    where = f"column {i + 1}"
    set_name = (c.set or "main") if c.source == "synthetic" else None
    if set_name is not None and set_name not in raw_sets:
        _fail(path, f"{where}: set {set_name!r} is not defined; add a [sets.{set_name}] table")
    if min(c.sizes) <= 0:
        _fail(path, f"{where}: sizes must be positive")
    paper = {}
    for k, v in c.paper.items():
        name, _, n = k.partition("@")
        if not n.isdigit():
            _fail(path, f"{where}: paper key {k!r} must look like 'cnn_id@60000'")
        vals = v if isinstance(v, list) else [v]
        paper[f"{canonical_name(name)}@{int(n)}"] = (float(vals[0]), float(vals[1]) if len(vals) > 1 else None)
    students = tuple(canonical_name(s) for s in c.students)
    overrides = _student(path, f"{where}: student", c.student)
    return Column(c.name or where, c.source, set_name, c.labels, c.temperature, students, tuple(c.sizes), paper, overrides)


def find_experiment(name: str, experiments_dir: str | Path = "experiments") -> Path:
    """NAME -> experiments/NAME.toml (or NAME itself when it is a path to a file)."""
    p = Path(name)
    if p.suffix == ".toml" and p.is_file():
        return p
    cand = Path(experiments_dir) / f"{name}.toml"
    if cand.is_file() and not name.startswith("_"):
        return cand
    known = list_experiments(experiments_dir)
    raise VistransferError(f"no experiment {name!r} in {experiments_dir}/; known: {known or 'none'} (or pass the path of a .toml file)")


def list_experiments(experiments_dir: str | Path = "experiments") -> list[str]:
    d = Path(experiments_dir)
    return sorted(f.stem for f in d.glob("*.toml") if not f.stem.startswith("_")) if d.is_dir() else []


def extended(path: Path, raw: dict) -> dict:
    """``extends = "NAME"``: this file is a variant of ``NAME.toml`` beside it; its keys replace the
    base's, and its tables update the base's tables key by key."""
    name = raw.pop("extends", None)
    if name is None:
        return raw
    base_path = path.parent / f"{name}.toml"
    if not base_path.is_file() or base_path.resolve() == path.resolve():
        raise VistransferError(f"{path}: extends = {name!r} names no other experiment file beside it ({base_path} is missing)")
    base = read_toml(base_path, "experiment file")
    if "extends" in base or base.get("kind") != raw.get("kind"):
        raise VistransferError(f"{path}: extends = {name!r} must name a file of the same kind ({raw.get('kind')!r}) that extends no other")
    return {**base, **{k: {**base[k], **v} if isinstance(v, dict) and isinstance(base.get(k), dict) else v for k, v in raw.items()}}
