"""Options shared by several commands, defined once."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..config import SynthesisConfig
from ..errors import VistransferError
from ..models.spec import parse_normalize, parse_shape

DataDirOpt = Annotated[
    Optional[Path], typer.Option("--data-dir", help="Folder with the dataset files (else $VISTRANSFER_DATA_DIR, else ~/.cache/vistransfer/datasets).")
]
DeviceOpt = Annotated[str, typer.Option("--device", help="'auto' (GPU when present), 'cpu' or 'cuda[:N]'.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of this run; same seed, same result.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
DownloadOpt = Annotated[bool, typer.Option("--download", help="Try the canonical download when dataset files are missing.")]


def parse_seeds(text: str) -> list[int]:
    """'0,1,2' or '3' (= 0,1,2) -> list of seeds."""
    try:
        parts = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise VistransferError(f"--seeds must be a count like 3 or a list like 0,1,2; got {text!r}") from None
    if len(parts) == 1 and "," not in text:
        if parts[0] < 1:
            raise VistransferError("--seeds count must be at least 1")
        return list(range(parts[0]))
    return parts


def parse_pair(text: str | None, name: str) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise VistransferError(f"{name} must be two numbers 'low,high', got {text!r}") from None
    return (lo, hi)


# --- a teacher handed over as a file (synthesize, learn, evaluate, run) -------------------------
ArchOpt = Annotated[
    Optional[str], typer.Option("--arch", help="For a state_dict file: module:function returning the untrained model, or a built-in name (convnet).")
]
InputShapeOpt = Annotated[
    Optional[str],
    typer.Option(
        "--input-shape", help="The teacher's input: C,H,W (images) or C,L (series), e.g. 3,32,32 or 1,240; read from the file when it says."
    ),
]
NormalizeOpt = Annotated[
    Optional[str], typer.Option("--normalize", help="Normalization the teacher was trained with: mean,std or C means then C stds.")
]
ValueRangeOpt = Annotated[Optional[str], typer.Option("--value-range", help="Data domain low,high of one value (default 0,1: images).")]
FeaturesLayerOpt = Annotated[
    Optional[str], typer.Option("--features-layer", help="Module whose output is layer L-1 (Loss2); for TorchScript, an exported method.")
]


def teacher_options(arch: str | None, input_shape: str | None, normalize: str | None, value_range: str | None, features_layer: str | None) -> dict:
    """CLI strings -> keyword arguments of :func:`vistransfer.models.foreign.load_teacher`."""
    return {
        "arch": arch,
        "input_shape": parse_shape(input_shape) if input_shape else None,
        "normalize": parse_normalize(normalize) if normalize else None,
        "value_range": parse_pair(value_range, "--value-range"),
        "features_layer": features_layer,
    }


ConfigOpt = Annotated[
    Optional[Path], typer.Option("--config", "-c", help="TOML file with [synthesis], [student] and [teacher] tables; options override it.")
]


# The synthesis knobs every command that synthesizes offers as options, declared once: their help is the
# field's own doc (config.knob), so a new knob is a config field and a name here.
SYNTHESIS_OPTIONS = (
    "n",
    "threshold",
    "threshold_range",
    "labels",
    "objective",
    "movement",
    "loss2",
    "max_steps",
    "lr",
    "gen_start",
    "bn_prior",
    "value_prior",
    "jitter",
    "flip",
    "settle_steps",
    "blend",
    "offset",
    "probe",
)
_SHORT = {"threshold": "-T"}


def _option(f: dataclasses.Field) -> tuple[Any, Any]:
    """(annotation, parser) of the command-line option of SynthesisConfig field ``f``."""
    flag = "--" + f.name.replace("_", "-")
    doc = " ".join(f.metadata["doc"].split())
    if f.type in ("bool", bool):
        return Annotated[Optional[bool], typer.Option(f"{flag}/--no-{flag[2:]}", help=doc)], None
    if "tuple[float, float]" in str(f.type):
        return Annotated[Optional[str], typer.Option(flag, help=doc + " Give it as 'low,high'.")], lambda v: parse_pair(v, flag)
    kind = {"int": int, "float": float, "str": str}[str(f.type)]
    return Annotated[Optional[kind], typer.Option(flag, *([_SHORT[f.name]] if f.name in _SHORT else []), help=doc)], None


def _graft(fn: Callable, placeholder: str, options: dict[str, Any], collect: Callable[[dict], Any]) -> Callable:
    """``fn`` with its parameter ``placeholder`` replaced, where it stands, by one keyword option per entry of
    ``options`` (name -> annotation); ``fn`` receives ``collect(given)`` (name -> value, None where not given)."""
    sig = inspect.signature(fn, eval_str=True)
    own = list(sig.parameters.values())
    at = [q.name for q in own].index(placeholder)
    added = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ann) for n, ann in options.items()]

    @functools.wraps(fn)
    def command(**kwargs):
        given = {n: kwargs.pop(n) for n in options}
        return fn(**kwargs, **{placeholder: collect(given)})

    keyword = [q.replace(kind=inspect.Parameter.KEYWORD_ONLY) for q in own]
    params = keyword[:at] + added + keyword[at + 1 :]
    command.__signature__ = sig.replace(parameters=params)
    command.__annotations__ = {q.name: q.annotation for q in params}
    return command


def with_synthesis_options() -> Callable:
    """Give a command one option per :data:`SYNTHESIS_OPTIONS` knob where it declares ``synthesis``; it takes
    them as ``synthesis: dict`` of the options given (None where not given)."""
    fields = {f.name: f for f in dataclasses.fields(SynthesisConfig)}
    options = {n: _option(fields[n]) for n in SYNTHESIS_OPTIONS}

    def collect(given: dict) -> dict:
        return {n: (options[n][1](v) if options[n][1] and v is not None else v) for n, v in given.items()}

    return lambda fn: _graft(fn, "synthesis", {n: ann for n, (ann, _) in options.items()}, collect)


def with_teacher_file_options(features: bool = True) -> Callable:
    """Give a command the options that describe a teacher file (--arch, --input-shape, --normalize,
    --value-range and, with ``features``, --features-layer) where it declares ``teacher_file``; it takes
    them as ``teacher_file: dict``, the keyword arguments of :func:`vistransfer.models.foreign.load_teacher`."""
    options = {"arch": ArchOpt, "input_shape": InputShapeOpt, "normalize": NormalizeOpt, "value_range": ValueRangeOpt}
    if features:
        options["features_layer"] = FeaturesLayerOpt

    def collect(given: dict) -> dict:
        return teacher_options(given["arch"], given["input_shape"], given["normalize"], given["value_range"], given.get("features_layer"))

    return lambda fn: _graft(fn, "teacher_file", options, collect)
