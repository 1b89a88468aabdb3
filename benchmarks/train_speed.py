"""Training speed of Appendix D's CIFAR-10 nets: fp32 against bf16 autocast + channels-last, side by side.

    python -m benchmarks.train_speed [--batches 20] [--out benchmarks/results/train_speed.json]

For each net and each precision, the same ``fit_network`` the experiments use runs ``--batches``
minibatches of 128 random 3x32x32 images (after two warm-up batches, in the same process), with and
without the flip-shift-rotate augmentation. Prints ms per batch, minutes per epoch of 50,000
images, and the speed-up of bf16 + channels-last over fp32.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from vistransfer.config import TrainConfig
from vistransfer.io import versions, write_json
from vistransfer.models.nets import ConvNet, conv_flops
from vistransfer.models.registry import model_arch
from vistransfer.models.train import fit_network


def ms_per_batch(arch: str, amp: bool, augment: str, batches: int) -> float:
    torch.manual_seed(0)
    x = torch.rand(128 * batches, 3, 32, 32)
    t = F.one_hot(torch.randint(0, 10, (len(x),)), 10).float()
    cfg = TrainConfig(epochs=1, batch_size=128, lr=0.05, optimizer="sgd", amp=amp, augment=augment)
    fit_network(ConvNet((3, 32, 32), 10, model_arch(arch)), x[:256], t[:256], cfg, progress=False)  # warm-up
    net = ConvNet((3, 32, 32), 10, model_arch(arch))
    t0 = time.perf_counter()
    fit_network(net, x, t, cfg, progress=False)
    return 1000 * (time.perf_counter() - t0) / batches


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/train_speed.json"))
    args = ap.parse_args()
    rows = []
    print(f"{'net':12} {'augment':18} {'MFLOP':>6} {'fp32 ms':>8} {'bf16+CL ms':>10} {'speed-up':>8} {'min/epoch bf16':>14}")
    for arch in ("cifar-cnn1", "cifar-cnn2", "cifar-cnn3"):
        for augment in ("flip-shift-rotate", ""):
            fp32 = ms_per_batch(arch, False, augment, args.batches)
            bf16 = ms_per_batch(arch, True, augment, args.batches)
            mflop = conv_flops(ConvNet((3, 32, 32), 10, model_arch(arch))) / 1e6
            rows.append(
                {
                    "arch": arch,
                    "augment": augment,
                    "forward_mflop": mflop,
                    "fp32_ms_per_batch": fp32,
                    "bf16_channels_last_ms_per_batch": bf16,
                    "speedup_bf16_channels_last_over_fp32": fp32 / bf16,
                    "minutes_per_epoch_bf16": bf16 * 391 / 60000,
                }
            )
            print(
                f"{arch:12} {augment or 'none':18} {mflop:6.0f} {fp32:8.0f} {bf16:10.0f} {fp32 / bf16:7.2f}x {bf16 * 391 / 60000:14.2f}", flush=True
            )
    write_json(args.out, {"batches": args.batches, "batch_size": 128, "threads": torch.get_num_threads(), "rows": rows, "versions": versions()})
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
