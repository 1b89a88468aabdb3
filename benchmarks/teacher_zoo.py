"""Visualizations from teachers of other architectures, side by side, with the same default command.

A user's teacher is rarely our MNIST ConvNet. For each architecture below, one run on one machine:
train it on MNIST (in [0, 1], no normalization, Adam, ``--epochs`` epochs, seed 0), then synthesize
``--n`` visualizations with the default SynthesisConfig (exactly what ``vistransfer synthesize``
does with no options, but for G's start: the paper's grey, which made the committed rows, unless ``--gen-start
auto``, the library's default now), and train one CNN_ID student on them (hard labels, as the experiments do).
For each teacher it reports test accuracy, visualizations/s, teacher passes per accepted
visualization, groups over the step budget, the student's real-test accuracy, and diagnostics
that say why a teacher is hard to visualize (measured, not guessed):

* ``real_above_T``: the share of real test images on which the teacher's softmax passes T. A
  teacher that rarely reaches T on real digits will not reach it easily from G either.
* ``logit_margin_real``: the median gap between the top two logits on real test images (how
  saturated its logits are).
* ``bn_shift``: for teachers with batch norm, the mean over channels of the first batch norm's
  |batch mean - running mean| / running std on the accepted visualizations, against the same on
  real test images (``bn_shift_real``): how far from the data the teacher was trained on the
  visualizations sit, as DeepInversion measures it.

    python -m benchmarks.teacher_zoo --data-dir ../shared/datasets                       # ~30 min on 2 cores
    python -m benchmarks.teacher_zoo --data-dir ../shared/datasets --archs builtin,bn_gap --n 1000
    python -m benchmarks.teacher_zoo --data-dir ../shared/datasets --archs bn_gap --bn-prior 0,1   # with the BN prior
    python -m benchmarks.teacher_zoo --data-dir ../shared/datasets --archs bn_gap --threshold 0.7 --bn-prior 10 \
        --gen-out-bias 0,-2 --grids benchmarks/results    # and a picture of each row's visualizations

* ``blank``: the teacher's verdict (class, softmax) on featureless images, all black and all white.
  A teacher that is confident there answers AM with flat images for that class: they pass T and
  carry no digit. ``flat_share``: the share of accepted visualizations whose pixels vary by less
  than 0.1 (std), and ``student_structured``: a student of the same recipe on the others alone.
* ``layout_free``: the share of images whose class the teacher keeps after their 7x7 patches are
  shuffled (a 4x4 grid, one fixed permutation per image), on real test digits and on the accepted
  visualizations. A digit's class lives in where its strokes are; a teacher that keeps it anyway
  decides by local texture, and AM can satisfy it with texture.
* ``diversity``: the mean RMS pixel difference between two visualizations of one class (mean over classes),
  against the same on real test digits. A generator that ignores its input z makes its group of
  ``group_size`` visualizations near copies of one image, and a student then sees fewer images than
  the set holds; ``--group-size 1`` (the default, Table 1's setting) gives every visualization its own
  generator, ``--group-size 9`` is Appendix C's grouping.
* ``level``: the mean pixel value of the accepted visualizations against real test images' (MNIST:
  0.13, a black background). G's sigmoid starts every image at sigmoid(``gen_out_bias``), mid-grey
  at the default 0; a teacher that normalizes by its training statistics (batch norm) may read a
  grey background as far from anything it saw.

``--student cnn_id,same`` also trains a student of the teacher's own architecture (fresh weights,
the same recipe as CNN_ID: 10 epochs, at least 1,500 steps, hard labels; column ``same-arch %``):
whether what a teacher's visualizations carry is there for a student that can represent the
teacher's decision rule, when a student of another architecture learns little from them. A zoo architecture's name
in ``--students`` (``--students cnn_id,elu_avg,mlp``) trains a fresh network of that architecture with the same
recipe on every row's visualizations, whoever the teacher (table "Students of the zoo's architectures"): our teacher's
architecture is CNN_ID's, so this tells what a teacher's visualizations are worth from what a student's match with
the teacher is worth.
``--soft-tau 4`` also trains CNN_ID on the teacher's softmax (recorded with every visualization) distilled at
temperature 4 (column ``soft %``): whether the teacher's outputs on its visualizations carry what their argmax
does not. ``--blend`` runs each teacher with each listed ``SynthesisConfig.blend`` (rows ``name+blend<r>``;
students learn from the visualizations and the blends). ``--sets N`` synthesizes N sets (seeds
0..N-1) per row and reports students as mean ± std over the sets (one student seed per set; the
diagnostics are measured on the first set). ``--jitter`` runs each teacher at each listed
``SynthesisConfig.jitter`` (rows ``name+j<k>``: every AM step shifts each visualization by up to k
pixels, transformation robustness); ``--objective log_softmax`` runs AM on log p(target) instead of
the raw logit (rows ``name+logsoftmax``: other classes pushed down, not every logit up). ``--probe`` adds
that many probes per example of the set (rows ``name+probe<r>``; synthesis/probe.py, as data-free distillation
explores: three rounds, each training a CNN_ID round student on the set so far, moving points of the set by
10 Adam steps of ascent on KL(teacher || student) at ``--probe-step`` of the [0, 1] range, rows ``+ps<s>`` off
the default, and letting the teacher label where they end); students learn from visualizations and probes.
``--settle`` runs each teacher at each listed ``SynthesisConfig.settle_steps`` (rows ``name+s<k>``: each visualization
goes on being optimized, priors included, for k AM steps after it first passes T, and is kept at the first step
after that where it still passes; DeepInversion's long optimization instead of the paper's first pass).
``--value-prior`` runs each teacher at each listed ``SynthesisConfig.value_prior`` (rows ``name+vp<w>``;
``objectives.value_prior``: the root mean square over pixels of (x - mean) / std, with the per-pixel mean and
standard deviation of the teacher's training digits, the deviation held at least 0.1; subtracted from the step
objective with this weight; the engine takes the statistics from the training digits passed as ``real``): whether asking for pixels where the data has them (a black border, strokes in the
middle) gives a teacher that pools over positions digits instead of texture. Column ``value dist vis / real``: that
distance on the accepted visualizations and on real test digits. The JSON also holds each row's
CNN_ID accuracy per class (``student_per_class``, mean over sets), printed below the table: where a gap between
teachers sits.

``--offset`` adds that many offsets per example of the set (rows ``name+off<r>``; synthesis/offset.py: an example
with one constant of up to 0.3 of [0, 1] added to every pixel, clamped, labelled by the teacher), so a student also
sees the teacher's answers at other brightness levels than AM's; students learn from visualizations and offsets.
``--lr`` runs every teacher at each listed ``SynthesisConfig.lr`` (rows ``name+lr<v>``: Adam's rate on G's weights
during AM, 0.01 by default).

``--gen-out-bias`` runs every teacher at each listed ``SynthesisConfig.gen_out_bias`` (rows
``name+b<v>``; -2 starts G at sigmoid(-2) = 0.12, about MNIST's mean). ``--gen-start neutral`` (rows ``name+neutral``)
starts G instead at the flat image the teacher considers least any class (``synthesis/start.py``; the level is in
the JSON's ``synthesis.gen_start``); ``--gen-start auto`` (rows ``name+auto``), the library's default, does so only
for a teacher sure of the grey start that gives no class a majority on the neutral image. Rows without a suffix start at the paper's grey (``BASELINE``). ``--bn-prior`` runs every teacher with batch norm at each listed weight of ``SynthesisConfig.bn_prior``
(rows ``name+bn<w>``); a teacher without batch norm runs once. ``--threshold`` likewise runs each
teacher at each listed T (rows ``name+T<t>``): whether T is reachable for a teacher whose softmax is
less confident than ours. ``--plan count,yield`` runs each teacher with each way the engine plans the
generators a class needs (``SynthesisConfig.plan``; rows ``name+count`` for the engine up to 0.4.1).
Trained teachers are cached in
``<cache>/bench/zoo/`` (state_dicts, keyed by architecture and epochs), so a second run, or another
weight, synthesizes at once.

Results: ``results/teacher_zoo.json`` (written after each architecture; rows of an earlier run of the
same setup into the same file are kept) and a table in ``.txt``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.common import PAPER_GROUPS, STUDENT, student_accuracy
from vistransfer.config import GEN_STARTS, PLANS, SynthesisConfig, TrainConfig, to_dict
from vistransfer.data import load_dataset
from vistransfer.errors import VistransferError
from vistransfer.evaluation import evaluate_predictions, mean_std
from vistransfer.io import cache_dir, load_torch, resolve_device, save_torch, versions, write_json, write_text
from vistransfer.models.nets import TEACHER_ARCH, ConvNet
from vistransfer.models.spec import InputSpec
from vistransfer.models.train import fit_network, predict_logits
from vistransfer.pipeline import probe_fitter
from vistransfer.presets import teacher_preset
from vistransfer.students.neural import NeuralStudent
from vistransfer.synthesis.blend import add_blends
from vistransfer.synthesis.dataset import SyntheticDataset
from vistransfer.synthesis.engine import synthesize
from vistransfer.synthesis.objectives import AM_OBJECTIVES, Batch, value_prior, value_statistics
from vistransfer.synthesis.offset import add_offsets
from vistransfer.synthesis.probe import add_probes


def flat_counterpart(x: torch.Tensor) -> torch.Tensor:
    """x (A, C, *spatial) with every value replaced by its image's mean over positions, per channel: the
    featureless input at the same level."""
    return torch.ones_like(x) * x.mean(dim=tuple(range(2, x.dim())), keepdim=True)


def _conv3(batchnorm: bool, dilations: tuple[int, ...] = (1, 1, 1)) -> tuple[list[nn.Module], int]:
    """bn_gap's three 3x3 convolutions at full resolution, with or without batch norm. With dilations d1, d2, d3 a
    unit sees 1 + 2 (d1 + d2 + d3) pixels across (7 undilated, 15 with 1, 2, 4; ours, 5x5 with pooling: 16)."""
    layers, c = [], 1
    for w, d in zip((32, 64, 64), dilations, strict=True):
        layers += [nn.Conv2d(c, w, 3, padding=d, dilation=d)] + ([nn.BatchNorm2d(w)] if batchnorm else []) + [nn.ReLU()]
        c = w
    return layers, c


def _conv3_gap(batchnorm: bool) -> nn.Module:  # the teacher (with batch norm, bn_gap) or it without (gap)
    layers, c = _conv3(batchnorm)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10))


def _bn_flat(dilations: tuple[int, ...] = (1, 1, 1)) -> nn.Module:  # bn_gap's body, a linear layer over every position
    layers, c = _conv3(batchnorm=True, dilations=dilations)
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * 28 * 28, 10))


def _vgg_bn() -> nn.Module:  # deeper: 6 conv-BN-ReLU in 3 blocks with max pooling, GAP, linear
    layers, c = [], 1
    for w in (32, 64, 128):
        layers += [
            nn.Conv2d(c, w, 3, padding=1),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=1),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ]
        c = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10))


def _elu_avg() -> nn.Module:  # other activation and pooling, no batch norm: the built-in layout with ELU and average pooling
    return ConvNet((1, 28, 28), 10, replace(TEACHER_ARCH, act="elu", pool="avg"))


def _mlp() -> nn.Module:  # no convolutions at all
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


ARCHS = {
    "builtin": (lambda: ConvNet((1, 28, 28), 10, TEACHER_ARCH), "our MNIST teacher: conv5-pool-conv5-pool-fc128 (16/32)"),
    "bn_gap": (lambda: _conv3_gap(batchnorm=True), "3x conv3-BN-ReLU (32/64/64), global average pooling, linear"),
    "gap": (lambda: _conv3_gap(batchnorm=False), "bn_gap without batch norm: 3x conv3-ReLU (32/64/64), global average pooling, linear"),
    "bn_flat": (_bn_flat, "bn_gap with a linear layer over all positions instead of global average pooling"),
    "bn_flat_dil": (
        lambda: _bn_flat(dilations=(1, 2, 4)),
        "bn_flat with dilations 1, 2, 4: a unit sees 15x15 pixels instead of 7x7, nothing else changed",
    ),
    "builtin_bn": (
        lambda: ConvNet((1, 28, 28), 10, replace(TEACHER_ARCH, batchnorm=True)),
        "our MNIST teacher with batch norm after each convolution",
    ),
    "vgg_bn": (_vgg_bn, "6x conv3-BN-ReLU in 3 max-pooled blocks (32/64/128), global average pooling"),
    "elu_avg": (_elu_avg, "the built-in layout with ELU and average pooling"),
    "mlp": (_mlp, "MLP 784-256-128-10, ReLU"),
}


def first_bn_shift(net: nn.Module, x: torch.Tensor, device) -> float | None:
    """Mean over channels of |batch mean - running mean| / running std at the first BatchNorm2d's input."""
    bn = next((m for m in net.modules() if isinstance(m, nn.BatchNorm2d)), None)
    if bn is None:
        return None
    seen = []
    h = bn.register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach().mean(dim=(0, 2, 3))))
    try:
        with torch.no_grad():
            net.eval()(x.to(device))
    finally:
        h.remove()
    return float(((seen[0] - bn.running_mean).abs() / (bn.running_var + bn.eps).sqrt()).mean())


FLAT_STD = 0.1  # a visualization whose pixels vary less than this is featureless


def blank_verdicts(net: nn.Module, dev) -> dict:
    """{"black": [class, softmax], "white": [...]}: what the teacher says on featureless images."""
    with torch.no_grad():
        p = net.eval()(torch.stack([torch.zeros(1, 28, 28), torch.ones(1, 28, 28)]).to(dev)).softmax(1).cpu()
    return {k: [int(p[i].argmax()), float(p[i].max())] for i, k in enumerate(("black", "white"))}


def flat_keeps(net: nn.Module, x: torch.Tensor, y: torch.Tensor, dev) -> list[float]:
    """Per class c, the share of images x (N, 1, 28, 28) of class y == c that the teacher still calls c once every
    pixel is replaced by the image's mean (its flat counterpart, objectives.LevelPrior's): whether the class is
    in the brightness alone. NaN for a class without images."""
    same = predict_logits(net, flat_counterpart(x), dev).argmax(1).cpu() == y.cpu()
    return [float(same[y == c].float().mean()) if (y == c).any() else float("nan") for c in range(10)]


def layout_free(net: nn.Module, x: torch.Tensor, y: torch.Tensor, dev, patch: int = 7) -> float:
    """Share of images x (N, 1, 28, 28) still called y by the teacher after their patch x patch tiles are
    shuffled (one seeded random permutation per image; about one tile in 16 stays put, as the figures
    committed so far were measured; a shuffle that moves every tile)."""
    n, g = len(x), x.shape[-1] // patch
    tiles = x.unfold(2, patch, patch).unfold(3, patch, patch).reshape(n, 1, g * g, patch, patch)
    gen = torch.Generator().manual_seed(0)
    perm = torch.stack([torch.roll(torch.randperm(g * g, generator=gen), 1) for _ in range(n)])
    shuffled = tiles[torch.arange(n)[:, None], :, perm].transpose(1, 2)  # (N, 1, g*g, p, p)
    img = shuffled.reshape(n, 1, g, g, patch, patch).permute(0, 1, 2, 4, 3, 5).reshape(n, 1, g * patch, g * patch)
    return float((predict_logits(net, img, dev).argmax(1).cpu() == y.cpu()).float().mean())


def diversity(x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean over classes of the mean RMS pixel difference between two different images of that class."""
    per_class = []
    for c in torch.unique(y):
        xc = x[y == c].flatten(1).float()
        if len(xc) < 2:
            continue
        d = torch.cdist(xc, xc) / xc.shape[1] ** 0.5
        per_class.append(float(d.sum() / (len(xc) * (len(xc) - 1))))
    return sum(per_class) / len(per_class)


def trained(name: str, train, epochs: int, dev) -> tuple[nn.Module, float]:
    """The architecture trained on MNIST (seed 0), from the cache when it was trained before; and the seconds it took."""
    path = cache_dir() / "bench" / "zoo" / f"{name}-e{epochs}.pt"
    torch.manual_seed(0)
    net = ARCHS[name][0]()
    if path.is_file():
        blob = load_torch(path, "teacher_zoo teacher")
        net.load_state_dict(blob["state_dict"])
        return net.eval(), blob["train_seconds"]
    t0 = time.perf_counter()
    cfg = replace(teacher_preset("mnist"), epochs=epochs)
    fit_network(net, train.x, F.one_hot(train.y, 10).float(), cfg, dev, progress=False, desc=f"teach {name}")
    seconds = time.perf_counter() - t0
    save_torch(path, {"artifact": "teacher_zoo teacher", "state_dict": net.state_dict(), "train_seconds": seconds})
    return net.eval(), seconds


def arch_predictions(name: str, x: torch.Tensor, target: torch.Tensor, test, dev, seed: int = 0) -> torch.Tensor:
    """The real test set's predicted classes (N,) by a fresh network of the zoo architecture ``name`` (the teacher's
    own, or another's) trained on (x, target) with the CNN_ID students' recipe (benchmarks.common.STUDENT; hard
    labels; the students' default batch and rate)."""
    torch.manual_seed(seed)
    net = ARCHS[name][0]()
    recipe = NeuralStudent(**STUDENT)  # CNN_ID's options: the experiments' epochs and steps, its batch and rate
    cfg = TrainConfig(epochs=recipe.epochs, min_steps=recipe.min_steps, batch_size=recipe.batch_size, lr=recipe.lr, seed=seed)
    fit_network(net, x, F.one_hot(target, 10).float(), cfg, dev, progress=False, desc=f"student {name}")
    return predict_logits(net.eval(), test.x, dev).argmax(1).cpu()


def arch_accuracy(name: str, x: torch.Tensor, target: torch.Tensor, test, dev, seed: int = 0) -> float:
    """Real-test accuracy of ``arch_predictions``' student."""
    return float((arch_predictions(name, x, target, test, dev, seed) == test.y).float().mean())


SPEC = InputSpec((1, 28, 28))  # every zoo teacher's input: one MNIST digit, values in [0, 1]


def with_extensions(net: nn.Module, out: dict, cfg: SynthesisConfig, classes: list[str], dev) -> tuple[torch.Tensor, ...]:
    """The engine's visualizations followed by ``cfg.blend`` blends each (synthesis/blend.py), ``cfg.offset`` offsets
    per example of that set (synthesis/offset.py: brightness moved by up to ``cfg.offset_scale`` of [0, 1]), then ``cfg.probe``
    probes per example of that set (synthesis/probe.py: ``cfg.probe_rounds`` rounds against the round students
    that ``pipeline.probe_fitter`` makes for a teacher handed over, CNN_ID with the final students' recipe STUDENT,
    steps of ``cfg.probe_step_size`` of the [0, 1] domain), as (x, hard labels, the teacher's softmax, the probes'
    record: per round, the share of probes on which that round's student disagreed with the teacher)."""
    ds = SyntheticDataset.from_tensors(out, classes, {})
    ds = add_blends(ds, net, cfg.blend, cfg.seed, dev)
    ds = add_offsets(ds, net, cfg.offset, cfg.offset_scale, SPEC.low, SPEC.high, cfg.seed, dev)
    if cfg.probe > 0:
        print(f"  probes: {round(cfg.probe * len(ds))} in {cfg.probe_rounds} rounds of CNN_ID students ...", file=sys.stderr, flush=True)
        fit = probe_fitter(SPEC, cfg, dev, student_options=STUDENT)
        ds = add_probes(
            ds,
            net,
            fit,
            labels="soft",
            ratio=cfg.probe,
            rounds=cfg.probe_rounds,
            low=SPEC.low,
            high=SPEC.high,
            seed=cfg.seed,
            steps=cfg.probe_steps,
            step_size=cfg.probe_step_size,
            device=dev,
        )
    return ds.x, ds.target, ds.probs, ds.meta.get("probes")


# The SynthesisConfig fields a row varies, in the order of its name's suffixes, each with its suffix when the value is
# not SynthesisConfig's default (bn_gap+bn10+T0.7+g1). ``blend``, ``offset`` and ``probe`` are applied here (with_extensions),
# not by the engine.
AXES = (
    ("bn_prior", lambda v: f"+bn{v:g}"),
    ("threshold", lambda v: f"+T{v:g}"),
    ("gen_out_bias", lambda v: f"+b{v:g}"),
    ("blend", lambda v: f"+blend{v:g}"),
    ("jitter", lambda v: f"+j{v}"),
    ("objective", lambda v: "+" + v.replace("_", "")),
    ("group_size", lambda v: f"+g{v}"),
    ("gen_downscale", lambda v: f"+ds{v}"),
    ("plan", lambda v: f"+{v}"),
    ("probe", lambda v: f"+probe{v:g}"),
    ("probe_step_size", lambda v: f"+ps{v:g}"),
    ("settle_steps", lambda v: f"+s{v}"),
    ("value_prior", lambda v: f"+vp{v:g}"),
    ("gen_start", lambda v: f"+{v}"),
    ("offset", lambda v: f"+off{v:g}"),
    ("lr", lambda v: f"+lr{v:g}"),
)


# Where this benchmark's rows differ from SynthesisConfig's defaults: rows without a suffix start G at the paper's grey
# (the library's default up to 0.5.0, which made the committed rows); "auto", the default now, is ``name+auto``.
BASELINE = {"gen_start": "bias"}


def row_name(name: str, axes: dict) -> str:
    """The architecture's name and a suffix for every field of ``axes`` off the baseline (SynthesisConfig's default
    but for :data:`BASELINE`)."""
    return name + "".join(suffix(axes[k]) for k, suffix in AXES if axes[k] != BASELINE.get(k, getattr(SynthesisConfig, k)))


_SETS: dict = {}  # this run's sets by teacher and engine settings: rows that differ in blends, offsets or probes alone share them


def synthesized(name: str, net: nn.Module, cfg: SynthesisConfig, dev, train) -> tuple[dict, dict]:
    """The engine's output for ``cfg``, made once per run: blends, offsets and probes are added after it, so rows that
    differ only in those learn from the very same visualizations (and the comparison holds the set fixed).
    ``train``: the teacher's training digits, whose statistics the priors on values take."""
    key = (name, repr(replace(cfg.am_only(), probe=0.0, probe_step_size=SynthesisConfig.probe_step_size)))
    if key not in _SETS:
        real = (train.x, train.y) if cfg.real_uses else None
        _SETS[key] = synthesize(net, cfg, SPEC, 10, dev, real=real, progress=False)
    return _SETS[key]


def value_distance(x: torch.Tensor, value: tuple) -> float:
    """The mean over images of the value prior's distance (objectives.value_prior) from the training digits' statistics."""
    return float(value_prior(*value)(Batch(None, None, None, None, x.float())).mean())


def run_arch(name: str, train, test, args, dev, axes: dict, row: str = "") -> dict:
    """One row: ``axes`` holds a value for every field of AXES."""
    net, seconds = trained(name, train, args.epochs, dev)
    value = value_statistics(train.x, SPEC.low, SPEC.high)  # the value prior's statistics, for its distance column
    logits = predict_logits(net, test.x, dev)
    probs = logits.softmax(1)
    top2 = logits.topk(2, dim=1).values
    # as many visualizations in flight at every group size (PAPER_GROUPS' 32 slots x 9), so rows differ in grouping alone
    in_flight = PAPER_GROUPS["slots"] * PAPER_GROUPS["group_size"]
    syn_cfg = SynthesisConfig(n=args.n, seed=0, slots=max(1, in_flight // axes["group_size"]), **axes)
    rec = {
        "arch": name,
        "what": ARCHS[name][1],
        **axes,
        "sets": args.sets,
        "train_seconds": seconds,
        "level_real": float(test.x.mean()),
        "test_accuracy": float((logits.argmax(1) == test.y).float().mean()),
        "real_above_T": float((probs.max(1).values > syn_cfg.threshold).float().mean()),
        "logit_margin_real": float((top2[:, 0] - top2[:, 1]).median()),
        "bn_shift_real": first_bn_shift(net, test.x[:2000], dev),
        "blank": blank_verdicts(net, dev),
        "layout_free_real": layout_free(net, test.x[:2000], logits[:2000].argmax(1), dev),
        "flat_keeps_real": flat_keeps(net, test.x, test.y, dev),
        "level_per_class_real": [float(test.x[test.y == c].mean()) for c in range(10)],
        "diversity_real": diversity(test.x[:2000], test.y[:2000]),
        "value_distance_real": value_distance(test.x[:2000], value),
    }
    print(f"[{name}] teacher {100 * rec['test_accuracy']:.2f}%; synthesizing {args.n} ...", file=sys.stderr, flush=True)
    try:
        out, stats = synthesized(name, net, syn_cfg, dev, train)
    except VistransferError as e:
        rec["synthesis_error"] = str(e)
        return rec
    rec["synthesis"] = {
        k: stats[k]
        for k in (
            "wall_s",
            "vis_per_s",
            "teacher_passes_per_vis",
            "groups_started",
            "groups_discarded",
            "discarded",
            "over_quota",
            "discarded_work_fraction",
        )
    }
    rec["synthesis"]["gen_start"] = stats.get("gen_start")  # G's starting level
    rec["bn_shift"] = first_bn_shift(net, out["x"][:2000], dev)
    rec["level"] = float(out["x"].mean())
    rec["layout_free"] = layout_free(net, out["x"], out["target"], dev)
    rec["flat_keeps"] = flat_keeps(net, out["x"], out["target"], dev)
    rec["level_per_class"] = [float(out["x"][out["target"] == c].mean()) for c in range(10)]
    rec["diversity"] = diversity(out["x"], out["target"])
    rec["value_distance"] = value_distance(out["x"], value)
    structured = out["x"].flatten(1).std(1) >= FLAT_STD
    rec["flat_share"] = float(1 - structured.float().mean())
    if rec["flat_share"] > 0:
        rec["student_structured"] = student_accuracy([(out["x"][structured], out["target"][structured])], test, [0], dev)["mean"]
    if args.grids:  # what the student learns from, one row per digit
        from vistransfer.viz import class_grid

        grid = Path(args.grids) / f"teacher_zoo_{row}.png"
        class_grid(out["x"], out["target"], test.classes, grid, per_class=8)
        rec["grid"] = grid.name
    same = "same" in args.students and name != "builtin"  # the built-in teacher's own architecture is CNN_ID's
    others = [s for s in args.students if s in ARCHS]  # students of the zoo's architectures, whoever the teacher
    cnn, own, own_per_class, soft, per_class, cross = [], [], [], [], [], {s: [] for s in others}
    for seed in range(args.sets):
        if seed:  # further sets: the same settings, another synthesis seed
            print(f"[{name}] set {seed + 1} of {args.sets} ...", file=sys.stderr, flush=True)
            out, _ = synthesized(name, net, replace(syn_cfg, seed=seed), dev, train)
        x, t, p, probed = with_extensions(net, out, replace(syn_cfg, seed=seed), test.classes, dev)
        if probed:
            rec.setdefault("probes_per_set", []).append(probed)
        print(f"[{name}] students on {len(x)} examples ...", file=sys.stderr, flush=True)
        if "cnn_id" in args.students:
            learned = student_accuracy([(x, t)], test, [0], dev)
            cnn.append(learned["mean"])
            per_class.append(learned["per_class"])
        if args.soft_tau:
            soft.append(student_accuracy([(x, p)], test, [0], dev, temperature=args.soft_tau)["mean"])
        if same:
            scored = evaluate_predictions(arch_predictions(name, x, t, test, dev).numpy(), test)
            own.append(scored["accuracy"])
            own_per_class.append(scored["per_class_accuracy"])
        for student in others:  # the teacher's own architecture, when also asked for as "same", is trained once
            cross[student].append(own[-1] if same and student == name else arch_accuracy(student, x, t, test, dev))
    if cnn:
        rec["student_accuracy"], rec["student_per_set"] = mean_std(cnn)["mean"], cnn
        rec["student_per_class"] = _class_means(per_class)
    if soft:
        rec["soft_tau"], rec["student_soft"], rec["student_soft_per_set"] = args.soft_tau, mean_std(soft)["mean"], soft
    if own:
        rec["student_same_arch"], rec["student_same_arch_per_set"] = mean_std(own)["mean"], own
        rec["student_same_arch_per_class"] = _class_means(own_per_class)
    if cross:
        rec["student_archs"] = cross  # per student architecture, its accuracy per set
    return rec


def _class_means(per_set: list[dict[str, float]]) -> dict[str, float]:
    """Each class's accuracy, mean over sets, from one {class: accuracy} per set."""
    return {c: mean_std([p[c] for p in per_set])["mean"] for c in per_set[0]}


def _pm(values: list[float] | None) -> str:
    """Mean ± std in percent over sets, or one value; "-" when not measured."""
    if not values:
        return "-"
    m = mean_std(values)
    return f"{100 * m['mean']:.2f}" + (f" ± {100 * m['std']:.2f}" if len(values) > 1 else "")


def report(r: dict) -> str:
    lines = [
        f"device {r['device']} ({r['threads']} threads); {r['n']} visualizations per teacher, default synthesis "
        f"settings; teachers: {r['epochs']} epochs of Adam on MNIST",
        f"{'teacher':14}{'test %':>8}{'vis/s':>8}{'passes/vis':>12}{'groups over budget':>20}{'student %':>16}{'same-arch %':>16}"
        f"{'soft %':>16}"
        f"{'real > T':>10}{'logit margin':>14}{'BN shift vis / real':>21}{'level vis / real':>18}"
        f"{'blank black / white':>22}{'flat vis':>10}{'student w/o flat %':>20}{'layout-free vis / real':>24}"
        f"{'diversity vis / real':>22}{'value dist vis / real':>23}",
    ]
    for a in r["archs"].values():
        s = a.get("synthesis")
        bn = "-" if a.get("bn_shift_real") is None else f"{a.get('bn_shift', float('nan')):.2f} / {a['bn_shift_real']:.2f}"
        level = f"{a['level']:.2f} / {a['level_real']:.2f}" if "level" in a else "-"  # rows measured before it was recorded
        blank = " / ".join(f"{c} ({p:.2f})" for c, p in a["blank"].values()) if "blank" in a else "-"
        flat = f"{100 * a['flat_share']:.1f}%" if "flat_share" in a else "-"
        structured = f"{100 * a['student_structured']:.2f}" if "student_structured" in a else "-"
        free = f"{100 * a['layout_free']:.0f}% / {100 * a['layout_free_real']:.0f}%" if "layout_free" in a else "-"
        spread = f"{a['diversity']:.2f} / {a['diversity_real']:.2f}" if "diversity" in a else "-"
        vdist = f"{a['value_distance']:.2f} / {a['value_distance_real']:.2f}" if "value_distance" in a else "-"
        if s is None:
            lines.append(f"{a.get('row', a['arch']):14}{100 * a['test_accuracy']:>8.2f}  synthesis failed: {a['synthesis_error'][:90]}")
            continue
        lines.append(
            f"{a.get('row', a['arch']):14}{100 * a['test_accuracy']:>8.2f}{s['vis_per_s']:>8.1f}{s['teacher_passes_per_vis']:>12.1f}"
            f"{s['groups_discarded']:>10} of {s['groups_started']:<7}"
            f"{_pm(a.get('student_per_set', [a['student_accuracy']] if 'student_accuracy' in a else None)):>16}"
            f"{_pm(a.get('student_same_arch_per_set')):>16}{_pm(a.get('student_soft_per_set')):>16}"
            f"{100 * a['real_above_T']:>9.1f}%{a['logit_margin_real']:>14.1f}{bn:>21}{level:>18}{blank:>22}{flat:>10}{structured:>20}{free:>24}{spread:>22}{vdist:>23}"
        )
    classes = [a for a in r["archs"].values() if "student_per_class" in a]
    if classes:  # where the students' accuracy goes, class by class
        names = list(classes[0]["student_per_class"])
        lines += ["", "CNN_ID accuracy per class on the real test set (%, mean over sets)", f"{'teacher':14}" + "".join(f"{c:>7}" for c in names)]
        lines += [f"{a.get('row', a['arch']):14}" + "".join(f"{100 * a['student_per_class'][c]:>7.1f}" for c in names) for a in classes]
    flats = [a for a in r["archs"].values() if "flat_keeps" in a]
    if flats:  # the class in the brightness alone, and the brightness, of real digits and of the visualizations
        lines += [
            "",
            "Images whose flat counterpart (every pixel at the image's mean) the teacher gives their class, "
            "and their mean pixel, per class: real test digits / the first set's visualizations",
            f"{'teacher':14}" + "".join(f"{c:>14}" for c in range(10)),
        ]
        for a in flats:
            lines.append(
                f"{a.get('row', a['arch']) + ' flat %':14}"
                + "".join(f"{100 * p:>6.0f} / {100 * q:<5.0f}" for p, q in zip(a["flat_keeps_real"], a["flat_keeps"]))
            )
            lines.append(f"{'  level':14}" + "".join(f"{p:>6.2f} / {q:<5.2f}" for p, q in zip(a["level_per_class_real"], a["level_per_class"])))
    crossed = [a for a in r["archs"].values() if a.get("student_archs")]
    if crossed:  # one student architecture against every teacher: what is the teacher's, what the match's
        names = list(dict.fromkeys(s for a in crossed for s in a["student_archs"]))
        lines += [
            "",
            "Students of the zoo's architectures on the real test set (%, mean ± std over sets)",
            f"{'teacher':14}" + "".join(f"{s:>16}" for s in names),
        ]
        lines += [f"{a.get('row', a['arch']):14}" + "".join(f"{_pm(a['student_archs'].get(s)):>16}" for s in names) for a in crossed]
    return "\n".join(lines)


def arch_names(option: str) -> list[str]:
    """``--archs``' comma-separated names, each an architecture of the zoo (else exit naming the choices)."""
    names = _values(option, str)
    if not names or set(names) - set(ARCHS):
        raise SystemExit(f"--archs {option!r}: choose from {', '.join(ARCHS)}")
    return names


def zoo_data(data_dir: str | None) -> tuple:
    """MNIST's train and test splits, on which the zoo's teachers are trained and scored."""
    return load_dataset("mnist", "train", data_dir), load_dataset("mnist", "test", data_dir)


def _values(option: str, kind=float) -> list:
    """A comma-separated option's values ("0,1" -> [0.0, 1.0])."""
    return [kind(v) for v in option.split(",") if v]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archs", default=",".join(ARCHS), help=f"comma-separated, from {', '.join(ARCHS)}")
    ap.add_argument("--n", type=int, default=2000, help="visualizations per teacher")
    ap.add_argument("--epochs", type=int, default=2, help="teacher training epochs")
    ap.add_argument("--bn-prior", default="0", help="comma-separated weights of the batch-norm prior, each run for every teacher")
    ap.add_argument("--threshold", default="0.99", help="comma-separated thresholds T, each run for every teacher (0.99: the default)")
    ap.add_argument("--gen-out-bias", default="0", help="comma-separated values of G's initial output bias, each run for every teacher")
    ap.add_argument("--blend", default="0", help="comma-separated blend ratios (SynthesisConfig.blend), each run for every teacher")
    ap.add_argument(
        "--offset",
        default="0",
        help="comma-separated SynthesisConfig.offset values (offsets per example of "
        f"the set: its brightness moved by one constant of up to {SynthesisConfig.offset_scale:g} of [0, 1], "
        "labelled by the teacher; synthesis/offset.py), each run for every teacher",
    )
    ap.add_argument(
        "--lr",
        default=str(SynthesisConfig.lr),
        help="comma-separated SynthesisConfig.lr values (Adam's rate "
        f"of AM on G's weights; {SynthesisConfig.lr:g}: the default), each run for every teacher",
    )
    ap.add_argument("--jitter", default="0", help="comma-separated shifts (SynthesisConfig.jitter, pixels), each run for every teacher")
    ap.add_argument(
        "--objective",
        default="logit",
        help="comma-separated AM objectives (SynthesisConfig.objective: logit, log_softmax), each run for every teacher",
    )
    ap.add_argument(
        "--group-size",
        default=str(SynthesisConfig.group_size),
        help="comma-separated SynthesisConfig.group_size "
        "values (visualizations per generator; 1: the default and Table 1's, 9: Appendix C's), each run for every teacher",
    )
    ap.add_argument(
        "--gen-downscale",
        default=str(SynthesisConfig.gen_downscale),
        help="comma-separated "
        "SynthesisConfig.gen_downscale values (G draws at 1/k of the resolution, interpolated up: a band limit "
        "on what AM can draw; 1: the default), each run for every teacher",
    )
    ap.add_argument(
        "--plan",
        default=SynthesisConfig.plan,
        help="comma-separated SynthesisConfig.plan values (yield: the default; count: the engine up to 0.4.1), each run for every teacher",
    )
    ap.add_argument(
        "--probe",
        default="0",
        help="comma-separated SynthesisConfig.probe values (probes per example of the "
        "set, found in 3 rounds against CNN_ID students; synthesis/probe.py), each run for every teacher",
    )
    ap.add_argument(
        "--probe-step",
        default=str(SynthesisConfig.probe_step_size),
        help="comma-separated SynthesisConfig.probe_step_size values (Adam's rate as a share of [0, 1]), each run for every teacher with probes",
    )
    ap.add_argument(
        "--settle",
        default="0",
        help="comma-separated SynthesisConfig.settle_steps values (AM steps each "
        "visualization goes on being optimized, priors included, after it first passes T), each run for every teacher",
    )
    ap.add_argument(
        "--value-prior",
        default="0",
        help="comma-separated SynthesisConfig.value_prior weights (the training "
        "digits' per-pixel mean and std; objectives.value_prior), each run for every teacher",
    )
    ap.add_argument(
        "--gen-start",
        default=BASELINE["gen_start"],
        help="comma-separated SynthesisConfig.gen_start "
        "values (bias, this benchmark's baseline: G starts at sigmoid(--gen-out-bias), mid-grey by default; "
        "neutral: at the flat image the teacher considers least any class, synthesis/start.py; auto, the "
        "library's default: neutral for a teacher sure of the bias start that gives no class a majority on the neutral one), each "
        "run for every teacher",
    )
    ap.add_argument(
        "--students",
        default="cnn_id",
        help="comma-separated, from cnn_id (the built-in student), same "
        "(a fresh network of the teacher's architecture) and the zoo's architectures (a fresh network of "
        "that one, whoever the teacher; table 'Students of the zoo's architectures')",
    )
    ap.add_argument(
        "--soft-tau", type=float, default=None, help="also train CNN_ID on the teacher's softmax at this temperature (column 'soft %%'; e.g. 4)"
    )
    ap.add_argument("--sets", type=int, default=1, help="synthesis sets per row (seeds 0..N-1); students are reported over them")
    ap.add_argument("--grids", default=None, help="folder for a grid of each row's visualizations (teacher_zoo_<row>.png)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "teacher_zoo.json"))
    args = ap.parse_args(argv)
    names = arch_names(args.archs)
    args.students = _values(args.students, str)
    if not args.students or set(args.students) - {"cnn_id", "same", *ARCHS}:
        raise SystemExit(f"--students {','.join(args.students)!r}: choose from cnn_id, same, {', '.join(ARCHS)}")
    if args.soft_tau is not None and args.soft_tau <= 0:
        raise SystemExit(f"--soft-tau must be positive, got {args.soft_tau}")
    if args.sets < 1:
        raise SystemExit(f"--sets must be at least 1, got {args.sets}")
    weights, thresholds, biases, blends = (_values(v) for v in (args.bn_prior, args.threshold, args.gen_out_bias, args.blend))
    jitters = _values(args.jitter, int)
    objectives, groups, downscales = _values(args.objective, str), _values(args.group_size, int), _values(args.gen_downscale, int)
    plans = _values(args.plan, str)
    probes, probe_steps = _values(args.probe), _values(args.probe_step)
    settles = _values(args.settle, int)
    value_weights = _values(args.value_prior)
    starts = _values(args.gen_start, str)
    offsets, rates = _values(args.offset), _values(args.lr)
    if not rates or min(rates) <= 0:
        raise SystemExit(f"--lr {args.lr!r}: positive learning rates")
    if not offsets or min(offsets) < 0:
        raise SystemExit(f"--offset {args.offset!r}: offsets per example >= 0")
    if not starts or set(starts) - set(GEN_STARTS):
        raise SystemExit(f"--gen-start {args.gen_start!r}: choose from {', '.join(GEN_STARTS)}")
    if not value_weights or min(value_weights) < 0:
        raise SystemExit(f"--value-prior {args.value_prior!r}: weights >= 0")
    if not settles or min(settles) < 0:
        raise SystemExit(f"--settle {args.settle!r}: whole numbers of steps >= 0")
    if not probes or min(probes) < 0 or not probe_steps or min(probe_steps) <= 0:
        raise SystemExit(f"--probe {args.probe!r} / --probe-step {args.probe_step!r}: non-negative ratios, positive steps")
    if not plans or set(plans) - set(PLANS):
        raise SystemExit(f"--plan {args.plan!r}: choose from {', '.join(PLANS)}")
    for option, values in (("--group-size", groups), ("--gen-downscale", downscales)):
        if not values or min(values) < 1:
            raise SystemExit(f"{option} {','.join(map(str, values))!r}: positive whole numbers")
    if not objectives or set(objectives) - set(AM_OBJECTIVES):
        raise SystemExit(f"--objective {args.objective!r}: choose from {', '.join(AM_OBJECTIVES)}")
    dev = resolve_device(args.device)
    train, test = zoo_data(args.data_dir)
    setup = {
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "n": args.n,
        "epochs": args.epochs,
        # gen_start is a row axis (named in each row), and files from before it was recorded lack it
        "synthesis_config": {k: v for k, v in to_dict(SynthesisConfig(n=args.n, seed=0)).items() if k != "gen_start"},
    }
    out = Path(args.out)
    old = json.loads(out.read_text()) if out.is_file() else {}
    # rows of an earlier run of the same setup stay (a re-run of a row replaces it); another setup starts afresh
    results = {**setup, "versions": versions(), "archs": old.get("archs", {}) if all(old.get(k) == v for k, v in setup.items()) else {}}
    for name in names:
        has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in ARCHS[name][0]().modules())
        runs = weights if has_bn else [0.0]  # without batch norm the prior does nothing: one run, labelled as such
        for combo in itertools.product(
            runs,
            thresholds,
            biases,
            blends,
            jitters,
            objectives,
            groups,
            downscales,
            plans,
            probes,
            probe_steps,
            settles,
            value_weights,
            starts,
            offsets,
            rates,
        ):
            axes = dict(zip((k for k, _ in AXES), combo))
            if axes["probe"] == 0:
                if axes["probe_step_size"] != probe_steps[0]:
                    continue  # without probes their step changes nothing: one run
                axes["probe_step_size"] = SynthesisConfig.probe_step_size
            if axes["gen_start"] == "neutral":
                if axes["gen_out_bias"] != biases[0]:
                    continue  # a neutral start sets G's output bias itself: one run
                axes["gen_out_bias"] = SynthesisConfig.gen_out_bias
            row = row_name(name, axes)
            results["archs"][row] = {"row": row, **run_arch(name, train, test, args, dev, axes, row)}
            write_json(args.out, results)  # each architecture survives an interruption of the next
    text = report(results)
    write_text(Path(args.out).with_suffix(".txt"), text + "\n")
    print(text)


if __name__ == "__main__":
    main()
