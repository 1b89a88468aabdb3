"""The synthetic data must teach: students trained on visualizations alone clear fixed bars on real data."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vistransfer.cli.main import app
from vistransfer.config import SynthesisConfig
from vistransfer.pipeline import make_synthetic
from vistransfer.students import create_student

runner = CliRunner()
# Measured on 6 synthesis seeds (0-5), 400 hard-labelled visualizations of a 98% digits teacher, one
# CNN_ID student each: 56-72% on the real digits test set (chance 10%).
DIGITS_BAR = 0.45
# Measured on 4 synthesis seeds, 200 soft-labelled visualizations (log_softmax AM, tau 4) of a 100%
# teacher of four waveforms: 69-83% on real series (chance 25%).
SERIES_BAR = 0.55


@pytest.mark.slow
def test_a_few_hundred_visualizations_teach_a_student(digits_teacher, digits):
    _, test = digits
    ds = make_synthetic(digits_teacher, SynthesisConfig(n=400, seed=0), progress=False)
    student = create_student("cnn_id", epochs=30, min_steps=300, seed=0).fit(ds.x, ds.targets())
    acc = float((student.predict(test.x) == test.y.numpy()).mean())
    assert acc > DIGITS_BAR, acc


def waves(n: int, length: int = 120, seed: int = 0):
    """Four classes of series (sine, square, sawtooth, pulse train): random frequency, phase,
    amplitude and noise. Returns x (n, 1, length) float32 in about [-1.2, 1.2] and y (n,)."""
    g = np.random.default_rng(seed)
    y = np.arange(n) % 4
    t = np.linspace(0, 1, length)
    u = (g.uniform(2, 4, n)[:, None] * t + g.uniform(0, 1, n)[:, None]) % 1.0
    shapes = [np.sin(2 * np.pi * u), np.sign(np.sin(2 * np.pi * u)), 2 * u - 1, np.where(u < 0.15, 1.0, -0.5)]
    x = np.choose(y[:, None], shapes) * g.uniform(0.7, 1.0, n)[:, None] + g.normal(0, 0.05, (n, length))
    return x[:, None].astype(np.float32), y


@pytest.mark.slow
def test_series_end_to_end(tmp_path):
    """A 1-D problem from .npz through the CLI: teacher, synthesis, students, line plots, ONNX."""
    xtr, ytr = waves(800, seed=0)
    xte, yte = waves(400, seed=1)
    data = tmp_path / "waves.npz"
    np.savez(data, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte, classes=np.array(["sine", "square", "sawtooth", "pulse"]))
    cfg = tmp_path / "series.toml"
    cfg.write_text(
        '[synthesis]\nobjective = "log_softmax"\nlabels = "soft"\nseed = 0\n\n[student]\ntemperature = 4.0\n'
        "min_steps = 300\n\n[teacher]\nepochs = 20\nbatch_size = 64\nlr = 0.003\n"
    )
    out = tmp_path / "run"
    r = runner.invoke(
        app,
        [
            "run",
            "--dataset",
            str(data),
            "--value-range",
            "-1.5,1.5",
            "-c",
            str(cfg),
            "--n",
            "200",
            "--students",
            "cnn_id",
            "--seeds",
            "1",
            "--no-baseline",
            "-o",
            str(out),
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    assert res["teacher"]["accuracy"] > 0.95
    assert res["teacher_info"]["input_spec"] == {"shape": [1, 120], "low": -1.5, "high": 1.5, "mean": None, "std": None}
    assert res["students"]["cnn_id"]["accuracy"]["mean"] > SERIES_BAR, res["students"]["cnn_id"]["accuracy"]
    syn = torch.load(out / "synthetic.pt", weights_only=True)
    assert syn["x"].shape == (200, 1, 120) and float(syn["x"].min()) >= -1.5 and float(syn["x"].max()) <= 1.5
    png = tmp_path / "series.png"
    r = runner.invoke(app, ["show", str(out / "synthetic.pt"), "-o", str(png)])
    assert r.exit_code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
