"""The CLI: readable errors with exit 2, and the commands' files."""

import json

import pytest
from typer.testing import CliRunner

from vistransfer.cli.main import app, main
from vistransfer.students.persist import load_student

runner = CliRunner()


def run_main(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    return e.value.code, capsys.readouterr()


@pytest.mark.parametrize(
    "args, msg",
    [
        (["synthesize", "-t", "{teacher}", "-o", "{tmp}/s.pt", "-T", "1.5"], "threshold T must lie in (0, 1)"),
        (["synthesize", "-t", "{teacher}", "-o", "{tmp}/s.pt", "--n", "-3"], "n must be a positive"),
        (["synthesize", "-t", "{tmp}/nope.pt", "-o", "{tmp}/s.pt"], "does not exist"),
        (["synthesize", "-t", "{teacher}", "-o", "{tmp}/s.pt", "--threshold-share", "1.5"], "must be in (0, 1)"),
        (["synthesize", "-t", "{teacher}", "-o", "{tmp}/s.pt", "--settle-steps", "-1"], "settle_steps must be a whole number"),
        (["synthesize", "-t", "{teacher}", "-o", "{tmp}/s.pt", "--value-prior", "-1"], "value_prior must be >= 0"),
        (["synthesize", "-t", "{teacher}", "-o", "{tmp}/s.pt", "--threshold-share", "0.5", "--threshold-range", "0.6,0.9"], "drop --threshold-range"),
        (["run", "--students", "cnn_id,resnet", "-o", "{tmp}/r"], "unknown student 'resnet'"),
        (["run", "--dataset", "mnist", "--data-dir", "{tmp}", "-o", "{tmp}/r"], "not found in"),
        (["teach", "--dataset", "mnist", "--data-dir", "{tmp}", "-o", "{tmp}/t.pt"], "not found in"),
        (["evaluate", "{teacher}", "--dataset", "mnist", "--data-dir", "{tmp}"], "not found in"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, msg, teacher_file, tmp_path, capsys):
    args = [a.format(teacher=teacher_file, tmp=tmp_path) for a in args]
    code, out = run_main(args, capsys)
    assert code == 2
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and msg in lines[0]
    assert "Traceback" not in out.err
    assert not (tmp_path / "s.pt").exists() and not (tmp_path / "t.pt").exists() and not (tmp_path / "r").exists()


def test_shape_mismatch_is_refused(teacher_file, tmp_path, capsys, monkeypatch):
    """A digits (8x8) teacher cannot be evaluated on a 28x28 dataset."""
    import numpy as np

    from vistransfer.data.idx import write_idx

    d = tmp_path / "fake"
    (d / "mnist").mkdir(parents=True)
    from vistransfer.data import datasets

    monkeypatch.setitem(datasets.MNIST.md5, "t10k-images-idx3-ubyte.gz", None)
    monkeypatch.setitem(datasets.MNIST.md5, "t10k-labels-idx1-ubyte.gz", None)
    write_idx(d / "mnist" / "t10k-images-idx3-ubyte.gz", np.zeros((5, 28, 28), np.uint8))
    write_idx(d / "mnist" / "t10k-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    code, out = run_main(["evaluate", str(teacher_file), "--dataset", "mnist", "--data-dir", str(d)], capsys)
    assert code == 2 and "shape" in out.err and "(1, 8, 8)" in out.err


@pytest.mark.slow
def test_synthesize_show_learn_evaluate(teacher_file, tmp_path):
    syn = tmp_path / "syn.pt"
    r = runner.invoke(app, ["synthesize", "-t", str(teacher_file), "-o", str(syn), "--n", "40", "-q", "--labels", "soft"])
    assert r.exit_code == 0, r.output
    assert "synthesized 40 visualizations" in r.output
    png = tmp_path / "grid.png"
    r = runner.invoke(app, ["show", str(syn), "-o", str(png), "--per-class", "3"])
    assert r.exit_code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = tmp_path / "res.json"
    r = runner.invoke(
        app,
        [
            "learn",
            str(syn),
            "-s",
            "cnn_tiny,rf",
            "--seeds",
            "2",
            "--epochs",
            "3",
            "-t",
            str(teacher_file),
            "-o",
            str(res),
            "--save-dir",
            str(tmp_path / "st"),
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    data = json.loads(res.read_text())
    assert data["labels"] == "soft" and data["results"]["rf"]["accuracy"]["n"] == 2
    assert 0.0 <= data["results"]["cnn_tiny"]["teacher_agreement"]["mean"] <= 1.0
    r = runner.invoke(app, ["evaluate", str(tmp_path / "st" / "cnn_tiny-seed0.pt"), "-t", str(teacher_file)])
    assert r.exit_code == 0 and "agreement with teacher" in r.output


def test_config_file_is_read_and_options_override_it(teacher_file, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[synthesis]\nn = 20\nthreshold_range = [0.9, 0.95]\n")
    syn = tmp_path / "s.pt"
    r = runner.invoke(app, ["synthesize", "-t", str(teacher_file), "-o", str(syn), "-c", str(cfg), "--seed", "5", "-q"])
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "s.pt.json").read_text())
    assert meta["n"] == 20 and meta["config"]["threshold_range"] == [0.9, 0.95] and meta["seed"] == 5


@pytest.mark.slow
def test_run_writes_report(tmp_path):
    out = tmp_path / "run"
    r = runner.invoke(
        app,
        ["run", "-o", str(out), "--n", "100", "--students", "cnn_tiny,svm", "--seeds", "1", "--teacher-epochs", "10", "--student-epochs", "5", "-q"],
    )
    assert r.exit_code == 0, r.output
    for f in ("teacher.pt", "synthetic.pt", "grid.png", "results.json", "report.md"):
        assert (out / f).is_file(), f
    res = json.loads((out / "results.json").read_text())
    assert res["teacher"]["accuracy"] > 0.8 and set(res["students"]) == {"cnn_tiny", "svm"}
    assert res["versions"]["torch"] and res["synthesis"]["config"]["threshold"] == 0.99
    assert "![samples per class](grid.png)" in (out / "report.md").read_text()


@pytest.mark.slow
def test_run_takes_the_value_prior_from_its_own_training_data(teacher_file, tmp_path):
    out = tmp_path / "run"
    r = runner.invoke(
        app,
        [
            "run",
            "-t",
            str(teacher_file),
            "-o",
            str(out),
            "--n",
            "20",
            "-T",
            "0.9",
            "--value-prior",
            "2",
            "--students",
            "svm",
            "--seeds",
            "1",
            "--no-baseline",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads((out / "results.json").read_text())["synthesis"]["config"]["value_prior"] == 2


@pytest.mark.slow
def test_config_tables_are_checked_and_student_options_are_read(teacher_file, tmp_path, capsys):
    syn = tmp_path / "s.pt"
    assert runner.invoke(app, ["synthesize", "-t", str(teacher_file), "-o", str(syn), "--n", "20", "-q"]).exit_code == 0
    bad = tmp_path / "bad.toml"
    bad.write_text("[students]\nepochs = 3\n")
    code, out = run_main(["learn", str(syn), "-c", str(bad), "-q"], capsys)
    assert code == 2 and "unknown table(s) or key(s) ['students']" in out.err
    bad.write_text("[student]\nepoch = 3\n")
    code, out = run_main(["learn", str(syn), "-c", str(bad), "-q"], capsys)
    assert code == 2 and "unknown" in out.err and "'epoch'" in out.err
    bad.write_text("[student]\nmembers = 0\n")
    code, out = run_main(["learn", str(syn), "-c", str(bad), "-q"], capsys)
    assert code == 2 and "members must be at least 1" in out.err
    good = tmp_path / "good.toml"
    good.write_text("[student]\nepochs = 2\nmin_steps = 5\n")
    res = tmp_path / "r.json"
    r = runner.invoke(app, ["learn", str(syn), "-c", str(good), "--seeds", "1", "--temperature", "2", "--members", "2", "-o", str(res), "-q"])
    assert r.exit_code == 0, r.output
    opts = json.loads(res.read_text())["student_options"]
    assert opts["epochs"] == 2 and opts["min_steps"] == 5 and opts["temperature"] == 2.0 and opts["members"] == 2
    _, saved, _ = load_student(tmp_path / "r.json.students" / "cnn_id-seed0.pt")
    assert len(saved.net_.members) == 2  # the ensemble is saved and loaded whole


def test_help_shows_table_names(capsys):
    r = runner.invoke(app, ["synthesize", "--help"])
    assert "[synthesis]" in r.output and "[student]" in r.output


def test_files_follow_the_umask(teacher_file, tmp_path):
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    syn = tmp_path / "s.pt"
    assert runner.invoke(app, ["synthesize", "-t", str(teacher_file), "-o", str(syn), "--n", "10", "-q"]).exit_code == 0
    for f in (syn, tmp_path / "s.pt.json"):
        assert os.stat(f).st_mode & 0o777 == 0o666 & ~mask


def test_a_failed_run_leaves_no_empty_folder(teacher_file, tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[synthesis]\nmax_steps = 1\nlr = 1e-7\nmovement = false\n")
    out = tmp_path / "run"
    code, err = run_main(["run", "-t", str(teacher_file), "-c", str(cfg), "--n", "300", "-o", str(out), "-q"], capsys)
    assert code == 2 and "rarely reaches T" in err.err and not out.exists()


@pytest.mark.slow
def test_teach_and_run_share_the_default_epochs(tmp_path):
    from vistransfer.presets import teacher_preset

    r = runner.invoke(app, ["teach", "-o", str(tmp_path / "t.pt"), "-q"])
    assert r.exit_code == 0, r.output
    from vistransfer.models.foreign import load_teacher

    t = load_teacher(tmp_path / "t.pt")
    assert t.meta["train_config"]["epochs"] == teacher_preset("digits").epochs == 30 and t.test_accuracy > 0.95


def test_progress_in_a_log_file_is_plain_lines():
    import io

    from vistransfer.io import progress_bar

    f = io.StringIO()
    bar = progress_bar(total=50, desc="synthesize", file=f, mininterval=0)
    for _ in range(50):
        bar.update(1)
    bar.close()
    text = f.getvalue()
    assert "\r" not in text and "\x1b" not in text and text.count("\n") >= 2 and "50/50" in text.splitlines()[-1]

    f = io.StringIO()  # a postfix set every step (a training loss) waits for the next timed line
    bar = progress_bar(total=50, desc="teach", file=f, mininterval=3600)
    for i in range(50):
        bar.update(1)
        bar.set_postfix(loss=f"{1 / (i + 1):.4f}")
    bar.close()
    assert f.getvalue().count("\n") <= 2 and "loss=0.0200" in f.getvalue().splitlines()[-1]


@pytest.mark.slow
def test_threshold_share_calibrates_T_on_held_out_data(digits_teacher, digits, teacher_file, tmp_path):
    """--threshold-share: T is where that share of the real test split passes, at most --threshold."""
    import torch

    from vistransfer.pipeline import calibrated_threshold
    from vistransfer.synthesis.dataset import SyntheticDataset

    test = digits[1]
    top = torch.softmax(digits_teacher.module(test.x), 1).max(1).values.detach()
    t = calibrated_threshold(digits_teacher, test, 0.6, cap=0.999999)
    assert abs(float((top > t).float().mean()) - 0.6) <= 2 / len(test)
    assert calibrated_threshold(digits_teacher, test, 0.6, cap=t / 2) == t / 2  # never above the cap
    syn = tmp_path / "cal.pt"
    r = runner.invoke(app, ["synthesize", "-t", str(teacher_file), "-o", str(syn), "--n", "20", "-q", "--threshold-share", "0.6", "-T", "0.999999"])
    assert r.exit_code == 0, r.output
    assert f"T calibrated to {t:.4f}" in r.output
    ds = SyntheticDataset.load(syn)
    cal = ds.meta["threshold_calibration"]
    assert cal["share"] == 0.6 and cal["n"] == len(test) and ds.meta["config"]["threshold"] == pytest.approx(t)
    assert bool((ds.probs.max(1).values > t).all())  # every visualization passed the calibrated T


@pytest.mark.slow
def test_value_prior_reads_the_teachers_training_data_and_records_which(digits, teacher_file, tmp_path):
    from vistransfer.synthesis.dataset import SyntheticDataset

    syn = tmp_path / "vp.pt"
    r = runner.invoke(app, ["synthesize", "-t", str(teacher_file), "-o", str(syn), "--n", "10", "-q", "-T", "0.9", "--value-prior", "2"])
    assert r.exit_code == 0, r.output
    ds = SyntheticDataset.load(syn)
    assert ds.meta["config"]["value_prior"] == 2
    assert ds.meta["value_statistics"] == {"data": "digits", "n": len(digits[0]), "priors": ["value_prior"]}


@pytest.mark.slow
def test_sigterm_removes_the_artifact_being_written(tmp_path):
    import signal
    import subprocess
    import sys

    script = (  # the CLI's handler, then a kill in the middle of an atomic write
        "import os, signal, sys, time\n"
        "from vistransfer.cli.main import _exit_on_sigterm\n"
        "from vistransfer.io import atomic_path\n"
        "_exit_on_sigterm()\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_text('half')\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(30)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "grid.png")], timeout=60)
    assert done.returncode == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []  # neither the artifact nor its temporary


@pytest.mark.slow
def test_an_interrupted_teach_continues_from_its_last_epoch(tmp_path, monkeypatch, capsys):
    import torch

    from vistransfer.models import train
    from vistransfer.models.foreign import load_teacher

    monkeypatch.setenv("VISTRANSFER_CACHE", str(tmp_path / "cache"))
    args = ["teach", "--epochs", "3", "-o", str(tmp_path / "whole.pt"), "-q"]
    assert runner.invoke(app, args).exit_code == 0
    assert not list((tmp_path / "cache" / "teach").glob("*.ckpt"))  # a finished training leaves no checkpoint

    save, saved = train.save_torch, []

    def save_then_stop(path, obj):  # the process dies right after its second epoch's checkpoint
        save(path, obj)
        saved.append(path)
        if len(saved) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(train, "save_torch", save_then_stop)
    args[-2] = str(tmp_path / "resumed.pt")
    runner.invoke(app, args)
    assert not (tmp_path / "resumed.pt").exists() and saved[0].is_file()
    monkeypatch.setattr(train, "save_torch", save)
    code, out = run_main(args, capsys)
    assert code == 0 and "resuming from" in out.err
    a, b = load_teacher(tmp_path / "whole.pt"), load_teacher(tmp_path / "resumed.pt")
    assert a.meta["epoch_losses"] == b.meta["epoch_losses"]
    assert all(torch.equal(x, y) for x, y in zip(a.module.state_dict().values(), b.module.state_dict().values()))
