"""The distillation loop: a pool that grows by one batch of the method's inputs per round, and a student
that learns from the teacher's softened outputs on it (Hinton et al.'s KD at temperature tau), on
shifted and flipped pool inputs the teacher labels afresh at every step, the gradient norm clipped.

A run with a state folder writes each round's batch and then the whole training state (student,
optimizer, schedule, the method's own state, random streams, counters) there, atomically, so an
interrupted run continues from its last finished round with the result it would have had.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..config import to_dict
from ..data import Split
from ..errors import VistransferError
from ..io import load_torch, progress_bar, save_torch, versions
from ..models.registry import create_model
from ..models.teacher import Teacher
from ..students.neural import NeuralStudent
from ..synthesis.dataset import SyntheticDataset
from ..synthesis.records import Kind
from ..synthesis.transforms import flip, shift
from . import deepinversion, generator, paper  # noqa: F401  (each registers its method)
from .method import create_method
from .options import DistillConfig

# The student's gradient norm is clipped to this at every distillation step. Without it, KD at tau = 20
# (the loss scaled by tau^2) drove cnn_cifar1's weights to ~3e4 and its batch-norm variances to ~1e20
# within the first rounds on an h1 pool (lr 0.1; first gradient norm 47.6); clipped at 2, the same run's
# loss falls from 5.5 to 1.7 in 60 steps.
KD_CLIP = 2.0


@dataclass
class DistillResult:
    pool: SyntheticDataset
    student: NeuralStudent
    record: dict


@torch.no_grad()
def _logits(net: torch.nn.Module, x: torch.Tensor, device: torch.device, batch: int = 1024) -> torch.Tensor:
    net.eval()
    return torch.cat([net(x[i : i + batch].to(device)).float().cpu() for i in range(0, len(x), batch)])


@torch.no_grad()
def class_diversity(teacher: Teacher, x: torch.Tensor, y: torch.Tensor, device: torch.device, per_class: int = 500) -> float:
    """Mean over classes of the mean pairwise Euclidean distance between the teacher's penultimate features
    (layer L-1) of ``x``'s examples of that class (at most ``per_class`` of each, the first ones)."""
    module = teacher.module
    module.require_features()
    dists = []
    for c in y.unique():
        xc = x[y == c][:per_class]
        if len(xc) < 2:
            continue
        f = torch.cat([module.features(xc[i : i + 512].to(device)).float().cpu() for i in range(0, len(xc), 512)])
        d = torch.cdist(f, f)
        dists.append(float(d.sum() / (len(f) * (len(f) - 1))))
    return sum(dists) / len(dists) if dists else float("nan")


class _State:
    """Where a run keeps its rounds: ``pool-NNNNN.pt`` (one per round) and ``state.pt``."""

    def __init__(self, folder: Path | None, config: dict):
        self.folder, self.config = folder, config

    def round_file(self, r: int) -> Path:
        return self.folder / f"pool-{r:05d}.pt"

    def load(self) -> dict | None:
        if self.folder is None or not (self.folder / "state.pt").is_file():
            return None
        state = load_torch(self.folder / "state.pt", "distill-state")
        if state["config"] != self.config:
            raise VistransferError(f"{self.folder} holds a distillation of other settings; delete it to start over")
        return state

    def save_round(self, r: int, x: torch.Tensor, y: torch.Tensor) -> None:
        if self.folder is not None:
            save_torch(self.round_file(r), {"artifact": "distill-pool", "x": x, "target": y})

    def save(self, state: dict) -> None:
        if self.folder is not None:
            save_torch(self.folder / "state.pt", {"artifact": "distill-state", "config": self.config, **state})


def distill(
    teacher: Teacher,
    cfg: DistillConfig,
    device: torch.device | str = "cpu",
    test: Split | None = None,
    state_dir: str | Path | None = None,
    eval_every: int = 0,
    progress: bool = True,
    say: Callable[[str], None] = lambda m: None,
) -> DistillResult:
    """Distill ``teacher`` into a new ``cfg.student`` through ``cfg.rounds`` rounds of ``cfg.method``.

    test: real held-out data, used only to report (the student's accuracy every ``eval_every`` rounds
    and at the end, its agreement with the teacher, the pool's diversity against the real images');
    nothing trains on it. state_dir: where the run's rounds and state go; a run that finds them there
    continues. Returns the pool (a :class:`SyntheticDataset` labelled by the teacher's softmax), the
    student and the run's record.
    """
    device = torch.device(device)
    module = teacher.module.to(device).eval()
    for p in module.parameters():
        p.requires_grad_(False)
    spec, K = teacher.spec, teacher.n_classes
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    method = create_method(cfg.method, module, spec, K, cfg, device, gen)
    net = create_model(cfg.student, spec.shape, K).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=cfg.kd_lr, momentum=0.9, nesterov=True, weight_decay=cfg.kd_weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, cfg.rounds * cfg.kd_steps))
    pool = torch.empty((cfg.rounds * cfg.batch, *spec.shape))
    target = torch.empty(cfg.rounds * cfg.batch, dtype=torch.long)
    counts = {"rounds": 0, "synthesis_teacher_rows": 0, "kd_teacher_rows": 0, "student_steps": 0, "seconds": 0.0}
    curve: list[dict] = []

    store = _State(Path(state_dir) if state_dir else None, {"config": to_dict(cfg), "teacher": teacher.fingerprint})
    state = store.load()
    if state is not None:
        net.load_state_dict(state["student"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        method.load_state_dict(state["method"])
        gen.set_state(state["gen"])
        torch.set_rng_state(state["torch_rng"])
        counts, curve = dict(state["counts"]), list(state["curve"])
        for r in range(counts["rounds"]):
            chunk = load_torch(store.round_file(r), "distill-pool")
            pool[r * cfg.batch : (r + 1) * cfg.batch], target[r * cfg.batch : (r + 1) * cfg.batch] = chunk["x"], chunk["target"]
        say(f"resuming at round {counts['rounds']} of {cfg.rounds} from {store.folder}")
    teacher_test = _logits(module, test.x, device).argmax(1) if test is not None else None

    def evaluate() -> dict:
        pred = _logits(net, test.x, device).argmax(1)
        return {"accuracy": float((pred == test.y).float().mean()), "teacher_agreement": float((pred == teacher_test).float().mean())}

    T = cfg.temperature
    bar = progress_bar(total=cfg.rounds, initial=counts["rounds"], desc=f"distill ({cfg.method})", unit="round", enabled=progress)
    for r in range(counts["rounds"], cfg.rounds):
        t0 = time.perf_counter()
        for p in net.parameters():
            p.requires_grad_(False)
        net.eval()
        made = method.make(net, use_student=r >= cfg.warmup)
        for p in net.parameters():
            p.requires_grad_(True)
        lo, hi = r * cfg.batch, (r + 1) * cfg.batch
        pool[lo:hi], target[lo:hi] = made.x.cpu(), made.target.cpu()
        counts["synthesis_teacher_rows"] += made.teacher_rows
        net.train()
        kd_loss = 0.0
        for _ in range(cfg.kd_steps):
            idx = torch.randint(hi, (cfg.kd_batch,), generator=gen)
            xb = pool[idx].to(device)
            if cfg.kd_jitter:
                xb = shift(xb, cfg.kd_jitter, gen)
            if xb.dim() == 4:
                xb = flip(xb, gen)
            with torch.no_grad():
                t = module(xb).float()
            s = net(xb).float()
            loss = F.kl_div(F.log_softmax(s / T, 1), F.log_softmax(t / T, 1), reduction="batchmean", log_target=True) * T * T
            if not torch.isfinite(loss):
                raise VistransferError(
                    f"distill: the student's distillation loss became {float(loss)} at round {r + 1}; lower kd_lr (now {cfg.kd_lr}) or temperature"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), KD_CLIP)
            opt.step()
            sched.step()
            kd_loss += float(loss.detach())
        counts["kd_teacher_rows"] += cfg.kd_steps * cfg.kd_batch
        counts["student_steps"] += cfg.kd_steps
        counts["rounds"] = r + 1
        counts["seconds"] += time.perf_counter() - t0
        if test is not None and eval_every and ((r + 1) % eval_every == 0 or r + 1 == cfg.rounds):
            curve.append({"round": r + 1, "pool": hi, "kd_loss": kd_loss / max(1, cfg.kd_steps), **evaluate()})
            bar.set_postfix(acc=f"{100 * curve[-1]['accuracy']:.1f}%")
        store.save_round(r, made.x.cpu(), made.target.cpu())
        store.save(
            {
                "student": net.state_dict(),
                "opt": opt.state_dict(),
                "sched": sched.state_dict(),
                "method": method.state_dict(),
                "gen": gen.get_state(),
                "torch_rng": torch.get_rng_state(),
                "counts": counts,
                "curve": curve,
            }
        )
        bar.update(1)
    bar.close()

    net.eval().cpu()
    probs = torch.softmax(_logits(module, pool, device), 1)
    n = len(pool)
    minus = torch.full((n,), -1, dtype=torch.long)
    meta = {
        "artifact": "synthetic_dataset",
        "method": f"distill:{cfg.method}",
        "distill": to_dict(cfg),
        "teacher": teacher.describe(),
        "input_spec": spec.to_dict(),
        "versions": versions(),
        "config": {"labels": "soft"},
    }
    ds = SyntheticDataset(
        pool, probs, target, minus, torch.zeros(n), torch.arange(n) // cfg.batch, torch.full((n,), int(Kind.DISTILLED)), teacher.classes, meta
    )
    student = NeuralStudent.from_net(cfg.student, net, spec.shape, K, temperature=T)
    record = {
        "config": to_dict(cfg),
        "teacher": teacher.describe(),
        "device": str(device),
        "versions": versions(),
        **counts,
        "teacher_rows_per_input": counts["synthesis_teacher_rows"] / n,
        "curve": curve,
        "pool_agrees_with_targets": float((probs.argmax(1) == target).float().mean()),
    }
    if test is not None:
        record["test"] = evaluate() if not curve or curve[-1]["round"] != cfg.rounds else {k: curve[-1][k] for k in ("accuracy", "teacher_agreement")}
        record["teacher_accuracy"] = float((teacher_test == test.y).float().mean())
        try:
            real = class_diversity(teacher, test.x, test.y, device)
            made_div = class_diversity(teacher, pool, probs.argmax(1), device)
            record["diversity"] = {"pool": made_div, "real_test": real, "ratio": made_div / real}
        except VistransferError as e:  # a teacher file without its layer L-1
            record["diversity"] = {"skipped": str(e)}
    return DistillResult(ds, student, record)
