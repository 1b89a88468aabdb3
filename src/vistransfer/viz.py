"""Pictures of what was synthesized: a grid of samples per class (Appendix C style)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from .io import atomic_path  # noqa: E402


def class_grid(
    x: torch.Tensor,
    y: torch.Tensor,
    classes: tuple[str, ...],
    path: str | Path,
    per_class: int = 9,
    title: str = "",
    seed: int = 0,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> Path:
    """Write a PNG: one row per class, ``per_class`` random samples each.

    x: (N, C, H, W) images (grey for C = 1, colour for C = 3) or (N, C, L) series (line plots);
    y: (N,) class indices; value_range: the data domain, for the colour or y scale.
    """
    if x.dim() == 3:
        return series_grid(x, y, classes, path, per_class, title, seed, value_range)
    if x.dim() != 4:
        raise ValueError(f"x must be (N, C, H, W) or (N, C, L), got {tuple(x.shape)}")
    lo, hi = value_range
    g = np.random.default_rng(seed)
    k = len(classes)
    fig, axes = plt.subplots(k, per_class, figsize=(per_class * 0.9, k * 0.95), squeeze=False)
    for c in range(k):
        idx = np.flatnonzero(y.numpy() == c)
        pick = g.choice(idx, size=min(per_class, len(idx)), replace=False) if len(idx) else []
        for j in range(per_class):
            ax = axes[c, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(pick):
                img = ((x[pick[j]] - lo) / (hi - lo)).clamp(0, 1).permute(1, 2, 0).numpy()
                if img.shape[-1] not in (1, 3):
                    img = img[..., :1]  # other channel counts: the first channel, in grey
                ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            else:
                ax.axis("off")
        axes[c, 0].set_ylabel(classes[c], rotation=0, ha="right", va="center", fontsize=8)
    return save_figure(fig, path, title)


def series_grid(
    x: torch.Tensor,
    y: torch.Tensor,
    classes: tuple[str, ...],
    path: str | Path,
    per_class: int = 4,
    title: str = "",
    seed: int = 0,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> Path:
    """Write a PNG of series: one panel per class, ``per_class`` random samples overlaid (channel 0).

    x: (N, C, L); y: (N,) class indices.
    """
    g = np.random.default_rng(seed)
    k = len(classes)
    fig, axes = plt.subplots(k, 1, figsize=(7, 1.4 * k + 0.4), squeeze=False, sharex=True)
    t = np.arange(x.shape[-1])
    for c in range(k):
        ax = axes[c, 0]
        idx = np.flatnonzero(y.numpy() == c)
        pick = g.choice(idx, size=min(per_class, len(idx)), replace=False) if len(idx) else []
        for j, i in enumerate(pick):
            ax.plot(t, x[i, 0].numpy(), lw=0.8, alpha=0.8, color=f"C{j % 10}")
        ax.set_ylim(*value_range)
        ax.set_ylabel(classes[c], rotation=0, ha="right", va="center", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("sample", fontsize=8)
    return save_figure(fig, path, title)


def save_figure(fig, path: str | Path, title: str = "", dpi: int = 80) -> Path:
    """Title, lay out and write ``fig`` as a PNG atomically, then close it."""
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
    return path
