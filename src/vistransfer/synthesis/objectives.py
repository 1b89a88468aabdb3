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
* :func:`total_variation`: how much neighbouring values differ (DeepInversion's smoothness prior);
* :func:`disagreement`: how far a student's softmax sits from the teacher's (the competition term of
  DeepInversion's ADI and of adversarial data-free distillation; needs ``Batch.student_logits``);
* :class:`BatchNormPrior`: how far the teacher's batch-norm inputs sit from the statistics it was
  trained on (DeepInversion's feature prior over the step's batch);
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

from ..errors import VistransferError


@dataclass
class Batch:
    """logits (A, K); target (A,) int64; move_w (A, K) in {-1, 0, +1}; in_am (A,) bool (past the
    movement); x (A, *shape) the visualizations in the data domain; student_logits (A, K) a student's
    on the same inputs, for terms that compare the two."""

    logits: torch.Tensor
    target: torch.Tensor
    move_w: torch.Tensor | None = None
    in_am: torch.Tensor | None = None
    x: torch.Tensor | None = None
    student_logits: torch.Tensor | None = None


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
    """Mean absolute difference of neighbouring values along every spatial axis of each visualization
    (subtract it to prefer smooth images, DeepInversion's R_TV)."""

    def tv(b: Batch) -> torch.Tensor:
        x = b.x.float()
        terms = [x.diff(dim=d).abs().flatten(1).mean(1) for d in range(2, x.dim())]
        return torch.stack(terms).sum(0)

    return Objective(tv, "total_variation")


def disagreement() -> Objective:
    """KL(teacher || student) of the two softmaxes on each input where both pick the same class, else 0:
    add it to seek inputs of the teacher's class that the student has not learned yet (the competition
    term, in zju-vipa/DataFree's masked form, so the search does not leave the teacher's class)."""

    def kl(b: Batch) -> torch.Tensor:
        if b.student_logits is None:
            raise VistransferError("disagreement needs the student's logits on the batch (Batch.student_logits)")
        t, s = F.log_softmax(b.logits.float(), 1), F.log_softmax(b.student_logits.float(), 1)
        same = (t.argmax(1) == s.argmax(1)).float()
        return (t.exp() * (t - s)).sum(1) * same

    return Objective(kl, "disagreement")


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
    layers = [m for m in teacher.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats and m.running_var is not None]
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
    variance makes layers of any scale count alike. mu and v are taken over all visualizations of
    the step and their positions, DeepInversion's form: one r for the batch, scored for each of its
    visualizations, so the set as a whole must match the training statistics while single
    visualizations may differ as real examples do.

    Use as a context manager: forward hooks record each BN layer's latest input while it is open,
    so :meth:`objective` must be called after the teacher's forward pass on the same batch. Needs
    an eager ``nn.Module`` teacher; a TorchScript or exported graph hides its layers from hooks.
    """

    def __init__(self, teacher: nn.Module):
        self.layers, hidden = batchnorm_layers(teacher)
        if not self.layers and hidden:
            raise VistransferError(
                "bn_prior needs the teacher's batch-norm layers, which a TorchScript or exported teacher "
                f"hides ({hidden} of them): hand it over as a state_dict with --arch, or set bn_prior = 0"
            )
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
            mu, var = h.mean((0, 2)), h.var((0, 2), unbiased=False)  # (C,): over the batch and positions
            s2 = m.running_var.float() + m.eps
            shift = ((mu - m.running_mean.float()) / s2.sqrt()).pow(2).mean(-1).sqrt()
            spread = ((var - m.running_var.float()) / s2).pow(2).mean(-1).sqrt()
            terms.append((shift + spread).expand(n))
        if not terms:
            raise VistransferError(
                "bn_prior found no batch-norm input with spatial extent in the last forward pass: "
                "the teacher's BN layers never ran, or run on flat features; set bn_prior = 0"
            )
        return torch.stack(terms).mean(0)

    def objective(self) -> Objective:
        """The distance as an objective term (higher = further from the training statistics)."""
        return Objective(lambda b: self.distance(b.logits.shape[0]), "bn_prior")


def batchnorm_advice(teacher: nn.Module, bn_prior: float, value_prior: float = 0.0) -> str | None:
    """One line for a user whose teacher has batch norm while both the batch-norm and the value prior are
    off, else None.

    Without a prior, AM reaches such a teacher's T with inputs unlike its training data (with global
    average pooling: texture anywhere), and students learn little from them
    (docs/findings.md#foreign-teachers).
    """
    layers, hidden = batchnorm_layers(teacher)
    if bn_prior > 0 or value_prior > 0 or not (layers or hidden):
        return None
    value = (
        "--value-prior 3 (the per-position statistics of the teacher's training data, --dataset) made a CNN_ID "
        "student of a batch-norm MNIST teacher with global average pooling learn 74.3% instead of 18.0%"
    )
    if not layers:
        return (
            f"the teacher has {hidden} batch-norm layer(s) inside a TorchScript or exported graph: AM may reach T with "
            f"inputs unlike its training data, which teach students little. {value}, and works with any file; the "
            "batch-norm prior (bn_prior) needs the layers themselves: hand the teacher over as a state_dict with --arch "
            "to use it (docs/findings.md#foreign-teachers in the repository)"
        )
    return (
        f"the teacher has {len(layers)} batch-norm layer(s) and no prior is on: AM may reach T with inputs unlike its "
        f"training data, which teach students little. {value} (configs/batchnorm-teacher.toml holds the settings; pass it "
        "with -c; docs/findings.md#foreign-teachers in the repository)"
    )


@dataclass(frozen=True)
class Prior:
    """A term subtracted from the step objective at the weight of the config field ``name``.

    ``build(teacher, spec, real, device)`` returns the term and the context it needs open while the
    objective runs (or None). A new prior is a new entry of :data:`PRIORS` and a config field."""

    name: str
    build: Callable[..., tuple[Objective, object | None]]


def _owner_inputs(real: tuple[torch.Tensor, torch.Tensor] | None, shape: tuple[int, ...], prior: str, what: str) -> torch.Tensor:
    """The real training inputs a prior takes its statistics from, checked against the teacher's input shape."""
    if real is None:
        raise VistransferError(
            f"{prior} needs the teacher's training inputs for {what}: pass real=(x, y) (on the command line: --dataset), or set {prior} = 0"
        )
    if tuple(real[0].shape[1:]) != tuple(shape):
        raise VistransferError(
            f"{prior}: the real inputs have shape {list(real[0].shape[1:])}, the teacher takes {list(shape)}; pass the teacher's own training data"
        )
    return real[0]


def _value_prior(teacher, spec, real, device) -> tuple[Objective, None]:
    x = _owner_inputs(real, spec.shape, "value_prior", "their mean and deviation at every position")
    mean, std = value_statistics(x, spec.low, spec.high)
    return value_prior(mean.to(device), std.to(device)), None


def _bn_prior(teacher, spec, real, device) -> tuple[Objective | None, BatchNormPrior | None]:
    bn = BatchNormPrior(teacher)
    return (bn.objective(), bn) if bn else (None, None)


PRIORS = (Prior("value_prior", _value_prior), Prior("bn_prior", _bn_prior))
