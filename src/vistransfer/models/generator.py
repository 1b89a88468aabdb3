"""The deconvolutional generator G of Section 3.3, as a bank of S independent generators.

Each slot s has its own parameters theta_G[s] and maps its group of Z vectors to images::

    z (S, g, z_dim) -> fc -> (c0, H/4, W/4) -> ReLU -> deconv x2 -> (c1, H/2, W/2) -> ReLU
      -> deconv x2 -> (C, H, W) -> sigmoid            # sigmoid bounds ||G|| (Eq. 1's R)

All S generators run as one computation: the fc layer is a batched matmul and the
deconvolutions are grouped transposed convolutions (groups = S), so the cost of a step
does not grow with Python-level loops over generators.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


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


class GeneratorBank:
    """S generators with stacked parameters (leading dim S) for images of shape (C, H, W)."""

    KERNEL = 4  # 4x4 stride-2 deconvolutions double the size exactly (padding 1)

    def __init__(self, slots: int, z_dim: int, out_shape: tuple[int, int, int],
                 channels: tuple[int, int] = (32, 16), device: torch.device | str = "cpu"):
        self.slots, self.z_dim, self.out_shape = slots, z_dim, tuple(out_shape)
        c, h, w = out_shape
        self.h0, self.w0 = math.ceil(h / 4), math.ceil(w / 4)
        c0, c1 = channels
        k = self.KERNEL
        shapes = {
            "w0": (slots, z_dim, c0 * self.h0 * self.w0), "b0": (slots, c0 * self.h0 * self.w0),
            "w1": (slots, c0, c1, k, k), "b1": (slots, c1),
            "w2": (slots, c1, c, k, k), "b2": (slots, c),
        }
        self.params = {n: torch.zeros(s, device=device, requires_grad=True) for n, s in shapes.items()}
        self.channels = (c0, c1)

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    def n_params_per_slot(self) -> int:
        return sum(p[0].numel() for p in self.params.values())

    @torch.no_grad()
    def reset(self, idx: torch.Tensor, std: float, gen: torch.Generator, out_bias: float = 0.0) -> None:
        """Re-initialize the slots ``idx``: weights ~ truncated normal (+-2 std), hidden biases 0,
        output bias ``out_bias`` (the initial image level is sigmoid(out_bias))."""
        for name, p in self.params.items():
            if name.startswith("b"):
                p[idx] = out_bias if name == "b2" else 0.0
            else:
                p[idx] = truncated_normal((len(idx),) + tuple(p.shape[1:]), std, gen).to(p.device)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        """z: (S, g, z_dim) -> images (S, g, C, H, W) in (0, 1)."""
        S, g, _ = z.shape
        c, h, w = self.out_shape
        c0, c1 = self.channels
        p = self.params
        x = torch.baddbmm(p["b0"].unsqueeze(1), z, p["w0"])  # (S, g, c0*h0*w0)
        x = F.relu(x).view(S, g, c0, self.h0, self.w0).transpose(0, 1).reshape(g, S * c0, self.h0, self.w0)
        x = F.conv_transpose2d(x, p["w1"].reshape(S * c0, c1, self.KERNEL, self.KERNEL), p["b1"].reshape(-1),
                               stride=2, padding=1, groups=S)  # (g, S*c1, 2h0, 2w0)
        x = F.conv_transpose2d(F.relu(x), p["w2"].reshape(S * c1, c, self.KERNEL, self.KERNEL), p["b2"].reshape(-1),
                               stride=2, padding=1, groups=S)  # (g, S*c, 4h0, 4w0)
        x = x.view(g, S, c, 4 * self.h0, 4 * self.w0).transpose(0, 1)
        top, left = (4 * self.h0 - h) // 2, (4 * self.w0 - w) // 2  # center-crop when H, W % 4 != 0
        return torch.sigmoid(x[:, :, :, top:top + h, left:left + w])
