"""Processes against threads for the privacy audit's shadow pipelines (``vistransfer experiment --jobs``).

A shadow pipeline's time goes mostly to fitting small 1-D students (``cnn_ecg`` on 5-minute RR windows of
1,200 samples: the probes' round students and the student itself). This fits ``--fits`` such students
twice, in one run on one machine: one after another in this process with all its torch threads, and in
``--jobs`` spawned processes with threads / jobs each, as ``--jobs`` runs the shadows. It prints both wall
times and the throughput ratio, and writes them to JSON.

    python -m benchmarks.shadow_jobs --jobs 2 --fits 4    # about a minute on 2 cores
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from vistransfer.io import versions, write_json
from vistransfer.students import create_student


def fit(seed: int, n: int, epochs: int, threads: int | None = None) -> float:
    """Seconds to fit one ``cnn_ecg`` student on ``n`` random windows (the work, not what it learns)."""
    if threads is not None:
        torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(seed)
    x, y = torch.rand(n, 1, 1200, generator=g), torch.randint(0, 2, (n,), generator=g)
    t0 = time.perf_counter()
    create_student("cnn_ecg", epochs=epochs, seed=seed, device="cpu").fit(x, y)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2, help="processes, as vistransfer experiment --jobs")
    ap.add_argument("--fits", type=int, default=4, help="students to fit each way")
    ap.add_argument("--n", type=int, default=2400, help="windows per student (a shadow's set: 1,200 visualizations and as many blends)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "shadow_jobs.json"))
    args = ap.parse_args()
    if args.jobs < 1 or args.fits < 1:
        raise SystemExit("--jobs and --fits must be at least 1")
    threads = torch.get_num_threads()
    fit(0, 64, 1)  # warm up this process's kernels
    t0 = time.perf_counter()
    for s in range(args.fits):
        fit(s, args.n, args.epochs)
    one = time.perf_counter() - t0
    per = max(1, threads // args.jobs)
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(fit, range(args.jobs), [64] * args.jobs, [1] * args.jobs, [per] * args.jobs))  # start and warm the workers
        t0 = time.perf_counter()
        list(pool.map(fit, range(args.fits), [args.n] * args.fits, [args.epochs] * args.fits, [per] * args.fits))
        many = time.perf_counter() - t0
    res = {
        "fits": args.fits,
        "n": args.n,
        "epochs": args.epochs,
        "threads": threads,
        "jobs": args.jobs,
        "threads_per_job": per,
        "one_process_s": one,
        "processes_s": many,
        "throughput_ratio": one / many,
        "versions": versions(),
    }
    write_json(args.out, res)
    print(
        f"{args.fits} cnn_ecg fits of {args.n} windows, {args.epochs} epochs:\n"
        f"  1 process x {threads} threads: {one:.1f} s\n"
        f"  {args.jobs} processes x {per} thread(s): {many:.1f} s\n"
        f"  throughput ratio (processes / one process): {one / many:.2f}x"
    )


if __name__ == "__main__":
    main()
