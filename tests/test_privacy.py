"""Membership-inference metrics and the likelihood-ratio attack on constructed cases."""

import numpy as np
import pytest
import torch

from vistransfer.experiments.apnea_metrics import binary_metrics, recording_level
from vistransfer.privacy import attack_metrics, lira_by_shadow_count, lira_scores, logit_confidence, nearest_distances


def test_attack_metrics_separable_and_random():
    sep = attack_metrics(np.array([5.0, 6, 7]), np.array([1.0, 2, 3]))
    assert sep["auc"] == 1.0 and sep["tpr_at_0.01_fpr"] == 1.0
    g = np.random.default_rng(0)
    rnd = attack_metrics(g.normal(size=4000), g.normal(size=4000))
    assert abs(rnd["auc"] - 0.5) < 0.03 and rnd["tpr_at_0.01_fpr"] < 0.03


def test_lira_finds_members_that_a_global_threshold_misses():
    """Each example has its own difficulty; membership shifts phi by +1. LiRA calibrates per example."""
    g = np.random.default_rng(0)
    n, k = 2000, 32
    base = g.normal(0, 3, n)  # per-example difficulty, larger than the membership effect
    shadow_in = g.random((k, n)) < 0.5
    shadow_phi = base + shadow_in * 1.0 + g.normal(0, 0.2, (k, n))
    member = g.random(n) < 0.5
    target = base + member * 1.0 + g.normal(0, 0.2, n)
    lira = attack_metrics(*(lambda s: (s[member], s[~member]))(lira_scores(target, shadow_phi, shadow_in)))
    naive = attack_metrics(target[member], target[~member])
    assert lira["auc"] > 0.95 and naive["auc"] < 0.7


def test_lira_by_shadow_count_converges_to_the_full_attack():
    """Few shadows estimate each example's mean badly: subsets of 2 score lower and spread more than
    subsets of 16; all 32 reproduce lira_scores exactly, as one value."""
    g = np.random.default_rng(1)
    n, k = 1000, 32
    base = g.normal(0, 3, n)
    shadow_in = g.random((k, n)) < 0.5
    shadow_phi = base + shadow_in * 1.0 + g.normal(0, 1.0, (k, n))
    member = g.random(n) < 0.5
    target = base + member * 1.0 + g.normal(0, 1.0, n)
    res = lira_by_shadow_count(target, shadow_phi, shadow_in, member, [2, 16, 32], draws=10)
    full = attack_metrics(*(lambda s: (s[member], s[~member]))(lira_scores(target, shadow_phi, shadow_in)))
    assert res[32]["auc"] == [full["auc"]] and res[32]["tpr"] == [full["tpr_at_0.01_fpr"]]
    assert len(res[2]["auc"]) == 10
    assert np.mean(res[2]["auc"]) < np.mean(res[16]["auc"]) - 0.02
    assert np.std(res[2]["auc"]) > np.std(res[16]["auc"])
    with pytest.raises(ValueError, match="outside"):
        lira_by_shadow_count(target, shadow_phi, shadow_in, member, [33])


def test_logit_confidence_matches_its_definition():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    net = torch.nn.Identity()
    phi = logit_confidence(net, logits, torch.tensor([0, 2]))
    p = torch.softmax(logits, 1)
    assert phi == pytest.approx([float(torch.log(p[0, 0] / (1 - p[0, 0]))), float(torch.log(p[1, 2] / (1 - p[1, 2])))], abs=1e-5)


def test_nearest_distances():
    a, ref = torch.tensor([[[0.0, 0.0]], [[3.0, 4.0]]]), torch.tensor([[[0.0, 1.0]], [[3.0, 4.0]]])
    assert nearest_distances(a, ref).tolist() == [1.0, 0.0]


def test_binary_metrics_and_recording_level():
    m = binary_metrics(np.array([1, 1, 0, 0]), np.array([0.9, 0.2, 0.1, 0.6]))
    assert (m["accuracy"], m["sensitivity"], m["specificity"], m["auc"]) == (0.5, 0.5, 0.5, 0.75)
    # the oracle threshold: 0.9 (and 0.2) get 3 of 4 right; the accuracy it reports is the one it gets
    assert (m["best_accuracy"], m["best_threshold"]) == (0.75, 0.9)
    at = binary_metrics(np.array([1, 1, 0, 0]), np.array([0.9, 0.2, 0.1, 0.6]), threshold=0.9)
    assert (at["threshold"], at["accuracy"], at["sensitivity"], at["specificity"]) == (0.9, 0.75, 0.5, 1.0)
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 2, 200), rng.random(200)
    m = binary_metrics(y, p)
    assert m["best_accuracy"] >= m["accuracy"]
    assert m["best_accuracy"] == pytest.approx(((p >= m["best_threshold"]) == y).mean())
    assert m["best_accuracy"] == pytest.approx(max(((p >= t) == y).mean() for t in np.r_[p, 2.0]))
    assert np.isnan(binary_metrics(np.ones(3, int), np.full(3, 0.7))["best_accuracy"])  # one class: no ROC
    rl = recording_level(
        {
            "a01": {"true_apnea_minutes": 400, "teacher_apnea_minutes": 350, "student_apnea_minutes": 50},
            "c01": {"true_apnea_minutes": 0, "teacher_apnea_minutes": 2, "student_apnea_minutes": 120},
            "b01": {"true_apnea_minutes": 20, "teacher_apnea_minutes": 0, "student_apnea_minutes": 0},
        }
    )
    assert rl["teacher"]["a_vs_c_correct"] == 2 and rl["student"]["a_vs_c_correct"] == 0 and rl["teacher"]["a_vs_c_records"] == 2
    assert "student_calibrated" not in rl  # records made before the calibrated student have no such count
