"""vistransfer distill: a student from a teacher file alone, through a pool the chosen method makes for it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import tomllib
import typer

from ..config import from_dict, to_dict
from ..data import load_dataset
from ..distill import METHODS, DistillConfig
from ..distill import distill as run_distill
from ..errors import VistransferError
from ..io import atomic_path, cache_dir, cache_key, check_output, resolve_device, write_json
from ..models.foreign import load_teacher
from ..pipeline import check_compatible
from ..students.persist import save_student
from ..viz import class_grid
from .options import DataDirOpt, DeviceOpt, QuietOpt, with_teacher_file_options


def read_config(path: Path | None) -> dict:
    """The [distill] table of a TOML file (DistillConfig's fields), with [synthesis] as the paper method's settings."""
    if path is None:
        return {}
    if not path.is_file():
        raise VistransferError(f"config file {path} does not exist; pass an existing TOML file")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise VistransferError(f"config file {path} is not valid TOML: {e}") from None
    unknown = sorted(set(data) - {"distill", "synthesis"})
    if unknown or not all(isinstance(v, dict) for v in data.values()):
        raise VistransferError(f"config file {path}: the tables are [distill] and [synthesis]; found {sorted(data)}")
    return {**data.get("distill", {}), **({"synthesis": data["synthesis"]} if "synthesis" in data else {})}


def _report(record: dict, out: Path) -> str:
    c = record["config"]
    lines = [
        f"# Data-free distillation: {c['method']} -> {c['student']}",
        "",
        f"Made by `vistransfer distill` ({record['device']}); every value, the config and the versions are in `results.json`.",
        "",
        "| | value |",
        "|---|---|",
        f"| pool | {c['rounds'] * c['batch']:,} inputs ({c['rounds']} rounds of {c['batch']}) |",
        f"| teacher rows in synthesis | {record['synthesis_teacher_rows']:,} ({record['teacher_rows_per_input']:.1f} per input) |",
        f"| teacher rows in distillation | {record['kd_teacher_rows']:,} ({record['student_steps']:,} student steps) |",
        f"| time | {record['seconds']:.0f} s |",
    ]
    if "test" in record:
        lines += [
            f"| teacher's test accuracy | {100 * record['teacher_accuracy']:.2f}% |",
            f"| student's test accuracy | {100 * record['test']['accuracy']:.2f}% |",
            f"| student's agreement with the teacher | {100 * record['test']['teacher_agreement']:.2f}% |",
        ]
        d = record.get("diversity", {})
        if "ratio" in d:
            lines.append(f"| per-class diversity (pool / real test, teacher's layer L-1) | {d['ratio']:.2f} |")
    lines.append(f"| pool inputs the teacher gives the class they were made for | {100 * record['pool_agrees_with_targets']:.1f}% |")
    if record.get("curve"):
        lines += [
            "",
            "| round | pool | mean KD loss of the round | student's test accuracy (%) | agreement with the teacher (%) |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {c['round']} | {c['pool']:,} | {c.get('kd_loss', float('nan')):.3f} | {100 * c['accuracy']:.2f} | {100 * c['teacher_agreement']:.2f} |"
            for c in record["curve"]
        ]
    lines += ["", "![the pool, one row per class](pool.png)", ""]
    return "\n".join(lines)


@with_teacher_file_options()
def distill(
    teacher: Annotated[Path, typer.Option("--teacher", "-t", help="The teacher file (any format 'synthesize' takes).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for synthetic.pt, student.pt, results.json, report.md and pool.png.")],
    method: Annotated[Optional[str], typer.Option(help=f"Synthesis method: {', '.join(sorted(METHODS))} (default deepinversion).")] = None,
    student: Annotated[Optional[str], typer.Option(help="The student's architecture (default cnn_cifar1).")] = None,
    rounds: Annotated[Optional[int], typer.Option(help="Rounds: each adds one batch to the pool and trains the student on it.")] = None,
    batch: Annotated[Optional[int], typer.Option(help="Inputs the method makes per round.")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Synthesis steps per batch.")] = None,
    kd_steps: Annotated[Optional[int], typer.Option(help="Student steps per round.")] = None,
    adv: Annotated[Optional[float], typer.Option(help="Weight of the competition term (student-teacher disagreement); 0: without.")] = None,
    bn: Annotated[Optional[float], typer.Option(help="Weight of the batch-norm prior.")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="TOML with a [distill] table (and [synthesis] for method paper).")] = None,
    dataset: Annotated[
        Optional[str], typer.Option(help="Real test data to report on (never trained on): a name, an .npz file or an image folder.")
    ] = None,
    eval_every: Annotated[int, typer.Option(help="With --dataset: the student's test accuracy every this many rounds (0: at the end).")] = 0,
    seed: Annotated[Optional[int], typer.Option(help="Seed of this run; same seed, same result.")] = None,
    teacher_file: Optional[dict] = None,
    data_dir: DataDirOpt = None,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """A student from the teacher alone: round after round the method synthesizes a batch for the teacher's
    classes, the pool grows, and the student learns the teacher's soft outputs on it. The state goes into the
    cache after every round: the same command, interrupted, continues where it stopped."""
    given = {
        "method": method,
        "student": student,
        "rounds": rounds,
        "batch": batch,
        "steps": steps,
        "kd_steps": kd_steps,
        "adv": adv,
        "bn": bn,
        "seed": seed,
    }
    cfg = from_dict(DistillConfig, {**read_config(config), **{k: v for k, v in given.items() if v is not None}})
    check_output(out, teacher, config, folder=True)
    h1 = load_teacher(teacher, **teacher_file)
    test = None
    if dataset is not None:
        test = load_dataset(dataset, "test", data_dir)
        check_compatible(h1, test, "the test set")
    dev = resolve_device(device)
    state = cache_dir() / "distill" / cache_key({"teacher": h1.fingerprint, "config": to_dict(cfg)})
    res = run_distill(h1, cfg, dev, test=test, state_dir=state, eval_every=eval_every, progress=not quiet, say=lambda m: typer.echo(m, err=True))
    out.mkdir(parents=True, exist_ok=True)
    res.pool.save(out / "synthetic.pt")
    info = {
        "dataset": dataset or h1.dataset,
        "synthetic": str(out / "synthetic.pt"),
        "input_spec": h1.spec.to_dict(),
        "labels": "soft",
        "seed": cfg.seed,
    }
    save_student(out / "student.pt", cfg.student, res.student, info)
    write_json(out / "results.json", res.record)
    class_grid(res.pool.x, res.pool.target, h1.classes, out / "pool.png", title=f"{cfg.method}: the pool", value_range=(h1.spec.low, h1.spec.high))
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(_report(res.record, out))
    line = f"pool of {len(res.pool):,} and a {cfg.student} student -> {out}/"
    if test is not None:
        line += f"; student {100 * res.record['test']['accuracy']:.2f}% on {dataset} test (teacher {100 * res.record['teacher_accuracy']:.2f}%)"
    typer.echo(line)
