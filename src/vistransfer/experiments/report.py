"""Experiment reports: the paper's table layout (ours beside the paper's numbers), the size plot,
and the summary over every experiment that ``vistransfer summarize`` writes into the README."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import VistransferError
from ..io import atomic_path, read_json, write_text
from ..students import paper_name
from ..viz import plt
from .apnea_report import missing_named, missing_parts
from .spec import Column, Experiment


def paper_cell(col: Column, student: str, n: int) -> dict | None:
    v = col.paper.get(f"{student}@{n}")
    return None if v is None else {"mean": v[0], "std": v[1]}


def _fmt(ms: dict | None, pct: bool = True) -> str:
    if ms is None:
        return "—"
    scale = 100 if pct else 1
    std = ms.get("std")
    return f"{scale * ms['mean']:.2f}" + (f" ± {scale * std:.2f}" if std is not None else "")


def _fmt_seeds(acc: dict, of: int) -> str:
    """A cell's accuracy; with fewer than ``of`` seeds so far (synthesis_per_seed, interrupted), how many it
    has, and no spread for one."""
    k = acc.get("n", of)
    if k >= of:
        return _fmt(acc)
    return (_fmt({"mean": acc["mean"]}) if k == 1 else _fmt(acc)) + f" ({k} of {of} seeds)"


def render_markdown(exp: Experiment, record: dict) -> str:
    """The paper's table layout: one row per student (or size), ours and the paper's side by side."""
    cells = {(c["column"], c["student"], c["n"]): c for c in record["cells"]}
    rows: list[tuple[str, int]] = []
    for col in exp.columns:
        for s, n in col.cells():
            if (s, n) not in rows:
                rows.append((s, n))
    if exp.rows == "size":
        rows.sort(key=lambda r: (r[1], r[0]))
    many_students = len({s for s, _ in rows}) > 1
    many_sizes = len({n for _, n in rows}) > 1

    def label(s: str, n: int) -> str:
        parts = []
        if exp.rows == "size" or many_sizes:
            parts.append(f"{n:,}")
        if exp.rows == "student" or many_students:
            parts.append(paper_name(s))
        return " · ".join(parts)

    head = ["h2" if exp.rows == "student" else "size"]
    for col in exp.columns:  # a column without paper numbers (one of ours) gets no paper column
        head += [f"{col.name} (ours)"] + ([f"{col.name} (paper)"] if col.paper else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] if rows else []
    for s, n in rows:
        row = [label(s, n)]
        for col in exp.columns:
            c = cells.get((col.name, s, n))
            ours = "" if (s, n) not in col.cells() else _fmt_seeds(c["accuracy"], len(exp.seeds)) if c else "(pending)"
            paper = "" if (s, n) not in col.cells() else _fmt(paper_cell(col, s, n), pct=False)
            row += [ours] + ([paper] if col.paper else [])
        lines.append("| " + " | ".join(row) + " |")
    t = record["teacher"]
    out = [f"# {exp.title}", "", exp.description.strip(), ""]
    if lines:
        over = (
            f"seeds {list(exp.seeds)}, each with its own synthesis (the set's seed + s) and student (seed s)"
            if exp.synthesis_per_seed
            else f"student seeds {list(exp.seeds)}"
        )
        out += [
            f"Accuracy (%) on the real {exp.dataset} test set, mean ± std over {over}. Teacher h1: {100 * t['test_accuracy']:.2f}%.",
            "",
            *lines,
            "",
        ]
    col_notes = [
        f"- **{c.name}**: "
        + (
            "real training data (class-stratified subset, seed 0)"
            if c.source == "real"
            else f"set `{c.set}`, {c.labels} labels" + (f", distillation temperature {c.temperature:g}" if c.temperature != 1 else "")
        )
        + "".join(f"; student {k} = {v}" for k, v in c.student.items())
        for c in exp.columns
    ]
    out += ["Columns:", *col_notes, ""] if col_notes else []
    for name, s in record["sets"].items():
        st, cfg = s["stats"], s["config"]
        T = cfg["threshold_range"] or cfg["threshold"]
        out.append(
            f"- set `{name}`: {cfg['n']:,} visualizations, T = {T}, group size {cfg['group_size']}, "
            f"movement {'on' if cfg['movement'] else 'off'}, Loss2 {'on' if cfg['loss2'] else 'off'}; "
            f"{st['teacher_passes_per_vis']:.1f} teacher passes per visualization, {st['discarded']} discarded"
            + (
                f" (seed {cfg['seed']}); seeds "
                + ", ".join(
                    f"{p['config']['seed']}: {p['stats']['teacher_passes_per_vis']:.1f} passes, {p['stats']['vis_per_s']:.0f} vis/s"
                    for p in s["per_seed"]
                )
                if "per_seed" in s
                else ""
            )
            + "."
        )
    if "feature_distance" in record:
        out += [
            "",
            "Layer L-1 distance to real training data of the same class (Section 4.1.2):",
            "",
            "| examples | mean L2 distance | distance to nearest real example |",
            "|---|---|---|",
        ]
        for name, d in record["feature_distance"].items():
            out.append(f"| {name} | {d['mean_distance']:.3f} ± {d['mean_distance_std']:.3f} | {d['nearest_distance']:.3f} |")
    sweep = record.get("complete") and any(len(c.sizes) > 1 for c in exp.columns)
    figs = ["accuracy-vs-size.png"] if sweep else []
    figs += [f"grid-{n}.png" for n in record["sets"]] + [f"movement-{k}.png" for k in record.get("movement_grids", {})]
    if figs:
        out += ["", "Figures: " + ", ".join(f"[{f}]({f})" for f in figs)]
    status = "complete" if record.get("complete") else "in progress (cells marked pending are still running)"
    out += ["", f"Regenerate: `vistransfer experiment {exp.name} --data-dir ../shared/datasets` (status: {status}).", ""]
    return "\n".join(out)


def size_plot(exp: Experiment, record: dict, path: Path) -> None:
    """Accuracy against training-set size for every column (Table 2 as a plot), paper dashed."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, col in enumerate(exp.columns):
        for s in col.students:
            mine = sorted((c["n"], c["accuracy"]) for c in record["cells"] if c["column"] == col.name and c["student"] == s)
            if len(mine) < 2:
                continue
            color = f"C{i}"
            lbl = f"{col.name} {paper_name(s)}"
            ax.errorbar(
                [n for n, _ in mine],
                [100 * a["mean"] for _, a in mine],
                yerr=[100 * a["std"] for _, a in mine],
                marker="o",
                color=color,
                label=f"{lbl} (ours)",
                capsize=3,
            )
            paper = sorted((n, col.paper[f"{s}@{n}"][0]) for n in col.sizes if f"{s}@{n}" in col.paper)
            if paper:
                ax.plot([n for n, _ in paper], [v for _, v in paper], ls="--", marker="x", color=color, label=f"{lbl} (paper)")
    ax.set_xscale("log")
    ax.set_xlabel("training examples")
    ax.set_ylabel(f"test accuracy on real {exp.dataset} (%)")
    ax.set_title(exp.title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def summary_markdown(results_dir: str | Path = "results", link_prefix: str = "") -> str:
    """One table over every experiment in ``results_dir``: each cell's mean beside the paper's.
    Links to each experiment's table start with ``link_prefix`` (the results folder as seen from
    the file the table goes into; empty inside ``results_dir`` itself)."""
    lines = ["| experiment | column | h2 | size | ours (%) | paper (%) | ours − paper |", "|---|---|---|---|---|---|---|"]
    if not Path(results_dir).is_dir():
        raise VistransferError(f"--results-dir {results_dir} does not exist; pass the folder 'vistransfer experiment' wrote (default results/)")
    fix = "run its experiment again (vistransfer experiment NAME) or move the folder out of the results"
    records = [(path, read_json(path, fix)) for path in sorted(Path(results_dir).glob("*/results.json"))]
    if not records:
        raise VistransferError(f"{results_dir} holds no NAME/results.json; pass the folder 'vistransfer experiment' wrote (default results/)")
    labels = [rec.get("paper_table") or rec.get("experiment", path.parent.name) for path, rec in records]
    for (path, rec), label in zip(records, labels):
        if labels.count(label) > 1:  # variants of one paper table: say which
            label = f"{label}: {path.parent.name}"
        link = f"[{label}]({link_prefix}{path.parent.name}/table.md)"
        for team, row in rec.get("table5", {}).get("rows", {}).items():  # the apnea experiment's table
            paper = rec.get("paper", {}).get(team, [])
            for i, (col, key) in enumerate((("Base OSA", "base"), ("h2 S.", "h2_hard"), ("h_idt R.", "idt_real"), ("h_idt S.", "idt_synthetic"))):
                p = {"mean": paper[i], "std": None} if i < len(paper) else None
                diff = f"{100 * row[key]['mean'] - p['mean']:+.2f}" if p else ""
                lines.append(
                    f"| {link} | {col} | CNN_ECG, {team} | {row['n_test']:,} test minutes | "
                    f"{_fmt_seeds(row[key], len(rec.get('seeds', [])))} | "
                    f"{_fmt(p, pct=False) if p else '—'} | {diff} |"
                )
        for c in rec.get("cells", []):
            paper = c.get("paper")
            diff = f"{100 * c['accuracy']['mean'] - paper['mean']:+.2f}" if paper else ""
            ours = _fmt_seeds(c["accuracy"], len(rec.get("seeds", [])))
            lines.append(
                f"| {link} | {c['column']} | {paper_name(c['student'])} | {c['n']:,} | {ours} | {_fmt(paper, pct=False) if paper else '—'} | {diff} |"
            )
        for r in rec.get("summary_rows", []):  # experiments that lay out their own rows (CIFAR-10)
            p = r.get("paper")
            diff = f"{100 * r['ours']['mean'] - p['mean']:+.2f}" if p else ""
            lines.append(f"| {link} | {r['column']} | {r['h2']} | {r['size']} | {_fmt(r['ours'])} | {_fmt(p, pct=False) if p else '—'} | {diff} |")
        if "teams" in rec and not rec.get("complete"):  # the apnea experiment runs in parts; its table is whole
            missing = missing_parts(rec)
            lines.append(
                f"| {link} | (parts not run: {', '.join(missing_named(rec))}; `vistransfer experiment {rec['experiment']} "
                f"--parts {','.join(missing)}`) | | | | | |"
            )
        elif "experiment" in rec and not rec.get("complete"):
            lines.append(f"| {link} | (still running: re-run `vistransfer experiment {rec['experiment']}` to finish) | | | | | |")
    return "\n".join(lines)


MARK_START, MARK_END = "<!-- results:start -->", "<!-- results:end -->"


def write_summary(results_dir: str | Path = "results", readme: str | Path | None = None) -> Path:
    """Write ``results_dir/README.md`` and, if given, replace the block between the results markers of ``readme``."""
    table = summary_markdown(results_dir)
    out = Path(results_dir) / "README.md"
    write_text(
        out,
        "# Results\n\nEvery number below comes from `results/*/results.json`, written by "
        "`vistransfer experiment NAME`; this file by `vistransfer summarize`.\n\n" + table + "\n",
    )
    if readme is not None:
        prefix = Path(os.path.relpath(Path(results_dir).resolve(), Path(readme).resolve().parent)).as_posix() + "/"
        table = summary_markdown(results_dir, prefix)
        text = Path(readme).read_text()
        if MARK_START not in text or MARK_END not in text:
            raise VistransferError(f"{readme} has no {MARK_START} ... {MARK_END} block to fill; add the two markers")
        head, rest = text.split(MARK_START, 1)
        tail = rest.split(MARK_END, 1)[1]
        write_text(readme, f"{head}{MARK_START}\n{table}\n{MARK_END}{tail}")
    return out
