"""Typed, validated configuration for every stage.

Configs are frozen dataclasses checked once when built (from CLI options or a TOML
file) and then passed down unchanged. Each synthesis field names the paper section it
implements; ``vistransfer synthesize --help`` and the README list them too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from .errors import VistransferError

MOVEMENT_KINDS = ("attract_one", "repel_many", "attract_many")
RACE_MODES = ("stragglers", "all", "off")  # SynthesisConfig.race_tail
PLANS = ("yield", "count")  # SynthesisConfig.plan
GEN_UPSAMPLING = ("auto", "deconv", "resize")  # SynthesisConfig.gen_upsample, GeneratorBank's upsample
GEN_STARTS = ("auto", "bias", "neutral")  # SynthesisConfig.gen_start
BN_SCOPES = ("image", "batch")  # SynthesisConfig.bn_prior_scope, BatchNormPrior's scope


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise VistransferError(msg)


def _range(name: str, r: tuple[float, float] | None, lo: float, hi: float, open_: bool) -> None:
    if r is None:
        return
    _check(len(r) == 2 and r[0] <= r[1], f"{name} must be [low, high] with low <= high, got {list(r)}")
    for v in r:
        ok = (lo < v < hi) if open_ else (lo <= v <= hi)
        _check(ok, f"{name} values must lie in {'(' if open_ else '['}{lo}, {hi}{')' if open_ else ']'}, got {v}")


@dataclass(frozen=True)
class SynthesisConfig:
    """Every knob of Gen{h1} (Section 3.3, 3.3.2, 4.1.2, Appendices A and C).

    Defaults are the paper's settings where the paper gives them (T = 0.99, hard labels,
    movement on), except one visualization per generator instead of Appendix C's nine (measured, below);
    the rest are our choices, with a why. ``configs/mnist-paper.toml`` holds the paper's grouping.
    """

    n: int = 1000  # visualizations to keep; target classes are balanced (n/K each)
    seed: int = 0
    # Eq. 2: stop AM once softmax[target] > T and target is the argmax.
    threshold: float = 0.99
    # Appendix A: draw T per group uniformly from this range instead (e.g. [0.90, 0.99]).
    threshold_range: tuple[float, float] | None = None
    labels: str = "hard"  # Section 3.2: "hard" (teacher argmax) or "soft" (teacher softmax)
    # Section 3.3: AM of the output-layer logit. "log_softmax" is offered as an alternative.
    objective: str = "logit"
    # Visualizations (values of Z) that share one generator theta_G. Appendix C's 9 lets a generator
    # answer its whole group with nearly one image; one per generator (Table 1's sets) taught CNN_ID
    # +17.7 points at 300 MNIST visualizations (3 sets each) and +3.4 at 6,000 (two machines), at 12% fewer teacher passes per
    # visualization and about 2.3x the wall time on 2 cores (docs/visualization-quality.md).
    group_size: int = 1
    # Section 3.3: Z is mainly uniform noise; its range is the Z-variance knob the paper discusses.
    z_dim: int = 16
    z_dist: str = "uniform"  # "uniform" on [z_low, z_high] or "normal" with std z_high
    z_low: float = -1.0
    z_high: float = 1.0
    # Section 3.3: theta_G re-initialized from a truncated normal (+-2 std) for every group.
    init_std: float = 0.1
    # sigmoid(out_bias) is G's initial output level; 0 starts every image at mid-gray.
    gen_out_bias: float = 0.0
    # Beyond the paper: where G's output starts. "bias": at sigmoid(gen_out_bias) (mid-grey, the paper's).
    # "neutral": at the flat image the teacher considers least any class (the highest-entropy softmax over
    # 49 levels in [0.02, 0.98] of the range; synthesis/start.py; gen_out_bias is then unused), found with
    # the teacher alone: a teacher that calls a grey image a class with confidence (the zoo's ELU teacher:
    # "8" at 1.00) otherwise gets that class by brightness alone and every other class started from it.
    # "auto": "neutral" for a teacher sure of the paper's start (top softmax >= 0.9) that gives no class a
    # majority on the neutral image, else "bias" (our MNIST teacher: 0.40, and every two-class teacher: bit for
    # bit the paper's start). Measured on four MNIST teachers sure of grey: +6-14 points at 300 visualizations,
    # -0.4 to +2.7 at 6,000; on Apnea-ECG a neutral start cost 6.6 (docs/visualization-quality.md).
    # Recorded in every config dict: the default was "bias" (and left out of them) up to 0.5.0, and the
    # committed tables pin it.
    gen_start: str = "auto"
    # Deconvolutional G: channels of the two upsampling stages (sigmoid output, Eq. 1's R).
    gen_channels: tuple[int, int] = (32, 16)
    # How G doubles its size: "deconv" (the paper's 4x4 stride-2 transposed convolutions), "resize"
    # (nearest x2 + 3x3 convolution, without the deconvolutions' checkerboard), or "auto": resize for
    # images, deconv for series. Measured on MNIST with hard labels (docs/visualization-quality.md):
    # resize students +8 points (one per G) and +14 (nine per G) at 6,000; on RR series the paper's
    # deconvolutions did better (one unit). The committed MNIST tables pin "deconv", which made them.
    gen_upsample: str = "auto"
    # G draws at 1/gen_downscale of the input's resolution, then interpolates linearly up to it (a band
    # limit for slow signals such as RR-interval series; 1: G draws at full resolution, the paper's).
    gen_downscale: int = 1
    # Adam learning rate of AM; per-group draws from lr_range if set (Appendix C varies it).
    lr: float = 0.01  # 0.05 saturates G's sigmoid more often: more groups miss the budget
    lr_range: tuple[float, float] | None = None
    # Section 3.3.2: pre-AM pseudo-random movement for a random number of steps in this range.
    movement: bool = True
    movement_steps: tuple[int, int] = (0, 20)
    movement_kinds: tuple[str, ...] = MOVEMENT_KINDS  # Appendix C's three kinds
    max_subset: int = 5  # the "many" in repel_many / attract_many: 2..max_subset classes
    # "member": keep each visualization the step it satisfies Eq. 2 (and stop optimizing it);
    # "group": keep a group only when all its members satisfy Eq. 2 at once (Appendix C).
    stop: str = "member"
    # Tail of a run: free slots race the groups still in flight for the last visualizations
    # (first to pass wins; the others count as over quota) instead of idling. "stragglers": one
    # racer per group slower than 9 in 10 of the run's passes so far, once 20 have passed (half of n
    # in runs under 40: up to 0.4.1 a run of 20 never raced and waited out max_steps); "all" (the engine up to
    # 0.3, `true` in older configs): any group in flight, from the first step, which makes small
    # runs cost 2-3x per visualization; "off" (`false`): free slots idle.
    race_tail: str = "stragglers"
    # How many generators a class gets started while it is short. "yield": each visualization in
    # flight counts as the share of its class's visualizations that pass T within the budget so far
    # (shrunk towards the run's share while a class has few; 1 until something misses), so a teacher
    # that often misses T gets enough generators at once instead of one round of max_steps after
    # another (those that pass once the class is full count as over quota). "count" (the engine up to
    # 0.4.1, which made the committed results; records without this field): each counts as one
    # visualization to come. The two differ only once a member misses (benchmarks/engine_plan.py).
    plan: str = "yield"
    # Step budget of AM per group; members not passing by then are discarded and counted.
    max_steps: int = 300
    # Give up (with an error naming the fix) after this many groups missed the budget;
    # None means 100 + 5 * n / group_size, and also fail at once when 90% of the first 200 finished
    # visualizations miss T (a teacher that rarely reaches T). An unreachable T must not loop forever.
    max_failed_groups: int | None = None
    # Section 4.1.2, Eq. 3: maximize the L2 distance to real class data in layer L-1.
    loss2: bool = False
    loss2_lr_ratio: float = 0.25  # the paper uses 1/3 - 1/5 of the AM rate
    loss2_batch: int = 16  # B_s real examples per step
    # DeepInversion's prior for teachers with batch norm: this weight times the distance of each
    # visualization's BN-input statistics from the teacher's running statistics is subtracted from
    # the step objective, in both phases (0: off, the paper's; no effect on a teacher without BN).
    bn_prior: float = field(default=0.0, metadata={"omit_default": True})
    # Over what the prior takes the BN inputs' statistics: "image" (each visualization's positions,
    # one distance per visualization) or "batch" (the step's visualizations and their positions
    # together, DeepInversion's form: the set must match, single visualizations may differ).
    bn_prior_scope: str = field(default="image", metadata={"omit_default": True})
    # Beyond the paper: this weight times how strongly the teacher still sees the target class once
    # each visualization's tiles are shuffled (objectives.LayoutPrior, layout_tiles per axis) is
    # subtracted from the step objective: a class must live in where the parts are, not in local
    # texture alone. One more teacher pass per step (counted in the passes). 0: off.
    layout_prior: float = field(default=0.0, metadata={"omit_default": True})
    layout_tiles: int = field(default=4, metadata={"omit_default": True})
    # Beyond the paper: this weight times how strongly the teacher sees the target class in each
    # visualization's flat counterpart (every value replaced by its mean, objectives.LevelPrior) is
    # subtracted from the step objective: the class in the structure, not in the brightness, for a teacher
    # that calls featureless inputs a class with confidence (a white image "8"). No data needed; one more
    # teacher pass per step (counted in the passes). Measured no remedy: such teachers give real digits'
    # flat counterparts their class too (docs/visualization-quality.md). 0: off.
    level_prior: float = field(default=0.0, metadata={"omit_default": True})
    # Beyond the paper: this weight times each visualization's total variation (the mean absolute
    # difference of neighbouring values, objectives.total_variation) is subtracted from the step
    # objective, which prefers smooth strokes to fine textures (DeepInversion's R_TV; 0: off).
    tv_prior: float = field(default=0.0, metadata={"omit_default": True})
    # Beyond the paper: this weight times each visualization's distance from the teacher's training inputs
    # at every position (objectives.value_prior: the root mean square of (x - mean) / std, with the per-value
    # mean and deviation of the real training inputs, the deviation held at least 0.1 of the domain) is
    # subtracted from the step objective: values where the data has them, a digit's black border and its
    # strokes in the middle. Needs the real training inputs (their statistics only; the CLI reads them from
    # --dataset, the teacher's by default). Lets a teacher with global average pooling, which AM otherwise
    # satisfies with texture anywhere, be visualized as digits (docs/visualization-quality.md). 0: off.
    value_prior: float = field(default=0.0, metadata={"omit_default": True})
    # Beyond the paper: this weight times the 1-D Wasserstein distance between each visualization's values and
    # the teacher's training inputs' (objectives.histogram_prior: sorted values against the data's quantiles, in
    # units of the data's deviation) is subtracted from the step objective: the data's mix of values, whatever
    # the layout (a digit is mostly black with a few bright strokes; AM also stops at grey fields). Needs the
    # real training inputs (their C x 257 quantiles only), as value_prior does. 0: off.
    histogram_prior: float = field(default=0.0, metadata={"omit_default": True})
    # Beyond the paper: add this many blends per visualization, lam * a + (1 - lam) * b of two
    # visualizations of different classes, labelled by the teacher (synthesis/blend.py): the student
    # then sees where the teacher's boundary lies between the extremes AM makes (0: off, the paper's).
    blend: float = field(default=0.0, metadata={"omit_default": True})
    # Beyond the paper: add this many offsets per example of the set (visualizations and blends), each a
    # point of the set with one constant drawn from [-offset_scale, offset_scale] times the domain's width
    # added to every value, clamped, labelled by the teacher (synthesis/offset.py): the student learns
    # what the teacher does with levels AM never made (a person's heart period; an image's brightness).
    # 0: off, the paper's.
    offset: float = field(default=0.0, metadata={"omit_default": True})
    offset_scale: float = field(default=0.3, metadata={"omit_default": True})
    # Beyond the paper: add this many probes per example of the set (visualizations and blends), made
    # in probe_rounds rounds (synthesis/probe.py): each round trains a student (probe_student: a
    # neural student's name, "auto" for cnn_id on images and cnn_ecg on series; soft labels at
    # tau 4), moves points of the set by probe_steps Adam steps (learning rate probe_step_size times
    # the domain's width; 1% found about 3x the disagreement of 5% on Apnea-ECG, docs/apnea.md) of
    # ascent on KL(teacher || student), and the teacher labels where they end. 0: off, the paper's.
    probe: float = field(default=0.0, metadata={"omit_default": True})
    probe_rounds: int = field(default=3, metadata={"omit_default": True})
    probe_steps: int = field(default=10, metadata={"omit_default": True})
    probe_step_size: float = field(default=0.01, metadata={"omit_default": True})
    probe_student: str = field(default="auto", metadata={"omit_default": True})
    # Beyond the paper: transformation robustness (Olah et al. 2017). At every AM step each
    # visualization is shifted by a random whole number of samples in [-jitter, jitter] along every
    # spatial axis (edges repeated) before the teacher sees it; the teacher judges, and the synthetic
    # set keeps, the shifted one. AM then builds features that hold wherever they sit, not one
    # teacher's pixel-exact quirks (0: off, the paper's).
    jitter: int = field(default=0, metadata={"omit_default": True})
    # Beyond the paper: keep optimizing each visualization (every prior on) for this many AM steps after
    # it first satisfies Eq. 2, and keep it at the first step after that where it still does; a member
    # that has passed gets as many steps beyond max_steps. DeepInversion optimizes its images for
    # thousands of steps where the paper stops at the first pass: this is how long the priors get to
    # pull a visualization towards the teacher's data once it reaches T (0: off, the paper's).
    settle_steps: int = field(default=0, metadata={"omit_default": True})
    # Beyond the paper: a visualization satisfies Eq. 2 only if the standard deviation of its values is at
    # least this share of the domain's width (high - low); until then AM goes on, and one still flat at the
    # step budget is discarded like one that missed T. A teacher confident on a featureless input (vgg_bn says
    # "1" to an all-black image at softmax 1.00) otherwise lets AM stop at flat images that carry no example
    # of the class. 0.1 is the benchmarks' "flat" (docs/visualization-quality.md). 0: off, the paper's.
    min_contrast: float = field(default=0.0, metadata={"omit_default": True})
    # Engine: generators optimized at once. slots * group_size of 128-288 keeps a CPU's caches warm
    # (32 with Appendix C's groups of 9).
    slots: int = 128

    @property
    def real_uses(self) -> tuple[str, ...]:
        """What in this configuration needs the teacher's real training data (Loss2's examples, the priors'
        statistics); empty when the synthesis is data-free, the paper's setting."""
        return tuple(k for k, on in (("loss2", self.loss2), ("value_prior", self.value_prior > 0),
                                     ("histogram_prior", self.histogram_prior > 0)) if on)

    def needs_real(self, fix: str) -> VistransferError:
        """The error for a run of this configuration without the real data it needs, ending in ``fix``."""
        uses = self.real_uses
        return VistransferError(f"{' and '.join(uses)} need{'s' if len(uses) == 1 else ''} the teacher's real training data: {fix}")

    def __post_init__(self) -> None:
        if isinstance(self.race_tail, bool):  # configs and records before the three modes
            object.__setattr__(self, "race_tail", "all" if self.race_tail else "off")
        _check(self.n > 0, f"n must be a positive number of visualizations, got {self.n}")
        _check(0.0 < self.threshold < 1.0, f"threshold T must lie in (0, 1), got {self.threshold}")
        _range("threshold_range", self.threshold_range, 0.0, 1.0, open_=True)
        _check(self.labels in ("hard", "soft"), f"labels must be 'hard' or 'soft', got {self.labels!r}")
        _check(self.objective in ("logit", "log_softmax"), f"objective must be 'logit' or 'log_softmax', got {self.objective!r}")
        _check(self.group_size > 0, f"group_size must be positive, got {self.group_size}")
        _check(self.z_dim > 0, f"z_dim must be positive, got {self.z_dim}")
        _check(self.z_dist in ("uniform", "normal"), f"z_dist must be 'uniform' or 'normal', got {self.z_dist!r}")
        _check(self.z_low < self.z_high, f"z_low must be below z_high, got [{self.z_low}, {self.z_high}]")
        _check(self.init_std > 0, f"init_std must be positive, got {self.init_std}")
        _check(len(self.gen_channels) == 2 and min(self.gen_channels) > 0, f"gen_channels must be two positive ints, got {self.gen_channels}")
        _check(self.gen_upsample in GEN_UPSAMPLING, f"gen_upsample must be one of {list(GEN_UPSAMPLING)}, got {self.gen_upsample!r}")
        _check(self.gen_start in GEN_STARTS, f"gen_start must be one of {list(GEN_STARTS)}, got {self.gen_start!r}")
        _check(isinstance(self.gen_downscale, int) and self.gen_downscale >= 1, f"gen_downscale must be a positive integer, got {self.gen_downscale!r}")
        _check(self.lr > 0, f"lr must be positive, got {self.lr}")
        _range("lr_range", self.lr_range, 0.0, float("inf"), open_=True)
        _check(0 <= self.movement_steps[0] <= self.movement_steps[1], f"movement_steps must be [low, high] with 0 <= low <= high, got {list(self.movement_steps)}")
        bad = [k for k in self.movement_kinds if k not in MOVEMENT_KINDS]
        _check(not bad and len(self.movement_kinds) > 0, f"movement_kinds must be a non-empty subset of {list(MOVEMENT_KINDS)}, got {list(self.movement_kinds)}")
        _check(self.stop in ("member", "group"), f"stop must be 'member' or 'group', got {self.stop!r}")
        _check(self.race_tail in RACE_MODES, f"race_tail must be one of {list(RACE_MODES)}, got {self.race_tail!r}")
        _check(self.plan in PLANS, f"plan must be one of {list(PLANS)}, got {self.plan!r}")
        _check(self.max_subset >= 2, f"max_subset must be at least 2, got {self.max_subset}")
        _check(self.max_steps > 0, f"max_steps must be positive, got {self.max_steps}")
        _check(self.max_failed_groups is None or self.max_failed_groups > 0, f"max_failed_groups must be positive, got {self.max_failed_groups}")
        _check(0 < self.loss2_lr_ratio <= 1, f"loss2_lr_ratio must lie in (0, 1], got {self.loss2_lr_ratio}")
        _check(self.bn_prior >= 0, f"bn_prior must be >= 0, got {self.bn_prior}")
        _check(self.bn_prior_scope in BN_SCOPES, f"bn_prior_scope must be one of {list(BN_SCOPES)}, got {self.bn_prior_scope!r}")
        _check(self.tv_prior >= 0, f"tv_prior must be >= 0, got {self.tv_prior}")
        _check(self.layout_prior >= 0, f"layout_prior must be >= 0, got {self.layout_prior}")
        _check(self.level_prior >= 0, f"level_prior must be >= 0, got {self.level_prior}")
        _check(self.value_prior >= 0, f"value_prior must be >= 0, got {self.value_prior}")
        _check(self.histogram_prior >= 0, f"histogram_prior must be >= 0, got {self.histogram_prior}")
        _check(isinstance(self.layout_tiles, int) and self.layout_tiles >= 2,
               f"layout_tiles must be a whole number of tiles per axis >= 2, got {self.layout_tiles!r}")
        _check(isinstance(self.jitter, int) and self.jitter >= 0, f"jitter must be a whole number of samples >= 0, got {self.jitter!r}")
        _check(0 <= self.min_contrast < 0.5, f"min_contrast must be a share of the domain's width in [0, 0.5), got {self.min_contrast}")
        _check(isinstance(self.settle_steps, int) and self.settle_steps >= 0,
               f"settle_steps must be a whole number of AM steps >= 0, got {self.settle_steps!r}")
        _check(0 <= self.blend <= 100, f"blend must be a number of blends per visualization in [0, 100], got {self.blend}")
        _check(0 <= self.offset <= 100, f"offset must be a number of offsets per example of the set in [0, 100], got {self.offset}")
        _check(0 < self.offset_scale <= 1, f"offset_scale must be a share of the domain's width in (0, 1], got {self.offset_scale}")
        _check(0 <= self.probe <= 100, f"probe must be a number of probes per example of the set in [0, 100], got {self.probe}")
        _check(isinstance(self.probe_rounds, int) and 1 <= self.probe_rounds <= 20,
               f"probe_rounds must be a whole number in [1, 20], got {self.probe_rounds!r}")
        _check(isinstance(self.probe_steps, int) and self.probe_steps >= 1, f"probe_steps must be a positive whole number, got {self.probe_steps!r}")
        _check(0 < self.probe_step_size <= 1, f"probe_step_size must be a share of the domain's width in (0, 1], got {self.probe_step_size}")
        _check(self.loss2_batch > 0, f"loss2_batch must be positive, got {self.loss2_batch}")
        _check(self.slots > 0, f"slots must be positive, got {self.slots}")

    def am_only(self) -> SynthesisConfig:
        """This config with what follows AM on the set (blends, offsets) off: what the visualizations
        themselves depend on, so that caches of them are shared by configs that differ only in those."""
        return dataclasses.replace(self, blend=0.0, offset=0.0, offset_scale=SynthesisConfig.offset_scale)

    def extension_ident(self) -> dict[str, Any]:
        """What blends and offsets add to the cache key of a set built on the visualizations (a probed
        set): the blends, and the offsets only when on, so sets without them keep their earlier keys."""
        return {"blend": self.blend, **({"offset": self.offset, "offset_scale": self.offset_scale} if self.offset > 0 else {})}


# Keras' ImageDataGenerator of Appendix D: horizontal flips, 10% shifts, rotations up to 15 degrees
AUGMENTATIONS = ("", "flip-shift-rotate")


@dataclass(frozen=True)
class TrainConfig:
    """Supervised training of a neural teacher or student (Adam, cross-entropy on distributions)."""

    epochs: int = 5
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    val_fraction: float = 0.0  # held out of the training data to report a validation accuracy
    # Train for at least this many optimizer steps (more epochs on small sets, e.g. 400 examples).
    min_steps: int = 0
    # Distillation temperature (Hinton et al.): student logits are divided by it and the loss is
    # scaled by its square; the caller softens the targets with the same temperature.
    temperature: float = 1.0
    # "adam", or "sgd" (Nesterov momentum 0.9: the usual choice for CIFAR-10 CNNs with batch norm)
    optimizer: str = "adam"
    # bf16 autocast and channels-last memory, for CPUs with bf16 units and GPUs (speed-up measured by
    # python -m benchmarks.train_speed). Weights and the optimizer stay fp32.
    amp: bool = False
    # "" (none) or one of AUGMENTATIONS (models/train.py builds them), applied to every minibatch
    augment: str = ""

    def __post_init__(self) -> None:
        _check(self.augment in AUGMENTATIONS, f"augment must be one of {AUGMENTATIONS}, got {self.augment!r}")
        _check(self.optimizer in ("adam", "sgd"), f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        _check(self.epochs > 0, f"epochs must be positive, got {self.epochs}")
        _check(self.min_steps >= 0, f"min_steps must be >= 0, got {self.min_steps}")
        _check(self.temperature > 0, f"temperature must be positive, got {self.temperature}")
        _check(self.batch_size > 0, f"batch_size must be positive, got {self.batch_size}")
        _check(self.lr > 0, f"lr must be positive, got {self.lr}")
        _check(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        _check(0 <= self.val_fraction < 1, f"val_fraction must lie in [0, 1), got {self.val_fraction}")


# Per-dataset defaults of the teacher's training, in one place (teach, run and experiments read them).
# digits is tiny (1,347 training images): more epochs and smaller batches reach ~98%; 8 epochs give ~90%,
# a teacher that rarely reaches T = 0.99.
TEACHER_PRESETS: dict[str, TrainConfig] = {
    "digits": TrainConfig(epochs=30, batch_size=64, lr=3e-3),
    "apnea-ecg": TrainConfig(epochs=10, batch_size=64, lr=2e-3),
    # Appendix D's h1/CNN1: SGD with a one-cycle schedule, weight decay, flips, shifts and rotations
    "cifar10": TrainConfig(epochs=30, batch_size=128, lr=0.05, weight_decay=5e-4, optimizer="sgd", amp=True,
                           augment="flip-shift-rotate"),
    "default": TrainConfig(epochs=8, batch_size=128, lr=2e-3),
}
# Neural students' epochs per dataset (other student options keep their own defaults).
STUDENT_EPOCHS = {"digits": 30, "default": 10}


@dataclass(frozen=True)
class DatasetDefaults:
    """What ``run`` and ``teach`` use for a dataset unless told otherwise: the data domain, whether
    the teacher normalizes with the training data's statistics, its architecture, the students and
    their options, and synthesis settings. Series need all of these; images in [0, 1] need none."""

    value_range: tuple[float, float] = (0.0, 1.0)
    normalize_from_train: bool = False
    arch: str = "teacher"  # a key of models.nets.ARCH_PRESETS
    students: str = "cnn_id,cnn_small,mlp,svm,rf"
    student: tuple[tuple[str, Any], ...] = ()
    synthesis: tuple[tuple[str, Any], ...] = ()


# Apnea-ECG: RR intervals in seconds (cleaned to [0.3, 2.0]), a deeper 1-D teacher (measured: 91.5%
# against 82% for h1's layers), students that standardize their inputs, log_softmax AM (a two-class
# teacher's raw logit saturates G), one visualization per generator and a 100-step budget, and G
# drawing at 1 Hz, about the beat rate (benchmarks/apnea_sweep.py: students +11.6 points over 4 Hz),
# one blend per visualization (table5_blend: h2 S. higher in all six units of the random split,
# and 61.9 against 53.9% per minute with the record-wise split) and one offset per example of the set
# (benchmarks/apnea_level.py: AUC on held-out people 0.627 -> 0.741 over five folds; table5_offset's
# record-wise folds against table5_ensemble's: higher in every fold).
DATASET_DEFAULTS: dict[str, DatasetDefaults] = {
    "apnea-ecg": DatasetDefaults((0.3, 2.0), True, "ecg", "cnn_ecg,mlp,rf",
                                 (("standardize", True), ("min_steps", 500)),
                                 (("objective", "log_softmax"), ("group_size", 1), ("slots", 64), ("max_steps", 100),
                                  ("gen_downscale", 4), ("blend", 1.0), ("offset", 1.0))),
    # CIFAR-10: Appendix D's CNN1 as h1, normalized with the training images' channel statistics
    "cifar10": DatasetDefaults((0.0, 1.0), True, "cifar-cnn1", "cnn_cifar1,cnn_id,mlp", (("amp", True),)),
}


def dataset_defaults(dataset: str) -> DatasetDefaults:
    return DATASET_DEFAULTS.get(dataset, DatasetDefaults())


def teacher_preset(dataset: str, **overrides: Any) -> TrainConfig:
    base = TEACHER_PRESETS.get(dataset, TEACHER_PRESETS["default"])
    return merged(TrainConfig, base, overrides)


STUDENT_OPTIONS = {"epochs": int, "batch_size": int, "lr": float, "weight_decay": float, "min_steps": int,
                   "temperature": float, "C": float, "kernel": str, "n_estimators": int, "soft": str, "standardize": bool,
                   "amp": bool, "augment": str, "members": int}


def student_options(d: dict[str, Any], where: str = "[student]") -> dict[str, Any]:
    """Validate a table of student options (types by name, unknown keys named); returns it as given."""
    unknown = sorted(set(d) - set(STUDENT_OPTIONS))
    _check(not unknown, f"unknown {where} option(s) {unknown}; known: {sorted(STUDENT_OPTIONS)}")
    out = {}
    for k, v in d.items():
        want = STUDENT_OPTIONS[k]
        if k == "standardize" and v == "window":  # each input by its own mean and std (a window_norm teacher's students)
            out[k] = v
            continue
        ok = (isinstance(v, want) and (want is bool or not isinstance(v, bool))) or (want is float and isinstance(v, int) and not isinstance(v, bool))
        also = " or 'window'" if k == "standardize" else ""
        _check(ok, f"{where} {k} must be {want.__name__}{also}, got {v!r}")
        out[k] = want(v)
    _check(out.get("epochs", 1) > 0 and out.get("batch_size", 1) > 0 and out.get("lr", 1) > 0 and out.get("temperature", 1) > 0,
           f"{where}: epochs, batch_size, lr and temperature must be positive")
    _check(out.get("soft", "argmax") in ("argmax", "weighted"), f"{where} soft must be 'argmax' or 'weighted'")
    _check(out.get("members", 1) >= 1, f"{where} members must be at least 1 (one network), got {out.get('members')}")
    return out


CONFIG_TABLES = ("synthesis", "student", "teacher")


def load_config(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a TOML config: its tables must be among [synthesis], [student] and [teacher]."""
    p = Path(path)
    _check(p.is_file(), f"config file {p} does not exist; pass an existing TOML file")
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as e:
        raise VistransferError(f"config file {p} is not valid TOML: {e}") from None
    unknown = sorted(set(data) - set(CONFIG_TABLES))
    _check(not unknown, f"config file {p}: unknown table(s) or key(s) {unknown}; known tables: "
                        + ", ".join(f"[{t}]" for t in CONFIG_TABLES))
    for t, v in data.items():
        _check(isinstance(v, dict), f"config file {p}: {t} must be a table ([{t}])")
    out = {t: dict(data.get(t, {})) for t in CONFIG_TABLES}
    out["student"] = student_options(out["student"], f"{p} [student]")
    return out


def to_dict(cfg: Any) -> dict[str, Any]:
    """JSON-ready dict of a config dataclass (tuples become lists).

    A field added after configs were first cached carries ``metadata={"omit_default": True}`` and is
    left out while it holds its default (the knob is off): a config that does not use it keeps the
    dict, and so the cache keys and records, it had before the field existed.
    """
    d = dataclasses.asdict(cfg)
    for f in dataclasses.fields(cfg):
        if f.metadata.get("omit_default") and d.get(f.name) == f.default:
            del d[f.name]
    return json_ready(d)


def json_ready(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    return obj


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build ``cls`` from a dict, refusing unknown keys by name (a typo must not pass silently)."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    _check(not unknown, f"unknown {cls.__name__} option(s) {unknown}; known: {sorted(names)}")
    kwargs = {}
    for k, v in data.items():
        kwargs[k] = tuple(v) if isinstance(v, list) else v
    try:
        return cls(**kwargs)
    except TypeError as e:  # wrong type that __post_init__ comparisons trip over
        raise VistransferError(f"bad {cls.__name__} value: {e}") from None


def load_toml(path: str | Path, section: str) -> dict[str, Any]:
    """Read one table of a config file (empty dict if absent); unknown tables are an error."""
    return load_config(path)[section]


def merged(cls: type, base: Any, overrides: dict[str, Any]) -> Any:
    """``base`` with ``overrides`` applied (None values are ignored), re-validated."""
    d = dataclasses.asdict(base)
    d.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(cls, d)


__all__ = ["SynthesisConfig", "TrainConfig", "MOVEMENT_KINDS", "TEACHER_PRESETS", "STUDENT_EPOCHS", "teacher_preset",
           "DatasetDefaults", "DATASET_DEFAULTS", "dataset_defaults",
           "student_options", "load_config", "to_dict", "from_dict", "load_toml", "merged", "json_ready"]
