"""Ray shards beside other work: the workers' priority, side by side.

Ray lowers the priority of the workers of a cluster it starts to nice 15, so that its own
processes stay responsive. A local cluster that ``synthesize_sharded`` starts now runs its workers
at the driver's priority (``RAY_worker_niceness`` = 0) unless the user set the variable. This runs
one sharded job three ways, each beside the same busy process (``--load-threads`` torch threads
multiplying matrices, at the driver's priority, for as long as the job runs):

* ``local``: the shards one after another in this process (the local backend);
* ``ray, nice 0``: a local Ray cluster started by the backend, today's default;
* ``ray, nice 15``: the same with ``RAY_worker_niceness=15``, Ray's own default.

The teacher is the tests' 8x8 digits ConvNet (scikit-learn's digits, 20 epochs, seconds to train);
the job is the Ray test's (20 visualizations in two shards of 10, groups of 9, one thread a shard).
Every variant makes the same visualizations; the benchmark checks it.

    python -m benchmarks.ray_priority                    # ~6 min on 2 cores, nearly all of it nice 15's
    python -m benchmarks.ray_priority --load-threads 0   # no other work: the three should be close

The cluster binds to loopback (127.0.0.1) only. Results: ``results/ray_priority.{json,txt}``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from vistransfer.config import SynthesisConfig, to_dict
from vistransfer.io import versions, write_json, write_text
from vistransfer.pipeline import synthesize_sharded

from .common import DIGITS_TEACHER, digits_teacher

LOAD = """
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
a = torch.randn(512, 512)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    a = torch.tanh(a @ a)
"""
VARIANTS = {"local": None, "ray, nice 0": None, "ray, nice 15": "15"}  # RAY_worker_niceness (None: unset)
KEY = "RAY_worker_niceness"


def run(name: str, teacher, cfg: SynthesisConfig, shard_size: int, load_threads: int, limit_s: float) -> tuple[float, torch.Tensor]:
    import ray

    load = subprocess.Popen([sys.executable, "-c", LOAD, str(load_threads), str(limit_s)]) if load_threads else None
    start = ray.init
    before = os.environ.pop(KEY, None)  # "ray, nice 0" is the backend's own default, whatever this shell says
    if VARIANTS[name] is not None:
        os.environ[KEY] = VARIANTS[name]
    ray.init = lambda **options: start(_node_ip_address="127.0.0.1", **options)  # loopback only
    try:
        with tempfile.TemporaryDirectory() as job:
            time.sleep(1 if load else 0)  # the load is running before the job starts
            t0 = time.perf_counter()
            ds = synthesize_sharded(teacher, cfg, job, shard_size, backend="local" if name == "local" else "ray", progress=False, threads=1)
            return time.perf_counter() - t0, ds.x
    finally:
        ray.init = start
        os.environ.pop(KEY, None)
        if before is not None:
            os.environ[KEY] = before
        if load:
            load.kill()
            load.wait()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--load-threads", type=int, default=2, help="threads of the busy process beside the job (0: none)")
    ap.add_argument("--limit", type=float, default=900.0, help="seconds after which the busy process stops by itself")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "ray_priority.json"))
    args = ap.parse_args(argv)
    if args.load_threads < 0:
        raise SystemExit(f"--load-threads must be 0 or more, got {args.load_threads}")
    if importlib.util.find_spec("ray") is None:
        raise SystemExit("this benchmark needs Ray: pip install 'vistransfer[ray]'")
    torch.set_num_threads(1)
    teacher = digits_teacher()
    cfg, shard_size = SynthesisConfig(n=20, seed=7, group_size=9, slots=2), 10  # the Ray test's job
    results = {
        "load_threads": args.load_threads,
        "cpus": os.cpu_count(),
        "synthesis_config": to_dict(cfg),
        "shard_size": shard_size,
        "teacher": to_dict(DIGITS_TEACHER),
        "versions": versions(),
        "variants": {},
    }
    reference = None
    for name in VARIANTS:
        wall, x = run(name, teacher, cfg, shard_size, args.load_threads, args.limit)
        reference = x if reference is None else reference
        results["variants"][name] = {"wall_s": wall, "same_visualizations_as_local": bool(torch.equal(x, reference))}
        print(f"{name:<14}{wall:8.1f} s", flush=True)
        write_json(args.out, results)  # each variant survives an interruption of the next
    local = results["variants"]["local"]["wall_s"]
    for v in results["variants"].values():
        v["wall_over_local"] = v["wall_s"] / local
    write_json(args.out, results)
    lines = [
        f"{args.load_threads}-thread busy process beside the job; {os.cpu_count()} CPUs; 20 visualizations in 2 shards of 10",
        f"{'variant':<14}{'wall s':>8}{'/ local':>9}  same visualizations",
    ]
    lines += [f"{k:<14}{v['wall_s']:>8.1f}{v['wall_over_local']:>9.2f}  {v['same_visualizations_as_local']}" for k, v in results["variants"].items()]
    text = "\n".join(lines)
    write_text(Path(args.out).with_suffix(".txt"), text + "\n")
    print(text)


if __name__ == "__main__":
    main()
