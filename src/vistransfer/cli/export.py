"""vistransfer export: a student as ONNX, checked against PyTorch / scikit-learn, with size and latency."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

from ..data import load_dataset
from ..errors import VistransferError
from ..export import export_onnx, latency_ms, onnx_predict, quantize_int8
from ..io import check_output
from ..students.neural import NeuralStudent
from ..students.persist import load_student
from ..synthesis.dataset import SyntheticDataset
from .learn import DatasetTestOpt
from .options import DataDirOpt

TOLERANCE = 1e-4  # max abs difference of probabilities, ONNX Runtime against the student
INT8_MAX_DROP = 0.01  # an int8 model may lose at most this much test accuracy against the float student


def _calibration_inputs(calibrate: Path | None, head: dict, student: Path) -> tuple[np.ndarray, str]:
    """Inputs that set the int8 model's activation ranges: a synthetic set (the student's own, by default)."""
    path = calibrate or (Path(head["info"]["synthetic"]) if head.get("info", {}).get("synthetic") else None)
    if path is None or not path.is_file():
        where = f"{path} (named in {student}) does not exist" if path is not None else f"{student} names no synthetic set"
        raise VistransferError(
            f"--int8 calibrates on the student's training set, but {where}; pass --calibrate SYN.pt (a set from 'vistransfer synthesize')"
        )
    return SyntheticDataset.load(path).x.numpy(), str(path)


def export(
    student: Annotated[Path, typer.Argument(help="A student file from 'vistransfer learn' (.pt or .skops).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="ONNX file to write.")],
    dataset: DatasetTestOpt = None,
    check: Annotated[bool, typer.Option("--check/--no-check", help="Compare ONNX Runtime with the student on the test set.")] = True,
    int8: Annotated[
        bool,
        typer.Option(
            "--int8",
            help="Quantize to 8 bits (about 1/4 of the size; neural students), "
            "calibrated on the student's training set; refused if it loses over 1 point of test accuracy.",
        ),
    ] = False,
    calibrate: Annotated[
        Optional[Path], typer.Option("--calibrate", help="Synthetic set whose inputs calibrate --int8 (default: the one the student learned from).")
    ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Export a student to ONNX (input 'input' (N, *shape), output 'probabilities' (N, K))."""
    check_output(out, student, calibrate)
    name, model, head = load_student(student)
    if int8 and not isinstance(model, NeuralStudent):
        raise VistransferError(f"--int8 quantizes networks; {name} is a scikit-learn model, export it without --int8")
    if int8 and not check:
        raise VistransferError("--int8 needs the test set's check (how much accuracy 8 bits cost); drop --no-check")
    calib_x, calib_name = _calibration_inputs(calibrate, head, student) if int8 else (None, None)
    float_kb = None
    if int8:
        with tempfile.TemporaryDirectory() as d:
            flt = export_onnx(model, Path(d) / "float.onnx")
            float_kb = flt.stat().st_size / 1024
            quantize_int8(flt, out, calib_x)
    else:
        export_onnx(model, out)
    size_kb = out.stat().st_size / 1024
    ms = latency_ms(out, tuple(model.in_shape_))
    per = f"{1000 * ms:.1f} µs" if ms < 1 else f"{ms:.2f} ms"
    typer.echo(f"{name} -> {out}: {size_kb:.1f} KB{f' (int8; float {float_kb:.1f} KB)' if int8 else ''}, {per} per example (ONNX Runtime, 1 thread)")
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
    if int8:
        ref_acc = float((ref.argmax(1) == test.y.numpy()).mean())
        agree = float((ref.argmax(1) == got.argmax(1)).mean())
        if ref_acc - acc > INT8_MAX_DROP:
            out.unlink(missing_ok=True)
            raise VistransferError(
                f"int8 loses {100 * (ref_acc - acc):.2f} points of accuracy on {test_name} "
                f"({100 * ref_acc:.2f}% -> {100 * acc:.2f}%; calibrated on {calib_name}); not exported. "
                "Export without --int8, or calibrate on a set closer to the test data"
            )
        typer.echo(
            f"int8 (calibrated on {calib_name}), checked on {test_name} test ({len(test)}): accuracy {100 * acc:.2f}% "
            f"(float {100 * ref_acc:.2f}%), same class as the float student on {100 * agree:.2f}%, max |int8 - float| = {diff:.1e}"
        )
        return
    if diff > TOLERANCE:
        out.unlink(missing_ok=True)
        raise VistransferError(f"ONNX Runtime differs from the student by {diff:.2e} (> {TOLERANCE}) on {test_name}; not exported")
    typer.echo(f"checked on {test_name} test ({len(test)}): max |ONNX - student| = {diff:.1e}, accuracy {100 * acc:.2f}%")
