"""Why a record-wise student ranks some held-out people's minutes at chance: the RR level, measured.

The record-wise part of an Apnea-ECG experiment (``vistransfer experiment table5_ensemble --parts
recordwise``) trains, per fold, a teacher on 28 people's real minutes, a student on its visualizations,
and scores both on the other 7 people. In some folds the student ranks the held-out minutes at chance
while the teacher ranks them at 0.9+. One lead is the level of the RR series (the mean heart period): it
differs from person to person by more than apnea moves it within a night, and a student that learned
"slow heart = apnea" from visualizations would rank people by who they are, not by what their night does.

This script takes the experiment's own folds, teachers and sets (from its cache; whatever is missing is
made as the experiment makes it) and measures, per fold:

- how well the level alone (the window's mean RR, a higher mean scoring "apnea") ranks apnea against
  normal minutes: in the student's set (labelled by the teacher's argmax), on the training people's real
  minutes, on the held-out people's, and within each held-out night (per-record AUC, averaged);
- the student (trained again here exactly as the experiment trains it; ``--members`` may override the
  ensemble size) and the teacher on the held-out minutes three ways: as they are; with each held-out
  record moved to the training people's mean level (its own mean subtracted, the training mean added:
  the person's level removed, the night's rhythm and its changes of level kept); and with every window
  moved to the training mean (no level at all, only the rhythm within five minutes);
- how strongly the student's apnea probability follows the level on the held-out minutes (Spearman).

If the student's AUC in the failing folds rises when each person is moved to the common level, while the
teacher's barely changes, the student's failure is that it reads the level where the teacher reads the
rhythm. The same for the spread (each window's std around its own mean: how much the heart period
varies within five minutes, which also differs from person to person): how well it ranks apnea alone,
and how strongly teacher and student follow it. ``--contrast R`` adds R contrasts per example to the
set before the student learns: a point of the set with its deviations from its own mean multiplied by
a factor drawn log-uniformly from [1/S, S] (``--contrast-scale S``), clamped, labelled by the teacher:
what offsets do for the level, for the spread. Results go to ``--out`` (atomically, after every fold).

    python -m benchmarks.apnea_level --data-dir ../shared/datasets
    python -m benchmarks.apnea_level --data-dir ../shared/datasets --folds 2,3 --members 1
    python -m benchmarks.apnea_level --data-dir ../shared/datasets --experiment experiments/table5_offset.toml --folds 2 --members 1 --contrast 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from vistransfer.experiments import load_any
from vistransfer.experiments.apnea import ApneaRunner
from vistransfer.experiments.apnea_metrics import binary_metrics
from vistransfer.io import cache_dir, versions, write_json, write_text
from vistransfer.models.train import predict_logits
from vistransfer.synthesis.dataset import SyntheticDataset
from vistransfer.synthesis.offset import add_offsets
from vistransfer.synthesis.records import Kind


def level(x: torch.Tensor) -> np.ndarray:
    """The mean RR (s) of each window (N, 1, L)."""
    return x[:, 0].mean(1).numpy()


def spread(x: torch.Tensor) -> np.ndarray:
    """The std (s) of each window (N, 1, L) around its own mean."""
    return x[:, 0].std(1).numpy()


def add_contrasts(ds: SyntheticDataset, teacher: torch.nn.Module, ratio: float, scale: float, low: float, high: float, seed: int) -> SyntheticDataset:
    """``ds`` followed by round(ratio * len(ds)) of its points, each with its deviations from its own mean
    multiplied by a factor drawn log-uniformly from [1/scale, scale], clamped to [low, high], labelled by
    the teacher (as synthesis/offset.py moves the level)."""
    if ratio <= 0:
        return ds
    k = round(ratio * len(ds))
    g = torch.Generator().manual_seed(int(seed) + 7919)
    pick = torch.randint(len(ds), (k,), generator=g)
    a = torch.exp((torch.rand((k, 1, 1), generator=g) * 2 - 1) * float(np.log(scale)))
    x0 = ds.x[pick]
    m = x0.mean(dim=2, keepdim=True)
    x = (m + a * (x0 - m)).clamp(low, high)
    probs = torch.softmax(predict_logits(teacher, x), 1)
    moved = SyntheticDataset.labelled(x, probs, Kind.CONTRAST, ds.classes)
    kept = float((moved.target == ds.probs[pick].argmax(1)).float().mean())
    return SyntheticDataset.concat([ds, moved], dict(ds.meta, contrasts={"n": k, "ratio": ratio, "scale": scale, "label_kept": round(kept, 4)}))


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC of ``score`` for apnea (NaN where ``y`` holds one class), as the experiment computes it."""
    return binary_metrics(y, score)["auc"]


def within_record_auc(y: np.ndarray, score: np.ndarray, recs: np.ndarray) -> dict:
    """Per-record AUC (records with both classes), and their mean."""
    per = {int(r): auc(y[recs == r], score[recs == r]) for r in np.unique(recs)}
    vals = [v for v in per.values() if v == v]
    return {"per_record": per, "mean": float(np.mean(vals)) if vals else float("nan")}


def relevel(x: torch.Tensor, recs: np.ndarray, target: float, low: float, high: float, per: str) -> torch.Tensor:
    """``x`` with its level moved to ``target``: per record ("record": the person's mean removed) or per
    window ("window": every window's own mean removed), clamped to the teacher's domain."""
    out = x.clone()
    if per == "window":
        out = out - out.mean(dim=(1, 2), keepdim=True) + target
    else:
        for r in np.unique(recs):
            m = torch.from_numpy(recs == r)
            out[m] = out[m] - out[m].mean() + target
    return out.clamp(low, high)


def measure_fold(
    runner: ApneaRunner,
    setup: dict,
    f: int,
    members: int | None,
    offset: float = 0.0,
    offset_scale: float = 0.3,
    contrast: float = 0.0,
    contrast_scale: float = 2.0,
) -> dict:
    names, data, seed, cfg = setup["names"], setup["data"], setup["seed"], setup["cfg"]
    train, test, te = runner.recordwise_split(setup, f)
    h1, ds = runner.recordwise_teacher_and_set(setup, f, train, test)
    if offset > 0:  # after the experiment's probes (the experiment itself adds offsets before them)
        ds = add_offsets(ds, h1.module, offset, offset_scale, h1.spec.low, h1.spec.high, seed)
    ds = add_contrasts(ds, h1.module, contrast, contrast_scale, h1.spec.low, h1.spec.high, seed)
    over = {"epochs": int(cfg["epochs"])} | ({"members": members} if members else {})
    t0 = time.perf_counter()
    h2 = runner.student(ds.x, ds.targets("hard"), seed, teacher=h1, **over)
    train_s = time.perf_counter() - t0
    y, ytr = test.y.numpy(), train.y.numpy()
    recs = data["record"][te].numpy()
    lo, hi, target = h1.spec.low, h1.spec.high, float(train.x.mean())
    at_set = float(ds.x.mean())  # the level the student's set sits at (AM's, not the data's)
    views = {
        "as_is": test.x,
        "record_relevelled": relevel(test.x, recs, target, lo, hi, "record"),
        "window_relevelled": relevel(test.x, recs, target, lo, hi, "window"),
        "moved_to_set_level": relevel(test.x, recs, at_set, lo, hi, "window"),
    }
    p_teacher = {k: torch.softmax(predict_logits(h1.module, v), 1)[:, 1].numpy() for k, v in views.items()}
    p_student = {k: h2.predict_proba(v)[:, 1] for k, v in views.items()}
    lv, lv_set = level(test.x), level(ds.x)
    sp, sp_set = spread(test.x), spread(ds.x)
    y_set = ds.probs.argmax(1).numpy()  # the teacher's label of each example
    per_record = {}
    for r in np.unique(recs):
        m = recs == r
        per_record[names[r]] = {
            "minutes": int(m.sum()),
            "apnea_fraction": float(y[m].mean()),
            "level_s": float(lv[m].mean()),
            "teacher_auc": auc(y[m], p_teacher["as_is"][m]),
            "student_auc": auc(y[m], p_student["as_is"][m]),
            "spread_s": float(sp[m].mean()),
            "student_mean_p": float(p_student["as_is"][m].mean()),
            "teacher_mean_p": float(p_teacher["as_is"][m].mean()),
        }
    return {
        "fold": f,
        "offsets": ds.meta.get("offsets"),
        "contrasts": ds.meta.get("contrasts"),
        "domain": [h1.spec.low, h1.spec.high],
        "held_out": [names[r] for r in np.unique(recs)],
        "student_members": members or runner.exp.student.get("members", 1),
        "student_train_s": train_s,
        "level_auc": {
            "set": auc(y_set, lv_set),
            "train_real": auc(ytr, level(train.x)),
            "held_out": auc(y, lv),
            "held_out_within_record": within_record_auc(y, lv, recs)["mean"],
        },
        "level_s": {
            "train_real": float(train.x.mean()),
            "held_out": float(test.x.mean()),
            "set": at_set,
            "set_apnea": float(lv_set[y_set == 1].mean()),
            "set_normal": float(lv_set[y_set == 0].mean()),
            "train_real_apnea": float(level(train.x)[ytr == 1].mean()),
            "train_real_normal": float(level(train.x)[ytr == 0].mean()),
        },
        "teacher_auc": {k: auc(y, v) for k, v in p_teacher.items()},
        "student_auc": {k: auc(y, v) for k, v in p_student.items()},
        "student_within_record_auc": within_record_auc(y, p_student["as_is"], recs)["mean"],
        "teacher_within_record_auc": within_record_auc(y, p_teacher["as_is"], recs)["mean"],
        "spread_auc": {
            "set": auc(y_set, sp_set),
            "train_real": auc(ytr, spread(train.x)),
            "held_out": auc(y, sp),
            "held_out_within_record": within_record_auc(y, sp, recs)["mean"],
        },
        "spread_s": {"train_real": float(spread(train.x).mean()), "held_out": float(sp.mean()), "set": float(sp_set.mean())},
        "student_follows_spread_spearman": float(spearmanr(p_student["as_is"], sp).statistic),
        "teacher_follows_spread_spearman": float(spearmanr(p_teacher["as_is"], sp).statistic),
        "student_follows_level_spearman": float(spearmanr(p_student["as_is"], lv).statistic),
        "teacher_follows_level_spearman": float(spearmanr(p_teacher["as_is"], lv).statistic),
        "records": per_record,
    }


def report(folds: list[dict]) -> str:
    rows = [
        "fold  level AUC set/train/held-out/within  teacher AUC as is/rec/win/set  student AUC as is/rec/win/set  "
        "student~level  levels s: train, held-out, set"
    ]
    for r in folds:
        la, t, s = r["level_auc"], r["teacher_auc"], r["student_auc"]
        rows.append(
            f"{r['fold']:>4}  {la['set']:.3f}/{la['train_real']:.3f}/{la['held_out']:.3f}/{la['held_out_within_record']:.3f}"
            f"       {t['as_is']:.3f}/{t['record_relevelled']:.3f}/{t['window_relevelled']:.3f}/{t['moved_to_set_level']:.3f}"
            f"     {s['as_is']:.3f}/{s['record_relevelled']:.3f}/{s['window_relevelled']:.3f}/{s['moved_to_set_level']:.3f}"
            f"        {r['student_follows_level_spearman']:+.2f}"
            f"        {r['level_s']['train_real']:.3f}, {r['level_s']['held_out']:.3f}, {r['level_s']['set']:.3f}"
        )
    rows += [
        "",
        "fold  spread AUC set/train/held-out/within  spread s: train, held-out, set  student~spread  teacher~spread  "
        "student / teacher within-night AUC",
    ]
    for r in folds:
        sa, ss = r["spread_auc"], r["spread_s"]
        rows.append(
            f"{r['fold']:>4}  {sa['set']:.3f}/{sa['train_real']:.3f}/{sa['held_out']:.3f}/{sa['held_out_within_record']:.3f}"
            f"        {ss['train_real']:.3f}, {ss['held_out']:.3f}, {ss['set']:.3f}"
            f"          {r['student_follows_spread_spearman']:+.2f}           {r['teacher_follows_spread_spearman']:+.2f}"
            f"           {r['student_within_record_auc']:.3f} / {r['teacher_within_record_auc']:.3f}"
        )
    rows += ["", "per held-out record: apnea share, level s, spread s, mean p(apnea) student / teacher"]
    for r in folds:
        rows += [
            f"  fold {r['fold']} {n}: {v['apnea_fraction']:.2f}, {v['level_s']:.3f}, {v['spread_s']:.3f}, "
            f"{v['student_mean_p']:.2f} / {v['teacher_mean_p']:.2f}"
            for n, v in r["records"].items()
        ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--experiment", default="experiments/table5_ensemble.toml")
    ap.add_argument("--folds", default=None, help="comma-separated fold numbers (default: all)")
    ap.add_argument("--members", type=int, default=None, help="students per ensemble (default: the experiment's)")
    ap.add_argument("--offset", type=float, default=0.0, help="offsets per example added to each fold's set (synthesis/offset.py)")
    ap.add_argument("--offset-scale", type=float, default=0.3, help="the offsets' largest constant, as a share of the domain's width")
    ap.add_argument("--contrast", type=float, default=0.0, help="contrasts per example added to each fold's set (after any offsets)")
    ap.add_argument("--contrast-scale", type=float, default=2.0, help="the contrasts' largest factor S (drawn from [1/S, S])")
    ap.add_argument("--out", default="benchmarks/results/apnea_level.json")
    a = ap.parse_args(argv)
    path = Path(a.experiment)
    exp = load_any(path)
    runner = ApneaRunner(exp, a.data_dir, cache=cache_dir() / "experiments", log=print)
    setup = runner.recordwise_setup()
    folds = [int(f) for f in a.folds.split(",")] if a.folds else list(range(setup["folds"]))
    bad = [f for f in folds if not 0 <= f < setup["folds"]]
    if bad:
        print(f"fold(s) {bad} out of range: the experiment has {setup['folds']} folds (0..{setup['folds'] - 1})", file=sys.stderr)
        return 2
    record = {
        "experiment": str(path),
        "versions": versions(),
        "members": a.members,
        "offset": a.offset,
        "offset_scale": a.offset_scale,
        "contrast": a.contrast,
        "contrast_scale": a.contrast_scale,
        "command": "python -m benchmarks.apnea_level " + " ".join(sys.argv[1:] if argv is None else argv),
        "folds": [],
    }
    out = Path(a.out)
    for f in folds:
        r = measure_fold(runner, setup, f, a.members, a.offset, a.offset_scale, a.contrast, a.contrast_scale)
        record["folds"].append(r)
        write_json(out, record)
        print(json.dumps({k: r[k] for k in ("fold", "level_auc", "teacher_auc", "student_auc")}), flush=True)
    text = report(record["folds"])
    print(text)
    write_text(out.with_suffix(".txt"), f"$ {record['command']}\n{text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
