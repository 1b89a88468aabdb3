"""Probes: points where a student of the synthetic set still disagrees with the teacher.

Visualizations (and blends between them) cover the teacher's input space only where AM and the
segments between its results go; elsewhere a student of them answers by chance, and real inputs that
land there are misclassified. Probing searches for those places, as data-free distillation does
(adversarial exploration: Micaelli & Storkey 2019, "Zero-shot knowledge transfer via adversarial
belief matching"; Fang et al. 2019, DFAD): in each of ``rounds`` rounds,

1. a student is trained on the set so far (the caller's ``fit``: the same kind of student, labels
   and training as the final one);
2. starting points are drawn from the set, and each is moved by gradient ascent on the
   Kullback-Leibler divergence KL(teacher || student) of their softmax outputs, inside the teacher's
   input domain [low, high];
3. the points reached are labelled by the teacher (its softmax, as every visualization is) and join
   the set.

Nothing real is used: probes start from visualizations and blends and are labelled by querying the
teacher, as AM queries it. They are marked ``kind == Kind.PROBE``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import torch
import torch.nn.functional as F

from ..errors import VistransferError
from ..models.train import predict_logits
from .dataset import SyntheticDataset
from .records import Kind


def disagreement(teacher: torch.nn.Module, student: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per input, KL(teacher || student) of the two softmax outputs (differentiable in x)."""
    log_t = F.log_softmax(teacher(x), 1)
    log_s = F.log_softmax(student(x), 1)
    return (log_t.exp() * (log_t - log_s)).sum(1)


def search(
    teacher: torch.nn.Module, student: torch.nn.Module, start: torch.Tensor, steps: int, lr: float, low: float, high: float, batch: int = 256
) -> torch.Tensor:
    """``start`` moved by ``steps`` Adam steps of ascent on :func:`disagreement`, clamped to [low, high]."""
    out = []
    for chunk in start.split(batch):
        x = chunk.clone().requires_grad_(True)
        opt = torch.optim.Adam([x], lr=lr)
        for _ in range(steps):
            # the gradient with respect to x only: neither network's parameters gather gradients
            (grad,) = torch.autograd.grad(disagreement(teacher, student, x).sum(), x)
            x.grad = -grad
            opt.step()
            with torch.no_grad():
                x.clamp_(low, high)
        out.append(x.detach())
    return torch.cat(out)


def add_probes(
    ds: SyntheticDataset,
    teacher: torch.nn.Module,
    fit: Callable[[torch.Tensor, torch.Tensor], torch.nn.Module],
    *,
    labels: str,
    ratio: float,
    rounds: int,
    low: float,
    high: float,
    seed: int,
    steps: int = 10,
    step_size: float = 0.01,
    device: torch.device | str = "cpu",
) -> SyntheticDataset:
    """``ds`` followed by round(ratio * len(ds)) probes made in ``rounds`` rounds (the module docstring).

    fit(x, targets) trains a student on inputs and (N, K) targets and returns its network on raw inputs
    (logits). labels: "hard" or "soft", the targets the students learn. step_size: Adam's learning
    rate as a share of the domain's width. The set's meta gains ``probes``: per round, how many probes
    and the share of them on which that round's student disagreed with the teacher (argmax), at the
    starting points and where the search ended, and ``seconds``, the time it all took."""
    if ratio <= 0:
        return ds
    if rounds < 1 or steps < 1:
        raise VistransferError(f"probes need rounds >= 1 and steps >= 1, got rounds={rounds}, steps={steps}")
    if labels not in ("hard", "soft"):
        raise VistransferError(f"labels must be 'hard' or 'soft', got {labels!r}")
    t0 = time.perf_counter()
    device = torch.device(device)
    teacher = teacher.to(device).eval()
    g = torch.Generator().manual_seed(int(seed) + 104729)  # apart from the synthesis' and the blends' streams
    total = round(ratio * len(ds))
    per_round = [total // rounds + (1 if r < total % rounds else 0) for r in range(rounds)]
    history = []
    for r, k in enumerate(per_round):
        student = fit(ds.x, ds.targets(labels)).to(device).eval()
        start = ds.x[torch.randint(len(ds), (k,), generator=g)].to(device)
        x = search(teacher, student, start, steps, step_size * (high - low), low, high)
        with torch.no_grad():
            t_before = predict_logits(teacher, start, device).argmax(1)
            s_before = predict_logits(student, start, device).argmax(1)
            probs = torch.softmax(predict_logits(teacher, x, device), 1)
            s_after = predict_logits(student, x, device).argmax(1)
        history.append(
            {
                "round": r,
                "n": k,
                "disagree_at_start": float((t_before != s_before).float().mean()),
                "disagree_at_end": float((probs.argmax(1) != s_after).float().mean()),
            }
        )
        ds = SyntheticDataset.concat([ds, SyntheticDataset.labelled(x.cpu(), probs, Kind.PROBE, ds.classes)], ds.meta)
    meta = dict(
        ds.meta,
        probes={
            "n": total,
            "ratio": ratio,
            "rounds": rounds,
            "steps": steps,
            "step_size": step_size,
            "labels": labels,
            "history": history,
            "seconds": time.perf_counter() - t0,
        },
    )
    return replace(ds, meta=meta)
