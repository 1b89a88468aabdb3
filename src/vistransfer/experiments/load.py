"""Any experiment file, by its ``kind``: a table (:mod:`.spec`), Apnea-ECG (:mod:`.apnea`) or CIFAR-10 (:mod:`.cifar`),
and the runner of each kind."""

from __future__ import annotations

from pathlib import Path

from .apnea import ApneaRunner
from .apnea_spec import ApneaExperiment, load_apnea_experiment
from .base import ExperimentRunner
from .cifar import CifarRunner
from .cifar_spec import CifarExperiment, load_cifar_experiment
from .runner import Runner
from .spec import Experiment, extended, load_experiment, read_toml

# Which runner runs which kind of experiment.
RUNNERS: dict[type, type[ExperimentRunner]] = {Experiment: Runner, ApneaExperiment: ApneaRunner, CifarExperiment: CifarRunner}


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


def runner_for(exp, *args, **kwargs) -> ExperimentRunner:
    """The runner of experiment ``exp`` (from :func:`load_any`), built with the runners' common arguments
    (``data_dir, results_dir, cache, device, progress, log, jobs``)."""
    return RUNNERS[type(exp)](exp, *args, **kwargs)
