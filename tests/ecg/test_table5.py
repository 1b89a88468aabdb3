"""The apnea experiment end to end on tiny WFDB records: every part runs, writes its table and is cached."""

import json
from dataclasses import replace

import pytest
import torch

from tests.ecg.test_apnea import write_record, write_sums
from vistransfer.ecg.apnea import load_minutes
from vistransfer.errors import VistransferError
from vistransfer.experiments import load_any
from vistransfer.experiments.apnea import ApneaRunner
from vistransfer.experiments.report import summary_markdown

SPEC = """
kind = "apnea"
title = "tiny table 5"
seeds = [0]
n_synthetic = 24
[teams]
team1 = ["a01", "b01"]
team2 = ["a02", "c01"]
[arch]
channels = [4, 8]
kernel = 9
fc = [8]
[teacher]
epochs = 20
min_steps = 200
lr = 0.005
[student]
epochs = 5
min_steps = 20
standardize = true
[synthesis]
objective = "log_softmax"
threshold = 0.6
group_size = 1
slots = 8
max_steps = 50
[paper]
team1 = [92.49, 89.5, 91.07, 56.36]
[recordwise]
folds = 2
epochs = 1
n_synthetic = 12
[privacy]
shadows = 2
"""


def _tiny(tmp_path):
    data = tmp_path / "apnea-ecg"
    data.mkdir()
    names = ["a01", "a02", "b01", "c01", "c02"]
    for n in names:
        write_record(data, n, n_minutes=14, labels=["N"] * 7 + ["A"] * 7)  # learnable: apnea minutes beat slower
    (data / "RECORDS").write_text("\n".join(names) + "\n")
    write_sums(data)
    spec = tmp_path / "tiny5.toml"
    spec.write_text(SPEC)
    return load_any(spec)


@pytest.mark.slow
def test_every_part_runs_and_is_cached(tmp_path):
    exp = _tiny(tmp_path)
    lines: list[str] = []
    run = lambda: ApneaRunner(exp, tmp_path, tmp_path / "results", tmp_path / "cache", log=lines.append).run()  # noqa: E731
    rec = run()
    # a long part says what it is doing, unit by unit, not only when a seed or fold is done
    assert "apnea-team1 (seed 0): training on" in "\n".join(lines) and "set team1 (seed 0): done in" in "\n".join(lines)
    assert any(m.startswith("table5 team1 (seed 0): students") for m in lines)
    out = tmp_path / "results" / "tiny5"
    saved = json.loads((out / "results.json").read_text())
    assert saved["complete"] and set(saved["table5"]["rows"]) == {"team1", "team2"}
    row = saved["table5"]["rows"]["team1"]
    assert row["n_test"] == len(rec["table5"]["per_seed"][0]["teams"]["team1"]["base"]) or row["n_test"] > 0
    assert 0 <= row["idt_synthetic"]["mean"] <= 1 and row["n_synthetic"] == 24
    assert 0 <= row["idt_synthetic_swapped"]["mean"] <= 1 and row["domains"][0][0] < row["domains"][0][1]
    both, s0 = saved["table5"]["idt_both"], saved["table5"]["per_seed"][0]
    assert both["balanced_synthetic"]["mean"] == pytest.approx((s0["idt"]["team1"]["synthetic"] + s0["idt"]["team2"]["synthetic"]) / 2)
    assert 0 <= both["auc_synthetic"]["mean"] <= 1 and 0 <= both["auc_real"]["mean"] <= 1
    for t in ("team1", "team2"):  # the owner's threshold: the same students, another operating point, chosen on real validation minutes
        for k in ("h2_hard", "h2_soft"):
            cal, raw = s0["teams"][t][f"{k}_calibrated"], s0["teams"][t][k]
            assert (cal["auc"], cal["best_accuracy"], cal["n"]) == (raw["auc"], raw["best_accuracy"], raw["n"])
            assert 0 <= cal["threshold"] <= 1 and raw["threshold"] == 0.5
            assert saved["table5"]["rows"][t][f"{k}_calibrated"]["mean"] == cal["accuracy"]
    assert set(saved["phone"]["models"]) and all(m["onnx_vs_torch_max_diff"] <= 1e-4 for m in saved["phone"]["models"].values())
    assert {"teacher", "student", "nearest_real_training_series"} <= set(saved["privacy"])
    rw = saved["recordwise"]
    assert rw["folds"] == 2 and len(rw["per_fold"]) == 2
    assert all(f[m]["best_accuracy"] >= f[m]["accuracy"] for f in rw["per_fold"] for m in ("teacher", "student"))
    for f in rw["per_fold"]:  # the calibrated student is the same student at another threshold
        cal, raw = f["student_calibrated"], f["student"]
        assert (cal["auc"], cal["best_accuracy"]) == (raw["auc"], raw["best_accuracy"]) and 0 <= cal["threshold"] <= 1
        assert sum(r["student_calibrated_apnea_minutes"] for r in f["records"].values()) <= sum(r["minutes"] for r in f["records"].values())
    assert set(rw["pooled"]) == set(rw["recording_level"]) == {"teacher", "student", "student_calibrated"}
    table = (out / "table.md").read_text()
    assert "accuracy at the best threshold (oracle)" in table and "threshold from the training people's minutes" in table
    assert "h2 S. hard, owner's threshold" in table
    assert (
        "| paper, team1 | 92.49 |" in table
        and "LiRA" in table
        and "in the other team's domain" in table
        and "balanced accuracy" in table
        and (out / "figure4.png").is_file()
    )
    cached = sorted(p.name for p in (tmp_path / "cache" / "apnea").rglob("*.json"))
    lines.clear()
    again = run()  # everything cached: the same numbers, and nothing trained or synthesized again
    assert not [m for m in lines if "training on" in m or "synthesizing" in m or "students" in m]
    assert again["table5"]["rows"] == rec["table5"]["rows"]
    assert sorted(p.name for p in (tmp_path / "cache" / "apnea").rglob("*.json")) == cached


@pytest.mark.slow
def test_a_run_of_some_parts_keeps_the_others_of_the_same_configuration(tmp_path):
    exp = _tiny(tmp_path)
    runner = lambda e: ApneaRunner(e, tmp_path, tmp_path / "results", tmp_path / "cache", log=lambda m: None)  # noqa: E731
    runner(exp).run(("table5", "figure4"))
    out = tmp_path / "results" / "tiny5" / "results.json"
    first = json.loads(out.read_text())
    assert not first["complete"] and "phone" not in first
    assert "(parts not run: phone, privacy, recordwise; `vistransfer experiment tiny5 --parts" in summary_markdown(tmp_path / "results")
    runner(exp).run(("phone",))
    second = json.loads(out.read_text())
    assert second["table5"] == first["table5"] and "phone" in second and set(second["timings_s"]) == {"table5", "figure4", "phone"}
    assert not second["complete"]  # privacy and recordwise never ran
    from dataclasses import replace

    other = replace(exp, synthesis=replace(exp.synthesis, threshold=0.7))  # another configuration: nothing carried over
    runner(other).run(("figure4",))
    third = json.loads(out.read_text())
    assert "table5" not in third and "phone" not in third and "figure4" in third


@pytest.mark.slow
def test_the_phone_part_exports_further_students_and_8_bit_versions(tmp_path):
    spec = tmp_path / "tiny5_phone.toml"
    spec.write_text(
        SPEC
        + """
[phone]
int8 = true
[phone.students."student h2, small, soft"]
arch = "cnn_tiny"
labels = "soft"
temperature = 4.0
"""
    )
    _tiny(tmp_path)  # writes the records
    exp = load_any(spec)
    runner = lambda e: ApneaRunner(e, tmp_path, tmp_path / "results", tmp_path / "cache", log=lambda m: None)  # noqa: E731
    rec = runner(exp).run(("phone",))
    models = rec["phone"]["models"]
    base = ["teacher h1 (real minutes)", "student h2 (visualizations, hard)", "student h2, small, soft"]
    assert list(models) == [r for b in base for r in (b, f"{b}, int8")]
    for b in base:  # 8 bits: smaller, the same network's answers up to quantization, and its weights counted once
        assert models[f"{b}, int8"]["size_kb"] < models[b]["size_kb"] and models[f"{b}, int8"]["parameters"] == models[b]["parameters"]
        assert models[b]["onnx_vs_torch_max_diff"] <= 1e-4 and models[f"{b}, int8"]["onnx_vs_torch_max_diff"] < 0.2
    assert models["student h2, small, soft"]["parameters"] != models["student h2 (visualizations, hard)"]["parameters"]
    table = (tmp_path / "results" / "tiny5_phone" / "table.md").read_text()
    assert "| weights |" in table and "- student h2, small, soft: `cnn_tiny` on h2's set, soft labels at τ = 4." in table
    assert "calibrated on what each model learned from" in table
    # other [phone] options: the phone part of the earlier record is not kept beside a run of another part
    runner(replace(exp, phone={**exp.phone, "int8": False})).run(("figure4",))
    assert "phone" not in json.loads((tmp_path / "results" / "tiny5_phone" / "results.json").read_text())


def test_a_phone_student_must_be_a_network(tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text(SPEC + '[phone.students.forest]\narch = "rf"\n')
    with pytest.raises(VistransferError, match="must be a convolutional student"):
        load_any(spec)
    spec.write_text(SPEC + "[phone]\nint9 = true\n")
    with pytest.raises(VistransferError, match="int9"):
        load_any(spec)


@pytest.mark.slow
def test_an_interrupted_recordwise_part_keeps_its_folds_and_continues_where_the_cache_is_gone(tmp_path, monkeypatch):
    exp = _tiny(tmp_path)
    runner = lambda cache: ApneaRunner(exp, tmp_path, tmp_path / "results", tmp_path / cache, log=lambda m: None)  # noqa: E731
    made = []
    real = ApneaRunner.recordwise_teacher_and_set

    def counted(self, setup, f, train, test):
        made.append(f)
        if f == 1 and len(made) == 2:
            raise KeyboardInterrupt  # the session ends during fold 1
        return real(self, setup, f, train, test)

    monkeypatch.setattr(ApneaRunner, "recordwise_teacher_and_set", counted)
    with pytest.raises(KeyboardInterrupt):
        runner("cache").run(("recordwise",))
    out = tmp_path / "results" / "tiny5"
    first = json.loads((out / "results.json").read_text())
    rw = first["recordwise"]
    assert not first["complete"] and rw["partial"] and [r["fold"] for r in rw["per_fold"]] == [0]
    assert "**1 of 2 folds so far** (folds 0)" in (out / "table.md").read_text()
    assert "recordwise (1 of 2 folds done)" in summary_markdown(tmp_path / "results")
    again = runner("another-machine's-cache").run(("recordwise",))  # the results folder travelled, the cache did not
    assert made == [0, 1, 1]  # fold 0 came from the record
    rw2 = again["recordwise"]
    assert "partial" not in rw2 and [r["fold"] for r in rw2["per_fold"]] == [0, 1] and rw2["per_fold"][0] == rw["per_fold"][0]
    assert "folds so far" not in (out / "table.md").read_text()
    other = replace(exp, recordwise={**exp.recordwise, "epochs": 2})  # other [recordwise] options: no fold carried over
    ApneaRunner(other, tmp_path, tmp_path / "results", tmp_path / "cache3", log=lambda m: None).run(("recordwise",))
    assert made == [0, 1, 1, 0, 1]
    assert "recordwise" not in runner("cache").run(("figure4",))  # nor kept beside a part of exp's


@pytest.mark.slow
def test_an_interrupted_privacy_audit_keeps_its_shadows_and_gives_the_audit_of_one_go(tmp_path, monkeypatch):
    exp = replace(_tiny(tmp_path), privacy={"shadows": 3})
    runner = lambda res, cache: ApneaRunner(exp, tmp_path, tmp_path / res, tmp_path / cache, log=lambda m: None)  # noqa: E731
    whole = runner("results-whole", "cache-whole").run(("privacy",))["privacy"]  # the audit in one go
    teachers, stop = [], [True]
    real = ApneaRunner.teacher

    def counted(self, name, *a, **kw):
        teachers.append(name)
        if name == "shadow-team1-2" and stop:
            stop.clear()
            raise KeyboardInterrupt  # the session ends during shadow 2, once
        return real(self, name, *a, **kw)

    monkeypatch.setattr(ApneaRunner, "teacher", counted)
    with pytest.raises(KeyboardInterrupt):
        runner("results", "cache").run(("privacy",))
    out = tmp_path / "results" / "tiny5"
    first = json.loads((out / "results.json").read_text())["privacy"]
    assert first["partial"] and [r["shadow"] for r in first["per_shadow"]] == [0, 1] and set(first["per_shadow"][0]["in"]) <= {"0", "1"}
    # the audited pipeline and the attacks from the shadows so far are in the record too
    assert len(first["target"]["student"]) == len(first["per_shadow"][0]["in"]) and first["interim"]["shadows_done"] == 2
    assert max(map(int, first["interim"]["student"]["lira_by_shadows"])) == 2  # no subsets larger than the shadows done
    table = (out / "table.md").read_text()
    assert "**2 of 3 shadow pipelines so far**" in table and "Interim audit from the 2 shadows done" in table
    assert f"| student | {first['interim']['student']['threshold_attack']['auc']:.3f} |" in table
    assert "privacy (2 of 3 shadows done)" in summary_markdown(tmp_path / "results")
    teachers.clear()
    again = runner("results", "another-machine's-cache").run(("privacy",))["privacy"]  # the results folder travelled
    assert teachers == ["shadow-team1-2"]  # shadows 0 and 1 and the audited pipeline came from the record
    assert "partial" not in again and "per_shadow" not in again and "target" not in again  # the finished audit keeps its numbers
    assert again == whole
    assert first["interim"]["student"]["threshold_attack"] == whole["student"]["threshold_attack"]  # no shadow in it


@pytest.mark.slow
def test_privacy_shadows_in_processes_give_the_audit_of_one_process(tmp_path):
    exp = _tiny(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # each of 2 workers gets 1 thread, as the single process has below: the same arithmetic
    try:
        lines: list[str] = []
        par = ApneaRunner(exp, tmp_path, tmp_path / "results-jobs", tmp_path / "cache-jobs", log=lines.append, jobs=2).run(("privacy",))
        torch.set_num_threads(1)
        one = ApneaRunner(exp, tmp_path, tmp_path / "results", tmp_path / "cache", log=lambda m: None).run(("privacy",))
    finally:
        torch.set_num_threads(threads)
    assert "privacy: 2 shadow pipelines in 2 processes of 1 thread(s)" in lines
    done = [m for m in lines if m.startswith("privacy: shadow")]  # each as it lands, in the order they finish
    assert len(done) == 2 and done[0].endswith("(1 of 2 done)") and done[1].endswith("(2 of 2 done)")
    assert sorted(m.split()[2] for m in done) == ["0", "1"]  # numbered as the workers' lines and the cached units
    assert len(list((tmp_path / "cache-jobs" / "apnea" / "privacy-shadow").glob("*.json"))) == 2  # the workers cached their units
    assert par["privacy"] == one["privacy"]
    with pytest.raises(VistransferError, match="jobs must be a whole number"):
        ApneaRunner(exp, jobs=0)


@pytest.mark.slow
def test_an_interrupted_table5_part_keeps_its_seeds_and_continues_where_the_cache_is_gone(tmp_path, monkeypatch):
    exp = replace(_tiny(tmp_path), seeds=(0, 1))
    runner = lambda cache: ApneaRunner(exp, tmp_path, tmp_path / "results", tmp_path / cache, log=lambda m: None)  # noqa: E731
    seen, real = [], ApneaRunner.idt_teacher

    def counted(self, data, seed, teams):
        seen.append(seed)
        if seed == 1 and len(seen) == 2:
            raise KeyboardInterrupt  # the session ends in seed 1
        return real(self, data, seed, teams)

    monkeypatch.setattr(ApneaRunner, "idt_teacher", counted)
    with pytest.raises(KeyboardInterrupt):
        runner("cache").run(("table5",))
    out = tmp_path / "results" / "tiny5"
    first = json.loads((out / "results.json").read_text())["table5"]
    assert first["partial"] and [s["seed"] for s in first["per_seed"]] == [0] and first["per_seed"][0]["seconds"] > 0
    assert "**1 of 2 seeds so far**" in (out / "table.md").read_text()
    summary = summary_markdown(tmp_path / "results")
    assert "table5 (1 of 2 seeds done)" in summary and "(1 of 2 seeds) |" in summary
    lines: list[str] = []
    again = ApneaRunner(exp, tmp_path, tmp_path / "results", tmp_path / "another-machine's-cache", log=lines.append).run(("table5",))["table5"]
    assert seen == [0, 1, 1]  # seed 0 came from the record, and the log says so
    assert lines[0] == f"table5 seed 0: done in an earlier run ({out / 'results.json'})"
    assert "partial" not in again and again["per_seed"][0] == first["per_seed"][0] and [s["seed"] for s in again["per_seed"]] == [0, 1]
    assert "seeds so far" not in (out / "table.md").read_text() and again["rows"]["team1"]["base"]["n"] == 2


@pytest.mark.slow
def test_a_shared_domain_reuses_the_teachers_and_spans_both_teams(tmp_path):
    exp = _tiny(tmp_path)
    runner = lambda e: ApneaRunner(e, tmp_path, tmp_path / "results", tmp_path / "cache", log=lambda m: None)  # noqa: E731
    own = runner(exp).run(("table5",))["table5"]["rows"]
    assert own["team1"]["domains"] != own["team2"]["domains"]  # each team's training range
    teachers = sorted((tmp_path / "cache" / "apnea" / "teachers").iterdir())
    spec = tmp_path / "tiny5_shared.toml"  # a variant of tiny5.toml: only what differs
    spec.write_text('kind = "apnea"\nextends = "tiny5"\ntitle = "shared"\ndomain = [0.45, 1.8]\n[synthesis]\nthreshold = 0.6\n')
    shared = load_any(spec)
    assert shared.synthesis == exp.synthesis and shared.teams == exp.teams and shared.title == "shared"
    rec = runner(shared).run(("table5",))
    rows = rec["table5"]["rows"]
    assert sorted((tmp_path / "cache" / "apnea" / "teachers").iterdir()) == teachers  # weights do not depend on the domain
    for t in ("team1", "team2"):
        assert rows[t]["domains"] == [[0.45, 1.8]] and rows[t]["idt_synthetic_swapped"] is None
        x = rec["table5"]["per_seed"][0]["idt"][t]
        assert x["domain"] == [0.45, 1.8]
    assert "one shared input domain, 0.45–1.80 s" in (tmp_path / "results" / "tiny5_shared" / "table.md").read_text()
    spec.write_text('kind = "apnea"\nextends = "tiny5"\ntitle = "shared"\ndomain = [0.1, 1.8]\n')
    with pytest.raises(VistransferError, match="domain must be"):
        load_any(spec)
    spec.write_text('kind = "apnea"\nextends = "tiny4"\ntitle = "shared"\n')
    with pytest.raises(VistransferError, match="names no other experiment file"):
        load_any(spec)


def _rhythmic(root, name, labels, level):
    """A night at its own heart-rate level whose apnea minutes swing (RR 0.75x-1.25x the level every 20 s)
    and whose normal minutes do not: only the rhythm tells the class."""
    import numpy as np
    import wfdb

    from tests.ecg.test_apnea import FS

    beats, t = [], 0.2
    while t < len(labels) * 60:
        beats.append(int(round(t * FS)))
        swing = 0.25 * np.sin(2 * np.pi * t / 20) if labels[int(t // 60)] == "A" else 0.0
        t += level * (1 + swing)
    (root / f"{name}.hea").write_text(f"{name} 1 {FS} {len(labels) * 60 * FS}\r\n{name}.dat 16 200 12 0 0 0 0 ECG\r\n")
    wfdb.wrann(name, "apn", np.arange(len(labels)) * 60 * FS, labels, write_dir=str(root))
    wfdb.wrann(name, "qrs", np.array(beats), ["N"] * len(beats), write_dir=str(root))


def test_window_norm_networks_see_the_rhythm_not_the_level(tmp_path):
    import torch

    _tiny(tmp_path)
    data = tmp_path / "apnea-ecg"
    for i, n in enumerate(["a01", "a02", "b01", "c01", "c02"]):
        _rhythmic(data, n, ["N", "A"] * 7, 0.7 + 0.1 * i)
    write_sums(data)
    spec = tmp_path / "tiny5_window.toml"
    spec.write_text(
        'kind = "apnea"\nextends = "tiny5"\ntitle = "window"\ndomain = [0.45, 1.8]\n[arch]\nwindow_norm = true\n[student]\nstandardize = "window"\n'
    )
    exp = load_any(spec)
    assert exp.arch.window_norm and exp.student["standardize"] == "window" and exp.identity()["arch"]["window_norm"]
    runner = ApneaRunner(exp, tmp_path, tmp_path / "results", tmp_path / "cache", log=lambda m: None)
    runner.run(("figure4",))  # h1 of team 1 and its visualizations
    assert "standardizes each 5-minute window" in (tmp_path / "results" / "tiny5_window" / "table.md").read_text()
    d = runner.team_data("team1", 0)
    h1 = runner.teacher("apnea-team1", d["train"], d["test"], 0)
    x = d["test"].x[:8]
    shifted = x * 1.3 + 0.2  # the same rhythm at another heart rate and spread: the same verdict
    assert torch.allclose(h1.module(x), h1.module(shifted), atol=1e-4)
    h2 = runner.student(x, d["test"].y[:8], 0, teacher=h1, epochs=1, min_steps=1)
    assert h2.standardize == "window" and abs(h2.predict_proba(x) - h2.predict_proba(shifted)).max() < 1e-4


@pytest.mark.slow
def test_probes_join_the_students_set_and_are_kept(tmp_path):
    exp = _tiny(tmp_path)
    spec = tmp_path / "tiny5_probe.toml"
    spec.write_text('kind = "apnea"\nextends = "tiny5"\ntitle = "probes"\n[synthesis]\nblend = 1.0\n[probe]\nratio = 0.5\nrounds = 2\n')
    probed = load_any(spec)
    assert probed.probe == {"ratio": 0.5, "rounds": 2, "steps": 10, "step_size": 0.01}
    assert "probe" in probed.identity() and "probe" not in exp.identity()  # earlier caches stay valid
    plain = ApneaRunner(exp, tmp_path, tmp_path / "results", tmp_path / "cache", log=lambda m: None)
    plain.minutes = {t: load_minutes(tmp_path, recs) for t, recs in exp.teams.items()}
    d = plain.team_data("team1", 0)
    plain.teacher("apnea-team1", d["train"], d["test"], 0)
    runner = ApneaRunner(probed, tmp_path, tmp_path / "results", tmp_path / "cache", log=lambda m: None)
    rows = runner.run(("table5",))["table5"]["rows"]
    # probes change what the teachers are asked, not their weights: team 1's h1 is the plain experiment's
    assert len(list((tmp_path / "cache" / "apnea" / "teachers").iterdir())) == 3  # h1 of each team, h_idt
    assert (rows["team1"]["n_blends"], rows["team1"]["n_offsets"], rows["team1"]["n_probes"]) == (24, 0, 24)  # counted in the set
    assert "24 + 24 blends + 24 probes" in (tmp_path / "results" / "tiny5_probe" / "table.md").read_text()
    kept = sorted((tmp_path / "cache" / "apnea" / "synth").glob("*-probes.pt"))
    assert len(kept) == 2  # one per team
    d = runner.team_data("team1", 0)
    h1 = runner.teacher("apnea-team1", d["train"], d["test"], 0)
    ds = runner.synthetic("team1", h1, 0)  # from the cache: no student is trained again
    assert ds.n_blends == 24 and ds.movement_name(len(ds) - 1) == "probe"
    assert len(ds) == 24 + 24 + 24 and [h["n"] for h in ds.meta["probes"]["history"]] == [12, 12]
    assert ds.x.min() >= h1.spec.low and ds.x.max() <= h1.spec.high
    assert sorted((tmp_path / "cache" / "apnea" / "synth").glob("*-probes.pt")) == kept
    other = ApneaRunner(
        replace(probed, student={**probed.student, "epochs": 1}), tmp_path, tmp_path / "results", tmp_path / "cache", log=lambda m: None
    )
    other.synthetic("team1", h1, 0)  # other round students make other probes: not served from the cache
    assert len(list((tmp_path / "cache" / "apnea" / "synth").glob("*-probes.pt"))) == 3
    spec.write_text('kind = "apnea"\nextends = "tiny5"\ntitle = "probes"\n[probe]\nratio = 0.5\nround = 2\n')
    with pytest.raises(VistransferError, match="round"):
        load_any(spec)
    spec.write_text('kind = "apnea"\nextends = "tiny5"\ntitle = "probes"\n[synthesis]\nprobe = 0.5\n')
    with pytest.raises(VistransferError, match=r"own \[probe\] section"):
        load_any(spec)


def test_the_table_names_what_was_added_to_the_visualizations():
    from vistransfer.experiments.apnea_report import render

    rec = lambda syn: {"experiment": "x", "title": "t", "teams": {}, "config": {"synthesis": syn}}  # noqa: E731
    plain = render(rec({}))
    assert "blend(s)" not in plain and "offset(s)" not in plain
    both = render(rec({"blend": 1.0, "offset": 2.0, "offset_scale": 0.5}))
    assert "1 blend(s) per visualization" in both and "2 offset(s) per example" in both and "±0.5 times" in both
    assert "±0.3 times" in render(rec({"offset": 1.0}))  # the default scale, which the identity leaves out
