"""What a teacher takes as input: the shape of one example, its value range and its normalization.

The generator's sigmoid output g in (0, 1) is mapped to the *data domain* ``low + (high - low) * g``;
visualizations, real data and students all live in that domain. A teacher trained on normalized
inputs gets ``(x - mean) / std`` per channel inside :class:`~vistransfer.models.teacher.TeacherModule`,
so a user hands over the model exactly as it was trained and never re-normalizes by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import VistransferError


@dataclass(frozen=True)
class InputSpec:
    """shape: (C, H, W) for images or (C, L) for series (no batch axis).
    low, high: the data domain of one value (images in [0, 1]; RR intervals e.g. [0.3, 2.0] s).
    mean, std: per-channel normalization the teacher expects (one value each, or C values), or None.
    """

    shape: tuple[int, ...]
    low: float = 0.0
    high: float = 1.0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        shape = tuple(int(s) for s in self.shape)
        object.__setattr__(self, "shape", shape)
        if len(shape) not in (2, 3) or min(shape) < 1:
            raise VistransferError(f"input shape must be C,L (series) or C,H,W (images) with positive sizes, got {list(shape)}")
        if not self.low < self.high:
            raise VistransferError(f"value range must be low,high with low < high, got [{self.low}, {self.high}]")
        if (self.mean is None) != (self.std is None):
            raise VistransferError("normalization needs both mean and std")
        if self.mean is not None:
            c = shape[0]
            mean, std = tuple(float(v) for v in self.mean), tuple(float(v) for v in self.std)
            if len(mean) not in (1, c) or len(std) != len(mean):
                raise VistransferError(f"normalize needs 1 or {c} means and as many stds (one per channel), got {len(mean)} and {len(std)}")
            if min(std) <= 0:
                raise VistransferError(f"normalization std must be positive, got {list(std)}")
            object.__setattr__(self, "mean", mean)
            object.__setattr__(self, "std", std)

    @property
    def rank(self) -> int:
        """Spatial rank: 1 for series (C, L), 2 for images (C, H, W)."""
        return len(self.shape) - 1

    @property
    def channels(self) -> int:
        return self.shape[0]

    @classmethod
    def of(cls, spec: InputSpec | tuple[int, ...]) -> InputSpec:
        """``spec`` itself, or a bare shape as a spec with values in [0, 1]."""
        return spec if isinstance(spec, InputSpec) else cls(tuple(spec))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(x - mean) / std per channel, as the teacher was trained; x unchanged without normalization."""
        stats = self.stats()
        return x if stats is None else (x - stats[0]) / stats[1]

    def to_domain(self, g: torch.Tensor) -> torch.Tensor:
        """g in (0, 1) (the generator's sigmoid) -> the data domain [low, high]."""
        if self.low == 0.0 and self.high == 1.0:
            return g
        return self.low + (self.high - self.low) * g

    def stats(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(mean, std) shaped (C, 1[, 1]) to broadcast over a batch, or None."""
        if self.mean is None:
            return None
        view = (-1,) + (1,) * self.rank
        c = self.channels
        mean = torch.tensor(self.mean if len(self.mean) == c else self.mean * c).view(view)
        std = torch.tensor(self.std if len(self.std) == c else self.std * c).view(view)
        return mean, std

    def standardization(self, option: bool | str | tuple) -> bool | str | tuple:
        """A student's ``standardize`` option with True replaced by this normalization (mean, std) when
        there is one: a student of visualizations standardizes as the teacher did, not by the
        visualizations' own spread. Anything else is returned as given."""
        if option is True and self.mean is not None:
            return (self.mean, self.std)
        return option

    def to_dict(self) -> dict:
        return {
            "shape": list(self.shape),
            "low": self.low,
            "high": self.high,
            "mean": list(self.mean) if self.mean else None,
            "std": list(self.std) if self.std else None,
        }

    @classmethod
    def from_dict(cls, d: dict) -> InputSpec:
        unknown = sorted(set(d) - {"shape", "low", "high", "mean", "std"})
        if unknown:
            raise VistransferError(f"unknown input spec key(s) {unknown}; known: shape, low, high, mean, std")
        return cls(
            tuple(d["shape"]),
            float(d.get("low", 0.0)),
            float(d.get("high", 1.0)),
            tuple(d["mean"]) if d.get("mean") else None,
            tuple(d["std"]) if d.get("std") else None,
        )

    def check_data(self, x: torch.Tensor, what: str) -> None:
        """Refuse data whose examples do not have this shape (never reshape to fit)."""
        if tuple(x.shape[1:]) != self.shape:
            raise VistransferError(
                f"{what} has examples of shape {tuple(x.shape[1:])} but the teacher takes {self.shape}; use data of the teacher's input shape"
            )
        if len(x):
            lo, hi = float(x.min()), float(x.max())
            width = self.high - self.low
            if hi < self.low - 0.5 * width or lo > self.high + 0.5 * width or (hi - lo) > 3 * width:
                raise VistransferError(
                    f"{what} lies in [{lo:.3g}, {hi:.3g}] but the data domain is [{self.low:g}, {self.high:g}]; "
                    "pass --value-range low,high of the data (images: 0,1)"
                )


def parse_shape(text: str) -> tuple[int, ...]:
    """'3,32,32' -> (3, 32, 32); '1,240' -> (1, 240)."""
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise VistransferError(f"--input-shape must be C,H,W (images) or C,L (series), e.g. 3,32,32 or 1,240; got {text!r}") from None
    return InputSpec(shape).shape


def parse_normalize(text: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """'0.5,0.25' (one mean, one std) or 'm1,m2,m3,s1,s2,s3' (per channel: means first, then stds)."""
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        vals = []
    if not vals or len(vals) % 2:
        raise VistransferError(f"--normalize must be mean,std or the C means then the C stds (e.g. 0.49,0.48,0.45,0.25,0.24,0.26); got {text!r}")
    half = len(vals) // 2
    return tuple(vals[:half]), tuple(vals[half:])


def dataset_spec(train, defaults, value_range: tuple[float, float] | None = None) -> InputSpec:
    """The input spec a teacher trained here gets: the data's shape, the value range (option, else the
    dataset's), and, where the dataset asks for it, normalization by the training data's per-channel
    mean and std (``defaults``: :class:`vistransfer.config.DatasetDefaults`)."""
    low, high = value_range or (train_range(train.x, defaults.value_range) if defaults.normalize_from_train else defaults.value_range)
    if not defaults.normalize_from_train:
        return InputSpec(train.shape, low, high)
    dims = [0] + list(range(2, train.x.dim()))
    mean, std = train.x.mean(dims), train.x.std(dims).clamp_min(1e-6)
    return InputSpec(train.shape, low, high, tuple(mean.tolist()), tuple(std.tolist()))


def train_range(x: torch.Tensor, bounds: tuple[float, float], q: float = 0.001) -> tuple[float, float]:
    """The data domain as the training data occupy it: its q and 1 - q quantiles, inside ``bounds``.

    A generator whose sigmoid spans a wider range than the teacher ever saw (RR intervals live in
    0.6-1.4 s, the physiological bounds are 0.3-2.0 s) makes visualizations far from real data;
    the owner of a model can hand over this range without handing over the data.
    """
    flat = x.flatten()
    sample = flat[torch.randperm(len(flat), generator=torch.Generator().manual_seed(0))[:1_000_000]]
    lo, hi = torch.quantile(sample, torch.tensor([q, 1 - q])).tolist()
    return max(bounds[0], lo), min(bounds[1], hi)
