"""What every experiment runner shares: where its results and cache go, its results record and how
the record is written (atomically, with its table), its parts, and which runner runs which kind of
experiment file (:func:`runner_for`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from ..errors import VistransferError
from ..io import cache_dir, write_json, write_text


class ExperimentRunner:
    """Runs one experiment, reusing everything cached. Subclasses name their ``PARTS``, the cache folder
    their units go to (:meth:`cache_folder`), how the record reads as a table (:meth:`render`), and run."""

    PARTS: ClassVar[tuple[str, ...]] = ()
    JOBS: ClassVar[bool] = False  # whether parts of it can run in several processes (``jobs``)

    def __init__(
        self,
        exp,
        data_dir: str | Path | None = None,
        results_dir: str | Path = "results",
        cache: str | Path | None = None,
        device: str = "cpu",
        progress: bool = True,
        log: Callable[[str], None] = print,
        jobs: int = 1,
    ):
        if not isinstance(jobs, int) or jobs < 1:
            raise VistransferError(f"jobs must be a whole number of processes >= 1, got {jobs!r}")
        if jobs > 1 and not self.JOBS:
            raise VistransferError(f"--jobs is for the apnea experiments' privacy audit; {exp.name} runs in one process (leave out --jobs)")
        self.exp, self.data_dir, self.device, self.progress, self.log, self.jobs = exp, data_dir, device, progress, log, jobs
        self.out = Path(results_dir) / exp.name
        root = Path(cache) if cache is not None else cache_dir() / "experiments"
        self.cache = root / self.cache_folder() if self.cache_folder() else root
        self.record: dict[str, Any] = {}

    def cache_folder(self) -> str:
        """The folder under the experiments cache that holds this kind's units ("" for the cache itself)."""
        return ""

    def render(self) -> str:
        """The record as the table.md beside results.json."""
        raise NotImplementedError

    def check_parts(self, parts: tuple[str, ...]) -> None:
        unknown = sorted(set(parts) - set(self.PARTS))
        if unknown:
            raise VistransferError(f"unknown part(s) {unknown}; choose from {list(self.PARTS)}")

    def write(self, final: bool | None = None) -> None:
        """results.json and table.md, each atomically; ``final`` (when given) is recorded as ``complete``."""
        if final is not None:
            self.record["complete"] = final
        write_json(self.out / "results.json", self.record)
        write_text(self.out / "table.md", self.render())

    def run(self, parts: tuple[str, ...] | None = None) -> dict:
        raise NotImplementedError
