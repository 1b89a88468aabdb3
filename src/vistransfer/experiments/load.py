"""Any experiment file, by its ``kind``: a table (:mod:`.spec`), Apnea-ECG (:mod:`.apnea`) or CIFAR-10 (:mod:`.cifar`)."""

from __future__ import annotations

from pathlib import Path

from .apnea import load_apnea_experiment
from .cifar import load_cifar_experiment
from .spec import extended, load_experiment, read_toml


def load_any(path: str | Path):
    """A table experiment (:class:`.spec.Experiment`), an apnea one (``kind = "apnea"``) or a CIFAR-10 one
    (``kind = "cifar"``), by the file's kind."""
    path = Path(path)
    kind = read_toml(path, "experiment file").get("kind") if path.is_file() else None
    if kind == "apnea":
        return load_apnea_experiment(path, extended(path, read_toml(path, "experiment file")))
    if kind == "cifar":
        return load_cifar_experiment(path, extended(path, read_toml(path, "experiment file")))
    return load_experiment(path)
