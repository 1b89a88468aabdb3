"""vistransfer export: a student as ONNX, checked against PyTorch / scikit-learn, with size and latency."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from ..data import load_dataset
from ..errors import VistransferError
from ..export import export_onnx, latency_ms, onnx_predict
from ..students.persist import load_student
from .learn import DatasetTestOpt
from .options import DataDirOpt

TOLERANCE = 1e-4  # max abs difference of probabilities, ONNX Runtime against the student


def export(
    student: Annotated[Path, typer.Argument(help="A student file from 'vistransfer learn' (.pt or .skops).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="ONNX file to write.")],
    dataset: DatasetTestOpt = None,
    check: Annotated[bool, typer.Option("--check/--no-check", help="Compare ONNX Runtime with the student on the test set.")] = True,
    data_dir: DataDirOpt = None,
) -> None:
    """Export a student to ONNX (input 'input' (N, *shape), output 'probabilities' (N, K))."""
    name, model, head = load_student(student)
    export_onnx(model, out)
    size_kb = out.stat().st_size / 1024
    ms = latency_ms(out, tuple(model.in_shape_))
    per = f"{1000 * ms:.1f} µs" if ms < 1 else f"{ms:.2f} ms"
    typer.echo(f"{name} -> {out}: {size_kb:.1f} KB, {per} per example (ONNX Runtime, 1 thread)")
    test_name = dataset or head.get("info", {}).get("dataset")
    if not check:
        return
    if test_name is None:
        raise VistransferError(f"{student} does not say which data it was trained for; pass --dataset, or --no-check")
    test = load_dataset(test_name, "test", data_dir)
    if tuple(test.shape) != tuple(model.in_shape_):
        out.unlink(missing_ok=True)
        raise VistransferError(f"{student} takes {tuple(model.in_shape_)} but {test_name} has {tuple(test.shape)}; pass the matching --dataset")
    ref = model.predict_proba(test.x)
    got = onnx_predict(out, test.x.numpy())
    diff = float(np.abs(ref - got).max())
    acc = float((got.argmax(1) == test.y.numpy()).mean())
    if diff > TOLERANCE:
        out.unlink(missing_ok=True)
        raise VistransferError(f"ONNX Runtime differs from the student by {diff:.2e} (> {TOLERANCE}) on {test_name}; not exported")
    typer.echo(f"checked on {test_name} test ({len(test)}): max |ONNX - student| = {diff:.1e}, accuracy {100 * acc:.2f}%")
