import gzip

import numpy as np
import pytest
import torch

from vistransfer.data import load_dataset
from vistransfer.data.idx import load_idx, parse_idx, write_idx
from vistransfer.errors import VistransferError

from ..conftest import SHARED


def test_roundtrip_plain_and_gzip(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for compress in (True, False):
        p = tmp_path / f"a{compress}.idx"
        write_idx(p, a, compress)
        np.testing.assert_array_equal(load_idx(p), a)


def test_checksum_is_over_content_so_recompression_passes(tmp_path):
    a = np.ones((5, 2, 2), dtype=np.uint8)
    p = tmp_path / "a.gz"
    write_idx(p, a)
    raw = gzip.decompress(p.read_bytes())
    import hashlib

    md5 = hashlib.md5(raw).hexdigest()
    p.write_bytes(gzip.compress(raw, compresslevel=1))  # re-compressed differently
    np.testing.assert_array_equal(load_idx(p, md5), a)


def test_corrupt_content_is_refused(tmp_path):
    p = tmp_path / "a.gz"
    write_idx(p, np.zeros((4, 2, 2), dtype=np.uint8))
    import hashlib

    good = hashlib.md5(gzip.decompress(p.read_bytes())).hexdigest()
    raw = bytearray(gzip.decompress(p.read_bytes()))
    raw[-1] = 7  # one flipped pixel
    p.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(VistransferError, match="checksum"):
        load_idx(p, good)


def test_truncated_and_garbage_files_are_refused(tmp_path):
    p = tmp_path / "t.idx"
    write_idx(p, np.zeros((10, 3, 3), dtype=np.uint8), compress=False)
    p.write_bytes(p.read_bytes()[:-5])
    with pytest.raises(VistransferError, match="truncated or corrupt"):
        load_idx(p)
    with pytest.raises(VistransferError, match="not an IDX"):
        parse_idx(b"hello world")
    bad_gz = tmp_path / "bad.gz"
    bad_gz.write_bytes(b"\x1f\x8b" + b"\x00" * 20)
    with pytest.raises(VistransferError, match="damaged gzip"):
        load_idx(bad_gz)


def test_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(VistransferError) as e:
        load_dataset("mnist", "test", tmp_path)
    msg = str(e.value)
    assert "t10k-images-idx3-ubyte.gz" in msg and str(tmp_path / "mnist") in msg and "--data-dir" in msg


def test_unknown_dataset_lists_choices():
    with pytest.raises(VistransferError, match="choose one of"):
        load_dataset("imagenet")


def test_digits_shapes_and_range(digits):
    train, test = digits
    assert train.x.shape[1:] == (1, 8, 8) and train.x.dtype == torch.float32
    assert 0.0 <= float(train.x.min()) and float(train.x.max()) <= 1.0
    assert train.y.dtype == torch.int64 and len(train) + len(test) == 1797


@pytest.mark.skipif(not (SHARED / "mnist").is_dir(), reason="shared MNIST files not present")
def test_real_mnist_test_split_verifies():
    test = load_dataset("mnist", "test", SHARED)
    assert test.x.shape == (10000, 1, 28, 28) and test.y.tolist()[:5] == [7, 2, 1, 0, 4]
    assert float(test.x.max()) == 1.0 and float(test.x.min()) == 0.0


@pytest.mark.skipif(not (SHARED / "mnist").is_dir(), reason="shared MNIST files not present")
def test_mnist_file_copy_with_damage_is_refused(tmp_path):
    d = tmp_path / "mnist"
    d.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (d / name).write_bytes((SHARED / "mnist" / name).read_bytes())
    raw = bytearray(gzip.decompress((d / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    (d / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(VistransferError, match="checksum"):
        load_dataset("mnist", "test", tmp_path)
