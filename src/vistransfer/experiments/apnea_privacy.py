"""The privacy audit of an Apnea-ECG pipeline (``privacy`` part): shadow pipelines, membership attacks (loss
threshold and LiRA) on the audited teacher and student, and each series' distance to its nearest real one."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from ..data import Split
from ..ecg.apnea import CLASSES
from ..evaluation import mean_std
from ..privacy import attack_metrics, lira_by_shadow_count, lira_scores, logit_confidence, nearest_distances
from .apnea_spec import ApneaExperiment


class PrivacyPart:
    """The ``privacy`` part of :class:`.apnea.ApneaRunner` (a mixin: it uses the runner's cached units)."""

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
            running = {pool.submit(_shadow_in_process, type(self), *args, s): s for s in todo}
            while running:
                ready, _ = wait(running, return_when=FIRST_COMPLETED)
                for f in ready:
                    s = running.pop(f)
                    f.result()  # a worker's error stops the audit here, as it would in this process
                    finish(s, self.privacy_shadow(setup, s))  # from the cache the worker wrote
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _threads(n: int):
    """torch's intra-op threads at ``n`` inside the block, put back after."""
    was = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(was)


def _shadow_in_process(runner_cls: type, exp: ApneaExperiment, data_dir, cache: Path, device: str, threads: int, s: int) -> None:
    """One privacy shadow pipeline in a worker process: it caches its unit where the parent looks for it."""
    torch.set_num_threads(threads)
    runner = runner_cls(exp, data_dir, cache=cache, device=device, log=lambda m: print(f"[shadow {s}] {m}", flush=True))
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
