"""The reference procedure, as the paper describes it: one generator at a time.

For each group of ``group_size`` visualizations (Appendix C: 9) a fresh G (one slot of
:class:`GeneratorBank`, so exactly the engine's layers) is initialized,
moved (Section 3.3.2) and optimized by AM with ``torch.optim.Adam`` until every member of the
group satisfies Eq. 2 at once; a group that misses the step budget is discarded. It exists
to measure the batched engine against (``benchmarks/synthesis_speed.py``) and to check that
the engine's speed does not cost quality; it is not used by the pipeline.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from vistransfer.config import SynthesisConfig
from vistransfer.models.generator import GeneratorBank
from vistransfer.models.spec import InputSpec
from vistransfer.synthesis.engine import class_quota, summarize, with_priors
from vistransfer.synthesis.objectives import Batch, Objective, default_objective
from vistransfer.synthesis.records import FIELDS
from vistransfer.synthesis.slots import draw_groups, draw_movements
from vistransfer.synthesis.start import start_bias, start_label


def synthesize_reference(
    teacher: nn.Module,
    cfg: SynthesisConfig,
    spec: InputSpec | tuple[int, ...],
    n_classes: int,
    device: torch.device | str = "cpu",
    objective: Objective | None = None,
    real: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[dict[str, torch.Tensor], dict]:
    """Same inputs and outputs as :func:`engine.synthesize`, one generator at a time (``real`` only for the value
    prior's statistics: no Loss2 here)."""
    spec = InputSpec.of(spec)
    objective = objective or default_objective(cfg.objective)
    device = torch.device(device)
    teacher = teacher.to(device).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    objective, priors = with_priors(objective, cfg, teacher, spec, real, device)
    with priors:
        gen = torch.Generator().manual_seed(cfg.seed)
        quota = class_quota(cfg.n, n_classes)
        accepted = torch.zeros(n_classes, dtype=torch.long)
        rec: dict[str, list] = {k: [] for k in FIELDS}
        stats = dict(iterations=0, teacher_rows=0, loss2_rows=0, groups_started=0, groups_discarded=0, discarded=0, rows_discarded=0, over_quota=0)
        g = cfg.group_size
        t0 = time.perf_counter()
        out_bias, stats["teacher_rows"] = start_bias(teacher, cfg, spec, device)
        G = GeneratorBank(1, cfg.z_dim, spec.shape, cfg.gen_channels, device, cfg.gen_upsample, cfg.gen_downscale)  # one slot: one plain G
        first = torch.zeros(1, dtype=torch.long)
        while int(accepted.sum()) < cfg.n:
            c = int(torch.argmax(quota - accepted))
            G.reset(first, cfg.init_std, gen, out_bias)
            z, thr, lr = draw_groups(cfg, 1, gen)
            z, T = z.to(device), float(thr[0])
            move_w, move_steps, kind = draw_movements(cfg, n_classes, 1, gen)
            opt = torch.optim.Adam(G.parameters(), lr=float(lr[0]))
            tgt = torch.full((g,), c, device=device)
            stats["groups_started"] += 1
            done = False
            for step in range(int(move_steps[0]) + cfg.max_steps):
                in_am = step >= int(move_steps[0])
                x = spec.to_domain(G(z)[0])  # (g, *shape)
                logits = teacher(x)
                stats["iterations"] += 1
                stats["teacher_rows"] += g
                if in_am:
                    probs = F.softmax(logits.detach(), 1)
                    if bool(((probs.argmax(1) == c) & (probs[:, c] > T)).all()):
                        take = min(g, int(quota[c] - accepted[c]))
                        accepted[c] += take
                        for k, v in (
                            ("x", x.detach()[:take]),
                            ("probs", probs[:take]),
                            ("target", tgt[:take]),
                            ("passed_step", torch.full((take,), step - int(move_steps[0]))),
                            ("threshold", torch.full((take,), T)),
                            ("group", torch.full((take,), stats["groups_started"])),
                            ("kind", kind.expand(take)),
                        ):
                            rec[k].append(v.cpu())
                        done = True
                        break
                score = objective(Batch(logits, tgt, move_w.to(device).expand(g, -1), torch.full((g,), in_am, device=device), x))
                opt.zero_grad(set_to_none=True)
                (-score.sum()).backward()
                opt.step()
            if not done:
                stats["groups_discarded"] += 1
                stats["discarded"] += g
                stats["rows_discarded"] += g * (int(move_steps[0]) + cfg.max_steps)
    stats["wall_s"], stats["gen_upsample"] = time.perf_counter() - t0, G.upsample
    stats["gen_start"] = start_label(out_bias)
    stats.update(summarize(stats, cfg.n))
    return {k: torch.cat(v) for k, v in rec.items()}, stats
