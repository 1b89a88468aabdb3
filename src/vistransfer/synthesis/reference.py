"""The reference procedure, as the paper describes it: one generator at a time.

For each group of ``group_size`` visualizations (Appendix C: 9) a fresh G is initialized,
moved (Section 3.3.2) and optimized by AM with ``torch.optim.Adam`` until every member of the
group satisfies Eq. 2 at once; a group that misses the step budget is discarded. It exists
to measure the batched engine against (``benchmarks/synthesis_speed.py``) and to check that
the engine's speed does not cost quality; it is not used by the pipeline.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from ..config import SynthesisConfig
from .engine import class_quota
from .objectives import output_score
from .slots import draw_movements


def single_generator(z_dim: int, out_shape: tuple[int, int, int], channels: tuple[int, int], std: float,
                     gen: torch.Generator, out_bias: float = 0.0) -> nn.Module:
    """One G with the same layers as one slot of GeneratorBank, as plain nn modules."""
    c, h, w = out_shape
    h0, w0 = math.ceil(h / 4), math.ceil(w / 4)
    c0, c1 = channels
    net = nn.Sequential(nn.Linear(z_dim, c0 * h0 * w0), nn.ReLU(), nn.Unflatten(1, (c0, h0, w0)),
                        nn.ConvTranspose2d(c0, c1, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(c1, c, 4, 2, 1))
    with torch.no_grad():
        for m in net:
            if isinstance(m, (nn.Linear, nn.ConvTranspose2d)):
                nn.init.trunc_normal_(m.weight, std=std, a=-2 * std, b=2 * std, generator=gen)
                nn.init.zeros_(m.bias)
        net[-1].bias.fill_(out_bias)
    top, left = (4 * h0 - h) // 2, (4 * w0 - w) // 2
    return nn.Sequential(net, nn.Sigmoid(), _Crop(top, left, h, w))


class _Crop(nn.Module):
    def __init__(self, top: int, left: int, h: int, w: int):
        super().__init__()
        self.box = (top, left, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, l, h, w = self.box
        return x[:, :, t:t + h, l:l + w]


def synthesize_reference(teacher: nn.Module, cfg: SynthesisConfig, in_shape: tuple[int, int, int], n_classes: int,
                         device: torch.device | str = "cpu") -> tuple[dict[str, torch.Tensor], dict]:
    """Same inputs and outputs as :func:`engine.synthesize`, one generator at a time."""
    device = torch.device(device)
    teacher = teacher.to(device).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(cfg.seed)
    quota = class_quota(cfg.n, n_classes)
    accepted = torch.zeros(n_classes, dtype=torch.long)
    rec: dict[str, list] = {k: [] for k in ("x", "probs", "target", "passed_step", "threshold", "group", "kind")}
    stats = dict(iterations=0, teacher_rows=0, loss2_rows=0, groups_started=0, groups_discarded=0, discarded=0,
                 rows_discarded=0, over_quota=0)
    g = cfg.group_size
    t0 = time.perf_counter()
    while int(accepted.sum()) < cfg.n:
        c = int(torch.argmax(quota - accepted))
        G = single_generator(cfg.z_dim, in_shape, cfg.gen_channels, cfg.init_std, gen, cfg.gen_out_bias).to(device)
        z = (torch.rand(g, cfg.z_dim, generator=gen) * (cfg.z_high - cfg.z_low) + cfg.z_low).to(device)
        T = cfg.threshold if cfg.threshold_range is None else float(torch.empty(1).uniform_(*cfg.threshold_range, generator=gen))
        lr = cfg.lr if cfg.lr_range is None else float(torch.empty(1).uniform_(*cfg.lr_range, generator=gen))
        move_w, move_steps, kind = draw_movements(cfg, n_classes, 1, gen)
        opt = torch.optim.Adam(G.parameters(), lr=lr)
        tgt = torch.full((g,), c, device=device)
        stats["groups_started"] += 1
        done = False
        for step in range(int(move_steps[0]) + cfg.max_steps):
            in_am = step >= int(move_steps[0])
            x = G(z)
            logits = teacher(x)
            stats["iterations"] += 1
            stats["teacher_rows"] += g
            if in_am:
                probs = F.softmax(logits.detach(), 1)
                if bool(((probs.argmax(1) == c) & (probs[:, c] > T)).all()):
                    take = min(g, int(quota[c] - accepted[c]))
                    accepted[c] += take
                    for k, v in (("x", x.detach()[:take]), ("probs", probs[:take]), ("target", tgt[:take]),
                                 ("passed_step", torch.full((take,), step - int(move_steps[0]))),
                                 ("threshold", torch.full((take,), T)), ("group", torch.full((take,), stats["groups_started"])),
                                 ("kind", kind.expand(take))):
                        rec[k].append(v.cpu())
                    done = True
                    break
            score = output_score(logits, move_w.to(device).expand(g, -1), tgt, torch.full((g,), in_am, device=device), cfg.objective)
            opt.zero_grad(set_to_none=True)
            (-score.sum()).backward()
            opt.step()
        if not done:
            stats["groups_discarded"] += 1
            stats["discarded"] += g
            stats["rows_discarded"] += g * (int(move_steps[0]) + cfg.max_steps)
    stats["wall_s"] = time.perf_counter() - t0
    stats["accepted"] = cfg.n
    stats["vis_per_s"] = cfg.n / stats["wall_s"]
    stats["teacher_passes_per_vis"] = stats["teacher_rows"] / cfg.n
    stats["discarded_work_fraction"] = stats["rows_discarded"] / max(stats["teacher_rows"], 1)
    return {k: torch.cat(v) for k, v in rec.items()}, stats
