import pytest
import torch

from vistransfer.errors import VistransferError
from vistransfer.synthesis.objectives import (
    Batch,
    BatchNormPrior,
    class_log_softmax,
    class_logit,
    default_objective,
    during_am,
    during_movement,
    l2_norm,
    movement,
    penultimate_distance,
    value_prior,
    value_statistics,
)

LOGITS = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
BATCH = Batch(
    LOGITS,
    torch.tensor([1, 2]),
    torch.tensor([[1.0, 0.0, -1.0], [1.0, 1.0, 0.0]]),
    torch.tensor([False, True]),
    torch.tensor([[0.0, 2.0], [1.0, 1.0]]),
)


def test_default_is_movement_then_am():
    assert default_objective("logit")(BATCH).tolist() == [1.0 - 3.0, 3.0]
    ls = default_objective("log_softmax")(BATCH)
    assert ls[0] == -2.0 and torch.isclose(ls[1], torch.log_softmax(LOGITS[1], 0)[2])


def test_objectives_add_subtract_and_scale():
    assert (class_logit() + movement())(BATCH).tolist() == [2.0 - 2.0, 3.0 + 3.0]
    assert (class_logit() - 0.5 * l2_norm())(BATCH).tolist() == [2.0 - 1.0, 3.0 - 0.5]
    assert (-class_logit())(BATCH).tolist() == [-2.0, -3.0]
    assert sum([class_logit(), movement()])(BATCH).tolist() == [0.0, 6.0]
    assert during_am(class_logit())(BATCH).tolist() == [0.0, 3.0]
    assert during_movement(movement())(BATCH).tolist() == [-2.0, 0.0]
    assert "class_logit" in repr(class_logit() - 0.5 * l2_norm()) and "0.5 * l2_norm" in repr(class_logit() - 0.5 * l2_norm())
    with pytest.raises(TypeError):
        class_logit() * class_logit()


def test_masked_phase_gets_no_gradient():
    logits = LOGITS.clone().requires_grad_(True)
    b = Batch(logits, BATCH.target, BATCH.move_w, BATCH.in_am)
    during_am(class_logit())(b).sum().backward()
    assert logits.grad[0].abs().sum() == 0 and logits.grad[1].tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("make", [class_logit, class_log_softmax])
def test_am_objective_rises_under_adam(make):
    """Five Adam steps on the AM objective raise it for a fixed linear 'teacher'."""
    torch.manual_seed(0)
    W = torch.randn(4, 3)
    x = torch.zeros(1, 4, requires_grad=True)
    opt = torch.optim.Adam([x], lr=0.1)
    obj = during_am(make())
    scores = []
    for _ in range(5):
        s = obj(Batch(x @ W, torch.tensor([2]), torch.zeros(1, 3), torch.tensor([True]), x))
        scores.append(s.item())
        opt.zero_grad()
        (-s.sum()).backward()
        opt.step()
    assert all(b > a for a, b in zip(scores, scores[1:]))


def test_penultimate_distance_is_summed_l2():
    f = torch.tensor([[0.0, 0.0]])
    real = torch.tensor([[[3.0, 4.0], [0.0, 1.0]]])
    assert penultimate_distance(f, real).tolist() == [6.0]


def _bn_net(mean: float, var: float) -> torch.nn.Module:
    """conv(identity) -> BN whose running statistics are (mean, var) -> GAP -> linear, in eval mode."""
    conv = torch.nn.Conv2d(1, 2, 1, bias=False)
    bn = torch.nn.BatchNorm2d(2, eps=0.0)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        bn.running_mean.fill_(mean)
        bn.running_var.fill_(var)
    return torch.nn.Sequential(conv, bn, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(2, 3)).eval()


def test_bn_prior_is_zero_at_the_running_statistics_and_grows_away_from_them():
    net = _bn_net(mean=0.5, var=0.25)
    matching = torch.tensor([0.0, 1.0]).repeat(8)[None, None].reshape(1, 1, 4, 4)  # per-image mean 0.5, variance 0.25
    far = torch.full((1, 1, 4, 4), 3.0)  # mean 3.0 (5 std away), variance 0 (1 running var away)
    with BatchNormPrior(net) as prior:
        net(matching)
        at = prior.distance(1)
        net(far)
        off = prior.distance(1)
    assert at.item() == pytest.approx(0.0, abs=1e-6)
    assert off.item() == pytest.approx(5.0 + 1.0, rel=1e-5)
    assert not any(m._forward_hooks for m in net.modules())  # hooks removed on exit


def test_bn_prior_over_the_batch_lets_single_images_differ_when_the_batch_matches():
    net = _bn_net(mean=0.5, var=0.25)
    low, high = torch.zeros(1, 1, 4, 4), torch.ones(1, 1, 4, 4)  # each flat and off the mean; together mean 0.5, variance 0.25
    pair = torch.cat([low, high])
    with BatchNormPrior(net) as prior:
        net(pair)
        together = prior.distance(2)
        net(low)
        alone = prior.distance(1)
    torch.testing.assert_close(together, torch.zeros(2), atol=1e-6, rtol=0)  # one value, scored for both
    assert alone.item() == pytest.approx(1.0 + 1.0, rel=1e-5)  # one of them alone: 1 std off the mean, variance 0


def test_bn_prior_pulls_a_visualization_towards_the_training_statistics():
    net = _bn_net(mean=0.5, var=0.25)
    x = torch.full((1, 1, 4, 4), 2.0).add_(0.01 * torch.randn(1, 1, 4, 4)).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.05)
    with BatchNormPrior(net) as prior:
        obj = -1.0 * prior.objective()
        scores = []
        for _ in range(20):
            s = obj(Batch(net(x), torch.tensor([0]), torch.zeros(1, 3), torch.tensor([True]), x))
            scores.append(s.item())
            opt.zero_grad()
            (-s.sum()).backward()
            opt.step()
    assert scores[-1] > scores[0] + 1.0


def test_bn_prior_names_the_fix_for_a_torchscript_teacher_and_ignores_a_teacher_without_bn():
    with pytest.raises(VistransferError, match="TorchScript.*state_dict"):
        BatchNormPrior(torch.jit.script(_bn_net(0.0, 1.0)))
    assert not BatchNormPrior(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)))


def test_value_prior_measures_values_in_the_datas_own_deviations_at_each_position():
    data = torch.zeros(4, 1, 2, 2)
    data[:, 0, 0, 0] = torch.tensor([0.0, 1.0, 0.0, 1.0])  # one position varies (mean 0.5, std 0.5), three never do
    mean, std = value_statistics(data, low=0.0, high=1.0, floor=0.1)
    torch.testing.assert_close(mean, torch.tensor([[[0.5, 0.0], [0.0, 0.0]]]))
    torch.testing.assert_close(std, torch.tensor([[[0.5, 0.1], [0.1, 0.1]]]))  # never varying: held at 0.1 of [0, 1]
    prior = value_prior(mean, std)
    x = mean.expand(3, 1, 2, 2).clone()
    x[1, 0, 0, 0] = 1.0  # one std off where the data varies: z = 1 at one of 4 positions
    x[2, 0, 1, 1] = 0.1  # the same step where it never varies costs the same in its own (floored) deviations
    x.requires_grad_(True)
    d = prior(Batch(None, None, None, None, x))
    torch.testing.assert_close(d.detach(), torch.tensor([0.0, 0.5, 0.5]))
    d.sum().backward()
    assert torch.isfinite(x.grad).all()  # the mean image itself has a finite gradient
    with pytest.raises(VistransferError, match="at least two inputs"):
        value_statistics(data[:1], 0.0, 1.0)
    series = torch.stack([torch.full((1, 6), 0.8), torch.full((1, 6), 1.2)])  # (N, C, L): RR intervals in [0.3, 2.0] s
    mean, std = value_statistics(series, low=0.3, high=2.0)
    assert mean.shape == std.shape == (1, 6) and torch.allclose(std, torch.full((1, 6), 0.2))
    torch.testing.assert_close(value_prior(mean, std)(Batch(None, None, None, None, torch.full((1, 1, 6), 1.4))), torch.tensor([2.0]))
