"""The deconvolutional generator G of Section 3.3, as a bank of S independent generators.

Each slot s has its own parameters theta_G[s] and maps its group of Z vectors to images::

    z (S, g, z_dim) -> fc -> (c0, H/4, W/4) -> ReLU -> deconv x2 -> (c1, H/2, W/2) -> ReLU
      -> deconv x2 -> (C, H, W) -> sigmoid            # sigmoid bounds ||G|| (Eq. 1's R)

The paper's deconvolutions are 4x4 with stride 2; their outputs overlap unevenly, which draws a
checkerboard at the stride's period. ``upsample="resize"`` swaps each for a nearest-neighbour x2
resize and a 3x3 convolution (resize-convolution), which does not.

Series (C, L) get the same family in 1-D, with as many x2 stages as keep the seed short.

All S generators run as one computation: the fc layer is a batched matmul and the
deconvolutions are grouped transposed convolutions (groups = S), so the cost of a step
does not grow with Python-level loops over generators.
"""

from __future__ import annotations

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

    def __init__(self, slots: int, z_dim: int, out_shape: tuple[int, ...],
                 channels: tuple[int, ...] = (32, 16), device: torch.device | str = "cpu", upsample: str = "deconv"):
        if len(out_shape) not in (2, 3):
            raise ValueError(f"out_shape must be (C, L) or (C, H, W), got {tuple(out_shape)}")
        if upsample not in GEN_UPSAMPLING:
            raise ValueError(f"upsample must be one of {GEN_UPSAMPLING}, got {upsample!r}")
        self.upsample = upsample
        self.slots, self.z_dim, self.out_shape = slots, z_dim, tuple(out_shape)
        self.rank = len(out_shape) - 1
        stages = n_stages(self.out_shape)
        f = 2 ** stages
        self.seed_size = tuple(math.ceil(v / f) for v in out_shape[1:])  # (h0, w0) or (l0,)
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
        conv = F.conv2d if self.rank == 2 else F.conv1d
        x = torch.baddbmm(p["b0"].unsqueeze(1), z, p["w0"])  # (S, g, c0 * prod(seed_size))
        x = x.view(S, g, w[0], *self.seed_size).transpose(0, 1).reshape(g, S * w[0], *self.seed_size)
        for i in range(self.stages):  # grouped: each slot's channels only see its own weights
            wi, b = p[f"w{i + 1}"], p[f"b{i + 1}"].reshape(-1)
            wt = wi.reshape(S * wi.shape[1], wi.shape[2], *wi.shape[3:])
            if self.upsample == "deconv":
                x = deconv(F.relu(x), wt, b, stride=2, padding=1, groups=S)
            else:  # every output sample sees the same number of weights: no checkerboard (Odena et al. 2016)
                x = conv(F.interpolate(F.relu(x), scale_factor=2, mode="nearest"), wt, b, padding=1, groups=S)
        full = x.shape[2:]
        x = x.view(g, S, w[-1], *full).transpose(0, 1)  # (S, g, C, *full)
        crop = tuple(slice((f - o) // 2, (f - o) // 2 + o) for f, o in zip(full, self.out_shape[1:]))
        return torch.sigmoid(x[(..., *crop)])  # center-crop when a size is not a multiple of 2^stages
