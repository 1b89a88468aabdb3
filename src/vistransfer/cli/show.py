"""vistransfer show: a PNG grid of synthesized samples per class."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import VistransferError
from ..io import check_output
from ..synthesis.dataset import SyntheticDataset
from ..viz import class_grid

MAX_PER_CLASS = 50  # a wider row is no longer a picture anyone looks at


def show(
    synthetic: Annotated[Path, typer.Argument(help="Synthetic dataset (.pt) from 'vistransfer synthesize'.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")],
    per_class: Annotated[Optional[int], typer.Option(help="Samples per class (default: 9 images in a row, or 4 series overlaid).")] = None,
    seed: Annotated[int, typer.Option(help="Which samples to pick.")] = 0,
) -> None:
    """Write an Appendix C style grid (one row of images per class) or, for series, one panel per class."""
    if per_class is not None and not 1 <= per_class <= MAX_PER_CLASS:
        raise VistransferError(f"--per-class must be in [1, {MAX_PER_CLASS}] (a row of images per class), got {per_class}")
    check_output(out, synthetic)
    ds = SyntheticDataset.load(synthetic)
    t = ds.meta.get("config", {}).get("threshold")
    spec = ds.meta.get("input_spec") or {}
    per = per_class or (9 if ds.x.dim() == 4 else 4)
    class_grid(
        ds.x,
        ds.target,
        ds.classes,
        out,
        per,
        title=f"{len(ds)} visualizations, T={t}",
        seed=seed,
        value_range=(spec.get("low", 0.0), spec.get("high", 1.0)),
    )
    typer.echo(f"wrote {out}")
