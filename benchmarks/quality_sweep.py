"""Which synthesis choices make better students: one knob at a time, on MNIST.

For each variant: synthesize N visualizations from the cached benchmark teacher, train a CNN_ID
student (10 epochs) per seed on them, and record its real-test accuracy. Results are appended
to JSON as each variant finishes, so an interrupted sweep keeps what it measured.

    python benchmarks/quality_sweep.py --data-dir ../shared/datasets                  # all variants
    python benchmarks/quality_sweep.py --variants paper,group1 --n 5000 --seeds 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from vistransfer.config import SynthesisConfig, to_dict
from vistransfer.data import load_dataset
from vistransfer.io import resolve_device, versions, write_json
from vistransfer.models.teacher import Teacher
from vistransfer.synthesis.engine import synthesize

VARIANTS = {
    "paper": {},  # T=0.99, hard labels, movement on, 9 per generator
    "no_movement": {"movement": False},
    "movement_0_50": {"movement_steps": (0, 50)},
    "movement_0_10": {"movement_steps": (0, 10)},
    "attract_only": {"movement_kinds": ("attract_one", "attract_many")},
    "lr_0.005": {"lr": 0.005},
    "lr_range": {"lr_range": (0.005, 0.05)},
    "init_std_0.3": {"init_std": 0.3},
    "z_range_2": {"z_low": -2.0, "z_high": 2.0},
    "stop_group": {"stop": "group"},
    "group1": {"group_size": 1, "slots": 128},
    "group3": {"group_size": 3, "slots": 96},
}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "quality_sweep.json"))
    args = ap.parse_args(argv)
    from synthesis_speed import get_teacher, student_accuracy  # same teacher and student as the speed benchmark

    dev = resolve_device(args.device)
    teacher = Teacher.load(get_teacher(args.data_dir, dev))
    test = load_dataset("mnist", "test", args.data_dir)
    out_path = Path(args.out)
    results = json.loads(out_path.read_text()) if out_path.is_file() else {"versions": versions(), "variants": {}}
    for name in args.variants.split(","):
        cfg = SynthesisConfig(n=args.n, seed=1, **VARIANTS[name])
        t0 = time.perf_counter()
        out, stats = synthesize(teacher.net, cfg, teacher.in_shape, teacher.n_classes, dev, progress=False)
        synth_s = time.perf_counter() - t0
        acc = student_accuracy(out["x"], out["target"], test, list(range(args.seeds)), dev)
        results["variants"][name] = {"config": to_dict(cfg), "synth_seconds": synth_s, "vis_per_s": stats["vis_per_s"],
                                     "teacher_passes_per_vis": stats["teacher_passes_per_vis"],
                                     "cnn_id_accuracy": acc}
        write_json(out_path, results)
        print(f"{name:16s} {100 * acc['mean']:6.2f}%  ({stats['vis_per_s']:.0f} vis/s)", flush=True)


if __name__ == "__main__":
    main()
