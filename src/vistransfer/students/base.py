"""The student contract, in the spirit of scikit-learn estimators.

* ``__init__`` only stores its keyword arguments;
* ``fit(X, y)`` takes X float (N, C, H, W) or (N, C, L) and y either int labels (N,) or label
  distributions (N, K) whose rows sum to 1, learns, sets attributes ending in ``_``
  (``classes_``, ``n_classes_``) and returns ``self``;
* ``predict_proba(X)`` gives (N, K) with columns in ``classes_`` order; ``predict(X)`` (N,);
* using a student before ``fit`` raises :class:`NotFittedError`.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch

from ..errors import VistransferError


class NotFittedError(VistransferError):
    pass


def as_targets(y, n_classes: int | None = None) -> torch.Tensor:
    """Validate y and return (N, K) float32 label distributions."""
    t = torch.as_tensor(np.asarray(y))
    if t.dim() == 1:
        if t.dtype.is_floating_point and not torch.equal(t, t.round()):
            raise VistransferError("1-D labels must be integers; pass soft labels as an (N, K) array")
        t = t.long()
        if len(t) and int(t.min()) < 0:
            raise VistransferError("labels must be non-negative class indices")
        k = n_classes or int(t.max()) + 1
        return torch.nn.functional.one_hot(t, k).float()
    if t.dim() == 2:
        t = t.float()
        if (t < 0).any() or not torch.allclose(t.sum(1), torch.ones(len(t)), atol=1e-3):
            raise VistransferError("soft labels must be non-negative rows that sum to 1 (shape (N, K))")
        return t
    raise VistransferError(f"labels must have shape (N,) or (N, K), got {tuple(t.shape)}")


def as_inputs(X) -> torch.Tensor:
    """X as float32 (N, C, H, W) images or (N, C, L) series; nothing is reshaped to fit.

    A (N, 1, 100) array is 100-sample series, never a 1x100 image: every 3-D array is (N, C, L), so
    grey images need their channel axis (``X[:, None]``).
    """
    x = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X).float()
    if x.dim() not in (3, 4):
        raise VistransferError(f"X must have shape (N, C, H, W) (images) or (N, C, L) (series), got {tuple(x.shape)}")
    return x


class Student:
    """Base class: parameter handling, validation and the fitted check."""

    def get_params(self) -> dict:
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names}

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")

    def _check_input(self, x: torch.Tensor) -> None:
        if tuple(x.shape[1:]) != self.in_shape_:
            raise VistransferError(f"X has examples of shape {tuple(x.shape[1:])} but this student was fitted on {self.in_shape_}")

    def fit(self, X, y) -> Student:
        raise NotImplementedError

    def predict_proba(self, X) -> np.ndarray:
        raise NotImplementedError

    def predict(self, X) -> np.ndarray:
        self._check_fitted()
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
