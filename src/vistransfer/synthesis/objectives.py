"""Objectives on the teacher's layers, as objects that add and scale (higher is better for G).

Each objective maps a :class:`Batch` (what one optimization step knows about the visualizations
being optimized) to a score per visualization, shape (A,). They compose like lucent's::

    obj = during_movement(movement()) + during_am(class_logit())     # the paper's default
    obj = during_am(class_logit()) - 0.1 * during_am(l2_norm())      # plus a new term

so a new term is a new object, not an edit of the optimization loop (``engine.synthesize`` takes
``objective=``). Terms:

* :func:`class_logit` / :func:`class_log_softmax`: AM of the target class (Eq. 1);
* :func:`movement`: the signed sum of a random class subset's logits (Section 3.3.2);
* :func:`l2_norm`: the mean squared value of the visualization (a simple image prior);
* :func:`total_variation`: how much neighbouring values differ (subtract it to prefer smooth
  images and series over fine textures; Mahendran & Vedaldi 2015, DeepInversion's R_TV);
* :class:`BatchNormPrior`: how far the teacher's batch-norm inputs sit from the statistics it was
  trained on (DeepInversion's feature prior, per visualization or over the step's batch);
* :class:`LayoutPrior`: how strongly the teacher still sees the target class once the
  visualization's tiles are shuffled (subtract it to ask for a layout, not a texture);
* :class:`LevelPrior`: how strongly the teacher sees the target class in a featureless input at the
  visualization's own level (subtract it to ask for a class in the structure, not in the brightness);
* :func:`value_prior`: how far each value sits from the training inputs' mean at its position, in
  their standard deviations there (subtract it to keep a visualization where the data has its values,
  e.g. a digit's black border);
* :func:`during_am` / :func:`during_movement`: restrict a term to one phase of a group's run.

:func:`penultimate_distance` is Loss2 of Eq. 3, used by the engine's separate Loss2 step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import BN_SCOPES
from ..errors import VistransferError


@dataclass
class Batch:
    """logits (A, K); target (A,) int64; move_w (A, K) in {-1, 0, +1}; in_am (A,) bool (past the
    movement); x (A, *shape) the visualizations in the data domain."""

    logits: torch.Tensor
    target: torch.Tensor
    move_w: torch.Tensor
    in_am: torch.Tensor
    x: torch.Tensor | None = None


class Objective:
    """A score per visualization, with ``+``, ``-``, unary ``-`` and scalar ``*``."""

    def __init__(self, fn: Callable[[Batch], torch.Tensor], description: str):
        self.fn, self.description = fn, description

    def __call__(self, batch: Batch) -> torch.Tensor:
        return self.fn(batch)

    def __add__(self, other: Objective) -> Objective:
        if isinstance(other, (int, float)) and other == 0:  # sum([...]) starts from 0
            return self
        return Objective(lambda b: self(b) + other(b), f"{self.description} + {other.description}")

    __radd__ = __add__

    def __neg__(self) -> Objective:
        return Objective(lambda b: -self(b), f"-({self.description})")

    def __sub__(self, other: Objective) -> Objective:
        return Objective(lambda b: self(b) - other(b), f"{self.description} - {other.description}")

    def __mul__(self, k: float) -> Objective:
        if not isinstance(k, (int, float)):
            return NotImplemented
        return Objective(lambda b: k * self(b), f"{k:g} * {self.description}")

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"Objective({self.description})"


def class_logit() -> Objective:
    """Eq. 1: the output-layer logit of the target class."""
    return Objective(lambda b: b.logits.gather(1, b.target.unsqueeze(1)).squeeze(1), "class_logit")


def class_log_softmax() -> Objective:
    """log p(target): AM that also pushes the other classes down."""
    return Objective(lambda b: F.log_softmax(b.logits, 1).gather(1, b.target.unsqueeze(1)).squeeze(1), "class_log_softmax")


def movement() -> Objective:
    """Section 3.3.2: attract (+1) or repel (-1) the logits of the batch's random class subsets."""
    return Objective(lambda b: (b.logits * b.move_w).sum(1), "movement")


def l2_norm() -> Objective:
    """Mean squared value of each visualization (subtract it to prefer quiet images)."""
    return Objective(lambda b: b.x.pow(2).flatten(1).mean(1), "l2_norm")


def total_variation() -> Objective:
    """Mean absolute difference between neighbouring values along every spatial axis of each
    visualization (x is (A, C, *spatial)); 0 for a flat one."""
    def tv(b: Batch) -> torch.Tensor:
        return sum(b.x.diff(dim=axis).abs().flatten(1).mean(1) for axis in range(2, b.x.dim()))
    return Objective(tv, "total_variation")


def value_statistics(x: torch.Tensor, low: float, high: float, floor: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and standard deviation at every position of inputs ``x`` (N, *shape), the deviation held
    at least ``floor`` times the domain's width ``high - low`` (a position where the data never varies,
    a digit's border, would otherwise make any departure infinitely costly). What :func:`value_prior`
    needs; 2 x prod(shape) numbers of aggregate statistics, computed by whoever holds the data."""
    if x.dim() < 2 or len(x) < 2:
        raise VistransferError(f"value statistics need at least two inputs of shape (N, *shape), got {tuple(x.shape)}")
    x = x.float()
    return x.mean(0), x.std(0, unbiased=False).clamp_min(floor * (high - low))


def value_prior(mean: torch.Tensor, std: torch.Tensor) -> Objective:
    """Root mean square over every value of a visualization of ``(x - mean) / std`` (from
    :func:`value_statistics`): 0 at the training inputs' mean image, about 1 for a typical training
    input. Subtract it, weighted, to ask for values where the data has them: AM reaches a teacher that
    pools over positions with texture anywhere, the data puts its strokes in the middle."""
    def rms(b: Batch) -> torch.Tensor:
        z = (b.x - mean.to(b.x.device)) / std.to(b.x.device)
        return (z.pow(2).flatten(1).mean(1) + 1e-12).sqrt()  # finite gradient at the mean itself
    return Objective(rms, "value_prior")


def value_quantiles(x: torch.Tensor, low: float, high: float, k: int = 257, floor: float = 0.1) -> tuple[torch.Tensor, float]:
    """The ``k`` evenly spaced quantiles (from the smallest value to the largest) of every channel's values over
    all inputs ``x`` (N, C, *spatial) and positions, and the standard deviation of all those values together,
    held at least ``floor`` times the domain's width ``high - low``. What :func:`histogram_prior` needs:
    C x k + 1 numbers of aggregate statistics, computed by whoever holds the data."""
    if x.dim() < 3 or len(x) < 2:
        raise VistransferError(f"value quantiles need at least two inputs of shape (N, C, *spatial), got {tuple(x.shape)}")
    values = x.float().transpose(0, 1).flatten(1)  # (C, N * positions)
    at = torch.linspace(0, values.shape[1] - 1, k, dtype=torch.float64).round().long()
    quantiles = values.sort(1).values[:, at]
    return quantiles, max(float(values.std(unbiased=False)), floor * (high - low))


def histogram_prior(quantiles: torch.Tensor, scale: float) -> Objective:
    """How far the distribution of each visualization's values sits from the training inputs' (from
    :func:`value_quantiles`): the 1-D Wasserstein distance between them, each channel's sorted values
    against the data's quantiles at the same ranks, averaged over channels, in units of ``scale`` (the
    data's deviation). 0 for a visualization with the data's histogram, whatever its layout. Subtract it,
    weighted, to ask for the data's mix of values: a digit is mostly black with a few bright strokes,
    where AM also stops at grey fields and textures a teacher that pools over positions accepts."""
    targets: dict = {}  # (M, device) -> the data's values at a visualization's M ranks, (C, M): once per run, not per step

    def at_ranks(m: int, device: torch.device) -> torch.Tensor:
        q = quantiles.to(device)
        rank = (torch.arange(m, device=device) + 0.5) / m * (q.shape[1] - 1)  # (M,) in quantile steps
        lo = rank.floor().long().clamp_max(q.shape[1] - 2)
        return torch.lerp(q[:, lo], q[:, lo + 1], (rank - lo).to(q.dtype))

    def w1(b: Batch) -> torch.Tensor:
        v = b.x.flatten(2).sort(-1).values  # (A, C, M)
        key = (v.shape[-1], v.device)
        if key not in targets:
            targets[key] = at_ranks(*key)
        return (v - targets[key]).abs().mean((1, 2)) / scale
    return Objective(w1, "histogram_prior")


def during_am(obj: Objective) -> Objective:
    """``obj`` where the group has finished its movement, 0 (and no gradient) elsewhere."""
    return Objective(lambda b: torch.where(b.in_am, obj(b), 0.0), f"during_am({obj.description})")


def during_movement(obj: Objective) -> Objective:
    """``obj`` while the group is still in its pre-AM movement, 0 (and no gradient) after."""
    return Objective(lambda b: torch.where(b.in_am, 0.0, obj(b)), f"during_movement({obj.description})")


AM_OBJECTIVES = {"logit": class_logit, "log_softmax": class_log_softmax}


def default_objective(am: str = "logit") -> Objective:
    """The paper's step objective: the movement first, then AM of the target (``am``: 'logit' or 'log_softmax')."""
    return during_movement(movement()) + during_am(AM_OBJECTIVES[am]())


def penultimate_distance(features: torch.Tensor, real_features: torch.Tensor) -> torch.Tensor:
    """Sum over n of ||h_{L-1}(x_n) - h_{L-1}(G(z))||_2.

    features: (A, D) of the visualizations; real_features: (A, Bs, D). Returns (A,).
    """
    return torch.linalg.vector_norm(real_features - features.unsqueeze(1), dim=2).sum(1)


def batchnorm_layers(teacher: nn.Module) -> tuple[list[nn.Module], int]:
    """The teacher's batch-norm layers with running statistics that forward hooks can see, and how many
    more its buffers show (``*.running_mean``) inside TorchScript or exported graphs, which hide them."""
    layers = [m for m in teacher.modules()
              if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats and m.running_var is not None]
    seen = {id(m.running_mean) for m in layers}
    hidden = sum(name.endswith("running_mean") and id(b) not in seen for name, b in teacher.named_buffers())
    return layers, hidden


class BatchNormPrior:
    """DeepInversion's feature prior (Yin et al., 2020), one score per visualization.

    A teacher with batch norm records, in each BN layer, the mean and variance of that layer's
    input over its training data. For a visualization x, at every BN layer l with spatial extent
    (C channels), with mu_c and v_c its input's per-channel mean and variance over positions::

        r_l(x) = rms_c((mu_c - running_mean_c) / s_c) + rms_c((v_c - running_var_c) / s_c^2),  s_c^2 = running_var_c + eps

    and :meth:`objective` scores the mean of r_l over layers (0 when x's statistics match the
    training data's; subtract it, weighted, from the AM objective). Normalizing by the running
    variance makes layers of any scale count alike. ``scope`` says over what mu and v are taken:

    * ``"image"``: each visualization's own positions, one r per visualization (the engine
      optimizes and stops each visualization on its own). Every visualization is held to the
      statistics of the whole training set, which a single real "1" (few strokes) does not have.
    * ``"batch"``: all visualizations of the step and their positions, DeepInversion's form: one
      r for the batch, scored for each of its visualizations, so the set as a whole must match the
      training statistics while single visualizations may differ as real examples do. A
      visualization's gradient from it is of the same order as from ``"image"`` (r is summed over
      the batch, each visualization moves it by about 1/batch).

    Use as a context manager: forward hooks record each BN layer's latest input while it is open,
    so :meth:`objective` must be called after the teacher's forward pass on the same batch. Needs
    an eager ``nn.Module`` teacher; a TorchScript or exported graph hides its layers from hooks.
    """

    def __init__(self, teacher: nn.Module, scope: str = "image"):
        if scope not in BN_SCOPES:
            raise VistransferError(f"bn_prior_scope must be one of {list(BN_SCOPES)}, got {scope!r}")
        self.scope = scope
        self.layers, hidden = batchnorm_layers(teacher)
        if not self.layers and hidden:
            raise VistransferError("bn_prior needs the teacher's batch-norm layers, which a TorchScript or exported teacher "
                                   f"hides ({hidden} of them): hand it over as a state_dict with --arch, or set bn_prior = 0")
        self._seen: dict[int, torch.Tensor] = {}
        self._hooks: list = []

    def __bool__(self) -> bool:
        return bool(self.layers)

    def __enter__(self) -> BatchNormPrior:
        for i, m in enumerate(self.layers):
            self._hooks.append(m.register_forward_hook(lambda mod, inp, out, i=i: self._seen.__setitem__(i, inp[0])))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks.clear()
        self._seen.clear()

    def distance(self, n: int) -> torch.Tensor:
        """(n,) mean over BN layers of r_l for the last forward pass, which must have been on n inputs."""
        terms = []
        for i, m in enumerate(self.layers):
            h = self._seen.get(i)
            if h is None or h.dim() < 3 or h.shape[0] != n:  # (N, C) inputs have no positions to take statistics over
                continue
            h = h.flatten(2).float()
            dims = (0, 2) if self.scope == "batch" else 2  # "batch": DeepInversion's own form, one value for all
            mu, var = h.mean(dims), h.var(dims, unbiased=False)  # (n, C), or (C,)
            s2 = m.running_var.float() + m.eps
            shift = ((mu - m.running_mean.float()) / s2.sqrt()).pow(2).mean(-1).sqrt()
            spread = ((var - m.running_var.float()) / s2).pow(2).mean(-1).sqrt()
            terms.append((shift + spread).expand(n))
        if not terms:
            raise VistransferError("bn_prior found no batch-norm input with spatial extent in the last forward pass: "
                                   "the teacher's BN layers never ran, or run on flat features; set bn_prior = 0")
        return torch.stack(terms).mean(0)

    def objective(self) -> Objective:
        """The distance as an objective term (higher = further from the training statistics)."""
        return Objective(lambda b: self.distance(b.logits.shape[0]), "bn_prior")


def batchnorm_advice(teacher: nn.Module, bn_prior: float, value_prior: float = 0.0) -> str | None:
    """One line for a user whose teacher has batch norm while both the batch-norm and the value prior are
    off, else None.

    Without a prior, AM reaches such a teacher's T with inputs unlike its training data (with global
    average pooling: texture anywhere), and students learn little from them
    (docs/visualization-quality.md#foreign-architectures).
    """
    layers, hidden = batchnorm_layers(teacher)
    if bn_prior > 0 or value_prior > 0 or not (layers or hidden):
        return None
    value = ("--value-prior 3 (the per-position statistics of the teacher's training data, --dataset) made a CNN_ID "
             "student of a batch-norm MNIST teacher with global average pooling learn 74.3% instead of 18.0%")
    if not layers:
        return (f"the teacher has {hidden} batch-norm layer(s) inside a TorchScript or exported graph: AM may reach T with "
                f"inputs unlike its training data, which teach students little. {value}, and works with any file; the "
                "batch-norm prior (bn_prior) needs the layers themselves: hand the teacher over as a state_dict with --arch "
                "to use it (docs/visualization-quality.md#foreign-architectures in the repository)")
    return (f"the teacher has {len(layers)} batch-norm layer(s) and no prior is on: AM may reach T with inputs unlike its "
            f"training data, which teach students little. {value}; the settings of configs/batchnorm-teacher.toml "
            "(value_prior 3, bn_prior 10, objective log_softmax, settle_steps 30; pass it with -c) 76.6%, at 1.3x the "
            "teacher passes (docs/visualization-quality.md#foreign-architectures in the repository)")


def shuffle_tiles(x: torch.Tensor, tiles: int, gen: torch.Generator) -> torch.Tensor:
    """``x`` (N, C, *spatial) with each row's tiles moved along one random cycle through all of them,
    so that no tile stays where it was; differentiable in ``x``.

    Every spatial axis is cut into ``tiles`` equal pieces (a 28x28 image at 4: sixteen 7x7 tiles; a
    series of 1,200 samples: four of 300); samples past the last whole piece stay in place.
    """
    n, c, spatial = x.shape[0], x.shape[1], x.shape[2:]
    size = [s // tiles for s in spatial]
    if min(size) < 1:
        raise VistransferError(f"cannot cut {tuple(spatial)} into {tiles} tiles per axis: use fewer tiles")
    d = len(spatial)
    core = x[(slice(None), slice(None)) + tuple(slice(0, tiles * s) for s in size)]
    # (N, C, t, s1, t, s2, ...) -> (N, C, t, t, ..., s1, s2, ...) -> (N, C, t**d, s1, s2, ...)
    split = core.reshape(n, c, *[v for s in size for v in (tiles, s)])
    order = [0, 1] + [2 + 2 * i for i in range(d)] + [3 + 2 * i for i in range(d)]
    blocks = split.permute(order).reshape(n, c, tiles ** d, *size)
    m = tiles ** d
    cycle = torch.rand(n, m, generator=gen).argsort(1)  # (N, m): a random cyclic order through the tiles, per row
    source = torch.empty_like(cycle)
    source.scatter_(1, cycle.roll(-1, 1), cycle)  # the tile at cycle[k] moves to cycle[k + 1]
    source = source.to(x.device)
    moved = blocks.gather(2, source.view(n, 1, m, *[1] * d).expand_as(blocks))
    back = [0, 1] + [v for i in range(d) for v in (2 + i, 2 + d + i)]
    out = moved.reshape(n, c, *[tiles] * d, *size).permute(back).reshape(core.shape)
    if list(core.shape) == list(x.shape):
        return out
    x = x.clone()
    x[(slice(None), slice(None)) + tuple(slice(0, tiles * s) for s in size)] = out
    return x


def clipped_log_odds(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(A,) how strongly each row of ``logits`` (A, K) sees its ``target`` class, as log-odds ``logit_target -
    logsumexp(other logits)``, counted only above 0 (more likely the target than not): what the layout and level
    priors score on their counterfactual pass."""
    own = logits.gather(1, target[:, None]).squeeze(1)
    others = logits.scatter(1, target[:, None], float("-inf")).logsumexp(1)
    return F.relu(own - others)


def flat_counterpart(x: torch.Tensor) -> torch.Tensor:
    """x (A, C, *spatial) with every value replaced by its image's (or series') mean over positions, per channel:
    the featureless input at the same level. Keeps x's memory format (channels_last)."""
    return torch.ones_like(x) * x.mean(dim=tuple(range(2, x.dim())), keepdim=True)


class LayoutPrior:
    """A visualization's class must live in where its parts are, not only in what they are.

    At every step each visualization's tiles are shuffled (:func:`shuffle_tiles`, a new random cycle
    per visualization and step) and the teacher judges the result once more. :meth:`objective` scores
    how strongly it still sees the target class there, as log-odds ``logit_target -
    logsumexp(other logits)``, counted only above 0 (the shuffled visualization more likely the
    target than not): subtract it, weighted, from the AM objective. A teacher that decides by local
    texture (global average pooling) lets AM satisfy it with texture; this asks for a layout a
    shuffle destroys, as a real digit's is. Costs one more teacher pass per visualization and step,
    counted in :attr:`rows`. The teacher must be the one whose logits the step already computed.

    Compose it after any :class:`BatchNormPrior` term: its pass overwrites what that prior's hooks
    recorded from the step's own pass.
    """

    def __init__(self, teacher: nn.Module, tiles: int = 4, seed: int = 0):
        self.teacher, self.tiles = teacher, tiles
        self.gen = torch.Generator().manual_seed(seed)
        self.rows = 0

    def score(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(A,) the clipped target log-odds of each visualization after one shuffle of its tiles."""
        logits = self.teacher(shuffle_tiles(x, self.tiles, self.gen))
        self.rows += x.shape[0]
        return clipped_log_odds(logits, target)

    def objective(self) -> Objective:
        return Objective(lambda b: self.score(b.x, b.target), f"layout_prior(tiles={self.tiles})")


class LevelPrior:
    """A visualization's class should live in its structure, not in its level.

    Many teachers call a featureless input some class with confidence: the MNIST teachers of
    ``benchmarks/teacher_zoo.py`` call a uniform grey or white image "8" (ELU with average pooling, ours
    with batch norm), "3" (an MLP) or "0" (``bn_flat``) at softmax 0.95-1.00, and G starts every
    visualization near mid-range, where AM can reach T for that class by brightness alone. At every step
    the teacher judges each visualization's flat counterpart once more: every value replaced by the
    visualization's mean over its positions, per channel. :meth:`objective` scores how strongly it sees
    the target class there, as log-odds ``logit_target - logsumexp(other logits)``, counted only above 0
    (a flat image more likely the target than not): subtract it, weighted, from the AM objective. Its
    gradient reaches the visualization through its mean alone, so it moves each one's level away from
    the levels the teacher gives its class. Needs no data. Costs one more teacher pass per
    visualization and step, counted in :attr:`rows`.

    Measured, it is no remedy (docs/visualization-quality.md): the same teachers give the flat
    counterparts of real digits of that class the class too (all real 8s for the ELU teacher), so the
    level is part of what the teacher learned from the data, and only how far AM pushes it is not. An
    option, off by default. The teacher must be the one whose logits the step already computed; compose
    it after any :class:`BatchNormPrior` term (its pass overwrites what that prior's hooks recorded).
    """

    def __init__(self, teacher: nn.Module):
        self.teacher = teacher
        self.rows = 0

    def score(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(A,) the clipped target log-odds of each visualization's flat counterpart."""
        logits = self.teacher(flat_counterpart(x))
        self.rows += x.shape[0]
        return clipped_log_odds(logits, target)

    def objective(self) -> Objective:
        return Objective(lambda b: self.score(b.x, b.target), "level_prior")
