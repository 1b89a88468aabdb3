"""Per-generator ("slot") state: what each generator is doing and how it was drawn.

A slot holds one group of ``group_size`` visualizations sharing theta_G (Appendix C). When a
slot is (re)filled it draws, from the run's seeded generator: Z, the target class (balanced
over classes), T (fixed or from Appendix A's range), its learning rate, and its pre-AM
movement (Section 3.3.2: a kind, a random class subset and a random number of steps).
"""

from __future__ import annotations

import torch

from ..config import MOVEMENT_KINDS, SynthesisConfig


class Slots:
    """Stacked state of S slots; all tensors have leading dim S and live on ``device``."""

    def __init__(self, cfg: SynthesisConfig, n_classes: int, quota: torch.Tensor, device: torch.device):
        S, g, K = cfg.slots, cfg.group_size, n_classes
        self.cfg, self.K, self.device = cfg, K, device
        self.quota = quota  # (K,) visualizations wanted per class
        self.z = torch.zeros(S, g, cfg.z_dim, device=device)
        self.target = torch.zeros(S, dtype=torch.long, device=device)
        self.threshold = torch.zeros(S, device=device)
        self.lr = torch.zeros(S, device=device)
        self.move_w = torch.zeros(S, K, device=device)  # +1 attract, -1 repel, 0 untouched
        self.move_steps = torch.zeros(S, dtype=torch.long, device=device)
        self.kind = torch.full((S,), -1, dtype=torch.long, device=device)  # index into MOVEMENT_KINDS
        self.step = torch.zeros(S, dtype=torch.long, device=device)
        self.active = torch.zeros(S, g, dtype=torch.bool, device=device)
        self.group = torch.full((S,), -1, dtype=torch.long, device=device)
        self.racer = torch.zeros(S, dtype=torch.bool)  # CPU: the slot's group was started to race the tail
        self.next_group = 0
        self._passes = torch.zeros(0)  # AM steps at which recent members passed (CPU), for stragglers
        self.passed = torch.zeros(K)  # members that passed T, per class (CPU), for the expected yield
        self.missed = torch.zeros(K)  # members that missed T within the step budget, per class (CPU)
        # passes before racing starts: MIN_PASSES, or RACE_AFTER_SHARE of a smaller run (at least 3)
        self.race_after = min(self.MIN_PASSES, max(3, int(self.RACE_AFTER_SHARE * int(quota.sum()))))

    # A group is a straggler once its AM steps exceed this quantile of the run's recent passes.
    # Racing starts after MIN_PASSES passes, or RACE_AFTER_SHARE of the run's visualizations in a
    # smaller run (the engine up to 0.4.1 waited for MIN_PASSES: a run of 20 never raced).
    STRAGGLER_QUANTILE, PASS_WINDOW, MIN_PASSES, RACE_AFTER_SHARE = 0.9, 512, 20, 0.5
    # Expected yield: a class's pass share is shrunk towards the run's by this many members' worth,
    # and never planned below MIN_YIELD (at most 1 / MIN_YIELD generators per visualization missing).
    YIELD_PRIOR, MIN_YIELD = 4.0, 0.05

    def note_passes(self, am_steps: torch.Tensor, classes: torch.Tensor) -> None:
        """Remember the AM steps at which members of ``classes`` just passed (a window of the most
        recent) and count them per class."""
        self._passes = torch.cat([self._passes, am_steps.float().cpu()])[-self.PASS_WINDOW :]
        self.passed += torch.bincount(classes.cpu(), minlength=self.K)

    def note_misses(self, members: torch.Tensor) -> None:
        """Count, per class, the ``members`` (S,) of each slot that just missed the step budget."""
        self.missed.index_add_(0, self.target.cpu(), members.float().cpu())

    def expected_yield(self) -> torch.Tensor:
        """(K,) the share of a class's visualizations in flight expected to pass T (``cfg.plan``).

        "yield": (passed + YIELD_PRIOR * run share) / (passed + missed + YIELD_PRIOR) per class, where
        the run's share is (all passed + 1) / (all finished + 1): exactly 1 until a member misses, so a
        run without misses plans as "count" does. "count": 1, every member counts as one to come."""
        if self.cfg.plan == "count":
            return torch.ones(self.K)
        run = (self.passed.sum() + 1) / (self.passed.sum() + self.missed.sum() + 1)
        share = (self.passed + self.YIELD_PRIOR * run) / (self.passed + self.missed + self.YIELD_PRIOR)
        return share.clamp(min=self.MIN_YIELD)

    def _race_limit(self, among: torch.Tensor) -> torch.Tensor:
        """(K,) racers still allowed per class: one per straggler among the busy slots of ``among``
        (bool, CPU; AM steps past the run's STRAGGLER_QUANTILE of passes), less the racers already
        out. All zero before MIN_PASSES members have passed, or RACE_AFTER_SHARE of the run's
        visualizations in a smaller run (at least 3), so a small run races its stragglers too."""
        if len(self._passes) < self.race_after:
            return torch.zeros(self.K, dtype=torch.long)
        slow_after = float(torch.quantile(self._passes, self.STRAGGLER_QUANTILE))
        busy = among & self.active.cpu().any(1)
        slow = busy & ((self.step - self.move_steps).cpu() > slow_after)
        per_class = lambda mask: torch.bincount(self.target.cpu()[mask], minlength=self.K)  # noqa: E731
        return (per_class(slow) - per_class(busy & self.racer)).clamp(min=0)

    def in_am(self) -> torch.Tensor:
        """(S,) True where the slot has finished its movement and is doing AM."""
        return self.step >= self.move_steps

    def fill(self, idx: torch.Tensor, accepted: torch.Tensor, gen: torch.Generator) -> None:
        """Draw a fresh group for each slot in ``idx`` (1-D long tensor). ``accepted``: (K,) counts."""
        cfg, K, n = self.cfg, self.K, len(idx)
        if n == 0:
            return
        z, thr, lr = draw_groups(cfg, n, gen)
        targets, racer = self._balanced_targets(n, accepted, idx, gen)  # -1: every quota is covered
        self.racer[idx.cpu()] = racer
        move_w, steps, kind = draw_movements(cfg, K, n, gen)
        d = self.device
        self.z[idx] = z.to(d)
        self.threshold[idx] = thr.to(d)
        self.lr[idx] = lr.to(d)
        self.target[idx] = targets.clamp(min=0).to(d)
        self.move_w[idx] = move_w.to(d)
        self.move_steps[idx] = steps.to(d)
        self.kind[idx] = kind.to(d)
        self.step[idx] = 0
        busy = (targets >= 0).to(d)
        self.active[idx] = busy.unsqueeze(1).expand(n, cfg.group_size)
        n_busy = int(busy.sum())
        groups = torch.full((n,), -1, dtype=torch.long, device=d)
        groups[busy] = torch.arange(self.next_group, self.next_group + n_busy, device=d)
        self.group[idx] = groups
        self.next_group += n_busy

    def idle(self) -> torch.Tensor:
        """(S,) True for slots left empty because the groups in flight cover every quota."""
        return self.group < 0

    def _balanced_targets(self, n: int, accepted: torch.Tensor, idx: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Give each new slot the class furthest below its quota, counting groups in flight (each
        member as its class's expected yield, ``cfg.plan``).

        When no class is short any more, the run is in its tail: the groups in flight cover
        every quota, but some of them will take hundreds of steps or miss the budget. Free
        slots may then race them (``cfg.race_tail``): each takes the class with the most
        visualizations still missing per group in flight, and whichever group passes first
        wins (the rest are abandoned as over quota). With "all" any class still missing
        something is raced, from the first step of a run: a run of 90 from 32 slots of 9
        then starts 22 racers at once. With "stragglers" a class is raced only by as many
        free slots as it has groups slower than most passes so far, so racers go where a
        group is stuck. Otherwise, or when nothing is missing, a slot gets -1 and stays idle
        (idle slots are offered again every step). Returns the classes and which are racers.
        """
        others = torch.ones(len(self.target), dtype=torch.bool)
        others[idx.cpu()] = False
        y = self.expected_yield()
        in_flight = torch.zeros(self.K)  # visualizations expected from the members in flight
        tgt = self.target.cpu()[others]
        in_flight.index_add_(0, tgt, self.active.cpu()[others].sum(1).float() * y[tgt])
        missing = self.quota.float() - accepted.float().cpu()  # accepted never exceeds the quota
        out, racer = torch.empty(n, dtype=torch.long), torch.zeros(n, dtype=torch.bool)
        for i in range(n):  # n is the handful of slots that finished this step
            jitter = torch.rand(self.K, generator=gen) * 1e-3  # random tie-break
            deficit = missing - in_flight
            c = int(torch.argmax(deficit + jitter))
            if deficit[c] <= 0:
                mode = self.cfg.race_tail
                limit = self._race_limit(others) if mode == "stragglers" else None
                out[i:] = self._racers(n - i, missing, in_flight, y, limit)
                racer[i:] = out[i:] >= 0
                break
            out[i] = c
            in_flight[c] += self.cfg.group_size * y[c]
        return out, racer

    def _racers(self, n: int, missing: torch.Tensor, in_flight: torch.Tensor, y: torch.Tensor, limit: torch.Tensor | None = None) -> torch.Tensor:
        """Classes for n free slots in the tail; ``y`` (K,): expected yields; ``limit`` (K,): at most
        that many racers per class."""
        out = torch.full((n,), -1, dtype=torch.long)
        left = (missing > 0).long() * (n if limit is None else limit)
        for i in range(n):
            if left.sum() == 0:
                break
            c = int(torch.argmax(torch.where(left > 0, missing / (1 + in_flight), -1.0)))
            out[i] = c
            left[c] -= 1
            in_flight[c] += self.cfg.group_size * y[c]
        return out


def draw_groups(cfg: SynthesisConfig, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n groups' Z (n, group_size, z_dim), T (n,) and learning rate (n,), drawn on the CPU so a
    seed means the same on every device."""
    if cfg.z_dist == "uniform":
        z = torch.rand(n, cfg.group_size, cfg.z_dim, generator=gen) * (cfg.z_high - cfg.z_low) + cfg.z_low
    else:
        z = torch.randn(n, cfg.group_size, cfg.z_dim, generator=gen) * cfg.z_high
    thr = torch.full((n,), cfg.threshold)
    if cfg.threshold_range is not None:
        lo, hi = cfg.threshold_range
        thr = lo + (hi - lo) * torch.rand(n, generator=gen)
    lr = torch.full((n,), cfg.lr)
    if cfg.lr_range is not None:
        lo, hi = cfg.lr_range
        lr = lo + (hi - lo) * torch.rand(n, generator=gen)
    return z, thr, lr


def draw_movements(cfg: SynthesisConfig, K: int, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n pre-AM movements (Section 3.3.2): class weights (n, K) in {-1, 0, 1}, steps (n,), kind (n,)."""
    w = torch.zeros(n, K)
    steps = torch.zeros(n, dtype=torch.long)
    kind = torch.full((n,), -1, dtype=torch.long)
    if not cfg.movement:
        return w, steps, kind
    lo, hi = cfg.movement_steps
    steps = torch.randint(lo, hi + 1, (n,), generator=gen)
    allowed = [MOVEMENT_KINDS.index(k) for k in cfg.movement_kinds]
    for i in range(n):
        k = allowed[int(torch.randint(len(allowed), (1,), generator=gen))]
        kind[i] = k
        size = 1 if MOVEMENT_KINDS[k] == "attract_one" else int(torch.randint(2, min(cfg.max_subset, K) + 1, (1,), generator=gen))
        classes = torch.randperm(K, generator=gen)[:size]
        w[i, classes] = -1.0 if MOVEMENT_KINDS[k] == "repel_many" else 1.0
    return w, steps, kind
