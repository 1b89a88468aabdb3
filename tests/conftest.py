"""Shared fixtures: a small digits teacher trained once per session (a few seconds on a CPU)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from vistransfer.config import TrainConfig
from vistransfer.data import load_dataset
from vistransfer.models.teacher import train_teacher

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture(scope="session", autouse=True)
def _threads():
    # 2 = this machine's cores; set VISTRANSFER_TEST_THREADS=1 to test beside a running experiment
    torch.set_num_threads(int(os.environ.get("VISTRANSFER_TEST_THREADS", "2")))


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits", "train"), load_dataset("digits", "test")


@pytest.fixture(scope="session")
def digits_teacher(digits):
    train, test = digits
    return train_teacher(train, test, TrainConfig(epochs=20, batch_size=64, lr=3e-3, seed=0), "digits", progress=False)


@pytest.fixture(scope="session")
def teacher_file(digits_teacher, tmp_path_factory):
    path = tmp_path_factory.mktemp("teacher") / "teacher.pt"
    digits_teacher.save(path)
    return path
