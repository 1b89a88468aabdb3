"""vistransfer run: teacher -> visualizations -> students -> report, in one go."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..config import load_config, to_dict
from ..data import load_dataset
from ..evaluation import fmt_frac, fmt_pct
from ..io import check_output, resolve_device, versions, write_json, write_text
from ..models.foreign import load_teacher
from ..models.registry import model_arch
from ..models.spec import dataset_spec
from ..models.teacher import train_teacher
from ..pipeline import check_compatible, learn_students, synthesize_teacher, teacher_summary
from ..presets import dataset_defaults, teacher_preset
from ..viz import class_grid
from .learn import MEMBERS_HELP, parse_students, student_kwargs
from .options import (
    ConfigOpt,
    DataDirOpt,
    DeviceOpt,
    DownloadOpt,
    QuietOpt,
    parse_seeds,
    with_synthesis_options,
    with_teacher_file_options,
)
from .synthesize import build_synthesis_config

RUN_N = 2000  # visualizations of `vistransfer run` unless --n or a config says otherwise


@with_teacher_file_options()
@with_synthesis_options()
def run(
    dataset: Annotated[
        str, typer.Option(help="digits | mnist | fashion-mnist | cifar10 | apnea-ecg, or an .npz file / image folder of your own")
    ] = "digits",
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", "-o", help="Run folder (default runs/<dataset>).")] = None,
    synthesis: Optional[dict] = None,  # the SYNTHESIS_OPTIONS, from with_synthesis_options
    config: ConfigOpt = None,
    students: Annotated[
        Optional[str],
        typer.Option(
            "--students",
            "-s",
            help="Comma list of students (default: cnn_id,cnn_small,mlp,svm,rf; cnn_ecg,mlp,rf for apnea-ecg; cnn_cifar1,cnn_id,mlp for cifar10).",
        ),
    ] = None,
    seeds: Annotated[str, typer.Option(help="Student seeds: count or list.")] = "3",
    teacher_epochs: Annotated[Optional[int], typer.Option(help="Teacher epochs (default: 30 digits and cifar10, 8 otherwise).")] = None,
    student_epochs: Annotated[Optional[int], typer.Option(help="Neural student epochs (default: 30 digits, 10 otherwise).")] = None,
    min_steps: Annotated[Optional[int], typer.Option(help="Neural students train at least this many steps.")] = None,
    temperature: Annotated[Optional[float], typer.Option(help="Distillation temperature for soft labels.")] = None,
    members: Annotated[Optional[int], typer.Option(help=MEMBERS_HELP)] = None,
    teacher: Annotated[Optional[Path], typer.Option("--teacher", "-t", help="Use this teacher file (any format) instead of training one.")] = None,
    baseline: Annotated[bool, typer.Option("--baseline/--no-baseline", help="Also train each student on the real data (Table 1 'Base').")] = True,
    seed: Annotated[int, typer.Option("--seed", help="Seed of teacher and synthesis.")] = 0,
    teacher_file: Optional[dict] = None,  # --arch, --input-shape, ...: from with_teacher_file_options
    data_dir: DataDirOpt = None,
    download: DownloadOpt = False,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Run the whole pipeline and write report.md, results.json and grid.png to the run folder."""
    dd = dataset_defaults(dataset)
    names = parse_students(students or dd.students)
    seed_list = parse_seeds(seeds)
    if synthesis["n"] is None and config is None:
        synthesis["n"] = RUN_N
    cfg = build_synthesis_config(config, defaults=dict(dd.synthesis), **synthesis, seed=seed)
    kw = student_kwargs(config, dataset, epochs=student_epochs, min_steps=min_steps, temperature=temperature, members=members)
    dev = resolve_device(device)
    out_dir = out_dir or Path("runs") / Path(dataset).stem
    check_output(out_dir, teacher, config, folder=True, option="--out-dir")
    train = load_dataset(dataset, "train", data_dir, download)
    test = load_dataset(dataset, "test", data_dir, download)
    h1 = None
    if teacher is not None:
        h1 = load_teacher(teacher, **teacher_file)
        check_compatible(h1, test, f"{dataset} test")
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)  # only once the inputs are known to be good
    try:
        given = {k: v for k, v in {"epochs": teacher_epochs, "seed": seed}.items() if v is not None}  # options over the config's [teacher]
        tcfg = teacher_preset(dataset, **{**(load_config(config)["teacher"] if config else {}), **given})
        spec = dataset_spec(train, dd, teacher_file["value_range"])
        _pipeline(out_dir, dataset, h1, train, test, cfg, names, seed_list, kw, tcfg, spec, model_arch(dd.arch), baseline, dev, quiet)
    except BaseException:
        if created and out_dir.is_dir() and not any(out_dir.iterdir()):
            shutil.rmtree(out_dir)  # a run that failed before writing anything leaves no empty folder
        raise


def _pipeline(out_dir, dataset, h1, train, test, cfg, names, seed_list, kw, tcfg, spec, arch, baseline, dev, quiet) -> None:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if h1 is None:
        h1 = train_teacher(train, test, tcfg, dataset, arch, device=dev, progress=not quiet, spec=spec)
        h1.save(out_dir / "teacher.pt")
    timings["teach"] = time.perf_counter() - t0
    teacher_eval, teacher_pred = teacher_summary(h1, test, dev)
    typer.echo(f"teacher: test accuracy {100 * teacher_eval['accuracy']:.2f}%")

    t0 = time.perf_counter()
    splits = {"train": train, "test": test}
    ds = synthesize_teacher(
        h1,
        cfg,
        dev,
        splits.__getitem__,
        str(dataset),
        progress=not quiet,
        say=lambda m: typer.echo(m, err=m.startswith("note:")),
        student_options={"min_steps": 500, **kw},
    )
    ds.save(out_dir / "synthetic.pt")
    timings["synthesize"] = time.perf_counter() - t0
    st = ds.meta["stats"]
    typer.echo(f"synthesized {ds.describe_size()} ({st['vis_per_s']:.1f} visualizations/s)")
    vis = ds.from_am  # the grid shows what AM made
    class_grid(
        ds.x[vis],
        ds.target[vis],
        ds.classes,
        out_dir / "grid.png",
        title=f"{dataset}: visualizations, T={cfg.threshold}",
        value_range=(h1.spec.low, h1.spec.high),
    )

    kw = dict(kw, device=str(dev))
    t0 = time.perf_counter()
    res = learn_students(ds.x, ds.targets(), names, seed_list, test, teacher_pred, kw, progress=not quiet)
    timings["learn"] = time.perf_counter() - t0
    base = None
    if baseline:
        t0 = time.perf_counter()
        base = learn_students(train.x, train.y, names, seed_list, test, teacher_pred, kw, progress=not quiet)
        timings["baseline"] = time.perf_counter() - t0

    results = {
        "dataset": dataset,
        "teacher": teacher_eval,
        "teacher_fingerprint": h1.fingerprint,
        "teacher_info": h1.describe(),
        "synthesis": {"config": to_dict(cfg), "stats": st},
        "students": res,
        "baseline": base,
        "student_config": kw,
        "seeds": seed_list,
        "timings_s": timings,
        "versions": versions(),
    }
    write_json(out_dir / "results.json", results)
    report = _report(dataset, teacher_eval, st, res, base, timings, cfg, ds.describe_size(), ds.meta.get("probes"))
    write_text(out_dir / "report.md", report)
    typer.echo(_summary_table(teacher_eval, res, base))
    typer.echo(f"report: {out_dir / 'report.md'}")


def _auc(r: dict | None) -> str:
    """A student's AUC over its seeds (two-class tasks), else '-'."""
    return fmt_frac(r["auc"]) if r and "auc" in r else "-"


def _summary_table(teacher_eval: dict, res: dict, base: dict | None) -> str:
    auc = "auc" in teacher_eval
    t = f"{100 * teacher_eval['accuracy']:.2f}%" + (f", AUC {teacher_eval['auc']:.3f}" if auc else "")
    head = f"{'student':<10} {'visualizations':>16} {'real data':>16}" + (f" {'AUC, vis.':>16} {'AUC, real':>16}" if auc else "")
    lines = [f"{head}   (teacher {t})"]
    for name, r in res.items():
        b = fmt_pct(base[name]["accuracy"]) if base else "-"
        lines.append(f"{name:<10} {fmt_pct(r['accuracy']):>16} {b:>16}" + (f" {_auc(r):>16} {_auc(base[name] if base else None):>16}" if auc else ""))
    return "\n".join(lines)


def _probe_line(probes: dict | None) -> str:
    if not probes:
        return ""
    rounds = "; ".join(f"round {h['round'] + 1}: {100 * h['disagree_at_start']:.1f}% -> {100 * h['disagree_at_end']:.1f}%" for h in probes["history"])
    return (
        f"\nProbes: {probes['n']} in {probes['rounds']} rounds ({probes.get('seconds', 0):.0f} s); the share of them on which "
        f"each round's student disagreed with the teacher, where the search started -> where it ended: {rounds}."
    )


def _report(dataset, teacher_eval, st, res, base, timings, cfg, size: str, probes: dict | None = None) -> str:
    auc = "auc" in teacher_eval  # a two-class task: how well each model ranks, whatever its threshold
    rows = [
        "| student | trained on visualizations (%) | trained on real data (%) | agreement with teacher (%) |"
        + (" AUC, visualizations | AUC, real data |" if auc else ""),
        "|---|---|---|---|" + ("---|---|" if auc else ""),
    ]
    for name, r in res.items():
        b = fmt_pct(base[name]["accuracy"]) if base else "-"
        rows.append(
            f"| {name} | {fmt_pct(r['accuracy'])} | {b} | {fmt_pct(r['teacher_agreement'])} |"
            + (f" {_auc(r)} | {_auc(base[name] if base else None)} |" if auc else "")
        )
    best = max(res, key=lambda k: res[k]["accuracy"]["mean"])
    per_class = res[best]["runs"][0]["per_class_accuracy"]
    pc = (
        "| class | "
        + " | ".join(per_class)
        + " |\n|---|"
        + "---|" * len(per_class)
        + "\n| acc (%) | "
        + " | ".join(f"{100 * v:.1f}" for v in per_class.values())
        + " |"
    )
    return f"""# vistransfer run: {dataset}

Teacher h1 test accuracy: **{100 * teacher_eval["accuracy"]:.2f}%**{f" (AUC {teacher_eval['auc']:.3f})" if auc else ""}.
{size}, T = {cfg.threshold if cfg.threshold_range is None else list(cfg.threshold_range)}, {cfg.labels} labels,
movement {"on" if cfg.movement else "off"}, Loss2 {"on" if cfg.loss2 else "off"}, seed {cfg.seed}.
Synthesis: {st["vis_per_s"]:.1f} visualizations/s, {st["teacher_passes_per_vis"]:.1f} teacher passes per accepted one,
{st["discarded"]} discarded over the step budget.{_probe_line(probes)}

## Students (real test set, mean ± std over seeds)

{chr(10).join(rows)}

Per-class accuracy of {best} (seed {res[best]["runs"][0]["seed"]}):

{pc}

## Visualizations

![samples per class](grid.png)

## Time (s)

{", ".join(f"{k}: {v:.1f}" for k, v in timings.items())}
"""
