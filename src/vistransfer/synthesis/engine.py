"""The batched synthesis engine: S generators optimized at once, finished slots refilled at once.

One iteration of :func:`synthesize` for all slots together:

1. images = G_s(Z_s) for every slot s (one grouped computation, :class:`GeneratorBank`);
2. the teacher sees only the *still active* visualizations (per-visualization early stop);
3. any that satisfy Eq. 2 for their slot's target (softmax > T and argmax) are recorded (with
   ``settle_steps``, only once they still do that many steps after they first did);
4. one Adam step on every theta_G: movement objective before ``move_steps``, AM after;
5. optionally a separate Loss2 step (Eq. 3) at a fraction of the AM learning rate;
6. slots whose group is done, or over the step budget, are refilled with a new group.

This module holds the only optimization loop of the package.
"""

from __future__ import annotations

import contextlib
import logging
import time

import torch
import torch.nn.functional as F
from torch.profiler import record_function  # named ranges for benchmarks/profile_engine.py; free when not profiling

from ..config import SynthesisConfig
from ..errors import VistransferError
from ..io import progress_bar
from ..models.generator import GeneratorBank
from ..models.spec import InputSpec
from .objectives import PRIORS, Batch, Objective, default_objective, penultimate_distance
from .records import Records
from .slot_adam import SlotAdam
from .slots import Slots
from .start import start_bias, start_label
from .transforms import TRANSFORMS

log = logging.getLogger("vistransfer")
# Fail fast when a teacher rarely reaches T: judged once this many visualizations have finished
# (passed or missed the budget), so a hopeless run stops in seconds, not after ten minutes.
EARLY_VERDICT = 200


def class_quota(n: int, n_classes: int) -> torch.Tensor:
    """(K,) balanced number per class: n // K each, the first n % K classes one more."""
    q = torch.full((n_classes,), n // n_classes, dtype=torch.long)
    q[: n % n_classes] += 1
    return q


def _real_feature_bank(teacher, real: tuple[torch.Tensor, torch.Tensor], K: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher features of real data, padded per class: (K, Nmax, D) and counts (K,)."""
    x, y = real
    feats = []
    with torch.no_grad():
        for i in range(0, len(x), 1024):
            feats.append(teacher.features(x[i : i + 1024].to(device)))
    f = torch.cat(feats)
    counts = torch.bincount(y.to(device), minlength=K)
    if (counts == 0).any():
        missing = torch.nonzero(counts == 0).flatten().tolist()
        raise VistransferError(f"Loss2 needs real examples of every class, none given for classes {missing}")
    bank = torch.zeros(K, int(counts.max()), f.shape[1], device=device)
    for c in range(K):
        bank[c, : counts[c]] = f[y.to(device) == c]
    return bank, counts


def synthesize(
    teacher: torch.nn.Module,
    cfg: SynthesisConfig,
    spec: InputSpec | tuple[int, ...],
    n_classes: int,
    device: torch.device | str = "cpu",
    real: tuple[torch.Tensor, torch.Tensor] | None = None,
    quota: torch.Tensor | None = None,
    progress: bool = True,
    objective: Objective | None = None,
    channels_last: bool | None = None,
) -> tuple[dict[str, torch.Tensor], dict]:
    """Run Gen{h1}: returns the accepted visualizations (balanced, ``cfg.n`` of them) and stats.

    teacher: the teacher contract (:class:`~vistransfer.models.teacher.TeacherModule`, or any module
    mapping a batch to logits; ``features`` only for Loss2), in eval mode.
    spec: the teacher's :class:`InputSpec` (a bare shape means values in [0, 1]); the generator
    family follows its rank. real: (x, y) real training data, for Loss2 and the value prior's statistics (else
    unused). quota: (K,) visualizations per
    class (default: ``cfg.n`` balanced); must sum to ``cfg.n``. objective: what each step
    maximizes (default: the movement of Section 3.3.2, then the AM objective ``cfg.objective``).
    channels_last: run the teacher on channels-last images (default: for images on the CPU, where
    oneDNN's convolutions and pooling are about 20% faster so; the teacher is put back after).
    Returned tensors: x (n, *spec.shape) in the data domain; probs (n, K); target, passed_step,
    group, kind (n,) int64; threshold (n,) float32.
    """
    if cfg.loss2 and real is None:
        raise VistransferError("loss2 needs real data of the target classes: pass real=(x, y) or turn loss2 off")
    spec = InputSpec.of(spec)
    objective = objective or default_objective(cfg.objective)
    device = torch.device(device)
    teacher = teacher.to(device).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)  # gradients flow to theta_G only
    if channels_last is None:
        channels_last = len(spec.shape) == 3 and device.type == "cpu"
    if channels_last:
        teacher.to(memory_format=torch.channels_last)
    objective, priors = with_priors(objective, cfg, teacher, spec, real, device)
    try:
        with priors:
            return _run(teacher, cfg, spec, n_classes, device, real, quota, progress, objective, channels_last)
    finally:
        if channels_last:
            teacher.to(memory_format=torch.contiguous_format)


def with_priors(
    objective: Objective,
    cfg: SynthesisConfig,
    teacher: torch.nn.Module,
    spec: InputSpec,
    real: tuple[torch.Tensor, torch.Tensor] | None = None,
    device: torch.device | str = "cpu",
) -> tuple[Objective, contextlib.ExitStack]:
    """``objective`` minus each prior of :data:`.objectives.PRIORS` whose config weight is above 0, and the
    context their hooks need open while it runs. ``real``: (x, y) the teacher's training data, for priors on its statistics."""
    priors = contextlib.ExitStack()
    for prior in PRIORS:
        weight = getattr(cfg, prior.name)
        if weight <= 0:
            continue
        term, context = prior.build(teacher, spec, real, device)
        if term is None:
            log.info(f"{prior.name}: the teacher has nothing this prior acts on (no batch norm with running statistics), so it has no effect")
            continue
        if context is not None:
            priors.enter_context(context)
        objective = objective - weight * term
    return objective, priors


def _run(
    teacher,
    cfg: SynthesisConfig,
    spec: InputSpec,
    n_classes: int,
    device: torch.device,
    real,
    quota,
    progress: bool,
    objective: Objective,
    channels_last: bool,
) -> tuple[dict[str, torch.Tensor], dict]:
    K, S = n_classes, cfg.slots
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)  # nothing below should draw from it; belt and braces
    bank = GeneratorBank(S, cfg.z_dim, spec.shape, cfg.gen_channels, device, cfg.gen_upsample, cfg.gen_downscale)
    adam = SlotAdam(bank.parameters())
    adam2 = SlotAdam(bank.parameters()) if cfg.loss2 else None  # Loss2 runs as its own optimizer
    feat_bank = _real_feature_bank(teacher, real, K, device) if cfg.loss2 else None

    quota = class_quota(cfg.n, K) if quota is None else quota.long().cpu()
    if int(quota.sum()) != cfg.n or len(quota) != K:
        raise VistransferError(f"quota must have {K} entries summing to n={cfg.n}, got {quota.tolist()}")
    accepted = torch.zeros(K, dtype=torch.long)
    slots = Slots(cfg, K, quota, device)
    everything = torch.arange(S, device=device)
    out_bias, start_rows = start_bias(teacher, cfg, spec, device)
    bank.reset(everything, cfg.init_std, gen, out_bias)
    slots.fill(everything, accepted, gen)
    stats_groups = slots.next_group
    rec = Records()
    stats = dict(
        iterations=0,
        teacher_rows=start_rows,
        loss2_rows=0,
        generator_rows=0,
        groups_started=stats_groups,
        groups_discarded=0,
        discarded=0,
        over_quota=0,
        rows_accepted=0,
        rows_discarded=0,
    )
    member_rows = torch.zeros(S, cfg.group_size, dtype=torch.long, device=device)
    settle = Settling(cfg, S, device) if cfg.settle_steps else None
    fail_limit = cfg.max_failed_groups or 100 + 5 * (cfg.n + cfg.group_size - 1) // cfg.group_size
    best = torch.zeros((), device=device)  # highest target probability seen in AM, for the early verdict
    verdict_given = False
    verdict_at = min(EARLY_VERDICT, max(cfg.n, 3 * cfg.group_size))  # never judged on fewer than 3 groups
    transforms = [t.build(getattr(cfg, t.name), gen) for t in TRANSFORMS if getattr(cfg, t.name)]
    t0 = time.perf_counter()
    bar = progress_bar(total=cfg.n, desc="synthesize", unit="vis", enabled=progress)
    while int(accepted.sum()) < cfg.n:
        busy = slots.active.any(1)
        run = None if bool(busy.all()) else torch.nonzero(busy).flatten()  # idle slots skip G entirely
        rows = everything if run is None else run  # (B,) the slots run this step
        act = slots.active[rows]  # (B, g), a copy: _record edits slots.active, autograd needs this one
        with record_function("generator"):
            x = spec.to_domain(bank(slots.z[rows], run))  # (B, g, *shape)
        xa = x[act]  # (A, C, H, W): the teacher sees only visualizations still being optimized
        for transform in transforms:  # what the teacher judges, and the set keeps (TRANSFORMS)
            xa = transform(xa)
        if channels_last:
            xa = xa.contiguous(memory_format=torch.channels_last)
        row_of, member = torch.nonzero(act).unbind(1)  # (A,) each visualization's row of act and member in its slot
        slot_of = rows[row_of]  # (A,)
        with record_function("teacher"):
            logits = teacher(xa)  # (A, K)
        member_rows += slots.active.long()  # not yet edited by _record this step
        stats["teacher_rows"] += xa.shape[0]
        stats["generator_rows"] += x.shape[0] * x.shape[1]
        with torch.no_grad():
            probs = F.softmax(logits, dim=1)
            tgt = slots.target[slot_of]
            in_am = slots.in_am()[slot_of]
            p_tgt = probs.gather(1, tgt[:, None]).squeeze(1)
            ok = in_am & (probs.argmax(1) == tgt) & (p_tgt > slots.threshold[slot_of])
            if not verdict_given and len(p_tgt):  # only needed until the early verdict
                best = torch.maximum(best, (p_tgt * in_am).max())
            if settle is not None:
                ok = settle.passed(ok, slot_of, member, slots.step)
            if cfg.stop == "group":  # a slot passes only when every member passes at once
                grid = torch.zeros_like(act)
                grid[act] = ok
                ok = grid.all(1)[row_of]
        if ok.any():
            _record(rec, slots, member, ok, xa, probs, slot_of, accepted, quota, stats, member_rows)
        score = objective(Batch(logits=logits, target=tgt, move_w=slots.move_w[slot_of], in_am=in_am, x=xa))
        keep = (~ok).float()  # a visualization that just passed is frozen: no more gradient
        with record_function("backward"):
            (-(score * keep).sum()).backward()
        with record_function("adam"):
            adam.step(slots.lr)
        if adam2 is not None:
            _loss2_step(bank, spec, teacher, slots, feat_bank, adam2, cfg, gen, stats)
        slots.step += 1
        stats["iterations"] += 1
        over_budget = (slots.step - slots.move_steps) >= (cfg.max_steps if settle is None else settle.budget(slots.active))
        class_full = (accepted >= quota).to(device)[slots.target] & ~slots.idle()  # abandon: quota met
        done = ~slots.active.any(1) | over_budget | class_full
        _retire(slots, done & ~slots.idle(), class_full, stats, member_rows)
        if not verdict_given and stats["discarded"] + int(accepted.sum()) >= verdict_at:
            verdict_given = True
            _early_verdict(stats, int(accepted.sum()), cfg, float(best))
        if stats["groups_discarded"] > fail_limit:
            bar.close()
            raise VistransferError(
                f"{stats['groups_discarded']} groups missed T within {cfg.max_steps} AM steps "
                f"({int(accepted.sum())}/{cfg.n} accepted): lower the threshold T, raise max_steps or the learning rate"
            )
        if done.any():
            idx = torch.nonzero(done).flatten()
            bank.reset(idx, cfg.init_std, gen, out_bias)
            adam.reset(idx)
            if adam2 is not None:
                adam2.reset(idx)
            before = slots.next_group
            slots.fill(idx, accepted, gen)
            member_rows[idx] = 0
            if settle is not None:
                settle.reset(idx)
            stats["groups_started"] += slots.next_group - before
        bar.update(int(accepted.sum()) - bar.n)  # throttled by tqdm, not one line per step
    bar.close()
    stats["wall_s"], stats["gen_upsample"] = time.perf_counter() - t0, bank.upsample
    stats["gen_start"] = start_label(out_bias)
    out = rec.cat()
    order = torch.argsort(out["group"] * cfg.group_size * 4 + out["passed_step"], stable=True)
    out = {k: v[order] for k, v in out.items()}
    stats.update(summarize(stats, cfg.n))
    return out, stats


class Settling:
    """``cfg.settle_steps``: when each member first satisfied Eq. 2, and whether it has settled since."""

    def __init__(self, cfg: SynthesisConfig, S: int, device: torch.device):
        self.steps, self.max_steps = cfg.settle_steps, cfg.max_steps
        self.since = torch.full((S, cfg.group_size), -1, dtype=torch.long, device=device)  # step of the first pass; -1: not yet

    def passed(self, ok: torch.Tensor, slot_of: torch.Tensor, member: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        """(A,) those of ``ok`` (satisfying Eq. 2 now) that first did at least ``steps`` steps ago;
        the others go on being optimized."""
        since = self.since[slot_of, member]
        now = step[slot_of]
        since = torch.where(ok & (since < 0), now, since)
        self.since[slot_of, member] = since
        return ok & (now - since >= self.steps)

    def budget(self, active: torch.Tensor) -> torch.Tensor:
        """(S,) AM steps each slot may take: max_steps, and ``steps`` more for a slot with a member settling."""
        return self.max_steps + self.steps * ((self.since >= 0) & active).any(1)

    def reset(self, idx: torch.Tensor) -> None:
        self.since[idx] = -1


def _record(rec, slots, member, ok, xa, probs, slot_of, accepted, quota, stats, member_rows) -> None:
    """Store visualizations that passed (``member``: each one's index within its slot); drop (and count)
    those over their class quota."""
    idx = torch.nonzero(ok).flatten()
    s, m = slot_of[idx], member[idx]
    slots.active[s, m] = False
    slots.note_passes(slots.step[s] - slots.move_steps[s], slots.target[s])
    tgt = slots.target[s].cpu()
    keep = torch.zeros(len(idx), dtype=torch.bool)
    for i, c in enumerate(tgt.tolist()):
        if accepted[c] < quota[c]:
            accepted[c] += 1
            keep[i] = True
    stats["over_quota"] += int((~keep).sum())
    rows = member_rows[s, m].cpu()
    stats["rows_accepted"] += int(rows[keep].sum())
    stats["rows_discarded"] += int(rows[~keep].sum())
    if not keep.any():
        return
    k = keep.to(idx.device)
    s, sel = s[k], idx[k]
    rec.add(
        x=xa[sel].detach().cpu(),
        probs=probs[sel].cpu(),
        target=slots.target[s].cpu(),
        passed_step=(slots.step[s] - slots.move_steps[s]).cpu(),
        threshold=slots.threshold[s].cpu(),
        group=slots.group[s].cpu(),
        kind=slots.kind[s].cpu(),
    )


def _retire(slots, done, abandoned, stats, member_rows) -> None:
    """Count members of finished slots that never passed: over the step budget (discarded)
    or abandoned because their class quota was met elsewhere (over_quota)."""
    left = slots.active & done.unsqueeze(1)
    quit_ = left & abandoned.unsqueeze(1)
    failed = left & ~abandoned.unsqueeze(1)
    missed = int(failed.sum())
    if missed:
        slots.note_misses(failed.sum(1))
    stats["discarded"] += missed
    stats["over_quota"] += int(quit_.sum())
    stats["rows_discarded"] += int(member_rows[left].sum())
    stats["groups_discarded"] += int(failed.any(1).sum())
    slots.active[done] = False


def _loss2_step(bank, spec, teacher, slots, feat_bank, adam2, cfg, gen, stats) -> None:
    """Eq. 3 as its own step: push layer L-1 of each active visualization away from real data."""
    act = slots.active & slots.in_am().unsqueeze(1)
    if not act.any():
        return
    real_f, counts = feat_bank
    S = act.shape[0]
    x = spec.to_domain(bank(slots.z))[act]
    f = teacher.features(x)  # (A, D)
    slot_of = torch.arange(S, device=act.device).unsqueeze(1).expand_as(act)[act]
    pick = (torch.rand(S, cfg.loss2_batch, generator=gen).to(act.device) * counts[slots.target].unsqueeze(1)).long()
    real = real_f[slots.target.unsqueeze(1), pick]  # (S, Bs, D)
    dist = penultimate_distance(f, real[slot_of])  # (A,)
    (-dist.sum()).backward()
    adam2.step(slots.lr * cfg.loss2_lr_ratio, mask=act.any(1))
    stats["loss2_rows"] += x.shape[0]


def _early_verdict(stats: dict, accepted: int, cfg: SynthesisConfig, best: float) -> None:
    """Judge the acceptance rate from the first finished visualizations: fail at once when almost
    none reach T (unless ``max_failed_groups`` was set), warn with the numbers when many miss the budget."""
    done = stats["discarded"] + accepted
    missed = stats["discarded"] / max(done, 1)
    where = (
        f"{stats['discarded']} of the first {done} visualizations missed T={cfg.threshold} within {cfg.max_steps} "
        f"AM steps (highest target probability reached: {best:.3f})"
    )
    if missed >= 0.9 and cfg.max_failed_groups is None:  # an explicit limit is the user's own failure policy
        raise VistransferError(
            f"{where}: this teacher rarely reaches T; lower --threshold (e.g. "
            f"{max(0.5, round(best - 0.05, 2))}), raise --max-steps, or train the teacher longer"
        )
    if missed >= 0.5:
        passes = stats["teacher_rows"] / max(accepted, 1)
        log.warning(
            f"{where}; about {passes:.0f} teacher passes per kept visualization so far. Lower --threshold or raise --max-steps if this is too slow"
        )


def summarize(stats: dict, n: int) -> dict:
    """Rates derived from a run's counters (``wall_s``, ``teacher_rows``, ``loss2_rows``, ``rows_discarded``)."""
    rows = stats["teacher_rows"] + stats["loss2_rows"]
    return {
        "accepted": n,
        "vis_per_s": n / stats["wall_s"] if stats["wall_s"] > 0 else float("inf"),
        "teacher_passes_per_vis": rows / n,
        "discarded_work_fraction": stats["rows_discarded"] / max(stats["teacher_rows"], 1),
    }
