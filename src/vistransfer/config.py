"""Typed, validated configuration for every stage.

Configs are frozen dataclasses checked once when built (from CLI options or a TOML
file) and then passed down unchanged. Each synthesis field carries its doc and group
(:func:`knob`): the CLI's help and ``docs/config.md`` (:func:`reference_markdown`) come from them.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from .errors import VistransferError

MOVEMENT_KINDS = ("attract_one", "repel_many", "attract_many")
RACE_MODES = ("stragglers", "all")  # SynthesisConfig.race_tail
PLANS = ("yield", "count")  # SynthesisConfig.plan
GEN_UPSAMPLING = ("auto", "deconv", "resize")  # SynthesisConfig.gen_upsample, GeneratorBank's upsample
GEN_STARTS = ("auto", "bias", "neutral")  # SynthesisConfig.gen_start


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


def knob(default: Any, doc: str, group: str, omit_default: bool = False) -> Any:
    """A config field with its one- or two-line ``doc`` (the CLI's help and docs/config.md) and its
    ``group`` (a key of KNOB_GROUPS). ``omit_default``: left out of :func:`to_dict` while it holds its default."""
    return field(default=default, metadata={"doc": doc, "group": group, "omit_default": omit_default})


KNOB_GROUPS = {
    "paper": "The paper's method (Sections 3.2-4.1, Appendices A and C)",
    "ours": "Beyond the paper, each with a measured win (docs/findings.md)",
    "engine": "How the engine runs (speed and scheduling)",
}


@dataclass(frozen=True)
class SynthesisConfig:
    """Every knob of Gen{h1}, grouped as in :data:`KNOB_GROUPS`; ``docs/config.md`` lists them.

    Defaults are the paper's where the paper gives one, except one visualization per generator
    (``group_size``) and the knobs of the "ours" group; ``configs/mnist-paper.toml`` holds the paper's grouping.
    """

    n: int = knob(1000, "Visualizations to keep; the target classes are balanced (n/K each).", "paper")
    seed: int = knob(0, "Seed of every draw of the synthesis.", "paper")
    threshold: float = knob(0.99, "T of Eq. 2: a visualization is kept once softmax[target] > T and target is the argmax.", "paper")
    threshold_range: tuple[float, float] | None = knob(None, "Appendix A: draw T per group uniformly from [low, high] instead.", "paper")
    labels: str = knob("hard", "Labels of the set: 'hard' (the teacher's argmax) or 'soft' (its softmax).", "paper")
    objective: str = knob("logit", "What AM maximizes: the target's 'logit' (Section 3.3) or its 'log_softmax'.", "paper")
    group_size: int = knob(1, "Visualizations that share one generator (Appendix C: 9; one each teaches students more).", "paper")
    z_dim: int = knob(16, "Size of G's input Z (Section 3.3).", "paper")
    z_dist: str = knob("uniform", "Z's distribution: 'uniform' on [z_low, z_high] or 'normal' with std z_high.", "paper")
    z_low: float = knob(-1.0, "Low end of Z's uniform range.", "paper")
    z_high: float = knob(1.0, "High end of Z's uniform range (the std of a normal Z).", "paper")
    init_std: float = knob(0.1, "Std of the truncated normal (+-2 std) that initializes theta_G for every group.", "paper")
    gen_out_bias: float = knob(0.0, "sigmoid(gen_out_bias) is G's initial output level; 0 starts every image at mid-grey.", "paper")
    gen_channels: tuple[int, int] = knob((32, 16), "Channels of G's two upsampling stages (sigmoid output, Eq. 1's R).", "paper")
    lr: float = knob(0.01, "Adam learning rate of AM on theta_G.", "paper")
    lr_range: tuple[float, float] | None = knob(None, "Draw the learning rate per group from [low, high] instead (Appendix C).", "paper")
    movement: bool = knob(True, "Section 3.3.2: pre-AM pseudo-random movement.", "paper")
    movement_steps: tuple[int, int] = knob((0, 20), "The movement lasts a random number of steps in [low, high].", "paper")
    movement_kinds: tuple[str, ...] = knob(MOVEMENT_KINDS, "Which of Appendix C's movements a group draws from.", "paper")
    max_subset: int = knob(5, "The 'many' of repel_many / attract_many: 2..max_subset classes.", "paper")
    stop: str = knob("member", "'member': keep each visualization when it passes; 'group': only when its whole group passes at once.", "paper")
    max_steps: int = knob(300, "AM step budget per group; members that have not passed by then are discarded and counted.", "paper")
    loss2: bool = knob(False, "Section 4.1.2, Eq. 3: also maximize the L2 distance to real class data in layer L-1 (needs real data).", "paper")
    loss2_lr_ratio: float = knob(0.25, "Loss2's learning rate as a share of AM's (the paper: 1/3 to 1/5).", "paper")
    loss2_batch: int = knob(16, "B_s: real examples per Loss2 step.", "paper")

    gen_start: str = knob(
        "auto",
        "Where G's output starts: 'bias' (mid-grey, the paper's), 'neutral' (the flat input the teacher\n"
        "considers least any class) or 'auto' (neutral for a teacher sure of grey that gives the neutral input no majority).",
        "ours",
    )
    gen_upsample: str = knob(
        "auto",
        "How G doubles its size: 'deconv' (the paper's), 'resize' (nearest x2 + 3x3 conv) or 'auto'\n(resize for images, deconv for series).",
        "ours",
    )
    gen_downscale: int = knob(1, "G draws at 1/gen_downscale of the input's resolution, interpolated up (a band limit for slow series).", "ours")
    bn_prior: float = knob(
        0.0,
        "Weight of DeepInversion's batch-norm prior: the distance of the step's batch-norm input statistics\n"
        "from the teacher's running statistics (teachers with batch norm); 0: off.",
        "ours",
        omit_default=True,
    )
    value_prior: float = knob(
        0.0,
        "Weight of the value prior: each value's distance from the training inputs' mean at its position,\n"
        "in their deviations there (needs their statistics; teachers with global average pooling); 0: off.",
        "ours",
        omit_default=True,
    )
    jitter: int = knob(
        0,
        "Shift each visualization by up to this many samples per axis at every AM step (transformation robustness); 0: off.",
        "ours",
        omit_default=True,
    )
    flip: bool = knob(
        False,
        "Mirror each visualization along its last axis with probability 1/2 at every AM step (images: a horizontal flip).",
        "ours",
        omit_default=True,
    )
    settle_steps: int = knob(
        0, "Go on optimizing each visualization, priors included, this many AM steps after it first passes T; 0: off.", "ours", omit_default=True
    )
    blend: float = knob(
        0.0, "Blends per visualization: lam * a + (1 - lam) * b of two classes' visualizations, labelled by the teacher.", "ours", omit_default=True
    )
    offset: float = knob(
        0.0,
        "Offsets per example of the set: one constant in +-offset_scale of the domain's width added, labelled by the teacher.",
        "ours",
        omit_default=True,
    )
    offset_scale: float = knob(0.3, "Largest offset, as a share of the domain's width.", "ours", omit_default=True)
    probe: float = knob(
        0.0,
        "Probes per example of the set: points moved towards where a round student disagrees with the teacher\n"
        "(ascent on KL(teacher || student)), labelled by the teacher; 0: off.",
        "ours",
        omit_default=True,
    )
    probe_rounds: int = knob(3, "Rounds of probes, each against a student of the set so far.", "ours", omit_default=True)
    probe_steps: int = knob(10, "Adam steps that move each probe.", "ours", omit_default=True)
    probe_step_size: float = knob(0.01, "The probes' learning rate, as a share of the domain's width.", "ours", omit_default=True)
    probe_student: str = knob(
        "auto", "The round students: a neural student's name, or 'auto' (cnn_id for images, cnn_ecg for series).", "ours", omit_default=True
    )

    race_tail: str = knob(
        "stragglers",
        "In a run's tail, free slots race the groups still in flight: 'stragglers' (groups slower than\n"
        "9 in 10 passes so far) or 'all' (any, from the first step: the 0.1-0.3 engine's, recorded as `true`).",
        "engine",
    )
    plan: str = knob(
        "yield",
        "Generators per short class: 'yield' (each in flight counts as its class's pass rate) or 'count'\n"
        "(each counts as one: the 0.4 engine's, which made the committed tables).",
        "engine",
    )
    max_failed_groups: int | None = knob(
        None,
        "Give up after this many groups missed the budget (None: 100 + 5 n / group_size, and\n"
        "fail at once when 90% of the first 200 finished miss T).",
        "engine",
    )
    slots: int = knob(128, "Generators optimized at once (slots x group_size of 128-288 keeps a CPU's caches warm).", "engine")

    @property
    def real_uses(self) -> tuple[str, ...]:
        """What in this configuration needs the teacher's real training data (Loss2's examples, the value prior's
        statistics); empty when the synthesis is data-free, the paper's setting."""
        return tuple(k for k, on in (("loss2", self.loss2), ("value_prior", self.value_prior > 0)) if on)

    def needs_real(self, fix: str) -> VistransferError:
        """The error for a run of this configuration without the real data it needs, ending in ``fix``."""
        uses = self.real_uses
        return VistransferError(f"{' and '.join(uses)} need{'s' if len(uses) == 1 else ''} the teacher's real training data: {fix}")

    def __post_init__(self) -> None:
        if self.race_tail is True:  # records of the 0.1-0.3 engine
            object.__setattr__(self, "race_tail", "all")
        _check(self.n > 0, f"n must be a positive number of visualizations, got {self.n}")
        _check(self.seed >= 0, f"seed must be a whole number >= 0, got {self.seed}")
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
        _check(
            isinstance(self.gen_downscale, int) and self.gen_downscale >= 1, f"gen_downscale must be a positive integer, got {self.gen_downscale!r}"
        )
        _check(self.lr > 0, f"lr must be positive, got {self.lr}")
        _range("lr_range", self.lr_range, 0.0, float("inf"), open_=True)
        _check(
            0 <= self.movement_steps[0] <= self.movement_steps[1],
            f"movement_steps must be [low, high] with 0 <= low <= high, got {list(self.movement_steps)}",
        )
        bad = [k for k in self.movement_kinds if k not in MOVEMENT_KINDS]
        _check(
            not bad and len(self.movement_kinds) > 0,
            f"movement_kinds must be a non-empty subset of {list(MOVEMENT_KINDS)}, got {list(self.movement_kinds)}",
        )
        _check(self.stop in ("member", "group"), f"stop must be 'member' or 'group', got {self.stop!r}")
        _check(self.race_tail in RACE_MODES, f"race_tail must be one of {list(RACE_MODES)}, got {self.race_tail!r}")
        _check(self.plan in PLANS, f"plan must be one of {list(PLANS)}, got {self.plan!r}")
        _check(self.max_subset >= 2, f"max_subset must be at least 2, got {self.max_subset}")
        _check(self.max_steps > 0, f"max_steps must be positive, got {self.max_steps}")
        _check(self.max_failed_groups is None or self.max_failed_groups > 0, f"max_failed_groups must be positive, got {self.max_failed_groups}")
        _check(0 < self.loss2_lr_ratio <= 1, f"loss2_lr_ratio must lie in (0, 1], got {self.loss2_lr_ratio}")
        _check(self.bn_prior >= 0, f"bn_prior must be >= 0, got {self.bn_prior}")
        _check(self.value_prior >= 0, f"value_prior must be >= 0, got {self.value_prior}")
        _check(isinstance(self.jitter, int) and self.jitter >= 0, f"jitter must be a whole number of samples >= 0, got {self.jitter!r}")
        _check(isinstance(self.flip, bool), f"flip must be true or false, got {self.flip!r}")
        _check(
            isinstance(self.settle_steps, int) and self.settle_steps >= 0,
            f"settle_steps must be a whole number of AM steps >= 0, got {self.settle_steps!r}",
        )
        _check(0 <= self.blend <= 100, f"blend must be a number of blends per visualization in [0, 100], got {self.blend}")
        _check(0 <= self.offset <= 100, f"offset must be a number of offsets per example of the set in [0, 100], got {self.offset}")
        _check(0 < self.offset_scale <= 1, f"offset_scale must be a share of the domain's width in (0, 1], got {self.offset_scale}")
        _check(0 <= self.probe <= 100, f"probe must be a number of probes per example of the set in [0, 100], got {self.probe}")
        _check(
            isinstance(self.probe_rounds, int) and 1 <= self.probe_rounds <= 20,
            f"probe_rounds must be a whole number in [1, 20], got {self.probe_rounds!r}",
        )
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
        _check(self.seed >= 0, f"seed must be a whole number >= 0, got {self.seed}")
        _check(self.min_steps >= 0, f"min_steps must be >= 0, got {self.min_steps}")
        _check(self.temperature > 0, f"temperature must be positive, got {self.temperature}")
        _check(self.batch_size > 0, f"batch_size must be positive, got {self.batch_size}")
        _check(self.lr > 0, f"lr must be positive, got {self.lr}")
        _check(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        _check(0 <= self.val_fraction < 1, f"val_fraction must lie in [0, 1), got {self.val_fraction}")


SVM_KERNELS = ("linear", "poly", "rbf", "sigmoid")  # scikit-learn's SVC kernels that take no callable

STUDENT_OPTIONS = {
    "epochs": int,
    "batch_size": int,
    "lr": float,
    "weight_decay": float,
    "min_steps": int,
    "temperature": float,
    "C": float,
    "kernel": str,
    "n_estimators": int,
    "soft": str,
    "standardize": bool,
    "amp": bool,
    "augment": str,
    "members": int,
}


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
    _check(
        out.get("epochs", 1) > 0 and out.get("batch_size", 1) > 0 and out.get("lr", 1) > 0 and out.get("temperature", 1) > 0,
        f"{where}: epochs, batch_size, lr and temperature must be positive",
    )
    _check(out.get("soft", "argmax") in ("argmax", "weighted"), f"{where} soft must be 'argmax' or 'weighted'")
    _check(out.get("C", 1) > 0, f"{where} C must be a positive number (the SVM's inverse regularization), got {out.get('C')}")
    _check(
        out.get("kernel", "rbf") in SVM_KERNELS, f"{where} kernel must be one of {list(SVM_KERNELS)} (the SVM's kernel), got {out.get('kernel')!r}"
    )
    _check(out.get("n_estimators", 1) >= 1, f"{where} n_estimators must be at least 1 (trees of the forest), got {out.get('n_estimators')}")
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
    _check(not unknown, f"config file {p}: unknown table(s) or key(s) {unknown}; known tables: " + ", ".join(f"[{t}]" for t in CONFIG_TABLES))
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


# Removed knobs, each at the value that behaves as the engine does (off; the batch-norm prior's batch statistics):
# a config or record that holds one so still loads; any other value is refused by name.
REMOVED_KNOBS = {
    "level_prior": 0.0,
    "layout_prior": 0.0,
    "layout_tiles": 4,
    "histogram_prior": 0.0,
    "min_contrast": 0.0,
    "tv_prior": 0.0,
    "bn_prior_scope": "batch",
}


TABLES = {"SynthesisConfig": "[synthesis]", "TrainConfig": "[teacher]", "DistillConfig": "[distill]"}  # where a user writes each


def _conforms(v: Any, want: Any) -> bool:
    """Whether ``v`` (as TOML or JSON gives it) is a value of the declared type ``want``: an int is a
    whole number and never a bool, a float any number but a bool, a tuple a list of its items."""
    origin, args = typing.get_origin(want), typing.get_args(want)
    if want is Any or want is dict or origin is dict:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(v, a) for a in args)
    if want is type(None):
        return v is None
    if want is bool:
        return isinstance(v, bool)
    if want is int:
        return isinstance(v, int) and not isinstance(v, bool)
    if want is float:
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if want is str:
        return isinstance(v, str)
    if origin is tuple:
        if not isinstance(v, (list, tuple)):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_conforms(x, args[0]) for x in v)
        return len(v) == len(args) and all(_conforms(x, a) for x, a in zip(v, args))
    return True


def _describe(want: Any) -> str:
    """The declared type in words, for an error message."""
    origin, args = typing.get_origin(want), typing.get_args(want)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("none (leave it out)" if a is type(None) else _describe(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
        return f"a list of {len(args)} {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}.get(want, str(want))


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build ``cls`` from a dict, refusing unknown keys by name (a typo must not pass silently)."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    gone = sorted(k for k in set(data) & set(REMOVED_KNOBS) if cls is SynthesisConfig and data[k] != REMOVED_KNOBS[k])
    _check(
        not gone,
        f"{gone} {'was' if len(gone) == 1 else 'were'} removed: they measured no gain anywhere "
        "(the git history holds them); drop them from the config",
    )
    data = {k: v for k, v in data.items() if not (cls is SynthesisConfig and k in REMOVED_KNOBS)}
    unknown = sorted(set(data) - set(names))
    _check(not unknown, f"unknown {cls.__name__} option(s) {unknown}; known: {sorted(names)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for k, v in data.items():
        if not (cls is SynthesisConfig and k == "race_tail" and v is True):  # records of the 0.1-0.3 engine
            want = hints[k]
            _check(_conforms(v, want), f"{TABLES.get(cls.__name__, cls.__name__)} {k} must be {_describe(want)}, got {v!r}")
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


__all__ = [
    "SynthesisConfig",
    "TrainConfig",
    "MOVEMENT_KINDS",
    "student_options",
    "load_config",
    "to_dict",
    "from_dict",
    "load_toml",
    "merged",
    "json_ready",
]


def reference_markdown() -> str:
    """docs/config.md: every SynthesisConfig knob by group, with its default and doc (written by
    ``python -c "from vistransfer.config import reference_markdown as r; print(r(), end='')" > docs/config.md``)."""
    fields = dataclasses.fields(SynthesisConfig)
    out = [
        "# Synthesis knobs",
        "",
        "Every field of `SynthesisConfig`, the `[synthesis]` table of a config file (`-c config.toml`); the synthesis",
        "options of `vistransfer synthesize` and `vistransfer run` are these fields (`--max-steps` for `max_steps`).",
        "Generated from the fields' own docs (`vistransfer.config.reference_markdown`); what each measured is in",
        "[findings.md](findings.md).",
        "",
    ]
    for group, title in KNOB_GROUPS.items():
        out += [f"## {title}", "", "| knob | default | what it does |", "|---|---|---|"]
        for f in fields:
            if f.metadata.get("group") == group:
                default = json_ready(f.default)
                out.append(f"| `{f.name}` | `{default!r}` | {' '.join(f.metadata['doc'].split())} |".replace("`None`", "`none`"))
        out.append("")
    return "\n".join(out)
