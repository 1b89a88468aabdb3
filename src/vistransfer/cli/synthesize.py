"""vistransfer synthesize: Gen{h1}, the synthetic dataset D2 (Step 2)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..config import SynthesisConfig, load_config, merged
from ..data import load_dataset
from ..errors import VistransferError
from ..io import resolve_device
from ..models.foreign import load_teacher
from ..pipeline import calibrated_threshold, check_synthesis, make_synthetic, synthesis_meta, synthesize_sharded
from ..synthesis.objectives import batchnorm_advice
from ..synthesis.start import start_advice
from .options import (
    ArchOpt,
    ConfigOpt,
    DataDirOpt,
    DeviceOpt,
    FeaturesLayerOpt,
    InputShapeOpt,
    NormalizeOpt,
    QuietOpt,
    ValueRangeOpt,
    teacher_options,
    with_synthesis_options,
)


def build_synthesis_config(config: Optional[Path], defaults: dict | None = None, **overrides) -> SynthesisConfig:
    """Defaults (the dataset's, if given), then the [synthesis] table of ``config``, then command-line options."""
    base = merged(SynthesisConfig, SynthesisConfig(), defaults or {})
    if config is not None:
        base = merged(SynthesisConfig, base, load_config(config)["synthesis"])
    return merged(SynthesisConfig, base, overrides)


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
    arch: ArchOpt = None,
    input_shape: InputShapeOpt = None,
    normalize: NormalizeOpt = None,
    value_range: ValueRangeOpt = None,
    features_layer: FeaturesLayerOpt = None,
    data_dir: DataDirOpt = None,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Synthesize visualizations of the teacher's classes by activation maximization through G.

    The teacher may be any classifier file; no training data is needed (except for Loss2 and the value prior).
    """
    cfg = build_synthesis_config(config, **synthesis, seed=seed)
    check_synthesis(cfg)
    if (backend != "local" or ray_address) and shard_size is None:
        raise VistransferError("--backend ray and --ray-address need --shard-size (the unit of work sent to workers)")
    h1 = load_teacher(teacher, **teacher_options(arch, input_shape, normalize, value_range, features_layer))
    dev = resolve_device(device)
    if (advice := batchnorm_advice(h1.module, cfg.bn_prior, cfg.value_prior)) is not None:
        typer.echo(f"note: {advice}", err=True)
    if (advice := start_advice(h1.module, cfg, h1.spec, h1.classes)) is not None:
        typer.echo(f"note: {advice}", err=True)
    real = None
    calibration = None
    if threshold_share is not None:
        if cfg.threshold_range is not None:
            raise VistransferError("--threshold-share sets one T; drop --threshold-range (or the config's threshold_range)")
        name = dataset or h1.dataset
        if name is None:
            raise VistransferError(
                "--threshold-share needs real held-out data of the teacher's task: pass --dataset (a name, an .npz file or an image folder)"
            )
        held_out = load_dataset(name, "test", data_dir)
        t = calibrated_threshold(h1, held_out, threshold_share, cap=cfg.threshold, device=dev)
        calibration = {"share": threshold_share, "data": str(name), "n": len(held_out), "cap": cfg.threshold, "threshold": t}
        cfg = replace(cfg, threshold=t)
        typer.echo(f"T calibrated to {t:.4f}: {100 * threshold_share:.0f}% of {len(held_out)} held-out examples of {name} pass it")
    if cfg.real_uses:
        name = dataset or h1.dataset
        if name is None:
            raise cfg.needs_real("pass --dataset (a name, an .npz file or an image folder)")
        real = load_dataset(name, "train", data_dir)
    if shard_size is not None:
        ds = synthesize_sharded(
            h1,
            cfg,
            shard_dir or out.with_name(out.name + ".shards"),
            shard_size,
            backend,
            ray_address,
            str(dev),
            progress=not quiet,
            meta=synthesis_meta(h1, cfg),
            real=(real.x, real.y) if real is not None else None,
        )
    else:
        ds = make_synthetic(h1, cfg, dev, real=real, progress=not quiet)
    if calibration is not None:
        ds.meta["threshold_calibration"] = calibration
    if priors := [k for k in cfg.real_uses if k != "loss2"]:  # only statistics of this data went in, never an example
        ds.meta["value_statistics"] = {"data": str(name), "n": len(real), "priors": priors}
    ds.save(out)
    st = ds.meta["stats"]
    typer.echo(
        f"synthesized {ds.describe_size()} in {st['wall_s']:.1f}s ({st['vis_per_s']:.1f}/s, "
        f"{st['teacher_passes_per_vis']:.1f} teacher passes each, {st['discarded']} discarded over budget) -> {out}"
    )
