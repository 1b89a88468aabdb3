"""A tiny study made in the test: ten classes, a real 'sample' with truth, an 'imgs' set without."""

import numpy as np
import pytest
import torch

from vistransfer.study.build import create_study

CLASSES = tuple(f"class{k}" for k in range(10))


def by_brightness(x: torch.Tensor) -> np.ndarray:
    """A deterministic 'classifier': the mean brightness, in ten bins."""
    return (x.mean((1, 2, 3)) * 9.999).long().clamp(0, 9).numpy()


def make_study(path, n_sample=12, n_imgs=12, n_practice=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    sample = torch.rand(n_sample, 3, 8, 8, generator=g)
    imgs = torch.rand(n_imgs, 3, 8, 8, generator=g)
    practice = torch.rand(n_practice, 3, 8, 8, generator=g)
    icons = torch.rand(10, 3, 8, 8, generator=g)
    return create_study(
        path,
        CLASSES,
        {"sample": (sample, np.arange(n_sample) % 10), "imgs": (imgs, None)},
        by_brightness,
        lambda x: (by_brightness(x) + 1) % 10,
        (practice, np.arange(n_practice) % 10),
        icons,
        {"title": "tiny study"},
    )


@pytest.fixture
def study(tmp_path):
    return make_study(tmp_path / "study.sqlite")
