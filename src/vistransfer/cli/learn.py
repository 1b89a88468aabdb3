"""vistransfer learn / evaluate: students from the synthetic set (Step 3) and their evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..data import load_dataset
from ..errors import VistransferError
from ..evaluation import evaluate_predictions, fmt_pct
from ..io import load_torch, resolve_device, save_torch, write_json
from ..models.nets import MLP, ConvNet
from ..models.teacher import Teacher
from ..models.train import predict_logits
from ..pipeline import check_compatible, learn_students, teacher_summary
from ..students import canonical_name
from ..students.neural import ARCHS, NeuralStudent
from ..synthesis.dataset import SyntheticDataset
from .options import DataDirOpt, DeviceOpt, QuietOpt, parse_seeds

StudentsOpt = Annotated[str, typer.Option("--students", "-s", help="Comma list of: cnn_id, cnn_small, cnn_large, cnn_tiny, mlp, svm, rf.")]


def parse_students(text: str) -> list[str]:
    names = [canonical_name(s.strip()) for s in text.split(",") if s.strip()]
    if not names:
        raise VistransferError("--students is empty; name at least one student")
    return names


def save_student(path: Path, name: str, student) -> None:
    """Neural students are saved as weights (safe to load); sklearn ones are not saved."""
    if isinstance(student, NeuralStudent):
        save_torch(path, {"artifact": "student", "arch": name, "in_shape": list(student.in_shape_),
                          "n_classes": student.n_classes_, "state_dict": student.net_.state_dict()})


def load_student_net(path: Path):
    d = load_torch(path, "student")
    shape = tuple(d["in_shape"])
    net = MLP(shape, d["n_classes"]) if d["arch"] == "mlp" else ConvNet(shape, d["n_classes"], ARCHS[d["arch"]])
    net.load_state_dict(d["state_dict"])
    return net.eval()


def table(results: dict) -> str:
    rows = ["| student | accuracy (%) | agreement with teacher (%) | seeds |", "|---|---|---|---|"]
    for name, r in results.items():
        agree = fmt_pct(r["teacher_agreement"]) if "teacher_agreement" in r else "-"
        rows.append(f"| {name} | {fmt_pct(r['accuracy'])} | {agree} | {r['accuracy']['n']} |")
    return "\n".join(rows)


def learn(
    synthetic: Annotated[Path, typer.Argument(help="Synthetic dataset (.pt) from 'vistransfer synthesize'.")],
    students: StudentsOpt = "cnn_id",
    seeds: Annotated[str, typer.Option(help="Student seeds: a count (3 = 0,1,2) or a list (0,4,7).")] = "3",
    epochs: Annotated[int, typer.Option(help="Epochs for neural students.")] = 10,
    labels: Annotated[Optional[str], typer.Option(help="Override the set's labels: 'hard' or 'soft'.")] = None,
    teacher: Annotated[Optional[Path], typer.Option("--teacher", "-t", help="Teacher checkpoint, for agreement.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write results JSON here.")] = None,
    save_dir: Annotated[Optional[Path], typer.Option(help="Save neural students' weights here.")] = None,
    data_dir: DataDirOpt = None, device: DeviceOpt = "auto", quiet: QuietOpt = False,
) -> None:
    """Train students on the visualizations alone; evaluate them on the real test set."""
    if labels not in (None, "hard", "soft"):
        raise VistransferError(f"--labels must be 'hard' or 'soft', got {labels!r}")
    names = parse_students(students)
    ds = SyntheticDataset.load(synthetic)
    test = load_dataset(ds.meta.get("teacher_dataset", "digits"), "test", data_dir)
    teacher_pred = None
    if teacher is not None:
        h1 = Teacher.load(teacher)
        check_compatible(h1, test, "the test set")
        teacher_pred = teacher_summary(h1, test, resolve_device(device))[1]

    def keep(name, seed, run, student):
        if save_dir is not None:
            save_student(save_dir / f"{name}-seed{seed}.pt", name, student)

    res = learn_students(ds.x, ds.targets(labels), names, parse_seeds(seeds), test, teacher_pred,
                         {"epochs": epochs, "device": device}, progress=not quiet, on_result=keep)
    if out is not None:
        write_json(out, {"synthetic": str(synthetic), "labels": labels or ds.labels, "results": res})
    typer.echo(table(res))


def evaluate(
    model: Annotated[Path, typer.Argument(help="A student (.pt from 'learn --save-dir') or a teacher checkpoint.")],
    dataset: Annotated[str, typer.Option(help="Dataset whose test split to use.")] = "digits",
    teacher: Annotated[Optional[Path], typer.Option("--teacher", "-t", help="Teacher checkpoint, for agreement.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the metrics JSON here.")] = None,
    data_dir: DataDirOpt = None, device: DeviceOpt = "auto",
) -> None:
    """Accuracy, per-class accuracy and (with --teacher) agreement on the real test set."""
    test = load_dataset(dataset, "test", data_dir)
    kind = load_torch(model, "teacher" if _is_teacher(model) else "student")["artifact"]
    net = Teacher.load(model).net if kind == "teacher" else load_student_net(model)
    if tuple(net.in_shape) != tuple(test.shape):
        raise VistransferError(f"{model} takes inputs of shape {tuple(net.in_shape)} but {dataset} has {tuple(test.shape)}; pick the matching --dataset")
    pred = predict_logits(net, test.x, resolve_device(device)).argmax(1).numpy()
    teacher_pred = teacher_summary(Teacher.load(teacher), test)[1] if teacher is not None else None
    res = evaluate_predictions(pred, test, teacher_pred)
    if out is not None:
        write_json(out, res)
    line = f"accuracy {100 * res['accuracy']:.2f}% on {dataset} test ({res['n_test']})"
    if teacher_pred is not None:
        line += f", agreement with teacher {100 * res['teacher_agreement']:.2f}%"
    typer.echo(line)
    for c, a in res["per_class_accuracy"].items():
        typer.echo(f"  {c}: {100 * a:.2f}%")


def _is_teacher(path: Path) -> bool:
    try:
        load_torch(path, "teacher")
        return True
    except VistransferError:
        return False
