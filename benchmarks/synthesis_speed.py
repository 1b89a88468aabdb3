"""Synthesis speed: the paper's one-generator-at-a-time procedure vs vistransfer's engine.

One run, one machine, the same MNIST teacher and the paper's settings (T = 0.99, movement
on, hard labels). Prints a table and writes JSON (atomically) with, for each method:
visualizations/s, teacher passes per accepted visualization, the fraction of teacher work
spent on discarded visualizations, the teacher's GFLOP/s against this machine's dense matmul
GFLOP/s (measured here), peak memory, and the real-test accuracy of CNN_ID students trained
as in the experiments, so that a faster engine making worse data is caught. Each method makes
several sets (synthesis seeds) and every set trains several students: a small set's accuracy
varies from set to set, and one set per method would mistake that for a difference in quality.
Each synthesis runs in its own process, so peak memory is its own.

    python -m benchmarks.synthesis_speed --data-dir ../shared/datasets                    # ~80 min on 2 cores (3 methods x 8 sets)
    python -m benchmarks.synthesis_speed --n 900 --sizes 900,1800 --sets 1 --seeds 2      # quick look

Why 8 sets of 6,000 with one student each: students trained on hard-labelled visualizations vary
far more from set to set than from student seed to student seed (at 1,800 per set, set means of
one method spread over 15 points), so independent sets, not more students per set, are what
make the comparison meaningful; 6,000 per set halves the spread again.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.common import PAPER_GROUPS, PREVIOUS_ENGINE, STUDENT, get_teacher, set_mean_difference, student_accuracy, synthesize_with
from vistransfer.config import SynthesisConfig, to_dict
from vistransfer.data import load_dataset
from vistransfer.errors import VistransferError
from vistransfer.io import device_name, resolve_device, versions, write_json, write_text
from vistransfer.models.foreign import load_teacher
from vistransfer.models.nets import conv_flops
from vistransfer.synthesis.engine import summarize


def matmul_gflops(device: torch.device, size: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    for _ in range(3):
        a @ b
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * size**3 * reps / (time.perf_counter() - t0) / 1e9


def teacher_gflops(net, rows: int, device: torch.device, reps: int = 20) -> float:
    """Teacher forward + input-gradient (what synthesis runs) at ``rows`` images per call."""
    x = torch.rand(rows, *net.in_shape, device=device, requires_grad=True)
    net = net.to(device).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    for _ in range(3):
        net(x).sum().backward()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        net(x).sum().backward()
    _sync(device)
    return 2 * conv_flops(net) * rows * reps / (time.perf_counter() - t0) / 1e9


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _peak_mb(device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _worker(method: str, teacher_path: str, cfg_dict: dict, device: str, queue) -> None:
    dev = torch.device(device)
    cfg = SynthesisConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg_dict.items()})
    out, stats = synthesize_with(method, load_teacher(teacher_path), cfg, dev)
    stats["peak_memory_mb"] = _peak_mb(dev)
    torch.save(out, Path(teacher_path).with_name(f"bench-{method}-{cfg.n}.pt"))
    queue.put(stats)


def run_method(method: str, teacher_path: Path, cfg: SynthesisConfig, device: torch.device) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_worker, args=(method, str(teacher_path), to_dict(cfg), str(device), q))
    p.start()
    stats = q.get()
    p.join()
    return stats


METHODS = ("reference", "engine_previous", "engine")
COUNTERS = ("wall_s", "iterations", "teacher_rows", "loss2_rows", "groups_started", "groups_discarded", "discarded", "rows_discarded", "over_quota")


def pool_runs(runs: list[dict], n: int) -> dict:
    """One method's counters summed over its sets (one per synthesis seed), rates recomputed from the sums."""
    total = {k: sum(r[k] for r in runs) for k in COUNTERS}
    total["peak_memory_mb"] = max(r["peak_memory_mb"] for r in runs)
    total.update(summarize(total, n * len(runs)))
    total["vis_per_s_per_set"] = [r["vis_per_s"] for r in runs]
    return total


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=6000, help="visualizations per set (same for both)")
    ap.add_argument("--sizes", default="90,900,6000", help="sizes for the engines' cost-vs-size curve (small runs included)")
    ap.add_argument("--sets", type=int, default=8, help="sets per method (synthesis seeds 0..SETS-1)")
    ap.add_argument("--seeds", type=int, default=1, help="CNN_ID student seeds per set")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "synthesis_speed.json"))
    ap.add_argument(
        "--engine",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="engine-only synthesis option, e.g. stop=group (repeatable); the reference keeps the paper's",
    )
    ap.add_argument("--methods", default=",".join(METHODS), help=f"which of {', '.join(METHODS)} to run (reference and engine are always compared)")
    ap.add_argument("--render", metavar="JSON", help="only print (and write as .txt) the table of a saved run")
    args = ap.parse_args(argv)
    if args.render:
        if not Path(args.render).is_file():
            raise SystemExit(f"--render {args.render}: no such file; give a JSON this benchmark wrote")
        results = json.loads(Path(args.render).read_text())
        if not {"reference", "engine"} <= set(results.get("methods", {})):
            raise SystemExit(f"--render {args.render}: this run did not finish both methods; nothing to compare")
        compare(results)  # runs saved before the verdicts were written get them here
        return _write_report(results, Path(args.render))
    engine_options = parse_options(args.engine)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not {"reference", "engine"} <= set(methods) or set(methods) - set(METHODS):
        raise SystemExit(f"--methods {args.methods!r}: give reference, engine and optionally engine_previous")
    dev = resolve_device(args.device)
    teacher_path = get_teacher(args.data_dir, dev)
    teacher = load_teacher(teacher_path)
    test = load_dataset("mnist", "test", args.data_dir)
    cfg = SynthesisConfig(n=args.n, **PAPER_GROUPS)  # the paper's settings: T=0.99, movement on, hard labels, groups of 9
    peak = matmul_gflops(dev)
    flops = conv_flops(teacher.net)
    results = {
        "device": str(dev),
        "device_name": device_name(dev),
        "cpu_bf16_units": cpu_bf16_units(),
        "threads": torch.get_num_threads(),
        "matmul_gflops": peak,
        "engine_options": engine_options,
        "previous_engine": PREVIOUS_ENGINE,
        "teacher_mflop_per_image": flops / 1e6,
        "teacher_test_accuracy": teacher.test_accuracy,
        "config": to_dict(cfg),
        "versions": versions(),
        "methods": {},
        "scaling": [],
    }
    seeds = list(range(args.seeds))
    results["synthesis_seeds"], results["student_seeds"], results["student_config"] = list(range(args.sets)), seeds, STUDENT
    for method in [m for m in METHODS if m in methods]:
        runs, sets = [], []
        for k in range(args.sets):
            print(f"[{method}] synthesizing {args.n} (seed {k}) ...", file=sys.stderr, flush=True)
            mcfg = replace(cfg, seed=k, **(engine_options if method.startswith("engine") else {}))
            runs.append(run_method(method, teacher_path, mcfg, dev))
            out = torch.load(teacher_path.with_name(f"bench-{method}-{args.n}.pt"), weights_only=True)
            sets.append((out["x"], out["target"]))
        st = pool_runs(runs, args.n)
        rows_per_iter = st["teacher_rows"] / max(st["iterations"], 1)
        iso = teacher_gflops(teacher.net, max(1, round(rows_per_iter)), dev)
        achieved = 2 * flops * st["teacher_rows"] / st["wall_s"] / 1e9
        st.update(
            teacher_gflops_isolated=iso,
            teacher_fraction_of_matmul=iso / peak,
            teacher_gflops_overall=achieved,
            teacher_share_of_time=achieved / iso,
            rows_per_iteration=rows_per_iter,
        )
        print(f"[{method}] students ...", file=sys.stderr, flush=True)
        st["student_accuracy"] = student_accuracy(sets, test, seeds, dev)
        results["methods"][method] = st
        write_json(args.out, results)  # partial results survive an interruption
    compare(results)
    write_json(args.out, results)
    for method, key in (("engine", "scaling"), ("engine_previous", "scaling_previous_engine")):
        if method not in methods:
            continue
        results[key] = []
        for n in [int(s) for s in args.sizes.split(",") if s]:
            st = run_method(method, teacher_path, SynthesisConfig(n=n, seed=100, **{**PAPER_GROUPS, **engine_options}), dev)
            results[key].append(
                {"n": n, "wall_s": st["wall_s"], "vis_per_s": st["vis_per_s"], "teacher_passes_per_vis": st["teacher_passes_per_vis"]}
            )
            write_json(args.out, results)
    _write_report(results, Path(args.out))


def physical_limits(st: dict, flops: float, peak: float) -> None:
    """The headline: visualizations/s if every teacher pass ran at the measured fp32 matmul peak and
    nothing else cost time (peak / (2 x forward FLOPs x passes per accepted visualization)), and the
    share of it reached. Equivalently the teacher's GFLOP/s over the whole run over the peak."""
    st["physical_limit_vis_per_s"] = peak * 1e9 / (2 * flops * st["teacher_passes_per_vis"])
    st["fraction_of_physical_limit"] = st["vis_per_s"] / st["physical_limit_vis_per_s"]


def cpu_bf16_units() -> bool:
    """Whether this CPU has bf16 matrix instructions (AVX-512 BF16 or AMX); without them bf16 is emulated."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def compare(results: dict) -> None:
    """Add the verdicts to ``results``: the engine against the reference (``speedup``, ``accuracy_*``),
    and, when it ran, against the previous engine (``*_over_previous_engine``, ``*_vs_previous_engine``)."""
    ms = results["methods"]
    eng = ms["engine"]
    for m in ms.values():  # the headline figures, for this run and for runs saved before they existed
        if "fraction_of_physical_limit" not in m:
            physical_limits(m, results["teacher_mflop_per_image"] * 1e6, results["matmul_gflops"])
    for base, suffix in (("reference", ""), ("engine_previous", "_vs_previous_engine")):
        if base not in ms:
            continue
        b = ms[base]
        ba, ea = b["student_accuracy"], eng["student_accuracy"]
        speed_key = "speedup" if base == "reference" else "speedup_over_previous_engine"
        results[speed_key] = eng["vis_per_s"] / b["vis_per_s"]
        results["accuracy_within_one_std" + suffix] = abs(ea["mean"] - ba["mean"]) <= max(ba["std"], ea["std"])
        results["accuracy_difference" + suffix] = set_mean_difference(
            ba["per_set_mean"], ea["per_set_mean"], "engine_minus_reference" if base == "reference" else "engine_minus_previous_engine"
        )


def parse_options(items: list[str]) -> dict:
    """``["stop=group", "slots=64"]`` -> SynthesisConfig overrides, typed like the defaults; bad ones exit in one line."""
    defaults = {k: v for k, v in to_dict(SynthesisConfig(n=1)).items() if k not in ("n", "seed") and isinstance(v, (bool, int, float, str))}
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in defaults:
            raise SystemExit(f"--engine {item!r}: expected KEY=VALUE, KEY one of {', '.join(defaults)}")
        kind = type(defaults[key])
        try:
            out[key] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
            SynthesisConfig(n=1, **out)  # the config's own checks and messages
        except (ValueError, VistransferError) as e:
            raise SystemExit(f"--engine {item!r}: {e}") from None
    return out


def _write_report(results: dict, out: Path) -> None:
    text = report(results)
    write_text(out.with_suffix(".txt"), text + "\n")
    print(text)


def report(r: dict) -> str:
    ms = r["methods"]
    names = [m for m in METHODS if m in ms]
    eng = ms["engine"]
    bf16 = (
        ""
        if r["device"] != "cpu"
        else "; bf16 not used: this CPU has no bf16 matrix units"
        if not r.get("cpu_bf16_units")
        else "; bf16 not used by the engine"
    )
    where = r.get("device_name") or f"{r['device']} ({r['threads']} threads)"  # a CPU's name carries its threads
    lines = [
        f"HEADLINE: the engine makes {eng['vis_per_s']:.1f} visualizations/s, {eng['fraction_of_physical_limit']:.0%} of the "
        f"physical limit ({eng['physical_limit_vis_per_s']:.0f}/s: fp32 matmul peak over "
        f"{2 * r['teacher_mflop_per_image']:.0f} MFLOP x {eng['teacher_passes_per_vis']:.1f} teacher passes per "
        f"visualization{bf16}); {r['speedup']:.1f}x the reference"
        + (f", {r['speedup_over_previous_engine']:.2f}x the previous engine" if "speedup_over_previous_engine" in r else ""),
        f"device {where}; dense fp32 matmul {r['matmul_gflops']:.1f} GFLOP/s; "
        f"teacher {r['teacher_mflop_per_image']:.1f} MFLOP/image, test accuracy {100 * r['teacher_test_accuracy']:.2f}%",
        f"{'':34}" + "".join(f"{n:>17}" for n in names),
    ]
    rows = [
        ("visualizations / s", "vis_per_s", "{:.1f}"),
        ("fraction of the physical limit", "fraction_of_physical_limit", "{:.1%}"),
        ("teacher passes / accepted vis", "teacher_passes_per_vis", "{:.1f}"),
        ("discarded share of teacher work", "discarded_work_fraction", "{:.1%}"),
        ("teacher rows per step", "rows_per_iteration", "{:.0f}"),
        ("teacher GFLOP/s (isolated)", "teacher_gflops_isolated", "{:.1f}"),
        ("  as share of matmul GFLOP/s", "teacher_fraction_of_matmul", "{:.0%}"),
        ("teacher GFLOP/s (over the run)", "teacher_gflops_overall", "{:.1f}"),
        ("teacher share of run time", "teacher_share_of_time", "{:.0%}"),
        ("peak memory (MB)", "peak_memory_mb", "{:.0f}"),
    ]
    for label, key, f in rows:
        lines.append(f"{label:34}" + "".join(f"{f.format(ms[n][key]):>17}" for n in names))
    fa = lambda m: f"{100 * m['student_accuracy']['mean']:.2f}±{100 * m['student_accuracy']['std']:.2f}"  # noqa: E731
    fs = lambda m: "/".join(f"{100 * v:.1f}" for v in m["student_accuracy"]["per_set_mean"])  # noqa: E731
    lines.append(f"{'CNN_ID student accuracy (%)':34}" + "".join(f"{fa(ms[n]):>17}" for n in names))
    for n in names:
        lines.append(f"  {n + ' set means (%)':32}{fs(ms[n])}")
    lines.append(
        f"speed-up engine / reference: {r['speedup']:.1f}x; student accuracy within one std: "
        f"{'yes' if r['accuracy_within_one_std'] else 'no'} ({len(r['synthesis_seeds'])} sets x "
        f"{len(r['student_seeds'])} student seeds per method)"
    )
    for base, suffix in (("reference", ""), ("previous engine", "_vs_previous_engine")):
        d = r.get("accuracy_difference" + suffix)
        if d is not None:
            se = "" if d["standard_error"] is None else f" ± {100 * d['standard_error']:.2f} (standard error over set means)"
            diff = d.get("engine_minus_reference", d.get("engine_minus_previous_engine"))
            lines.append(f"accuracy engine - {base}: {100 * diff:+.2f} points{se}")
    for key, name in (("scaling", "engine"), ("scaling_previous_engine", "previous engine")):
        if r.get(key):
            lines.append(
                f"{name} cost vs size: "
                + ", ".join(f"n={s['n']}: {s['wall_s']:.0f}s ({s['vis_per_s']:.0f}/s, {s['teacher_passes_per_vis']:.0f} passes/vis)" for s in r[key])
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
