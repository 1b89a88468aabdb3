import torch

from vistransfer.synthesis.objectives import output_score, penultimate_distance


def test_movement_uses_signed_subset_and_am_uses_target():
    logits = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    move_w = torch.tensor([[1.0, 0.0, -1.0], [1.0, 1.0, 0.0]])
    target = torch.tensor([1, 2])
    in_am = torch.tensor([False, True])
    s = output_score(logits, move_w, target, in_am)
    assert s.tolist() == [1.0 - 3.0, 3.0]
    ls = output_score(logits, move_w, target, in_am, "log_softmax")
    assert torch.isclose(ls[1], torch.log_softmax(logits[1], 0)[2])


def test_am_objective_rises_under_adam():
    """Five Adam steps on the AM objective raise the target logit of a fixed linear 'teacher'."""
    torch.manual_seed(0)
    W = torch.randn(4, 3)
    x = torch.zeros(1, 4, requires_grad=True)
    opt = torch.optim.Adam([x], lr=0.1)
    scores = []
    for _ in range(5):
        s = output_score(x @ W, torch.zeros(1, 3), torch.tensor([2]), torch.tensor([True]))
        scores.append(s.item())
        opt.zero_grad()
        (-s.sum()).backward()
        opt.step()
    assert all(b > a for a, b in zip(scores, scores[1:]))


def test_penultimate_distance_is_summed_l2():
    f = torch.tensor([[0.0, 0.0]])
    real = torch.tensor([[[3.0, 4.0], [0.0, 1.0]]])
    assert penultimate_distance(f, real).tolist() == [6.0]
