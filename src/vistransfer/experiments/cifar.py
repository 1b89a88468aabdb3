"""Section 4.2, Table 3: how hard CIFAR-10 visualizations are to read, and a data-free CIFAR-10 student.

``experiments/table3.toml`` (``kind = "cifar"``) names the four networks of Appendix D (h1, CNN1 as
h_s, CNN2 and CNN3 as S1), their training, and the synthesis of IMGS and IMGS+L.
``vistransfer experiment table3`` runs the parts in order:

* ``train``: the four networks on the real training images. Each writes its whole training state
  into the cache after every epoch, so an interrupted run continues from the last epoch.
* ``table3``: per synthesis seed, IMGS (100 visualizations of h1, 10 per class, softmax >= T) and
  IMGS+L (the same with Loss2); each net's test accuracy and agreement with h1 on them; the
  hidden-message and fooling-example fractions of S1 (:mod:`vistransfer.metrics`) with bootstrap
  intervals, per seed and as mean +- std over seeds; the paper's Figure 3.
* ``student``: a student of h1's visualizations alone (hard labels, and soft at tau 4).

Every unit is cached (keyed by its config and the package version); ``results/table3/`` is rewritten
after each. CIFAR-10 here is a lossy JPEG copy: every number carries that note.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from .. import metrics
from ..config import to_dict
from ..data import Split, load_dataset
from ..data.cifar import LOSSY_NOTE
from ..evaluation import mean_std
from ..io import cache_key, device_name, versions, write_json
from ..models.spec import InputSpec, dataset_spec
from ..models.teacher import Teacher, load_builtin, train_teacher
from ..models.train import predict_logits
from ..pipeline import make_synthetic, synthesis_meta, synthesize_sharded
from ..presets import dataset_defaults
from ..students import create_student
from ..synthesis.dataset import SyntheticDataset
from ..viz import class_grid
from .base import ExperimentRunner
from .cifar_report import render_table3
from .cifar_spec import NET_NAMES, CifarExperiment


def paper_cell(v: float | None) -> dict | None:
    return None if v is None else {"mean": float(v), "std": None}


class CifarRunner(ExperimentRunner):
    """Runs a ``kind = "cifar"`` experiment part by part; see the module docstring."""

    PARTS = ("train", "table3", "student")

    def __init__(self, exp: CifarExperiment, *args, **kwargs):
        super().__init__(exp, *args, **kwargs)
        self.record: dict[str, Any] = {
            "title": exp.title,
            "paper_table": exp.paper_table,
            "source": exp.source,
            "paper": exp.paper,
            "n_imgs": exp.n_imgs,
            "versions": versions(),
            "nets": {},
        }
        old = self.earlier_record()  # a run of some parts keeps the other parts' results
        self.record.update({k: old[k] for k in ("nets", "table3", "student", "summary_rows") if k in old})
        self._data: dict[str, Split] = {}
        self._spec: InputSpec | None = None
        self._nets: dict[str, Teacher] = {}

    # --- data and networks ------------------------------------------------------------------
    def data(self, split: str) -> Split:
        if split not in self._data:
            n = self.exp.n_train if split == "train" else self.exp.n_test
            data = load_dataset(self.exp.dataset, split, self.data_dir)
            self._data[split] = data.subset(n) if n else data
        return self._data[split]

    @property
    def spec(self) -> InputSpec:
        """One input spec for all four nets: [0, 1] images normalized by the training set's channel stats."""
        if self._spec is None:
            self._spec = dataset_spec(self.data("train"), dataset_defaults(self.exp.dataset))
        return self._spec

    def net(self, name: str) -> Teacher:
        """Network ``name`` trained on the real training images, from the cache or trained now
        (resuming from its last finished epoch)."""
        if name in self._nets:
            return self._nets[name]
        arch, cfg = self.exp.nets[name]
        subset = {"n_train": self.exp.n_train} if self.exp.n_train else {}
        key = cache_key({"dataset": self.exp.dataset, **subset, "arch": arch.to_dict(), "config": to_dict(cfg), "spec": self.spec.to_dict()})
        path = self.cache / "nets" / f"{name}-{key}.pt"
        if not path.is_file():
            ckpt = path.with_suffix(".ckpt")
            self.log(f"[{self.exp.name}] training {name} ({arch.channels}, {cfg.epochs} epochs{', resuming' if ckpt.is_file() else ''})")
            t = train_teacher(
                self.data("train"),
                self.data("test"),
                cfg,
                self.exp.dataset,
                arch,
                self.device,
                progress=self.progress,
                spec=self.spec,
                checkpoint=ckpt,
            )
            t.save(path)
            self.log(f"[{self.exp.name}] {name}: test accuracy {100 * t.test_accuracy:.2f}% -> {path}")
        self._nets[name] = load_builtin(path)  # loaded once per run: every part asks for the nets often
        return self._nets[name]

    def train(self) -> None:
        for name in self.exp.nets:
            t = self.net(name)
            self.record["nets"][name] = {
                "arch": t.net.arch.to_dict(),
                "test_accuracy": t.test_accuracy,
                "train_seconds": t.meta.get("train_seconds"),
                "train_config": t.meta.get("train_config"),
                "fingerprint": t.fingerprint,
            }
            self.write()

    # --- Table 3 ------------------------------------------------------------------------------
    def synthetic(self, which: str, seed: int) -> SyntheticDataset:
        """IMGS ("imgs") or IMGS+L ("imgs_l") of h1 for one synthesis seed, cached."""
        h1 = self.net("h1")
        cfg = replace(self.exp.synthesis if which == "imgs" else self.exp.loss2, seed=seed)
        path = self.cache / "sets" / f"{which}-{cache_key({'teacher': h1.fingerprint, 'config': to_dict(cfg)})}.pt"
        if path.is_file():
            return SyntheticDataset.load(path)
        ds = make_synthetic(h1, cfg, self.device, real=self.data("train") if cfg.loss2 else None, progress=self.progress)
        ds.save(path)
        return ds

    def predict(self, name: str, x: torch.Tensor) -> np.ndarray:
        return predict_logits(self.net(name).module, x, self.device).argmax(1).numpy()

    def table3(self) -> None:
        """Test accuracies, agreement with h1 on IMGS and IMGS+L, and S1's difficulty fractions."""
        test = self.data("test")
        y = test.y.numpy()
        preds = {n: self.predict(n, test.x) for n in NET_NAMES}
        s1 = ("cnn2", "cnn3")
        adm = metrics.admissibility({n: preds[n] for n in s1}, y, self.exp.admissibility)
        rec: dict[str, Any] = {
            "note": LOSSY_NOTE,
            "admissibility": adm.to_dict(),
            "test": {
                "accuracy": {n: metrics.agreement(y, preds[n]) for n in NET_NAMES},
                **metrics.difficulty(preds["h1"], preds["cnn1"], {n: preds[n] for n in s1}, adm, strict=False),
            },
            "sets": {},
        }
        self.record["table3"] = rec
        for which in ("imgs", "imgs_l"):
            runs = []
            pooled: dict[str, list[np.ndarray]] = {n: [] for n in NET_NAMES}
            for seed in self.exp.synthesis_seeds:
                ds = self.synthetic(which, seed)
                p = {n: self.predict(n, ds.x) for n in NET_NAMES}
                for n in NET_NAMES:
                    pooled[n].append(p[n])
                d = metrics.difficulty(p["h1"], p["cnn1"], {n: p[n] for n in s1}, adm, strict=False)
                stats = ds.meta.get("stats", {})
                runs.append(
                    {
                        "seed": seed,
                        "n": len(ds),
                        "target_is_h1_label": float((p["h1"] == ds.target.numpy()).mean()),
                        "agreement_with_h1": {n: metrics.agreement(p["h1"], p[n]) for n in NET_NAMES[1:]},
                        "fooling_example": d["fooling_example"],
                        "hidden_message": d["hidden_message"],
                        "synthesis": {k: stats.get(k) for k in ("wall_s", "vis_per_s", "teacher_passes_per_vis", "groups_discarded")},
                    }
                )
                rec["sets"][which] = self._summarize(runs, pooled, s1, adm)
                self.write()
                self.log(
                    f"[{self.exp.name}] {which} seed {seed}: agreement "
                    + ", ".join(f"{n} {100 * v:.0f}%" for n, v in runs[-1]["agreement_with_h1"].items())
                    + f"; fooling {100 * d['fooling_example']['value']:.0f}%, hidden {100 * d['hidden_message']['value']:.0f}%"
                )
        self.figure3()
        self.record["summary_rows"] = self._summary_rows()
        self.write()

    def _summary_rows(self) -> list[dict]:
        """Table 3's cells for the results summary (README): ours (mean +- std over seeds) beside the paper's."""
        t3, paper = self.record["table3"], self.exp.paper
        rows = []
        names = {"cnn1": "CNN1 (h_s)", "cnn2": "CNN2 (S1)", "cnn3": "CNN3 (S1)"}
        for n, label in names.items():
            p = paper.get(n, [None] * 3)
            rows.append(
                {
                    "column": "CIFAR-10 acc. (JPEG copy)",
                    "h2": label,
                    "size": "10,000 test images",
                    "ours": {"mean": t3["test"]["accuracy"][n], "std": None},
                    "paper": paper_cell(p[0]),
                }
            )
            for i, (w, col) in enumerate((("imgs", "IMGS agreement"), ("imgs_l", "IMGS+L agreement")), start=1):
                rows.append(
                    {
                        "column": col,
                        "h2": label,
                        "size": f"{self.exp.n_imgs} × {len(self.exp.synthesis_seeds)} seeds",
                        "ours": t3["sets"][w]["agreement_with_h1"][n],
                        "paper": paper_cell(p[i]),
                    }
                )
        for prop, label in (("hidden_message", "Hidden M. (S1)"), ("fooling_example", "Fooling Ex. (S1)")):
            p = paper.get(prop, [None] * 3)
            rows.append(
                {
                    "column": "test set",
                    "h2": label,
                    "size": "10,000 test images",
                    "ours": {"mean": t3["test"][prop]["value"], "std": None},
                    "paper": paper_cell(p[0]),
                }
            )
            for i, (w, col) in enumerate((("imgs", "IMGS"), ("imgs_l", "IMGS+L")), start=1):
                rows.append(
                    {
                        "column": col,
                        "h2": label,
                        "size": f"{self.exp.n_imgs} × {len(self.exp.synthesis_seeds)} seeds",
                        "ours": t3["sets"][w][prop],
                        "paper": paper_cell(p[i]),
                    }
                )
        return rows

    def _summarize(self, runs: list[dict], pooled: dict[str, list[np.ndarray]], s1: tuple[str, ...], adm: metrics.Admissibility) -> dict:
        """Per-seed runs, mean +- std over seeds, and the pooled images' fractions with bootstrap intervals."""
        cat = {n: np.concatenate(v) for n, v in pooled.items()}
        d = metrics.difficulty(cat["h1"], cat["cnn1"], {n: cat[n] for n in s1}, adm, strict=False)
        return {
            "runs": runs,
            "agreement_with_h1": {n: mean_std([r["agreement_with_h1"][n] for r in runs]) for n in NET_NAMES[1:]},
            "fooling_example": mean_std([r["fooling_example"]["value"] for r in runs]),
            "hidden_message": mean_std([r["hidden_message"]["value"] for r in runs]),
            "pooled": {
                "n": d["n"],
                "fooling_example": d["fooling_example"],
                "hidden_message": d["hidden_message"],
                "agreement_with_h1": {n: metrics.agreement(cat["h1"], cat[n]) for n in NET_NAMES[1:]},
            },
        }

    def figure3(self) -> None:
        """Figure 3 (and Appendix B's Figures 5 and 6): IMGS and IMGS+L of the first seed, a row per class."""
        seed = self.exp.synthesis_seeds[0]
        for which, fig, title in (("imgs", "figure3.png", "IMGS"), ("imgs_l", "figure3_loss2.png", "IMGS+L")):
            ds = self.synthetic(which, seed)
            class_grid(
                ds.x,
                ds.target,
                ds.classes,
                self.out / fig,
                per_class=10,
                seed=0,
                title=f"{title}: visualizations of h1 (CIFAR-10, softmax >= {self.exp.synthesis.threshold}, seed {seed})",
            )

    # --- beyond the paper: a data-free student ------------------------------------------------
    def student(self) -> None:
        """A student of h1's visualizations alone, scored on the real test set, hard and soft labels."""
        st = self.exp.student
        h1 = self.net("h1")
        cfg = replace(self.exp.synthesis, n=st.n_synthetic, seed=0, slots=32)
        # shards of 1,000: an interrupted synthesis keeps every finished shard and continues
        job = self.cache / "synth" / f"student-{cache_key({'teacher': h1.fingerprint, 'config': to_dict(cfg)})}"
        self.log(f"[{self.exp.name}] the data-free student's set: {st.n_synthetic} visualizations in {job}")
        ds = synthesize_sharded(h1, cfg, job, 1000, device=self.device, progress=self.progress, meta=synthesis_meta(h1, cfg))
        test = self.data("test")
        h1_test = self.predict("h1", test.x)
        # rebuilt from the cached runs: a record of an earlier configuration is never carried over
        rec = self.record["student"] = {
            "n_synthetic": len(ds),
            "arch": st.arch,
            "note": LOSSY_NOTE,
            "synthesis": ds.meta.get("stats", {}),
            "device": device_name(self.device),
            "versions": versions(),
            "teacher": {"test_accuracy": h1.test_accuracy, "fingerprint": h1.fingerprint},
            "runs": {},
        }
        for labels, tau in (("hard", 1.0), ("soft", st.temperature)):
            for seed in st.seeds:
                cell = f"{labels}-seed{seed}"
                key = cache_key({"set": job.name, "student": st.model_dump(), "labels": labels, "seed": seed})
                done = self.cache / "students" / f"{key}.json"
                if done.is_file():
                    rec["runs"][cell] = json.loads(done.read_text())
                    continue
                t0 = time.perf_counter()
                student = create_student(
                    st.arch,
                    epochs=st.epochs,
                    seed=seed,
                    temperature=tau,
                    amp=True,
                    standardize=(h1.spec.mean, h1.spec.std),
                    device=self.device,
                    progress=self.progress,
                )
                student.fit(ds.x, ds.targets(labels))
                pred = student.predict(test.x)
                run = {
                    "labels": labels,
                    "temperature": tau,
                    "seed": seed,
                    "accuracy": float((pred == test.y.numpy()).mean()),
                    "agreement_with_h1": float((pred == h1_test).mean()),
                    "fit_seconds": time.perf_counter() - t0,
                }
                write_json(done, run)
                rec["runs"][cell] = run
                self.log(f"[{self.exp.name}] data-free student ({labels} labels, seed {seed}): {100 * run['accuracy']:.2f}% on the real test set")
                self.write()
        self.write()

    # --- output -----------------------------------------------------------------------------
    def cache_folder(self) -> str:
        return self.exp.dataset

    def render(self) -> str:
        return render_table3(self.record)

    def run(self, parts: tuple[str, ...] | None = None) -> dict:
        parts = parts or self.PARTS
        self.check_parts(parts)
        if "train" in parts or "table3" in parts:  # the student needs h1 alone, trained on demand
            self.train()
        if "table3" in parts:
            self.table3()
        if "student" in parts:
            self.student()
