"""Where the gap between two teacher_zoo rows sits, class by class.

A student's real-test accuracy is the sum over classes of the class's share of the test set times its accuracy on
that class, so the gap between a reference row and another row splits exactly into one term per class:
(reference's accuracy on the class - the row's) x the class's share. Reads committed ``teacher_zoo`` JSON files and
the real test set's labels (for the shares); trains nothing.

    python -m benchmarks.zoo_gap --data-dir ../shared/datasets \\
        --ref benchmarks/results/teacher_zoo_default_6k.json:builtin \\
        --rows benchmarks/results/teacher_zoo_start_6k.json:bn_flat+neutral,benchmarks/results/teacher_zoo_start_6k.json:mlp+neutral

``--student same`` reads the rows' students of the teacher's own architecture (``student_same_arch_per_class``,
recorded by teacher_zoo runs with ``--students same``) instead of their CNN_ID students (``student_per_class``);
``--ref-student`` does the same for the reference.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vistransfer.data import load_dataset
from vistransfer.io import versions, write_json, write_text

FIELDS = {"cnn_id": ("student_per_class", "student_accuracy"), "same": ("student_same_arch_per_class", "student_same_arch")}


def read_row(spec: str, student: str) -> dict:
    """The row ``FILE:ROW`` of a teacher_zoo JSON file: its name, overall accuracy and per-class accuracies."""
    path, sep, row = spec.rpartition(":")
    if not sep or not path or not row:
        raise SystemExit(f"{spec!r}: give a row as FILE:ROW, e.g. benchmarks/results/teacher_zoo_default_6k.json:builtin")
    if not Path(path).is_file():
        raise SystemExit(f"{path}: no such teacher_zoo results file")
    rows = json.loads(Path(path).read_text())["archs"]
    if row not in rows:
        raise SystemExit(f"{path} has no row {row!r}; its rows: {', '.join(rows)}")
    per_class, overall = FIELDS[student]
    if per_class not in rows[row]:
        raise SystemExit(
            f"{spec}: no {per_class} in this row (its {student} students' per-class accuracies were not "
            f"recorded); run teacher_zoo with --students {student} for it"
        )
    return {"row": f"{Path(path).stem}:{row}", "student": student, "accuracy": rows[row][overall], "per_class": rows[row][per_class]}


def split_gap(ref: dict, row: dict, shares: dict[str, float]) -> dict:
    """The gap ref - row in accuracy, and its term per class; the terms sum to the gap."""
    terms = {c: (ref["per_class"][c] - row["per_class"][c]) * shares[c] for c in shares}
    return {
        "row": row["row"],
        "student": row["student"],
        "accuracy": row["accuracy"],
        "gap": ref["accuracy"] - row["accuracy"],
        "per_class": row["per_class"],
        "terms": terms,
    }


def report(ref: dict, splits: list[dict]) -> str:
    classes = list(ref["per_class"])
    w = max(len(r["row"]) for r in [ref, *splits]) + 2
    lines = [
        f"Gap to {ref['row']} ({ref['student']} students, {100 * ref['accuracy']:.2f}%), in points of real-test "
        "accuracy, class by class: (reference's class accuracy - row's) x the class's share of the test set",
        f"{'row':{w}}{'student':>8}{'acc %':>8}{'gap':>7}" + "".join(f"{c:>7}" for c in classes),
    ]
    for s in splits:
        lines.append(
            f"{s['row']:{w}}{s['student']:>8}{100 * s['accuracy']:>8.2f}{100 * s['gap']:>7.2f}"
            + "".join(f"{100 * s['terms'][c]:>+7.2f}" for c in classes)
        )
    lines += [
        "",
        "Per-class accuracy (%): the reference, then each row",
        f"{'row':{w}}" + "".join(f"{c:>7}" for c in classes),
        f"{ref['row']:{w}}" + "".join(f"{100 * ref['per_class'][c]:>7.1f}" for c in classes),
    ]
    lines += [f"{s['row']:{w}}" + "".join(f"{100 * s['per_class'][c]:>7.1f}" for c in classes) for s in splits]
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", required=True, help="the reference row, FILE:ROW")
    ap.add_argument("--rows", required=True, help="comma-separated rows to read against it, each FILE:ROW")
    ap.add_argument("--student", choices=sorted(FIELDS), default="cnn_id", help="whose accuracies to read in --rows")
    ap.add_argument("--ref-student", choices=sorted(FIELDS), default="cnn_id", help="whose accuracies to read in --ref")
    ap.add_argument("--data-dir", default=None, help="where MNIST is (the test set's labels give the class shares)")
    ap.add_argument("--out", default=None, help="also write the split to this JSON file, and the table beside it (.txt)")
    args = ap.parse_args(argv)
    ref = read_row(args.ref, args.ref_student)
    rows = [read_row(spec, args.student) for spec in args.rows.split(",") if spec]
    test = load_dataset("mnist", "test", args.data_dir)  # the teacher_zoo rows' real test set
    shares = {c: float((test.y == i).float().mean()) for i, c in enumerate(test.classes)}
    splits = [split_gap(ref, row, shares) for row in rows]
    text = report(ref, splits)
    print(text)
    if args.out:
        write_json(args.out, {"ref": ref, "splits": splits, "shares": shares, "versions": versions()})
        write_text(Path(args.out).with_suffix(".txt"), text + "\n")


if __name__ == "__main__":
    main()
