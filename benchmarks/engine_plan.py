"""How the engine plans its generators: small runs and runs that often miss T, side by side.

The engine starts as many generators for a class as it still needs. Two things decide how long a
run waits for its last visualizations when many generators miss T within the step budget:

* **racing in small runs**: free slots race the stragglers only once enough members have passed
  to say what "slow" is. Up to 0.4.1 that was 20 passes, so a run of 20 never raced and a class whose
  generators missed waited out ``max_steps`` before a new one started. Now: 20, or half the run.
* **the plan** (``SynthesisConfig.plan``): "count" (up to 0.4.1) counts every generator in flight as
  one visualization to come; "yield" (the default) counts it as its class's share of passes so far,
  so a class that often misses gets enough generators at once.

Variants, each run on the same teacher, cases and seeds in one process:

* ``0.4.1``: plan "count", racing after 20 passes (the engine before this change);
* ``count``: plan "count", racing after 20 passes or half the run (what experiments pinned to
  "count" get now);
* ``yield``: the default.

The teacher is the tests' 8x8 digits ConvNet (scikit-learn's digits, 20 epochs, seconds to train),
which misses T = 0.99 often: a teacher that is hard to visualize, like the foreign teachers of
``teacher_zoo``. Cases: the CLI tests' 20 at T = 0.99; 200 with a budget of 60 AM steps (more
than a third of the generators miss); 1,000 with the default budget (a run larger than the 128
generators in flight, where a quarter still miss).

    python -m benchmarks.engine_plan                 # ~4 min on 2 cores
    python -m benchmarks.engine_plan --seeds 2 --cases 20:0.99:300

Reports per case and variant the mean over seeds of engine steps, wall seconds, teacher passes per
accepted visualization, visualizations discarded (missed the budget) and over quota (lost a race),
and each variant's wall time over 0.4.1's. Results: ``results/engine_plan.{json,txt}``.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import torch

from vistransfer.config import SynthesisConfig, to_dict
from vistransfer.io import versions, write_json, write_text
from vistransfer.pipeline import make_synthetic
from vistransfer.synthesis.slots import Slots

from .common import DIGITS_TEACHER, digits_teacher

VARIANTS = {"0.4.1": ("count", False), "count": ("count", True), "yield": ("yield", True)}  # plan, small runs race


@contextlib.contextmanager
def small_runs_race(on: bool):
    """Racing after half of a small run (today) or only after Slots.MIN_PASSES passes (0.4.1)."""
    before = Slots.RACE_AFTER_SHARE
    Slots.RACE_AFTER_SHARE = before if on else float(Slots.MIN_PASSES)  # share x n >= MIN_PASSES for every n >= 1
    try:
        yield
    finally:
        Slots.RACE_AFTER_SHARE = before


def run_case(teacher, n: int, threshold: float, max_steps: int, seeds: int) -> dict:
    out = {}
    for name, (plan, race) in VARIANTS.items():
        runs = []
        for seed in range(seeds):
            cfg = SynthesisConfig(n=n, seed=seed, threshold=threshold, max_steps=max_steps, plan=plan, max_failed_groups=100_000)
            t0 = time.perf_counter()
            with small_runs_race(race):
                st = make_synthetic(teacher, cfg, progress=False).meta["stats"]
            runs.append(
                {
                    "seed": seed,
                    "wall_s": time.perf_counter() - t0,
                    "iterations": st["iterations"],
                    "teacher_passes_per_vis": st["teacher_passes_per_vis"],
                    "discarded": st["discarded"],
                    "over_quota": st["over_quota"],
                }
            )
            print(
                f"  n={n} T={threshold} budget {max_steps} {name:6s} seed {seed}: {runs[-1]['iterations']} steps, {runs[-1]['wall_s']:.1f} s",
                flush=True,
            )
        mean = lambda k: sum(r[k] for r in runs) / len(runs)  # noqa: E731
        out[name] = {"runs": runs, **{k: mean(k) for k in ("wall_s", "iterations", "teacher_passes_per_vis", "discarded", "over_quota")}}
    for name in VARIANTS:
        out[name]["wall_over_0.4.1"] = out[name]["wall_s"] / out["0.4.1"]["wall_s"]
    return out


def report(r: dict) -> str:
    lines = [
        f"device cpu ({r['threads']} threads); teacher: the tests' 8x8 digits ConvNet ({100 * r['teacher_accuracy']:.2f}%); "
        f"mean over {r['seeds']} synthesis seeds per cell",
        f"{'case':<26}{'variant':<8}{'steps':>8}{'wall s':>9}{'passes/vis':>12}{'discarded':>11}{'over quota':>12}{'wall / 0.4.1':>14}",
    ]
    for case, variants in r["cases"].items():
        for name, v in variants.items():
            lines.append(
                f"{case:<26}{name:<8}{v['iterations']:>8.0f}{v['wall_s']:>9.1f}{v['teacher_passes_per_vis']:>12.1f}"
                f"{v['discarded']:>11.1f}{v['over_quota']:>12.1f}{v['wall_over_0.4.1']:>14.2f}"
            )
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="20:0.99:300,200:0.99:60,1000:0.99:300", help="comma-separated n:T:max_steps, each run with every variant")
    ap.add_argument("--seeds", type=int, default=4, help="synthesis seeds per case and variant")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "engine_plan.json"))
    args = ap.parse_args(argv)
    try:
        cases = [(int(n), float(t), int(b)) for n, t, b in (c.split(":") for c in args.cases.split(","))]
    except ValueError:
        raise SystemExit(f"--cases {args.cases!r}: give n:T:max_steps, comma-separated (e.g. 20:0.99:300)") from None
    if args.seeds < 1:
        raise SystemExit(f"--seeds must be at least 1, got {args.seeds}")
    teacher = digits_teacher()
    results = {
        "threads": torch.get_num_threads(),
        "seeds": args.seeds,
        "teacher": to_dict(DIGITS_TEACHER),
        "teacher_accuracy": teacher.test_accuracy,
        "variants": {k: {"plan": p, "small_runs_race": r} for k, (p, r) in VARIANTS.items()},
        "synthesis_config": to_dict(SynthesisConfig()),
        "versions": versions(),
        "cases": {},
    }
    for n, t, b in cases:
        results["cases"][f"n={n} T={t:g} budget {b}"] = run_case(teacher, n, t, b, args.seeds)
        write_json(args.out, results)  # each case survives an interruption of the next
    text = report(results)
    write_text(Path(args.out).with_suffix(".txt"), text + "\n")
    print(text)


if __name__ == "__main__":
    main()
