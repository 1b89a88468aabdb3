"""Section 4.3, Table 5: sleep apnea from RR intervals, non-identifiable training data, a phone-sized student.

``experiments/table5.toml`` (``kind = "apnea"``) names two teams of four records, the random
minute split, the networks and the synthesis. ``vistransfer experiment table5`` then runs, per
seed and team: the teacher h1 on the team's real training minutes (Base OSA), visualizations of
it, a student h2 of the same architecture on them alone (h2 S., hard labels as the paper, and soft
labels at tau 4), and h_idt, trained on both teams' real training minutes to tell the team, scored
on each team's real test minutes (h_idt R.) and on its synthetic set (h_idt S.). Beyond the paper:
a record-wise cross-validation (train and test on different people), the recording-level verdict,
the phone (ONNX size, latency, accuracy, sensitivity, specificity, AUC) and a privacy audit
(loss-threshold and likelihood-ratio membership inference, nearest-neighbour distances).

Every unit of work is cached (keyed by its config and the package version) and
``results/table5/results.json`` and ``table.md`` are rewritten after each, so an interrupted run
continues where it stopped.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from ..config import TrainConfig, to_dict
from ..data import Split
from ..ecg.apnea import CLASSES, VALUE_RANGE, load_minutes
from ..evaluation import mean_std
from ..io import cache_key, versions
from ..models.spec import InputSpec, train_range
from ..models.teacher import Teacher, load_builtin, train_teacher
from ..models.train import predict_logits
from ..pipeline import make_synthetic, round_student_options, teacher_proba
from ..students import create_student
from ..synthesis.blend import add_blends
from ..synthesis.dataset import SyntheticDataset
from ..synthesis.offset import add_offsets
from ..synthesis.probe import add_probes
from .apnea_metrics import binary_metrics
from .apnea_phone import PhonePart
from .apnea_privacy import PrivacyPart
from .apnea_recordwise import RecordwisePart
from .apnea_report import PARTS as APNEA_PARTS
from .apnea_report import missing_parts, render
from .apnea_spec import ApneaExperiment, PhoneOptions
from .base import ExperimentRunner


class ApneaRunner(PrivacyPart, RecordwisePart, PhonePart, ExperimentRunner):
    """Runs a ``kind = "apnea"`` experiment part by part; ``jobs``: processes for the privacy audit's shadow
    pipelines (small 1-D networks use more cores better so than through more threads in one process)."""

    PARTS = APNEA_PARTS
    JOBS = True

    def __init__(self, exp: ApneaExperiment, *args, progress: bool = False, **kwargs):
        super().__init__(exp, *args, progress=progress, **kwargs)
        self._earlier: dict[str, Any] = {}  # the results record of an earlier run of this configuration and version

    # --- data -----------------------------------------------------------------------------
    def team_data(self, team: str, seed: int) -> dict[str, Split]:
        """The team's minutes, randomly subsampled into train / validation / test (the paper's split)."""
        d = self.minutes[team]
        n = len(d["y"])
        p = np.random.default_rng([seed, sum(map(ord, team))]).permutation(n)
        a, b = int(self.exp.split[0] * n), int((self.exp.split[0] + self.exp.split[1]) * n)
        mk = lambda idx: Split(d["x"][idx], d["y"][idx], CLASSES)  # noqa: E731
        return {"train": mk(p[:a]), "val": mk(p[a:b]), "test": mk(p[b:]), "train_idx": p[:a], "test_idx": p[b:]}

    def load_minutes(self) -> None:
        """Every team's labelled minutes (``self.minutes``), as each part uses them."""
        self.minutes = {team: load_minutes(self.data_dir, recs) for team, recs in self.exp.teams.items()}

    def spec_for(self, x: torch.Tensor) -> InputSpec:
        """The teacher's input: normalized by its training data, its domain the range that data occupies."""
        return InputSpec(tuple(x.shape[1:]), *train_range(x, VALUE_RANGE), mean=(float(x.mean()),), std=(float(x.std()),))

    def handed_over(self, t: Teacher) -> Teacher:
        """The teacher as it is handed over: with the experiment's shared domain, when it names one,
        in place of the range of the team's own training data (which tells the team apart)."""
        if self.exp.domain is None:
            return t
        return replace(t, spec=replace(t.spec, low=self.exp.domain[0], high=self.exp.domain[1]), _module=None)

    # --- cached units ---------------------------------------------------------------------
    @contextmanager
    def step(self, what: str, doing: str):
        """Log ``what: doing`` before a long step of a unit and ``what: done in N s`` after it."""
        self.log(f"{what}: {doing}")
        t0 = time.perf_counter()
        yield
        self.log(f"{what}: done in {time.perf_counter() - t0:.0f} s")

    def unit_identity(self) -> dict:
        return self.exp.identity()

    def teacher(self, name: str, train: Split, test: Split, seed: int, cfg: TrainConfig | None = None) -> Teacher:
        cfg = replace(cfg or self.exp.teacher, seed=seed)
        unit = {"teacher": name, "seed": seed, "cfg": to_dict(cfg), "n": len(train)}
        # the weights depend on the data, the split and the training, not on how they are probed or taught
        weights = {k: v for k, v in self.exp.identity(domain=False).items() if k not in ("synthesis", "student", "probe")}
        path = self.cache / "teachers" / f"{cache_key({**weights, **unit})}.pt"
        legacy = self.cache / "teachers" / f"{cache_key({**self.exp.identity(domain=False), **unit})}.pt"
        if not path.is_file() and legacy.is_file():  # keyed with synthesis and student up to 0.4.1
            os.replace(legacy, path)
        if path.is_file():
            return self.handed_over(load_builtin(path))
        with self.step(f"{name} (seed {seed})", f"training on {len(train):,} minutes"):
            t = train_teacher(train, test, cfg, name, self.exp.arch, self.device, progress=False, spec=self.spec_for(train.x))
            t.save(path)
        return self.handed_over(t)

    def synthetic(self, name: str, h1: Teacher, seed: int, n: int | None = None) -> SyntheticDataset:
        full = replace(self.exp.synthesis, seed=seed, n=n or self.exp.synthesis.n)
        cfg = full.am_only()  # the visualizations are cached without blends and offsets (those take a second)
        ident = {"teacher": h1.fingerprint, "cfg": to_dict(cfg)}
        if self.exp.domain is not None:  # the fingerprint names the weights, not the domain they are probed in
            ident["domain"] = [h1.spec.low, h1.spec.high]
        path = self.cache / "synth" / f"{cache_key(ident)}.pt"
        if path.is_file():
            ds = SyntheticDataset.load(path)
        else:
            with self.step(f"set {name} (seed {seed})", f"synthesizing {cfg.n:,} visualizations"):
                ds = make_synthetic(h1, cfg, self.device, progress=False)
                ds.save(path)
        ds = add_blends(ds, h1.module, full.blend, seed, self.device)
        ds = add_offsets(ds, h1.module, full.offset, full.offset_scale, h1.spec.low, h1.spec.high, seed, self.device)
        if self.exp.probe is None:
            return ds
        # the round students' training shapes the probes too
        ident.update(full.extension_ident(), probe=self.exp.probe, student=self.round_student)
        path = self.cache / "synth" / f"{cache_key(ident)}-probes.pt"  # probes cost student trainings: kept
        if path.is_file():
            return SyntheticDataset.load(path)
        with self.step(f"set {name} (seed {seed})", "finding probes against round students"):
            ds = self.add_probes(ds, h1, seed, self.exp.probe)
            ds.save(path)
        return ds

    @property
    def round_student(self) -> dict:
        """The probes' round students' options ([student]'s as pipeline.round_student_options makes them)."""
        return round_student_options(self.exp.student)

    def add_probes(self, ds: SyntheticDataset, h1: Teacher, seed: int, options: dict) -> SyntheticDataset:
        """``ds`` with probes (ProbeOptions as a dict) found against h2 round students (soft labels, tau 4)."""

        def fit(x, t):
            return self.student(x, t, seed, temperature=4.0, teacher=h1, members=1).net_

        return add_probes(ds, h1.module, fit, labels="soft", low=h1.spec.low, high=h1.spec.high, seed=seed, device=self.device, **options)

    def student(self, x, targets, seed: int, temperature: float = 1.0, teacher: Teacher | None = None, arch: str = "cnn_ecg", **over):
        """h2 (the teacher's architecture, unless ``arch`` names another). With ``teacher``, inputs are
        standardized with the teacher's normalization (part of its input spec), not with the visualizations' own spread."""
        kw = {**self.exp.student, **over, "seed": seed, "device": self.device, "temperature": temperature}
        if teacher is not None:
            kw["standardize"] = teacher.standardization(kw.get("standardize", False))
        return create_student(arch, **kw).fit(x, targets)

    # --- the experiment -------------------------------------------------------------------
    def cache_folder(self) -> str:
        return "apnea"

    def render(self) -> str:
        return render(self.record)

    def run(self, parts: tuple[str, ...] | None = None) -> dict:
        parts = parts or self.PARTS
        exp = self.exp
        t_start = time.perf_counter()
        self.out.mkdir(parents=True, exist_ok=True)
        self.load_minutes()
        self.record = {
            "experiment": exp.name,
            "title": exp.title,
            "paper_table": exp.paper_table,
            "description": exp.description,
            "command": f"vistransfer experiment {exp.name}",
            "spec_file": exp.source,
            "config": exp.identity(),
            "teams": {
                t: {"records": list(r), "minutes": int(len(self.minutes[t]["y"])), "apnea_fraction": float(self.minutes[t]["y"].float().mean())}
                for t, r in exp.teams.items()
            },
            "seeds": list(exp.seeds),
            "paper": exp.paper,
            "versions": versions(),
            "timings_s": {},
        }
        self.check_parts(parts)
        self._keep_other_parts(parts)
        for part in parts:
            t0, self._cached_s = time.perf_counter(), 0.0
            getattr(self, part)()
            # what the part costs to compute: this run's time plus what its cached units took when they ran
            self.record["timings_s"][part] = time.perf_counter() - t0 + self._cached_s
            self.write(final=False)
        self.record["wall_seconds"] = time.perf_counter() - t_start
        self.write(final=not missing_parts(self.record))
        return self.record

    def _keep_other_parts(self, parts: tuple[str, ...]) -> None:
        """A run of some parts keeps the other parts' results and timings, when the earlier record was
        made by the same configuration and package version (never one of an earlier configuration).
        That record also stays at hand (``self._earlier``) for the units a part finds in it."""
        self._earlier = {}
        old = self.earlier_record()
        same = old and (
            old.get("config") == json.loads(json.dumps(self.record["config"]))
            and old.get("versions", {}).get("vistransfer") == self.record["versions"]["vistransfer"]
        )
        if not same:
            return
        if old.get("recordwise", {}).get("cfg", self.recordwise_cfg) != self.recordwise_cfg:
            del old["recordwise"]  # made with other [recordwise] options, which the config does not hold
        if "phone" in old and old["phone"].get("cfg", PhoneOptions().model_dump()) != self.exp.phone:
            del old["phone"]  # likewise [phone]
        self._earlier = old
        self.keep_other_parts(parts, old)

    def table5(self) -> None:
        exp = self.exp
        teams = list(exp.teams)
        per_seed = []
        # seeds an earlier run of this configuration finished (its record travels with the results folder)
        earlier = {s["seed"]: s for s in self._earlier.get("table5", {}).get("per_seed", [])}
        for seed in exp.seeds:
            if seed in earlier:
                per_seed.append(earlier[seed])
                self._cached_s += earlier[seed].get("seconds", 0.0)
                self.log(f"table5 seed {seed}: done in an earlier run ({self.out / 'results.json'})")
                continue
            t0, cached0 = time.perf_counter(), self._cached_s
            data = {t: self.team_data(t, seed) for t in teams}

            def unit(team=None, seed=seed, data=data):
                d = data[team]
                h1 = self.teacher(f"apnea-{team}", d["train"], d["test"], seed)
                ds = self.synthetic(team, h1, seed)
                p_real = teacher_proba(h1, d["test"].x, self.device)[:, 1]
                y = d["test"].y.numpy()
                self.log(f"table5 {team} (seed {seed}): students h2, hard and soft labels")
                hard = self.student(ds.x, ds.targets("hard"), seed, teacher=h1)
                soft = self.student(ds.x, ds.targets("soft"), seed, temperature=4.0, teacher=h1)
                out = {"base": binary_metrics(y, p_real)}
                for key, h2 in (("h2_hard", hard), ("h2_soft", soft)):
                    p2 = h2.predict_proba(d["test"].x)[:, 1]
                    # the owner's threshold: the one the team's real validation minutes choose for the student
                    # (one number handed over with it; the student never trains on them, the test minutes are others)
                    thr = binary_metrics(d["val"].y.numpy(), h2.predict_proba(d["val"].x)[:, 1])["best_threshold"]
                    out.update({key: binary_metrics(y, p2), f"{key}_calibrated": binary_metrics(y, p2, thr)})
                return {
                    **out,
                    "synthesis": ds.meta["stats"],
                    "n_train": len(d["train"]),
                    "n_test": len(d["test"]),
                    **({"probes": ds.meta["probes"]["history"]} if "probes" in ds.meta else {}),
                }

            res = {t: self.cached("table5-team", {"team": t, "seed": seed}, lambda t=t: unit(t)) for t in teams}

            h1 = {t: self.teacher(f"apnea-{t}", data[t]["train"], data[t]["test"], seed) for t in teams}  # cached by the units
            sets = {t: self.synthetic(t, h1[t], seed) for t in teams}
            for t in teams:  # what each set holds beside its visualizations, counted in the set (cached units lack it)
                res[t].update(n_blends=sets[t].n_blends, n_offsets=sets[t].n_offsets, n_probes=sets[t].n_probes)

            h = self.idt_teacher(data, seed, teams)  # cached after its first training

            def idt(h=h, data=data, sets=sets):
                out = {}
                for i, t in enumerate(teams):
                    pr = predict_logits(h.module, data[t]["test"].x, self.device).argmax(1).numpy()
                    ps = predict_logits(h.module, sets[t].x, self.device).argmax(1).numpy()
                    out[t] = {
                        "real": float((pr == i).mean()),
                        "synthetic": float((ps == i).mean()),
                        "n_real": int(len(pr)),
                        "n_synthetic": int(len(ps)),
                    }
                return out

            res_idt = self.cached("table5-idt", {"seed": seed}, idt)
            for t in teams:  # the domain each team's teacher was handed over with, and G's sigmoid spans
                res_idt[t]["domain"] = [h1[t].spec.low, h1[t].spec.high]
            sep = None
            if len(teams) == 2:
                sep = self.idt_separability(h, data, sets, teams)
                if exp.domain is None:
                    for t, swap in self.idt_domain_swap(h, h1, sets, teams).items():
                        res_idt[t].update(swap)
            per_seed.append(
                {"seed": seed, "teams": res, "idt": res_idt, "idt_separability": sep, "seconds": time.perf_counter() - t0 + self._cached_s - cached0}
            )
            self.log(
                f"table5 seed {seed}: "
                + ", ".join(
                    f"{t}: base {100 * res[t]['base']['accuracy']:.1f}, h2 S. {100 * res[t]['h2_hard']['accuracy']:.1f}"
                    f" (soft {100 * res[t]['h2_soft']['accuracy']:.1f}), h_idt R. {100 * res_idt[t]['real']:.1f}, S. {100 * res_idt[t]['synthetic']:.1f}"
                    for t in teams
                )
            )
            # every finished seed goes into the record at once: an interrupted run keeps it, and the next run
            # of the same command (here or wherever the results folder goes) starts at the next seed
            self.record["table5"] = self._table5_record(per_seed, teams)
            if len(per_seed) < len(exp.seeds):
                self.write(final=False)
        self.record["table5"] = self._table5_record(per_seed, teams)

    def _table5_record(self, per_seed: list[dict], teams: list[str]) -> dict:
        """Table 5's record from the seeds done so far (``partial`` while some remain)."""
        exp, rows = self.exp, {}
        for t in teams:
            pick = lambda f: mean_std([f(s) for s in per_seed])  # noqa: E731
            # the set's counts, from the latest seed that recorded them (seeds of 0.5.0's first runs did not)
            counted = lambda k: next((s["teams"][t][k] for s in reversed(per_seed) if k in s["teams"][t]), None)  # noqa: E731
            rows[t] = {
                "base": pick(lambda s: s["teams"][t]["base"]["accuracy"]),
                "h2_hard": pick(lambda s: s["teams"][t]["h2_hard"]["accuracy"]),
                "h2_soft": pick(lambda s: s["teams"][t]["h2_soft"]["accuracy"]),
                "idt_real": pick(lambda s: s["idt"][t]["real"]),
                # at the owner's threshold (units of 0.5.0's first runs lack it: then the row has none)
                **{
                    f"{k}_calibrated": pick(lambda s, k=k: s["teams"][t][f"{k}_calibrated"]["accuracy"])
                    for k in ("h2_hard", "h2_soft")
                    if all(f"{k}_calibrated" in s["teams"][t] for s in per_seed)
                },
                "idt_synthetic": pick(lambda s: s["idt"][t]["synthetic"]),
                "idt_synthetic_swapped": pick(lambda s: s["idt"][t]["synthetic_swapped"]) if len(teams) == 2 and exp.domain is None else None,
                "domains": [s["idt"][t].get("domain") for s in per_seed],
                "n_test": per_seed[0]["teams"][t]["n_test"],
                "n_train": per_seed[0]["teams"][t]["n_train"],
                "n_synthetic": exp.synthesis.n,
                "n_blends": counted("n_blends"),
                "n_offsets": counted("n_offsets"),
                "n_probes": counted("n_probes"),
            }
        out = {"rows": rows, "per_seed": per_seed}
        if len(teams) == 2:  # h_idt on both teams' sets at once: balanced accuracy (chance 50%) and AUC (chance 0.5)
            out["idt_both"] = {
                "balanced_synthetic": mean_std([np.mean([s["idt"][t]["synthetic"] for t in teams]) for s in per_seed]),
                "balanced_real": mean_std([np.mean([s["idt"][t]["real"] for t in teams]) for s in per_seed]),
                "auc_synthetic": mean_std([s["idt_separability"]["auc_synthetic"] for s in per_seed]),
                "auc_real": mean_std([s["idt_separability"]["auc_real"] for s in per_seed]),
            }
        return {**out, "partial": True} if len(per_seed) < len(self.exp.seeds) else out

    def idt_teacher(self, data: dict, seed: int, teams: list[str]) -> Teacher:
        """h_idt: trained on every team's real training minutes to name the team."""
        x = torch.cat([data[t]["train"].x for t in teams])
        y = torch.cat([torch.full((len(data[t]["train"]),), i) for i, t in enumerate(teams)])
        return self.teacher("apnea-idt", Split(x, y, tuple(teams)), None, seed)

    def idt_separability(self, h: Teacher, data: dict, sets: dict[str, SyntheticDataset], teams: list[str]) -> dict[str, float]:
        """How well h_idt tells two teams' sets apart whatever its bias: the AUC of its team-2 score
        (logit difference) between team 1's and team 2's visualizations, and between their real test
        minutes. h_idt S. per team mixes this with h_idt's lean on data unlike what it was trained
        on (visualizations all called one team give 100% and 0%: a bias, not an identification)."""
        from sklearn.metrics import roc_auc_score

        def auc(xs: list[torch.Tensor]) -> float:
            score = torch.cat([predict_logits(h.module, x, self.device).diff(dim=1)[:, 0] for x in xs]).numpy()
            return float(roc_auc_score(np.repeat([0, 1], [len(x) for x in xs]), score))

        return {"auc_synthetic": auc([sets[t].x for t in teams]), "auc_real": auc([data[t]["test"].x for t in teams])}

    def idt_domain_swap(self, h: Teacher, h1: dict[str, Teacher], sets: dict[str, SyntheticDataset], teams: list[str]) -> dict[str, dict]:
        """h_idt S. once each team's visualizations are mapped linearly from its teacher's input domain
        (the range of that team's training data, part of the teacher handed over) into the other
        team's: what is left of the team's identity once the domain no longer tells it."""
        out = {}
        for i, t in enumerate(teams):
            other = h1[teams[1 - i]].spec
            lo, hi = h1[t].spec.low, h1[t].spec.high
            moved = other.low + (sets[t].x - lo) / (hi - lo) * (other.high - other.low)
            out[t] = {"synthetic_swapped": float((predict_logits(h.module, moved, self.device).argmax(1) == i).float().mean())}
        return out
