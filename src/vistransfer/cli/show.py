"""vistransfer show: a PNG grid of synthesized samples per class."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import VistransferError
from ..synthesis.dataset import SyntheticDataset
from ..viz import class_grid


def show(
    synthetic: Annotated[Path, typer.Argument(help="Synthetic dataset (.pt) from 'vistransfer synthesize'.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")],
    per_class: Annotated[int, typer.Option(help="Samples per class (one row each).")] = 9,
    seed: Annotated[int, typer.Option(help="Which samples to pick.")] = 0,
) -> None:
    """Write an Appendix C style grid: one row of samples per class."""
    if per_class < 1:
        raise VistransferError("--per-class must be at least 1")
    ds = SyntheticDataset.load(synthetic)
    t = ds.meta.get("config", {}).get("threshold")
    class_grid(ds.x, ds.target, ds.classes, out, per_class, title=f"{len(ds)} visualizations, T={t}", seed=seed)
    typer.echo(f"wrote {out}")
