"""What every experiment runner shares: where its results and cache go, its cached units (each found in
the cache, else in the results record an earlier run left, else made), its results record and how it is
written (atomically, with its table), and its parts. ``experiments.runner_for`` picks the runner of a file."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from ..errors import VistransferError
from ..io import cache_dir, cache_key, write_json, write_text


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
        self.cache = root / self.cache_folder()
        self.record: dict[str, Any] = {}
        self._cached_s = 0.0  # seconds the cached units used so far took when they were computed

    def cache_folder(self) -> str:
        """The folder under the experiments cache that holds this kind's units ("" for the cache itself)."""
        return ""

    def earlier_record(self) -> dict:
        """The results record an earlier run left in the results folder ({} when there is none, or it is not a
        record): what a run of some parts keeps, and where units are found when the cache is not at hand."""
        path = self.out / "results.json"
        try:
            old = json.loads(path.read_text()) if path.is_file() else {}
        except (OSError, json.JSONDecodeError):
            old = {}
        return old if isinstance(old, dict) else {}

    def keep_other_parts(self, parts: tuple[str, ...], old: dict) -> None:
        """Parts not run now keep their results (and timings) from ``old``, the earlier record."""
        for part in self.PARTS:
            if part not in parts and part in old:
                self.record[part] = old[part]
                if part in old.get("timings_s", {}):
                    self.record.setdefault("timings_s", {})[part] = old["timings_s"][part]

    def unit_identity(self) -> dict:
        """What every cached unit of this experiment depends on besides its own identity."""
        return {}

    def unit_path(self, kind: str, ident: dict) -> Path:
        """Where :meth:`cached` keeps the unit ``ident`` of ``kind``."""
        return self.cache / kind / f"{cache_key({**self.unit_identity(), **ident})}.json"

    def cached(self, kind: str, ident: dict, make: Callable[[], dict], earlier: dict | None = None) -> dict:
        """The unit's result from the cache, else ``earlier`` (the same unit in the results record an earlier
        run of this configuration and version wrote, which travels with the results folder when the cache
        does not), else ``make()``; whatever is found or made is cached. Its ``seconds`` add to ``_cached_s``
        when it was found."""
        path = self.unit_path(kind, ident)
        if path.is_file() or earlier is not None:
            res = json.loads(path.read_text()) if path.is_file() else earlier
            if not path.is_file():
                write_json(path, res)
            self._cached_s += res.get("seconds", 0.0)
            return res
        t0 = time.perf_counter()
        res = make()
        res["seconds"] = time.perf_counter() - t0
        write_json(path, res)
        return res

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
