"""Reading IDX files (the MNIST format), plain or gzip-compressed, with content checksums.

Checksums are taken over the *decompressed* bytes, so a file re-compressed by a
distribution (Debian re-packs Fashion-MNIST) still passes while a damaged one does not.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from ..errors import VistransferError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_bytes(path: Path) -> bytes:
    """Whole content of ``path``, gunzipped if it is a gzip file."""
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise VistransferError(f"{path} is a damaged gzip file ({e}); replace it with a fresh copy") from None


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes: magic (0, 0, dtype, ndim), ndim big-endian uint32 sizes, then data."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise VistransferError(f"{source} is not an IDX file (bad magic number); replace it with the original file")
    ndim = data[3]
    head = 4 + 4 * ndim
    if len(data) < head:
        raise VistransferError(f"{source} is truncated inside its IDX header; replace it with the original file")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[data[2]])
    expected = head + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise VistransferError(
            f"{source} holds {len(data)} bytes but its header promises {expected} (shape {shape}); "
            "the file is truncated or corrupt: replace it with the original file"
        )
    return np.frombuffer(data, dtype=dtype, offset=head).reshape(shape)


def load_idx(path: Path, md5: str | None = None) -> np.ndarray:
    """Read and verify one IDX file. ``md5`` is of the decompressed content."""
    data = read_bytes(path)
    if md5 is not None:
        got = hashlib.md5(data).hexdigest()
        if got != md5:
            raise VistransferError(
                f"{path} fails its checksum (md5 of content {got}, expected {md5}): the file is corrupt "
                "or not the original; replace it with a fresh copy"
            )
    return parse_idx(data, str(path))


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> None:
    """Write ``array`` (uint8) as an IDX file; used by tests and by users building small datasets."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, a.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in a.shape)
    payload = header + a.tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)
