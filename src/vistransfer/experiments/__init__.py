"""Experiments: one of the paper's tables as a TOML file, run with caching, written to results/NAME/.

* :mod:`.spec`: the file format (typed, presets, every problem named); :mod:`.load`: any file by its kind;
* :mod:`.base`: what every runner shares (results, record, cache, parts); :mod:`.runner`: a table's cached, resumable run;
* :mod:`.report`: the table, the plots and the summary over all experiments.
"""

from .base import ExperimentRunner
from .load import load_any, runner_for
from .report import render_markdown, size_plot, summary_markdown, write_summary
from .runner import Runner, layer_distance
from .spec import Column, Experiment, find_experiment, list_experiments, load_experiment

__all__ = [
    "Column",
    "Experiment",
    "Runner",
    "find_experiment",
    "layer_distance",
    "list_experiments",
    "load_any",
    "runner_for",
    "ExperimentRunner",
    "load_experiment",
    "render_markdown",
    "size_plot",
    "summary_markdown",
    "write_summary",
]
