"""Artifacts on disk: atomic writes, safe loads, versions and fingerprints."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from ._version import __version__
from .errors import VistransferError


def cache_key(obj: Any) -> str:
    """A cache key of ``obj`` (JSON-able, or made so by ``str``) and the package version: a new release
    never reuses a stale result."""
    ident = {"vistransfer": __version__, "of": obj}
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:16]


def versions() -> dict[str, str]:
    """Versions of Python, vistransfer and the libraries whose behaviour shapes results."""
    import numpy
    import sklearn

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "vistransfer": __version__,
        "torch": str(torch.__version__),
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
    }


def check_output(path: str | Path | None, *inputs: str | Path | None, folder: bool = False, option: str = "--out") -> None:
    """Refuse, before any work, an output the command could not write or would destroy: ``path`` one of
    ``inputs``, a folder where a file goes (or a file where a folder goes), or a place this user cannot
    write (the nearest existing folder above it not writable). None: no output asked for."""
    if path is None:
        return
    path = Path(path)
    target = path.resolve()
    for given in inputs:
        if given is not None and Path(given).exists() and Path(given).resolve() == target:
            raise VistransferError(f"{option} {path} is also an input of this command; writing it would destroy the input: choose another {option}")
    if folder and path.exists() and not path.is_dir():
        raise VistransferError(f"{option} {path} is a file; pass a folder (it is created if missing)")
    if not folder and path.is_dir():
        raise VistransferError(f"{option} {path} is a folder; pass a file name inside it, e.g. {path / 'NAME'}")
    above = target if folder and target.exists() else target.parent
    while not above.exists():
        above = above.parent
    try:  # the real question (permissions, a read-only file system, a file in the way), asked by trying
        with tempfile.TemporaryFile(dir=above):
            pass
    except OSError as e:
        raise VistransferError(f"{option} {path}: cannot write into {above} ({e.strerror or e}); choose a folder you can write") from None


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)  # keep the suffix: some writers check it
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; a file we write follows the user's umask
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; restore at once
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file beside it, then a rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json(path: str | Path, fix: str) -> Any:
    """The JSON in ``path``; a file that is not readable JSON is one error naming it and ``fix``."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise VistransferError(f"{path} is not readable JSON ({type(e).__name__}: {e}); {fix}") from None


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
        raise VistransferError(
            f"{path} is not a vistransfer {what} file ({type(e).__name__}: it is not a weights-only "
            f"torch file); pass a {what} file written by vistransfer"
        ) from None
    if not isinstance(obj, dict) or obj.get("artifact") != what:
        held = (
            f"a vistransfer {obj['artifact']}"
            if isinstance(obj, dict) and obj.get("artifact")
            else "a dict without vistransfer's header"
            if isinstance(obj, dict)
            else f"a {type(obj).__name__}"
        )
        raise VistransferError(f"{path} is not a vistransfer {what} file (it holds {held}); pass a {what} file written by vistransfer")
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


def device_name(device: str | torch.device) -> str:
    """What a run ran on, for its record: the GPU's name, or the CPU with its thread count."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"cpu ({torch.get_num_threads()} threads)"


ENV_DATA_DIR = "VISTRANSFER_DATA_DIR"


def default_data_dir(data_dir: str | Path | None = None) -> Path:
    """The data directory: argument, else $VISTRANSFER_DATA_DIR, else ~/.cache/vistransfer/datasets."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "vistransfer" / "datasets"


def cache_dir() -> Path:
    """Where checkpoints and synthetic sets go by default ($VISTRANSFER_CACHE or ~/.cache/vistransfer)."""
    return Path(os.environ.get("VISTRANSFER_CACHE", Path.home() / ".cache" / "vistransfer")).expanduser()


def progress_bar(iterable=None, *, enabled: bool = True, **kwargs):
    """A tqdm bar that redraws in place on a terminal and, in a log file or CI (no TTY), writes
    one plain line every 30 s (and one at the end) instead of carriage-return redraws."""
    from tqdm.auto import tqdm

    stream = kwargs.get("file") or sys.stderr
    if enabled and not _isatty(stream):
        kwargs.setdefault("mininterval", 30.0)
        return _LogBar(iterable, disable=False, **kwargs)
    return tqdm(iterable, disable=not enabled, leave=False, **kwargs)


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@functools.cache
def _log_bar_class():
    from tqdm import tqdm

    class LogBar(tqdm):
        """tqdm for log files: each display is one full line ending in a newline; no redraws."""

        def display(self, msg=None, pos=None):
            if self.disable:
                return True
            text = msg if msg is not None else self.__str__()
            if text.strip() and text != getattr(self, "_last_line", None):
                self.fp.write(text.strip() + "\n")
                self.fp.flush()
                self._last_line = text
            return True

        def set_postfix(self, ordered_dict=None, refresh=True, **kwargs):
            # a new loss is shown at the next timed line, not as a line of its own every step
            super().set_postfix(ordered_dict, refresh=False, **kwargs)

        def close(self):
            if self.disable:
                return
            if self.n != getattr(self, "_last_n", None):
                self._last_n = self.n
                self.display()
            self.disable = True
            with self._lock:
                self._decr_instances(self)

    return LogBar


def _LogBar(iterable=None, **kwargs):  # noqa: N802 - a class built on first use (tqdm is imported lazily)
    return _log_bar_class()(iterable, **kwargs)
