"""Transforms of the visualizations at every AM step, before the teacher sees them: the teacher judges,
and the synthetic set keeps, the transformed ones (transformation robustness, Olah et al. 2017).

Like the priors (:data:`.objectives.PRIORS`), each is an entry of :data:`TRANSFORMS` under the name of
its config field: a new transform is a new entry and a field, not an edit of the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


def shift(x: torch.Tensor, j: int, gen: torch.Generator) -> torch.Tensor:
    """Each row of ``x`` (N, C, *spatial) moved by a random whole shift in [-j, j] along every spatial
    axis, the edge values repeated into the space it leaves; differentiable in ``x``."""
    n = x.shape[0]
    for axis in range(2, x.dim()):
        length = x.shape[axis]
        s = torch.randint(-j, j + 1, (n,), generator=gen).to(x.device)
        idx = (torch.arange(length, device=x.device)[None] - s[:, None]).clamp_(0, length - 1)  # (n, L)
        view = [n] + [1] * (x.dim() - 1)
        view[axis] = length
        x = x.gather(axis, idx.view(view).expand_as(x))
    return x


def flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Each row of ``x`` (N, C, *spatial) mirrored along its last axis with probability 1/2 (a horizontal
    flip of images); differentiable in ``x``."""
    mask = (torch.rand(x.shape[0], generator=gen) < 0.5).to(x.device).view(-1, *[1] * (x.dim() - 1))
    return torch.where(mask, x.flip(-1), x)


@dataclass(frozen=True)
class Transform:
    """``build(value, gen)`` -> the step's transform of a batch (A, C, *spatial), for config field ``name``
    at ``value`` (applied when the value is truthy); ``gen``: the synthesis' random stream."""

    name: str
    build: Callable[[object, torch.Generator], Callable[[torch.Tensor], torch.Tensor]]


TRANSFORMS = (
    Transform("jitter", lambda j, gen: lambda x: shift(x, j, gen)),
    Transform("flip", lambda on, gen: lambda x: flip(x, gen)),
)
