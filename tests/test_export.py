"""Students saved, loaded and exported to ONNX: ONNX Runtime gives the student's probabilities."""

import os

import numpy as np
import onnx
import pytest
import torch
from typer.testing import CliRunner

from vistransfer.cli.main import app, main
from vistransfer.export import export_onnx, latency_ms, onnx_predict, output_tail
from vistransfer.students import create_student
from vistransfer.students.persist import load_student, save_student, student_suffix

runner = CliRunner()


@pytest.mark.parametrize(
    "name, extra",
    [("cnn_tiny", {}), ("cnn_tiny", {"members": 2}), ("mlp", {}), ("rf", {}), ("svm", {})],
    ids=["cnn_tiny", "cnn_tiny-ensemble", "mlp", "rf", "svm"],
)
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
    path = save_student(tmp_path / "cnn.pt", "cnn_tiny", create_student("cnn_tiny", epochs=3).fit(train.x, train.y), {"dataset": "digits"})
    out = tmp_path / "cnn.onnx"
    r = runner.invoke(app, ["export", str(path), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert " KB, " in r.output and "s per example" in r.output and "max |ONNX - student|" in r.output
    assert oct(os.stat(out).st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def _set_file(path, x):
    """A synthetic-set file holding inputs ``x`` (what --int8 calibrates on)."""
    from vistransfer.synthesis.dataset import SyntheticDataset

    n = len(x)
    probs = torch.full((n, 10), 0.1)
    SyntheticDataset(
        x,
        probs,
        torch.zeros(n, dtype=torch.long),
        torch.zeros(n, dtype=torch.long),
        torch.full((n,), 0.99),
        torch.arange(n),
        torch.full((n,), -1),
        tuple(str(i) for i in range(10)),
        {},
    ).save(path)
    return path


def test_int8_export_is_smaller_and_keeps_the_accuracy(digits, tmp_path):
    train, _ = digits
    syn = _set_file(tmp_path / "syn.pt", train.x[:200])
    student = create_student("mlp", epochs=5, seed=0).fit(train.x, train.y)  # 57k weights: the scales' overhead is small
    path = save_student(tmp_path / "cnn.pt", "mlp", student, {"dataset": "digits", "synthetic": str(syn)})
    flt, q = tmp_path / "float.onnx", tmp_path / "int8.onnx"
    assert runner.invoke(app, ["export", str(path), "-o", str(flt)]).exit_code == 0
    r = runner.invoke(app, ["export", str(path), "-o", str(q), "--int8"])  # calibrated on the set the student names
    assert r.exit_code == 0, r.output
    assert f"calibrated on {syn}" in r.output and "(int8; float " in r.output
    assert q.stat().st_size < 0.35 * flt.stat().st_size
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == ["float.onnx", "int8.onnx"]  # no float copy left behind
    _, test = digits
    float_acc = (onnx_predict(flt, test.x.numpy()).argmax(1) == test.y.numpy()).mean()
    p_int8 = onnx_predict(q, test.x.numpy())
    assert (p_int8.argmax(1) == test.y.numpy()).mean() >= float_acc - 0.01
    # the output layer and softmax stay in float: probabilities keep their ranking, not a few uint8 levels
    assert len(np.unique(p_int8[:, 0])) > 0.9 * len(test)


def test_int8_keeps_every_members_output_layer_and_their_average_in_float(digits, tmp_path):
    train, _ = digits
    student = create_student("cnn_small", epochs=1, seed=0, members=2).fit(train.x[:100], train.y[:100])
    path = export_onnx(student, tmp_path / "pair.onnx")
    tail = output_tail(onnx.load(str(path)))
    assert sum(n.endswith("out/Gemm") for n in tail) == 2 and any("Softmax" in n for n in tail)
    assert not any("Conv" in n for n in tail)


def test_int8_export_refuses_what_it_cannot_do_well(digits, tmp_path, capsys):
    def run(*args):
        with pytest.raises(SystemExit) as e:
            main(["export", *map(str, args)])
        return e.value.code, capsys.readouterr().err

    train, _ = digits
    student = create_student("cnn_small", epochs=5, seed=0).fit(train.x, train.y)
    path = save_student(tmp_path / "cnn.pt", "cnn_small", student, {"dataset": "digits"})
    out = tmp_path / "q.onnx"
    code, err = run(path, "-o", out, "--int8")
    assert code == 2 and "names no synthetic set" in err and "--calibrate" in err and len(err.splitlines()) == 1
    # calibrated on blank inputs, every activation range is wrong: the check refuses the model
    blank = _set_file(tmp_path / "blank.pt", torch.zeros(50, 1, 8, 8))
    code, err = run(path, "-o", out, "--int8", "--calibrate", blank)
    assert code == 2 and "int8 loses" in err and "not exported" in err and not out.exists()
    rf = save_student(tmp_path / "rf.skops", "rf", create_student("rf", n_estimators=5).fit(train.x, train.y), {"dataset": "digits"})
    code, err = run(rf, "-o", out, "--int8")
    assert code == 2 and "scikit-learn model" in err and not out.exists()
