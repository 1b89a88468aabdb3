"""Dataset registry and loaders: MNIST, Fashion-MNIST (IDX files), scikit-learn's ``digits``, CIFAR-10
(:mod:`.cifar`) and Apnea-ECG (:mod:`vistransfer.ecg.apnea`).

Every loader returns a :class:`Split`: images float32 (N, C, H, W) in [0, 1], labels int64 (N,).
The data directory is resolved as: explicit argument (CLI ``--data-dir``), then the
``VISTRANSFER_DATA_DIR`` environment variable, then ``~/.cache/vistransfer/datasets``.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..ecg import apnea as apnea_ecg
from ..errors import VistransferError
from ..io import ENV_DATA_DIR, default_data_dir
from .cifar import load_cifar10
from .idx import load_idx
from .split import Split
from .user import load_user_data, looks_like_path


@dataclass(frozen=True)
class IdxSpec:
    """Where an IDX dataset's four files are, their content md5s and the canonical mirror."""

    folder: str
    files: dict[str, tuple[str, str]]  # split -> (images file, labels file)
    md5: dict[str, str]  # decompressed-content md5 per file name
    classes: tuple[str, ...]
    system_dirs: tuple[str, ...] = ()
    url: str | None = None
    install_hint: str = ""


MNIST = IdxSpec(
    folder="mnist",
    files={"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"), "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")},
    md5={
        "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
    },
    classes=tuple(str(i) for i in range(10)),
    url="https://ossci-datasets.s3.amazonaws.com/mnist/",
)

FASHION_MNIST = IdxSpec(
    folder="fashion-mnist",
    files=MNIST.files,
    md5={
        "train-images-idx3-ubyte.gz": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte.gz": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte.gz": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte.gz": "15d484375f8d13e6eb1aabb0c3f46965",
    },
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    system_dirs=("/usr/share/datasets/fashion-mnist",),  # Debian's dataset-fashion-mnist
    url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    install_hint=" (on Debian/Ubuntu: apt-get install dataset-fashion-mnist)",
)

_IDX_SPECS = {"mnist": MNIST, "fashion-mnist": FASHION_MNIST}


def _candidate_dirs(spec: IdxSpec, root: Path, explicit: bool) -> list[Path]:
    # The root may be the dataset folder itself or its parent (e.g. shared/datasets). System copies
    # (Debian's) are looked at only when no folder was named: a named folder that is wrong is an error.
    return [root / spec.folder, root] + ([] if explicit else [Path(d) for d in spec.system_dirs])


def _find_file(spec: IdxSpec, name: str, dirs: list[Path]) -> Path | None:
    for d in dirs:
        for candidate in (d / name, d / name.removesuffix(".gz")):
            if candidate.is_file():
                return candidate
    return None


def _download(spec: IdxSpec, name: str, dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / name
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        with urllib.request.urlopen(spec.url + name, timeout=30) as r, open(tmp, "wb") as f:  # noqa: S310
            f.write(r.read())
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise VistransferError(f"could not download {spec.url}{name} ({e})") from None
    tmp.replace(dest)
    return dest


def _load_idx_split(name: str, split: str, data_dir: str | Path | None, download: bool) -> Split:
    spec = _IDX_SPECS[name]
    root = default_data_dir(data_dir)
    explicit = data_dir is not None or bool(os.environ.get(ENV_DATA_DIR))
    if explicit and not root.is_dir() and not download:
        raise VistransferError(f"data directory {root} does not exist; pass the folder that holds the {name} files (--data-dir or ${ENV_DATA_DIR})")
    dirs = _candidate_dirs(spec, root, explicit)
    arrays = []
    for fname in spec.files[split]:
        path = _find_file(spec, fname, dirs)
        if path is None and download and spec.url:
            try:
                path = _download(spec, fname, root / spec.folder)
            except VistransferError as e:
                raise VistransferError(f"{e}; put the files in {root / spec.folder} by hand instead") from None
        if path is None:
            need = ", ".join(spec.files["train"] + spec.files["test"])
            raise VistransferError(
                f"{name}: {fname} not found in {root / spec.folder}; put the four files ({need}) there"
                f"{spec.install_hint}, or point --data-dir / ${ENV_DATA_DIR} at the folder that holds them"
            )
        arrays.append(load_idx(path, spec.md5[fname]))
    images, labels = arrays
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise VistransferError(f"{name} {split}: images {images.shape} and labels {labels.shape} do not match")
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return Split(x, y, spec.classes)


def _load_digits(split: str, data_dir: str | Path | None, download: bool) -> Split:
    """scikit-learn's bundled 8x8 digits (1,797 images): works offline on any machine.

    A fixed stratified 75/25 split (seed 0) gives train and test.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = d.images.astype(np.float32) / 16.0
    idx_train, idx_test = train_test_split(np.arange(len(x)), test_size=0.25, random_state=0, stratify=d.target)
    idx = idx_train if split == "train" else idx_test
    return Split(torch.from_numpy(x[idx]).unsqueeze(1), torch.from_numpy(d.target[idx].astype(np.int64)), tuple(str(i) for i in range(10)))


_LOADERS: dict[str, Callable[[str, str | Path | None, bool], Split]] = {
    "mnist": lambda split, d, dl: _load_idx_split("mnist", split, d, dl),
    "fashion-mnist": lambda split, d, dl: _load_idx_split("fashion-mnist", split, d, dl),
    "digits": _load_digits,
    "apnea-ecg": lambda split, d, dl: _load_apnea(split, d),
    "cifar10": lambda split, d, dl: load_cifar10(split, d),
}


def _load_apnea(split: str, data_dir: str | Path | None) -> Split:
    """Per-minute RR windows, train/test by record (different people): see :func:`.apnea_ecg.record_split`."""
    root = apnea_ecg.find_root(data_dir)
    train, test = apnea_ecg.record_split(apnea_ecg.available_records(root))
    d = apnea_ecg.load_minutes(root, train if split == "train" else test)
    return Split(d["x"], d["y"], apnea_ecg.CLASSES)


def list_datasets() -> list[str]:
    return sorted(_LOADERS)


def register_dataset(name: str):
    """File a loader ``f(split, data_dir, download) -> Split`` under ``name``."""

    def deco(fn):
        _LOADERS[name] = fn
        return fn

    return deco


def load_dataset(name: str, split: str = "train", data_dir: str | Path | None = None, download: bool = False) -> Split:
    """Load ``split`` ("train" or "test") of dataset ``name``; see :func:`list_datasets`.

    ``name`` may also be the path of a user's own data: an ``.npz`` file or an image folder
    (see :mod:`vistransfer.data.user`).
    """
    if split not in ("train", "test"):
        raise VistransferError(f"unknown split {split!r}; use 'train' or 'test'")
    if name not in _LOADERS:
        if looks_like_path(name):
            return load_user_data(Path(name), split)
        raise VistransferError(
            f"unknown dataset {name!r}; choose one of {list_datasets()}, or pass an .npz file or an image folder (one sub-folder per class)"
        )
    return _LOADERS[name](split, data_dir, download)
