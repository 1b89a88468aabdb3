"""Options shared by several commands, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

DataDirOpt = Annotated[Optional[Path], typer.Option("--data-dir", help="Folder with the dataset files (else $VISTRANSFER_DATA_DIR, else ~/.cache/vistransfer/datasets).")]
DeviceOpt = Annotated[str, typer.Option("--device", help="'auto' (GPU when present), 'cpu' or 'cuda[:N]'.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of this run; same seed, same result.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
DownloadOpt = Annotated[bool, typer.Option("--download", help="Try the canonical download when dataset files are missing.")]


def parse_seeds(text: str) -> list[int]:
    """'0,1,2' or '3' (= 0,1,2) -> list of seeds."""
    from ..errors import VistransferError

    try:
        parts = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise VistransferError(f"--seeds must be a count like 3 or a list like 0,1,2; got {text!r}") from None
    if len(parts) == 1 and "," not in text:
        if parts[0] < 1:
            raise VistransferError("--seeds count must be at least 1")
        return list(range(parts[0]))
    return parts


def parse_pair(text: str | None, name: str) -> tuple[float, float] | None:
    from ..errors import VistransferError

    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise VistransferError(f"{name} must be two numbers 'low,high', got {text!r}") from None
    return (lo, hi)
