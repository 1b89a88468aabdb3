"""The experiment runner: everything reusable is cached under the cache directory, keyed by what it
depends on and by the package version (a fix is never hidden by a stale cached result):

the teacher (dataset + training config), each synthetic set (its config minus ``n``, the shard
size and the teacher's fingerprint: a larger size reuses the shards of a smaller one), and each
student run (all of the above + student, size, labels, seed). A re-run, an interrupted run or an
extended sweep redoes nothing that finished. ``results/NAME/`` is rewritten after every cell:
``results.json`` (every value with its config, seeds and versions), ``table.md`` (the paper's
layout, the paper's numbers beside ours) and figures.

``results.json`` is also a second store of finished student runs: each run carries its cache key,
and a run whose key the cache lacks but the results folder's earlier record holds is taken from
there. A set is synthesized only when a run needs it (or the record has no description of it), so
an interrupted experiment continues on a machine that has the results folder but not the cache.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
import torch

from ..config import to_dict
from ..data import Split, load_dataset
from ..errors import VistransferError
from ..evaluation import evaluate_predictions, mean_std
from ..io import cache_key, versions
from ..models.teacher import Teacher, load_builtin, train_teacher
from ..models.train import checkpoint_seconds
from ..pipeline import synthesis_meta, synthesize_sharded, teacher_summary
from ..students import create_student, is_neural, paper_name
from ..synthesis.dataset import SyntheticDataset
from ..viz import class_grid
from .base import ExperimentRunner
from .report import paper_cell, render_markdown, size_plot
from .spec import Column, Experiment


class Runner(ExperimentRunner):
    """Runs one table experiment whole, reusing everything cached; see the module docstring."""

    def __init__(self, exp: Experiment, *args, **kwargs):
        super().__init__(exp, *args, **kwargs)
        self._found_runs: dict[str, dict] = {}  # cache key -> run, from the earlier record in the results folder
        self._found_sets: dict[str, dict] = {}  # cache key -> set description, likewise
        self._found_teacher: str | None = None  # the fingerprint of the teacher that record was made with

    # --- cached artifacts -------------------------------------------------------------------
    def teacher(self, train: Split, test: Split) -> Teacher:
        key = cache_key({"dataset": self.exp.dataset, "config": to_dict(self.exp.teacher), "n_train": len(train)})
        path = self.cache / "teachers" / f"{self.exp.dataset}-{key}.pt"
        if path.is_file():
            self.log(f"teacher: cached {path}")
            return load_builtin(path)
        self.log("teacher: training")
        h1 = train_teacher(train, test, self.exp.teacher, self.exp.dataset, device=self.device, progress=self.progress)
        h1.save(path)
        return h1

    def set_config(self, name: str, offset: int = 0):
        """Set ``name``'s SynthesisConfig, its seed moved by ``offset`` (``Experiment.set_seeds``)."""
        cfg = self.exp.sets[name]
        return dataclasses.replace(cfg, seed=cfg.seed + offset) if offset else cfg

    def set_key(self, name: str, h1: Teacher, offset: int = 0) -> str:
        cfg = {k: v for k, v in to_dict(self.set_config(name, offset)).items() if k != "n"}
        return cache_key({"config": cfg, "shard_size": self.exp.shard_size, "teacher": h1.fingerprint})

    def synthetic(self, name: str, h1: Teacher, train: Split, offset: int = 0) -> SyntheticDataset:
        cfg = self.set_config(name, offset)
        job = self.cache / "synth" / self.set_key(name, h1, offset)
        self.log(f"set {name}: {cfg.n} visualizations (seed {cfg.seed}) in {job}")
        t0 = time.perf_counter()
        ds = synthesize_sharded(
            h1,
            cfg,
            job,
            self.exp.shard_size,
            device=self.device,
            progress=self.progress,
            meta=synthesis_meta(h1, cfg),
            real=(train.x, train.y) if cfg.loss2 else None,
        )
        self.log(f"set {name}: ready in {time.perf_counter() - t0:.0f}s")
        return ds

    def student_run(
        self,
        col: Column,
        student: str,
        n: int,
        seed: int,
        set_key: str | None,
        data: Callable[[], tuple[torch.Tensor, torch.Tensor]],
        test: Split,
        teacher_pred: np.ndarray,
        h1: Teacher,
    ) -> dict:
        kwargs = {**self.exp.student, **col.student, "seed": seed}
        if is_neural(student):
            kwargs.update(device=self.device, temperature=col.temperature)
        ident = {
            "dataset": self.exp.dataset,
            "teacher": h1.fingerprint,
            "source": col.source,
            "set": set_key,
            "labels": col.labels,
            "n": n,
            "student": student,
            "kwargs": {k: v for k, v in kwargs.items() if k != "device"},
        }
        key = cache_key(ident)

        def make() -> dict:
            x, t = data()
            t0 = time.perf_counter()
            model = create_student(student, progress=False, **kwargs)
            if is_neural(student):  # an interrupted run continues from its last finished epoch
                ckpt = self.unit_path("runs", ident).with_suffix(".ckpt.pt")
                before = checkpoint_seconds(ckpt)
                model.fit(x, t, checkpoint=ckpt)
            else:
                before = 0.0
                model.fit(x, t)
            run = evaluate_predictions(model.predict(test.x), test, teacher_pred)
            run.update(seed=seed, fit_seconds=before + time.perf_counter() - t0)
            return {"identity": ident, "run": run}

        found = self._found_runs.get(key)  # finished by an earlier run whose cache may not be here
        earlier = {"identity": ident, "run": {k: v for k, v in found.items() if k != "key"}} if found is not None else None
        return {**self.cached("runs", ident, make, earlier=earlier)["run"], "key": key}

    def _read_earlier_record(self) -> None:
        """The finished runs and set descriptions of the record already in the results folder, by cache key
        (keys hold the package version and everything a run depends on, so nothing stale matches)."""
        old = self.earlier_record()
        cells = old.get("cells", [])
        self._found_runs = {r["key"]: r for c in cells for r in c.get("runs", []) if isinstance(r, dict) and "key" in r}
        self._found_teacher = (old.get("teacher") or {}).get("fingerprint")
        for entry in old.get("sets", {}).values():
            for e in [entry, *entry.get("per_seed", [])]:
                if "cache_key" in e:
                    self._found_sets[e["cache_key"]] = {k: v for k, v in e.items() if k not in ("per_seed", "seed_offset")}

    # --- the experiment ---------------------------------------------------------------------
    def run(self, parts: tuple[str, ...] | None = None) -> dict:
        if parts:
            raise VistransferError(f"{self.exp.name} is a table experiment and runs whole; --parts is for the apnea and CIFAR-10 ones")
        exp = self.exp
        t_start = time.perf_counter()
        train = load_dataset(exp.dataset, "train", self.data_dir)
        test = load_dataset(exp.dataset, "test", self.data_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self._read_earlier_record()
        h1 = self.teacher(train, test)
        if self._found_runs and self._found_teacher not in (None, h1.fingerprint):
            self.log(
                f"teacher {h1.fingerprint[:12]} is not the one {self.out / 'results.json'} was made with "
                f"({self._found_teacher[:12]}; trained on another machine or library version?): its runs, keyed by "
                "their teacher, cannot serve this one"
            )
        teacher_eval, teacher_pred = teacher_summary(h1, test, self.device)
        self.log(f"teacher: test accuracy {100 * teacher_eval['accuracy']:.2f}%")
        self.record = {
            "experiment": exp.name,
            "title": exp.title,
            "paper_table": exp.paper_table,
            "description": exp.description,
            "dataset": exp.dataset,
            "seeds": list(exp.seeds),
            "command": f"vistransfer experiment {exp.name}",
            "spec_file": exp.source,
            "teacher": {"test_accuracy": teacher_eval["accuracy"], "fingerprint": h1.fingerprint, "config": to_dict(exp.teacher)},
            "student_config": exp.student,
            "sets": {},
            "cells": [],
            "versions": versions(),
        }
        # one round per synthesis: its sets, then the students of the seeds that learn from them, so an
        # interrupted synthesis_per_seed run keeps whole seeds and holds one seed's sets in memory
        last = len(exp.set_seeds()) - 1
        for i, offset in enumerate(exp.set_seeds()):

            def describe(name, entry, i=i, offset=offset):
                if i == 0:  # the first synthesis is the table's description
                    self.record["sets"][name] = dict(entry)
                if exp.synthesis_per_seed:
                    self.record["sets"][name].setdefault("per_seed", []).append({"seed_offset": offset, **entry})

            def make(name, i=i, offset=offset):
                ds = self.synthetic(name, h1, train, offset)
                describe(
                    name,
                    {
                        "config": to_dict(self.set_config(name, offset)),
                        "stats": ds.meta["stats"],
                        "cache_key": self.set_key(name, h1, offset),
                        "shard_size": exp.shard_size,
                    },
                )
                if i == 0:  # and its grid
                    class_grid(
                        ds.x,
                        ds.target,
                        ds.classes,
                        self.out / f"grid-{name}.png",
                        title=f"set {name}: visualizations (seed {self.set_config(name, offset).seed})",
                    )
                return ds

            datasets = _Sets(make)  # a set is synthesized (or read from the cache) when a run needs it
            if i == 0 and exp.movement_grids:
                self._movement_grids(h1)
            seeds = [s for s in exp.seeds if exp.set_offset(s) == offset]
            for col in exp.columns:
                for student, n in col.cells():
                    self._cell(col, student, n, datasets, train, test, teacher_pred, h1, seeds)
            for name in exp.sets_used():  # the sets no run needed: described as the earlier record did
                found = self._found_sets.get(self.set_key(name, h1, offset))
                if name in datasets:
                    continue
                grid_gone = i == 0 and not (self.out / f"grid-{name}.png").is_file()
                if found is None or grid_gone or (exp.feature_distance and i == last):
                    datasets[name]  # noqa: B018 -- made for its description, its grid or the feature distances
                else:
                    describe(name, found)
            if i == 0:
                self.record["sets"] = {n: self.record["sets"][n] for n in exp.sets_used()}
        if exp.feature_distance:
            self.record["feature_distance"] = {
                name: layer_distance(h1, ds.x, ds.target, train)  # the last synthesis' sets
                for name, ds in datasets.items()
            }
            self.record["feature_distance"]["real test data"] = layer_distance(h1, test.x, test.y, train)
        self.record["wall_seconds"] = time.perf_counter() - t_start
        self.write(final=True)
        return self.record

    def _cell(self, col, student, n, datasets, train, test, teacher_pred, h1, seeds: list[int]) -> None:
        """Train and score ``seeds``' students of one cell (all learn from ``datasets``, one synthesis' sets);
        the cell keeps its other seeds' runs."""
        if col.source == "synthetic":
            set_key = self.set_key(col.set, h1, self.exp.set_offset(seeds[0]))

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
        for seed in seeds:
            t0 = time.perf_counter()
            run = self.student_run(col, student, n, seed, set_key, data, test, teacher_pred, h1)
            runs.append(run)
            if time.perf_counter() - t0 > 1:
                self.log(f"{col.name} | {paper_name(student)} | n={n} | seed {seed}: {100 * run['accuracy']:.2f}%")
        key = (col.name, student, n)
        earlier = next((c["runs"] for c in self.record["cells"] if (c["column"], c["student"], c["n"]) == key), [])
        runs = sorted([r for r in earlier if r["seed"] not in seeds] + runs, key=lambda r: self.exp.seeds.index(r["seed"]))
        cell = {
            "column": col.name,
            "source": col.source,
            "set": col.set,
            "labels": col.labels,
            "temperature": col.temperature,
            "student": student,
            "n": n,
            "student_overrides": col.student,
            "accuracy": mean_std([r["accuracy"] for r in runs]),
            "teacher_agreement": mean_std([r["teacher_agreement"] for r in runs]),
            "paper": paper_cell(col, student, n),
            "runs": runs,
        }
        self.record["cells"] = [c for c in self.record["cells"] if (c["column"], c["student"], c["n"]) != key] + [cell]
        self.write(final=False)

    def _movement_grids(self, h1: Teacher) -> None:
        """Appendix C: one grid per kind of pre-AM movement, each row one generator's 9 images."""
        g = self.exp.movement_grids
        base = self.exp.sets[g["set"]]
        per_class = int(g.get("per_class", 9))
        for kind in base.movement_kinds:
            cfg = dataclasses.replace(base, movement_kinds=(kind,), n=10 * per_class)
            job = self.cache / "synth" / cache_key({"config": to_dict(cfg), "teacher": h1.fingerprint, "grid": kind})
            ds = synthesize_sharded(h1, cfg, job, cfg.n, device=self.device, progress=False)
            class_grid(
                ds.x,
                ds.target,
                ds.classes,
                self.out / f"movement-{kind}.png",
                per_class=per_class,
                title=f"pre-AM movement: {kind.replace('_', ' ')} (T={cfg.threshold})",
            )
            self.record.setdefault("movement_grids", {})[kind] = {"config": to_dict(cfg), "stats": ds.meta["stats"]}

    def render(self) -> str:
        return render_markdown(self.exp, self.record)

    def write(self, final: bool | None = None) -> None:
        super().write(final)
        if final and any(len(c.sizes) > 1 for c in self.exp.columns):
            size_plot(self.exp, self.record, self.out / "accuracy-vs-size.png")


class _Sets(dict):
    """One synthesis' sets by name, each made by ``make(name)`` on first use."""

    def __init__(self, make: Callable[[str], SyntheticDataset]):
        super().__init__()
        self.make = make

    def __missing__(self, name: str) -> SyntheticDataset:
        ds = self[name] = self.make(name)
        return ds


@torch.no_grad()
def layer_distance(h1: Teacher, x: torch.Tensor, y: torch.Tensor, real: Split, n_eval: int = 2000, per_class: int = 500, seed: int = 0) -> dict:
    """Section 4.1.2's measure: mean L2 distance, in the teacher's layer L-1, from examples to
    real training examples of their class (``n_eval`` examples against ``per_class`` real ones
    per class, both drawn with ``seed``). Also the distance to the nearest of those real ones."""
    g = np.random.default_rng(seed)
    idx = g.choice(len(x), size=min(n_eval, len(x)), replace=False)
    net = h1.module.eval()
    feats = lambda t: torch.cat([net.features(t[i : i + 1024]) for i in range(0, len(t), 1024)])  # noqa: E731
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
    return {
        "mean_distance": float(mean_all.mean()),
        "mean_distance_std": float(mean_all.std()),
        "nearest_distance": float(min_all.mean()),
        "n_eval": int(len(mean_all)),
        "per_class_real": per_class,
    }
