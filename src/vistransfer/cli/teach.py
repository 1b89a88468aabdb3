"""vistransfer teach: train the teacher h1 on real data (Step 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..config import to_dict
from ..data import load_dataset
from ..io import cache_dir, cache_key, check_output, resolve_device
from ..models.registry import model_arch
from ..models.spec import dataset_spec
from ..models.teacher import train_teacher
from ..presets import dataset_defaults, teacher_preset
from .options import DataDirOpt, DeviceOpt, DownloadOpt, QuietOpt, SeedOpt, ValueRangeOpt, parse_pair


def teach(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the teacher checkpoint (.pt).")],
    dataset: Annotated[
        str, typer.Option(help="digits | mnist | fashion-mnist | cifar10 | apnea-ecg, or an .npz file / image folder of your own")
    ] = "digits",
    epochs: Annotated[Optional[int], typer.Option(help="Training epochs (default: 30 on digits, 8 otherwise; as 'run').")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Minibatch size (default: 64 on digits, 128 otherwise).")] = None,
    lr: Annotated[
        Optional[float],
        typer.Option(help="Peak learning rate of the one-cycle schedule (default: 3e-3 on digits, 0.05 with SGD on cifar10, 2e-3 otherwise)."),
    ] = None,
    value_range: ValueRangeOpt = None,
    data_dir: DataDirOpt = None,
    download: DownloadOpt = False,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Train the teacher h1 (the dataset's architecture: conv-pool-conv-pool-fc-dropout-fc for digits and MNIST,
    Appendix D's CNN1 for CIFAR-10) and report its test accuracy. The training state goes into the cache
    after every epoch: the same command, interrupted, continues from its last finished epoch."""
    check_output(out)
    cfg = teacher_preset(dataset, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    train = load_dataset(dataset, "train", data_dir, download)
    test = load_dataset(dataset, "test", data_dir, download)
    dd = dataset_defaults(dataset)
    spec = dataset_spec(train, dd, parse_pair(value_range, "--value-range"))
    arch = model_arch(dd.arch)
    key = cache_key({"dataset": dataset, "n_train": len(train), "arch": arch.to_dict(), "config": to_dict(cfg), "spec": spec.to_dict()})
    ckpt = cache_dir() / "teach" / f"{key}.ckpt"
    if ckpt.is_file():
        typer.echo(f"resuming from {ckpt}", err=True)
    teacher = train_teacher(train, test, cfg, dataset, arch, device=resolve_device(device), progress=not quiet, spec=spec, checkpoint=ckpt)
    teacher.save(out)
    typer.echo(f"teacher: {dataset}, test accuracy {100 * teacher.test_accuracy:.2f}%, {teacher.meta['train_seconds']:.1f}s -> {out}")
