"""What the teacher_zoo teachers say about featureless images, and where a neutral start puts G.

For each architecture (trained as ``teacher_zoo`` trains it, from its cache): the class and softmax it gives a
flat MNIST-sized image at 11 levels of [0, 1] (0.5 is where the paper's G starts every visualization: an output
bias of 0 under the sigmoid), the neutral level that ``SynthesisConfig.gen_start = "neutral"`` starts G at
(``synthesis/start.py``: the flat image of highest-entropy softmax) with the teacher's top softmax there, where
``gen_start = "auto"`` (the default) starts G, and, per class, the share of real test digits the teacher still
gives their class once every pixel is replaced by the digit's mean (its flat counterpart: whether the teacher's
class lives in the brightness alone, for real data too). Seconds per teacher.

With ``--teacher FILE`` (repeatable) the same verdicts for teacher files, any that ``vistransfer synthesize`` takes
(ours from ``vistransfer teach``, TorchScript, .pt2), in each one's own value range. With ``--apnea EXPERIMENT``
the same verdicts for the per-minute teachers h1 of an Apnea-ECG experiment (every team and seed, from the
experiment's cache, trained there first if missing: about 35 s each on 2 cores), on flat RR series at 11 levels of
the experiment's domain.

    python -m benchmarks.flat_verdicts --data-dir ../shared/datasets --out benchmarks/results/flat_verdicts.json
    python -m benchmarks.flat_verdicts --data-dir ../shared/datasets --apnea experiments/table5.toml \\
        --out benchmarks/results/flat_verdicts_apnea.json
    vistransfer teach --dataset mnist --data-dir ../shared/datasets -o teacher.pt   # the experiments' MNIST teacher
    python -m benchmarks.flat_verdicts --teacher teacher.pt
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from benchmarks.teacher_zoo import ARCHS, SPEC, arch_names, flat_keeps, trained, zoo_data
from vistransfer.config import SynthesisConfig
from vistransfer.io import resolve_device, versions, write_json, write_text
from vistransfer.models.foreign import load_teacher
from vistransfer.synthesis.start import flat_softmax, neutral_verdict, start_verdict

LEVELS = torch.linspace(0, 1, 11)


def verdicts(net, spec, dev) -> dict:
    """The flat-input verdicts of one teacher: class and top softmax at each of :data:`LEVELS`, the neutral level,
    the top softmax there, and where ``gen_start = "auto"`` starts G from the paper's output bias of 0."""
    p = flat_softmax(net, spec, dev, LEVELS.clamp(1e-6, 1 - 1e-6))
    v = start_verdict(net, spec, SynthesisConfig.gen_out_bias, dev)
    # the verdict searched the neutral level only for a teacher sure of the start
    level, top = (v.neutral, v.neutral_p) if v.neutral is not None else neutral_verdict(net, spec, dev)
    return {
        "flat": [[round(float(x), 2), int(q.argmax()), float(q.max())] for x, q in zip(LEVELS, p)],
        "neutral_level": level,
        "neutral_softmax": top,
        "auto": f"neutral {v.neutral:.2f}" if v.go_neutral else "bias",
    }


def table(rows: dict, width: int) -> list[str]:
    lines = [f"{'teacher':{width}}" + "".join(f"{float(v):>11.1f}" for v in LEVELS) + f"{'neutral':>9}{'softmax':>9}  auto"]
    for name, r in rows.items():
        lines.append(
            f"{name:{width}}"
            + "".join(f"{c:>4} ({q:.2f})" for _, c, q in r["flat"])
            + f"{r['neutral_level']:>9.2f}{r['neutral_softmax']:>9.2f}  {r['auto']}"
        )
    return lines


def apnea_rows(path: str, data_dir, dev) -> tuple[dict, str]:
    """Every team's and seed's h1 of the Apnea-ECG experiment at ``path``, as the experiment hands it over."""
    from vistransfer.experiments import load_any
    from vistransfer.experiments.apnea import ApneaRunner

    exp = load_any(path)
    if getattr(exp, "teams", None) is None:
        raise SystemExit(f'--apnea {path}: not an Apnea-ECG experiment (kind = "apnea")')
    runner = ApneaRunner(exp, data_dir=data_dir, device=str(dev))
    runner.load_minutes()
    rows = {}
    for seed in exp.seeds:
        for team in exp.teams:
            d = runner.team_data(team, seed)
            h1 = runner.teacher(f"apnea-{team}", d["train"], d["test"], seed)
            rows[f"{team} seed {seed}"] = verdicts(h1.module, h1.spec, dev)
    return rows, exp.name


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archs", default="builtin,builtin_bn,elu_avg,mlp,bn_flat,bn_gap,vgg_bn", help=f"comma-separated, from {', '.join(ARCHS)}")
    ap.add_argument("--epochs", type=int, default=2, help="teacher training epochs (teacher_zoo's default)")
    ap.add_argument(
        "--apnea",
        default=None,
        metavar="EXPERIMENT",
        help="an Apnea-ECG experiment file: its teachers instead of the zoo's (e.g. experiments/table5.toml)",
    )
    ap.add_argument("--teacher", action="append", default=None, metavar="FILE", help="a teacher file (repeatable): its verdicts instead of the zoo's")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=None, help="write the verdicts as JSON (and a table as .txt) to this file")
    args = ap.parse_args(argv)
    dev = resolve_device(args.device)
    if args.apnea and args.teacher:
        raise SystemExit("--apnea and --teacher: one at a time")
    if args.teacher:
        rows = {}
        for path in args.teacher:
            t = load_teacher(path)
            rows[Path(path).name] = {
                **verdicts(t.module, t.spec, dev),
                "classes": list(t.classes),
                "test_accuracy": t.test_accuracy,
                "fingerprint": t.fingerprint,
            }
        lines = [
            "class (softmax) each teacher gives a flat input at each level of its value range; the neutral level and "
            'the top softmax there; where gen_start "auto" starts G',
            *table(rows, max(12, *map(len, rows)) + 2),
        ]
        record = {"teachers": rows}
    elif args.apnea:
        rows, name = apnea_rows(args.apnea, args.data_dir, dev)
        lines = [
            f"class (softmax) each h1 of {name} (0 = normal, 1 = apnea) gives a flat RR series at each level of its "
            'domain; the neutral level and the top softmax there; where gen_start "auto" starts G',
            *table(rows, 16),
        ]
        record = {"experiment": args.apnea, "teachers": rows}
    else:
        names = arch_names(args.archs)
        train, test = zoo_data(args.data_dir)
        rows = {}
        for name in names:
            net, _ = trained(name, train, args.epochs, dev)
            net = net.to(dev).eval()
            rows[name] = {**verdicts(net, SPEC, dev), "flat_keeps_real": flat_keeps(net, test.x, test.y, dev)}
        lines = [
            "class (softmax) each teacher gives a flat image at each level of [0, 1]; the neutral level and the top "
            'softmax there; where gen_start "auto" starts G; real test digits whose flat counterpart keeps their '
            "class, per class (%)",
            *table(rows, 12),
        ]
        lines += ["", f"{'teacher':12}" + "".join(f"{c:>6}" for c in range(10))]
        lines += [f"{name:12}" + "".join(f"{100 * v:>6.0f}" for v in r["flat_keeps_real"]) for name, r in rows.items()]
        record = {"epochs": args.epochs, "archs": rows}
    text = "\n".join(lines)
    print(text)
    if args.out:
        write_json(args.out, {"device": str(dev), **record, "versions": versions()})
        write_text(args.out.rsplit(".", 1)[0] + ".txt", text + "\n")


if __name__ == "__main__":
    main()
