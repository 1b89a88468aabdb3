import torch

from vistransfer.students import create_student


def test_min_steps_adds_epochs_on_small_sets(digits):
    train, _ = digits
    x, y = train.x[:64], train.y[:64]
    short = create_student("cnn_id", epochs=1, batch_size=32, seed=0).fit(x, y)
    long = create_student("cnn_id", epochs=1, batch_size=32, min_steps=20, seed=0).fit(x, y)
    assert len(short.loss_curve_) == 1 and len(long.loss_curve_) == 10  # 2 steps per epoch


def test_temperature_changes_soft_training_but_not_hard(digits):
    train, test = digits
    x, y = train.x[:200], train.y[:200]
    soft = torch.softmax(torch.randn(200, 10) * 3, 1)
    fit = lambda t, tau: create_student("cnn_id", epochs=2, seed=0, temperature=tau).fit(x, t).predict_proba(test.x)  # noqa: E731
    assert (fit(y, 1.0) == fit(y, 4.0)).all()  # hard labels: temperature is ignored
    assert not (fit(soft, 1.0) == fit(soft, 4.0)).all()
