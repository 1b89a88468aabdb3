"""What the teacher_zoo teachers say about featureless images, and where a neutral start puts G.

For each architecture (trained as ``teacher_zoo`` trains it, from its cache): the class and softmax it gives a
flat MNIST-sized image at 11 levels of [0, 1] (0.5 is where the paper's G starts every visualization: an output
bias of 0 under the sigmoid), the neutral level that ``SynthesisConfig.gen_start = "neutral"`` starts G at
(``synthesis/start.py``: the flat image of highest-entropy softmax), and, per class, the share of real test
digits the teacher still gives their class once every pixel is replaced by the digit's mean (its flat
counterpart: whether the teacher's class lives in the brightness alone, for real data too). Seconds per teacher.

    python -m benchmarks.flat_verdicts --data-dir ../shared/datasets --out benchmarks/results/flat_verdicts.json
"""

from __future__ import annotations

import argparse

import torch

from vistransfer.io import resolve_device, versions, write_json, write_text

from benchmarks.teacher_zoo import ARCHS, SPEC, arch_names, flat_keeps, trained, zoo_data
from vistransfer.synthesis.start import flat_softmax, neutral_level

LEVELS = torch.linspace(0, 1, 11)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archs", default="builtin,builtin_bn,elu_avg,mlp,bn_flat,bn_gap,vgg_bn",
                    help=f"comma-separated, from {', '.join(ARCHS)}")
    ap.add_argument("--epochs", type=int, default=2, help="teacher training epochs (teacher_zoo's default)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=None, help="write the verdicts as JSON (and a table as .txt) to this file")
    args = ap.parse_args(argv)
    names = arch_names(args.archs)
    dev = resolve_device(args.device)
    train, test = zoo_data(args.data_dir)
    rows = {}
    for name in names:
        net, _ = trained(name, train, args.epochs, dev)
        net = net.to(dev).eval()
        p = flat_softmax(net, SPEC, dev, LEVELS.clamp(1e-6, 1 - 1e-6))  # G's (0, 1) scale is MNIST's [0, 1]
        rows[name] = {"flat": [[round(float(v), 2), int(q.argmax()), float(q.max())] for v, q in zip(LEVELS, p)],
                      "neutral_level": neutral_level(net, SPEC, dev),
                      "flat_keeps_real": flat_keeps(net, test.x, test.y, dev)}
    lines = ["class (softmax) each teacher gives a flat image at each level of [0, 1]; the neutral level; real test "
             "digits whose flat counterpart keeps their class, per class (%)",
             f"{'teacher':12}" + "".join(f"{float(v):>11.1f}" for v in LEVELS) + f"{'neutral':>9}"]
    for name, r in rows.items():
        lines.append(f"{name:12}" + "".join(f"{c:>4} ({q:.2f})" for _, c, q in r["flat"]) + f"{r['neutral_level']:>9.2f}")
    lines += ["", f"{'teacher':12}" + "".join(f"{c:>6}" for c in range(10))]
    lines += [f"{name:12}" + "".join(f"{100 * v:>6.0f}" for v in r["flat_keeps_real"]) for name, r in rows.items()]
    text = "\n".join(lines)
    print(text)
    if args.out:
        write_json(args.out, {"device": str(dev), "epochs": args.epochs, "versions": versions(), "archs": rows})
        write_text(args.out.rsplit(".", 1)[0] + ".txt", text + "\n")


if __name__ == "__main__":
    main()
