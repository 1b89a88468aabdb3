"""CIFAR-10 loaders: the JPEG zip and the python batches, made small in the test; the shared copy if present."""

import hashlib
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vistransfer.cli.main import main
from vistransfer.data import cifar
from vistransfer.data.datasets import load_dataset
from vistransfer.errors import VistransferError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"


def _images(n: int, seed: int) -> np.ndarray:
    g = np.random.default_rng(seed)
    # smooth images survive JPEG at quality 75 within a few levels
    base = g.integers(40, 215, size=(n, 1, 1, 3))
    ramp = np.linspace(-30, 30, 32)[None, :, None, None]
    return np.clip(base + ramp + np.zeros((n, 32, 32, 3)), 0, 255).astype(np.uint8)


def make_zip(folder: Path, per_class: int = 2, damage: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / cifar.ZIP_NAME
    imgs = _images(per_class * 10 * 2, 0)
    # a class is a colour cast and a ramp direction: learnable by a tiny net in a few steps
    casts = np.random.default_rng(1).integers(-60, 60, size=(10, 3))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        i = 0
        for split in ("test", "train"):
            z.writestr(f"{split}/", b"")
            for c in reversed(cifar.CLASSES):  # stored out of order: the loader sorts
                k = cifar.CLASSES.index(c)
                for j in range(per_class):
                    img = np.clip(imgs[i].astype(int) + casts[k], 0, 255).astype(np.uint8)
                    img = img if k % 2 else img.transpose(1, 0, 2)
                    buf = io.BytesIO()
                    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="JPEG", quality=75)
                    data = buf.getvalue()
                    name = f"{split}/{c}/{j:04d}.jpg"
                    z.writestr(name, data[:20] if damage == name else data)
                    i += 1
    return path


@pytest.fixture
def small(monkeypatch):
    def patch(path: Path, per_class: int):
        monkeypatch.setattr(cifar, "ZIP_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
        monkeypatch.setattr(cifar, "SPLIT_SIZES", {"train": 10 * per_class, "test": 10 * per_class})

    return patch


def test_zip_loads_in_label_order(tmp_path, small):
    path = make_zip(tmp_path / "cifar10", per_class=2)
    small(path, 2)
    s = load_dataset("cifar10", "train", tmp_path)
    assert s.x.shape == (20, 3, 32, 32) and s.x.dtype.is_floating_point
    assert s.y.tolist() == [c for c in range(10) for _ in range(2)]
    assert s.classes == cifar.CLASSES
    assert 0 <= float(s.x.min()) and float(s.x.max()) <= 1


def test_wrong_checksum_is_one_line(tmp_path, capsys):
    make_zip(tmp_path / "cifar10")
    with pytest.raises(VistransferError, match="sha256 does not match"):
        cifar.load_cifar10("train", tmp_path)
    with pytest.raises(SystemExit) as e:
        main(["teach", "--dataset", "cifar10", "--data-dir", str(tmp_path), "-o", str(tmp_path / "t.pt"), "--quiet"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(lines) == 1 and cifar.ZIP_NAME in lines[0] and "sha256" in lines[0]
    assert not (tmp_path / "t.pt").exists()


def test_damaged_member_is_named(tmp_path, small):
    path = make_zip(tmp_path / "cifar10", damage="train/cat/0001.jpg")
    small(path, 2)
    with pytest.raises(VistransferError, match="train/cat/0001.jpg is damaged"):
        cifar.load_cifar10("train", tmp_path)


def test_missing_data_says_where(tmp_path):
    with pytest.raises(VistransferError, match="cifar10-jpeg.zip.*put one"):
        cifar.load_cifar10("test", tmp_path)


def _batch(x: np.ndarray, y: np.ndarray) -> bytes:
    return pickle.dumps({b"data": x.transpose(0, 3, 1, 2).reshape(len(x), -1), b"labels": y.tolist()}, protocol=2)


def test_python_batches_checked_before_unpickling(tmp_path, monkeypatch):
    d = tmp_path / "cifar10" / cifar.BATCH_DIR
    d.mkdir(parents=True)
    x = _images(6 * 4, 1)
    y = np.arange(24) % 10
    md5 = {}
    for k, name in enumerate(list(cifar.BATCH_MD5)):
        raw = _batch(x[4 * k : 4 * k + 4], y[4 * k : 4 * k + 4])
        (d / name).write_bytes(raw)
        md5[name] = hashlib.md5(raw).hexdigest()
    monkeypatch.setattr(cifar, "SPLIT_SIZES", {"train": 20, "test": 4})
    with pytest.raises(VistransferError, match="md5 does not match"):
        cifar.load_cifar10("train", tmp_path)  # the published MD5s: these are not the real batches
    monkeypatch.setattr(cifar, "BATCH_MD5", md5)
    train = cifar.load_cifar10("train", tmp_path)
    assert train.x.shape == (20, 3, 32, 32) and train.y.tolist() == y[:20].tolist()
    assert np.allclose(train.x[3].permute(1, 2, 0).numpy() * 255, x[3], atol=1e-3)  # lossless: exact values


@pytest.mark.skipif(not (SHARED / "cifar10" / cifar.ZIP_NAME).is_file(), reason="shared CIFAR-10 zip not present")
@pytest.mark.slow
def test_shared_copy_verifies_and_is_balanced():
    test = cifar.load_cifar10("test", SHARED)
    assert len(test) == 10_000 and np.bincount(test.y.numpy()).tolist() == [1000] * 10
