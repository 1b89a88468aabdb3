"""A user's own data: .npz files and image folders, with clear errors and no reshaping guesses."""

import hashlib

import numpy as np
import pytest
import torch

from vistransfer.data import load_dataset
from vistransfer.errors import VistransferError
from vistransfer.students import create_student


def test_npz_one_split_and_both_splits(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (20, 3, 4, 4), dtype=np.uint8)
    y = np.arange(20) % 2
    np.savez(tmp_path / "one.npz", x=x, y=y)
    s = load_dataset(str(tmp_path / "one.npz"), "test")
    assert s.x.shape == (20, 3, 4, 4) and s.x.dtype == torch.float32 and float(s.x.max()) <= 1.0 and s.classes == ("0", "1")
    np.savez(tmp_path / "two.npz", x_train=x[:10], y_train=y[:10], x_test=x[10:], y_test=y[10:], classes=np.array(["a", "b"]))
    assert len(load_dataset(str(tmp_path / "two.npz"), "train")) == 10
    assert load_dataset(str(tmp_path / "two.npz"), "test").classes == ("a", "b")


@pytest.mark.parametrize(
    "x, y, msg",
    [
        (np.zeros((5, 64)), np.zeros(5, int), "add the channel axis"),
        (np.zeros((5, 1, 8, 8)), np.zeros(4, int), "one label per example"),
        (np.full((5, 1, 8), np.nan), np.zeros(5, int), "NaN"),
        (np.zeros((5, 1, 8)), np.full(5, -1), "negative labels"),
        (np.zeros((5, 1, 8)), np.full(5, 0.5), "integer class indices"),
    ],
)
def test_bad_npz_is_refused_by_name(x, y, msg, tmp_path):
    np.savez(tmp_path / "bad.npz", x=x, y=y)
    with pytest.raises(VistransferError, match=msg):
        load_dataset(str(tmp_path / "bad.npz"))


def test_series_stay_series(tmp_path):
    """(N, 1, 100) is 100-sample series: a student builds 1-D layers and refuses an image of the same size."""
    x = np.random.default_rng(0).normal(size=(60, 1, 100)).astype(np.float32)
    y = np.arange(60) % 3
    np.savez(tmp_path / "s.npz", x=x, y=y)
    s = load_dataset(str(tmp_path / "s.npz"))
    assert s.x.shape == (60, 1, 100)
    student = create_student("cnn_tiny", epochs=1).fit(s.x, s.y)
    assert type(student.net_.conv[0]).__name__ == "Conv1d"
    with pytest.raises(VistransferError, match="fitted on"):
        student.predict(torch.zeros(2, 1, 10, 10))


def test_image_folder_with_checksums(tmp_path):
    from PIL import Image

    root = tmp_path / "imgs"
    for split in ("train", "test"):
        for c, colour in (("cat", 10), ("dog", 200)):
            (root / split / c).mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (6, 5), (colour, i, 0)).save(root / split / c / f"{i}.png")
    s = load_dataset(str(root), "train")
    assert s.x.shape == (6, 3, 5, 6) and s.classes == ("cat", "dog") and s.y.tolist() == [0, 0, 0, 1, 1, 1]
    f = root / "train" / "cat" / "0.png"
    (root / "SHA256SUMS").write_text(f"{hashlib.sha256(f.read_bytes()).hexdigest()}  train/cat/0.png\n")
    assert len(load_dataset(str(root), "test")) == 6
    Image.new("RGB", (6, 5), (1, 2, 3)).save(f)
    with pytest.raises(VistransferError, match="fails its checksum"):
        load_dataset(str(root), "train")
    (root / "SHA256SUMS").unlink()
    Image.new("L", (6, 5)).save(root / "train" / "dog" / "odd.png")
    with pytest.raises(VistransferError, match="one size and mode"):
        load_dataset(str(root), "train")


def test_an_explicit_data_dir_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(VistransferError, match="does not exist"):
        load_dataset("fashion-mnist", "test", tmp_path / "nope")
