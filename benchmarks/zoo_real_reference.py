"""What the teacher_zoo students reach from real digits: CNN_ID and networks of the zoo's architectures (the same
recipe as ``teacher_zoo --students``) trained on --n real MNIST training digits (a class-stratified subset, seed 0),
scored on the real test set. The ceiling against which a student of --n visualizations is read.

    python -m benchmarks.zoo_real_reference --data-dir ../shared/datasets --n 300
    python -m benchmarks.zoo_real_reference --data-dir ../shared/datasets --n 300 --archs builtin_bn,elu_avg,mlp,bn_flat \
        --out benchmarks/results/zoo_real_reference.json
"""

from __future__ import annotations

import argparse
import json

from benchmarks.common import student_accuracy
from benchmarks.teacher_zoo import ARCHS, arch_accuracy, arch_names, zoo_data
from vistransfer.io import resolve_device, versions, write_json


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="real training digits")
    ap.add_argument("--archs", default="bn_gap", help=f"comma-separated students besides CNN_ID, from {', '.join(ARCHS)}")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=None, help="also write the accuracies, with the setup and versions, to this JSON file")
    args = ap.parse_args(argv)
    names = arch_names(args.archs)
    dev = resolve_device(args.device)
    train, test = zoo_data(args.data_dir)
    part = train.subset(args.n, seed=0)
    out = {"n": args.n, "cnn_id": student_accuracy([(part.x, part.y)], test, [0], dev)["mean"]}
    out.update({name: arch_accuracy(name, part.x, part.y, test, dev) for name in names})
    print(json.dumps(out))
    if args.out:
        write_json(args.out, {**out, "device": str(dev), "versions": versions()})


if __name__ == "__main__":
    main()
