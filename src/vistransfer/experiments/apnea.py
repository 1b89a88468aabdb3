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
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from ..config import SynthesisConfig, TrainConfig, from_dict, student_options, to_dict
from ..data import Split
from ..ecg.apnea import CLASSES, VALUE_RANGE, available_records, find_root, load_minutes
from ..errors import VistransferError
from ..evaluation import mean_std
from ..export import export_onnx, latency_ms, onnx_predict, quantize_int8
from ..io import cache_key, fingerprint, versions, write_json
from ..models.nets import ConvArch
from ..models.spec import InputSpec, train_range
from ..models.teacher import Teacher, load_builtin, train_teacher
from ..models.train import predict_logits
from ..pipeline import make_synthetic, round_student_options, teacher_proba
from ..privacy import attack_metrics, lira_by_shadow_count, lira_scores, logit_confidence, nearest_distances
from ..students import create_student
from ..students.neural import NeuralStudent
from ..students.registry import canonical_name
from ..synthesis.blend import add_blends
from ..synthesis.dataset import SyntheticDataset
from ..synthesis.offset import add_offsets
from ..synthesis.probe import add_probes
from ..viz import plt, save_figure
from .apnea_report import PARTS as APNEA_PARTS
from .apnea_report import missing_parts, render
from .base import ExperimentRunner
from .spec import ExperimentHeader, parse_file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProbeOptions(_Strict):
    """[probe]: probes where a student disagrees with h1, added after the blends (synthesis/probe.py)."""

    ratio: float = Field(gt=0, le=100, description="probes per example of the set (visualizations and blends)")
    rounds: int = Field(3, ge=1, le=20)
    steps: int = Field(10, ge=1, le=1000)
    step_size: float = Field(0.01, gt=0, le=1)  # 0.05 until 0.5.0: benchmarks/apnea_sweep.py, blend_probe_fine


class PhoneStudent(_Strict):
    """One more student of the phone part, trained on h2's set: another architecture, labels or ensemble size."""

    arch: str = "cnn_ecg"
    labels: Literal["hard", "soft"] = "hard"
    temperature: float = Field(1.0, ge=1, le=100)
    members: int | None = Field(None, ge=1, le=16)  # None: [student]'s


class PhoneOptions(_Strict):
    """[phone]: what is exported beside the teacher and h2 (``students``, by row name), and whether each network
    is also quantized to 8 bits (``int8``: the teacher calibrated on its training minutes, a student on its set)."""

    students: dict[str, PhoneStudent] = {}
    int8: bool = False


class ApneaFile(ExperimentHeader):
    dataset: str = "apnea-ecg"
    seeds: list[int] = Field([0, 1, 2], min_length=1)
    split: list[float] = Field([0.6, 0.2, 0.2], min_length=3, max_length=3)
    teams: dict[str, list[str]]
    arch: dict[str, Any] = {}
    teacher: dict[str, Any] = {}
    student: dict[str, Any] = {}
    synthesis: dict[str, Any] = {}
    n_synthetic: int = Field(2400, gt=0)
    domain: Literal["team"] | tuple[float, float] = "team"
    paper: dict[str, list[float]] = {}
    recordwise: dict[str, Any] = {}
    privacy: dict[str, Any] = {}
    probe: ProbeOptions | None = None
    phone: PhoneOptions = PhoneOptions()


@dataclass(frozen=True)
class ApneaExperiment:
    name: str
    title: str
    paper_table: str
    description: str
    seeds: tuple[int, ...]
    split: tuple[float, float, float]
    teams: dict[str, tuple[str, ...]]
    arch: ConvArch
    teacher: TrainConfig
    student: dict[str, Any]
    synthesis: SynthesisConfig
    domain: tuple[float, float] | None  # None: each team's teacher carries its own training range
    paper: dict[str, list[float]]
    recordwise: dict[str, Any]
    privacy: dict[str, Any]
    source: str
    probe: dict[str, Any] | None = None  # ProbeOptions as a dict; None: no probes
    phone: dict[str, Any] = field(default_factory=lambda: PhoneOptions().model_dump())  # not in identity(): the part records it

    def identity(self, domain: bool = True) -> dict:
        """What the results depend on. Without ``domain``: what trained weights depend on (the domain
        handed over with a teacher steers its visualizations, not its training)."""
        ident = {
            "split": self.split,
            "teams": self.teams,
            "arch": self.arch.to_dict(),
            "teacher": to_dict(self.teacher),
            "student": self.student,
            "synthesis": to_dict(self.synthesis),
        }
        if domain and self.domain is not None:  # absent at the default, so earlier caches stay valid
            ident["domain"] = list(self.domain)
        if self.probe is not None:  # likewise
            ident["probe"] = self.probe
        return ident


def load_apnea_experiment(path: Path, raw: dict) -> ApneaExperiment:
    f = parse_file(ApneaFile, raw, path)
    if len(f.teams) != 2 or any(len(r) == 0 for r in f.teams.values()):
        raise VistransferError(f"{path}: [teams] must name two teams of records, e.g. team1 = ['a03', ...]")
    if abs(sum(f.split) - 1) > 1e-6 or min(f.split) <= 0:
        raise VistransferError(f"{path}: split must be three positive fractions (train, validation, test) summing to 1")
    arch = ConvArch.from_dict({**ConvArch().to_dict(), **f.arch})
    teacher = from_dict(TrainConfig, {"epochs": 30, "batch_size": 64, "lr": 2e-3, **f.teacher})
    synth = from_dict(SynthesisConfig, {**f.synthesis, "n": f.n_synthetic})
    if any(k.startswith("probe") for k in f.synthesis):
        raise VistransferError(
            f"{path}: probes of the apnea experiments are set in their own [probe] section "
            "(ratio, rounds, steps, step_size: their round students are h2), not in [synthesis]"
        )
    for row, st in f.phone.students.items():
        name = canonical_name(st.arch)
        if name in ("svm", "rf", "mlp"):
            raise VistransferError(f"{path}: [phone.students.{row!r}] arch must be a convolutional student (e.g. cnn_ecg_small), got {st.arch!r}")
    domain = None if f.domain == "team" else tuple(float(v) for v in f.domain)
    if domain is not None and not VALUE_RANGE[0] <= domain[0] < domain[1] <= VALUE_RANGE[1]:
        raise VistransferError(
            f'{path}: domain must be "team" or [low, high] seconds with '
            f"{VALUE_RANGE[0]} <= low < high <= {VALUE_RANGE[1]} (the cleaned RR range); got {list(domain)}"
        )
    return ApneaExperiment(
        path.stem,
        f.title,
        f.paper_table,
        f.description,
        tuple(f.seeds),
        tuple(f.split),
        {k: tuple(v) for k, v in f.teams.items()},
        arch,
        teacher,
        student_options(f.student, f"{path} [student]"),
        synth,
        domain,
        f.paper,
        f.recordwise,
        f.privacy,
        str(path),
        f.probe.model_dump() if f.probe is not None else None,
        f.phone.model_dump(),
    )


def binary_metrics(y: np.ndarray, p_apnea: np.ndarray, threshold: float = 0.5) -> dict:
    """Accuracy, sensitivity (apnea minutes found), specificity and AUC of P(apnea) (N,) at ``threshold``.

    ``best_accuracy`` is the accuracy at the threshold these very minutes would choose (``best_threshold``,
    from their own labels: an oracle no deployment has). Beside ``accuracy`` it splits a gap into the
    ranking (what no threshold recovers) and the operating point (what a better threshold would).
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    pred = (p_apnea >= threshold).astype(int)
    pos, neg = y == 1, y == 0
    out = {
        "threshold": float(threshold),
        "accuracy": float((pred == y).mean()),
        "sensitivity": float(pred[pos].mean()) if pos.any() else float("nan"),
        "specificity": float(1 - pred[neg].mean()) if neg.any() else float("nan"),
        "auc": float("nan"),
        "best_accuracy": float("nan"),
        "best_threshold": float("nan"),
        "n": int(len(y)),
    }
    if pos.any() and neg.any():
        fpr, tpr, thr = roc_curve(y, p_apnea)
        acc = (tpr * pos.sum() + (1 - fpr) * neg.sum()) / len(y)
        i = int(np.argmax(acc))
        out.update(auc=float(roc_auc_score(y, p_apnea)), best_accuracy=float(acc[i]), best_threshold=float(min(thr[i], 1.0)))
    return out


class ApneaRunner(ExperimentRunner):
    """Runs a ``kind = "apnea"`` experiment part by part; ``jobs``: processes for the privacy audit's shadow
    pipelines (small 1-D networks use more cores better so than through more threads in one process)."""

    PARTS = APNEA_PARTS
    JOBS = True

    def __init__(self, exp: ApneaExperiment, *args, progress: bool = False, **kwargs):
        super().__init__(exp, *args, progress=progress, **kwargs)
        self._cached_s = 0.0  # seconds the cached units of the running part took when they were computed
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

    def cached(self, kind: str, ident: dict, make: Callable[[], dict], earlier: dict | None = None) -> dict:
        """The unit's result from the cache, else ``earlier`` (the same unit in the results record an earlier
        run of this configuration and version wrote, which travels with the results folder when the cache
        does not), else ``make()``; whatever is found or made is cached."""
        path = self.unit_path(kind, ident)
        if path.is_file() or earlier is not None:
            res = json.loads(path.read_text()) if path.is_file() else earlier
            if not path.is_file():
                write_json(path, res)
            self._cached_s += res.get("seconds", 0.0)
            return res
        t0 = time.perf_counter()
        res = make()
        res["seconds"] = time.perf_counter() - t0
        write_json(path, res)
        return res

    def unit_path(self, kind: str, ident: dict) -> Path:
        """Where ``cached`` keeps the unit ``ident`` of ``kind``."""
        return self.cache / kind / f"{cache_key({**self.exp.identity(), **ident})}.json"

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
        prev = self.out / "results.json"
        if not prev.is_file():
            return
        try:
            old = json.loads(prev.read_text())
        except (OSError, json.JSONDecodeError):
            return
        same = (
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
        for part in self.PARTS:
            if part not in parts and part in old:
                self.record[part] = old[part]
                if part in old.get("timings_s", {}):
                    self.record["timings_s"][part] = old["timings_s"][part]

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

    def figure4(self) -> None:
        """Real and generated series side by side (the paper's Figure 4), team 1, seed 0."""
        team, seed = list(self.exp.teams)[0], self.exp.seeds[0]
        d = self.team_data(team, seed)
        ds = self.synthetic(team, self.teacher(f"apnea-{team}", d["train"], d["test"], seed), seed)
        fig, axes = plt.subplots(2, 2, figsize=(10, 5), sharey=True)
        t = np.arange(ds.x.shape[-1]) / 4.0
        g = np.random.default_rng(0)
        for c in (0, 1):
            real = d["test"].x[d["test"].y == c]
            syn = ds.x[(ds.target == c) & ds.from_am]  # visualizations, not the blends or probes beside them
            for j in g.choice(len(real), min(3, len(real)), replace=False):
                axes[c, 0].plot(t, real[j, 0].numpy(), lw=0.8)
            for j in g.choice(len(syn), min(3, len(syn)), replace=False):
                axes[c, 1].plot(t, syn[j, 0].numpy(), lw=0.8)
            axes[c, 0].set_ylabel(f"{CLASSES[c]}\nRR (s)", fontsize=8)
        axes[0, 0].set_title("real minutes (test set)", fontsize=9)
        axes[0, 1].set_title("visualizations of h1", fontsize=9)
        for ax in axes[1]:
            ax.set_xlabel("time in the 5-minute window (s); the labelled minute is 120-180 s", fontsize=8)
        save_figure(fig, self.out / "figure4.png")
        self.record["figure4"] = {"file": "figure4.png", "team": team, "seed": seed, "series_per_panel": 3}

    def phone(self) -> None:
        """Team 1, seed 0: the student (trained on visualizations only) as ONNX, beside the teacher, and the
        [phone] options' further students (e.g. a smaller network) and 8-bit versions of every network."""
        opts = self.exp.phone
        team, seed = list(self.exp.teams)[0], self.exp.seeds[0]
        d = self.team_data(team, seed)
        h1 = self.teacher(f"apnea-{team}", d["train"], d["test"], seed)
        ds = self.synthetic(team, h1, seed)
        y = d["test"].y.numpy()
        models = [
            ("teacher h1 (real minutes)", NeuralStudent.from_net("cnn_ecg", h1.module, h1.in_shape, h1.n_classes), d["train"].x),
            ("student h2 (visualizations, hard)", self.student(ds.x, ds.targets("hard"), seed, teacher=h1), ds.x),
        ]
        for name, st in opts["students"].items():
            over = {} if st["members"] is None else {"members": st["members"]}
            models.append(
                (
                    name,
                    self.student(
                        ds.x, ds.targets(st["labels"]), seed, temperature=st["temperature"], teacher=h1, arch=canonical_name(st["arch"]), **over
                    ),
                    ds.x,
                )
            )
        out = {}
        for name, model, calibration in models:
            path = self.cache / "onnx" / f"{name.split()[0]}-{fingerprint(model.net_.state_dict())[:16]}.onnx"  # one file per model
            export_onnx(model, path)
            ref = model.predict_proba(d["test"].x)[:, 1]
            weights = sum(t.numel() for t in model.net_.parameters())
            files = {name: path}
            if opts["int8"]:
                files[f"{name}, int8"] = quantize_int8(path, path.with_name(path.stem + "-int8.onnx"), calibration.numpy(), seed=seed)
            for row, f in files.items():
                p = onnx_predict(f, d["test"].x.numpy())[:, 1]
                out[row] = {
                    "size_kb": f.stat().st_size / 1024,
                    "latency_ms_one_core": latency_ms(f, h1.in_shape),
                    "parameters": weights,
                    "onnx_vs_torch_max_diff": float(np.abs(p - ref).max()),
                    **binary_metrics(y, p),
                }
        self.record["phone"] = {"team": team, "seed": seed, "cfg": opts, "models": out}

    def privacy_setup(self) -> dict:
        """What every shadow pipeline of the privacy audit shares: the team, seed and shadow count, the team's
        split, and the pool of real minutes the attacks score (the teacher's training minutes, its members,
        then the team's test minutes)."""
        cfg = {"shadows": 16, "team": list(self.exp.teams)[0], **self.exp.privacy}
        team, seed = cfg["team"], self.exp.seeds[0]
        d = self.team_data(team, seed)
        pool_idx = np.r_[d["train_idx"], d["test_idx"]]
        full = self.minutes[team]
        return {
            "team": team,
            "seed": seed,
            "shadows": int(cfg["shadows"]),
            "data": d,
            "pool": len(pool_idx),
            "x": full["x"][pool_idx],
            "y": full["y"][pool_idx],
            "member": np.r_[np.ones(len(d["train_idx"]), bool), np.zeros(len(d["test_idx"]), bool)],
        }

    @staticmethod
    def shadow_key(setup: dict, s: int) -> dict:
        """Shadow ``s``'s cache identity (beside the experiment's)."""
        return {"team": setup["team"], "seed": setup["seed"], "shadow": s}

    def privacy_shadow(self, setup: dict, s: int, earlier: dict | None = None) -> dict:
        """Shadow pipeline ``s`` (cached): a teacher on a random half of the pool, its synthetic set and
        its student, made as the audited ones are; membership and both models' confidences on the pool."""

        def shadow():
            rng = np.random.default_rng([setup["seed"], 1000 + s])
            inn = rng.random(setup["pool"]) < 0.5
            tr = Split(setup["x"][inn], setup["y"][inn], CLASSES)
            hs = self.teacher(f"shadow-{setup['team']}-{s}", tr, None, 1000 + s)
            dss = self.synthetic(f"shadow-{s}", hs, 1000 + s)
            ss = self.student(dss.x, dss.targets("hard"), 1000 + s, teacher=hs)
            return {
                "in": inn.tolist(),
                "teacher": logit_confidence(hs.module, setup["x"], setup["y"]).tolist(),
                "student": logit_confidence(ss.net_, setup["x"], setup["y"]).tolist(),
            }

        return self.cached("privacy-shadow", self.shadow_key(setup, s), shadow, earlier=earlier)

    def privacy_target(self, setup: dict, earlier: dict | None = None) -> dict:
        """The audited pipeline (cached): the team's teacher, its synthetic set and its student, as Table 5 makes
        them; both models' confidences on the pool, and each synthetic and held-out series' distance to its
        nearest real training series."""

        def target():
            team, seed, d = setup["team"], setup["seed"], setup["data"]
            h1 = self.teacher(f"apnea-{team}", d["train"], d["test"], seed)
            ds = self.synthetic(team, h1, seed)
            h2 = self.student(ds.x, ds.targets("hard"), seed, teacher=h1)
            q = lambda a: {"median": float(np.median(a)), "p5": float(np.percentile(a, 5)), "min": float(a.min())}  # noqa: E731
            return {
                "teacher": logit_confidence(h1.module, setup["x"], setup["y"]).tolist(),
                "student": logit_confidence(h2.net_, setup["x"], setup["y"]).tolist(),
                "nearest_real_training_series": {
                    "synthetic": q(nearest_distances(ds.x, d["train"].x)),
                    "real_held_out": q(nearest_distances(d["test"].x, d["train"].x)),
                    "unit": "L2 distance between 1,200-sample RR windows, seconds",
                },
            }

        return self.cached("privacy-target", {"team": setup["team"], "seed": setup["seed"]}, target, earlier=earlier)

    @staticmethod
    def privacy_audit(setup: dict, target: dict, found: dict[int, dict]) -> dict:
        """The attacks on the audited teacher and student, from the shadows in ``found`` (all of them, or
        those done so far for an interim audit): the loss threshold and LiRA, LiRA again from random subsets
        of a quarter and a half of the shadows, and the nearest-series distances."""
        k, n, member = setup["shadows"], len(found), setup["member"]
        ids = sorted(found)
        ins = np.array([found[s]["in"] for s in ids], bool)
        counts = sorted({c for c in (max(1, k // 4), max(1, k // 2), n) if c <= n})
        res = {}
        for m in ("teacher", "student"):
            # to 4 decimals, as the results record keeps them: the same audit from either store
            phi = np.round(np.asarray(target[m], float), 4)
            shadow_phi = np.round(np.array([found[s][m] for s in ids], float), 4)
            lira = lira_scores(phi, shadow_phi, ins)
            by_k = lira_by_shadow_count(phi, shadow_phi, ins, member, counts)
            res[m] = {
                "threshold_attack": attack_metrics(phi[member], phi[~member]),
                "lira": attack_metrics(lira[member], lira[~member]),
                "lira_by_shadows": {str(c): {"auc": mean_std(v["auc"]), "tpr": mean_std(v["tpr"])} for c, v in by_k.items()},
            }
        return {**res, "nearest_real_training_series": target["nearest_real_training_series"]}

    def privacy(self) -> None:
        setup = self.privacy_setup()
        team, seed, k = setup["team"], setup["seed"], setup["shadows"]
        # shadows and the target an earlier run of this configuration finished (the record travels with the results folder)
        was = self._earlier.get("privacy", {})
        same = (was.get("team"), was.get("seed")) == (team, seed)
        earlier = {r["shadow"]: r for r in was.get("per_shadow", [])} if same else {}
        found: dict[int, dict] = {}
        target: dict | None = None
        interim_from = max(2, k // 4)  # LiRA needs shadows that trained on an example and shadows that did not

        def write_partial() -> None:
            """Every finished shadow goes into the record at once, as the record-wise folds do; with the target
            known and enough shadows, so does the audit from the shadows so far."""
            rec = {"team": team, "seed": seed, "shadows": k, "partial": True, "per_shadow": [_pack_shadow(i, found[i]) for i in sorted(found)]}
            if target is not None:
                rec["target"] = _pack_target(target)
                if len(found) >= interim_from:
                    rec["interim"] = {"shadows_done": len(found), **self.privacy_audit(setup, target, found)}
            self.record["privacy"] = rec
            self.write(final=False)

        def finish(s: int, r: dict) -> None:
            found[s] = r
            self.log(f"privacy: shadow {s} landed ({len(found)} of {k} done)")  # numbered as the workers' lines and the units
            if len(found) < k:
                write_partial()

        # the shadows at hand first (cache or record), then the target, then the other shadows, one after
        # another or in `jobs` processes
        for s in range(k):
            if s in earlier or self.unit_path("privacy-shadow", self.shadow_key(setup, s)).is_file():
                finish(s, self.privacy_shadow(setup, s, earlier=_unpack_shadow(earlier[s]) if s in earlier else None))
        todo = [s for s in range(k) if s not in found]
        # with shadows in processes, the audited pipeline runs here at a worker's thread count: the audit then has the
        # arithmetic of one process at that count (a network's float sums follow the thread count)
        with _threads(self.per_job_threads() if self.jobs > 1 and len(todo) > 1 else torch.get_num_threads()):
            target = self.privacy_target(setup, earlier=was.get("target") if same else None)
        if todo:
            write_partial()
        if self.jobs > 1 and len(todo) > 1:
            self._shadows_in_processes(setup, todo, finish)
        else:
            for s in todo:
                finish(s, self.privacy_shadow(setup, s))
        self.record["privacy"] = {"team": team, "seed": seed, "shadows": k, **self.privacy_audit(setup, target, found)}

    def per_job_threads(self) -> int:
        """CPU threads of each of ``jobs`` worker processes: this process's shared out."""
        return max(1, torch.get_num_threads() // self.jobs)

    def _shadows_in_processes(self, setup: dict, todo: list[int], finish: Callable[[int, dict], None]) -> None:
        """Shadow pipelines ``todo`` in ``self.jobs`` fresh processes; each caches its unit as the sequential
        path would, and ``finish`` takes it here as it lands (in the order they finish)."""
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        threads = self.per_job_threads()
        self.log(f"privacy: {len(todo)} shadow pipelines in {self.jobs} processes of {threads} thread(s)")
        args = (self.exp, self.data_dir, self.cache.parent, self.device, threads)
        pool = ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("spawn"))
        try:
            running = {pool.submit(_shadow_in_process, *args, s): s for s in todo}
            while running:
                ready, _ = wait(running, return_when=FIRST_COMPLETED)
                for f in ready:
                    s = running.pop(f)
                    f.result()  # a worker's error stops the audit here, as it would in this process
                    finish(s, self.privacy_shadow(setup, s))  # from the cache the worker wrote
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    @property
    def recordwise_cfg(self) -> dict:
        """[recordwise] with its defaults (not part of the experiment's identity: the part's record holds it)."""
        return json.loads(json.dumps({"folds": 5, "epochs": 10, **self.exp.recordwise}))

    def recordwise_setup(self) -> dict:
        """What every record-wise fold shares: all learning-set records' minutes, the fold count, the seed,
        the [recordwise] options and the teacher's training config for them."""
        cfg = self.recordwise_cfg
        names = available_records(find_root(self.data_dir))
        return {
            "names": names,
            "data": load_minutes(self.data_dir, names),
            "folds": int(cfg["folds"]),
            "cfg": cfg,
            "seed": self.exp.seeds[0],
            "tcfg": replace(self.exp.teacher, epochs=int(cfg["epochs"])),
        }

    @staticmethod
    def recordwise_split(setup: dict, f: int) -> tuple[Split, Split, torch.Tensor]:
        """Fold ``f``: records i with i % folds == f are held out. Returns train, test and the test mask."""
        data, folds = setup["data"], setup["folds"]
        test_recs = [i for i in range(len(setup["names"])) if i % folds == f]
        te = torch.isin(data["record"], torch.tensor(test_recs))
        return Split(data["x"][~te], data["y"][~te], CLASSES), Split(data["x"][te], data["y"][te], CLASSES), te

    def recordwise_teacher_and_set(self, setup: dict, f: int, train: Split, test: Split) -> tuple[Teacher, SyntheticDataset]:
        """Fold ``f``'s teacher (the training people's minutes) and the set its student learns from (cached)."""
        h1 = self.teacher(f"recordwise-{f}", train, test, setup["seed"], setup["tcfg"])
        return h1, self.synthetic(f"recordwise-{f}", h1, setup["seed"], n=int(setup["cfg"].get("n_synthetic", 4000)))

    def recordwise(self) -> None:
        """Train and test on different people: k-fold over all learning-set records (record i in fold i % k).

        The student is measured twice: at 0.5, as it comes from the visualizations, and at the threshold the
        training people's real minutes choose for it ("student_calibrated"). That threshold is one number the
        owner of the data can compute and hand over with the student, as with the teacher's T
        (``--threshold-share``); the student never trains on those minutes, and the test people are others.
        """
        setup = self.recordwise_setup()
        names, data, folds, seed, cfg = setup["names"], setup["data"], setup["folds"], setup["seed"], setup["cfg"]
        # folds an earlier run of these options finished (maybe on another machine)
        earlier = {r["fold"]: r for r in self._earlier.get("recordwise", {}).get("per_fold", []) if "fold" in r}
        res, preds = [], {}
        for f in range(folds):
            train, test, te = self.recordwise_split(setup, f)

            def unit(f=f, train=train, test=test, te=te):
                h1, ds = self.recordwise_teacher_and_set(setup, f, train, test)
                h2 = self.student(ds.x, ds.targets("hard"), seed, teacher=h1, epochs=int(cfg["epochs"]))
                y = test.y.numpy()
                p1 = teacher_proba(h1, test.x, self.device)[:, 1]
                p2 = h2.predict_proba(test.x)[:, 1]
                thr = binary_metrics(train.y.numpy(), h2.predict_proba(train.x)[:, 1])["best_threshold"]
                recs = data["record"][te].numpy()
                per_record = {
                    names[r]: {
                        "true_apnea_minutes": int(y[recs == r].sum()),
                        "minutes": int((recs == r).sum()),
                        "teacher_apnea_minutes": int((p1[recs == r] >= 0.5).sum()),
                        "student_apnea_minutes": int((p2[recs == r] >= 0.5).sum()),
                        "student_calibrated_apnea_minutes": int((p2[recs == r] >= thr).sum()),
                    }
                    for r in np.unique(recs)
                }
                return {
                    "teacher": binary_metrics(y, p1),
                    "student": binary_metrics(y, p2),
                    "student_calibrated": binary_metrics(y, p2, thr),
                    "records": per_record,
                }

            was = earlier.get(f)
            r = self.cached(
                "recordwise", {"fold": f, "folds": folds, "cfg": cfg}, unit, earlier={k: v for k, v in was.items() if k != "fold"} if was else None
            )
            res.append({"fold": f, **r})
            preds.update(r["records"])
            self.log(f"recordwise fold {f}: teacher {100 * r['teacher']['accuracy']:.1f}, student {100 * r['student']['accuracy']:.1f}")
            # every finished fold goes into the record at once: an interrupted run keeps it, and the next run
            # of the same command (here or wherever the results folder goes) starts at the next fold
            self.record["recordwise"] = self._recordwise_record(res, preds, folds, cfg)
            if f < folds - 1:
                self.write(final=False)

    @staticmethod
    def _recordwise_record(res: list[dict], preds: dict, folds: int, cfg: dict) -> dict:
        """The record-wise part's record from the folds done so far (``partial`` while some remain)."""
        keys = ["accuracy", "sensitivity", "specificity", "auc"] + (["best_accuracy"] if all("best_accuracy" in r["student"] for r in res) else [])
        models = [m for m in ("teacher", "student", "student_calibrated") if all(m in r for r in res)]  # older units: no calibration
        pooled = {m: {k: mean_std([r[m][k] for r in res]) for k in keys} for m in models}
        out = {"folds": folds, "epochs": cfg["epochs"], "cfg": cfg, "per_fold": res, "pooled": pooled, "recording_level": recording_level(preds)}
        return {**out, "partial": True} if len(res) < folds else out


@contextmanager
def _threads(n: int):
    """torch's intra-op threads at ``n`` inside the block, put back after."""
    was = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(was)


def _shadow_in_process(exp: ApneaExperiment, data_dir, cache: Path, device: str, threads: int, s: int) -> None:
    """One privacy shadow pipeline in a worker process: it caches its unit where the parent looks for it."""
    torch.set_num_threads(threads)
    runner = ApneaRunner(exp, data_dir, cache=cache, device=device, log=lambda m: print(f"[shadow {s}] {m}", flush=True))
    runner.load_minutes()
    runner.privacy_shadow(runner.privacy_setup(), s)


def _pack_shadow(s: int, r: dict) -> dict:
    """A privacy shadow's unit for the results record: membership as a string of 0/1, confidences to 4 decimals."""
    return {"shadow": s, "in": "".join("1" if b else "0" for b in r["in"]), "seconds": r.get("seconds", 0.0), **_confidences_4(r)}


def _pack_target(t: dict) -> dict:
    """The audited pipeline's unit for the results record: confidences to 4 decimals (the audit rounds them so)."""
    return {**t, **_confidences_4(t)}


def _confidences_4(r: dict) -> dict:
    """A privacy unit's teacher and student confidences to 4 decimals, as the results record keeps them."""
    return {m: [round(float(v), 4) for v in r[m]] for m in ("teacher", "student")}


def _unpack_shadow(w: dict) -> dict:
    """The unit as ``privacy`` makes and caches it, from ``_pack_shadow``'s form."""
    return {"in": [c == "1" for c in w["in"]], "teacher": w["teacher"], "student": w["student"], "seconds": w.get("seconds", 0.0)}


def recording_level(per_record: dict) -> dict:
    """The challenge's second event: is this an apnea night? Class A (>= 100 apnea minutes) against
    class C (< 5), from the predicted apnea minutes of held-out records; B records are borderline."""
    out = {}
    for who in ("teacher", "student", "student_calibrated"):
        if not all(f"{who}_apnea_minutes" in r for r in per_record.values()):
            continue  # made before the calibrated student was measured
        rows = []
        for name, r in sorted(per_record.items()):
            truth = "A" if r["true_apnea_minutes"] >= 100 else "C" if r["true_apnea_minutes"] < 5 else "B"
            pred = r[f"{who}_apnea_minutes"]
            rows.append((name, truth, "A" if pred >= 100 else "C" if pred < 5 else "B"))
        ac = [(t, p) for _, t, p in rows if t in ("A", "C")]
        correct = sum((t == "A") == (p == "A") for t, p in ac)
        out[who] = {"a_vs_c_correct": correct, "a_vs_c_records": len(ac), "records": {n: {"true": t, "predicted": p} for n, t, p in rows}}
    return out
