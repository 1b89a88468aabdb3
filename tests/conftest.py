"""Shared fixtures: a small digits teacher trained once per session (a few seconds on a CPU)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from benchmarks.common import DIGITS_TEACHER

from vistransfer.data import load_dataset
from vistransfer.models.teacher import train_teacher

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def _torch_threads() -> int:
    """Torch threads for this test process: the cores shared out over pytest-xdist's workers (the
    suite runs on all cores, ``-n auto`` in pyproject.toml), or VISTRANSFER_TEST_THREADS (e.g. 1 to
    test beside a running experiment)."""
    if "VISTRANSFER_TEST_THREADS" in os.environ:
        return int(os.environ["VISTRANSFER_TEST_THREADS"])
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, (os.cpu_count() or 1) // workers)


@pytest.fixture(scope="session", autouse=True)
def _threads():
    torch.set_num_threads(_torch_threads())


@pytest.fixture(scope="session", autouse=True)
def _own_cache(tmp_path_factory):
    """No test reads or writes the user's cache (~/.cache/vistransfer), and workers never share one."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VISTRANSFER_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits", "train"), load_dataset("digits", "test")


@pytest.fixture(scope="session")
def digits_teacher(digits):
    train, test = digits
    return train_teacher(train, test, DIGITS_TEACHER, "digits", progress=False)


@pytest.fixture(scope="session")
def teacher_file(digits_teacher, tmp_path_factory):
    path = tmp_path_factory.mktemp("teacher") / "teacher.pt"
    digits_teacher.save(path)
    return path
