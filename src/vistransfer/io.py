"""Artifacts on disk: atomic writes, safe loads, versions and fingerprints."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch

from . import __version__
from .errors import VistransferError


def versions() -> dict[str, str]:
    """Versions of Python, vistransfer and the libraries whose behaviour shapes results."""
    import numpy
    import sklearn

    return {"python": sys.version.split()[0], "platform": platform.platform(), "vistransfer": __version__,
            "torch": str(torch.__version__), "numpy": numpy.__version__, "scikit-learn": sklearn.__version__}


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_json(path: str | Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def plain(obj: Any) -> Any:
    """``obj`` reduced to JSON types, so that ``weights_only`` loading accepts it."""
    return json.loads(json.dumps(obj, default=str))


def save_torch(path: str | Path, obj: dict) -> None:
    """torch.save to a temporary file, then rename: a crash never leaves half a file.

    A "meta" entry is reduced to plain JSON types first.
    """
    if "meta" in obj:
        obj = dict(obj, meta=plain(obj["meta"]))
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_torch(path: str | Path, what: str) -> dict:
    """Load a vistransfer artifact with ``weights_only=True`` (never unpickles code)."""
    path = Path(path)
    if not path.is_file():
        raise VistransferError(f"{what} file {path} does not exist; check the path or create it first")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure here means "not a valid artifact"
        raise VistransferError(f"{path} is not a readable {what} file ({type(e).__name__}); "
                               "re-create it with vistransfer") from None
    if not isinstance(obj, dict) or obj.get("artifact") != what:
        raise VistransferError(f"{path} is not a {what} file (it holds {obj.get('artifact') if isinstance(obj, dict) else type(obj).__name__}); pass a {what} file")
    return obj


def fingerprint(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 over a state dict's names, shapes and bytes: identifies a trained teacher."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' picks CUDA when present, else the CPU; anything else is passed to torch."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise VistransferError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda[:N]'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise VistransferError("device 'cuda' requested but no CUDA GPU is available; use --device cpu or auto")
    return dev


def cache_dir() -> Path:
    """Where checkpoints and synthetic sets go by default ($VISTRANSFER_CACHE or ~/.cache/vistransfer)."""
    return Path(os.environ.get("VISTRANSFER_CACHE", Path.home() / ".cache" / "vistransfer")).expanduser()


def progress_bar(iterable=None, *, enabled: bool = True, **kwargs):
    """A tqdm bar that redraws in place on a terminal and, in a log file or CI (no TTY), prints
    one line every 30 s instead of one per update."""
    import sys

    from tqdm.auto import tqdm

    if enabled and not sys.stderr.isatty():
        kwargs.setdefault("mininterval", 30.0)
    return tqdm(iterable, disable=not enabled, leave=False, **kwargs)
