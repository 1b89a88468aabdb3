import pytest
import torch

from vistransfer.synthesis.objectives import (Batch, class_log_softmax, class_logit, default_objective, during_am,
                                              during_movement, l2_norm, movement, penultimate_distance)

LOGITS = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
BATCH = Batch(LOGITS, torch.tensor([1, 2]), torch.tensor([[1.0, 0.0, -1.0], [1.0, 1.0, 0.0]]),
              torch.tensor([False, True]), torch.tensor([[0.0, 2.0], [1.0, 1.0]]))


def test_default_is_movement_then_am():
    assert default_objective("logit")(BATCH).tolist() == [1.0 - 3.0, 3.0]
    ls = default_objective("log_softmax")(BATCH)
    assert ls[0] == -2.0 and torch.isclose(ls[1], torch.log_softmax(LOGITS[1], 0)[2])


def test_objectives_add_subtract_and_scale():
    assert (class_logit() + movement())(BATCH).tolist() == [2.0 - 2.0, 3.0 + 3.0]
    assert (class_logit() - 0.5 * l2_norm())(BATCH).tolist() == [2.0 - 1.0, 3.0 - 0.5]
    assert (-class_logit())(BATCH).tolist() == [-2.0, -3.0]
    assert sum([class_logit(), movement()])(BATCH).tolist() == [0.0, 6.0]
    assert during_am(class_logit())(BATCH).tolist() == [0.0, 3.0]
    assert during_movement(movement())(BATCH).tolist() == [-2.0, 0.0]
    assert "class_logit" in repr(class_logit() - 0.5 * l2_norm()) and "0.5 * l2_norm" in repr(class_logit() - 0.5 * l2_norm())
    with pytest.raises(TypeError):
        class_logit() * class_logit()


def test_masked_phase_gets_no_gradient():
    logits = LOGITS.clone().requires_grad_(True)
    b = Batch(logits, BATCH.target, BATCH.move_w, BATCH.in_am)
    during_am(class_logit())(b).sum().backward()
    assert logits.grad[0].abs().sum() == 0 and logits.grad[1].tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("make", [class_logit, class_log_softmax])
def test_am_objective_rises_under_adam(make):
    """Five Adam steps on the AM objective raise it for a fixed linear 'teacher'."""
    torch.manual_seed(0)
    W = torch.randn(4, 3)
    x = torch.zeros(1, 4, requires_grad=True)
    opt = torch.optim.Adam([x], lr=0.1)
    obj = during_am(make())
    scores = []
    for _ in range(5):
        s = obj(Batch(x @ W, torch.tensor([2]), torch.zeros(1, 3), torch.tensor([True]), x))
        scores.append(s.item())
        opt.zero_grad()
        (-s.sum()).backward()
        opt.step()
    assert all(b > a for a, b in zip(scores, scores[1:]))


def test_penultimate_distance_is_summed_l2():
    f = torch.tensor([[0.0, 0.0]])
    real = torch.tensor([[[3.0, 4.0], [0.0, 1.0]]])
    assert penultimate_distance(f, real).tolist() == [6.0]
