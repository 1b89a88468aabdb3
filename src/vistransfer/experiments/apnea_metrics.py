"""Per-minute and per-recording measures of an apnea detector: accuracy, AUC, the best threshold, the recording-level AHI estimate."""

from __future__ import annotations

import numpy as np


def binary_metrics(y: np.ndarray, p_apnea: np.ndarray, threshold: float = 0.5) -> dict:
    """Accuracy, sensitivity (apnea minutes found), specificity and AUC of P(apnea) (N,) at ``threshold``.

    ``best_accuracy`` is the accuracy at the threshold these very minutes would choose (``best_threshold``,
    from their own labels: an oracle no deployment has). Beside ``accuracy`` it splits a gap into the
    ranking (what no threshold recovers) and the operating point (what a better threshold would).
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    pred = (p_apnea >= threshold).astype(int)
    pos, neg = y == 1, y == 0
    out = {
        "threshold": float(threshold),
        "accuracy": float((pred == y).mean()),
        "sensitivity": float(pred[pos].mean()) if pos.any() else float("nan"),
        "specificity": float(1 - pred[neg].mean()) if neg.any() else float("nan"),
        "auc": float("nan"),
        "best_accuracy": float("nan"),
        "best_threshold": float("nan"),
        "n": int(len(y)),
    }
    if pos.any() and neg.any():
        fpr, tpr, thr = roc_curve(y, p_apnea)
        acc = (tpr * pos.sum() + (1 - fpr) * neg.sum()) / len(y)
        i = int(np.argmax(acc))
        out.update(auc=float(roc_auc_score(y, p_apnea)), best_accuracy=float(acc[i]), best_threshold=float(min(thr[i], 1.0)))
    return out


def recording_level(per_record: dict) -> dict:
    """The challenge's second event: is this an apnea night? Class A (>= 100 apnea minutes) against
    class C (< 5), from the predicted apnea minutes of held-out records; B records are borderline."""
    out = {}
    for who in ("teacher", "student", "student_calibrated"):
        if not all(f"{who}_apnea_minutes" in r for r in per_record.values()):
            continue  # made before the calibrated student was measured
        rows = []
        for name, r in sorted(per_record.items()):
            truth = "A" if r["true_apnea_minutes"] >= 100 else "C" if r["true_apnea_minutes"] < 5 else "B"
            pred = r[f"{who}_apnea_minutes"]
            rows.append((name, truth, "A" if pred >= 100 else "C" if pred < 5 else "B"))
        ac = [(t, p) for _, t, p in rows if t in ("A", "C")]
        correct = sum((t == "A") == (p == "A") for t, p in ac)
        out[who] = {"a_vs_c_correct": correct, "a_vs_c_records": len(ac), "records": {n: {"true": t, "predicted": p} for n, t, p in rows}}
    return out
