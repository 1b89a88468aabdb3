"""A user's own data: ``.npz`` files and image folders, with the checks the built-in loaders make.

``.npz``: arrays ``x`` (N, C, H, W) images or (N, C, L) series and ``y`` (N,) int class indices,
for one split; or ``x_train, y_train, x_test, y_test`` for both. Optional ``classes`` (K,) names.
uint8 ``x`` is scaled to [0, 1]; float ``x`` is kept as it is (the data domain of the teacher).
Nothing is reshaped: a 3-D x is (N, C, L) series, so grey images need their channel axis (``x[:, None]``).

Image folders: ``ROOT/<class>/*.png|jpg|...`` for one split, or ``ROOT/train/<class>/...`` and
``ROOT/test/<class>/...``; class names are the sub-folder names in sorted order; every image must
have the size and mode (L: 1 channel, RGB: 3) of the first. A ``SHA256SUMS`` file in ROOT, if
present, is verified.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..errors import VistransferError
from .split import Split

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def looks_like_path(name: str) -> bool:
    return name.endswith(".npz") or "/" in name or Path(name).exists()


def load_user_data(path: Path, split: str) -> Split:
    if not path.exists():
        raise VistransferError(f"{path} does not exist; pass an .npz file (x, y) or an image folder (one sub-folder per class)")
    if path.is_file():
        if path.suffix != ".npz":
            raise VistransferError(f"{path}: user data must be an .npz file (x, y) or an image folder")
        return load_npz(path, split)
    return load_image_folder(path, split)


def check_split(x: np.ndarray, y: np.ndarray, classes: tuple[str, ...] | None, source: str, train: bool = False) -> Split:
    """Validate arrays and build a Split; every problem names the array and the fix. A training split (``train``)
    must hold examples of every class."""
    if x.ndim not in (3, 4):
        hint = " (add the channel axis: x[:, None])" if x.ndim == 2 else ""
        raise VistransferError(f"{source}: x must be (N, C, H, W) images or (N, C, L) series, got shape {list(x.shape)}{hint}")
    if y.ndim != 1 or len(y) != len(x):
        raise VistransferError(f"{source}: y must be (N,) with one label per example; x has {len(x)}, y has shape {list(y.shape)}")
    if len(x) == 0:
        raise VistransferError(f"{source}: no examples")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise VistransferError(f"{source}: y must hold integer class indices")
        y = y.astype(np.int64)
    if y.min() < 0:
        raise VistransferError(f"{source}: y holds negative labels; use class indices 0..K-1")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    elif not np.issubdtype(x.dtype, np.floating):
        raise VistransferError(f"{source}: x must be uint8 (scaled to [0, 1]) or float, got {x.dtype}")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise VistransferError(f"{source}: x holds NaN or infinite values")
    k = len(classes) if classes is not None else int(y.max()) + 1
    if y.max() >= k:
        raise VistransferError(f"{source}: label {int(y.max())} but only {k} class names")
    if k < 2:
        raise VistransferError(f"{source}: every label is {int(y.max())}; a classifier needs examples of at least two classes")
    if train:
        empty = sorted(set(range(k)) - set(np.unique(y).tolist()))
        if empty:
            name = classes[empty[0]] if classes is not None else str(empty[0])
            raise VistransferError(
                f"{source}: class {name!r} has no training examples ({len(empty)} of {k} classes empty); add examples or remove the class"
            )
    names = tuple(classes) if classes is not None else tuple(str(i) for i in range(k))
    return Split(torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)), names)


def load_npz(path: Path, split: str) -> Split:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # truncated, a bad CRC, not a zip at all
        raise VistransferError(f"{path} is not a readable .npz file ({e}); write it again with numpy.savez(x=..., y=...)") from None
    classes = tuple(str(c) for c in arrays["classes"]) if "classes" in arrays else None
    if f"x_{split}" in arrays and f"y_{split}" in arrays:
        return check_split(arrays[f"x_{split}"], arrays[f"y_{split}"], classes, f"{path} [{split}]", split == "train")
    if "x" in arrays and "y" in arrays:
        return check_split(arrays["x"], arrays["y"], classes, str(path), split == "train")
    raise VistransferError(f"{path} holds {sorted(arrays)}; it needs arrays x and y (or x_{split} and y_{split})")


def _verify_sums(root: Path) -> None:
    sums = root / "SHA256SUMS"
    if not sums.is_file():
        return
    for line in sums.read_text().splitlines():
        if not line.strip():
            continue
        digest, _, name = line.partition("  ")
        f = root / name.strip().lstrip("*")
        if not f.is_file():
            raise VistransferError(f"{f} is listed in {sums} but missing; put it back or regenerate SHA256SUMS")
        if hashlib.sha256(f.read_bytes()).hexdigest() != digest.strip():
            raise VistransferError(f"{f} fails its checksum in {sums}: the file changed or is corrupt")


def load_image_folder(root: Path, split: str) -> Split:
    from PIL import Image, UnidentifiedImageError

    _verify_sums(root)
    base = root / split if (root / split).is_dir() else root
    class_dirs = sorted(d for d in base.iterdir() if d.is_dir() and d.name not in ("train", "test"))
    if not class_dirs:
        raise VistransferError(f"{base} has no class sub-folders; lay it out as {base}/<class>/<image files>")
    xs, ys, first = [], [], None
    for c, d in enumerate(class_dirs):
        files = sorted(f for f in d.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        for f in files:
            try:
                with Image.open(f) as im:
                    im.load()
                    mode = "L" if im.mode in ("L", "1", "I;16", "I") else "RGB"
                    im = im.convert(mode)
                    a = np.asarray(im, dtype=np.uint8)
            except (UnidentifiedImageError, OSError) as e:
                raise VistransferError(f"{f} is not a readable image ({type(e).__name__}); remove or replace it") from None
            a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
            if first is None:
                first = (a.shape, f)
            elif a.shape != first[0]:
                raise VistransferError(f"{f} has shape {list(a.shape)} but {first[1]} has {list(first[0])}; all images must have one size and mode")
            xs.append(a)
            ys.append(c)
    if not xs:
        raise VistransferError(f"{base}: no images found in its class folders ({sorted(IMAGE_SUFFIXES)})")
    return check_split(np.stack(xs), np.array(ys), tuple(d.name for d in class_dirs), str(base), split == "train")
