"""Objectives on the teacher's layers, as pure functions (higher is better for the generator).

* :func:`output_score`: the output-layer objective of one optimization step. During the
  pre-AM movement (Section 3.3.2) it is the signed sum of the logits of a random class
  subset (+1 attract, -1 repel); during AM (Eq. 1) it is the target class's logit.
* :func:`penultimate_distance`: Loss2 of Eq. 3 (negated), the summed L2 distance in layer
  L-1 between a visualization and a batch of real examples of its target class.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def output_score(logits: torch.Tensor, move_w: torch.Tensor, target: torch.Tensor,
                 in_am: torch.Tensor, objective: str = "logit") -> torch.Tensor:
    """Per-visualization score to maximize.

    logits: (A, K); move_w: (A, K) in {-1, 0, +1}; target: (A,) int64; in_am: (A,) bool.
    objective: "logit" (the paper) or "log_softmax" (AM of log p(target)). Returns (A,).
    """
    movement = (logits * move_w).sum(1)
    am_source = logits if objective == "logit" else F.log_softmax(logits, dim=1)
    am = am_source.gather(1, target.unsqueeze(1)).squeeze(1)
    return torch.where(in_am, am, movement)


def penultimate_distance(features: torch.Tensor, real_features: torch.Tensor) -> torch.Tensor:
    """Sum over n of ||h_{L-1}(x_n) - h_{L-1}(G(z))||_2.

    features: (A, D) of the visualizations; real_features: (A, Bs, D). Returns (A,).
    """
    return torch.linalg.vector_norm(real_features - features.unsqueeze(1), dim=2).sum(1)
