"""The synthetic dataset D2: visualizations, their labels and how each was made.

Saved as one file (atomically) with its synthesis config, seed, the teacher's fingerprint and
package versions, and loadable without the teacher. A JSON sidecar repeats the metadata for
people and tools that do not read torch files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import VistransferError
from ..io import load_torch, save_torch, write_json
from .records import FIELDS, Kind


@dataclass
class SyntheticDataset:
    """x: float32 (N, C, H, W) in (0, 1); probs: (N, K) teacher softmax at acceptance;
    target: (N,) int64 class the visualization was made for (= teacher argmax, Eq. 2);
    passed_step: AM steps taken before Eq. 2 held; threshold: T of its group; group: id of
    the generator (theta_G) that made it; kind: how it was made (a :class:`.records.Kind`).
    """

    x: torch.Tensor
    probs: torch.Tensor
    target: torch.Tensor
    passed_step: torch.Tensor
    threshold: torch.Tensor
    group: torch.Tensor
    kind: torch.Tensor
    classes: tuple[str, ...]
    meta: dict

    def __len__(self) -> int:
        return len(self.target)

    @property
    def labels(self) -> str:
        return self.meta.get("config", {}).get("labels", "hard")

    def targets(self, labels: str | None = None) -> torch.Tensor:
        """(N, K) training targets: one-hot of the teacher's argmax ("hard") or its softmax ("soft")."""
        mode = labels or self.labels
        if mode == "soft":
            return self.probs / self.probs.sum(1, keepdim=True)
        return F.one_hot(self.probs.argmax(1), len(self.classes)).float()

    def movement_name(self, i: int) -> str:
        return Kind(int(self.kind[i])).label

    @classmethod
    def from_tensors(cls, out: dict[str, torch.Tensor], classes: tuple[str, ...], meta: dict) -> SyntheticDataset:
        """A set from the engine's tensors (one per field of :data:`.records.FIELDS`)."""
        return cls(**{f: out[f] for f in FIELDS}, classes=classes, meta=meta)

    @classmethod
    def labelled(cls, x: torch.Tensor, probs: torch.Tensor, kind: int, classes: tuple[str, ...]) -> SyntheticDataset:
        """Points that AM did not make (``kind``: a :class:`.records.Kind` below -1), labelled by the teacher's ``probs``:
        no group, step or threshold."""
        k = len(x)
        minus = torch.full((k,), -1, dtype=torch.long)
        return cls(x, probs, probs.argmax(1), minus, torch.zeros(k), minus.clone(), torch.full((k,), kind, dtype=torch.long), classes, {})

    @property
    def from_am(self) -> torch.Tensor:
        """(N,) bool: True for visualizations made by AM, False for blends, probes, offsets and the like."""
        return self.kind >= Kind.NO_MOVEMENT

    @property
    def n_blends(self) -> int:
        return int((self.kind == Kind.BLEND).sum())

    @property
    def n_probes(self) -> int:
        return int((self.kind == Kind.PROBE).sum())

    @property
    def n_offsets(self) -> int:
        return int((self.kind == Kind.OFFSET).sum())

    def describe_size(self) -> str:
        """ "N visualizations", followed by " + M blends", " + O offsets" and " + P probes" when the set holds them."""
        b, o, p = self.n_blends, self.n_offsets, self.n_probes
        return (
            f"{len(self) - b - o - p} visualizations"
            + (f" + {b} blends" if b else "")
            + (f" + {o} offsets" if o else "")
            + (f" + {p} probes" if p else "")
        )

    def subset(self, n: int) -> SyntheticDataset:
        """The first ``n`` visualizations in class-balanced order (for size sweeps)."""
        made = {"blends": self.n_blends, "offsets": self.n_offsets, "probes": self.n_probes}
        if any(made.values()):
            held = " and ".join(f"{v} {k}" for k, v in made.items() if v)
            raise VistransferError(f"this set holds {held} of its visualizations and cannot be cut to a size; synthesize it at the size you need")
        if n > len(self):
            raise VistransferError(f"asked for {n} visualizations but the set holds {len(self)}; synthesize more")
        order = torch.argsort(_rank_within_class(self.target) * len(self.classes) + self.target, stable=True)[:n]
        order = torch.sort(order).values
        return SyntheticDataset(*(getattr(self, f)[order] for f in FIELDS), self.classes, dict(self.meta, subset_of=len(self)))

    def save(self, path: str | Path) -> None:
        path = Path(path)
        save_torch(
            path,
            {
                "artifact": "synthetic_dataset",
                "classes": list(self.classes),
                "meta": self.meta,
                **{f: getattr(self, f).contiguous() for f in FIELDS},
            },
        )
        write_json(path.with_suffix(path.suffix + ".json"), {"n": len(self), "classes": list(self.classes), **self.meta})

    @classmethod
    def load(cls, path: str | Path) -> SyntheticDataset:
        d = load_torch(path, "synthetic_dataset")
        missing = [f for f in FIELDS if f not in d]
        if missing:
            raise VistransferError(f"{path} lacks fields {missing}; re-create it with vistransfer synthesize")
        n = len(d["target"])
        if any(not torch.is_tensor(d[f]) or len(d[f]) != n for f in FIELDS):
            raise VistransferError(f"{path} has fields of different lengths; the file is corrupt, re-create it")
        k = len(d.get("classes") or ())
        x, probs, target = d["x"], d["probs"], d["target"]
        bad = None
        if k < 2:
            bad = f"names {k} classes; a set needs at least two"
        elif probs.dim() != 2 or probs.shape[1] != k:
            bad = f"has teacher probabilities of shape {tuple(probs.shape)} for {k} classes (want ({n}, {k}))"
        elif n and (target.min() < 0 or target.max() >= k):
            bad = f"has target classes outside 0..{k - 1}"
        elif not (torch.isfinite(x).all() and torch.isfinite(probs).all()):
            bad = "holds NaN or infinite values"
        if bad:
            raise VistransferError(f"{path} {bad}; the file is corrupt or hand-made wrongly: re-create it with vistransfer synthesize")
        return cls(*(d[f] for f in FIELDS), tuple(d["classes"]), d["meta"])

    @classmethod
    def concat(cls, parts: list[SyntheticDataset], meta: dict) -> SyntheticDataset:
        if not parts:
            raise VistransferError("nothing to concatenate: no synthetic shards")
        return cls(*(torch.cat([getattr(p, f) for p in parts]) for f in FIELDS), parts[0].classes, meta)


def _rank_within_class(y: torch.Tensor) -> torch.Tensor:
    """For each i, how many earlier entries share y[i]'s class (0, 1, 2, ...)."""
    rank = torch.zeros_like(y)
    for c in torch.unique(y):
        m = y == c
        rank[m] = torch.arange(int(m.sum()))
    return rank
