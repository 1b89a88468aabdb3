"""vistransfer synthesize: Gen{h1}, the synthetic dataset D2 (Step 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..config import SynthesisConfig, load_config, merged
from ..data import load_dataset
from ..errors import VistransferError
from ..io import check_output, resolve_device
from ..models.foreign import load_teacher
from ..pipeline import Shards, synthesize_teacher
from .options import (
    ConfigOpt,
    DataDirOpt,
    DeviceOpt,
    QuietOpt,
    with_synthesis_options,
    with_teacher_file_options,
)


def build_synthesis_config(config: Optional[Path], defaults: dict | None = None, **overrides) -> SynthesisConfig:
    """Defaults (the dataset's, if given), then the [synthesis] table of ``config``, then command-line options."""
    base = merged(SynthesisConfig, SynthesisConfig(), defaults or {})
    if config is not None:
        base = merged(SynthesisConfig, base, load_config(config)["synthesis"])
    return merged(SynthesisConfig, base, overrides)


@with_teacher_file_options()
@with_synthesis_options()
def synthesize(
    teacher: Annotated[Path, typer.Option("--teacher", "-t", help="Teacher file: ours (.pt), .pt2, TorchScript, or a state_dict with --arch.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the synthetic dataset (.pt).")],
    synthesis: Optional[dict] = None,  # the SYNTHESIS_OPTIONS, from with_synthesis_options
    threshold_share: Annotated[
        Optional[float],
        typer.Option(
            help="Calibrate T: the value this share of real held-out examples "
            "(--dataset's test split; default: the teacher's dataset) pass, at most --threshold (0.99). "
            "For a teacher less confident than the paper's (e.g. batch norm with global average pooling)."
        ),
    ] = None,
    config: ConfigOpt = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed (default 0).")] = None,
    shard_size: Annotated[Optional[int], typer.Option(help="Synthesize in resumable shards of this size.")] = None,
    shard_dir: Annotated[Optional[Path], typer.Option(help="Folder for the shards (default: <out>.shards).")] = None,
    backend: Annotated[str, typer.Option(help="Where shards run: 'local' (this process) or 'ray'.")] = "local",
    ray_address: Annotated[
        Optional[str], typer.Option(help="Ray cluster address (e.g. 10.0.0.5:6379, or 'auto'); default: start a local cluster.")
    ] = None,
    dataset: Annotated[
        Optional[str],
        typer.Option(
            help="Real data for Loss2 and the value prior (its train split) and --threshold-share (its test split); default: the teacher's dataset. A name, an .npz file or an image folder."
        ),
    ] = None,
    teacher_file: Optional[dict] = None,  # --arch, --input-shape, ...: from with_teacher_file_options
    data_dir: DataDirOpt = None,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Synthesize visualizations of the teacher's classes by activation maximization through G.

    The teacher may be any classifier file; no training data is needed (except for Loss2 and the value prior).
    """
    check_output(out, teacher, config)
    check_output(shard_dir, teacher, config, folder=True, option="--shard-dir")
    cfg = build_synthesis_config(config, **synthesis, seed=seed)
    if (backend != "local" or ray_address) and shard_size is None:
        raise VistransferError("--backend ray and --ray-address need --shard-size (the unit of work sent to workers)")
    h1 = load_teacher(teacher, **teacher_file)
    name = dataset or h1.dataset
    data = (lambda split: load_dataset(name, split, data_dir)) if name is not None else None
    shards = Shards(shard_size, shard_dir or out.with_name(out.name + ".shards"), backend, ray_address) if shard_size is not None else None
    ds = synthesize_teacher(
        h1,
        cfg,
        resolve_device(device),
        data,
        str(name),
        threshold_share,
        shards,
        progress=not quiet,
        say=lambda m: typer.echo(m, err=m.startswith("note:")),
    )
    ds.save(out)
    st = ds.meta["stats"]
    typer.echo(
        f"synthesized {ds.describe_size()} in {st['wall_s']:.1f}s ({st['vis_per_s']:.1f}/s, "
        f"{st['teacher_passes_per_vis']:.1f} teacher passes each, {st['discarded']} discarded over budget) -> {out}"
    )
