"""Offsets: points of the set moved by a constant, labelled by the teacher.

AM leaves every visualization near the level (mean value) where G starts, mid-domain, so a student of
visualizations sees one narrow band of levels and never learns what the teacher does at others. On
Apnea-ECG's record-wise folds the visualizations sit at 1.04-1.13 s of RR interval and real minutes
at 0.87-0.96 s (people's heart periods range over 0.73-1.15 s): the teacher, trained on real minutes,
barely cares, while the student's answers at levels it never saw are arbitrary: good in some folds,
at chance in others (benchmarks/apnea_level.py, docs/apnea.md). An offset x + c, the same c added to
every value of a point of the set, c drawn uniformly from [-scale, scale] times the width of the
teacher's input domain and the result clamped into it, asks the teacher what the level changes; its
answer (argmax for hard labels, softmax for soft) teaches the student the teacher's own invariance,
or its own dependence, as the case may be. For images an offset is a change of brightness. Nothing real is used:
offsets are made from the set and labelled by querying the teacher, as blends are.
"""

from __future__ import annotations

import torch

from ..models.train import predict_logits
from .dataset import SyntheticDataset
from .records import Kind


def add_offsets(
    ds: SyntheticDataset, teacher: torch.nn.Module, ratio: float, scale: float, low: float, high: float, seed: int, device: torch.device | str = "cpu"
) -> SyntheticDataset:
    """``ds`` followed by round(ratio * len(ds)) of its points (drawn uniformly, visualizations and blends
    alike), each moved by one constant drawn uniformly from [-scale, scale] * (high - low) and clamped to
    [low, high], labelled by the teacher. Marked ``kind == Kind.OFFSET``."""
    if ratio <= 0:
        return ds
    k = round(ratio * len(ds))
    g = torch.Generator().manual_seed(int(seed) + 104729)  # apart from the synthesis' and the blends' streams
    pick = torch.randint(len(ds), (k,), generator=g)
    c = (torch.rand((k,) + (1,) * (ds.x.dim() - 1), generator=g) * 2 - 1) * scale * (high - low)
    x = (ds.x[pick] + c).clamp(low, high)
    probs = torch.softmax(predict_logits(teacher, x, device), 1)
    moved = SyntheticDataset.labelled(x, probs, Kind.OFFSET, ds.classes)
    kept = float((moved.target == ds.probs[pick].argmax(1)).float().mean())
    meta = dict(ds.meta, offsets={"n": k, "ratio": ratio, "scale": scale, "label_kept": round(kept, 4)})
    return SyntheticDataset.concat([ds, moved], meta)
