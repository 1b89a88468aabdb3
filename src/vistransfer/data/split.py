"""A dataset split: the one type every loader returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Split:
    """One split of a dataset. x: float32 (N, C, H, W) in [0, 1]; y: int64 (N,)."""

    x: torch.Tensor
    y: torch.Tensor
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.y)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.x.shape[1:])  # type: ignore[return-value]

    def subset(self, n: int, seed: int = 0) -> Split:
        """A class-stratified random subset of ``n`` examples (Table 2's real-data baseline)."""
        if n >= len(self):
            return self
        g = np.random.default_rng(seed)
        y = self.y.numpy()
        k = len(self.classes)
        idx: list[int] = []
        for c in range(k):
            pool = np.flatnonzero(y == c)
            take = n // k + (1 if c < n % k else 0)
            idx.extend(g.choice(pool, size=min(take, len(pool)), replace=False).tolist())
        sel = torch.as_tensor(np.sort(np.array(idx)))
        return Split(self.x[sel], self.y[sel], self.classes)
