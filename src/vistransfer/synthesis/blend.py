"""Blends: points between visualizations of different classes, labelled by the teacher.

AM stops each visualization where the teacher is sure (Eq. 2, T = 0.99), so a student trained on
them alone sees every class at its extreme and nothing in between; where it puts its boundary
between the extremes is left to chance. A blend x = lam * a + (1 - lam) * b of two visualizations a
and b that the teacher assigns to different classes, with lam drawn uniformly from [0, 1], lies on
the path between them, and the teacher's own output there (argmax for hard labels, softmax for soft)
tells the student where the teacher's boundary crosses it. Nothing real is used: blends are made
from the visualizations and labelled by querying the teacher, as the visualizations themselves are.
A convex combination stays inside the teacher's input domain.

Measured on Apnea-ECG (docs/apnea.md, ``SynthesisConfig.blend``).
"""

from __future__ import annotations

import torch

from ..errors import VistransferError
from ..models.train import predict_logits
from .dataset import SyntheticDataset
from .records import Kind


def add_blends(ds: SyntheticDataset, teacher: torch.nn.Module, ratio: float, seed: int, device: torch.device | str = "cpu") -> SyntheticDataset:
    """``ds`` followed by round(ratio * len(ds)) blends of pairs of its visualizations whose teacher
    labels differ. Blends are marked ``kind == Kind.BLEND`` (group, passed_step -1; threshold 0)."""
    if ratio <= 0:
        return ds
    k = round(ratio * len(ds))
    label = ds.probs.argmax(1)
    present = torch.unique(label)
    if len(present) < 2:
        raise VistransferError(
            f"blends need visualizations of at least two classes; all {len(ds)} are "
            f"{ds.classes[int(present[0])]!r}. Set blend = 0 or synthesize more classes"
        )
    g = torch.Generator().manual_seed(int(seed) + 7919)  # apart from the synthesis' own stream
    a = torch.randint(len(ds), (k,), generator=g)
    # partner: uniform over the visualizations of the other classes
    b = torch.empty(k, dtype=torch.long)
    for c in present.tolist():
        mine = label[a] == c
        others = torch.nonzero(label != c).flatten()
        b[mine] = others[torch.randint(len(others), (int(mine.sum()),), generator=g)]
    lam = torch.rand((k,) + (1,) * (ds.x.dim() - 1), generator=g)
    x = lam * ds.x[a] + (1 - lam) * ds.x[b]
    probs = torch.softmax(predict_logits(teacher, x, device), 1)
    blends = SyntheticDataset.labelled(x, probs, Kind.BLEND, ds.classes)
    share = torch.bincount(blends.target, minlength=len(ds.classes)).float() / k
    meta = dict(
        ds.meta, blends={"n": k, "ratio": ratio, "visualizations": len(ds), "class_share": {c: round(float(s), 4) for c, s in zip(ds.classes, share)}}
    )
    return SyntheticDataset.concat([ds, blends], meta)
