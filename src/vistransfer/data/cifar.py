"""CIFAR-10: the JPEG copy in a zip (``cifar10/cifar10-jpeg.zip``) or the original python batches.

The zip is read member by member with Pillow (all 60,000 decode in about 5 s, so nothing is
cached); the python batches are read with ``pickle`` only after their MD5s match torchvision's
published ones, so a foreign pickle is never unpickled. Both give float32 (N, 3, 32, 32) in [0, 1]
in the standard label order. The JPEG copy is lossy (quality 75): its accuracies are not strictly
comparable with the original's (the data's README expects a point or two).
"""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..errors import VistransferError
from ..io import ENV_DATA_DIR, default_data_dir
from .split import Split

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
ZIP_NAME = "cifar10-jpeg.zip"
ZIP_SHA256 = "425408c29a506bc3d671e04c44c864565e592c93e53571061932f5d3af462b5e"
BATCH_DIR = "cifar-10-batches-py"
TARBALL = "cifar-10-python.tar.gz"
BATCH_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
TARBALL_MD5 = "c58f30108f718f92721af3b95e74349a"
SPLIT_SIZES = {"train": 50_000, "test": 10_000}
# What every CIFAR-10 number from the zip carries beside it.
LOSSY_NOTE = "CIFAR-10 here is a lossy JPEG copy (quality 75); accuracies may differ from the original's by a point or two"


def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _find(root: Path) -> tuple[str, Path] | None:
    for d in (root / "cifar10", root):
        if (d / ZIP_NAME).is_file():
            return "zip", d / ZIP_NAME
        if (d / BATCH_DIR).is_dir():
            return "batches", d / BATCH_DIR
        if (d / TARBALL).is_file():
            return "tarball", d / TARBALL
    return None


def load_cifar10(split: str, data_dir: str | Path | None = None, verify: bool = True) -> Split:
    """One split of CIFAR-10 from ``data_dir`` (or its ``cifar10/`` folder); see the module docstring."""
    root = default_data_dir(data_dir)
    found = _find(root)
    if found is None:
        raise VistransferError(
            f"cifar10: none of {ZIP_NAME}, {BATCH_DIR}/ or {TARBALL} found in {root / 'cifar10'} or {root}; put one "
            f"there, or point --data-dir / ${ENV_DATA_DIR} at the folder that holds it"
        )
    kind, path = found
    if kind == "zip":
        if verify and _digest(path, "sha256") != ZIP_SHA256:
            raise VistransferError(
                f"{path}: sha256 does not match the published {ZIP_SHA256[:12]}…; the file is damaged or a different copy, replace it"
            )
        x, y = _read_zip(path, split)
    else:
        x, y = _read_batches(path, split, tar=kind == "tarball")
    if len(y) != SPLIT_SIZES[split]:
        raise VistransferError(f"{path}: {split} has {len(y)} images, not {SPLIT_SIZES[split]}; the copy is incomplete")
    return Split(torch.from_numpy(x).permute(0, 3, 1, 2).float().div_(255.0).contiguous(), torch.from_numpy(y), CLASSES)


def _read_zip(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Members ``split/<class>/NNNN.jpg`` in class, then name order: (N, 32, 32, 3) uint8 and labels."""
    from PIL import Image, UnidentifiedImageError

    index = {c: i for i, c in enumerate(CLASSES)}
    try:
        z = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise VistransferError(f"{path} is not a readable zip file; replace it with the published copy") from None
    with z:
        members = []
        for name in z.namelist():
            parts = name.split("/")
            if len(parts) == 3 and parts[0] == split and parts[2].endswith(".jpg"):
                if parts[1] not in index:
                    raise VistransferError(f"{path}: member {name} is in an unknown class folder {parts[1]!r}")
                members.append((index[parts[1]], parts[2], name))
        members.sort()
        x = np.empty((len(members), 32, 32, 3), np.uint8)
        for i, (_, _, name) in enumerate(members):
            try:
                img = Image.open(io.BytesIO(z.read(name)))
                img.load()
            except (zipfile.BadZipFile, UnidentifiedImageError, OSError, ValueError) as e:
                raise VistransferError(f"{path}: member {name} is damaged ({type(e).__name__}: {e}); replace the zip") from None
            if img.size != (32, 32):
                raise VistransferError(f"{path}: member {name} is {img.size[0]}x{img.size[1]}, not 32x32")
            x[i] = np.asarray(img.convert("RGB"))
    return x, np.array([m[0] for m in members], np.int64)


def _read_batches(path: Path, split: str, tar: bool) -> tuple[np.ndarray, np.ndarray]:
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    if tar and _digest(path, "md5") != TARBALL_MD5:
        raise VistransferError(f"{path}: md5 does not match torchvision's {TARBALL_MD5}; replace the file")
    xs, ys = [], []
    tf = tarfile.open(path) if tar else None
    try:
        for name in names:
            if tf is not None:
                member = tf.extractfile(f"{BATCH_DIR}/{name}")
                raw = member.read() if member is not None else b""
            else:
                f = path / name
                if not f.is_file():
                    raise VistransferError(f"{f} is missing; the python batches need {', '.join(BATCH_MD5)}")
                raw = f.read_bytes()
            if hashlib.md5(raw).hexdigest() != BATCH_MD5[name]:  # noqa: S324 - torchvision publishes MD5s
                raise VistransferError(f"{path}/{name}: md5 does not match torchvision's {BATCH_MD5[name]}; replace the file")
            d = pickle.loads(raw, encoding="bytes")  # noqa: S301 - only after the md5 matched the published file
            xs.append(np.asarray(d[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            ys.append(np.asarray(d[b"labels"], np.int64))
    except KeyError as e:
        raise VistransferError(f"{path}: {e} not found; the python batches need {', '.join(BATCH_MD5)}") from None
    finally:
        if tf is not None:
            tf.close()
    return np.concatenate(xs), np.concatenate(ys)
