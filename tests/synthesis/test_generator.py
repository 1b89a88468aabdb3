import pytest
import torch

from vistransfer.models.generator import GeneratorBank


def test_shapes_range_and_crop():
    for shape in [(1, 8, 8), (1, 28, 28), (3, 32, 32), (1, 10, 6)]:
        bank = GeneratorBank(4, 8, shape)
        bank.reset(torch.arange(4), 0.1, torch.Generator().manual_seed(0))
        x = bank(torch.rand(4, 3, 8))
        assert x.shape == (4, 3) + shape
        assert float(x.detach().min()) > 0.0 and float(x.detach().max()) < 1.0  # sigmoid output


def test_slots_are_independent():
    """A loss on slot 0's images gives gradient to slot 0's parameters only."""
    bank = GeneratorBank(3, 8, (1, 8, 8))
    bank.reset(torch.arange(3), 0.1, torch.Generator().manual_seed(0))
    x = bank(torch.rand(3, 2, 8))
    x[0].sum().backward()
    for p in bank.parameters():
        assert p.grad[0].abs().sum() > 0
        assert p.grad[1:].abs().sum() == 0


def test_reset_touches_only_given_slots():
    bank = GeneratorBank(3, 8, (1, 8, 8))
    g = torch.Generator().manual_seed(0)
    bank.reset(torch.arange(3), 0.1, g)
    before = {k: v.detach().clone() for k, v in bank.params.items()}
    bank.reset(torch.tensor([1]), 0.1, g)
    w = bank.params["w0"]
    assert torch.equal(w[0], before["w0"][0]) and torch.equal(w[2], before["w0"][2])
    assert not torch.equal(w[1], before["w0"][1])
    assert float(w.detach().abs().max()) <= 0.2 + 1e-6  # truncated at 2 std


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 64, 64), (2, 30, 45), (1, 240), (1, 6000), (2, 100)])
def test_every_rank_and_size_gets_its_exact_shape(shape):
    """Images of any C and sizes that are not powers of two, and series: no reshaping, exact output shape."""
    bank = GeneratorBank(3, 8, shape)
    bank.reset(torch.arange(3), 0.1, torch.Generator().manual_seed(0))
    x = bank(torch.rand(3, 2, 8))
    assert x.shape == (3, 2) + shape
    assert bank.rank == len(shape) - 1 and max(bank.seed_size) <= (32 if len(shape) == 2 else 16)
    x.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in bank.parameters())


def test_series_students_and_teachers_use_1d_layers():
    from torch import nn

    from vistransfer.models.nets import ConvNet

    net = ConvNet((1, 240), 2)
    assert isinstance(net.conv[0], nn.Conv1d) and net(torch.rand(4, 1, 240)).shape == (4, 2)
    assert isinstance(ConvNet((3, 32, 32), 10).conv[0], nn.Conv2d)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 240)])
def test_resize_convolution_has_the_same_contract(shape):
    """upsample="resize": the exact shape, (0, 1) outputs, independent slots, like the paper's deconvolutions."""
    bank = GeneratorBank(3, 8, shape, upsample="resize")
    bank.reset(torch.arange(3), 0.1, torch.Generator().manual_seed(0))
    x = bank(torch.rand(3, 2, 8))
    assert x.shape == (3, 2) + shape and 0.0 < float(x.detach().min()) and float(x.detach().max()) < 1.0
    x[1].sum().backward()
    for p in bank.parameters():
        assert p.grad[1].abs().sum() > 0 and p.grad[[0, 2]].abs().sum() == 0
    with pytest.raises(ValueError, match="upsample must be one of"):
        GeneratorBank(1, 8, shape, upsample="bilinear")


def test_only_the_deconvolutions_draw_a_checkerboard():
    """A seed that is the same everywhere: 4x4 stride-2 deconvolutions turn it into a pattern of
    period 2 (their overlaps differ by position); resize-convolution keeps the interior flat."""
    spread = {}
    for up in ("deconv", "resize"):
        bank = GeneratorBank(1, 4, (1, 28, 28), upsample=up)
        bank.reset(torch.arange(1), 0.3, torch.Generator().manual_seed(0))
        with torch.no_grad():
            w0 = bank.params["w0"].view(1, 4, bank.widths[0], -1)
            w0.copy_(w0[..., :1].expand_as(w0))  # every seed position equal, per channel
            bank.params["b0"].zero_()
        x = bank(torch.rand(1, 1, 4)).detach()[0, 0, 0, 6:22, 6:22]  # away from the zero padding
        spread[up] = float(x.std() / x.mean())
    assert spread["resize"] < 1e-5 < 1e-2 < spread["deconv"]


@pytest.mark.parametrize("rank", [1, 2])
def test_resize_convolution_runs_as_its_equivalent_deconvolution(rank):
    """Nearest x2 + 3-tap convolution (padding 1) and the derived 4-tap stride-2 deconvolution give the
    same output, borders included, and the same gradient to the 3-tap weights."""
    import torch.nn.functional as F

    from vistransfer.models.generator import resize_as_deconv

    g = torch.Generator().manual_seed(0)
    x = torch.randn((2, 5) + (7,) * rank, generator=g)
    w = torch.randn((4, 5) + (3,) * rank, generator=g, requires_grad=True)
    conv, deconv = (F.conv1d, F.conv_transpose1d) if rank == 1 else (F.conv2d, F.conv_transpose2d)
    want = conv(F.interpolate(x, scale_factor=2, mode="nearest"), w, padding=1)
    (gw,) = torch.autograd.grad((want * torch.arange(want.numel()).view_as(want).sin()).sum(), w)
    got = deconv(x, resize_as_deconv(w, rank), stride=2, padding=1)
    (gw2,) = torch.autograd.grad((got * torch.arange(got.numel()).view_as(got).sin()).sum(), w)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gw2, gw, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(1, 1200), (1, 28, 28), (3, 30, 45)])
def test_downscaled_generator_draws_coarse_and_interpolates(shape):
    """downscale=k: G draws at 1/k of the resolution; the output has the exact shape, stays in (0, 1),
    and between G's samples it is a straight line (no content faster than G's own rate)."""
    bank = GeneratorBank(2, 8, shape, downscale=4)
    assert bank.draw_shape == (shape[0],) + tuple(-(-v // 4) for v in shape[1:])
    bank.reset(torch.arange(2), 0.3, torch.Generator().manual_seed(0))
    x = bank(torch.rand(2, 3, 8))
    assert x.shape == (2, 3) + shape and 0.0 < float(x.detach().min()) and float(x.detach().max()) < 1.0
    x.sum().backward()
    assert all(p.grad.abs().sum() > 0 for p in bank.parameters())
    if len(shape) == 2:  # a second difference vanishes unless one of G's samples lies inside its 3 points (~1/2)

        def straight(y):
            d2 = y[..., 2:] - 2 * y[..., 1:-1] + y[..., :-2]
            return float((d2.abs() < 1e-5).float().mean())

        full = GeneratorBank(2, 8, shape)
        full.reset(torch.arange(2), 0.3, torch.Generator().manual_seed(0))
        assert straight(x.detach()) > 0.4 > 0.05 > straight(full(torch.rand(2, 3, 8)).detach())
    with pytest.raises(ValueError, match="downscale must be a positive integer"):
        GeneratorBank(1, 8, shape, downscale=0)
