"""vistransfer experiment NAME: run one of the paper's tables from experiments/NAME.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..experiments import find_experiment, load_any, runner_for, write_summary
from ..io import resolve_device
from .options import DataDirOpt, DeviceOpt, QuietOpt


def experiment(
    name: Annotated[str, typer.Argument(help="Experiment name (experiments/NAME.toml) or a path to a .toml file.")],
    experiments_dir: Annotated[Path, typer.Option(help="Folder of experiment files.")] = Path("experiments"),
    results_dir: Annotated[Path, typer.Option(help="Results go to RESULTS_DIR/NAME/.")] = Path("results"),
    cache: Annotated[
        Optional[Path], typer.Option(help="Cache of teachers, synthetic shards and student runs (default: $VISTRANSFER_CACHE/experiments).")
    ] = None,
    parts: Annotated[
        Optional[str], typer.Option(help="Apnea and CIFAR-10 experiments only: which parts, e.g. table5,phone or train,table3 (default: all).")
    ] = None,
    jobs: Annotated[
        int,
        typer.Option(
            min=1,
            help="Apnea experiments only: run the privacy audit's shadow pipelines in this many processes at once, each with this process's torch threads / JOBS (small 1-D networks use cores better so; the numbers may differ in the last digits from a run of 1).",
        ),
    ] = 1,
    data_dir: DataDirOpt = None,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Run an experiment, reusing every cached teacher, synthetic shard and student run.

    Interrupt it at any time: re-running the same command continues where it stopped.
    Writes results.json, table.md (ours beside the paper's numbers) and figures.
    """
    exp = load_any(find_experiment(name, experiments_dir))
    runner = runner_for(
        exp, data_dir, results_dir, cache, str(resolve_device(device)), progress=not quiet, log=lambda m: typer.echo(m, err=False), jobs=jobs
    )
    runner.run(tuple(p.strip() for p in parts.split(",")) if parts else None)
    typer.echo(f"results: {runner.out / 'table.md'}")


def summarize(
    results_dir: Annotated[Path, typer.Option(help="Folder of experiment results.")] = Path("results"),
    readme: Annotated[Optional[Path], typer.Option(help="Also fill the results block of this README.")] = None,
) -> None:
    """Gather every experiment's cells, ours beside the paper's, into RESULTS_DIR/README.md."""
    typer.echo(f"summary: {write_summary(results_dir, readme)}")
