"""Evaluation on the real test set: accuracy, agreement with the teacher, per-class accuracy,
and mean +- std over seeds as the paper reports them."""

from __future__ import annotations

import numpy as np

from .data import Split


def evaluate_predictions(pred: np.ndarray, test: Split, teacher_pred: np.ndarray | None = None, proba: np.ndarray | None = None) -> dict:
    """pred, teacher_pred: (N,) class indices on ``test``. Accuracies are fractions in [0, 1].
    With ``proba`` (N, 2) on a two-class test set holding both classes, also the ROC AUC of class 1
    (scikit-learn's): how well the model ranks, whatever its threshold."""
    y = test.y.numpy()
    pred = np.asarray(pred)
    per_class = {test.classes[c]: float((pred[y == c] == c).mean()) if (y == c).any() else float("nan") for c in range(len(test.classes))}
    out = {"accuracy": float((pred == y).mean()), "per_class_accuracy": per_class, "n_test": int(len(y))}
    if teacher_pred is not None:
        out["teacher_agreement"] = float((pred == np.asarray(teacher_pred)).mean())
    if proba is not None and len(test.classes) == 2 and np.shape(proba)[1] == 2 and len(np.unique(y)) == 2:
        from sklearn.metrics import roc_auc_score

        out["auc"] = float(roc_auc_score(y, np.asarray(proba)[:, 1]))
    return out


def evaluate(student, test: Split, teacher_pred: np.ndarray | None = None) -> dict:
    """:func:`evaluate_predictions` of a fitted student (any :class:`~vistransfer.students.Student`) on ``test``."""
    proba = student.predict_proba(test.x)
    return evaluate_predictions(np.asarray(student.classes_)[proba.argmax(1)], test, teacher_pred, proba)


def mean_std(values: list[float]) -> dict:
    """Mean and sample std (ddof=1 when there are >= 2 values, as with repeated seeds)."""
    a = np.asarray(values, dtype=float)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0, "n": int(len(a)), "values": a.tolist()}


def fmt_pct(ms: dict) -> str:
    """'95.51 ± 0.28' from a mean_std of fractions."""
    return f"{100 * ms['mean']:.2f} ± {100 * ms['std']:.2f}"


def fmt_frac(ms: dict) -> str:
    """'0.923 ± 0.012' from a mean_std of a fraction kept as one (an AUC); '0.923' for one value."""
    return f"{ms['mean']:.3f}" if ms.get("n", 2) < 2 else f"{ms['mean']:.3f} ± {ms['std']:.3f}"
