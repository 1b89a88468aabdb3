"""The record-wise part of an Apnea-ECG experiment (``recordwise``): folds of different people, per minute and
per recording."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import torch

from ..data import Split
from ..ecg.apnea import CLASSES, available_records, find_root, load_minutes
from ..evaluation import mean_std
from ..models.teacher import Teacher
from ..pipeline import teacher_proba
from ..synthesis.dataset import SyntheticDataset
from .apnea_metrics import binary_metrics, recording_level


class RecordwisePart:
    """The ``recordwise`` part of :class:`.apnea.ApneaRunner` (a mixin: it uses the runner's cached units)."""

    @property
    def recordwise_cfg(self) -> dict:
        """[recordwise] with its defaults (not part of the experiment's identity: the part's record holds it)."""
        return json.loads(json.dumps({"folds": 5, "epochs": 10, **self.exp.recordwise}))

    def recordwise_setup(self) -> dict:
        """What every record-wise fold shares: all learning-set records' minutes, the fold count, the seed,
        the [recordwise] options and the teacher's training config for them."""
        cfg = self.recordwise_cfg
        names = available_records(find_root(self.data_dir))
        return {
            "names": names,
            "data": load_minutes(self.data_dir, names),
            "folds": int(cfg["folds"]),
            "cfg": cfg,
            "seed": self.exp.seeds[0],
            "tcfg": replace(self.exp.teacher, epochs=int(cfg["epochs"])),
        }

    @staticmethod
    def recordwise_split(setup: dict, f: int) -> tuple[Split, Split, torch.Tensor]:
        """Fold ``f``: records i with i % folds == f are held out. Returns train, test and the test mask."""
        data, folds = setup["data"], setup["folds"]
        test_recs = [i for i in range(len(setup["names"])) if i % folds == f]
        te = torch.isin(data["record"], torch.tensor(test_recs))
        return Split(data["x"][~te], data["y"][~te], CLASSES), Split(data["x"][te], data["y"][te], CLASSES), te

    def recordwise_teacher_and_set(self, setup: dict, f: int, train: Split, test: Split) -> tuple[Teacher, SyntheticDataset]:
        """Fold ``f``'s teacher (the training people's minutes) and the set its student learns from (cached)."""
        h1 = self.teacher(f"recordwise-{f}", train, test, setup["seed"], setup["tcfg"])
        return h1, self.synthetic(f"recordwise-{f}", h1, setup["seed"], n=int(setup["cfg"].get("n_synthetic", 4000)))

    def recordwise(self) -> None:
        """Train and test on different people: k-fold over all learning-set records (record i in fold i % k).

        The student is measured twice: at 0.5, as it comes from the visualizations, and at the threshold the
        training people's real minutes choose for it ("student_calibrated"). That threshold is one number the
        owner of the data can compute and hand over with the student, as with the teacher's T
        (``--threshold-share``); the student never trains on those minutes, and the test people are others.
        """
        setup = self.recordwise_setup()
        names, data, folds, seed, cfg = setup["names"], setup["data"], setup["folds"], setup["seed"], setup["cfg"]
        # folds an earlier run of these options finished (maybe on another machine)
        earlier = {r["fold"]: r for r in self._earlier.get("recordwise", {}).get("per_fold", []) if "fold" in r}
        res, preds = [], {}
        for f in range(folds):
            train, test, te = self.recordwise_split(setup, f)

            def unit(f=f, train=train, test=test, te=te):
                h1, ds = self.recordwise_teacher_and_set(setup, f, train, test)
                h2 = self.student(ds.x, ds.targets("hard"), seed, teacher=h1, epochs=int(cfg["epochs"]))
                y = test.y.numpy()
                p1 = teacher_proba(h1, test.x, self.device)[:, 1]
                p2 = h2.predict_proba(test.x)[:, 1]
                thr = binary_metrics(train.y.numpy(), h2.predict_proba(train.x)[:, 1])["best_threshold"]
                recs = data["record"][te].numpy()
                per_record = {
                    names[r]: {
                        "true_apnea_minutes": int(y[recs == r].sum()),
                        "minutes": int((recs == r).sum()),
                        "teacher_apnea_minutes": int((p1[recs == r] >= 0.5).sum()),
                        "student_apnea_minutes": int((p2[recs == r] >= 0.5).sum()),
                        "student_calibrated_apnea_minutes": int((p2[recs == r] >= thr).sum()),
                    }
                    for r in np.unique(recs)
                }
                return {
                    "teacher": binary_metrics(y, p1),
                    "student": binary_metrics(y, p2),
                    "student_calibrated": binary_metrics(y, p2, thr),
                    "records": per_record,
                }

            was = earlier.get(f)
            r = self.cached(
                "recordwise", {"fold": f, "folds": folds, "cfg": cfg}, unit, earlier={k: v for k, v in was.items() if k != "fold"} if was else None
            )
            res.append({"fold": f, **r})
            preds.update(r["records"])
            self.log(f"recordwise fold {f}: teacher {100 * r['teacher']['accuracy']:.1f}, student {100 * r['student']['accuracy']:.1f}")
            # every finished fold goes into the record at once: an interrupted run keeps it, and the next run
            # of the same command (here or wherever the results folder goes) starts at the next fold
            self.record["recordwise"] = self._recordwise_record(res, preds, folds, cfg)
            if f < folds - 1:
                self.write(final=False)

    @staticmethod
    def _recordwise_record(res: list[dict], preds: dict, folds: int, cfg: dict) -> dict:
        """The record-wise part's record from the folds done so far (``partial`` while some remain)."""
        keys = ["accuracy", "sensitivity", "specificity", "auc"] + (["best_accuracy"] if all("best_accuracy" in r["student"] for r in res) else [])
        models = [m for m in ("teacher", "student", "student_calibrated") if all(m in r for r in res)]  # older units: no calibration
        pooled = {m: {k: mean_std([r[m][k] for r in res]) for k in keys} for m in models}
        out = {"folds": folds, "epochs": cfg["epochs"], "cfg": cfg, "per_fold": res, "pooled": pooled, "recording_level": recording_level(preds)}
        return {**out, "partial": True} if len(res) < folds else out
