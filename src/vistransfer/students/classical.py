"""Classical students on flattened pixels (scikit-learn): the SVM and random forest of Table 1.

Both reduce label distributions in one documented way, chosen by ``soft``:

* ``"argmax"`` (default): train on the most probable class of each row;
* ``"weighted"``: repeat each example once per class with probability >= 1e-3, weighted by
  that probability (sample_weight), which minimizes the expected loss under the soft label.
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax
from sklearn.ensemble import RandomForestClassifier
from sklearn.svm import SVC, LinearSVC

from ..errors import VistransferError
from .base import Student, as_inputs, as_targets


def _reduce(t: np.ndarray, soft: str, n: int):
    if soft == "argmax":
        return np.arange(n), t.argmax(1), None
    if soft == "weighted":
        rows, cols = np.nonzero(t >= 1e-3)
        return rows, cols, t[rows, cols]
    raise VistransferError(f"soft must be 'argmax' or 'weighted', got {soft!r}")


class _SklearnStudent(Student):
    soft: str

    def _estimator(self):
        raise NotImplementedError

    def fit(self, X, y) -> _SklearnStudent:
        x = as_inputs(X)
        t = as_targets(y).numpy()
        flat = x.reshape(len(x), -1).numpy()
        rows, labels, weight = _reduce(t, self.soft, len(flat))
        self.model_ = self._estimator()
        self.model_.fit(flat[rows], labels, sample_weight=weight)
        self.classes_ = np.arange(t.shape[1])
        self.n_classes_ = t.shape[1]
        self.in_shape_ = tuple(x.shape[1:])
        return self

    def _scores(self, flat: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, X) -> np.ndarray:
        self._check_fitted()
        x = as_inputs(X)
        self._check_input(x)
        out = np.zeros((len(x), self.n_classes_))
        # Classes absent from the training labels keep probability 0.
        out[:, self.model_.classes_] = self._scores(x.reshape(len(x), -1).numpy())
        return out


class SVMStudent(_SklearnStudent):
    """SVM. kernel="linear" uses LinearSVC (scales to 60k examples); others use SVC.

    predict_proba is the softmax of the one-vs-rest decision values: a monotone score for
    ranking and argmax, not a calibrated probability.
    """

    def __init__(self, kernel: str = "linear", C: float = 1.0, soft: str = "argmax", seed: int = 0):
        self.kernel, self.C, self.soft, self.seed = kernel, C, soft, seed

    def _estimator(self):
        if self.kernel == "linear":
            return LinearSVC(C=self.C, random_state=self.seed, dual="auto", max_iter=2000)
        return SVC(kernel=self.kernel, C=self.C, random_state=self.seed, decision_function_shape="ovr")

    def _scores(self, flat):
        d = self.model_.decision_function(flat)
        if d.ndim == 1:  # binary: one column of margins for the positive class
            d = np.stack([-d, d], 1)
        return softmax(d, axis=1)


class RandomForestStudent(_SklearnStudent):
    """Random forest of ``n_estimators`` trees (Table 1: 100); predict_proba is the trees' vote share."""

    def __init__(self, n_estimators: int = 100, soft: str = "argmax", seed: int = 0, n_jobs: int = -1):
        self.n_estimators, self.soft, self.seed, self.n_jobs = n_estimators, soft, seed, n_jobs

    def _estimator(self):
        return RandomForestClassifier(n_estimators=self.n_estimators, random_state=self.seed, n_jobs=self.n_jobs)

    def _scores(self, flat):
        return self.model_.predict_proba(flat)
