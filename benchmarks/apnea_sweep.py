"""Which synthesis choices make Apnea-ECG visualizations teach: one knob at a time, on Table 5's setup.

Every variant overrides ``experiments/table5.toml``'s [synthesis] (which draws at 1 Hz, ``downscale4``); everything else (teams, the random
minute split, h1, h2 and their training) is the experiment's own, through its runner and its cache
(teachers are trained once and shared by all variants). For each variant and each (team, seed) unit:
synthesize the experiment's number of visualizations from h1, train h2 on them alone with hard
labels (the paper's h2 S.) and with soft labels at tau 4, and score both on the team's real test
minutes. Also reported, as a diagnostic of what the visualizations carry: the share of them that a
second teacher (same data, another seed) labels as h1 does. Visualizations that only h1 believes
are h1's quirks, not the task's features, and cannot teach another network.

Also per student: its accuracy at the threshold the team's real validation minutes choose for it
(``*_val_threshold``): one number the data's owner could compute and ship with the student, which never
trains on those minutes. Beside the accuracy at 0.5 it tells the operating point from the ranking.

Results are written (atomically) after each unit; re-running a variant at the same vistransfer version
keeps the units it already measured (same overrides) and runs the rest, so a stopped run loses one unit at most
(``--remeasure`` measures the chosen units again, e.g. for a metric added since).

    python -m benchmarks.apnea_sweep --data-dir ../shared/datasets --list
    python -m benchmarks.apnea_sweep --data-dir ../shared/datasets --variants full_rate,downscale8,downscale4
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import tomllib
import torch

from vistransfer.config import to_dict
from vistransfer.evaluation import mean_std
from vistransfer.experiments.apnea import ApneaRunner
from vistransfer.experiments.apnea_metrics import binary_metrics
from vistransfer.experiments.apnea_spec import load_apnea_experiment
from vistransfer.io import cache_dir, cache_key, versions, write_json
from vistransfer.models.train import predict_logits
from vistransfer.pipeline import make_synthetic
from vistransfer.privacy import nearest_distances
from vistransfer.synthesis.blend import add_blends
from vistransfer.synthesis.dataset import SyntheticDataset
from vistransfer.synthesis.offset import add_offsets
from vistransfer.synthesis.records import Kind

VARIANTS = {
    "full_rate": ({"gen_downscale": 1}, "the paper's G: draws at the input's full rate (4 Hz)"),
    "resize": ({"gen_upsample": "resize"}, "resize-convolution G: no checkerboard"),
    "downscale4": ({"gen_downscale": 4}, "G draws at 1 Hz and is interpolated linearly to 4 Hz"),
    "downscale8": ({"gen_downscale": 8}, "G draws at 0.5 Hz and is interpolated linearly to 4 Hz"),
    "downscale16": ({"gen_downscale": 16}, "G draws at 0.25 Hz and is interpolated linearly to 4 Hz"),
    "neutral_start": ({"gen_start": "neutral"}, "G starts at the flat series h1 is least sure of (synthesis/start.py), not mid-range"),
    "auto_start": (
        {"gen_start": "auto"},
        "the library's default start: neutral only where h1 is sure of mid-range (>= 0.9) and gives no class a majority on the neutral series",
    ),
    "t_range": ({"threshold_range": (0.6, 0.99)}, "T drawn per generator from [0.6, 0.99]: some near the boundary"),
    "jitter": ({"jitter": 32}, "each series shifted by up to 8 s (32 samples) at every AM step: features that hold wherever they sit"),
    "jitter_blend": ({"jitter": 32, "blend": 1.0}, "jitter and blend"),
    "blend": ({"blend": 1.0}, "one blend per visualization between classes, labelled by the teacher (synthesis/blend.py)"),
    "blend3": ({"blend": 3.0}, "three blends per visualization"),
    "t_range_blend": ({"threshold_range": (0.6, 0.99), "blend": 1.0}, "t_range and blend"),
    "n4_blend": ({"n": 4800, "blend": 1.0}, "four times as many visualizations (4,800), and as many blends"),
    "blend_probe": (
        {"blend": 1.0, "probe": {"ratio": 0.5, "rounds": 3, "step_size": 0.05}},
        "blend, then one probe per visualization in 3 rounds where a student (soft, tau 4) disagrees with h1 (synthesis/probe.py)",
    ),
    "blend_probe_fine": (
        {"blend": 1.0, "probe": {"ratio": 0.5, "rounds": 3, "step_size": 0.01}},
        "blend_probe with Adam steps of 1% of the domain (not 5%; the default since): a search that stays near where it starts",
    ),
    "blend_probe_fine_more": (
        {"blend": 1.0, "probe": {"ratio": 1.0, "rounds": 6, "step_size": 0.01}},
        "blend_probe_fine with twice the probes in twice the rounds",
    ),
    "blend_neighbours": (
        {"blend": 1.0, "neighbours": {"ratio": 1.0, "scale": 0.05}},
        "blend, then one neighbour per example: a point of the set moved by white Gaussian noise of 5% of the "
        "domain's width, labelled by h1 (no student in the loop)",
    ),
    "blend_neighbours_smooth": (
        {"blend": 1.0, "neighbours": {"ratio": 1.0, "scale": 0.05, "smooth": 4}},
        "blend_neighbours with noise drawn at 1 Hz and interpolated (as slow as G draws)",
    ),
    "blend_probe_fine_s1": (
        {"blend": 1.0, "probe": {"ratio": 0.5, "rounds": 3, "step_size": 0.01}, "student_seed": 1000},
        "blend_probe_fine's set (the same probes), final students of another seed: the students' own spread",
    ),
    "blend_probe_fine_s2": (
        {"blend": 1.0, "probe": {"ratio": 0.5, "rounds": 3, "step_size": 0.01}, "student_seed": 2000},
        "blend_probe_fine's set, final students of a third seed",
    ),
    "blend_probe_fine_wd": (
        {"blend": 1.0, "probe": {"ratio": 0.5, "rounds": 3, "step_size": 0.01}, "student": {"weight_decay": 0.001}},
        "blend_probe_fine's set, final students with weight decay 0.001 (Adam's L2)",
    ),
    "blend_probe_fine_wd_s1": (
        {"blend": 1.0, "probe": {"ratio": 0.5, "rounds": 3, "step_size": 0.01}, "student": {"weight_decay": 0.001}, "student_seed": 1000},
        "blend_probe_fine_wd, final students of blend_probe_fine_s1's seed",
    ),
    "blend_probe_fine_wd_s2": (
        {"blend": 1.0, "probe": {"ratio": 0.5, "rounds": 3, "step_size": 0.01}, "student": {"weight_decay": 0.001}, "student_seed": 2000},
        "blend_probe_fine_wd, final students of blend_probe_fine_s2's seed",
    ),
    "blend_probe_fine_ens3": (
        {"blend": 1.0, "probe": {"ratio": 0.5, "rounds": 3, "step_size": 0.01}, "student": {"members": 3}},
        "blend_probe_fine's set, three final students per label kind (blend_probe_fine, _s1 and _s2's seeds), their probabilities averaged",
    ),
    "blend_shift": (
        {"blend": 1.0, "neighbours": {"ratio": 1.0, "scale": 0.0, "shift": 32}},
        "blend, then one neighbour per example: a point of the set shifted in time by up to 8 s, labelled by h1",
    ),
    "blend_probe_fine_neighbours": (
        {"blend": 1.0, "probe": {"ratio": 0.5, "rounds": 3, "step_size": 0.01}, "neighbours": {"ratio": 1.0, "scale": 0.05, "smooth": 4}},
        "blend_probe_fine, then blend_neighbours_smooth's neighbours of the whole set",
    ),
    "blend_offset": (
        {"blend": 1.0, "offset": 1.0},
        "blend, then one offset per example: a point of the set plus one constant from +-30% of the domain's width, "
        "labelled by h1 (synthesis/offset.py): levels (heart periods) AM did not make",
    ),
    "blend_offset_probe_fine": (
        {"blend": 1.0, "offset": 1.0, "probe": {"ratio": 0.5, "rounds": 3, "step_size": 0.01}},
        "blend_offset, then blend_probe_fine's probes (found against students of the set with offsets)",
    ),
    "group9": ({"group_size": 9, "slots": 16, "max_steps": 300}, "the paper's grouping with movement: 9 per G"),
    "downscale8_group9": ({"gen_downscale": 8, "group_size": 9, "slots": 16, "max_steps": 300}, "downscale8 and group9"),
    "downscale8_t_range": ({"gen_downscale": 8, "threshold_range": (0.6, 0.99)}, "downscale8 and t_range"),
}


def add_neighbours(ds: SyntheticDataset, h1, ratio: float, scale: float, seed: int, smooth: int = 1, shift: int = 0) -> SyntheticDataset:
    """``ds`` followed by round(ratio * len(ds)) of its points, each shifted in time by up to ``shift``
    samples either way (the window's ends repeated) and moved by Gaussian noise of std ``scale`` times
    the teacher's domain width (drawn at 1/``smooth`` of the rate and interpolated linearly: noise as
    slow as G draws), clamped to the domain and labelled by h1's softmax: density around the set, from
    queries of the teacher only (a prototype, measured here before it becomes a synthesis setting)."""
    g = torch.Generator().manual_seed(int(seed) + 15485863)
    k = round(ratio * len(ds))
    pick = ds.x[torch.randint(len(ds), (k,), generator=g)]
    if shift:
        steps = torch.randint(-shift, shift + 1, (k, 1, 1), generator=g)
        where = (torch.arange(pick.shape[-1]).view(1, 1, -1) - steps).clamp(0, pick.shape[-1] - 1)
        pick = pick.gather(-1, where.expand_as(pick))
    width = h1.spec.high - h1.spec.low
    noise = torch.randn((k, pick.shape[1], -(-pick.shape[-1] // smooth)), generator=g) * scale * width
    if smooth > 1:
        noise = torch.nn.functional.interpolate(noise, size=pick.shape[-1], mode="linear", align_corners=False)
    x = (pick + noise).clamp(h1.spec.low, h1.spec.high)
    probs = torch.softmax(predict_logits(h1.module, x), 1)
    meta = dict(ds.meta, neighbours={"n": k, "ratio": ratio, "scale": scale, "smooth": smooth, "shift": shift})
    return SyntheticDataset.concat([ds, SyntheticDataset.labelled(x, probs, Kind.NEIGHBOUR, ds.classes)], meta)


def coverage(h1, h2, ds: SyntheticDataset, train_x: torch.Tensor, test_x: torch.Tensor) -> dict:
    """Where the student h2 departs from h1 on the real test minutes (a diagnostic: nothing is trained on them).

    Distances are RMS differences between series in the input's unit (seconds of RR interval), from each
    test minute to its nearest example of the student's set and to its nearest real training minute. The
    test minutes are split at the median distance to the set, and by h1's confidence (softmax max >= 0.9).
    For scale, as many points of the set moved by Gaussian noise of the median distance's RMS."""
    probs = torch.softmax(predict_logits(h1.module, test_x), 1)
    agree = torch.as_tensor(h2.predict_proba(test_x).argmax(1)) == probs.argmax(1)
    scale = test_x[0].numel() ** 0.5
    to_set = torch.as_tensor(nearest_distances(test_x, ds.x)) / scale
    to_train = torch.as_tensor(nearest_distances(test_x, train_x)) / scale
    far = to_set > to_set.median()
    sure = probs.max(1).values >= 0.9
    # the set's own points moved as far as the median test minute sits from the set, in random
    # directions (Gaussian, clamped to the domain): does h2 part from h1 at that distance anyway?
    g = torch.Generator().manual_seed(0)
    pick = ds.x[torch.randint(len(ds), (len(test_x),), generator=g)]
    noisy = (pick + torch.randn(pick.shape, generator=g) * float(to_set.median())).clamp(h1.spec.low, h1.spec.high)
    at_noise = float((torch.as_tensor(h2.predict_proba(noisy).argmax(1)) == predict_logits(h1.module, noisy).argmax(1)).float().mean())
    share = lambda m: float(agree[m].float().mean()) if bool(m.any()) else float("nan")  # noqa: E731
    return {
        "h2_agrees_with_h1": float(agree.float().mean()),
        "rms_to_set_median": float(to_set.median()),
        "rms_to_train_median": float(to_train.median()),
        "agree_near_half": share(~far),
        "agree_far_half": share(far),
        "h1_sure_share": float(sure.float().mean()),
        "agree_h1_sure": share(sure),
        "agree_h1_unsure": share(~sure),
        "agree_set_plus_noise": at_noise,
    }


def run_variant(runner: ApneaRunner, name: str, units: list[tuple[str, int]], done: list[dict] = (), on_unit=None) -> dict:
    """The variant on every unit; rows of ``done`` (an earlier run of this variant and version) are kept
    for their units, and ``on_unit(summary so far)`` is called after each new unit."""
    kept = {(r["team"], r["seed"]): r for r in done}
    overrides = dict(VARIANTS[name][0])
    probe = overrides.pop("probe", None)  # not a synthesis setting: probes need the students' training
    neighbours = overrides.pop("neighbours", None)
    # the final students only (the probes' round students keep the experiment's training and seed)
    student_over, student_seed = overrides.pop("student", {}), overrides.pop("student_seed", 0)
    base_cfg = runner.exp.synthesis
    rows = []
    for team, seed in units:
        if (team, seed) in kept:
            rows.append(kept[(team, seed)])
            print(f"  {name} {team} seed {seed}: kept from the earlier run, h2 hard {100 * rows[-1]['h2_hard']['accuracy']:.1f}", flush=True)
            continue
        d = runner.team_data(team, seed)
        h1 = runner.teacher(f"apnea-{team}", d["train"], d["test"], seed)
        other = runner.teacher(f"apnea-{team}-other", d["train"], d["test"], seed + 100)
        cfg = replace(base_cfg, seed=seed, **overrides)
        am_cfg = cfg.am_only()  # visualizations are kept without blends and offsets: variants that differ only in those share them
        path = runner.cache / "sweep-synth" / f"{cache_key({'teacher': h1.fingerprint, 'cfg': to_dict(am_cfg)})}.pt"
        if path.is_file():  # kept, so a re-run only trains the students again
            ds = SyntheticDataset.load(path)
        else:
            ds = make_synthetic(h1, am_cfg, runner.device, progress=False)
            ds.save(path)
        vis, ds = ds, add_blends(ds, h1.module, cfg.blend, seed, runner.device)
        ds = add_offsets(ds, h1.module, cfg.offset, cfg.offset_scale, h1.spec.low, h1.spec.high, seed, runner.device)
        if probe:  # made once, with soft (tau 4) round students, and learnt by both final students
            made = {"set": path.stem, **cfg.extension_ident(), "probe": probe, "student": runner.round_student}
            probed = path.with_name(f"{cache_key(made)}-probes.pt")
            if probed.is_file():  # kept: the round students cost minutes, and variants of what follows share them
                ds = SyntheticDataset.load(probed)
            else:
                ds = runner.add_probes(ds, h1, seed, probe)
                ds.save(probed)
        if neighbours:
            ds = add_neighbours(ds, h1, seed=seed, **neighbours)
        synth_s = ds.meta["stats"]["wall_s"]
        y = d["test"].y.numpy()
        hard = runner.student(ds.x, ds.targets("hard"), seed + student_seed, teacher=h1, **student_over)
        soft = runner.student(ds.x, ds.targets("soft"), seed + student_seed, temperature=4.0, teacher=h1, **student_over)
        yv = d["val"].y.numpy()
        at = {}  # each student at 0.5 and at the threshold the validation minutes choose for it
        for k, h2 in (("h2_hard", hard), ("h2_soft", soft)):
            p = h2.predict_proba(d["test"].x)[:, 1]
            at[k] = binary_metrics(y, p)
            at[f"{k}_val_threshold"] = binary_metrics(y, p, binary_metrics(yv, h2.predict_proba(d["val"].x)[:, 1])["best_threshold"])
        vis_labels = vis.targets("hard").argmax(1)  # on the visualizations alone: blends sit between the classes
        agree = float((predict_logits(other.module, vis.x).argmax(1) == vis_labels).float().mean())
        stats = ds.meta["stats"]
        rows.append(
            {
                "team": team,
                "seed": seed,
                "synthesis_s": synth_s,
                "teacher_passes_per_vis": stats["teacher_passes_per_vis"],
                "discarded": stats["discarded"],
                "apnea_share": float(vis_labels.float().mean()),
                "other_teacher_agrees": agree,
                "base": binary_metrics(y, torch.softmax(predict_logits(h1.module, d["test"].x), 1)[:, 1].numpy()),
                **at,
                "coverage_hard": coverage(h1, hard, ds, d["train"].x, d["test"].x),
                **(
                    {
                        "members": {
                            k: [binary_metrics(y, torch.softmax(predict_logits(m, d["test"].x), 1)[:, 1].numpy()) for m in h2.net_.members]
                            for k, h2 in (("h2_hard", hard), ("h2_soft", soft))
                        }
                    }
                    if student_over.get("members", 1) > 1
                    else {}
                ),
                **({"probes": ds.meta["probes"]["history"]} if probe else {}),
            }
        )
        r = rows[-1]
        print(
            f"  {name} {team} seed {seed}: base {100 * r['base']['accuracy']:.1f}, h2 hard {100 * r['h2_hard']['accuracy']:.1f}, "
            f"soft {100 * r['h2_soft']['accuracy']:.1f} (at the validation minutes' threshold: hard "
            f"{100 * r['h2_hard_val_threshold']['accuracy']:.1f}, soft {100 * r['h2_soft_val_threshold']['accuracy']:.1f}), other teacher agrees {100 * agree:.1f}%, "
            f"{r['teacher_passes_per_vis']:.1f} passes/vis, {synth_s:.0f} s",
            flush=True,
        )
        c = r["coverage_hard"]
        print(
            f"    hard h2 agrees with h1 on {100 * c['h2_agrees_with_h1']:.1f}% of test minutes: near half of the set "
            f"{100 * c['agree_near_half']:.1f}%, far half {100 * c['agree_far_half']:.1f}%; h1 sure (>= 0.9) on "
            f"{100 * c['h1_sure_share']:.1f}%: {100 * c['agree_h1_sure']:.1f}% there, {100 * c['agree_h1_unsure']:.1f}% elsewhere; "
            f"median RMS to the set {c['rms_to_set_median']:.3f} s, to real training minutes {c['rms_to_train_median']:.3f} s; "
            f"set + noise of that RMS: {100 * c['agree_set_plus_noise']:.1f}%",
            flush=True,
        )
        if on_unit is not None:
            on_unit(summarize(name, rows))
    return summarize(name, rows)


def summarize(name: str, rows: list[dict]) -> dict:
    pick = lambda f: mean_std([f(r) for r in rows])  # noqa: E731
    return {
        "overrides": VARIANTS[name][0],
        "what": VARIANTS[name][1],
        "vistransfer": versions()["vistransfer"],
        "units": rows,
        "h2_hard": pick(lambda r: r["h2_hard"]["accuracy"]),
        "h2_soft": pick(lambda r: r["h2_soft"]["accuracy"]),
        "base": pick(lambda r: r["base"]["accuracy"]),
        "other_teacher_agrees": pick(lambda r: r["other_teacher_agrees"]),
        "teacher_passes_per_vis": pick(lambda r: r["teacher_passes_per_vis"]),
        # units measured before the validation threshold was: none
        **{k: pick(lambda r, k=k: r[k]["accuracy"]) for k in ("h2_hard_val_threshold", "h2_soft_val_threshold") if all(k in r for r in rows)},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--experiment", default="experiments/table5.toml")
    ap.add_argument("--variants", default="full_rate,downscale8,downscale4")
    ap.add_argument("--units", default="team1:0,team1:1,team2:0,team2:1", help="team:seed pairs")
    ap.add_argument("--out", default="benchmarks/results/apnea_sweep.json", help="JSON of every variant run (merged into an existing file)")
    ap.add_argument("--remeasure", action="store_true", help="measure the chosen units again instead of keeping earlier ones")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args(argv)
    if a.list:
        for k, (o, what) in VARIANTS.items():
            print(f"{k:20s} {what}  {o}")
        return 0
    names = a.variants.split(",")
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        print(f"unknown variant(s) {unknown}; see --list", file=sys.stderr)
        return 2
    path = Path(a.experiment)
    exp = load_apnea_experiment(path, tomllib.loads(path.read_text()))
    runner = ApneaRunner(exp, a.data_dir, cache=cache_dir() / "experiments", log=print)
    from vistransfer.ecg.apnea import load_minutes

    runner.minutes = {team: load_minutes(a.data_dir, recs) for team, recs in exp.teams.items()}
    units = [(u.split(":")[0], int(u.split(":")[1])) for u in a.units.split(",")]
    out = Path(a.out)
    record = json.loads(out.read_text()) if out.is_file() else {"variants": {}}
    record.update(
        {
            "experiment": str(path),
            "units": [list(u) for u in units],
            "versions": versions(),
            "command": "python -m benchmarks.apnea_sweep " + " ".join(sys.argv[1:] if argv is None else argv),
        }
    )
    for name in names:
        print(f"{name}: {VARIANTS[name][1]}", flush=True)
        earlier = record["variants"].get(name, {})
        same = earlier.get("vistransfer") == versions()["vistransfer"] and earlier.get("overrides") == json.loads(json.dumps(VARIANTS[name][0]))
        wanted = set(units)

        def save(summary: dict, name: str = name) -> None:  # after every unit, so a stopped run keeps what it measured
            record["variants"][name] = summary
            write_json(out, record)

        done = [r for r in earlier.get("units", []) if (r["team"], r["seed"]) in wanted] if same and not a.remeasure else []
        save(run_variant(runner, name, units, done, on_unit=save))
    print(f"\n{'variant':20s} {'h2 hard %':>14s} {'h2 soft %':>14s} {'other h1 agrees %':>18s} {'passes/vis':>11s}")
    for name, v in record["variants"].items():
        f = lambda m: f"{100 * m['mean']:.2f} ± {100 * m['std']:.2f}"  # noqa: E731
        print(
            f"{name:20s} {f(v['h2_hard']):>14s} {f(v['h2_soft']):>14s} {f(v['other_teacher_agrees']):>18s} "
            f"{v['teacher_passes_per_vis']['mean']:>11.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
