"""One contract test for every registered student, plus the soft-label reductions."""

import numpy as np
import pytest
import torch

from vistransfer.errors import VistransferError
from vistransfer.students import NotFittedError, canonical_name, create_student, list_students


def blobs(n=300, k=3, seed=0):
    """Three classes of 8x8 images: a bright square in a different corner per class, plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    x = torch.rand(n, 1, 8, 8, generator=g) * 0.3
    for c, (r, s) in enumerate([(0, 0), (0, 4), (4, 2)][:k]):
        x[y == c, :, r : r + 4, s : s + 4] += 0.7
    return x.clamp(0, 1), y


FAST = {"epochs": 15, "lr": 5e-3, "batch_size": 32}


@pytest.mark.parametrize("name", list_students())
@pytest.mark.slow
def test_student_contract(name):
    x, y = blobs()
    xt, yt = blobs(seed=1)
    s = create_student(name, seed=0, **FAST)
    with pytest.raises(NotFittedError):
        s.predict(xt)
    assert s.fit(x, y) is s
    proba = s.predict_proba(xt)
    assert proba.shape == (len(xt), 3)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    acc = (s.predict(xt) == yt.numpy()).mean()
    assert acc > 0.9, f"{name} reached only {acc:.2f} on separable blobs"
    with pytest.raises(VistransferError, match="fitted on"):
        s.predict(torch.rand(4, 1, 6, 6))


@pytest.mark.parametrize("name", list_students())
@pytest.mark.slow
def test_student_accepts_soft_labels(name):
    x, y = blobs()
    soft = torch.nn.functional.one_hot(y, 3).float() * 0.8 + 0.2 / 3
    s = create_student(name, seed=0, **FAST).fit(x, soft)
    assert (s.predict(x) == y.numpy()).mean() > 0.9


def test_soft_labels_must_be_distributions():
    x, _ = blobs(30)
    with pytest.raises(VistransferError, match="sum to 1"):
        create_student("rf").fit(x, torch.rand(30, 3))
    with pytest.raises(VistransferError, match="integers"):
        create_student("rf").fit(x, torch.rand(30))


def test_weighted_reduction_uses_all_classes():
    """'weighted' trains on every class a row gives mass to: a class seen only in soft mass is learned."""
    x, y = blobs(k=3)
    soft = torch.nn.functional.one_hot(y, 3).float()
    # class 2 never wins the argmax but holds 45% of rows that look like class 2
    soft[y == 2] = torch.tensor([0.55, 0.0, 0.45])
    arg = create_student("rf", soft="argmax").fit(x, soft)
    wtd = create_student("rf", soft="weighted").fit(x, soft)
    assert arg.predict_proba(x)[:, 2].max() == 0.0
    assert wtd.predict_proba(x)[:, 2].max() > 0.0


def test_names_and_aliases():
    assert canonical_name("CNN_s") == "cnn_tiny" and canonical_name("CNN_S") == "cnn_small"
    with pytest.raises(VistransferError, match="unknown student 'resnet'"):
        create_student("resnet")


def test_an_ensemble_is_the_mean_of_its_members():
    """members=3: member i is exactly the student of seed + 1000 * i, and the ensemble's probabilities
    are the mean of theirs (what an apnea student's operating point needs, docs/apnea.md)."""
    x, y = blobs(120)
    xt, _ = blobs(60, seed=1)
    ens = create_student("cnn_tiny", seed=5, members=3, **FAST).fit(x, y)
    singles = [create_student("cnn_tiny", seed=5 + 1000 * i, **FAST).fit(x, y).predict_proba(xt) for i in range(3)]
    np.testing.assert_allclose(ens.predict_proba(xt), np.mean(singles, 0), atol=1e-5)
    assert not np.allclose(singles[0], singles[1], atol=1e-3)  # the members differ: an ensemble, not one net thrice
    assert len(ens.loss_curve_) == 3
    with pytest.raises(VistransferError, match="members must be at least 1"):
        create_student("cnn_tiny", members=0)
