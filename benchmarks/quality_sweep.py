"""Which synthesis choices make better students: one knob at a time, on MNIST.

Each variant is a synthesis method (``reference``: the paper's one-generator-at-a-time
procedure; ``engine``: vistransfer's batched engine) with overrides of the paper's settings
(T = 0.99, movement on, hard labels, 9 visualizations per generator). For each variant and each
synthesis seed 0..SETS-1: synthesize N visualizations from the speed benchmark's cached teacher
and train CNN_ID students on them exactly as the speed benchmark does (Table 1's [student]).
Accuracy is reported as mean +- std over every (set, student seed) and per set. Results are
written (atomically) as each variant finishes, so an interrupted sweep keeps what it measured;
re-running a variant replaces its entry.

    python -m benchmarks.quality_sweep --data-dir ../shared/datasets --list
    python -m benchmarks.quality_sweep --data-dir ../shared/datasets --variants reference,engine,slots1
    python -m benchmarks.quality_sweep --data-dir ../shared/datasets --n 1800 --sets 3 --seeds 3   # quick, noisy
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.common import PAPER_GROUPS, get_teacher, set_mean_difference, student_accuracy, synthesize_with  # same teacher and students
from vistransfer.config import SynthesisConfig, to_dict
from vistransfer.data import load_dataset
from vistransfer.io import resolve_device, versions, write_json
from vistransfer.models.foreign import load_teacher
from vistransfer.models.teacher import Teacher

# name -> (method, overrides of SynthesisConfig, what it isolates)
VARIANTS = {
    "reference": ("reference", {}, "the paper's procedure: one G at a time, each group until all 9 pass"),
    "engine": ("engine", {}, "the engine, groups of 9 (PAPER_GROUPS): 32 slots, per-member stop, racing the stragglers"),
    "race_all": ("engine", {"race_tail": "all"}, "the 0.3 engine's racing: every class from the first step"),
    "resize": ("engine", {"gen_upsample": "resize"}, "resize-convolution G: no checkerboard artifacts"),
    "slots1": ("engine", {"slots": 1, "stop": "group"}, "engine with one slot: the reference's schedule, the engine's code (SlotAdam, draws)"),
    "no_movement": ("engine", {"movement": False}, "AM from G's initial image, no pre-AM movement"),
    "movement_0_50": ("engine", {"movement_steps": (0, 50)}, "shorter movement"),
    "attract_only": ("engine", {"movement_kinds": ("attract_one", "attract_many")}, "no repelling movement"),
    "lr_0.005": ("engine", {"lr": 0.005}, "half the AM learning rate"),
    "group1": ("engine", {"group_size": 1, "slots": 128}, "one visualization per generator (Table 1's mnist-g1)"),
    "group1_resize": ("engine", {"group_size": 1, "slots": 128, "gen_upsample": "resize"}, "mnist-g1 with the resize-convolution G"),
    "group3": ("engine", {"group_size": 3, "slots": 96}, "three visualizations per generator"),
}


def run_variant(name: str, teacher: Teacher, n: int, sets: int, seeds: list[int], test, dev) -> dict:
    method, overrides, _ = VARIANTS[name]
    cfg = SynthesisConfig(n=n, seed=0, **{**PAPER_GROUPS, **overrides})
    data, runs = [], []
    for k in range(sets):
        out, stats = synthesize_with(method, teacher, replace(cfg, seed=k), dev)
        data.append((out["x"], out["target"]))
        runs.append(
            {key: stats[key] for key in ("wall_s", "vis_per_s", "teacher_passes_per_vis", "groups_started", "groups_discarded", "over_quota")}
        )
    t0 = time.perf_counter()
    acc = student_accuracy(data, test, seeds, dev)
    return {
        "method": method,
        "overrides": overrides,
        "config": to_dict(cfg),
        "synthesis": runs,
        "student_seconds": time.perf_counter() - t0,
        "cnn_id_accuracy": acc,
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names (see --list)")
    ap.add_argument("--list", action="store_true", help="print the variants and exit")
    ap.add_argument("--n", type=int, default=6000, help="visualizations per set")
    ap.add_argument("--sets", type=int, default=8, help="sets per variant (synthesis seeds 0..SETS-1)")
    ap.add_argument("--seeds", type=int, default=1, help="CNN_ID student seeds per set")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "quality_sweep.json"))
    args = ap.parse_args(argv)
    if args.list:
        for name, (method, overrides, what) in VARIANTS.items():
            print(f"{name:14s} {method:9s} {overrides or ''}  {what}")
        return
    names = [v for v in args.variants.split(",") if v]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown or not names:
        raise SystemExit(f"--variants: unknown {unknown or 'none given'}; choose from {', '.join(VARIANTS)}")
    dev = resolve_device(args.device)
    teacher = load_teacher(get_teacher(args.data_dir, dev))
    test = load_dataset("mnist", "test", args.data_dir)
    out_path = Path(args.out)
    setup = {"n": args.n, "synthesis_seeds": list(range(args.sets)), "student_seeds": list(range(args.seeds))}
    results = json.loads(out_path.read_text()) if out_path.is_file() else {}
    if results.get("setup") != setup:  # a sweep with other sizes or seeds is not comparable: start afresh
        results = {"setup": setup, "variants": {}}
    results["versions"], results["device"] = versions(), str(dev)
    for name in names:
        print(f"[{name}] ...", file=sys.stderr, flush=True)
        results["variants"][name] = run_variant(name, teacher, args.n, args.sets, setup["student_seeds"], test, dev)
        write_json(out_path, results)
        print(line(name, results["variants"][name]), flush=True)
    ref = results["variants"].get("reference")
    if ref is not None:
        print("against the reference (set means; ± standard error):")
        for name, v in results["variants"].items():
            d = set_mean_difference(ref["cnn_id_accuracy"]["per_set_mean"], v["cnn_id_accuracy"]["per_set_mean"])
            se = "" if d["standard_error"] is None else f" ± {100 * d['standard_error']:.2f}"
            print(f"  {name:14s} {100 * d['engine_minus_reference']:+6.2f}{se}")


def line(name: str, v: dict) -> str:
    a = v["cnn_id_accuracy"]
    per_set = "/".join(f"{100 * m:.1f}" for m in a["per_set_mean"])
    speed = sum(r["vis_per_s"] for r in v["synthesis"]) / len(v["synthesis"])
    return f"{name:14s} {100 * a['mean']:6.2f} ± {100 * a['std']:5.2f}%  sets {per_set:17s} {speed:6.0f} vis/s"


if __name__ == "__main__":
    main()
