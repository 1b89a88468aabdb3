import json
import shutil
from pathlib import Path

import pytest

from vistransfer.cli.main import main
from vistransfer.errors import VistransferError
from vistransfer.experiments import Runner, find_experiment, list_experiments, load_any, load_experiment

SPEC = """
title = "tiny table"
dataset = "digits"
seeds = [0, 1]
shard_size = 60
rows = "size"
[teacher]
epochs = 15
batch_size = 64
lr = 0.003
[student]
epochs = 5
min_steps = 40
[sets.main]
threshold = 0.9
group_size = 1
slots = 16
max_steps = 150
[[columns]]
name = "Synth"
labels = "soft"
temperature = 2.0
sizes = [SIZES]
paper = { "cnn_id@60" = [63.0, 2.0] }
[[columns]]
name = "Real"
source = "real"
students = ["cnn_id", "rf"]
sizes = [60]
"""


def write(tmp_path, sizes="60", text=SPEC):
    path = tmp_path / "tiny.toml"
    path.write_text(text.replace("SIZES", sizes))
    return path


@pytest.mark.slow
def test_experiment_runs_caches_and_extends(tmp_path):
    cache, results = tmp_path / "cache", tmp_path / "results"
    exp = load_experiment(write(tmp_path))
    rec = Runner(exp, results_dir=results, cache=cache, progress=False, log=lambda m: None).run()
    assert rec["complete"] and len(rec["cells"]) == 3
    cell = next(c for c in rec["cells"] if c["column"] == "Synth")
    assert cell["accuracy"]["n"] == 2 and 0.1 < cell["accuracy"]["mean"] <= 1.0
    assert cell["paper"] == {"mean": 63.0, "std": 2.0}
    table = (results / "tiny" / "table.md").read_text()
    assert "| size | Synth (ours) | Synth (paper) | Real (ours) |" in table and "63.00 ± 2.00" in table
    saved = json.loads((results / "tiny" / "results.json").read_text())
    assert saved["seeds"] == [0, 1] and saved["sets"]["main"]["config"]["n"] == 60 and "torch" in saved["versions"]
    runs = sorted((cache / "runs").iterdir())
    assert len(runs) == 2 * 3  # one cached result per (cell, seed)

    # Re-running trains nothing; a larger size reuses the teacher, the shard and every run.
    stamps = {p: p.stat().st_mtime_ns for p in runs}
    bigger = load_experiment(write(tmp_path, sizes="60, 120"))
    rec2 = Runner(bigger, results_dir=results, cache=cache, progress=False, log=lambda m: None).run()
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    assert len(list((cache / "runs").iterdir())) == 2 * 4 and len(list((cache / "teachers").iterdir())) == 1
    same = next(c for c in rec2["cells"] if c["column"] == "Synth" and c["n"] == 60)
    assert same["accuracy"] == cell["accuracy"]
    assert (results / "tiny" / "accuracy-vs-size.png").is_file()


@pytest.mark.parametrize(
    "edit, msg",
    [
        (lambda s: s + "\nbogus = 1\n", "unknown key"),
        (lambda s: s.replace('labels = "soft"', 'labels = "soft"\nset = "nope"'), "set 'nope' is not defined"),
        (lambda s: s.replace('source = "real"', 'source = "web"'), "column 2.source: Input should be 'real' or 'synthetic'"),
        (lambda s: s.replace('labels = "soft"', 'labelz = "soft"'), "unknown key 'column 1.labelz'"),
        (lambda s: s.replace("seeds = [0, 1]", "seeds = []"), "seeds: List should have at least 1 item"),
        (lambda s: s.replace("[sets.main]", '[sets.main]\npreset = "nope"'), "preset 'nope' is not defined"),
        (lambda s: s.replace("threshold = 0.9", "threshold = 1.5"), "threshold T must lie in"),
        (lambda s: s.replace('"cnn_id@60"', '"cnn_id"'), "must look like 'cnn_id@60000'"),
        (lambda s: s.replace('["cnn_id", "rf"]', '["resnet"]'), "unknown student 'resnet'"),
        (lambda s: s.replace("min_steps = 40", "min_stepz = 40"), "unknown \\[student\\] option"),
        (lambda s: s.replace('name = "Real"', 'name = "Real"\nstudent = { epochz = 3 }'), "unknown column 2: student option"),
        (lambda s: s.replace('name = "Real"', 'name = "Real"\nstudent = 3'), "column 2.student: Input should be a valid dictionary"),
    ],
)
def test_bad_experiment_files_name_the_problem(tmp_path, edit, msg):
    with pytest.raises(VistransferError, match=msg):
        load_experiment(write(tmp_path, text=edit(SPEC)))


def test_a_column_overrides_student_options_and_is_cached_apart(tmp_path):
    spec = (
        SPEC.split("[sets.main]")[0]
        + """
[[columns]]
name = "Real"
source = "real"
sizes = [60]
[[columns]]
name = "Real, longer"
source = "real"
student = { epochs = 7 }
sizes = [60]
"""
    )
    cache = tmp_path / "cache"
    exp = load_experiment(write(tmp_path, text=spec.replace("seeds = [0, 1]", "seeds = [0]")))
    rec = Runner(exp, results_dir=tmp_path / "results", cache=cache, progress=False, log=lambda m: None).run()
    assert [c["student_overrides"] for c in rec["cells"]] == [{}, {"epochs": 7}]
    epochs = sorted(json.loads(p.read_text())["identity"]["kwargs"]["epochs"] for p in (cache / "runs").iterdir())
    assert epochs == [5, 7]  # the experiment's 5 epochs, and the column's 7: two runs, cached apart
    assert "student epochs = 7" in (tmp_path / "results" / "tiny" / "table.md").read_text()


@pytest.mark.slow
def test_synthesis_per_seed_gives_each_seed_its_own_set_and_extends_a_table(tmp_path):
    base = (
        SPEC.split("[[columns]]")[0]
        + """
[[columns]]
name = "Synth"
sizes = [60]
"""
    )
    (tmp_path / "tiny.toml").write_text(base)
    (tmp_path / "tiny_varied.toml").write_text('extends = "tiny"\nsynthesis_per_seed = true\n')
    cache = tmp_path / "cache"
    quiet = dict(results_dir=tmp_path / "results", cache=cache, progress=False, log=lambda m: None)
    one = Runner(load_experiment(tmp_path / "tiny.toml"), **quiet)
    rec = one.run()
    varied_exp = load_experiment(tmp_path / "tiny_varied.toml")
    assert varied_exp.synthesis_per_seed and varied_exp.title == "tiny table" and varied_exp.set_seeds() == [0, 1]
    varied = Runner(varied_exp, **quiet)
    rec2 = varied.run()
    keys = [p["cache_key"] for p in rec2["sets"]["main"]["per_seed"]]
    assert [p["config"]["seed"] for p in rec2["sets"]["main"]["per_seed"]] == [0, 1]
    assert keys[0] == rec["sets"]["main"]["cache_key"] != keys[1]  # seed 0's set is the one-set run's, shared
    assert sorted(p.name for p in (cache / "synth").iterdir()) == sorted(keys)
    sets = {json.loads(p.read_text())["identity"]["set"] for p in (cache / "runs").iterdir()}
    assert sets == set(keys)  # seed 1's student learned from seed 1's set; seed 0's run was reused
    assert len(list((cache / "runs").iterdir())) == 3
    table = (tmp_path / "results" / "tiny_varied" / "table.md").read_text()
    assert "each with its own synthesis" in table and "seeds 0: " in table and "1: " in table

    # seed by seed: with seed 1's set missing, an interrupted run still has seed 0's whole cell
    rec1 = json.loads((tmp_path / "results" / "tiny_varied" / "results.json").read_text())
    assert [r["seed"] for r in rec1["cells"][0]["runs"]] == [0, 1]
    order = []
    varied.log = order.append
    shutil.rmtree(cache / "runs")  # the students to train again, so each round needs its set
    (tmp_path / "results" / "tiny_varied" / "results.json").unlink()  # (which would serve the runs too)
    varied.run()  # the sets cached: the log says which set each round loads, in order
    assert [m.split(" (seed ")[1][0] for m in order if m.startswith("set main:") and "(seed" in m] == ["0", "1"]
    from vistransfer.experiments.report import render_markdown

    rec1["cells"][0]["runs"] = rec1["cells"][0]["runs"][:1]  # as after an interruption between the seeds
    rec1["cells"][0]["accuracy"] = {"mean": 0.5, "std": 0.0, "n": 1}
    assert "| 50.00 (1 of 2 seeds) |" in render_markdown(varied_exp, rec1)
    from vistransfer.experiments.report import summary_markdown

    (tmp_path / "partial" / "tiny_varied").mkdir(parents=True)
    (tmp_path / "partial" / "tiny_varied" / "results.json").write_text(json.dumps(rec1))
    assert "| 50.00 (1 of 2 seeds) |" in summary_markdown(tmp_path / "partial")


REPO_EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def test_experiment_names_resolve_to_the_repo_files():
    assert find_experiment("table1", REPO_EXPERIMENTS).name == "table1.toml"
    names = list_experiments(REPO_EXPERIMENTS)
    assert "_presets" not in names and (REPO_EXPERIMENTS / "_presets.toml").is_file()
    assert {"table1", "table2", "table6", "table7", "loss2", "appendix_c"} <= set(names)
    for name in names:
        load_any(find_experiment(name, REPO_EXPERIMENTS))  # every committed experiment file is valid
    assert "table5" in names
    with pytest.raises(VistransferError, match="no experiment 'nope'.*table1"):
        find_experiment("nope", REPO_EXPERIMENTS)


def test_cli_experiment_refuses_unknown_names_in_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        main(["experiment", "nope"])
    assert e.value.code == 2 and "error: no experiment 'nope'" in capsys.readouterr().err


def test_cli_experiment_takes_jobs_only_where_they_run_in_processes(capsys):
    with pytest.raises(SystemExit) as e:  # an MNIST table runs in one process: say so before anything runs
        main(["experiment", "table1", "--experiments-dir", str(REPO_EXPERIMENTS), "--jobs", "2"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "error: --jobs is for the apnea experiments' privacy audit; table1" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as e:
        main(["experiment", "table5", "--experiments-dir", str(REPO_EXPERIMENTS), "--jobs", "0"])
    assert e.value.code == 2 and "--jobs" in capsys.readouterr().err


def test_summary_gathers_cells_and_fills_the_readme_block(tmp_path):
    from vistransfer.experiments import write_summary

    results = tmp_path / "results"
    (results / "t").mkdir(parents=True)
    cell = {"column": "Vis.", "student": "cnn_id", "n": 60000, "accuracy": {"mean": 0.9569, "std": 0.006}, "paper": {"mean": 95.51, "std": 0.28}}
    (results / "t" / "results.json").write_text(json.dumps({"experiment": "t", "paper_table": "Table 1", "cells": [cell], "complete": False}))
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:start -->\nold\n<!-- results:end -->\noutro\n")
    (results / "t2").mkdir()  # a variant of the same paper table: named apart
    (results / "t2" / "results.json").write_text(json.dumps({"experiment": "t2", "paper_table": "Table 1", "cells": [cell], "complete": True}))
    write_summary(results, readme)
    text = readme.read_text()
    row = "| Vis. | CNN_ID | 60,000 | 95.69 ± 0.60 | 95.51 ± 0.28 | +0.18 |"
    assert f"| [Table 1: t](results/t/table.md) {row}" in text and f"| [Table 1: t2](results/t2/table.md) {row}" in text  # from the README's folder
    assert f"| [Table 1: t](t/table.md) {row}" in (results / "README.md").read_text()  # from results/ itself
    assert "old" not in text and text.startswith("intro") and text.endswith("outro\n") and "still running" in text
    readme.write_text("no markers")
    with pytest.raises(VistransferError, match="no <!-- results:start -->"):
        write_summary(results, readme)


def test_presets_are_extended_and_overridden(tmp_path):
    (tmp_path / "_presets.toml").write_text("[teacher.small]\nepochs = 3\nweight_decay = 0.001\n[sets.quick]\nthreshold = 0.9\nslots = 4\n")
    text = SPEC.replace("[teacher]\nepochs = 15", '[teacher]\npreset = "small"\nepochs = 4').replace(
        "[sets.main]\nthreshold = 0.9", '[sets.main]\npreset = "quick"'
    )
    exp = load_experiment(write(tmp_path, text=text))
    assert exp.teacher.epochs == 4 and exp.teacher.weight_decay == 0.001 and exp.teacher.lr == 0.003  # preset, then the file
    assert exp.sets["main"].threshold == 0.9 and exp.sets["main"].slots == 16  # the file's slots = 16 wins


class _Stop(Exception):
    pass


@pytest.mark.slow
def test_the_results_folder_serves_finished_runs_where_the_cache_is_gone(tmp_path, monkeypatch):
    import vistransfer.experiments.runner as runner_mod

    results = tmp_path / "results"
    quiet = dict(results_dir=results, progress=False, log=lambda m: None)
    first = Runner(load_experiment(write(tmp_path)), cache=tmp_path / "cache", **quiet).run()
    table = (results / "tiny" / "table.md").read_text()
    assert all(len(r["key"]) == 16 for c in first["cells"] for r in c["runs"])

    made, synthesize = [], runner_mod.synthesize_sharded
    monkeypatch.setattr(runner_mod, "synthesize_sharded", lambda *a, **k: made.append(a[2]) or synthesize(*a, **k))
    fits, create = [], runner_mod.create_student
    monkeypatch.setattr(runner_mod, "create_student", lambda *a, **k: fits.append(a[0]) or create(*a, **k))
    again = Runner(load_experiment(write(tmp_path)), cache=tmp_path / "new-machine", **quiet).run()  # teacher retrained
    assert made == [] and fits == []  # no set made, no student trained: all came from results.json
    assert again["cells"] == first["cells"] and again["sets"] == first["sets"] and again["complete"]
    assert (results / "tiny" / "table.md").read_text() == table
    assert len(list((tmp_path / "new-machine" / "runs").iterdir())) == 2 * 3  # and are in this cache now

    (results / "tiny" / "grid-main.png").unlink()  # a figure that is gone is drawn again: the set is made for it
    Runner(load_experiment(write(tmp_path)), cache=tmp_path / "new-machine-2", **quiet).run()
    assert len(made) == 1 and fits == [] and (results / "tiny" / "grid-main.png").is_file()
    bigger = Runner(load_experiment(write(tmp_path, sizes="60, 120")), cache=tmp_path / "third", **quiet).run()
    assert len(made) == 2 and fits == ["cnn_id", "cnn_id"]  # only the new size's runs need the set and a training
    assert next(c for c in bigger["cells"] if c["n"] == 60 and c["column"] == "Synth") == first["cells"][0]

    rec = json.loads((results / "tiny" / "results.json").read_text())
    rec["teacher"]["fingerprint"] = "0" * 64  # as if made by a teacher trained elsewhere: the log says why nothing matches
    (results / "tiny" / "results.json").write_text(json.dumps(rec))
    said = []
    Runner(load_experiment(write(tmp_path)), cache=tmp_path / "third", **{**quiet, "log": said.append}).run()
    assert any("is not the one" in m and "000000000000" in m for m in said)
    (results / "tiny" / "results.json").write_text("{not json")  # a damaged record is ignored, not fatal
    Runner(load_experiment(write(tmp_path)), cache=tmp_path / "fourth", **quiet).run()
    assert len(fits) == 2 + 6


def test_an_interrupted_student_continues_from_its_last_epoch(tmp_path, monkeypatch):
    import vistransfer.models.train as train

    spec = (
        SPEC.split("[sets.main]")[0].replace("seeds = [0, 1]", "seeds = [0]").replace("epochs = 15", "epochs = 1")
        + """
[[columns]]
name = "Real"
source = "real"
sizes = [60]
"""
    )
    exp = load_experiment(write(tmp_path, text=spec))
    # each cache with its own results folder: a results folder's finished runs would serve the other cache
    run = lambda cache: Runner(
        exp,
        results_dir=cache / "results",
        cache=cache,
        progress=False,  # noqa: E731
        log=lambda m: None,
    ).run()
    whole = run(tmp_path / "whole")["cells"][0]["accuracy"]

    save, saved = train.save_torch, []

    def save_then_stop(path, obj):  # the process dies right after the student's second epoch is kept
        save(path, obj)
        if obj.get("artifact") == "training-checkpoint":
            saved.append(path)
            if len(saved) == 2:
                raise _Stop

    cache = tmp_path / "cache"
    shutil.copytree(tmp_path / "whole" / "teachers", cache / "teachers")  # the interrupted run stops in the student
    monkeypatch.setattr(train, "save_torch", save_then_stop)
    with pytest.raises(_Stop):
        run(cache)
    monkeypatch.undo()
    ckpt = Path(saved[-1])
    assert ckpt.parent == cache / "runs" and ckpt.is_file()
    assert len(train.load_torch(ckpt, "training-checkpoint")["losses"]) == 2
    again = run(cache)["cells"][0]["accuracy"]
    assert again == whole and not ckpt.exists()  # the same student as one uninterrupted run, and no leftover
