"""Experiments: one of the paper's tables as a TOML file, run with caching, written to results/NAME/.

An experiment file (``experiments/NAME.toml``) names a dataset, the teacher's training, one or
more synthesis settings (``[sets.NAME]``) and the table's columns (``[[columns]]``). A column is
one way of training students: on real data, or on one set with hard or soft labels, for some
students and sizes, with the paper's numbers for its cells. Every cell is repeated over the
experiment's student seeds and reported as mean +- std.

Everything reusable is cached under the cache directory, keyed by what it depends on:
the teacher (dataset + training config), each synthetic set (its config minus ``n``, the shard
size and the teacher's fingerprint: a larger size reuses the shards of a smaller one), and each
student run (all of the above + student, size, labels, seed). A re-run, an interrupted run or an
extended sweep redoes nothing that finished. ``results/NAME/`` is rewritten after every cell:
``results.json`` (every value with its config, seeds and versions), ``table.md`` (the paper's
layout, the paper's numbers beside ours) and figures.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .config import SynthesisConfig, TrainConfig, from_dict, to_dict
from .data import Split, load_dataset
from .errors import VistransferError
from .evaluation import evaluate_predictions, mean_std
from .io import atomic_path, cache_dir, versions, write_json
from .models.teacher import Teacher, train_teacher
from .pipeline import synthesis_meta, teacher_summary
from .students import canonical_name, create_student, is_neural
from .synthesis.dataset import SyntheticDataset
from .synthesis.shards import synthesize_sharded

PAPER_NAMES = {"cnn_id": "CNN_ID", "cnn_small": "CNN_S", "cnn_large": "CNN_L", "cnn_tiny": "CNN_s",
               "mlp": "MLP", "svm": "SVM", "rf": "RF"}
_STUDENT_KEYS = {"epochs", "batch_size", "lr", "weight_decay", "min_steps", "C", "kernel", "n_estimators", "soft"}
_TOP_KEYS = {"title", "paper_table", "description", "dataset", "seeds", "shard_size", "rows", "teacher", "student",
             "sets", "columns", "feature_distance", "movement_grids"}
_COLUMN_KEYS = {"name", "source", "set", "labels", "temperature", "students", "sizes", "paper", "student"}


@dataclass(frozen=True)
class Column:
    """One column of the table: how students are trained, for which students and sizes."""

    name: str
    source: str  # "real" or "synthetic"
    set: str | None  # key into Experiment.sets when synthetic
    labels: str  # "hard" or "soft"
    temperature: float  # distillation temperature for soft labels
    students: tuple[str, ...]
    sizes: tuple[int, ...]
    paper: dict[str, tuple[float, float | None]]  # "cnn_id@60000" -> (mean %, std % or None)
    student: dict[str, Any] = field(default_factory=dict)  # overrides of the experiment's [student]

    def cells(self) -> list[tuple[str, int]]:
        return [(s, n) for s in self.students for n in self.sizes]


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    dataset: str
    seeds: tuple[int, ...]
    teacher: TrainConfig
    student: dict[str, Any]
    sets: dict[str, SynthesisConfig]  # n: the largest size any column takes from the set
    columns: tuple[Column, ...]
    shard_size: int = 2000
    rows: str = "student"  # the table's rows: "student" (Table 1) or "size" (Tables 2, 6, 7)
    paper_table: str = ""
    description: str = ""
    feature_distance: bool = False  # Section 4.1.2: layer L-1 distance of each set to real data
    movement_grids: dict[str, Any] = field(default_factory=dict)  # Appendix C: {"set", "per_class"}
    source: str = ""

    def sets_used(self) -> list[str]:
        """The sets that columns train on (a set only named by movement_grids is not synthesized in full)."""
        return sorted({c.set for c in self.columns if c.source == "synthetic" and c.set is not None})


def _fail(path: Path, msg: str) -> None:
    raise VistransferError(f"{path}: {msg}")


def _student_options(path: Path, where: str, options: Any) -> dict[str, Any]:
    if not isinstance(options, dict):
        _fail(path, f"{where} must be a table of student options, e.g. {{ epochs = 30 }}")
    bad = sorted(set(options) - _STUDENT_KEYS)
    if bad:
        _fail(path, f"unknown {where} option(s) {bad}; known: {sorted(_STUDENT_KEYS)}")
    return dict(options)


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; every problem names the key and the fix."""
    path = Path(path)
    if not path.is_file():
        raise VistransferError(f"experiment file {path} does not exist")
    try:
        d = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise VistransferError(f"{path} is not valid TOML: {e}") from None
    unknown = sorted(set(d) - _TOP_KEYS)
    if unknown:
        _fail(path, f"unknown key(s) {unknown}; known: {sorted(_TOP_KEYS)}")
    for key in ("title", "dataset"):
        if key not in d:
            _fail(path, f"missing required key {key!r}")
    if not d.get("columns") and not d.get("movement_grids"):
        _fail(path, "nothing to run: add [[columns]] (a table) or [movement_grids] (figures)")
    seeds = tuple(int(s) for s in d.get("seeds", [0, 1, 2]))
    if not seeds:
        _fail(path, "seeds must list at least one student seed")
    tdict = {"epochs": 8, "batch_size": 128, "lr": 2e-3, "seed": 0, **d.get("teacher", {})}
    teacher = from_dict(TrainConfig, tdict)
    student = _student_options(path, "[student]", d.get("student", {}))
    raw_sets = d.get("sets", {})
    columns = []
    for i, c in enumerate(d.get("columns", [])):
        bad = sorted(set(c) - _COLUMN_KEYS)
        if bad:
            _fail(path, f"column {i + 1}: unknown key(s) {bad}; known: {sorted(_COLUMN_KEYS)}")
        source = c.get("source", "synthetic")
        if source not in ("real", "synthetic"):
            _fail(path, f"column {i + 1}: source must be 'real' or 'synthetic', got {source!r}")
        set_name = c.get("set", "main") if source == "synthetic" else None
        if set_name is not None and set_name not in raw_sets:
            _fail(path, f"column {i + 1}: set {set_name!r} is not defined; add a [sets.{set_name}] table")
        labels = c.get("labels", "hard")
        if labels not in ("hard", "soft"):
            _fail(path, f"column {i + 1}: labels must be 'hard' or 'soft', got {labels!r}")
        sizes = tuple(int(n) for n in c.get("sizes", []))
        if not sizes or min(sizes) <= 0:
            _fail(path, f"column {i + 1}: sizes must be a non-empty list of positive sizes")
        students = tuple(canonical_name(s) for s in c.get("students", ["cnn_id"]))
        paper = {}
        for k, v in c.get("paper", {}).items():
            name, _, n = k.partition("@")
            if not n.isdigit():
                _fail(path, f"column {i + 1}: paper key {k!r} must look like 'cnn_id@60000'")
            vals = v if isinstance(v, list) else [v]
            paper[f"{canonical_name(name)}@{int(n)}"] = (float(vals[0]), float(vals[1]) if len(vals) > 1 else None)
        temperature = float(c.get("temperature", 1.0))
        if temperature <= 0:
            _fail(path, f"column {i + 1}: temperature must be positive, got {temperature}")
        overrides = _student_options(path, f"column {i + 1}: student", c.get("student", {}))
        columns.append(Column(c.get("name", f"column {i + 1}"), source, set_name, labels, temperature,
                              students, sizes, paper, overrides))
    grids = dict(d.get("movement_grids", {}))
    if grids and grids.get("set") not in raw_sets:
        _fail(path, f"[movement_grids] set {grids.get('set')!r} is not defined; add a [sets.NAME] table")
    sets = {}
    for name, sd in raw_sets.items():
        if "n" in sd:
            _fail(path, f"[sets.{name}] must not set n: the columns' sizes decide it")
        need = [n for c in columns if c.set == name for n in c.sizes]
        sets[name] = from_dict(SynthesisConfig, {**sd, "n": max(need) if need else 1})
    rows = d.get("rows", "student")
    if rows not in ("student", "size"):
        _fail(path, f"rows must be 'student' or 'size', got {rows!r}")
    return Experiment(path.stem, d["title"], d["dataset"], seeds, teacher, student, sets, tuple(columns),
                      int(d.get("shard_size", Experiment.shard_size)), rows, d.get("paper_table", ""), d.get("description", ""),
                      bool(d.get("feature_distance", False)), grids, str(path))


def find_experiment(name: str, experiments_dir: str | Path = "experiments") -> Path:
    """NAME -> experiments/NAME.toml (or NAME itself when it is a path to a file)."""
    p = Path(name)
    if p.suffix == ".toml" and p.is_file():
        return p
    cand = Path(experiments_dir) / f"{name}.toml"
    if cand.is_file():
        return cand
    known = sorted(f.stem for f in Path(experiments_dir).glob("*.toml")) if Path(experiments_dir).is_dir() else []
    raise VistransferError(f"no experiment {name!r} in {experiments_dir}/; known: {known or 'none'} "
                           "(or pass the path of a .toml file)")


def _key(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Runner:
    """Runs one experiment, reusing everything cached; see the module docstring."""

    def __init__(self, exp: Experiment, data_dir: str | Path | None = None, results_dir: str | Path = "results",
                 cache: str | Path | None = None, device: str = "cpu", progress: bool = True,
                 log: Callable[[str], None] = print):
        self.exp, self.device, self.progress, self.log = exp, device, progress, log
        self.data_dir = data_dir
        self.out = Path(results_dir) / exp.name
        self.cache = Path(cache) if cache is not None else cache_dir() / "experiments"
        self.record: dict[str, Any] = {}

    # --- cached artifacts -------------------------------------------------------------------
    def teacher(self, train: Split, test: Split) -> Teacher:
        key = _key({"dataset": self.exp.dataset, "config": to_dict(self.exp.teacher), "n_train": len(train)})
        path = self.cache / "teachers" / f"{self.exp.dataset}-{key}.pt"
        if path.is_file():
            self.log(f"teacher: cached {path}")
            return Teacher.load(path)
        self.log("teacher: training")
        h1 = train_teacher(train, test, self.exp.teacher, self.exp.dataset, device=self.device, progress=self.progress)
        h1.save(path)
        return h1

    def set_key(self, name: str, h1: Teacher) -> str:
        cfg = {k: v for k, v in to_dict(self.exp.sets[name]).items() if k != "n"}
        return _key({"config": cfg, "shard_size": self.exp.shard_size, "teacher": h1.fingerprint})

    def synthetic(self, name: str, h1: Teacher, train: Split) -> SyntheticDataset:
        cfg = self.exp.sets[name]
        job = self.cache / "synth" / self.set_key(name, h1)
        self.log(f"set {name}: {cfg.n} visualizations in {job}")
        t0 = time.perf_counter()
        ds = synthesize_sharded(h1, cfg, job, self.exp.shard_size, device=self.device, progress=self.progress,
                                meta=synthesis_meta(h1, cfg), real=(train.x, train.y) if cfg.loss2 else None)
        self.log(f"set {name}: ready in {time.perf_counter() - t0:.0f}s")
        return ds

    def student_run(self, col: Column, student: str, n: int, seed: int, set_key: str | None,
                    data: Callable[[], tuple[torch.Tensor, torch.Tensor]], test: Split, teacher_pred: np.ndarray,
                    h1: Teacher) -> dict:
        kwargs = {**self.exp.student, **col.student, "seed": seed}
        if is_neural(student):
            kwargs.update(device=self.device, temperature=col.temperature)
        ident = {"dataset": self.exp.dataset, "teacher": h1.fingerprint, "source": col.source, "set": set_key,
                 "labels": col.labels, "n": n, "student": student, "kwargs": {k: v for k, v in kwargs.items() if k != "device"}}
        path = self.cache / "runs" / f"{_key(ident)}.json"
        if path.is_file():
            return json.loads(path.read_text())["run"]
        x, t = data()
        t0 = time.perf_counter()
        model = create_student(student, progress=False, **kwargs)
        model.fit(x, t)
        run = evaluate_predictions(model.predict(test.x), test, teacher_pred)
        run.update(seed=seed, fit_seconds=time.perf_counter() - t0)
        write_json(path, {"identity": ident, "run": run})
        return run

    # --- the experiment ---------------------------------------------------------------------
    def run(self) -> dict:
        from .viz import class_grid  # matplotlib only when an experiment runs

        exp = self.exp
        t_start = time.perf_counter()
        train = load_dataset(exp.dataset, "train", self.data_dir)
        test = load_dataset(exp.dataset, "test", self.data_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        h1 = self.teacher(train, test)
        teacher_eval, teacher_pred = teacher_summary(h1, test, self.device)
        self.log(f"teacher: test accuracy {100 * teacher_eval['accuracy']:.2f}%")
        self.record = {"experiment": exp.name, "title": exp.title, "paper_table": exp.paper_table,
                       "description": exp.description, "dataset": exp.dataset, "seeds": list(exp.seeds),
                       "command": f"vistransfer experiment {exp.name}", "spec_file": exp.source,
                       "teacher": {"test_accuracy": teacher_eval["accuracy"], "fingerprint": h1.fingerprint,
                                   "config": to_dict(exp.teacher)},
                       "student_config": exp.student, "sets": {}, "cells": [], "versions": versions()}
        datasets: dict[str, SyntheticDataset] = {}
        for name in exp.sets_used():
            ds = self.synthetic(name, h1, train)
            datasets[name] = ds
            self.record["sets"][name] = {"config": to_dict(exp.sets[name]), "stats": ds.meta["stats"],
                                         "cache_key": self.set_key(name, h1), "shard_size": exp.shard_size}
            class_grid(ds.x, ds.target, ds.classes, self.out / f"grid-{name}.png",
                       title=f"set {name}: visualizations (seed {exp.sets[name].seed})")
        if exp.movement_grids:
            self._movement_grids(h1)
        for col in exp.columns:
            for student, n in col.cells():
                self._cell(col, student, n, datasets, train, test, teacher_pred, h1)
        if exp.feature_distance:
            self.record["feature_distance"] = {name: layer_distance(h1, ds.x, ds.target, train)
                                               for name, ds in datasets.items()}
            self.record["feature_distance"]["real test data"] = layer_distance(h1, test.x, test.y, train)
        self.record["wall_seconds"] = time.perf_counter() - t_start
        self._write(final=True)
        return self.record

    def _cell(self, col, student, n, datasets, train, test, teacher_pred, h1) -> None:
        if col.source == "synthetic":
            set_key = self.set_key(col.set, h1)

            def data():
                part = datasets[col.set].subset(n)
                return part.x, part.targets(col.labels)
        else:
            if n > len(train):
                raise VistransferError(f"column {col.name!r} asks for {n} real examples but {self.exp.dataset} has {len(train)}")
            set_key = None

            def data():
                part = train.subset(n, seed=0)
                return part.x, part.y
        runs = []
        for seed in self.exp.seeds:
            t0 = time.perf_counter()
            run = self.student_run(col, student, n, seed, set_key, data, test, teacher_pred, h1)
            runs.append(run)
            if time.perf_counter() - t0 > 1:
                self.log(f"{col.name} | {PAPER_NAMES.get(student, student)} | n={n} | seed {seed}: "
                         f"{100 * run['accuracy']:.2f}%")
        cell = {"column": col.name, "source": col.source, "set": col.set, "labels": col.labels,
                "temperature": col.temperature, "student": student, "n": n, "student_overrides": col.student,
                "accuracy": mean_std([r["accuracy"] for r in runs]),
                "teacher_agreement": mean_std([r["teacher_agreement"] for r in runs]),
                "paper": _paper_cell(col, student, n), "runs": runs}
        self.record["cells"] = [c for c in self.record["cells"]
                                if (c["column"], c["student"], c["n"]) != (col.name, student, n)] + [cell]
        self._write(final=False)

    def _movement_grids(self, h1: Teacher) -> None:
        """Appendix C: one grid per kind of pre-AM movement, each row one generator's 9 images."""
        from .viz import class_grid

        g = self.exp.movement_grids
        base = self.exp.sets[g["set"]]
        per_class = int(g.get("per_class", 9))
        for kind in base.movement_kinds:
            cfg = dataclasses.replace(base, movement_kinds=(kind,), n=10 * per_class)
            job = self.cache / "synth" / _key({"config": to_dict(cfg), "teacher": h1.fingerprint, "grid": kind})
            ds = synthesize_sharded(h1, cfg, job, cfg.n, device=self.device, progress=False)
            class_grid(ds.x, ds.target, ds.classes, self.out / f"movement-{kind}.png", per_class=per_class,
                       title=f"pre-AM movement: {kind.replace('_', ' ')} (T={cfg.threshold})")
            self.record.setdefault("movement_grids", {})[kind] = {"config": to_dict(cfg), "stats": ds.meta["stats"]}

    def _write(self, final: bool) -> None:
        self.record["complete"] = final
        write_json(self.out / "results.json", self.record)
        with atomic_path(self.out / "table.md") as tmp:
            tmp.write_text(render_markdown(self.exp, self.record))
        if final and any(len(c.sizes) > 1 for c in self.exp.columns):
            size_plot(self.exp, self.record, self.out / "accuracy-vs-size.png")


def _paper_cell(col: Column, student: str, n: int) -> dict | None:
    v = col.paper.get(f"{student}@{n}")
    return None if v is None else {"mean": v[0], "std": v[1]}


@torch.no_grad()
def layer_distance(h1: Teacher, x: torch.Tensor, y: torch.Tensor, real: Split, n_eval: int = 2000,
                   per_class: int = 500, seed: int = 0) -> dict:
    """Section 4.1.2's measure: mean L2 distance, in the teacher's layer L-1, from examples to
    real training examples of their class (``n_eval`` examples against ``per_class`` real ones
    per class, both drawn with ``seed``). Also the distance to the nearest of those real ones."""
    g = np.random.default_rng(seed)
    idx = g.choice(len(x), size=min(n_eval, len(x)), replace=False)
    net = h1.module.eval()
    feats = lambda t: torch.cat([net.features(t[i:i + 1024]) for i in range(0, len(t), 1024)])  # noqa: E731
    fx, yx = feats(x[idx]), y[idx]
    mean_d, min_d = [], []
    for c in range(h1.n_classes):
        pool = np.flatnonzero(real.y.numpy() == c)
        ref = feats(real.x[g.choice(pool, size=min(per_class, len(pool)), replace=False)])
        m = yx == c
        if m.any():
            d = torch.cdist(fx[m], ref)
            mean_d.append(d.mean(1))
            min_d.append(d.min(1).values)
    mean_all, min_all = torch.cat(mean_d), torch.cat(min_d)
    return {"mean_distance": float(mean_all.mean()), "mean_distance_std": float(mean_all.std()),
            "nearest_distance": float(min_all.mean()), "n_eval": int(len(mean_all)), "per_class_real": per_class}


def _fmt(ms: dict | None, pct: bool = True) -> str:
    if ms is None:
        return "—"
    scale = 100 if pct else 1
    std = ms.get("std")
    return f"{scale * ms['mean']:.2f}" + (f" ± {scale * std:.2f}" if std is not None else "")


def render_markdown(exp: Experiment, record: dict) -> str:
    """The paper's table layout: one row per student (or size), ours and the paper's side by side."""
    cells = {(c["column"], c["student"], c["n"]): c for c in record["cells"]}
    rows: list[tuple[str, int]] = []
    for col in exp.columns:
        for s, n in col.cells():
            if (s, n) not in rows:
                rows.append((s, n))
    if exp.rows == "size":
        rows.sort(key=lambda r: (r[1], r[0]))
    many_students = len({s for s, _ in rows}) > 1
    many_sizes = len({n for _, n in rows}) > 1

    def label(s: str, n: int) -> str:
        parts = []
        if exp.rows == "size" or many_sizes:
            parts.append(f"{n:,}")
        if exp.rows == "student" or many_students:
            parts.append(PAPER_NAMES.get(s, s))
        return " · ".join(parts)

    head = ["h2" if exp.rows == "student" else "size"]
    for col in exp.columns:  # a column without paper numbers (one of ours) gets no paper column
        head += [f"{col.name} (ours)"] + ([f"{col.name} (paper)"] if col.paper else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] if rows else []
    for s, n in rows:
        row = [label(s, n)]
        for col in exp.columns:
            c = cells.get((col.name, s, n))
            ours = "" if (s, n) not in col.cells() else _fmt(c["accuracy"]) if c else "(pending)"
            paper = "" if (s, n) not in col.cells() else _fmt(_paper_cell(col, s, n), pct=False)
            row += [ours] + ([paper] if col.paper else [])
        lines.append("| " + " | ".join(row) + " |")
    t = record["teacher"]
    out = [f"# {exp.title}", "", exp.description.strip(), ""]
    if lines:
        out += [f"Accuracy (%) on the real {exp.dataset} test set, mean ± std over student seeds {list(exp.seeds)}. "
                f"Teacher h1: {100 * t['test_accuracy']:.2f}%.", "", *lines, ""]
    col_notes = [f"- **{c.name}**: " + ("real training data (class-stratified subset, seed 0)" if c.source == "real"
                 else f"set `{c.set}`, {c.labels} labels" + (f", distillation temperature {c.temperature:g}" if c.temperature != 1 else ""))
                 + "".join(f"; student {k} = {v}" for k, v in c.student.items())
                 for c in exp.columns]
    out += (["Columns:", *col_notes, ""] if col_notes else [])
    for name, s in record["sets"].items():
        st, cfg = s["stats"], s["config"]
        T = cfg["threshold_range"] or cfg["threshold"]
        out.append(f"- set `{name}`: {cfg['n']:,} visualizations, T = {T}, group size {cfg['group_size']}, "
                   f"movement {'on' if cfg['movement'] else 'off'}, Loss2 {'on' if cfg['loss2'] else 'off'}; "
                   f"{st['teacher_passes_per_vis']:.1f} teacher passes per visualization, {st['discarded']} discarded.")
    if "feature_distance" in record:
        out += ["", "Layer L-1 distance to real training data of the same class (Section 4.1.2):", "",
                "| examples | mean L2 distance | distance to nearest real example |", "|---|---|---|"]
        for name, d in record["feature_distance"].items():
            out.append(f"| {name} | {d['mean_distance']:.3f} ± {d['mean_distance_std']:.3f} | {d['nearest_distance']:.3f} |")
    sweep = record.get("complete") and any(len(c.sizes) > 1 for c in exp.columns)
    figs = ["accuracy-vs-size.png"] if sweep else []
    figs += [f"grid-{n}.png" for n in record["sets"]] + [f"movement-{k}.png" for k in record.get("movement_grids", {})]
    if figs:
        out += ["", "Figures: " + ", ".join(f"[{f}]({f})" for f in figs)]
    status = "complete" if record.get("complete") else "in progress (cells marked pending are still running)"
    out += ["", f"Regenerate: `vistransfer experiment {exp.name} --data-dir ../shared/datasets` (status: {status}).", ""]
    return "\n".join(out)


def size_plot(exp: Experiment, record: dict, path: Path) -> None:
    """Accuracy against training-set size for every column (Table 2 as a plot), paper dashed."""
    from .viz import plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, col in enumerate(exp.columns):
        for s in col.students:
            mine = sorted((c["n"], c["accuracy"]) for c in record["cells"] if c["column"] == col.name and c["student"] == s)
            if len(mine) < 2:
                continue
            color = f"C{i}"
            lbl = f"{col.name} {PAPER_NAMES.get(s, s)}"
            ax.errorbar([n for n, _ in mine], [100 * a["mean"] for _, a in mine], yerr=[100 * a["std"] for _, a in mine],
                        marker="o", color=color, label=f"{lbl} (ours)", capsize=3)
            paper = sorted((n, col.paper[f"{s}@{n}"][0]) for n in col.sizes if f"{s}@{n}" in col.paper)
            if paper:
                ax.plot([n for n, _ in paper], [v for _, v in paper], ls="--", marker="x", color=color, label=f"{lbl} (paper)")
    ax.set_xscale("log")
    ax.set_xlabel("training examples")
    ax.set_ylabel(f"test accuracy on real {exp.dataset} (%)")
    ax.set_title(exp.title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def summary_markdown(results_dir: str | Path = "results") -> str:
    """One table over every experiment in ``results_dir``: each cell's mean beside the paper's."""
    lines = ["| experiment | column | h2 | size | ours (%) | paper (%) | ours − paper |", "|---|---|---|---|---|---|---|"]
    for path in sorted(Path(results_dir).glob("*/results.json")):
        rec = json.loads(path.read_text())
        link = f"[{rec.get('paper_table') or rec['experiment']}]({path.parent.name}/table.md)"
        for c in rec.get("cells", []):
            paper = c.get("paper")
            diff = f"{100 * c['accuracy']['mean'] - paper['mean']:+.2f}" if paper else ""
            lines.append(f"| {link} | {c['column']} | {PAPER_NAMES.get(c['student'], c['student'])} | {c['n']:,} | "
                         f"{_fmt(c['accuracy'])} | {_fmt(paper, pct=False) if paper else '—'} | {diff} |")
        if not rec.get("complete"):
            lines.append(f"| {link} | (still running: re-run `vistransfer experiment {rec['experiment']}` to finish) | | | | | |")
    return "\n".join(lines)


MARK_START, MARK_END = "<!-- results:start -->", "<!-- results:end -->"


def write_summary(results_dir: str | Path = "results", readme: str | Path | None = None) -> Path:
    """Write ``results_dir/README.md`` and, if given, replace the block between the results markers of ``readme``."""
    table = summary_markdown(results_dir)
    out = Path(results_dir) / "README.md"
    with atomic_path(out) as tmp:
        tmp.write_text("# Results\n\nEvery number below comes from `results/*/results.json`, written by "
                       "`vistransfer experiment NAME`; this file by `vistransfer summarize`.\n\n" + table + "\n")
    if readme is not None:
        text = Path(readme).read_text()
        if MARK_START not in text or MARK_END not in text:
            raise VistransferError(f"{readme} has no {MARK_START} ... {MARK_END} block to fill; add the two markers")
        head, rest = text.split(MARK_START, 1)
        tail = rest.split(MARK_END, 1)[1]
        with atomic_path(readme) as tmp:
            tmp.write_text(f"{head}{MARK_START}\n{table}\n{MARK_END}{tail}")
    return out
