"""Table 4 from a study file: each participant's agreement with h1, and S2's difficulty fractions.

The fractions use the same functions as Table 3 (:mod:`vistransfer.metrics`). Only participants
who labelled every study image form S2; the others are listed as incomplete.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from .. import metrics
from ..io import atomic_path, versions, write_json, write_text
from .store import Store

# Table 4 of the paper (five people, 100 images per set)
PAPER = {
    "subjects": {"sample": [86, 93, 84, 89, 91], "imgs": [26, 40, 16, 20, 39], "imgs_l": [12, 29, 18, 27, 24]},
    "fooling_example": {"sample": 9, "imgs": 81, "imgs_l": 89},
    "hidden_message": {"sample": 5, "imgs": 74, "imgs_l": 67},
}
SET_LABEL = {"sample": "sample", "imgs": "IMGS", "imgs_l": "IMGS+L"}


def write_export(store: Store, path: str | Path) -> Path:
    rows = store.export_rows()
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["participant"])
        w.writeheader()
        w.writerows(rows)
    return Path(path)


def _described(meta: dict) -> dict:
    """What the report says of the study's data and h_s, from the study file. Files made before it said
    so were all made from a CIFAR-10 experiment with CNN1 as h_s (the only kind 'study create' took)."""
    if "hs_name" not in meta:
        return {"data_note": "CIFAR-10 here is a lossy JPEG copy (quality 75).", "hs_name": "CNN1"}
    return {k: meta[k] for k in ("data_note", "hs_name") if meta.get(k)}


def table4(store: Store) -> dict[str, Any]:
    items = [i for i in store.item_table() if not i["practice"]]
    sets = list(dict.fromkeys(i["set"] for i in items))
    total = len(items)
    answers: dict[str, dict[tuple[str, int], int]] = {}
    kinds: dict[str, str] = {}
    for r in store.export_rows():
        if not r["practice"]:
            answers.setdefault(r["participant"], {})[(r["set"], r["position"])] = r["answer"]
            kinds[r["participant"]] = r["kind"]
    complete = [p for p, a in answers.items() if len(a) == total]
    incomplete = {name: n for name, _, n in store.participants() if name not in complete}
    out: dict[str, Any] = {
        "sets": sets,
        "participants": {},
        "S2": complete,
        "kinds": {p: kinds[p] for p in complete},
        "incomplete": incomplete,
        "paper": PAPER,
        "study": _described(store.meta()),
        "versions": versions(),
        "by_set": {},
    }
    for s in sets:
        its = [i for i in items if i["set"] == s]
        h = np.array([i["teacher"] for i in its])
        hs = np.array([i["hs"] for i in its])
        truth = np.array([-1 if i["truth"] is None else i["truth"] for i in its])
        labels = {p: np.array([answers[p][(s, i["position"])] for i in its]) for p in complete}
        for p, lab in labels.items():
            row = out["participants"].setdefault(p, {})
            row[s] = {"agreement_with_h1": metrics.agreement(h, lab)}
            if (truth >= 0).all():
                row[s]["accuracy"] = metrics.agreement(truth, lab)
        entry: dict[str, Any] = {
            "n": len(its),
            "h1_accuracy": metrics.agreement(truth, h) if (truth >= 0).all() else None,
            "hs_agreement_with_h1": metrics.agreement(h, hs),
        }
        if labels:
            d = metrics.difficulty(h, hs, labels)
            entry.update(fooling_example=d["fooling_example"], hidden_message=d["hidden_message"])
        out["by_set"][s] = entry
    return out


def render(rec: dict[str, Any]) -> str:
    sets = rec["sets"]
    simulated = [p for p, k in rec["kinds"].items() if k == "simulated"]
    people = [p for p, k in rec["kinds"].items() if k != "simulated"]
    head = ["# Table 4: a labelling study (S2)", ""]
    if simulated and not people:
        head += [
            f"**Simulated participants ({', '.join(simulated)})**: classifiers answering through the study's own "
            "HTTP routes, not people. This proves the path from invitation to Table 4 and gives the CNN side of a "
            "CNN-versus-human comparison; no human data is shown here.",
            "",
        ]
    elif simulated:
        head += [f"S2 mixes people ({', '.join(people)}) and simulated participants ({', '.join(simulated)}).", ""]
    head += [
        "Made by `vistransfer study report`; every answer is in `labels.csv` (from `vistransfer study export`)."
        + (f" {rec['study']['data_note']}" if rec.get("study", {}).get("data_note") else ""),
        "",
        "Agreement with h1 (%) per participant; on the real sample also accuracy against the ground truth.",
        "",
        "| participant | " + " | ".join(SET_LABEL.get(s, s) for s in sets) + " |",
        "|---|" + "---|" * len(sets),
    ]
    for p, row in rec["participants"].items():
        cells = []
        for s in sets:
            c = row[s]
            cells.append(f"{100 * c['agreement_with_h1']:.0f}" + (f" (acc. {100 * c['accuracy']:.0f})" if "accuracy" in c else ""))
        head.append(f"| {p} | " + " | ".join(cells) + " |")
    paper = rec["paper"]
    head.append("| paper, subjects 1–5 | " + " | ".join(" / ".join(str(v) for v in paper["subjects"].get(s, [])) or "-" for s in sets) + " |")
    head += [
        "",
        f"S2 = {len(rec['S2'])} participant(s); fractions with bootstrap 95% intervals.",
        "",
        "| | " + " | ".join(SET_LABEL.get(s, s) for s in sets) + " |",
        "|---|" + "---|" * len(sets),
    ]
    for prop, label in (("fooling_example", "Fooling Ex. (S2)"), ("hidden_message", "Hidden M. (S2)")):
        cells = []
        for s in sets:
            f = rec["by_set"][s].get(prop)
            cells.append("-" if f is None else f"{100 * f['value']:.0f} [{100 * f['low']:.0f}, {100 * f['high']:.0f}]")
        head.append(f"| {label}, ours | " + " | ".join(cells) + " |")
        head.append(f"| {label}, paper | " + " | ".join(str(paper[prop].get(s, "-")) for s in sets) + " |")
    hs = rec.get("study", {}).get("hs_name")
    head += ["", f"| set | images | h1 accuracy (%) | h_s{f' ({hs})' if hs else ''} agreement with h1 (%) |", "|---|---|---|---|"]
    for s in sets:
        e = rec["by_set"][s]
        acc = "-" if e["h1_accuracy"] is None else f"{100 * e['h1_accuracy']:.0f}"
        head.append(f"| {SET_LABEL.get(s, s)} | {e['n']} | {acc} | {100 * e['hs_agreement_with_h1']:.0f} |")
    if rec["incomplete"]:
        head += ["", "Not in S2 (unfinished): " + ", ".join(f"{p} ({n} answers)" for p, n in rec["incomplete"].items())]
    return "\n".join(head) + "\n"


def write_report(store: Store, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    rec = table4(store)
    write_json(out / "results.json", rec)
    write_export(store, out / "labels.csv")
    write_text(out / "table.md", render(rec))
    return out / "table.md"
