"""What the teacher_zoo students reach from real digits: CNN_ID and a network of the ``bn_gap`` architecture
(the same recipe as ``teacher_zoo --students same``) trained on --n real MNIST training digits (a class-stratified
subset, seed 0), scored on the real test set. The ceiling against which a student of --n visualizations is read.

    python -m benchmarks.zoo_real_reference --data-dir ../shared/datasets --n 300
"""

from __future__ import annotations

import argparse
import json

from vistransfer.data import load_dataset
from vistransfer.io import resolve_device

from benchmarks.common import student_accuracy
from benchmarks.teacher_zoo import ARCHS, arch_accuracy


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="real training digits")
    ap.add_argument("--arch", default="bn_gap", choices=sorted(ARCHS), help="the second student's architecture")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)
    dev = resolve_device(args.device)
    train, test = load_dataset("mnist", "train", args.data_dir), load_dataset("mnist", "test", args.data_dir)
    part = train.subset(args.n, seed=0)
    out = {"n": args.n, "cnn_id": student_accuracy([(part.x, part.y)], test, [0], dev)["mean"],
           args.arch: arch_accuracy(args.arch, part.x, part.y, test, dev)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
