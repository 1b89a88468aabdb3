"""Apnea-ECG loading on tiny WFDB records written here: alignment of labels and windows, cleaning, errors."""

import hashlib

import numpy as np
import pytest
import wfdb

from vistransfer.cli.main import main
from vistransfer.ecg import rr
from vistransfer.ecg.apnea import load_minutes, minute_examples, read_record

FS = 100


def minute_rr(m):
    return 0.6 + 0.05 * m  # every minute its own RR, so a shifted window is caught


def write_record(root, name, n_minutes=9, labels=None, extra_apn=0):
    """A night of ``n_minutes`` whose beats in minute m are minute_rr(m) s apart."""
    beats, t = [], 0.2
    while t < n_minutes * 60:
        beats.append(int(round(t * FS)))
        t += minute_rr(int(t // 60))
    labels = labels or ["A" if m % 3 == 0 else "N" for m in range(n_minutes)]
    n_lab = n_minutes + extra_apn
    labels = (labels + ["N"] * extra_apn)[:n_lab]
    (root / f"{name}.hea").write_text(f"{name} 1 {FS} {n_minutes * 60 * FS}\r\n{name}.dat 16 200 12 0 0 0 0 ECG\r\n")
    wfdb.wrann(name, "apn", np.arange(n_lab) * 60 * FS, labels, write_dir=str(root))
    wfdb.wrann(name, "qrs", np.array(beats), ["N"] * len(beats), write_dir=str(root))
    return labels


def write_sums(root):
    lines = [f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {f.name}" for f in sorted(root.iterdir()) if f.suffix in (".hea", ".apn", ".qrs")]
    (root / "SHA256SUMS").write_text("\n".join(lines) + "\n")


@pytest.fixture
def tiny(tmp_path):
    names = ["a01", "a02", "b01", "c01", "c02"]
    labels = {n: write_record(tmp_path, n) for n in names}
    (tmp_path / "RECORDS").write_text("\n".join(names) + "\n")
    write_sums(tmp_path)
    return tmp_path, labels


def test_the_label_of_minute_m_describes_the_samples_of_minute_m(tiny):
    root, labels = tiny
    ex = minute_examples(read_record(root, "a01"))
    assert ex["minute"].tolist() == [2, 3, 4, 5, 6]  # minutes 0, 1, 7, 8 lack two minutes on a side
    assert ex["dropped"] == {"edge": 4, "few_beats": 0}
    assert ex["x"].shape == (5, 1, 1200)
    for x, y, m in zip(ex["x"], ex["y"], ex["minute"]):
        own = x[0, 480:720]  # samples of minute m: 4 Hz, two minutes before it
        assert np.median(own) == pytest.approx(minute_rr(m), abs=1e-6)
        assert np.median(x[0, 720:960]) == pytest.approx(minute_rr(m + 1), abs=1e-6)  # the next minute is m + 1
        assert y == (1 if labels["a01"][m] == "A" else 0)


def test_cleaning_drops_impossible_and_ectopic_beats():
    t, r = rr.rr_intervals(np.array([0, 80, 160, 170, 250, 330, 600, 680]), 100)
    keep = rr.clean_mask(r)
    assert r.tolist() == pytest.approx([0.8, 0.8, 0.1, 0.8, 0.8, 2.7, 0.8])
    assert keep.tolist() == [True, True, False, True, True, False, True]


def test_load_minutes_and_the_record_split(tiny):
    root, _ = tiny
    d = load_minutes(root, ("a01", "c02"))
    assert d["x"].shape == (10, 1, 1200) and d["record"].tolist() == [0] * 5 + [1] * 5
    from vistransfer.data import load_dataset

    train, test = load_dataset("apnea-ecg", "train", root), load_dataset("apnea-ecg", "test", root)
    assert len(train) == 20 and len(test) == 5 and train.classes == ("normal", "apnea")  # c02 is held out


@pytest.mark.parametrize(
    "damage, msg",
    [
        ("truncate_qrs", "a02.qrs fails its SHA256 checksum"),
        ("truncate_qrs_nosum", "a02.qrs is not a readable WFDB annotation file"),
        ("long_apn", "a02.apn labels 12 minutes but record a02 lasts 9.0 minutes"),
        ("missing", "a02.hea is missing"),
        ("missing_apn", "a02.apn is missing"),  # not a record dropped in silence, shifting the record-wise split
    ],
)
def test_damaged_records_are_one_line_naming_the_file(damage, msg, tiny, capsys):
    root, _ = tiny
    if damage.startswith("truncate_qrs"):
        data = (root / "a02.qrs").read_bytes()
        (root / "a02.qrs").write_bytes(data[: len(data) // 2 + 1])
        if damage.endswith("nosum"):
            write_sums(root)
    elif damage == "missing_apn":
        (root / "a02.apn").unlink()
    elif damage == "long_apn":
        write_record(root, "a02", extra_apn=3)
        write_sums(root)
    else:
        for ext in ("hea", "apn", "qrs"):
            (root / f"a02.{ext}").unlink()
        (root / "a02.apn").write_bytes(b"")  # still listed: a record without its header
    with pytest.raises(SystemExit) as e:
        main(["teach", "--dataset", "apnea-ecg", "--data-dir", str(root), "-o", str(root / "t.pt"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and msg in err[0], err


@pytest.mark.slow
def test_run_the_whole_pipeline_on_apnea_ecg(tmp_path):
    """vistransfer run --dataset apnea-ecg: RR windows in seconds, a normalizing 1-D teacher, series plots."""
    import json

    from typer.testing import CliRunner

    from vistransfer.cli.main import app

    names = ["a01", "a02", "b01", "c01", "c02"]
    for n in names:
        write_record(tmp_path, n, n_minutes=14, labels=["N"] * 7 + ["A"] * 7)
    (tmp_path / "RECORDS").write_text("\n".join(names) + "\n")
    write_sums(tmp_path)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[teacher]\nmin_steps = 200\nlr = 0.005\n[synthesis]\nthreshold = 0.6\n[student]\nepochs = 3\nmin_steps = 20\n")
    out = tmp_path / "run"
    r = CliRunner().invoke(
        app,
        [
            "run",
            "--dataset",
            "apnea-ecg",
            "--data-dir",
            str(tmp_path),
            "-c",
            str(cfg),
            "--n",
            "20",
            "--students",
            "cnn_ecg",
            "--seeds",
            "1",
            "-o",
            str(out),
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    spec = res["teacher_info"]["input_spec"]
    # the domain is the range the training windows occupy (here 0.6-1.25 s), inside the physiological 0.3-2.0 s
    assert spec["shape"] == [1, 1200] and 0.3 <= spec["low"] < spec["high"] <= 2.0 and spec["mean"] and spec["std"]
    assert spec["low"] == pytest.approx(0.6, abs=0.01) and spec["high"] == pytest.approx(1.25, abs=0.01)
    assert res["synthesis"]["config"]["objective"] == "log_softmax" and res["student_config"]["standardize"] is True
    assert res["synthesis"]["config"]["blend"] == 1.0 and res["synthesis"]["config"]["offset"] == 1.0
    report = (out / "report.md").read_text()
    assert "20 visualizations + 20 blends + 40 offsets" in report
    # two classes: every model's ranking (AUC) beside its accuracy, in results.json and the report
    assert 0 <= res["teacher"]["auc"] <= 1 and len(res["students"]["cnn_ecg"]["auc"]["values"]) == 1
    assert "| AUC, visualizations | AUC, real data |" in report and f"(AUC {res['teacher']['auc']:.3f})" in report
    r = CliRunner().invoke(app, ["evaluate", str(out / "teacher.pt"), "--data-dir", str(tmp_path)])
    assert r.exit_code == 0 and f"AUC {res['teacher']['auc']:.3f}" in r.output, r.output
    assert (out / "grid.png").is_file()
