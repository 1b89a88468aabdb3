import pytest
import torch

from vistransfer.errors import VistransferError
from vistransfer.synthesis.objectives import (
    Batch,
    BatchNormPrior,
    LayoutPrior,
    LevelPrior,
    class_log_softmax,
    class_logit,
    default_objective,
    during_am,
    during_movement,
    histogram_prior,
    l2_norm,
    movement,
    penultimate_distance,
    shuffle_tiles,
    total_variation,
    value_prior,
    value_quantiles,
    value_statistics,
)

LOGITS = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
BATCH = Batch(LOGITS, torch.tensor([1, 2]), torch.tensor([[1.0, 0.0, -1.0], [1.0, 1.0, 0.0]]),
              torch.tensor([False, True]), torch.tensor([[0.0, 2.0], [1.0, 1.0]]))


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
        net(torch.cat([matching, far]))
        d = prior.distance(2)
    assert d[0].item() == pytest.approx(0.0, abs=1e-6)
    assert d[1].item() == pytest.approx(5.0 + 1.0, rel=1e-5)
    assert not any(m._forward_hooks for m in net.modules())  # hooks removed on exit


def test_bn_prior_over_the_batch_lets_single_images_differ_when_the_batch_matches():
    net = _bn_net(mean=0.5, var=0.25)
    low, high = torch.zeros(1, 1, 4, 4), torch.ones(1, 1, 4, 4)  # each flat and off the mean; together mean 0.5, variance 0.25
    pair = torch.cat([low, high])
    with BatchNormPrior(net, scope="batch") as prior:
        net(pair)
        together = prior.distance(2)
    with BatchNormPrior(net) as prior:
        net(pair)
        alone = prior.distance(2)
    torch.testing.assert_close(together, torch.zeros(2), atol=1e-6, rtol=0)  # one value, scored for both
    assert alone.min().item() == pytest.approx(1.0 + 1.0, rel=1e-5)  # 1 std off the mean and variance 0 each
    with pytest.raises(VistransferError, match="bn_prior_scope"):
        BatchNormPrior(net, scope="layer")


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


def test_total_variation_is_zero_when_flat_and_counts_every_axis():
    tv = total_variation()
    flat = torch.full((2, 1, 4, 4), 0.3)
    assert torch.equal(tv(Batch(None, None, None, None, flat)), torch.zeros(2))
    step = torch.zeros(1, 1, 4)
    step[..., 2:] = 1.0  # one jump of 1 among 3 neighbour pairs
    torch.testing.assert_close(tv(Batch(None, None, None, None, step)), torch.tensor([1 / 3]))
    img = torch.zeros(1, 1, 4, 4)
    img[..., 2:, :] = 1.0  # a jump along H only: 4 of 12 vertical pairs, no horizontal
    torch.testing.assert_close(tv(Batch(None, None, None, None, img)), torch.tensor([1 / 3]))


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


def test_histogram_prior_measures_the_mix_of_values_whatever_the_layout():
    data = torch.zeros(2, 1, 2, 2)
    data[0, 0, 0, 0] = data[1, 0, 1, 1] = 1.0  # each input: three black values and one white
    quantiles, scale = value_quantiles(data, low=0.0, high=1.0)
    assert quantiles.shape == (1, 257) and quantiles[0, 0] == 0 and quantiles[0, -1] == 1
    assert scale == pytest.approx(0.75 ** 0.5 * 0.5)  # the deviation of all eight values together
    prior = histogram_prior(quantiles, scale)
    x = torch.zeros(3, 1, 2, 2)
    x[0, 0, 1, 0] = 1.0  # the data's mix, its white value elsewhere
    x[2] = 0.5  # grey everywhere
    x.requires_grad_(True)
    d = prior(Batch(None, None, None, None, x))
    # sorted values against the data's at the same ranks: 0, one white missing (1/4), four off by 1/2 (2/4)
    torch.testing.assert_close(d.detach(), torch.tensor([0.0, 0.25, 0.5]) / scale)
    d.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad[1].abs().sum() > 0
    rgb = torch.rand(5, 3, 4, 4)
    q, _ = value_quantiles(rgb, 0.0, 1.0, k=11)
    assert q.shape == (3, 11) and torch.all(q.diff(dim=1) >= 0)  # per channel, rising
    with pytest.raises(VistransferError, match="at least two inputs"):
        value_quantiles(data[:1], 0.0, 1.0)


def test_shuffle_tiles_moves_every_tile_and_keeps_the_rest():
    x = torch.arange(2 * 30.0).reshape(2, 1, 30)  # 3 tiles of 10, then 0 samples left; and 2-D below
    out = shuffle_tiles(x, 3, torch.Generator().manual_seed(0))
    for row, orig in zip(out[:, 0], x[:, 0]):
        tiles = row.reshape(3, 10)
        starts = [int(t[0] - orig[0]) for t in tiles]
        assert sorted(starts) == [0, 10, 20] and all(s != 10 * i for i, s in enumerate(starts))  # a derangement
        assert all(torch.equal(t, orig[s:s + 10]) for t, s in zip(tiles, starts))
    img = torch.arange(16 * 9.0).reshape(1, 1, 9, 16)  # 4 tiles per axis: 2x4 tiles, the 9th row stays
    moved = shuffle_tiles(img, 4, torch.Generator().manual_seed(1))
    assert torch.equal(moved[..., 8, :], img[..., 8, :])
    assert sorted(moved[..., :8, :].flatten().tolist()) == sorted(img[..., :8, :].flatten().tolist())
    for r in range(4):
        for c in range(4):
            tile = moved[0, 0, 2 * r:2 * r + 2, 4 * c:4 * c + 4]
            assert not torch.equal(tile, img[0, 0, 2 * r:2 * r + 2, 4 * c:4 * c + 4])  # no tile stays put
            r0, c0 = int(tile[0, 0]) // 16, int(tile[0, 0]) % 16
            assert torch.equal(tile, img[0, 0, r0:r0 + 2, c0:c0 + 4])  # whole tiles move
    grad = torch.zeros(1, 1, 8, 8, requires_grad=True)
    shuffle_tiles(grad * 2, 2, torch.Generator()).sum().backward()
    assert torch.equal(grad.grad, torch.full((1, 1, 8, 8), 2.0))
    with pytest.raises(VistransferError, match="fewer tiles"):
        shuffle_tiles(torch.zeros(1, 1, 3), 4, torch.Generator())


def test_layout_prior_scores_only_a_class_that_survives_the_shuffle():
    x = torch.zeros(2, 1, 4, 4)
    x[0, 0, 0, 0] = 1.0  # evidence in the top-left tile: the net below reads class 0 from there only
    x[1, 0, :, :] = 1.0  # everywhere: a shuffle changes nothing
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2, bias=False))
    with torch.no_grad():
        net[1].weight.zero_()
        net[1].weight[0, 0] = 5.0  # class 0 if the top-left pixel is lit
        net[1].weight[1, 8] = 1.0  # class 1 a little from one pixel of the lower half
    prior = LayoutPrior(net, tiles=2, seed=0)
    score = prior.objective()(Batch(net(x), torch.tensor([0, 0]), None, None, x))
    assert score[0].item() == 0.0  # the top-left tile moved away: no longer class 0, nothing to pay
    assert score[1].item() == pytest.approx(5.0 - 1.0)  # still class 0 by log-odds 4
    assert prior.rows == 2


def test_level_prior_scores_a_class_seen_in_the_level_alone_and_moves_only_the_level():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
    with torch.no_grad():  # class 1 from brightness: its log-odds on a flat image at level v are 32 v - 8
        net[1].weight.zero_()
        net[1].weight[1] = 2.0
        net[1].bias.copy_(torch.tensor([0.0, -8.0]))
    x = torch.zeros(3, 1, 4, 4)
    x[0] = 0.75  # bright and flat: class 1 by log-odds 16
    x[1, 0, :2] = 1.0  # half lit, level 0.5: log-odds 8, whatever the layout
    x[2, 0, 0, 0] = 1.0  # dark, level 1/16: not class 1 (log-odds -6), nothing to pay
    x.requires_grad_(True)
    prior = LevelPrior(net)
    target = torch.tensor([1, 1, 1])
    score = prior.objective()(Batch(net(x), target, None, None, x))
    assert score.tolist() == pytest.approx([16.0, 8.0, 0.0])
    assert prior.rows == 3  # one more teacher pass per visualization
    score.sum().backward()
    # the gradient reaches x through its mean alone: 32 / 16 pixels, the same at every pixel; none where it pays nothing
    assert torch.allclose(x.grad[:2], torch.full((2, 1, 4, 4), 2.0)) and torch.equal(x.grad[2], torch.zeros(1, 4, 4))
    assert LevelPrior(net).score(x, torch.tensor([0, 0, 0])).tolist() == pytest.approx([0.0, 0.0, 6.0])  # class 0 only in the dark
