"""How hard it is for a set S of classifiers to read a teacher's decisions (Section 4.2.1).

Everything takes predictions as label arrays, so the members of S may be models or people:

* a **fooling example** for S (Definition 4.1): h(x) = l, and some *one* class c != l is chosen by
  more than N/2 of the N members of S (the majority must agree on the same other class; merely
  disagreeing with h is not enough);
* a **hidden message** for S (Definition 4.2): h(x) = h_s(x) = l, and the same majority condition
  holds, so every hidden message is a fooling example;
* **admissibility**: the definitions assume every member of S scores above a threshold A of a
  metric (accuracy by default) on a real test set; :func:`admissibility` reports it and
  :func:`difficulty` refuses a set that fails unless told to only flag it.

Fractions come with a bootstrap 95% interval (``scipy.stats.bootstrap``, BCa); a sample where every
example has the property or none has gives no bootstrap spread, and gets the exact
Clopper-Pearson interval instead (``method`` says which).

>>> import numpy as np
>>> h = np.array([0, 1, 2, 3])
>>> S = np.array([[1, 1, 0, 3],
...               [1, 1, 2, 0]])        # N = 2: both must pick the same wrong class
>>> fooling_examples(h, S).tolist()
[True, False, False, False]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from .errors import VistransferError


def _labels(a, what: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise VistransferError(f"{what} must be a 1-D array of class labels, got shape {arr.shape}")
    if arr.size and (not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0):
        raise VistransferError(f"{what} must hold non-negative integer class labels (got dtype {arr.dtype})")
    return arr.astype(np.int64)


def _members(S, m: int) -> np.ndarray:
    if isinstance(S, Mapping):
        S = list(S.values())
    arr = np.asarray(S)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise VistransferError(f"S must be (N members, M examples) labels with N >= 1, got shape {arr.shape}")
    if arr.shape[1] != m:
        raise VistransferError(f"S's members labelled {arr.shape[1]} examples but h labelled {m}; give labels of the same examples")
    for i, row in enumerate(arr):
        _labels(row, f"S member {i}")
    return arr.astype(np.int64)


def majority_other(h_pred, S_pred) -> np.ndarray:
    """(M,) bool: some single class other than h's is chosen by more than half of S's members.

    h_pred: (M,) labels of h; S_pred: (N, M) labels, or a mapping name -> (M,) labels.
    """
    h = _labels(h_pred, "h's labels")
    S = _members(S_pred, len(h))
    n = S.shape[0]
    if h.size == 0:
        return np.zeros(0, bool)
    k = int(max(h.max(), S.max())) + 1
    counts = np.zeros((len(h), k), np.int64)  # (M, K): members voting for each class
    for row in S:
        np.add.at(counts, (np.arange(len(h)), row), 1)
    counts[np.arange(len(h)), h] = 0  # votes for h's own class do not count
    return 2 * counts.max(axis=1) > n


def fooling_examples(h_pred, S_pred) -> np.ndarray:
    """(M,) bool mask of fooling examples for S (Definition 4.1)."""
    return majority_other(h_pred, S_pred)


def hidden_messages(h_pred, hs_pred, S_pred) -> np.ndarray:
    """(M,) bool mask of hidden messages for S (Definition 4.2): h and h_s agree, S's majority picks another class."""
    h, hs = _labels(h_pred, "h's labels"), _labels(hs_pred, "h_s's labels")
    if h.shape != hs.shape:
        raise VistransferError(f"h labelled {len(h)} examples but h_s labelled {len(hs)}; give labels of the same examples")
    return (h == hs) & majority_other(h, S_pred)


def agreement(a, b) -> float:
    """Share of examples on which two labellings agree (accuracy, when one is the ground truth)."""
    a, b = _labels(a, "labels"), _labels(b, "labels")
    if a.shape != b.shape or a.size == 0:
        raise VistransferError(f"agreement needs two non-empty labellings of the same examples, got {a.shape} and {b.shape}")
    return float((a == b).mean())


@dataclass(frozen=True)
class Fraction:
    """A fraction of examples with a property, and its 95% interval."""

    value: float
    low: float
    high: float
    n: int
    method: str  # "bootstrap-bca" or "clopper-pearson" (every example the same: no bootstrap spread)

    def to_dict(self) -> dict:
        return asdict(self)


def fraction(mask, confidence: float = 0.95, n_resamples: int = 9999, seed: int = 0) -> Fraction:
    """The fraction of True in ``mask`` with a bootstrap ``confidence`` interval (see the module docstring)."""
    from scipy import stats

    m = np.asarray(mask, bool)
    if m.ndim != 1 or m.size == 0:
        raise VistransferError(f"a fraction needs a non-empty 1-D mask, got shape {m.shape}")
    k, n = int(m.sum()), m.size
    if k in (0, n):
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
        return Fraction(k / n, float(ci.low), float(ci.high), n, "clopper-pearson")
    res = stats.bootstrap(
        (m.astype(float),), np.mean, confidence_level=confidence, n_resamples=n_resamples, method="BCa", rng=np.random.default_rng(seed)
    )
    return Fraction(k / n, float(res.confidence_interval.low), float(res.confidence_interval.high), n, "bootstrap-bca")


@dataclass(frozen=True)
class Admissibility:
    """Whether every member of S scores above ``threshold`` on a real test set."""

    threshold: float
    scores: dict[str, float]
    failing: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failing

    def to_dict(self) -> dict:
        return {"threshold": self.threshold, "scores": self.scores, "failing": list(self.failing), "ok": self.ok}


def admissibility(
    S_test_pred: Mapping[str, Sequence[int]], y_true, threshold: float, metric: Callable[[np.ndarray, np.ndarray], float] | None = None
) -> Admissibility:
    """Score each member of S on a real test set (``metric(y_true, y_pred)``, accuracy by default,
    higher is better) against the definitions' threshold A: every member must score above it."""
    if not 0 <= threshold <= 1:
        raise VistransferError(f"the admissibility threshold A must lie in [0, 1], got {threshold}")
    y = _labels(y_true, "the test labels")
    metric = metric or (lambda t, p: agreement(t, p))
    scores = {name: float(metric(y, _labels(p, f"S member {name!r}"))) for name, p in S_test_pred.items()}
    return Admissibility(threshold, scores, tuple(n for n, s in scores.items() if not s > threshold))


def difficulty(
    h_pred, hs_pred, S_pred: Mapping[str, Sequence[int]], admissible: Admissibility | None = None, strict: bool = True, **fraction_kw
) -> dict:
    """Both properties of one set of examples, with intervals, and each member's agreement with h.

    admissible: the result of :func:`admissibility` for S; with ``strict``, a set that fails it is
    refused (the definitions do not apply to it), otherwise the result is flagged.
    """
    if admissible is not None and not admissible.ok and strict:
        raise VistransferError(
            f"S is not admissible: {', '.join(admissible.failing)} score at most A = "
            f"{admissible.threshold} on the real test set; use stronger members or a lower A"
        )
    fool = fooling_examples(h_pred, S_pred)
    hidden = hidden_messages(h_pred, hs_pred, S_pred)
    out = {
        "n": int(len(fool)),
        "fooling_example": fraction(fool, **fraction_kw).to_dict(),
        "hidden_message": fraction(hidden, **fraction_kw).to_dict(),
        "agreement_with_h": {name: agreement(h_pred, p) for name, p in S_pred.items()},
        "hs_agreement_with_h": agreement(h_pred, hs_pred),
    }
    if admissible is not None:
        out["admissibility"] = admissible.to_dict()
    return out
