"""The deconvolutional generator G of Section 3.3, as a bank of S independent generators.

Each slot s has its own parameters theta_G[s] and maps its group of Z vectors to images::

    z (S, g, z_dim) -> fc -> (c0, H/4, W/4) -> ReLU -> deconv x2 -> (c1, H/2, W/2) -> ReLU
      -> deconv x2 -> (C, H, W) -> sigmoid            # sigmoid bounds ||G|| (Eq. 1's R)

The paper's deconvolutions are 4x4 with stride 2; their outputs overlap unevenly, which draws a
checkerboard at the stride's period. ``upsample="resize"`` swaps each for a nearest-neighbour x2
resize and a 3x3 convolution (resize-convolution), which does not. Its parameters are the 3x3
convolution's; it runs as the 4x4 stride-2 deconvolution that computes exactly the same thing
(``resize_as_deconv``), because PyTorch's CPU grouped convolution on the 4x larger resized input
costs several times the deconvolution.

Series (C, L) get the same family in 1-D, with as many x2 stages as keep the seed short.

``downscale=k`` makes G draw at 1/k of the input's resolution and interpolate linearly (bilinearly)
up to it: a band limit, for signals whose content is known to be slow (an RR-interval series
resampled at 4 Hz from about one beat a second holds nothing faster than the beats).

All S generators run as one computation: the fc layer is a batched matmul and the
deconvolutions are grouped transposed convolutions (groups = S), so the cost of a step
does not grow with Python-level loops over generators.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from ..config import GEN_UPSAMPLING


def truncated_normal(shape: tuple[int, ...], std: float, gen: torch.Generator) -> torch.Tensor:
    """N(0, std^2) truncated to +-2 std, exactly, by redrawing the values outside.

    (torch.nn.init.trunc_normal_ costs milliseconds per call through its inverse-CDF path;
    resetting slots calls this thousands of times.)
    """
    x = torch.randn(shape, generator=gen)
    flat = x.view(-1)
    bad = torch.nonzero(flat.abs() > 2).squeeze(1)  # one full pass; then only the few redraws
    while len(bad):
        redraw = torch.randn(len(bad), generator=gen)
        flat[bad] = redraw
        bad = bad[redraw.abs() > 2]
    return x.mul_(std)


# Nearest x2 then a 3-tap convolution (padding 1) = a 4-tap stride-2 transposed convolution (padding 1):
# output 2j   = w[0] x[j-1] + (w[1] + w[2]) x[j]    -> taps 3 and 1 of the transposed kernel
# output 2j+1 = (w[0] + w[1]) x[j] + w[2] x[j+1]    -> taps 2 and 0
# (also at the borders, where both see zero padding). Rows: transposed-kernel taps 0..3; columns: w[0..2].
_RESIZE_TAPS = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


@functools.cache
def _taps(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """_RESIZE_TAPS where the weights live, copied there once (not a host-to-device copy per step)."""
    return _RESIZE_TAPS.to(device, dtype)


def resize_as_deconv(w: torch.Tensor, rank: int) -> torch.Tensor:
    """Convolution weights (..., out, in, 3[, 3]) of a rank-1 or rank-2 resize-convolution -> the equivalent
    stride-2 transposed-convolution weights (..., in, out, 4[, 4]) (differentiable; a linear map of w)."""
    m = _taps(w.device, w.dtype)
    if rank == 2:
        return torch.einsum("ap,bq,...oipq->...ioab", m, m, w)
    return torch.einsum("ap,...oip->...ioa", m, w)


def n_stages(out_shape: tuple[int, ...]) -> int:
    """Upsampling stages of G: 2 for images (Section 3.3's small deconvolutional G); for series as many
    as bring the seed length down to at most 32 (a 6,000-sample series starts from 24 values, not 1,500,
    which keeps the fc layer small)."""
    if len(out_shape) == 3:
        return 2
    return max(2, math.ceil(math.log2(out_shape[1] / 32)))


class GeneratorBank:
    """S generators with stacked parameters (leading dim S) for examples of shape (C, H, W) or (C, L).

    Stage widths follow ``channels`` (the last entry repeats when there are more stages than entries).
    """

    KERNEL = 4  # 4(x4) stride-2 deconvolutions double the size exactly (padding 1)
    RESIZE_KERNEL = 3  # resize-convolution: nearest x2, then a 3(x3) convolution (padding 1)

    @staticmethod
    def resolve_upsample(upsample: str, out_shape: tuple[int, ...]) -> str:
        """``"auto"`` resolved for outputs of ``out_shape``: images get resize-convolutions (no checkerboard),
        series the paper's deconvolutions (SynthesisConfig.gen_upsample)."""
        if upsample == "auto":
            return "resize" if len(out_shape) == 3 else "deconv"
        return upsample

    def __init__(
        self,
        slots: int,
        z_dim: int,
        out_shape: tuple[int, ...],
        channels: tuple[int, ...] = (32, 16),
        device: torch.device | str = "cpu",
        upsample: str = "deconv",
        downscale: int = 1,
    ):
        if len(out_shape) not in (2, 3):
            raise ValueError(f"out_shape must be (C, L) or (C, H, W), got {tuple(out_shape)}")
        if upsample not in GEN_UPSAMPLING:
            raise ValueError(f"upsample must be one of {GEN_UPSAMPLING}, got {upsample!r}")
        if int(downscale) != downscale or downscale < 1:
            raise ValueError(f"downscale must be a positive integer, got {downscale!r}")
        upsample = self.resolve_upsample(upsample, out_shape)
        self.upsample, self.downscale = upsample, int(downscale)
        self.slots, self.z_dim, self.out_shape = slots, z_dim, tuple(out_shape)
        self.rank = len(out_shape) - 1
        self.draw_shape = (out_shape[0],) + tuple(math.ceil(v / self.downscale) for v in out_shape[1:])  # G's own resolution
        stages = n_stages(self.draw_shape)
        f = 2**stages
        self.seed_size = tuple(math.ceil(v / f) for v in self.draw_shape[1:])  # (h0, w0) or (l0,)
        widths = [channels[min(i, len(channels) - 1)] for i in range(stages)] + [out_shape[0]]
        k = (self.KERNEL if upsample == "deconv" else self.RESIZE_KERNEL,) * self.rank
        seed = widths[0] * math.prod(self.seed_size)
        shapes = {"w0": (slots, z_dim, seed), "b0": (slots, seed)}
        for i in range(stages):  # deconv weights are (in, out, k), convolution weights (out, in, k)
            io = (widths[i], widths[i + 1]) if upsample == "deconv" else (widths[i + 1], widths[i])
            shapes[f"w{i + 1}"] = (slots,) + io + k
            shapes[f"b{i + 1}"] = (slots, widths[i + 1])
        self.params = {n: torch.zeros(s, device=device, requires_grad=True) for n, s in shapes.items()}
        self.widths, self.stages = widths, stages
        self.out_bias_name = f"b{stages}"

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    def n_params_per_slot(self) -> int:
        return sum(p[0].numel() for p in self.params.values())

    @torch.no_grad()
    def reset(self, idx: torch.Tensor, std: float, gen: torch.Generator, out_bias: float = 0.0) -> None:
        """Re-initialize the slots ``idx``: weights ~ truncated normal (+-2 std), hidden biases 0,
        output bias ``out_bias`` (the initial output level is sigmoid(out_bias))."""
        for name, p in self.params.items():
            if name.startswith("b"):
                p[idx] = out_bias if name == self.out_bias_name else 0.0
            else:
                p[idx] = truncated_normal((len(idx),) + tuple(p.shape[1:]), std, gen).to(p.device)

    def __call__(self, z: torch.Tensor, idx: torch.Tensor | None = None) -> torch.Tensor:
        """z: (S, g, z_dim) -> outputs (S, g, C, H, W) or (S, g, C, L) in (0, 1).

        idx: run only these slots (z then holds their rows, (len(idx), g, z_dim)); gradients still
        reach the full parameters. A run's idle slots then cost nothing.
        """
        S, g, _ = z.shape
        p, w = self.params, self.widths
        if idx is not None:
            p = {k: v[idx] for k, v in p.items()}
        deconv = F.conv_transpose2d if self.rank == 2 else F.conv_transpose1d
        x = torch.baddbmm(p["b0"].unsqueeze(1), z, p["w0"])  # (S, g, c0 * prod(seed_size))
        x = x.view(S, g, w[0], *self.seed_size).transpose(0, 1).reshape(g, S * w[0], *self.seed_size)
        for i in range(self.stages):  # grouped: each slot's channels only see its own weights
            wi, b = p[f"w{i + 1}"], p[f"b{i + 1}"].reshape(-1)
            if self.upsample == "resize":  # every output sample sees the same weights: no checkerboard (Odena et al. 2016)
                wi = resize_as_deconv(wi, self.rank)
            wt = wi.reshape(S * wi.shape[1], wi.shape[2], *wi.shape[3:])
            x = deconv(F.relu(x), wt, b, stride=2, padding=1, groups=S)
        full = x.shape[2:]
        x = x.view(g, S, w[-1], *full).transpose(0, 1)  # (S, g, C, *full)
        crop = tuple(slice((f - o) // 2, (f - o) // 2 + o) for f, o in zip(full, self.draw_shape[1:]))
        x = torch.sigmoid(x[(..., *crop)])  # center-crop when a size is not a multiple of 2^stages
        if self.downscale == 1:
            return x
        mode = "linear" if self.rank == 1 else "bilinear"
        up = F.interpolate(x.reshape(S * g, *x.shape[2:]), size=self.out_shape[1:], mode=mode, align_corners=True)
        return up.view(S, g, *self.out_shape)
