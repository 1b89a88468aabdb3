"""Privacy audits of a trained model against its real training examples.

* :func:`attack_metrics`: AUC and true-positive rate at a fixed false-positive rate of a membership
  score (members should score higher), from scikit-learn's ROC functions.
* :func:`logit_confidence`: the per-example statistic of Carlini et al. (2022), phi = log(p_y / (1 - p_y)).
* :func:`lira_scores`: the likelihood-ratio attack (LiRA, online variant): for each example, Gaussians
  fitted to phi over the shadow models that trained on it (in) and that did not (out); the score is
  the log-likelihood ratio of the target model's phi. Per-example means, one global variance per side
  (the paper's "fixed variance" variant, stable with tens of shadows).
* :func:`lira_by_shadow_count`: LiRA's AUC and TPR recomputed from random subsets of the shadows, to
  show how much the audit's figures still move with the number of shadows.
* :func:`nearest_distances`: the distance from each series to its nearest neighbour in a reference set.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score, roc_curve


def attack_metrics(member_scores: np.ndarray, nonmember_scores: np.ndarray, fpr: float = 0.01) -> dict:
    """AUC and TPR at ``fpr`` of the rule "score above a threshold means member"."""
    y = np.r_[np.ones(len(member_scores)), np.zeros(len(nonmember_scores))]
    s = np.r_[member_scores, nonmember_scores]
    f, t, _ = roc_curve(y, s)
    return {
        "auc": float(roc_auc_score(y, s)),
        f"tpr_at_{fpr:g}_fpr": float(np.interp(fpr, f, t)),
        "members": int(len(member_scores)),
        "nonmembers": int(len(nonmember_scores)),
    }


@torch.no_grad()
def logit_confidence(module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1024) -> np.ndarray:
    """phi = log p_y - log(1 - p_y) per example (N,), from the model's softmax; numerically safe."""
    module.eval()
    out = []
    for i in range(0, len(x), batch):
        logp = torch.log_softmax(module(x[i : i + batch]), 1)
        lp = logp.gather(1, y[i : i + batch, None]).squeeze(1)
        others = torch.logsumexp(logp.scatter(1, y[i : i + batch, None], float("-inf")), 1)
        out.append((lp - others).cpu())
    return torch.cat(out).numpy()


def lira_scores(target_phi: np.ndarray, shadow_phi: np.ndarray, shadow_in: np.ndarray) -> np.ndarray:
    """target_phi (N,); shadow_phi (K, N); shadow_in (K, N) bool: shadow k trained on example n.
    Returns (N,) log N(phi; mu_in, s_in) - log N(phi; mu_out, s_out)."""
    inn, out = shadow_in, ~shadow_in
    mu_in = np.where(inn.any(0), (shadow_phi * inn).sum(0) / np.maximum(inn.sum(0), 1), np.nan)
    mu_out = np.where(out.any(0), (shadow_phi * out).sum(0) / np.maximum(out.sum(0), 1), np.nan)
    s_in = np.nanstd((shadow_phi - mu_in)[inn]) + 1e-6
    s_out = np.nanstd((shadow_phi - mu_out)[out]) + 1e-6
    ll_in = -0.5 * ((target_phi - mu_in) / s_in) ** 2 - np.log(s_in)
    ll_out = -0.5 * ((target_phi - mu_out) / s_out) ** 2 - np.log(s_out)
    return np.nan_to_num(ll_in - ll_out, nan=0.0)


def lira_by_shadow_count(
    target_phi: np.ndarray,
    shadow_phi: np.ndarray,
    shadow_in: np.ndarray,
    member: np.ndarray,
    counts: list[int],
    draws: int = 20,
    seed: int = 0,
    fpr: float = 0.01,
) -> dict:
    """For each k in ``counts`` (at most the number of shadows): LiRA's AUC and TPR at ``fpr`` over
    ``draws`` random subsets of k shadows, as {k: {"auc": [...], "tpr": [...]}} (one value per draw;
    a single value when k is all of them). ``member`` (N,) bool: the target trained on example n."""
    rng = np.random.default_rng(seed)
    total = len(shadow_phi)
    out = {}
    for k in counts:
        if not 1 <= k <= total:
            raise ValueError(f"shadow count {k} outside 1..{total}")
        picks = [np.arange(total)] if k == total else [rng.choice(total, k, replace=False) for _ in range(draws)]
        scores = [lira_scores(target_phi, shadow_phi[p], shadow_in[p]) for p in picks]
        runs = [attack_metrics(sc[member], sc[~member], fpr) for sc in scores]
        out[k] = {"auc": [r["auc"] for r in runs], "tpr": [r[f"tpr_at_{fpr:g}_fpr"] for r in runs]}
    return out


@torch.no_grad()
def nearest_distances(a: torch.Tensor, ref: torch.Tensor, chunk: int = 512) -> np.ndarray:
    """(len(a),) Euclidean distance from each row of ``a`` (flattened) to its nearest row of ``ref``."""
    a, ref = a.flatten(1).float(), ref.flatten(1).float()
    return torch.cat([torch.cdist(a[i : i + chunk], ref).min(1).values for i in range(0, len(a), chunk)]).numpy()
