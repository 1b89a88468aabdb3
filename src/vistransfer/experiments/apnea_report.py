"""results/table5/table.md from the apnea experiment's record: ours beside the paper's, with n stated."""

from __future__ import annotations

from ..config import SynthesisConfig
from ..evaluation import fmt_frac

PARTS = ("table5", "figure4", "phone", "privacy", "recordwise")  # the apnea experiment's parts, in run order


def _count(row: dict, what: str) -> str:
    """' + 12 blends' when the row's set has ``n_blends``, else ''."""
    return f" + {row[f'n_{what}']} {what}" if row.get(f"n_{what}") else ""


def missing_parts(rec: dict) -> list[str]:
    """The parts an apnea record has no (or only some) results for, in run order."""
    return [p for p in PARTS if p not in rec or rec[p].get("partial")]


def missing_named(rec: dict) -> list[str]:
    """``missing_parts``, a partly done part with how much of it is done: "recordwise (1 of 5 folds done)"."""
    done = {
        "table5": lambda r: f"{len(r['per_seed'])} of {len(rec['seeds'])} seeds",
        "recordwise": lambda r: f"{len(r['per_fold'])} of {r['folds']} folds",
        "privacy": lambda r: f"{len(r['per_shadow'])} of {r['shadows']} shadows",
    }
    return [p + (f" ({done[p](rec[p])} done)" if p in rec and p in done else "") for p in missing_parts(rec)]


def _pct(ms: dict | None) -> str:
    if not ms:
        return "(pending)"
    if ms.get("n", 2) < 2:  # one seed or fold so far: no spread to give
        return f"{100 * ms['mean']:.2f}"
    return f"{100 * ms['mean']:.2f} ± {100 * ms['std']:.2f}"


def render(rec: dict) -> str:
    out = [f"# {rec['title']}", "", rec.get("description", "").strip(), ""]
    teams = rec.get("teams", {})
    out += ["Teams (records, labelled minutes kept, apnea share):", ""]
    out += [f"- **{t}**: {', '.join(v['records'])}; {v['minutes']} minutes, {100 * v['apnea_fraction']:.1f}% apnea" for t, v in teams.items()]
    if rec.get("config", {}).get("arch", {}).get("window_norm"):
        out += [
            "",
            "Every network (h1, h2 and h_idt) standardizes each 5-minute window by its own mean and std first: "
            "it sees the RR series' rhythm, not the heart rate's level or spread (`[arch] window_norm`, "
            '`[student] standardize = "window"`).',
        ]
    blend = rec.get("config", {}).get("synthesis", {}).get("blend")
    if blend:
        out += [
            "",
            f"Beyond the paper: the students' set also holds {blend:g} blend(s) per visualization, lam * a + (1 - lam) * b of "
            "two visualizations the teacher assigns to different classes (lam uniform in [0, 1]), labelled by the teacher "
            "(`[synthesis] blend`, synthesis/blend.py); h_idt S. is measured on the whole set.",
        ]
    syn = rec.get("config", {}).get("synthesis", {})
    if syn.get("offset"):
        out += [
            "",
            f"Beyond the paper: the set also holds {syn['offset']:g} offset(s) per example of visualizations and blends, "
            f"the example plus one constant drawn from ±{syn.get('offset_scale', SynthesisConfig.offset_scale):g} times the teacher's domain width, "
            "labelled by the teacher (`[synthesis] offset`, synthesis/offset.py).",
        ]
    t5 = rec.get("table5")
    if t5:
        seeds = [s["seed"] for s in t5["per_seed"]]
        if t5.get("partial"):
            out += ["", f"**{len(seeds)} of {len(rec['seeds'])} seeds so far**: re-run the command below to finish; it starts at the next seed."]
        out += [
            "",
            f"Accuracy (%) on each team's real test minutes (random minute split), mean ± std over seeds {seeds}.",
            "h2 S. is trained on visualizations alone; h_idt S. is h_idt's accuracy at naming the team of that team's visualizations (chance 50%).",
            "",
            "| | Base OSA | h2 S. (hard, paper) | h2 S. (soft, τ = 4, ours) | h_idt R. | h_idt S. | test minutes | visualizations |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for t, r in t5["rows"].items():
            out.append(
                f"| ours, {t} | {_pct(r['base'])} | {_pct(r['h2_hard'])} | {_pct(r['h2_soft'])} | {_pct(r['idt_real'])} | "
                f"{_pct(r['idt_synthetic'])} | {r['n_test']} | {r['n_synthetic']}"
                f"{_count(r, 'blends')}"
                f"{_count(r, 'offsets')}"
                f"{_count(r, 'probes')} |"
            )
            p = rec.get("paper", {}).get(t)
            if p:
                out.append(f"| paper, {t} | {p[0]:.2f} | {p[1]:.2f} | — | {p[2]:.2f} | {p[3]:.2f} | | |")
        calibrated = {t: r for t, r in t5["rows"].items() if "h2_hard_calibrated" in r}
        if calibrated:
            val = rec.get("config", {}).get("split", [0, 0.2])[1]
            out += [
                "",
                f"The same students at the owner's threshold: the one the team's real validation minutes ({100 * val:.0f}% "
                "of its minutes, apart from train and test) choose for each student, one number the data's owner computes "
                "and hands over with it; the student never trains on those minutes. Beside them, the students at 0.5 "
                "(above) and their teacher:",
                "",
                "| | Base OSA | h2 S. hard, at 0.5 | h2 S. hard, owner's threshold | h2 S. soft, at 0.5 | h2 S. soft, owner's threshold |",
                "|---|---|---|---|---|---|",
            ]
            for t, r in calibrated.items():
                out.append(
                    f"| ours, {t} | {_pct(r['base'])} | {_pct(r['h2_hard'])} | {_pct(r['h2_hard_calibrated'])} | "
                    f"{_pct(r['h2_soft'])} | {_pct(r['h2_soft_calibrated'])} |"
                )
        both = t5.get("idt_both")
        if both:
            out += [
                "",
                "h_idt on both teams at once (chance: 50% and 0.5). Per team, h_idt S. also carries h_idt's lean on "
                "series unlike the real minutes it was trained on; these do not:",
                "",
                "| | balanced accuracy | AUC of h_idt's score, team 1 against team 2 |",
                "|---|---|---|",
                f"| real test minutes | {_pct(both['balanced_real'])} | {both['auc_real']['mean']:.3f} ± {both['auc_real']['std']:.3f} |",
                f"| visualizations | {_pct(both['balanced_synthetic'])} | {both['auc_synthetic']['mean']:.3f} ± {both['auc_synthetic']['std']:.3f} |",
            ]
        swapped = {t: r for t, r in t5["rows"].items() if r.get("idt_synthetic_swapped")}
        shared = rec.get("config", {}).get("domain")
        if shared:
            out += [
                "",
                f"Both teams' teachers are handed over with one shared input domain, {shared[0]:.2f}–{shared[1]:.2f} s "
                "(fixed in the experiment file, not read from either team's data), and G's sigmoid spans it; with each "
                "team's own training range instead, that range names the team (see docs/apnea.md).",
            ]
        if swapped:
            out += [
                "",
                "What tells h_idt the team of a visualization: each teacher's input domain is the range its team's "
                "training minutes occupy (0.1% and 99.9% quantiles; it travels with the teacher), and G's sigmoid spans it. "
                "Mapped linearly into the other team's domain, the same visualizations are named:",
                "",
                "| | teacher's domain (s, seed 0) | h_idt S. | h_idt S., in the other team's domain |",
                "|---|---|---|---|",
            ]
            for t, r in swapped.items():
                dom = r["domains"][0]
                out.append(f"| {t} | {dom[0]:.2f}–{dom[1]:.2f} | {_pct(r['idt_synthetic'])} | {_pct(r['idt_synthetic_swapped'])} |")
    rw = rec.get("recordwise")
    if rw:
        out += [
            "",
            f"## Record-wise: train and test on different people ({rw['folds']}-fold over the 35 learning-set records, {rw['epochs']} epochs)",
            "",
        ]
        if rw.get("partial"):
            out += [
                f"**{len(rw['per_fold'])} of {rw['folds']} folds so far** (folds {', '.join(str(r['fold']) for r in rw['per_fold'])}): "
                "re-run the command below to finish; it starts at the next fold.",
                "",
            ]
        best = "best_accuracy" in rw["pooled"]["student"]  # not in results made before 0.5.0's oracle column
        out += [
            "| model | accuracy | sensitivity | specificity | AUC |" + (" accuracy at the best threshold (oracle) |" if best else ""),
            "|---|---|---|---|---|" + ("---|" if best else ""),
        ]
        for m, name in (
            ("teacher", "teacher h1 (real minutes)"),
            ("student", "student h2 (visualizations, hard labels)"),
            ("student_calibrated", "student h2, threshold from the training people's minutes"),
        ):
            if m not in rw["pooled"]:
                continue
            p = rw["pooled"][m]
            out.append(
                f"| {name} | {_pct(p['accuracy'])} | {_pct(p['sensitivity'])} | {_pct(p['specificity'])} | {fmt_frac(p['auc'])} |"
                + (f" {_pct(p['best_accuracy'])} |" if best else "")
            )
        out += [
            "",
            "Mean ± std over folds. Published per-minute accuracies with a record-wise split reach 87–91% "
            "(RR plus R-amplitude features, the full 35/35 challenge split); here RR only, no amplitudes "
            "(the ECG `.dat` files are not available), 35 records in 5 folds.",
        ]
        if best:
            out += [
                "The last column is the accuracy at the threshold each fold's held-out minutes would choose from their own "
                "labels, which no deployment has: beside the accuracy at 0.5 it shows how much of a gap is the operating "
                "point and how much the ranking."
            ]
        if "student_calibrated" in rw["pooled"]:
            out += [
                "The calibrated row is the same student at the threshold that the training people's real minutes choose "
                "for it: one number the data's owner can compute and ship with the student (the student never trains on "
                "those minutes, and the test people are others)."
            ]
        rl = rw.get("recording_level", {})
        for m, r in rl.items():
            out.append(
                f"- Recording level ({m.replace('_', ', ')}): {r['a_vs_c_correct']}/{r['a_vs_c_records']} apnea (A, ≥ 100 apnea minutes) "
                "vs normal (C, < 5) nights right from the predicted apnea minutes of held-out records."
            )
    ph = rec.get("phone")
    if ph:
        weights = all("parameters" in m for m in ph["models"].values())  # not in records made before 0.5.0's [phone]
        out += [
            "",
            f"## The phone ({ph['team']}, seed {ph['seed']}; ONNX Runtime, one CPU core, one 5-minute window)",
            "",
            "| model |" + (" weights |" if weights else "") + " size (KB) | latency per minute (ms) | accuracy | sensitivity | specificity | AUC |",
            "|---|" + ("---|" if weights else "") + "---|---|---|---|---|---|",
        ]
        for name, m in ph["models"].items():
            out.append(
                f"| {name} |" + (f" {m['parameters']:,} |" if weights else "") + f" {m['size_kb']:.1f} | {m['latency_ms_one_core']:.3f} | "
                f"{100 * m['accuracy']:.2f} | {100 * m['sensitivity']:.2f} | {100 * m['specificity']:.2f} | {m['auc']:.3f} |"
            )
        cfg = ph.get("cfg", {})
        for name, st in cfg.get("students", {}).items():
            members = f", {st['members']} network(s)" if st.get("members") else ""
            labels = f"soft labels at τ = {st['temperature']:g}" if st["labels"] == "soft" else "hard labels"
            out.append(f"- {name}: `{st['arch']}` on h2's set, {labels}{members}.")
        if cfg.get("int8"):
            out.append(
                "- int8: ONNX Runtime's static quantization (weights int8 per channel, activations uint8; the "
                "output layer and softmax in float), calibrated on "
                "what each model learned from: the teacher on its training minutes, a student on its synthetic set (no real "
                "minutes)."
            )
    pv = rec.get("privacy")
    if pv:
        out += ["", f"## Privacy audit ({pv['team']}, seed {pv['seed']}, {pv['shadows']} shadow models)", ""]
    if pv and pv.get("partial"):
        out += [
            f"**{len(pv['per_shadow'])} of {pv['shadows']} shadow pipelines so far**: re-run the command below with "
            "`--parts privacy` to finish; it starts at the next shadow."
        ]
        if "interim" in pv:
            out += [
                "",
                f"Interim audit from the {pv['interim']['shadows_done']} shadows done: LiRA's figures may still move "
                "with more shadows (the table of fewer shadows shows how much); the loss threshold and the distances are final.",
                "",
            ]
            out += _audit_lines(pv["interim"])
        else:
            out += ["The audit is computed once the audited pipeline and a quarter of the shadows are done."]
    elif pv:
        out += _audit_lines(pv)
    if rec.get("timings_s"):
        out += [
            "",
            "Compute time (s, 2-core CPU; cached units counted at the time they took): "
            + ", ".join(f"{k} {v:.0f}" for k, v in rec["timings_s"].items()),
        ]
    missing = missing_named(rec)
    status = "complete" if rec.get("complete") else f"not run yet: {', '.join(missing)}" if missing else "in progress"
    if "figure4" in rec:
        out += ["", "Figure 4 (real and generated series): [figure4.png](figure4.png)"]
    out += ["", f"Regenerate: `vistransfer experiment {rec['experiment']} --data-dir ../shared/datasets` (status: {status}).", ""]
    return "\n".join(out)


def _audit_lines(pv: dict) -> list[str]:
    """The privacy audit's tables (a finished audit's or an interim one's)."""
    out = [
        "Membership inference against the real training minutes (members) and the team's real test minutes "
        "(non-members). Goal for the student: AUC ≤ 0.52 and TPR at 1% FPR ≤ 2%.",
        "",
        "| model | loss-threshold AUC | TPR @ 1% FPR | LiRA AUC | LiRA TPR @ 1% FPR |",
        "|---|---|---|---|---|",
    ]
    for m in ("teacher", "student"):
        a, b = pv[m]["threshold_attack"], pv[m]["lira"]
        out.append(f"| {m} | {a['auc']:.3f} | {100 * a['tpr_at_0.01_fpr']:.2f}% | {b['auc']:.3f} | {100 * b['tpr_at_0.01_fpr']:.2f}% |")
    stab = {m: pv[m].get("lira_by_shadows") for m in ("teacher", "student") if pv[m].get("lira_by_shadows")}
    if stab:
        f = lambda v: f"{v['auc']['mean']:.3f} ± {v['auc']['std']:.3f} / {100 * v['tpr']['mean']:.2f}%"  # noqa: E731
        ks = sorted(next(iter(stab.values())), key=int)
        out += [
            "",
            "LiRA with fewer shadows (AUC ± std / TPR @ 1% FPR over 20 random subsets of the shadows): how much "
            "the audit still moves with their number.",
            "",
            "| model | " + " | ".join(f"{k} shadows" for k in ks) + " |",
            "|---" * (len(ks) + 1) + "|",
        ]
        out += [f"| {m} | " + " | ".join(f(v[k]) for k in ks) + " |" for m, v in stab.items()]
    nn = pv["nearest_real_training_series"]
    out += [
        "",
        f"Distance to the nearest real training window ({nn['unit']}): visualizations median {nn['synthetic']['median']:.3f} "
        f"(5th percentile {nn['synthetic']['p5']:.3f}, min {nn['synthetic']['min']:.3f}); real held-out minutes median "
        f"{nn['real_held_out']['median']:.3f} (5th percentile {nn['real_held_out']['p5']:.3f}, min {nn['real_held_out']['min']:.3f}).",
    ]
    return out
