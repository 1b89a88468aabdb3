"""Where the engine's time goes: one synthesis run under ``torch.profiler``.

Synthesizes N visualizations from the speed benchmark's teacher with the paper's settings and
splits wall time into the engine's named ranges: the generator bank's forward, the teacher's
forward, the backward pass (teacher input-gradient and generator together), the per-slot Adam
step, and the rest (acceptance checks, recording, refilling slots, Python). Then the operators
with the most self time. Written (atomically) as text next to the speed benchmark's results.

    python -m benchmarks.profile_engine --data-dir ../shared/datasets            # ~1 minute on 2 cores
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from torch.profiler import ProfilerActivity, profile

from benchmarks.common import get_teacher  # the same teacher
from vistransfer.config import SynthesisConfig
from vistransfer.io import resolve_device, write_text
from vistransfer.models.foreign import load_teacher
from vistransfer.synthesis.engine import synthesize

RANGES = ("generator", "teacher", "backward", "adam")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "profile_engine.txt"))
    args = ap.parse_args(argv)
    dev = resolve_device(args.device)
    t = load_teacher(get_teacher(args.data_dir, dev))
    cfg = SynthesisConfig(n=args.n)
    synthesize(t.module, SynthesisConfig(n=200, seed=99), t.spec, t.n_classes, dev, progress=False)  # warm-up
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    t0 = time.perf_counter()
    with profile(activities=activities) as prof:
        _, stats = synthesize(t.module, cfg, t.spec, t.n_classes, dev, progress=False)
    wall = time.perf_counter() - t0
    averages = prof.key_averages()
    ev = {e.key: e for e in averages}
    lines = [
        f"engine, {args.n} visualizations, paper settings, device {dev}: {wall:.1f} s under the profiler "
        f"({stats['wall_s']:.1f} s inside synthesize, {stats['vis_per_s']:.0f} vis/s)",
        "",
        "range            seconds   share",
    ]
    total = stats["wall_s"]
    named = 0.0
    for r in RANGES:
        s = ev[r].cpu_time_total / 1e6 if r in ev else 0.0
        named += s
        lines.append(f"{r:14s}{s:10.2f}{s / total:8.0%}")
    lines.append(f"{'the rest':14s}{total - named:10.2f}{(total - named) / total:8.0%}   (checks, recording, refill, Python)")
    lines += ["", "operators by self CPU time:", averages.table(sort_by="self_cpu_time_total", row_limit=15, max_name_column_width=40)]
    text = "\n".join(lines)
    write_text(Path(args.out), text + "\n")
    print(text)


if __name__ == "__main__":
    main()
