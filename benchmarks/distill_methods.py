"""The distillation methods side by side on one teacher, with one student recipe and one budget of
teacher passes: each method's rounds are the synthesis budget over its rows per batch, and every
student takes the same number of steps (its rounds times its steps per round).

    python -m benchmarks.distill_methods -t TEACHER.pt --dataset cifar10 --data-dir ../shared/datasets \\
        --budget 2000000 --student-steps 5000 --out benchmarks/results/distill_methods.json

prints, per method, the student's accuracy and agreement with the teacher on the real test set, the
teacher rows spent (synthesis and distillation), the pool's per-class diversity against the real
test images', and the wall time, in one run. Each method's state goes into the cache after every
round, so an interrupted run continues with the same command. Tests: tests/test_distill.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from vistransfer.config import to_dict
from vistransfer.data import load_dataset
from vistransfer.distill import DistillConfig, distill
from vistransfer.io import cache_dir, cache_key, device_name, resolve_device, versions, write_json
from vistransfer.models.foreign import load_teacher

# (method, settings): steps per batch, and for the paper's AM its synthesis table (the Table 3 settings,
# with the batch-norm prior and augmentation as "paper+"). Its rows per batch are not known before it runs:
# PAPER_ROWS is the estimate its rounds are planned with (the record keeps what it spent).
METHODS = {
    "paper": ("paper", {"synthesis": {"gen_upsample": "deconv", "threshold": 0.99, "slots": 64}}),
    "paper+": ("paper", {"synthesis": {"gen_upsample": "deconv", "threshold": 0.99, "slots": 64, "bn_prior": 10.0, "jitter": 2, "flip": True}}),
    "deepinversion": ("deepinversion", {"steps": 200, "lr": 0.1, "adv": 0.0}),
    "adi": ("deepinversion", {"steps": 200, "lr": 0.1, "adv": 1.0}),
    "generator": ("generator", {"steps": 5, "lr": 2e-3, "adv": 1.0}),
}
PAPER_ROWS = 60


def plan(name: str, budget: int, student_steps: int, batch: int, seed: int, student: str) -> DistillConfig:
    method, over = METHODS[name]
    rows = batch * (over.get("steps") or PAPER_ROWS)
    rounds = max(1, budget // rows)
    return DistillConfig(method=method, **over, batch=batch, rounds=rounds, kd_steps=max(1, student_steps // rounds), seed=seed, student=student)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-t", "--teacher", type=Path, required=True)
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--methods", default="deepinversion,adi,generator")
    ap.add_argument("--budget", type=int, default=2_000_000, help="teacher rows for synthesis, per method")
    ap.add_argument("--student-steps", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--student", default="cnn_cifar1")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/distill_methods.json"))
    a = ap.parse_args(argv)
    device = resolve_device(a.device)
    teacher = load_teacher(a.teacher)
    test = load_dataset(a.dataset, "test", a.data_dir)
    rows = {}
    for name in a.methods.split(","):
        for seed in (int(s) for s in a.seeds.split(",")):
            cfg = plan(name, a.budget, a.student_steps, a.batch, seed, a.student)
            state = cache_dir() / "distill" / cache_key({"teacher": teacher.fingerprint, "config": to_dict(cfg)})
            r = distill(teacher, cfg, device, test=test, state_dir=state, eval_every=max(1, cfg.rounds // 5)).record
            rows[f"{name}/seed{seed}"] = {
                k: r[k] for k in ("test", "teacher_accuracy", "synthesis_teacher_rows", "kd_teacher_rows", "seconds", "diversity", "curve", "config")
            }
            write_json(a.out, {"device": device_name(device), "versions": versions(), "args": {k: str(v) for k, v in vars(a).items()}, "rows": rows})
    print(f"teacher {100 * next(iter(rows.values()))['teacher_accuracy']:.2f}% on {a.dataset} test ({device_name(device)})")
    print(f"{'method':<22}{'student %':>10}{'agree %':>9}{'synth rows':>13}{'kd rows':>12}{'diversity':>10}{'seconds':>9}")
    for name, r in rows.items():
        div = r["diversity"].get("ratio", float("nan"))
        print(
            f"{name:<22}{100 * r['test']['accuracy']:>10.2f}{100 * r['test']['teacher_agreement']:>9.2f}"
            f"{r['synthesis_teacher_rows']:>13,}{r['kd_teacher_rows']:>12,}{div:>10.2f}{r['seconds']:>9.0f}"
        )
    return rows


if __name__ == "__main__":
    torch.set_num_threads(torch.get_num_threads())
    main()
