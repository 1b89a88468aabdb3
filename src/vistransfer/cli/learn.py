"""vistransfer learn / evaluate: students from the synthetic set (Step 3) and their evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..config import load_config, student_options
from ..data import load_dataset
from ..errors import VistransferError
from ..evaluation import evaluate_predictions, fmt_frac, fmt_pct
from ..io import check_output, load_torch, resolve_device, write_json
from ..models.foreign import load_teacher
from ..pipeline import check_compatible, learn_students, teacher_proba, teacher_summary
from ..presets import STUDENT_PRESETS, dataset_defaults
from ..students import canonical_name
from ..students.persist import is_skops, load_student, save_student, student_suffix
from ..synthesis.dataset import SyntheticDataset
from .options import (
    ConfigOpt,
    DataDirOpt,
    DeviceOpt,
    QuietOpt,
    parse_seeds,
    with_teacher_file_options,
)

StudentsOpt = Annotated[str, typer.Option("--students", "-s", help="Comma list of: cnn_id, cnn_small, cnn_large, cnn_tiny, mlp, svm, rf.")]
MEMBERS_HELP = (
    "Neural students as ensembles of this many networks (seeds 1000 apart, class probabilities averaged): "
    "a steadier decision threshold, at that many times the size and time."
)
DatasetTestOpt = Annotated[
    Optional[str],
    typer.Option("--dataset", help="Real test data: a name (digits, mnist, ...), an .npz file or an image folder (default: the teacher's dataset)."),
]


def parse_students(text: str) -> list[str]:
    names = [canonical_name(s.strip()) for s in text.split(",") if s.strip()]
    if not names:
        raise VistransferError("--students is empty; name at least one student")
    return names


def student_kwargs(config: Optional[Path], dataset: str | None, **cli) -> dict:
    """Student options: the dataset's defaults, then the config's [student] table, then the CLI."""
    kw = {**STUDENT_PRESETS.get(dataset or "", STUDENT_PRESETS["default"]), **dict(dataset_defaults(dataset or "").student)}
    if config is not None:
        kw.update(load_config(config)["student"])
    kw.update(student_options({k: v for k, v in cli.items() if v is not None}, "student option"))
    return kw


def table(results: dict) -> str:
    auc = any("auc" in r for r in results.values())  # a two-class task
    rows = [
        "| student | accuracy (%) | agreement with teacher (%) | " + ("AUC | " if auc else "") + "seeds |",
        "|---|---|---|" + ("---|" if auc else "") + "---|",
    ]
    for name, r in results.items():
        agree = fmt_pct(r["teacher_agreement"]) if "teacher_agreement" in r else "-"
        a = f"{fmt_frac(r['auc']) if 'auc' in r else '-'} | " if auc else ""
        rows.append(f"| {name} | {fmt_pct(r['accuracy'])} | {agree} | {a}{r['accuracy']['n']} |")
    return "\n".join(rows)


@with_teacher_file_options()
def learn(
    synthetic: Annotated[Path, typer.Argument(help="Synthetic dataset (.pt) from 'vistransfer synthesize'.")],
    students: StudentsOpt = "cnn_id",
    seeds: Annotated[str, typer.Option(help="Student seeds: a count (3 = 0,1,2) or a list (0,4,7).")] = "3",
    epochs: Annotated[Optional[int], typer.Option(help="Epochs for neural students (default 10; 30 on digits; presets.STUDENT_PRESETS).")] = None,
    min_steps: Annotated[
        Optional[int],
        typer.Option(help="Neural students train at least this many steps (small sets get more epochs; default 1500, 0 on digits and cifar10)."),
    ] = None,
    temperature: Annotated[Optional[float], typer.Option(help="Distillation temperature for soft labels (4 gave our best MNIST results).")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Peak Adam learning rate of neural students.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Minibatch size of neural students.")] = None,
    members: Annotated[Optional[int], typer.Option(help=MEMBERS_HELP)] = None,
    labels: Annotated[Optional[str], typer.Option(help="Override the set's labels: 'hard' or 'soft'.")] = None,
    dataset: DatasetTestOpt = None,
    teacher: Annotated[Optional[Path], typer.Option("--teacher", "-t", help="Teacher file, for agreement.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write results JSON here.")] = None,
    save_dir: Annotated[Optional[Path], typer.Option(help="Where every trained student is saved (default: <out or synthetic>.students/).")] = None,
    config: ConfigOpt = None,
    teacher_file: Optional[dict] = None,  # --arch, --input-shape, ...: from with_teacher_file_options
    data_dir: DataDirOpt = None,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Train students on the visualizations alone; evaluate them on the real test set; save each one."""
    if labels not in (None, "hard", "soft"):
        raise VistransferError(f"--labels must be 'hard' or 'soft', got {labels!r}")
    check_output(out, synthetic, teacher, config)
    check_output(save_dir, synthetic, teacher, config, folder=True, option="--save-dir")
    names = parse_students(students)
    seed_list = parse_seeds(seeds)
    ds = SyntheticDataset.load(synthetic)
    test_name = dataset or ds.meta.get("teacher_dataset")
    if test_name is None:
        raise VistransferError(
            f"{synthetic} was made from a teacher without a known dataset; pass --dataset "
            "(a name, an .npz file or an image folder) with the real test data"
        )
    kw = student_kwargs(config, test_name, epochs=epochs, min_steps=min_steps, temperature=temperature, lr=lr, batch_size=batch_size, members=members)
    kw["device"] = device
    test = load_dataset(test_name, "test", data_dir)
    if tuple(test.shape) != tuple(ds.x.shape[1:]) or len(test.classes) != len(ds.classes):
        raise VistransferError(
            f"test data {test_name} has examples of shape {tuple(test.shape)} and {len(test.classes)} classes, "
            f"but the visualizations are {tuple(ds.x.shape[1:])} with {len(ds.classes)}; pass the teacher's --dataset"
        )
    teacher_pred = None
    if teacher is not None:
        h1 = load_teacher(teacher, **teacher_file)
        check_compatible(h1, test, "the test set")
        teacher_pred = teacher_summary(h1, test, resolve_device(device))[1]
    folder = save_dir or Path(str(out or synthetic) + ".students")
    info = {"dataset": test_name, "synthetic": str(synthetic), "input_spec": ds.meta.get("input_spec"), "labels": labels or ds.labels}

    def keep(name, seed, run, student):
        path = save_student(folder / f"{name}-seed{seed}{student_suffix(student)}", name, student, dict(info, seed=seed))
        run["file"] = str(path)

    res = learn_students(ds.x, ds.targets(labels), names, seed_list, test, teacher_pred, kw, progress=not quiet, on_result=keep)
    if out is not None:
        write_json(
            out,
            {
                "synthetic": str(synthetic),
                "labels": labels or ds.labels,
                "dataset": test_name,
                "student_options": {k: v for k, v in kw.items() if k != "device"},
                "results": res,
            },
        )
    typer.echo(table(res))
    typer.echo(f"students saved in {folder}/")


@with_teacher_file_options(features=False)
def evaluate(
    model: Annotated[Path, typer.Argument(help="A student (from 'learn') or a teacher file.")],
    dataset: DatasetTestOpt = None,
    teacher: Annotated[Optional[Path], typer.Option("--teacher", "-t", help="Teacher file, for agreement.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the metrics JSON here.")] = None,
    teacher_file: Optional[dict] = None,  # --arch, --input-shape, ...: from with_teacher_file_options
    data_dir: DataDirOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Accuracy, per-class accuracy and (with --teacher) agreement on the real test set."""
    check_output(out, model, teacher)
    topts = teacher_file
    if _is_student(model):
        _, student, head = load_student(model)
        name = dataset or head.get("info", {}).get("dataset")
        shape, k = tuple(student.in_shape_), len(student.classes_)
        proba = lambda split: student.predict_proba(split.x)  # noqa: E731
        label = lambda p: student.classes_[p.argmax(1)]  # noqa: E731
    else:
        h1 = load_teacher(model, **topts)
        name, shape, k = dataset or h1.dataset, tuple(h1.in_shape), h1.n_classes
        proba = lambda split: teacher_proba(h1, split.x, resolve_device(device))  # noqa: E731
        label = lambda p: p.argmax(1)  # noqa: E731
    if name is None:
        raise VistransferError(f"{model} does not say which data it was trained for; pass --dataset")
    test = load_dataset(name, "test", data_dir)
    if shape != tuple(test.shape):
        raise VistransferError(f"{model} takes inputs of shape {shape} but {name} has {tuple(test.shape)}; pick the matching --dataset")
    if k != len(test.classes):
        raise VistransferError(f"{model} predicts {k} classes but {name} has {len(test.classes)}; pick the matching --dataset")
    teacher_pred = None
    if teacher is not None:
        t = load_teacher(teacher, **topts)
        check_compatible(t, test, f"{name} test")
        teacher_pred = teacher_summary(t, test, resolve_device(device))[1]
    p = proba(test)
    res = evaluate_predictions(label(p), test, teacher_pred, p)
    if out is not None:
        write_json(out, res)
    line = f"accuracy {100 * res['accuracy']:.2f}% on {name} test ({res['n_test']})"
    if "auc" in res:
        line += f", AUC {res['auc']:.3f}"
    if teacher_pred is not None:
        line += f", agreement with teacher {100 * res['teacher_agreement']:.2f}%"
    typer.echo(line)
    for c, a in res["per_class_accuracy"].items():
        typer.echo(f"  {c}: {100 * a:.2f}%")


def _is_student(path: Path) -> bool:
    if is_skops(path):
        return True
    try:
        load_torch(path, "student")
        return True
    except VistransferError:
        return False
