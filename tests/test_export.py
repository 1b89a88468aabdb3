"""Students saved, loaded and exported to ONNX: ONNX Runtime gives the student's probabilities."""

import os

import numpy as np
import pytest
from typer.testing import CliRunner

from vistransfer.cli.main import app
from vistransfer.export import export_onnx, latency_ms, onnx_predict
from vistransfer.students import create_student
from vistransfer.students.persist import load_student, save_student, student_suffix

runner = CliRunner()


@pytest.mark.parametrize("name, extra", [("cnn_tiny", {}), ("cnn_tiny", {"members": 2}), ("mlp", {}), ("rf", {}), ("svm", {})],
                         ids=["cnn_tiny", "cnn_tiny-ensemble", "mlp", "rf", "svm"])
def test_save_load_export_round_trip(name, extra, digits, tmp_path):
    train, test = digits
    student = create_student(name, epochs=3, seed=0, **extra).fit(train.x, train.y)
    path = save_student(tmp_path / f"s{student_suffix(student)}", name, student, {"dataset": "digits"})
    back_name, back, head = load_student(path)
    assert back_name == name and head["info"]["dataset"] == "digits"
    np.testing.assert_allclose(back.predict_proba(test.x), student.predict_proba(test.x), atol=1e-6)
    onnx_path = export_onnx(back, tmp_path / "s.onnx")
    got = onnx_predict(onnx_path, test.x.numpy())
    assert got.shape == (len(test), 10)
    assert np.abs(got - student.predict_proba(test.x)).max() <= 1e-4
    assert latency_ms(onnx_path, (1, 8, 8), repeats=5) > 0.0


def test_sklearn_student_file_holds_no_pickle(digits, tmp_path):
    import zipfile

    train, _ = digits
    path = save_student(tmp_path / "rf.skops", "rf", create_student("rf", n_estimators=5).fit(train.x, train.y))
    names = zipfile.ZipFile(path).namelist()
    assert "schema.json" in names and not any(n.endswith(".pkl") for n in names)


def test_export_command_checks_and_reports(digits, tmp_path):
    train, _ = digits
    path = save_student(tmp_path / "cnn.pt", "cnn_tiny", create_student("cnn_tiny", epochs=3).fit(train.x, train.y),
                        {"dataset": "digits"})
    out = tmp_path / "cnn.onnx"
    r = runner.invoke(app, ["export", str(path), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert " KB, " in r.output and "s per example" in r.output and "max |ONNX - student|" in r.output
    assert oct(os.stat(out).st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m
